//! Running notifications: the commands the protocol core asks for (`notify_master|backup|
//! fault|stop`, the generic `notify` with `INSTANCE|GROUP name STATE priority` appended, …)
//! and its lines for the notify FIFOs. Which commands a state change runs, with which
//! arguments and in which order, is the core's decision (`baton_vrrp::Action::RunNotify`);
//! this module checks each configured command once, then runs what it is given.
//! [`Notifier::run`] and [`Notifier::write_fifo`] never block: FIFO lines are written at
//! once (non-blocking), commands are queued and run on the notifier's task, one after the
//! other for each instance or group, as their configured user.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use baton_conf::{Command, Config, Notify};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use crate::child::{Running, outcome};
use crate::error::TrackError;
use crate::fifo::NotifyFifo;
use crate::options::TrackOptions;
use crate::policy::ScriptPolicy;
use crate::program::Program;

/// Whose state changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotifyTarget {
    /// A `vrrp_instance`.
    Instance(Arc<str>),
    /// A `vrrp_sync_group`.
    Group(Arc<str>),
    /// A `virtual_server` (`quorum_up`, `quorum_down`), by keepalived's name of it.
    VirtualServer(Arc<str>),
    /// A `real_server` (`notify_up`, `notify_down`), by keepalived's name of it.
    RealServer(Arc<str>),
}

impl NotifyTarget {
    pub fn instance(name: &str) -> NotifyTarget {
        NotifyTarget::Instance(name.into())
    }

    pub fn group(name: &str) -> NotifyTarget {
        NotifyTarget::Group(name.into())
    }

    /// The word keepalived passes for the kind of target.
    pub fn kind_word(&self) -> &'static str {
        match self {
            NotifyTarget::Instance(_) => "INSTANCE",
            NotifyTarget::Group(_) => "GROUP",
            NotifyTarget::VirtualServer(_) => "VS",
            NotifyTarget::RealServer(_) => "RS",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            NotifyTarget::Instance(name)
            | NotifyTarget::Group(name)
            | NotifyTarget::VirtualServer(name)
            | NotifyTarget::RealServer(name) => name,
        }
    }
}

/// One command of a notification: the program and what to append to its arguments.
#[derive(Debug)]
struct Step {
    program: Program,
    extra: Vec<String>,
}

type Job = (NotifyTarget, Vec<Step>);

/// Which lines a notify FIFO takes: keepalived writes VRRP lines to `notify_fifo` and
/// `vrrp_notify_fifo`, LVS lines to `notify_fifo` and `lvs_notify_fifo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carries {
    Both,
    Vrrp,
    Lvs,
}

/// Runs notify commands and writes notify FIFOs.
#[derive(Debug)]
pub struct Notifier {
    /// Every notify command of the configuration that passed its checks, by its text and
    /// where it was written.
    programs: HashMap<(String, baton_conf::Span), Program>,
    fifos: Vec<(NotifyFifo, Carries)>,
    queue: Option<mpsc::UnboundedSender<Job>>,
    worker: JoinHandle<()>,
}

impl Notifier {
    /// Check every notify command and open the FIFOs. Commands that fail their checks are
    /// dropped with a log line, as keepalived does; a FIFO that cannot be made is not used.
    pub fn new(
        config: &Config,
        policy: &ScriptPolicy,
        options: &TrackOptions,
    ) -> Result<Notifier, TrackError> {
        tokio::runtime::Handle::try_current().map_err(|_| TrackError::NoRuntime)?;
        let mut programs = HashMap::new();
        for instance in &config.instances {
            prepare(
                &mut programs,
                &format!("({})", instance.name),
                &instance.notify,
                policy,
            );
        }
        for group in &config.sync_groups {
            prepare(
                &mut programs,
                &format!("VRRP_Group({})", group.name),
                &group.notify,
                policy,
            );
        }
        for vs in &config.lvs.virtual_servers {
            let what = format!("virtual server {vs}");
            for (keyword, cmd) in [
                ("quorum_up", &vs.quorum_up),
                ("quorum_down", &vs.quorum_down),
            ] {
                prepare_one(&mut programs, &what, keyword, cmd.as_ref(), policy);
            }
            for rs in &vs.real_servers {
                let what = format!("real server {}", vs.service_name(&rs.address));
                for (keyword, cmd) in [
                    ("notify_up", &rs.notify_up),
                    ("notify_down", &rs.notify_down),
                ] {
                    prepare_one(&mut programs, &what, keyword, cmd.as_ref(), policy);
                }
            }
        }
        programs.shrink_to_fit();

        let mut fifos: Vec<(NotifyFifo, Carries)> = Vec::new();
        let configured = [
            ("notify fifo", &config.global.notify_fifo, Carries::Both),
            (
                "vrrp notify fifo",
                &config.global.vrrp_notify_fifo,
                Carries::Vrrp,
            ),
            (
                "lvs notify fifo",
                &config.lvs.global.notify_fifo,
                Carries::Lvs,
            ),
        ];
        for (kind, fifo, carries) in configured {
            let Some(fifo) = fifo else { continue };
            if fifos.iter().any(|(f, _)| f.path() == fifo.path) {
                warn!(
                    "{kind} {} is configured twice; writing it once",
                    fifo.path.display()
                );
                continue;
            }
            let reader = fifo
                .script
                .as_ref()
                .and_then(|cmd| policy.prepare(&format!("{kind} script"), cmd).ok());
            if let Some(opened) =
                NotifyFifo::open(kind, &fifo.path, reader.as_ref(), options.kill_grace)
            {
                fifos.push((opened, carries));
            }
        }

        let (queue, jobs) = mpsc::unbounded_channel();
        let worker = tokio::spawn(run_queue(jobs, options.notify_stall_limit));
        Ok(Notifier {
            programs,
            fifos,
            queue: Some(queue),
            worker,
        })
    }

    /// Write `line` (keepalived's `INSTANCE "VI_1" MASTER 100`, without newline) to every
    /// notify FIFO now.
    pub fn write_fifo(&mut self, line: &str) {
        self.write(line, Carries::Vrrp);
    }

    /// Write an LVS line (`VS [192.168.201.15]:tcp:80 UP`, `RS … DOWN`) to `notify_fifo`
    /// and `lvs_notify_fifo` now.
    pub fn write_lvs_fifo(&mut self, line: &str) {
        self.write(line, Carries::Lvs);
    }

    fn write(&mut self, line: &str, kind: Carries) {
        let line = format!("{line}\n");
        for (fifo, carries) in &mut self.fifos {
            if *carries == Carries::Both || *carries == kind {
                fifo.write_line(&line);
            }
        }
    }

    /// Run `command`, one of the configuration's notify commands, with `args` appended,
    /// after the commands queued before it for `target`. A command that failed its checks
    /// at start (and was reported then) is skipped. Never blocks and never fails; problems
    /// are logged.
    pub fn run(&mut self, target: NotifyTarget, command: &Command, args: Vec<String>) {
        let Some(program) = self
            .programs
            .get(&(command.text.clone(), command.span.clone()))
        else {
            debug!(
                "notify command `{}` of {} {} is disabled",
                command.text,
                target.kind_word(),
                target.name()
            );
            return;
        };
        let step = Step {
            program: program.clone(),
            extra: args,
        };
        if let Some(queue) = &self.queue
            && queue.send((target.clone(), vec![step])).is_err()
        {
            warn!(
                "notify queue is gone; `{}` of {} not run",
                command.text,
                target.name()
            );
        }
    }

    /// Let queued notifications (e.g. STOP) finish for up to `wait`, then kill whatever
    /// still runs, stop FIFO readers and remove the FIFOs we created.
    pub async fn shutdown(mut self, wait: Duration) {
        self.queue = None;
        if tokio::time::timeout(wait, &mut self.worker).await.is_err() {
            warn!("notify scripts still running after {wait:?}; killing them");
            self.worker.abort();
        }
        for (fifo, _) in self.fifos.drain(..) {
            fifo.close().await;
        }
    }
}

impl Notifier {
    /// [`Notifier::shutdown`] without waiting for it: the FIFOs we created are removed now,
    /// so a notifier started next can create them afresh, and the rest (notify scripts
    /// finishing, FIFO readers stopping) runs as a task of its own. For a reload, whose
    /// event loop must not stop for the old notifier's scripts.
    pub fn shutdown_detached(mut self, wait: Duration) {
        for (fifo, _) in &mut self.fifos {
            fifo.unlink();
        }
        tokio::spawn(self.shutdown(wait));
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // Dropping the worker's tasks kills any notify script still running.
        self.worker.abort();
    }
}

/// Check each notify command of an instance or group once; keep those that can run.
fn prepare(
    programs: &mut HashMap<(String, baton_conf::Span), Program>,
    what: &str,
    notify: &Notify,
    policy: &ScriptPolicy,
) {
    let commands = [
        ("notify_master", &notify.master),
        ("notify_backup", &notify.backup),
        ("notify_fault", &notify.fault),
        ("notify_stop", &notify.stop),
        ("notify", &notify.any),
        ("notify_master_rx_lower_pri", &notify.master_rx_lower_pri),
        ("notify_deleted", &notify.deleted_script),
    ];
    for (keyword, cmd) in commands {
        prepare_one(programs, what, keyword, cmd.as_deref(), policy);
    }
}

fn prepare_one(
    programs: &mut HashMap<(String, baton_conf::Span), Program>,
    what: &str,
    keyword: &str,
    cmd: Option<&Command>,
    policy: &ScriptPolicy,
) {
    let Some(cmd) = cmd else { return };
    let key = (cmd.text.clone(), cmd.span.clone());
    if programs.contains_key(&key) {
        return;
    }
    if let Ok(program) = policy.prepare(&format!("{what} {keyword}"), cmd) {
        programs.insert(key, program);
    }
}

/// The notifier's task: one queue per target, each run strictly in order.
async fn run_queue(mut jobs: mpsc::UnboundedReceiver<Job>, stall_limit: Duration) {
    let mut queues: HashMap<NotifyTarget, VecDeque<Vec<Step>>> = HashMap::new();
    let mut running: JoinSet<NotifyTarget> = JoinSet::new();
    let mut lingering: JoinSet<()> = JoinSet::new();
    let (linger_tx, mut linger_rx) = mpsc::unbounded_channel::<(Running, String)>();
    let mut open = true;
    loop {
        tokio::select! {
            job = jobs.recv(), if open => match job {
                Some((target, steps)) => {
                    let busy = queues.contains_key(&target);
                    queues.entry(target.clone()).or_default().push_back(steps);
                    if !busy {
                        start_next(&mut queues, &mut running, &target, &linger_tx, stall_limit);
                    }
                }
                None => open = false,
            },
            Some(done) = running.join_next() => {
                if let Ok(target) = done {
                    start_next(&mut queues, &mut running, &target, &linger_tx, stall_limit);
                }
            }
            Some((mut run, text)) = linger_rx.recv() => {
                lingering.spawn(async move {
                    run.exited().await;
                    match run.reap().await {
                        Ok(status) => debug!("notify script `{text}` finished late: {}", outcome(status)),
                        Err(e) => warn!("notify script `{text}` could not be waited for: {e}"),
                    }
                });
            }
            Some(_) = lingering.join_next() => {}
            else => break,
        }
        if !open && running.is_empty() && lingering.is_empty() && linger_rx.is_empty() {
            break;
        }
    }
}

/// Start the oldest queued job of `target`, or forget the target when its queue is empty.
fn start_next(
    queues: &mut HashMap<NotifyTarget, VecDeque<Vec<Step>>>,
    running: &mut JoinSet<NotifyTarget>,
    target: &NotifyTarget,
    linger: &mpsc::UnboundedSender<(Running, String)>,
    stall_limit: Duration,
) {
    let Some(queue) = queues.get_mut(target) else {
        return;
    };
    let Some(steps) = queue.pop_front() else {
        queues.remove(target);
        return;
    };
    let target = target.clone();
    let linger = linger.clone();
    running.spawn(async move {
        for step in steps {
            run_step(step, &linger, stall_limit).await;
        }
        target
    });
}

async fn run_step(
    step: Step,
    linger: &mpsc::UnboundedSender<(Running, String)>,
    stall_limit: Duration,
) {
    let extra: Vec<&str> = step.extra.iter().map(String::as_str).collect();
    debug!(
        "running notify script `{}` {}",
        step.program.text,
        extra.join(" ")
    );
    let mut run = match Running::spawn_off_thread(&step.program, &extra).await {
        Ok(run) => run,
        Err(e) => {
            warn!("Error exec-ing notify script `{}`: {e}", step.program.text);
            return;
        }
    };
    if tokio::time::timeout(stall_limit, run.exited())
        .await
        .is_err()
    {
        warn!(
            "notify script `{}` still running after {stall_limit:?}; running the next notification",
            step.program.text
        );
        // Keep waiting for it elsewhere; if that is impossible it is dropped, and killed.
        let _ = linger.send((run, step.program.text.clone()));
        return;
    }
    match run.reap().await.map(outcome) {
        Ok(result) if result.is_success() => {}
        Ok(result) => warn!("notify script `{}` {result}", step.program.text),
        Err(e) => warn!(
            "notify script `{}` could not be waited for: {e}",
            step.program.text
        ),
    }
}
