//! Processes running inside a host: handles on the ones a test started, and a view of every
//! process a host can see (its own /proc).

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::IoContext;
use crate::{Error, Result};

/// A program started in the background on a host with [`Host::spawn`](crate::Host::spawn).
///
/// The program is a direct child of the test process living in the host's namespaces, so its
/// pid ([`Proc::pid`], as the test sees it) and exit status are known without a helper. Its
/// stdout and stderr go to files in the lab's directory. Dropping the handle leaves the process
/// running; the lab kills it at teardown.
#[derive(Debug, Clone)]
pub struct Proc {
    pub(crate) inner: Arc<ProcInner>,
}

#[derive(Debug)]
pub(crate) struct ProcInner {
    pub(crate) child: Mutex<Child>,
    pub(crate) pid: u32,
    pub(crate) host: String,
    pub(crate) program: String,
    pub(crate) stdout: PathBuf,
    pub(crate) stderr: PathBuf,
}

impl ProcInner {
    fn child(&self) -> Result<MutexGuard<'_, Child>> {
        self.child
            .lock()
            .map_err(|_| Error::invalid("process handle", "lock poisoned"))
    }

    /// Kill (SIGKILL) and reap, waiting at most `timeout`. For teardown.
    pub(crate) fn kill_and_reap(&self, timeout: Duration) -> Result<()> {
        let mut child = self.child()?;
        if child
            .try_wait()
            .ctx(|| format!("checking {}", self.program))?
            .is_none()
        {
            let _ = child.kill();
        }
        let start = Instant::now();
        while child
            .try_wait()
            .ctx(|| format!("reaping {}", self.program))?
            .is_none()
        {
            if start.elapsed() > timeout {
                return Err(Error::Timeout {
                    what: format!(
                        "{} (pid {}) on {} to die",
                        self.program, self.pid, self.host
                    ),
                    after: timeout,
                    last: None,
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

impl Proc {
    /// The pid as the test process sees it (outside the host's PID namespace).
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// The pid as the host sees it (its own PID namespace), e.g. what a pid file written by
    /// the program contains.
    pub fn pid_in_host(&self) -> Result<u32> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.inner.pid))
            .ctx(|| format!("reading the status of {}", self.describe()))?;
        parse_nspid(&status)
            .map(|(_, inner)| inner)
            .ok_or_else(|| Error::invalid("/proc status", "no NSpid line"))
    }

    /// Send `signal`. Fails if the process has already exited (so a test that "crashes" a
    /// process learns when there was nothing left to crash).
    pub fn signal(&self, signal: Signal) -> Result<()> {
        let mut child = self.inner.child()?;
        // Holding the handle's lock while the child is unreaped means its pid cannot have been
        // reused, so the signal reaches the right process.
        if let Some(status) = child
            .try_wait()
            .ctx(|| format!("checking {}", self.describe()))?
        {
            return Err(Error::invalid(
                "signal target",
                format!(
                    "{} already exited ({})",
                    self.describe(),
                    crate::exec::status_text(status)
                ),
            ));
        }
        kill(Pid::from_raw(self.inner.pid as i32), signal)
            .ctx(|| format!("sending {signal} to {}", self.describe()))
    }

    /// Crash the process: SIGKILL.
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::SIGKILL)
    }

    /// The exit status if the process has exited (and reaps it), or `None`.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        self.inner
            .child()?
            .try_wait()
            .ctx(|| format!("checking {}", self.describe()))
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> Result<bool> {
        Ok(self.try_wait()?.is_none())
    }

    /// Wait for the process to exit, at most `timeout`; `None` if it is still running.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        // Polling rather than a blocking wait, so another thread can still signal the process
        // through this handle meanwhile.
        // Short programs are common, so start polling fast and back off to 1 ms.
        let start = Instant::now();
        let mut pause = Duration::from_micros(50);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if start.elapsed() >= timeout {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    }

    /// Wait for the process to exit.
    pub fn wait(&self) -> Result<ExitStatus> {
        loop {
            if let Some(status) = self.wait_timeout(Duration::from_secs(3600))? {
                return Ok(status);
            }
        }
    }

    /// What the process wrote to stdout so far.
    pub fn stdout(&self) -> Result<String> {
        read_lossy(&self.inner.stdout)
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> Result<String> {
        read_lossy(&self.inner.stderr)
    }

    /// The file stdout goes to.
    pub fn stdout_path(&self) -> &Path {
        &self.inner.stdout
    }

    fn describe(&self) -> String {
        format!(
            "{} (pid {}) on {}",
            self.inner.program, self.inner.pid, self.inner.host
        )
    }
}

fn read_lossy(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).ctx(|| format!("reading {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A process as a host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Pid inside the host (1 is the host's init).
    pub pid: u32,
    /// Pid as the test process sees it.
    pub outer_pid: u32,
    /// The command name (`/proc/<pid>/comm`).
    pub comm: String,
    /// The argument vector (empty for kernel-side exits in progress).
    pub cmdline: Vec<String>,
    /// State letter from /proc (`R`, `S`, `Z`, ...).
    pub state: char,
}

impl ProcessInfo {
    /// Whether `name` is this process's command name or the file name of its `argv[0]`, the way
    /// `pidof` matches.
    pub fn is_named(&self, name: &str) -> bool {
        let argv0 = self
            .cmdline
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a));
        self.comm == name || argv0 == Some(name)
    }
}

/// (outer pid, pid in the innermost namespace) from a /proc status file.
fn parse_nspid(status: &str) -> Option<(u32, u32)> {
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    let pids: Vec<u32> = line
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    Some((*pids.first()?, *pids.last()?))
}

fn parse_state(status: &str) -> Option<char> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))?
        .trim()
        .chars()
        .next()
}

/// Every process whose PID namespace is `pid_ns` (as `readlink /proc/<pid>/ns/pid` shows it).
/// Processes that exit during the scan are skipped.
pub(crate) fn processes_in(pid_ns: &str) -> Result<Vec<ProcessInfo>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").ctx(|| "listing /proc".into())? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let base = entry.path();
        let Ok(ns) = std::fs::read_link(base.join("ns/pid")) else {
            continue;
        };
        if ns.as_os_str() != pid_ns {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(base.join("status")) else {
            continue;
        };
        let Some((_, inner)) = parse_nspid(&status) else {
            continue;
        };
        let comm = std::fs::read_to_string(base.join("comm")).unwrap_or_default();
        let cmdline = std::fs::read(base.join("cmdline")).unwrap_or_default();
        out.push(ProcessInfo {
            pid: inner,
            outer_pid: pid,
            comm: comm.trim_end().to_string(),
            cmdline: cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
            state: parse_state(&status).unwrap_or('?'),
        });
    }
    out.sort_by_key(|p| p.pid);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nspid_gives_outer_and_inner() {
        let status = "Name:\tsleep\nState:\tS (sleeping)\nNSpid:\t91234\t7\n";
        assert_eq!(parse_nspid(status), Some((91234, 7)));
        assert_eq!(parse_state(status), Some('S'));
        assert_eq!(parse_nspid("NSpid:\t55\n"), Some((55, 55)));
        assert_eq!(parse_nspid("Name:\tx\n"), None);
    }

    #[test]
    fn names_match_like_pidof() {
        let p = ProcessInfo {
            pid: 3,
            outer_pid: 100,
            comm: "keepalived".into(),
            cmdline: vec!["/usr/sbin/keepalived".into(), "-n".into()],
            state: 'S',
        };
        assert!(p.is_named("keepalived"));
        let q = ProcessInfo {
            comm: "nginx".into(),
            cmdline: vec!["nginx: master".into()],
            ..p
        };
        assert!(q.is_named("nginx"));
        assert!(!q.is_named("keepalived"));
    }

    #[test]
    fn scan_finds_this_process_in_its_own_namespace() {
        let me = std::process::id();
        let ns = crate::ns::ns_id(me, "pid").unwrap();
        let all = processes_in(&ns).unwrap();
        assert!(all.iter().any(|p| p.outer_pid == me));
    }
}
