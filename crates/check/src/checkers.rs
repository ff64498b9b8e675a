//! The running checkers of one configuration, on a thread of their own.
//!
//! keepalived runs its checkers in a separate process so that a thousand health checks can
//! never delay a VRRP advert. baton does the same with a thread: the checkers live on their
//! own single-threaded tokio runtime, so their CPU (TLS handshakes, script forks, MD5 of
//! large pages) is never taken from the daemon's event loop; verdicts cross over on a
//! channel. Within that thread each checker is one task; nothing blocks it (sockets are
//! non-blocking, files are read on the blocking pool, scripts are waited for with pidfds).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use std::collections::BTreeSet;

use baton_conf::{CheckKind, Checker, Config, GlobalDefs, VirtualServerId};
use baton_track::{ScriptPolicy, TrackOptions};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{error, info};

use crate::env::Env;
use crate::file::{FileTarget, FileWatcher};
use crate::runner::{self, Seed};
use crate::spec::{CheckerSpec, Ready, checkers_of};
use crate::status::{CheckerStatus, Reporter, lock};
use crate::verdict::{CheckState, CheckerId, Verdict};

/// Everything the checkers of one configuration need.
#[derive(Debug)]
pub struct Plan {
    pub checkers: Vec<CheckerSpec>,
    pub(crate) env: Arc<Env>,
}

impl Plan {
    /// Every checker of `config`. `options` are the tracking options the daemon uses for
    /// `vrrp_script` (who scripts run as by default, the kill grace).
    pub fn from_config(config: &Config, options: &TrackOptions) -> Plan {
        Plan::new(checkers_of(config), &config.global, options)
    }

    /// `global` and `options` decide who scripts run as and whether insecure ones are
    /// refused (`enable_script_security`), exactly as for `vrrp_script`.
    pub fn new(checkers: Vec<CheckerSpec>, global: &GlobalDefs, options: &TrackOptions) -> Plan {
        Plan {
            checkers,
            env: Arc::new(Env {
                policy: ScriptPolicy::new(global, options),
                kill_grace: options.kill_grace,
            }),
        }
    }
}

/// Why the checkers could not start.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot start the checker thread: {0}")]
    Thread(std::io::Error),
    #[error("the checker thread has stopped")]
    Stopped,
}

enum Command {
    Reload(Plan),
    Enable(VirtualServerId, bool),
    Shutdown(oneshot::Sender<()>),
}

type Statuses = Arc<Mutex<Vec<Arc<Mutex<CheckerStatus>>>>>;

/// The running checkers. Dropping this stops them (scripts still running are killed).
#[derive(Debug)]
pub struct Checkers {
    commands: mpsc::UnboundedSender<Command>,
    statuses: Statuses,
    thread: Option<JoinHandle<()>>,
}

impl Checkers {
    /// Start every checker of `config` (see [`Plan::from_config`]) on a thread of their
    /// own; verdicts arrive on `verdicts`. Returns at once.
    pub fn for_config(
        config: &Config,
        options: &TrackOptions,
        verdicts: mpsc::Sender<Verdict>,
    ) -> Result<Checkers, CheckError> {
        Checkers::spawn(Plan::from_config(config, options), verdicts)
    }

    /// Move to the checkers of a new configuration (see [`Checkers::reload`]).
    pub fn reload_config(&self, config: &Config, options: &TrackOptions) -> Result<(), CheckError> {
        self.reload(Plan::from_config(config, options))
    }

    /// Start every checker of `plan` on a new thread (it inherits the caller's network
    /// namespace); verdicts arrive on `verdicts`. Returns at once.
    pub fn spawn(plan: Plan, verdicts: mpsc::Sender<Verdict>) -> Result<Checkers, CheckError> {
        let (commands, rx) = mpsc::unbounded_channel();
        let statuses: Statuses = Arc::default();
        let shared = statuses.clone();
        let thread = std::thread::Builder::new()
            .name("baton-check".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        error!("cannot start the checkers' runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(supervise(plan, rx, verdicts, shared));
            })
            .map_err(CheckError::Thread)?;
        Ok(Checkers {
            commands,
            statuses,
            thread: Some(thread),
        })
    }

    /// Move to a new configuration. Checkers that compare equal to a running one (same
    /// real server, same probe) keep running, with their state; one whose timing changed
    /// restarts from the state it had; the rest start fresh or stop.
    pub fn reload(&self, plan: Plan) -> Result<(), CheckError> {
        self.commands
            .send(Command::Reload(plan))
            .map_err(|_| CheckError::Stopped)
    }

    /// Pause (`false`) or resume the checkers of virtual server `vs` (`ha_suspend`: they
    /// run only while the virtual address is on this host). A paused checker keeps its
    /// state and resumes from it. FILE_CHECKs, which only read a file, are not paused.
    pub fn set_enabled(&self, vs: VirtualServerId, enabled: bool) -> Result<(), CheckError> {
        self.commands
            .send(Command::Enable(vs, enabled))
            .map_err(|_| CheckError::Stopped)
    }

    /// Every checker's state, for `baton status`.
    pub fn status(&self) -> Vec<CheckerStatus> {
        let list = lock(&self.statuses).clone();
        let mut out: Vec<CheckerStatus> = list.iter().map(|s| lock(s).clone()).collect();
        out.sort_by_key(|s| s.id);
        out
    }

    /// Stop every checker and wait until scripts still running have been killed.
    pub async fn shutdown(mut self) {
        let (done, stopped) = oneshot::channel();
        if self.commands.send(Command::Shutdown(done)).is_ok() {
            let _ = stopped.await;
        }
        if let Some(thread) = self.thread.take() {
            // The runtime has returned: the thread is ending.
            let _ = thread.join();
        }
    }
}

impl Drop for Checkers {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let (done, _) = oneshot::channel();
            let _ = self.commands.send(Command::Shutdown(done));
        }
    }
}

/// A checker task and what identifies it across reloads.
struct Running {
    spec: CheckerSpec,
    /// [`probe_of`] the spec, computed once.
    probe: CheckKind,
    id: Arc<Mutex<CheckerId>>,
    status: Arc<Mutex<CheckerStatus>>,
    /// `None` while paused.
    abort: Option<tokio::task::AbortHandle>,
}

struct State {
    tasks: JoinSet<()>,
    running: Vec<Running>,
    files: Option<tokio::task::AbortHandle>,
    /// The file checks' statuses, beside the one task that follows them all.
    file_statuses: Vec<Arc<Mutex<CheckerStatus>>>,
    verdicts: mpsc::Sender<Verdict>,
    statuses: Statuses,
    /// Virtual servers whose checkers are paused (`ha_suspend`).
    paused: BTreeSet<VirtualServerId>,
    /// The environment of the running plan, for checkers resumed later.
    env: Option<Arc<Env>>,
}

async fn supervise(
    plan: Plan,
    mut commands: mpsc::UnboundedReceiver<Command>,
    verdicts: mpsc::Sender<Verdict>,
    statuses: Statuses,
) {
    let mut state = State {
        tasks: JoinSet::new(),
        running: Vec::new(),
        files: None,
        file_statuses: Vec::new(),
        verdicts,
        statuses,
        paused: BTreeSet::new(),
        env: None,
    };
    apply(&mut state, plan);
    let done = loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Reload(plan)) => apply(&mut state, plan),
                Some(Command::Enable(vs, enabled)) => enable(&mut state, vs, enabled),
                Some(Command::Shutdown(done)) => break Some(done),
                None => break None,
            },
            // Reap tasks that ended (nobody listens to verdicts, a removed checker).
            Some(_) = state.tasks.join_next(), if !state.tasks.is_empty() => {}
        }
    };
    state.tasks.abort_all();
    while state.tasks.join_next().await.is_some() {}
    info!("checkers stopped");
    if let Some(done) = done {
        let _ = done.send(());
    }
}

fn status_of(spec: &CheckerSpec) -> CheckerStatus {
    CheckerStatus {
        id: spec.id,
        keyword: spec.checker.kind.keyword(),
        server: spec.server.clone(),
        virtual_server: spec.virtual_server.clone(),
        target: target(spec),
        state: None,
        since: None,
        reason: None,
        last_probe: None,
        probes: 0,
        failures: 0,
    }
}

fn target(spec: &CheckerSpec) -> String {
    match (&spec.checker.kind, &spec.checker.connection, &spec.ready) {
        (CheckKind::Misc(m), _, _) => m.command.text.clone(),
        (CheckKind::File(_), _, Ready::File(tf)) => tf.path.display().to_string(),
        (_, Some(c), _) => crate::net::pair(c.dst),
        _ => String::new(),
    }
}

/// keepalived's timing of a checker: what may change without it being another checker.
/// `misc_timeout` is timing too: unset, it follows `delay_loop`.
fn same_timing(a: &Checker, b: &Checker) -> bool {
    let timing = |c: &Checker| {
        (
            c.alpha,
            c.delay_loop,
            c.warmup,
            c.retry,
            c.delay_before_retry,
            c.log_all_failures,
            match &c.kind {
                CheckKind::Misc(m) => Some(m.timeout),
                _ => None,
            },
        )
    };
    timing(a) == timing(b)
}

/// What a checker probes, without where it was written or when it runs: a checker that
/// moved in the file, or whose `misc_timeout` followed a new `delay_loop`, is the same
/// checker.
fn probe_of(kind: &CheckKind) -> CheckKind {
    let mut probe = kind.clone();
    match &mut probe {
        CheckKind::Misc(m) => {
            m.timeout = std::time::Duration::ZERO;
            m.command.span = Default::default();
        }
        CheckKind::Http(h) => {
            for url in &mut h.urls {
                url.span = Default::default();
            }
        }
        _ => {}
    }
    probe
}

/// Same check of the same server: keepalived's `compare` functions (what is probed and
/// how, not when).
fn same_check(a: &Running, b: &CheckerSpec, probe: &CheckKind) -> bool {
    a.spec.server == b.server
        && a.spec.virtual_server == b.virtual_server
        && a.spec.checker.connection == b.checker.connection
        && a.probe == *probe
        && a.spec.ready == b.ready
}

fn apply(state: &mut State, plan: Plan) {
    let mut old = std::mem::take(&mut state.running);
    let mut files = Vec::new();
    let mut started = 0usize;
    let mut kept = 0usize;
    for spec in plan.checkers {
        if matches!(spec.checker.kind, CheckKind::File(_)) {
            files.push(spec);
            continue;
        }
        let probe = probe_of(&spec.checker.kind);
        let found = old.iter().position(|r| same_check(r, &spec, &probe));
        match found {
            Some(i) if same_timing(&old[i].spec.checker, &spec.checker) => {
                let r = old.swap_remove(i);
                *lock(&r.id) = spec.id;
                lock(&r.status).id = spec.id;
                state.running.push(Running { spec, probe, ..r });
                kept += 1;
            }
            Some(i) => {
                let r = old.swap_remove(i);
                if let Some(a) = &r.abort {
                    a.abort();
                }
                let previous = lock(&r.status).clone();
                start(state, spec, &plan.env, Some(previous));
                started += 1;
            }
            None => {
                start(state, spec, &plan.env, None);
                started += 1;
            }
        }
    }
    for r in old.into_iter().filter_map(|r| r.abort) {
        r.abort();
    }
    // Checkers of paused virtual servers wait, with their state, until resumed; a kept
    // one that was paused under another virtual server id runs again.
    for r in &mut state.running {
        if state.paused.contains(&r.spec.id.rs.vs)
            && let Some(a) = r.abort.take()
        {
            a.abort();
        }
    }
    let idle: Vec<usize> = (0..state.running.len())
        .filter(|&i| {
            let r = &state.running[i];
            r.abort.is_none() && !state.paused.contains(&r.spec.id.rs.vs)
        })
        .collect();
    for i in idle.into_iter().rev() {
        let r = state.running.swap_remove(i);
        let previous = lock(&r.status).clone();
        start(state, r.spec, &plan.env, Some(previous));
    }
    state.env = Some(plan.env.clone());
    if let Some(files_task) = state.files.take() {
        files_task.abort();
    }
    state.file_statuses.clear();
    let file_count = files.len();
    if !files.is_empty() {
        state.files = Some(start_files(state, files));
    }
    let mut list: Vec<_> = state.running.iter().map(|r| r.status.clone()).collect();
    list.extend(state.file_statuses.iter().cloned());
    *lock(&state.statuses) = list;
    info!("checkers: {kept} kept, {started} started, {file_count} file checks",);
    plan.env.policy.log_summary();
}

/// Start `spec`'s task; a checker restarted for new timing carries its `previous` state
/// (keepalived migrates it) and its counters, so status does not forget them.
fn start(state: &mut State, spec: CheckerSpec, env: &Arc<Env>, previous: Option<CheckerStatus>) {
    let mut status = status_of(&spec);
    let mut seed = None;
    if let Some(p) = previous {
        seed = p.state.map(|s| Seed {
            is_up: s.is_up(),
            has_run: true,
        });
        status = CheckerStatus {
            state: p.state,
            since: p.since,
            reason: p.reason,
            last_probe: p.last_probe,
            probes: p.probes,
            failures: p.failures,
            ..status
        };
    }
    let (reporter, id, status) = Reporter::new(status, state.verdicts.clone());
    let span = tracing::info_span!(
        "checker",
        check = spec.checker.kind.keyword(),
        rs = %spec.server
    );
    let task = runner::run(spec.clone(), env.clone(), reporter, seed);
    let abort = state
        .tasks
        .spawn(tracing::Instrument::instrument(task, span));
    state.running.push(Running {
        probe: probe_of(&spec.checker.kind),
        spec,
        id,
        status,
        abort: Some(abort),
    });
}

/// `ha_suspend`: stop or restart the checker tasks of one virtual server.
fn enable(state: &mut State, vs: VirtualServerId, enabled: bool) {
    let changed = if enabled {
        state.paused.remove(&vs)
    } else {
        state.paused.insert(vs)
    };
    if !changed {
        return;
    }
    let Some(env) = state.env.clone() else { return };
    let mine: Vec<usize> = (0..state.running.len())
        .filter(|&i| state.running[i].spec.id.rs.vs == vs)
        .collect();
    for i in mine.into_iter().rev() {
        if enabled {
            if state.running[i].abort.is_none() {
                let r = state.running.swap_remove(i);
                let previous = lock(&r.status).clone();
                start(state, r.spec, &env, Some(previous));
            }
        } else if let Some(a) = state.running[i].abort.take() {
            a.abort();
        }
    }
    let mut list: Vec<_> = state.running.iter().map(|r| r.status.clone()).collect();
    list.extend(state.file_statuses.iter().cloned());
    *lock(&state.statuses) = list;
    info!(
        "checkers of virtual server {} {}",
        vs.0,
        if enabled { "resumed" } else { "suspended" }
    );
}

fn start_files(state: &mut State, specs: Vec<CheckerSpec>) -> tokio::task::AbortHandle {
    let mut reporters = Vec::new();
    let mut targets = Vec::new();
    let mut statuses = Vec::new();
    let mut refused = Vec::new();
    for spec in &specs {
        let (rep, _, status) = Reporter::new(status_of(spec), state.verdicts.clone());
        match (&spec.checker.kind, &spec.ready) {
            (CheckKind::File(check), Ready::File(file)) => {
                statuses.push(status);
                reporters.push(rep);
                targets.push(FileTarget {
                    check: check.clone(),
                    file: file.clone(),
                });
            }
            (_, Ready::Refused(why)) => refused.push((rep, why.clone())),
            _ => refused.push((rep, "not prepared".into())),
        }
    }
    state.file_statuses = statuses;
    state.tasks.spawn(async move {
        for (rep, why) in refused {
            let line = format!("FILE_CHECK on service {}: {why} - removing", rep.server);
            if !rep.verdict(CheckState::Removed, line, None).await {
                return;
            }
        }
        follow_files(targets, reporters).await;
    })
}

async fn follow_files(targets: Vec<FileTarget>, reporters: Vec<Reporter>) {
    if targets.is_empty() {
        return;
    }
    let names: Vec<String> = targets.iter().map(|t| t.file.name.clone()).collect();
    let (mut watcher, refused) = match FileWatcher::new(targets) {
        Ok(w) => w,
        Err(e) => {
            for (rep, name) in reporters.iter().zip(&names) {
                let line = format!(
                    "({}): track file {name} cannot be followed: inotify: {e}",
                    rep.server
                );
                rep.verdict(CheckState::Removed, line, None).await;
            }
            return;
        }
    };
    for (i, why) in refused {
        let rep = &reporters[i];
        let line = format!(
            "({}): track file {} - {why} - removing",
            rep.server, names[i]
        );
        rep.verdict(CheckState::Removed, line, None).await;
    }
    let mut changed = watcher.read_all().await;
    loop {
        for i in changed {
            let w = &watcher.checks[i];
            let Some(status) = w.status else { continue };
            let rep = &reporters[i];
            let state = status.state();
            let line = match state {
                CheckState::Down => format!(
                    "({}): tracked file {} now FAULT state",
                    rep.server, w.target.file.name
                ),
                _ => format!(
                    "({}): tracked file {} weight {}",
                    rep.server,
                    w.target.file.name,
                    match status {
                        crate::file::FileStatus::Offset(o) => format!("{o:+}"),
                        crate::file::FileStatus::Fault => String::new(),
                    }
                ),
            };
            rep.probed(state.is_up(), line.clone(), std::time::Duration::ZERO);
            if !rep.file_verdict(state, line, w.value).await {
                return;
            }
        }
        changed = match watcher.next().await {
            Ok(c) => c,
            Err(e) => {
                error!("inotify failed, FILE_CHECKs no longer followed: {e}");
                return;
            }
        };
    }
}
