//! The role sequence every failover case plays, whoever the two routers are:
//!
//! 1. both start → the higher priority (`a`) is MASTER with the VIP, `b` BACKUP without it;
//! 2. `a` crashes (SIGKILL) → `b` takes over after Master_Down_Interval;
//! 3. `a` restarts → it preempts back;
//! 4. `a` stops (SIGTERM: a priority-0 advert) → `b` takes over at once;
//! 5. `a` restarts → it preempts back again.
//!
//! Every step waits on what the routers themselves report and what the kernel shows, with a
//! deadline derived from the protocol's timers.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::router::{Role, Router, describe, tail};
use crate::topology::{Version, master_down_interval};

/// What happened, step by step, with how long each took (polled, so coarse).
#[derive(Debug, Default)]
pub struct Journal {
    pub steps: Vec<(String, Duration)>,
}

impl Journal {
    pub fn render(&self) -> String {
        self.steps
            .iter()
            .map(|(s, d)| format!("{s} ({:.2} s)", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Poll until `a` is MASTER holding the VIP and `b` is BACKUP without it (or `b` is down).
pub fn wait_roles(
    what: &str,
    master: &dyn Router,
    backup: Option<&dyn Router>,
    timeout: Duration,
) -> Result<Duration> {
    let start = Instant::now();
    let mut last_error = None;
    loop {
        let ok = (|| -> Result<bool> {
            if master.role()? != Role::Master || !master.holds_vip()? {
                return Ok(false);
            }
            match backup {
                Some(b) => Ok(b.role()? == Role::Backup && !b.holds_vip()?),
                None => Ok(true),
            }
        })();
        match ok {
            Ok(true) => return Ok(start.elapsed()),
            Ok(false) => {}
            Err(e) => last_error = Some(e),
        }
        if start.elapsed() > timeout {
            let mut msg = format!(
                "{what}: not reached within {:.1} s: {}",
                timeout.as_secs_f64(),
                describe(master)
            );
            if let Some(b) = backup {
                msg.push_str(&format!("; {}", describe(b)));
            }
            if let Some(e) = last_error {
                msg.push_str(&format!(" (last error: {e:#})"));
            }
            msg.push_str(&format!(
                "\n--- {} log ---\n{}",
                master.label(),
                tail(&master.log(), 25)
            ));
            if let Some(b) = backup {
                msg.push_str(&format!(
                    "\n--- {} log ---\n{}",
                    b.label(),
                    tail(&b.log(), 25)
                ));
            }
            bail!(msg);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Startup and preemption take up to two Master_Down_Intervals (one to wake up as
/// BACKUP, one for the lower router to notice), plus a margin for a loaded machine.
fn election_timeout(version: Version, a: &dyn Router, b: &dyn Router) -> Duration {
    master_down_interval(version, a.priority())
        + master_down_interval(version, b.priority()) * 2
        + Duration::from_secs(8)
}

/// Play the sequence with `a` (higher priority) and `b`.
pub fn failover(a: &mut dyn Router, b: &mut dyn Router, version: Version) -> Result<Journal> {
    if a.priority() <= b.priority() {
        bail!("the scenario wants `a` above `b`");
    }
    let mut j = Journal::default();
    let elect = election_timeout(version, a, b);
    let takeover = master_down_interval(version, b.priority()) + Duration::from_secs(5);

    b.start()?;
    a.start()?;
    let t = wait_roles("election", a, Some(b), elect)?;
    j.steps.push((format!("{} MASTER", a.label()), t));

    a.crash()?;
    let t = wait_roles("takeover after the master crashed", b, None, takeover)?;
    j.steps.push((format!("SIGKILL → {} MASTER", b.label()), t));

    a.start()?;
    let t = wait_roles("preemption after the restart", a, Some(b), elect)?;
    j.steps.push((format!("restart → {} MASTER", a.label()), t));

    a.stop()?;
    let t = wait_roles("handover on priority 0", b, None, takeover)?;
    if a.holds_vip()? {
        bail!("{} kept the VIP after SIGTERM", a.label());
    }
    j.steps.push((format!("SIGTERM → {} MASTER", b.label()), t));

    a.start()?;
    let t = wait_roles("preemption after the second restart", a, Some(b), elect)?;
    j.steps.push((format!("restart → {} MASTER", a.label()), t));
    Ok(j)
}
