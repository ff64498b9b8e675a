//! One run of a script: spawned in its own process group, waited for on a pidfd, killed as a
//! group when it outlives its timeout (SIGTERM, then SIGKILL after a grace period), and
//! always reaped. Dropping a run at any point kills its whole group.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::process::Child;
use tracing::{debug, warn};

use crate::pidfd::{self, PidFd};
use crate::program::Program;

/// How one run of a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// Exit status 0.
    Success,
    /// A non-zero exit status.
    Failed(i32),
    /// Killed by a signal it was not sent by us for a timeout.
    Signalled(i32),
    /// Still running at its timeout; its process group was killed.
    TimedOut,
    /// Could not be started (exec failed, user vanished …).
    CouldNotRun(String),
}

impl ScriptOutcome {
    /// keepalived counts only exit status 0 as success.
    pub fn is_success(&self) -> bool {
        matches!(self, ScriptOutcome::Success)
    }
}

impl std::fmt::Display for ScriptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScriptOutcome::Success => write!(f, "succeeded"),
            ScriptOutcome::Failed(code) => write!(f, "failed (exited with status {code})"),
            ScriptOutcome::Signalled(sig) => {
                let name = Signal::try_from(*sig).map(|s| s.as_str()).unwrap_or("?");
                write!(f, "failed (due to signal {sig}, {name})")
            }
            ScriptOutcome::TimedOut => write!(f, "timed_out"),
            ScriptOutcome::CouldNotRun(why) => write!(f, "could not be run: {why}"),
        }
    }
}

/// A spawned child and its process group.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    /// Also the process group id: the child leads its own group.
    pid: Pid,
    pidfd: Option<AsyncFd<PidFd>>,
    reaped: bool,
}

impl Running {
    pub(crate) fn spawn(program: &Program, extra: &[&str]) -> io::Result<Running> {
        Running::started(program.command(extra).spawn()?)
    }

    /// [`Running::spawn`] on the runtime's blocking pool. Spawning forks and then waits for
    /// the child to exec, which takes as long as loading the program takes (a script on a
    /// slow or hung file system, a large daemon to fork): the event loop shares this
    /// thread, and a script run is never worth an advert sent late.
    pub(crate) async fn spawn_off_thread(program: &Program, extra: &[&str]) -> io::Result<Running> {
        let mut cmd = program.command(extra);
        // The child becomes a `Running` on the blocking thread: if the task waiting for it
        // is dropped meanwhile (the trackers stop), dropping the result still kills the
        // whole process group, not just its leader.
        tokio::task::spawn_blocking(move || Running::started(cmd.spawn()?))
            .await
            .map_err(io::Error::other)?
    }

    fn started(child: tokio::process::Child) -> io::Result<Running> {
        let raw = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| io::Error::other("spawned child has no pid"))?;
        // Without a pidfd (kernel before 5.3) exit is observed by reaping instead.
        let pidfd = PidFd::open(raw).and_then(PidFd::into_async).ok();
        Ok(Running {
            child,
            pid: Pid::from_raw(raw),
            pidfd,
            reaped: false,
        })
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Resolves when the leader has exited. With a pidfd the leader is left unreaped, so
    /// its pid and process group cannot be reused while we may still signal the group.
    pub(crate) async fn exited(&mut self) {
        if let Some(fd) = &self.pidfd
            && pidfd::exited(fd).await.is_ok()
        {
            return;
        }
        // Reaped here, but still signalled until reap() is called, as keepalived does: the
        // group id stays ours as long as any member lives.
        let _ = self.child.wait().await;
    }

    /// Signal every process of the group. Safe while the leader is unreaped.
    pub(crate) fn signal_group(&self, signal: Signal) {
        if self.reaped {
            return;
        }
        match killpg(self.pid, signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => warn!(
                "kill -{} of process group {} failed: {e}",
                signal as i32, self.pid
            ),
        }
    }

    /// Collect the exit status; after this the group is no longer signalled.
    pub(crate) async fn reap(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.reaped = true;
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Abandoned mid-run (the daemon is stopping, a tracker was dropped): nothing it
        // started may outlive it. tokio reaps the leader in the background (kill_on_drop).
        self.signal_group(Signal::SIGKILL);
    }
}

/// Run `program` to completion with a timeout.
pub(crate) async fn run_with_timeout(
    program: &Program,
    extra: &[&str],
    timeout: Duration,
    grace: Duration,
) -> ScriptOutcome {
    let mut run = match Running::spawn_off_thread(program, extra).await {
        Ok(run) => run,
        Err(e) => return ScriptOutcome::CouldNotRun(format!("{}: {e}", program.text)),
    };
    if tokio::time::timeout(timeout, run.exited()).await.is_ok() {
        return match run.reap().await {
            Ok(status) => outcome(status),
            Err(e) => ScriptOutcome::CouldNotRun(format!("wait failed: {e}")),
        };
    }
    debug!(
        "pid {} timed out after {timeout:?}, terminating its process group",
        run.pid()
    );
    run.signal_group(Signal::SIGTERM);
    if tokio::time::timeout(grace, run.exited()).await.is_err() {
        warn!(
            "Child (PID {}) failed to terminate after SIGTERM within {grace:?}, sending SIGKILL",
            run.pid()
        );
    }
    // The leader may have gone on SIGTERM while children it forked ignored it.
    run.signal_group(Signal::SIGKILL);
    run.exited().await;
    let _ = run.reap().await;
    ScriptOutcome::TimedOut
}

/// Classify an exit status.
pub(crate) fn outcome(status: ExitStatus) -> ScriptOutcome {
    match (status.code(), status.signal()) {
        (Some(0), _) => ScriptOutcome::Success,
        (Some(code), _) => ScriptOutcome::Failed(code),
        (None, Some(sig)) => ScriptOutcome::Signalled(sig),
        (None, None) => ScriptOutcome::CouldNotRun(format!("unexpected wait status {status}")),
    }
}

/// A long-running helper (a notify FIFO's reader script): logged if it ends by itself,
/// terminated (SIGTERM, then SIGKILL after a grace period) when asked to stop or dropped.
#[derive(Debug)]
pub(crate) struct Supervised {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervised {
    pub(crate) fn start(mut run: Running, what: String, grace: Duration) -> Supervised {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = run.exited() => {
                    match run.reap().await {
                        Ok(status) => warn!("{what} exited: {}", outcome(status)),
                        Err(e) => warn!("{what} could not be waited for: {e}"),
                    }
                }
                _ = stopped => {
                    run.signal_group(Signal::SIGTERM);
                    if tokio::time::timeout(grace, run.exited()).await.is_ok() {
                        let _ = run.reap().await;
                    }
                    // Dropping `run` SIGKILLs whatever is left of the group.
                }
            }
        });
        Supervised {
            stop: Some(stop),
            task,
        }
    }

    /// Ask it to terminate and wait until it has.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // Not stopped gracefully: abort, which drops the child and kills its group.
        self.task.abort();
    }
}
