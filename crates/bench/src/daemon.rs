//! Running either daemon in a lab host the same way: start it on a configuration, crash it,
//! stop it, find its processes, ask baton for its status.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use baton_lab::{Host, Proc, ProcessInfo, Signal, ms, wait_until};
use nix::unistd::Pid;

/// Daemons started so far, to name each start's pid files.
static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Which daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Baton,
    Keepalived,
}

impl Kind {
    pub const BOTH: [Kind; 2] = [Kind::Baton, Kind::Keepalived];

    /// The process name (`comm`) of its processes.
    pub fn comm(self) -> &'static str {
        match self {
            Kind::Baton => "baton",
            Kind::Keepalived => "keepalived",
        }
    }
}

/// A daemon running on a lab host.
#[derive(Debug)]
pub struct Daemon {
    pub kind: Kind,
    pub host: Host,
    pub proc: Proc,
    socket: PathBuf,
}

impl Daemon {
    /// Write `conf` into the host's directory as `<tag>.conf` and start the daemon on it, in
    /// the foreground with console logging (its log is the process's output), as a unit file
    /// would run it. keepalived runs every subsystem it decides to start (with no
    /// virtual_server, a parent and a VRRP child).
    pub fn start(kind: Kind, baton: &Path, host: &Host, tag: &str, conf: &str) -> Result<Daemon> {
        Daemon::start_with(kind, baton, host, tag, conf, &[])
    }

    /// [`Daemon::start`] with arguments after the usual ones.
    pub fn start_with(
        kind: Kind,
        baton: &Path,
        host: &Host,
        tag: &str,
        conf: &str,
        extra: &[String],
    ) -> Result<Daemon> {
        Daemon::start_scheduled(kind, baton, host, tag, conf, extra, None)
    }

    /// [`Daemon::start_with`], under the real-time round-robin policy at `rt_priority`
    /// (`chrt -r`) when given: what keepalived's `vrrp_rt_priority` asks for, applied the
    /// same way to both daemons.
    pub fn start_scheduled(
        kind: Kind,
        baton: &Path,
        host: &Host,
        tag: &str,
        conf: &str,
        extra: &[String],
        rt_priority: Option<u8>,
    ) -> Result<Daemon> {
        let path = host.write_file(format!("{tag}.conf"), conf)?;
        // Pid files named afresh for each start: a crashed keepalived leaves its pid file,
        // and a new pid in the host's small PID namespace may soon reuse the number in it
        // ("daemon is already running").
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("{tag}-{n}");
        let pid = host.path(format!("{tag}.pid"));
        let program = match kind {
            Kind::Baton => baton.as_os_str(),
            Kind::Keepalived => "keepalived".as_ref(),
        };
        let mut c = match rt_priority {
            Some(p) => {
                let mut c = Command::new("chrt");
                c.args(["-r", &p.to_string()]).arg(program);
                c
            }
            None => Command::new(program),
        };
        let mut cmd = match kind {
            Kind::Baton => {
                c.args(["-n", "-l", "-f"]).arg(&path).arg("-p").arg(&pid);
                c
            }
            Kind::Keepalived => {
                c.args(["-n", "-l", "-f"])
                    .arg(&path)
                    .arg("-p")
                    .arg(&pid)
                    .arg("-r")
                    .arg(host.path(format!("{tag}_vrrp.pid")))
                    .arg("-c")
                    .arg(host.path(format!("{tag}_checkers.pid")));
                c
            }
        };
        cmd.args(extra);
        let proc = host
            .spawn(&mut cmd)
            .with_context(|| format!("starting {kind:?} on {}", host.name()))?;
        Ok(Daemon {
            kind,
            host: host.clone(),
            proc,
            socket: pid.with_extension("sock"),
        })
    }

    /// Every live process of the daemon on its host.
    pub fn processes(&self) -> Result<Vec<ProcessInfo>> {
        Ok(self
            .host
            .processes()?
            .into_iter()
            .filter(|p| p.comm == self.kind.comm() && p.state != 'Z')
            .collect())
    }

    /// Crash the daemon: SIGKILL to each of its processes, children first, so keepalived's
    /// VRRP child never hears of its parent's death. The wall-clock time just before the first
    /// signal.
    pub fn crash(&self) -> Result<SystemTime> {
        let mut procs = self.processes()?;
        procs.sort_by_key(|p| std::cmp::Reverse(p.pid));
        if procs.is_empty() {
            bail!("{:?} on {} is not running", self.kind, self.host.name());
        }
        let at = SystemTime::now();
        for p in &procs {
            // A process that exited meanwhile is no error: it is as dead as we want it.
            let _ = nix::sys::signal::kill(Pid::from_raw(p.outer_pid as i32), Signal::SIGKILL);
        }
        self.proc.wait_timeout(Duration::from_secs(5))?;
        Ok(at)
    }

    /// Stop the daemon as systemd does: SIGTERM to its main process. The wall-clock time just
    /// before the signal.
    pub fn terminate(&self) -> Result<SystemTime> {
        let at = SystemTime::now();
        self.proc.signal(Signal::SIGTERM)?;
        Ok(at)
    }

    /// Stop the daemon and wait until none of its processes is left.
    pub fn stop(&self) -> Result<()> {
        if self.proc.is_running()? {
            self.proc.signal(Signal::SIGTERM)?;
            if self.proc.wait_timeout(Duration::from_secs(10))?.is_none() {
                self.proc.kill()?;
                self.proc.wait()?;
            }
        }
        self.wait_gone()
    }

    /// Wait until none of the daemon's processes is left (keepalived's children outlive their
    /// parent by a moment).
    pub fn wait_gone(&self) -> Result<()> {
        self.proc.wait_timeout(Duration::from_secs(10))?;
        wait_until(
            format!("{:?} on {} to exit", self.kind, self.host.name()),
            Duration::from_secs(10),
            ms(10),
            || self.processes().map(|p| p.is_empty()),
        )?;
        Ok(())
    }

    /// Whether the daemon's main process is still running.
    pub fn running(&self) -> Result<bool> {
        Ok(self.proc.is_running()?)
    }

    /// What the daemon logged so far (stdout and stderr).
    pub fn log(&self) -> Result<String> {
        Ok(self.proc.stdout()? + &self.proc.stderr()?)
    }

    /// baton's status (the `status` object of its control socket's answer).
    pub fn status(&self) -> Result<serde_json::Value> {
        if self.kind != Kind::Baton {
            bail!("only baton has a control socket");
        }
        let mut stream = UnixStream::connect(&self.socket)
            .with_context(|| format!("connecting to {}", self.socket.display()))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(b"{\"cmd\":\"status\"}\n")?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .context("reading baton's status")?;
        // The daemon gives a client 10 s; an answer cut short ends without its newline.
        if !line.ends_with('\n') {
            bail!(
                "baton's status was cut short after {} bytes (an overloaded daemon?)",
                line.len()
            );
        }
        let mut answer: serde_json::Value =
            serde_json::from_str(&line).context("baton's status is not JSON")?;
        if answer.get("ok") != Some(&serde_json::Value::Bool(true)) {
            bail!("baton refused the status request: {line}");
        }
        Ok(answer
            .get_mut("status")
            .map(serde_json::Value::take)
            .unwrap_or_default())
    }

    /// Transitions counted so far over every instance: baton's status counters, keepalived's
    /// "Entering ... STATE" log lines.
    pub fn transitions(&self) -> Result<u64> {
        match self.kind {
            Kind::Baton => Ok(baton_transitions(&self.status()?)),
            Kind::Keepalived => Ok(keepalived_transitions(&self.log()?)),
        }
    }
}

/// Sum of every instance's transition counters in a baton status.
pub fn baton_transitions(status: &serde_json::Value) -> u64 {
    let Some(instances) = status.get("instances").and_then(|v| v.as_array()) else {
        return 0;
    };
    instances
        .iter()
        .filter_map(|i| i.pointer("/counters/transitions")?.as_object())
        .flat_map(|t| t.values())
        .filter_map(serde_json::Value::as_u64)
        .sum()
}

/// keepalived's transition log lines: "(VI_1) Entering MASTER STATE", "... BACKUP STATE",
/// "... FAULT STATE" (and lower-case "entering FAULT state").
pub fn keepalived_transitions(log: &str) -> u64 {
    log.lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains(") entering ") && l.contains(" state")
        })
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_lines_are_counted() {
        let log = "Wed: (VI_1) Entering BACKUP STATE (init)\n\
                   Wed: (VI_1) Receive advertisement timeout\n\
                   Wed: (VI_1) Entering MASTER STATE\n\
                   Wed: (VI_2) entering FAULT state (tracked process chk_nginx quorum not achieved)\n\
                   Wed: (VI_1) setting VIPs.\n";
        assert_eq!(keepalived_transitions(log), 3);
    }

    #[test]
    fn baton_counters_are_summed() {
        let status = serde_json::json!({"instances": [
            {"state": "Master", "counters": {"transitions": {"master": 1, "backup": 1, "fault": 0, "stop": 0}}},
            {"state": "Backup", "counters": {"transitions": {"master": 0, "backup": 2, "fault": 1, "stop": 0}}},
        ]});
        assert_eq!(baton_transitions(&status), 5);
    }
}
