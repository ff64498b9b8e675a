//! What the scenarios need from any VRRP router in the lab, whoever implements it: baton,
//! keepalived or FRR's vrrpd. Each answers "what state are you in" from its own mouth
//! (`baton status --json`, keepalived's log, `show vrrp json`) and "do you hold the VIP" from
//! the kernel (`ip addr`).

use std::fmt;

use anyhow::{Context, Result, bail};
use baton_lab::{Proc, Signal, secs};

/// A router's VRRP state as it reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Master,
    Backup,
    /// Initialising, faulted, or not running; the text says which.
    Other(String),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Master => f.write_str("MASTER"),
            Role::Backup => f.write_str("BACKUP"),
            Role::Other(s) => f.write_str(s),
        }
    }
}

/// One VRRP speaker on a lab host.
pub trait Router {
    /// Who it is, for messages and the matrix: "baton on r1".
    fn label(&self) -> String;
    /// Its configured priority.
    fn priority(&self) -> u8;
    /// Start the daemon (again, after a crash or a stop).
    fn start(&mut self) -> Result<()>;
    /// Crash it: SIGKILL, no goodbye advert, VIPs left where they are.
    fn crash(&mut self) -> Result<()>;
    /// Stop it the polite way (SIGTERM): a master sends priority 0 and drops its VIPs.
    fn stop(&mut self) -> Result<()>;
    /// The state it reports.
    fn role(&self) -> Result<Role>;
    /// Whether the kernel of its host carries the VIP on the interface it serves.
    fn holds_vip(&self) -> Result<bool>;
    /// Lines of its log that complain about the adverts it received.
    fn complaints(&self) -> Result<Vec<String>>;
    /// Its whole log so far (every run), for a failure report.
    fn log(&self) -> String;
}

/// "MASTER, holds VIP" and the like, for timeout messages.
pub fn describe(r: &dyn Router) -> String {
    let role = r
        .role()
        .map_or_else(|e| format!("? ({e})"), |r| r.to_string());
    let vip = match r.holds_vip() {
        Ok(true) => "holds the VIP",
        Ok(false) => "does not hold the VIP",
        Err(_) => "VIP unknown",
    };
    format!("{} is {role} and {vip}", r.label())
}

/// The last lines of a log, for failure messages that should not drown the terminal.
pub fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A power cut for a single-process router: SIGKILL `p` (the program `what`) and reap it.
pub fn crash_process(p: &Proc, what: &str) -> Result<()> {
    p.kill()?;
    p.wait_timeout(secs(5))?
        .with_context(|| format!("{what} survived SIGKILL"))?;
    Ok(())
}

/// A clean stop for a single-process router: SIGTERM `p` and wait for it (the priority-0
/// advert and the VIP removal happen in between).
pub fn stop_process(p: &Proc, label: &str) -> Result<()> {
    p.signal(Signal::SIGTERM)?;
    if p.wait_timeout(secs(10))?.is_none() {
        bail!("{label} did not stop within 10 s of SIGTERM");
    }
    Ok(())
}
