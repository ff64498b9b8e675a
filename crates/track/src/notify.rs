//! Notifications of state changes, keepalived's way: `notify_master|backup|fault|stop`
//! scripts, the generic `notify` script called with `INSTANCE|GROUP name STATE priority`
//! appended, and a line on every notify FIFO. [`Notifier::notify`] never blocks: FIFO lines
//! are written at once (non-blocking), scripts are queued and run on the notifier's task,
//! one after the other for each instance or group, as their configured user.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use baton_conf::{Config, Notify};
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
        }
    }

    pub fn name(&self) -> &str {
        match self {
            NotifyTarget::Instance(name) | NotifyTarget::Group(name) => name,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyEvent {
    Master,
    Backup,
    Fault,
    /// The daemon is stopping.
    Stop,
    /// Removed on reload with `notify_deleted` (sent instead of FAULT).
    Deleted,
    /// A master heard a lower-priority advert (`notify_master_rx_lower_pri`).
    MasterRxLowerPri,
    /// Effective priority changed while master / backup (FIFO only, with
    /// `notify_priority_changes`).
    MasterPriority,
    BackupPriority,
}

impl NotifyEvent {
    /// The word keepalived writes.
    pub fn word(self) -> &'static str {
        match self {
            NotifyEvent::Master => "MASTER",
            NotifyEvent::Backup => "BACKUP",
            NotifyEvent::Fault => "FAULT",
            NotifyEvent::Stop => "STOP",
            NotifyEvent::Deleted => "DELETED",
            NotifyEvent::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            NotifyEvent::MasterPriority => "MASTER_PRIORITY",
            NotifyEvent::BackupPriority => "BACKUP_PRIORITY",
        }
    }

    fn is_priority_change(self) -> bool {
        matches!(
            self,
            NotifyEvent::MasterPriority | NotifyEvent::BackupPriority
        )
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRequest {
    pub target: NotifyTarget,
    pub event: NotifyEvent,
    /// The instance's effective priority; keepalived always reports 0 for a group.
    pub priority: u8,
}

impl NotifyRequest {
    pub fn instance(name: &str, event: NotifyEvent, priority: u8) -> NotifyRequest {
        NotifyRequest {
            target: NotifyTarget::instance(name),
            event,
            priority,
        }
    }

    pub fn group(name: &str, event: NotifyEvent) -> NotifyRequest {
        NotifyRequest {
            target: NotifyTarget::group(name),
            event,
            priority: 0,
        }
    }

    fn priority(&self) -> u8 {
        match self.target {
            NotifyTarget::Instance(_) => self.priority,
            NotifyTarget::Group(_) => 0,
        }
    }

    /// The notify FIFO line, newline included: `INSTANCE "VI_1" MASTER 100`.
    pub fn fifo_line(&self) -> String {
        format!(
            "{} \"{}\" {} {}\n",
            self.target.kind_word(),
            self.target.name(),
            self.event.word(),
            self.priority()
        )
    }
}

/// The checked notify commands of one instance or group.
#[derive(Debug, Default)]
struct TargetScripts {
    master: Option<Program>,
    backup: Option<Program>,
    fault: Option<Program>,
    stop: Option<Program>,
    any: Option<Program>,
    rx_lower_pri: Option<Program>,
    priority_changes: bool,
}

/// One command of a notification: the program and what to append to its arguments.
#[derive(Debug)]
struct Step {
    program: Program,
    extra: Vec<String>,
}

type Job = (NotifyTarget, Vec<Step>);

/// Runs notify commands and writes notify FIFOs.
#[derive(Debug)]
pub struct Notifier {
    targets: HashMap<NotifyTarget, TargetScripts>,
    fifos: Vec<NotifyFifo>,
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
        let global_priority_changes = config.global.notify_priority_changes;
        let mut targets = HashMap::new();
        for instance in &config.instances {
            let what = format!("({})", instance.name);
            let mut scripts = prepare(&what, &instance.notify, policy);
            scripts.priority_changes = instance
                .notify
                .priority_changes
                .unwrap_or(global_priority_changes);
            // Only targets with something to run are kept: most instances of a large
            // configuration have no notify script, and `notify` treats a missing target as
            // one with nothing to run (FIFO lines are written either way).
            if !scripts.is_empty() {
                targets.insert(NotifyTarget::instance(&instance.name), scripts);
            }
        }
        for group in &config.sync_groups {
            let what = format!("VRRP_Group({})", group.name);
            let scripts = prepare(&what, &group.notify, policy);
            if !scripts.is_empty() {
                targets.insert(NotifyTarget::group(&group.name), scripts);
            }
        }
        targets.shrink_to_fit();

        let mut fifos: Vec<NotifyFifo> = Vec::new();
        let configured = [
            ("notify fifo", &config.global.notify_fifo),
            ("vrrp notify fifo", &config.global.vrrp_notify_fifo),
        ];
        for (kind, fifo) in configured {
            let Some(fifo) = fifo else { continue };
            if fifos.iter().any(|f| f.path() == fifo.path) {
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
                fifos.push(opened);
            }
        }

        let (queue, jobs) = mpsc::unbounded_channel();
        let worker = tokio::spawn(run_queue(jobs, options.notify_stall_limit));
        Ok(Notifier {
            targets,
            fifos,
            queue: Some(queue),
            worker,
        })
    }

    /// Notify `request`: FIFO lines now, scripts queued behind earlier notifications of the
    /// same instance or group. Never blocks and never fails; problems are logged.
    pub fn notify(&mut self, request: NotifyRequest) {
        let scripts = self.targets.get(&request.target);
        if request.event.is_priority_change() && !scripts.is_some_and(|s| s.priority_changes) {
            return;
        }
        let line = request.fifo_line();
        for fifo in &mut self.fifos {
            fifo.write_line(&line);
        }
        let Some(scripts) = scripts else {
            debug!(
                "no notify configuration for {} {}",
                request.target.kind_word(),
                request.target.name()
            );
            return;
        };
        let steps = steps(scripts, &request);
        if steps.is_empty() {
            return;
        }
        if let Some(queue) = &self.queue
            && queue.send((request.target.clone(), steps)).is_err()
        {
            warn!(
                "notify queue is gone; {} {} not run",
                request.target.name(),
                request.event.word()
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
        for fifo in self.fifos.drain(..) {
            fifo.close().await;
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // Dropping the worker's tasks kills any notify script still running.
        self.worker.abort();
    }
}

impl TargetScripts {
    /// Nothing to run and no priority changes to report.
    fn is_empty(&self) -> bool {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.any,
            &self.rx_lower_pri,
        ]
        .iter()
        .all(|p| p.is_none())
            && !self.priority_changes
    }
}

fn prepare(what: &str, notify: &Notify, policy: &ScriptPolicy) -> TargetScripts {
    let one = |keyword: &str, cmd: &Option<baton_conf::Command>| {
        cmd.as_ref()
            .and_then(|c| policy.prepare(&format!("{what} {keyword}"), c).ok())
    };
    TargetScripts {
        master: one("notify_master", &notify.master),
        backup: one("notify_backup", &notify.backup),
        fault: one("notify_fault", &notify.fault),
        stop: one("notify_stop", &notify.stop),
        any: one("notify", &notify.any),
        rx_lower_pri: one("notify_master_rx_lower_pri", &notify.master_rx_lower_pri),
        priority_changes: false,
    }
}

/// keepalived's order: the state's own script, then the generic one with its arguments.
fn steps(scripts: &TargetScripts, request: &NotifyRequest) -> Vec<Step> {
    let own = match request.event {
        NotifyEvent::Master => scripts.master.as_ref(),
        NotifyEvent::Backup => scripts.backup.as_ref(),
        NotifyEvent::Fault => scripts.fault.as_ref(),
        NotifyEvent::Stop => scripts.stop.as_ref(),
        NotifyEvent::MasterRxLowerPri => scripts.rx_lower_pri.as_ref(),
        NotifyEvent::Deleted | NotifyEvent::MasterPriority | NotifyEvent::BackupPriority => None,
    };
    let generic = match request.event {
        NotifyEvent::Master
        | NotifyEvent::Backup
        | NotifyEvent::Fault
        | NotifyEvent::Stop
        | NotifyEvent::Deleted => scripts.any.as_ref(),
        _ => None,
    };
    let mut steps = Vec::new();
    if let Some(program) = own {
        steps.push(Step {
            program: program.clone(),
            extra: Vec::new(),
        });
    }
    if let Some(program) = generic {
        steps.push(Step {
            program: program.clone(),
            extra: vec![
                request.target.kind_word().to_string(),
                request.target.name().to_string(),
                request.event.word().to_string(),
                request.priority().to_string(),
            ],
        });
    }
    steps
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
    let mut run = match Running::spawn(&step.program, &extra) {
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
