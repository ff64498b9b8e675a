//! The runtime side of health tracking: `vrrp_script` runs, `vrrp_track_process` (pidfd +
//! /proc, so it works inside network and PID namespaces), `track_file` (inotify), and
//! notifications (`notify*` scripts, notify FIFOs). Everything runs as tasks on the caller's
//! tokio runtime, except process tracking, which has a thread of its own for its /proc
//! scans, and script launches, which fork on the runtime's blocking pool; all of it reports
//! raw observations as [`TrackEvent`]s; what they mean for an instance's priority or state
//! is decided by the protocol core.
//!
//! ```no_run
//! # async fn demo(config: baton_conf::Config) -> Result<(), baton_track::TrackError> {
//! let mut tracking = baton_track::start(&config, &baton_track::TrackOptions::default())?;
//! while let Some(event) = tracking.events.recv().await {
//!     // feed the protocol core …
//! #   let _ = event;
//! }
//! # Ok(()) }
//! ```

mod child;
mod error;
mod event;
mod fifo;
mod file;
mod notify;
mod options;
mod pidfd;
mod policy;
mod process;
mod program;
mod script;
mod security;
mod user;

use std::collections::HashSet;
use std::time::Duration;

use baton_conf::Config;
use baton_conf::Tracking as TrackRefs;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{Instrument, info, info_span};

pub use child::ScriptOutcome;
pub use error::{CommandError, InsecureReason, Insecurity, TrackError};
pub use event::{TrackEvent, TrackerKind};
pub use file::{ValueIssue, parse_value, read_value};
pub use notify::{Notifier, NotifyTarget};
pub use options::TrackOptions;
pub use policy::ScriptPolicy;
pub use program::Program;
pub use user::{ScriptUser, UserResolver};

/// Run `program` once to completion, as a `vrrp_script` run is made: in its own process
/// group, output discarded, the group killed (SIGTERM, then SIGKILL after `grace`) if it
/// still runs after `timeout`. For programs run outside the trackers, such as the
/// real-server checkers' `MISC_CHECK`.
pub async fn run_once(program: &Program, timeout: Duration, grace: Duration) -> ScriptOutcome {
    child::run_with_timeout(program, &[], timeout, grace).await
}

/// Trackers, their events, and the notifier of one configuration.
#[derive(Debug)]
pub struct Tracking {
    pub trackers: Trackers,
    pub events: mpsc::Receiver<TrackEvent>,
    pub notifier: Notifier,
}

/// Start everything `config` asks for on the current tokio runtime. Scripts and notify
/// commands are checked first; keepalived's warning about script security is logged once.
pub fn start(config: &Config, options: &TrackOptions) -> Result<Tracking, TrackError> {
    let policy = ScriptPolicy::new(&config.global, options);
    let (trackers, events) = Trackers::start(config, &policy, options)?;
    let notifier = Notifier::new(config, &policy, options)?;
    policy.log_summary();
    Ok(Tracking {
        trackers,
        events,
        notifier,
    })
}

/// The running trackers. Dropping this stops them and kills any script still running.
#[derive(Debug)]
pub struct Trackers {
    tasks: JoinSet<()>,
}

impl Trackers {
    /// Start the trackers some instance or sync group follows (keepalived runs no other).
    /// Trackers that cannot work are reported once as [`TrackEvent::Disabled`].
    pub fn start(
        config: &Config,
        policy: &ScriptPolicy,
        options: &TrackOptions,
    ) -> Result<(Trackers, mpsc::Receiver<TrackEvent>), TrackError> {
        tokio::runtime::Handle::try_current().map_err(|_| TrackError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(options.event_capacity.max(1));
        let used = UsedTrackers::of(config);
        let mut tasks = JoinSet::new();
        let mut refused = Vec::new();

        for vs in &config.scripts {
            if !used.scripts.contains(vs.name.as_str()) {
                info!(
                    "vrrp_script {} is not used by any instance or group - not running it",
                    vs.name
                );
                continue;
            }
            match policy.prepare(&format!("vrrp_script {}", vs.name), &vs.command) {
                Ok(program) => {
                    let check = script::ScriptCheck {
                        name: vs.name.as_str().into(),
                        program,
                        interval: vs.interval,
                        timeout: vs.timeout,
                    };
                    let span = info_span!("vrrp_script", name = %vs.name);
                    tasks
                        .spawn(script::run(check, options.kill_grace, tx.clone()).instrument(span));
                }
                Err(e) => refused.push(TrackEvent::Disabled {
                    kind: TrackerKind::Script,
                    name: vs.name.as_str().into(),
                    reason: e.to_string(),
                }),
            }
        }

        let processes: Vec<_> = config
            .track_processes
            .iter()
            .filter(|tp| used.processes.contains(tp.name.as_str()))
            .cloned()
            .collect();
        if !processes.is_empty() {
            let span = info_span!("vrrp_track_process");
            tasks.spawn(process::run_on_own_thread(
                processes,
                options.clone(),
                tx.clone(),
                span,
            ));
        }

        let files: Vec<_> = config
            .track_files
            .iter()
            .filter(|tf| {
                let used = used.files.contains(tf.name.as_str());
                if !used {
                    info!("Track file {} is not being used - removing", tf.name);
                }
                used
            })
            .cloned()
            .collect();
        if !files.is_empty() {
            let span = info_span!("track_file");
            tasks.spawn(file::run(files, tx.clone()).instrument(span));
        }

        if !refused.is_empty() {
            // Reported through the channel like everything else, ahead of any result.
            let tx = tx.clone();
            tasks.spawn(async move {
                for event in refused {
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            });
        }
        Ok((Trackers { tasks }, rx))
    }

    /// Stop every tracker and wait until running scripts have been killed and reaped.
    pub async fn stop(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// The names instances and sync groups refer to.
struct UsedTrackers<'a> {
    scripts: HashSet<&'a str>,
    processes: HashSet<&'a str>,
    files: HashSet<&'a str>,
}

impl<'a> UsedTrackers<'a> {
    fn of(config: &'a Config) -> UsedTrackers<'a> {
        let all: Vec<&TrackRefs> = config
            .instances
            .iter()
            .map(|i| &*i.tracking)
            .chain(config.sync_groups.iter().map(|g| &g.tracking))
            .collect();
        let names = |pick: fn(&'a TrackRefs) -> &'a Vec<baton_conf::TrackRef>| {
            all.iter()
                .flat_map(|t| pick(t).iter().map(|r| r.name.as_str()))
                .collect::<HashSet<_>>()
        };
        UsedTrackers {
            scripts: names(|t| &t.scripts),
            processes: names(|t| &t.processes),
            files: names(|t| &t.files),
        }
    }
}
