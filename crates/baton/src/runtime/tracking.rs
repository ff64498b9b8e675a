//! Health tracking wired to the core: `baton-track` runs scripts and watches processes and
//! files, and its observations become the core's tracker inputs; the core's notifications go
//! to `baton-track`'s notifier.
//!
//! Scripts that cannot run were dropped when the configuration was loaded (`baton-conf`,
//! keepalived's "Disabling track script X since not found/accessible"), so the core and
//! the trackers run the same configuration. Process and file trackers report once at
//! start, and the core gets those first values before `Start`, so an instance does not
//! begin in FAULT because a count was not in yet.

use std::collections::HashSet;
use std::time::Duration;

use baton_conf::Command;
use baton_conf::{Config, Tracking as TrackRefs};
use baton_track::{
    Notifier, NotifyTarget as TrackTarget, ScriptOutcome, ScriptPolicy, TrackEvent, TrackOptions,
};
use baton_vrrp::{FifoLine, NotifyArgs, NotifyTarget, ScriptResult};
use tokio::sync::mpsc;

/// How long start waits for the first process counts and file values.
pub const FIRST_VALUES_WAIT: Duration = Duration::from_secs(2);
/// How long notify scripts (STOP, …) get to finish when the daemon stops or reloads.
pub const NOTIFY_DRAIN: Duration = Duration::from_secs(5);

/// The part of a configuration that decides which trackers run and how.
fn tracker_part(c: &Config) -> impl PartialEq + '_ {
    (
        &c.scripts,
        &c.track_processes,
        &c.track_files,
        c.instances.iter().map(|i| &i.tracking).collect::<Vec<_>>(),
        c.sync_groups
            .iter()
            .map(|g| &g.tracking)
            .collect::<Vec<_>>(),
        (&c.global.script_user, c.global.enable_script_security),
    )
}

/// The part of a configuration the notifier was built from.
fn notify_part(c: &Config) -> impl PartialEq + '_ {
    (
        c.instances
            .iter()
            .map(|i| (&i.name, &i.notify))
            .collect::<Vec<_>>(),
        c.sync_groups
            .iter()
            .map(|g| (&g.name, &g.notify))
            .collect::<Vec<_>>(),
        (
            &c.global.notify_fifo,
            &c.global.vrrp_notify_fifo,
            &c.lvs.global.notify_fifo,
        ),
        (&c.global.script_user, c.global.enable_script_security),
        c.global.notify_priority_changes,
        c.lvs
            .virtual_servers
            .iter()
            .map(|vs| {
                (
                    (&vs.quorum_up, &vs.quorum_down),
                    vs.real_servers
                        .iter()
                        .map(|rs| (&rs.notify_up, &rs.notify_down))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    )
}

fn start_trackers(
    config: &Config,
    policy: &ScriptPolicy,
    options: &TrackOptions,
) -> (Option<baton_track::Trackers>, mpsc::Receiver<TrackEvent>) {
    match baton_track::Trackers::start(config, policy, options) {
        Ok((t, events)) => (Some(t), events),
        Err(e) => {
            // Only possible outside a runtime; the daemon always has one.
            tracing::error!("health tracking not started: {e}");
            (None, mpsc::channel(1).1)
        }
    }
}

fn start_notifier(
    config: &Config,
    policy: &ScriptPolicy,
    options: &TrackOptions,
) -> Option<Notifier> {
    Notifier::new(config, policy, options)
        .map_err(|e| tracing::error!("notifications not started: {e}"))
        .ok()
}

/// The running trackers and notifier.
#[derive(Debug)]
pub struct Tracking {
    trackers: Option<baton_track::Trackers>,
    pub events: mpsc::Receiver<TrackEvent>,
    notifier: Option<Notifier>,
    options: TrackOptions,
}

impl Tracking {
    /// Start what `config` asks for on the current runtime, under `policy`.
    pub fn start(config: &Config, policy: &ScriptPolicy, options: TrackOptions) -> Tracking {
        let (trackers, events) = start_trackers(config, policy, &options);
        let notifier = start_notifier(config, policy, &options);
        policy.log_summary();
        Tracking {
            trackers,
            events,
            notifier,
            options,
        }
    }

    /// The names of the process and file trackers some instance or group follows: each
    /// reports once at start.
    pub fn first_reports(config: &Config) -> HashSet<String> {
        let used = |pick: fn(&TrackRefs) -> &Vec<baton_conf::TrackRef>| {
            config
                .instances
                .iter()
                .map(|i| &*i.tracking)
                .chain(config.sync_groups.iter().map(|g| &g.tracking))
                .flat_map(move |t| pick(t).iter().map(|r| r.name.clone()))
                .collect::<HashSet<_>>()
        };
        let processes = used(|t| &t.processes);
        let files = used(|t| &t.files);
        config
            .track_processes
            .iter()
            .map(|p| &p.name)
            .filter(|n| processes.contains(*n))
            .chain(
                config
                    .track_files
                    .iter()
                    .map(|f| &f.name)
                    .filter(|n| files.contains(*n)),
            )
            .cloned()
            .collect()
    }

    /// Follow a reloaded configuration: trackers and notifier whose configuration did not
    /// change keep running (no rerun of scripts, no lost queue of notifications); the others
    /// are stopped and started afresh. The core keeps tracker state across the reload.
    pub fn reload(&mut self, old: &Config, new: &Config, policy: &ScriptPolicy) {
        let trackers_same = tracker_part(old) == tracker_part(new);
        let notifier_same = notify_part(old) == notify_part(new);
        if trackers_same && notifier_same {
            return;
        }
        if !notifier_same {
            // The old FIFOs are removed before the new notifier creates them again; a
            // notify script still running gets a second, then is killed, on a task of its
            // own: the loop does not wait for it.
            if let Some(n) = self.notifier.take() {
                n.shutdown_detached(Duration::from_secs(1));
            }
            self.notifier = start_notifier(new, policy, &self.options);
        }
        if !trackers_same {
            if let Some(t) = self.trackers.take() {
                // A script may take its kill grace to go; the loop must not wait for it (a
                // master at 100 ms would miss adverts), and nothing below depends on it.
                tokio::spawn(t.stop());
            }
            (self.trackers, self.events) = start_trackers(new, policy, &self.options);
        }
        policy.log_summary();
    }

    /// Run a notify command the core asked for, as it asked (see `Action::RunNotify`).
    pub fn run_notify(
        &mut self,
        target: &NotifyTarget,
        command: &Command,
        args: Option<&NotifyArgs>,
    ) {
        let Some(n) = &mut self.notifier else { return };
        let target = if target.group {
            TrackTarget::Group(target.name.clone())
        } else {
            TrackTarget::Instance(target.name.clone())
        };
        let args = args.map(|a| a.words().to_vec()).unwrap_or_default();
        n.run(target, command, args);
    }

    /// Run an LVS notify command (`notify_up`/`notify_down` of a real server,
    /// `quorum_up`/`quorum_down` of a virtual server), queued behind the earlier ones of the
    /// same server. keepalived appends no arguments to these.
    pub fn run_lvs_notify(&mut self, target: TrackTarget, command: &Command) {
        if let Some(n) = &mut self.notifier {
            n.run(target, command, Vec::new());
        }
    }

    /// Write the LVS core's line to `notify_fifo` and `lvs_notify_fifo`.
    pub fn write_lvs_fifo(&mut self, line: &str) {
        if let Some(n) = &mut self.notifier {
            n.write_lvs_fifo(line);
        }
    }

    /// Write the core's line to the notify FIFOs.
    pub fn write_fifo(&mut self, line: &FifoLine) {
        if let Some(n) = &mut self.notifier {
            n.write_fifo(&line.to_string());
        }
    }

    /// Stop trackers and let queued notifications (STOP) finish.
    pub async fn stop(mut self) {
        if let Some(t) = self.trackers.take() {
            t.stop().await;
        }
        if let Some(n) = self.notifier.take() {
            n.shutdown(NOTIFY_DRAIN).await;
        }
    }
}

/// A script run's outcome as the core's rise/fall counter sees it: only exit 0 succeeds.
pub fn script_result(outcome: &ScriptOutcome) -> ScriptResult {
    match outcome {
        ScriptOutcome::Success => ScriptResult::Success,
        ScriptOutcome::TimedOut => ScriptResult::TimedOut,
        ScriptOutcome::Failed(_) | ScriptOutcome::Signalled(_) | ScriptOutcome::CouldNotRun(_) => {
            ScriptResult::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_conf::{TrackRef, VrrpInstance};
    use baton_wire::Family;

    fn track(name: &str) -> TrackRef {
        TrackRef {
            name: name.into(),
            weight: None,
            reverse: false,
            span: Default::default(),
        }
    }

    #[test]
    fn first_reports_are_awaited_only_from_used_process_and_file_trackers() {
        let mut p = baton_conf::TrackProcess {
            name: "nginx".into(),
            span: Default::default(),
            process: "nginx".into(),
            params: None,
            param_match: baton_conf::ParamMatch::Exact,
            full_command: false,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        };
        let used = p.clone();
        p.name = "unused".into();
        let mut i = VrrpInstance::new("VI_1", 51, Family::Ipv4);
        i.interface = Some("eth0".into());
        std::sync::Arc::make_mut(&mut i.tracking).processes = vec![track("nginx")];
        let config = Config::build(|c| {
            c.track_processes = vec![used, p];
            c.instances.push(i);
        });
        let want = Tracking::first_reports(&config);
        assert_eq!(want, HashSet::from(["nginx".to_string()]));
    }

    #[test]
    fn only_a_zero_exit_is_a_success() {
        assert_eq!(
            script_result(&ScriptOutcome::Success),
            ScriptResult::Success
        );
        assert_eq!(
            script_result(&ScriptOutcome::Failed(1)),
            ScriptResult::Failure
        );
        assert_eq!(
            script_result(&ScriptOutcome::Signalled(9)),
            ScriptResult::Failure
        );
        assert_eq!(
            script_result(&ScriptOutcome::CouldNotRun("x".into())),
            ScriptResult::Failure
        );
        assert_eq!(
            script_result(&ScriptOutcome::TimedOut),
            ScriptResult::TimedOut
        );
    }
}
