//! `baton demo` with keys: break the system and watch it recover.
//!
//! | key | does |
//! |---|---|
//! | `n` | kill nginx on the master (SIGKILL) |
//! | `k` | kill the master's baton (SIGKILL: a crash, no priority-0 advert) |
//! | `f` | drop VRRP on the backup with a firewall rule (the post's bug), or lift the rule |
//! | `r` | restore everything: lift the rule, start what was killed |
//! | `q`, Ctrl-C | quit (the lab is removed) |

use std::time::Duration;

use anyhow::Result;

use super::live::{Live, REFRESH};

/// The key line on screen.
pub const KEYS: &str = "keys: n kill the master's nginx · k kill the master's baton · f drop VRRP on the backup (again: lift) · r restore · q quit";

/// Run until asked to stop (the error from [`Live::pause`]).
pub fn run(live: &mut Live, rate: u32, timeout: Duration) -> Result<()> {
    live.mode = "interactive".into();
    if live.term.keys {
        live.keys = Some(KEYS.into());
    } else {
        live.note(
            "no terminal to read keys from: watching only (Ctrl-C or SIGTERM ends the demo)".into(),
        );
    }
    // Requests start once the VIP is up: before, every one would fail.
    let limit = live.timers.keepalived_startup().time + Duration::from_secs(3);
    live.wait_for(limit, REFRESH, |l| {
        l.vip.holders().contains(&true).then_some(())
    })?;
    live.start_client(rate, timeout)?;
    loop {
        match live.pause(REFRESH)? {
            Some(b'n') => kill_nginx(live)?,
            Some(b'k') => kill_baton(live)?,
            Some(b'f') => firewall(live)?,
            Some(b'r') => restore(live)?,
            _ => {}
        }
    }
}

/// The master: the load balancer whose daemon says MASTER and which holds the VIP (lb1
/// when both do).
fn master(live: &mut Live) -> Option<usize> {
    live.poll_nodes();
    let holders = live.vip.holders();
    live.masters().into_iter().find(|&lb| holders[lb])
}

fn kill_nginx(live: &mut Live) -> Result<()> {
    let Some(m) = master(live) else {
        live.note("no master to kill nginx on".into());
        return Ok(());
    };
    let name = live.sys.lbs[m].name;
    live.act(format!("kill nginx on {name} (SIGKILL)"));
    let n = live.sys.kill_proxy(m)?;
    if n == 0 {
        live.note(format!("nginx was not running on {name}"));
    }
    Ok(())
}

fn kill_baton(live: &mut Live) -> Result<()> {
    let Some(m) = master(live) else {
        live.note("no master whose baton to kill".into());
        return Ok(());
    };
    let name = live.sys.lbs[m].name;
    live.act(format!("SIGKILL {name}'s baton"));
    live.sys.kill_baton(m)?;
    Ok(())
}

fn firewall(live: &mut Live) -> Result<()> {
    if let Some(dropped) = live.sys.restore_vrrp()? {
        live.act(format!("firewall rule removed ({dropped} adverts dropped)"));
        return Ok(());
    }
    // The post's firewall was on the backup: it stopped hearing the master.
    let backup = match master(live) {
        Some(m) => 1 - m,
        None => 1,
    };
    let name = live.sys.lbs[backup].name;
    live.act(format!("firewall on {name} drops VRRP (IP protocol 112)"));
    live.sys.drop_vrrp(backup)?;
    Ok(())
}

fn restore(live: &mut Live) -> Result<()> {
    live.act("restore everything".into());
    if let Some(dropped) = live.sys.restore_vrrp()? {
        live.note(format!("firewall rule removed ({dropped} adverts dropped)"));
    }
    for lb in 0..2 {
        let name = live.sys.lbs[lb].name;
        if !live.sys.proxy_running(lb) {
            live.sys.start_proxy(lb)?;
            live.note(format!("nginx started on {name}"));
        }
        if !live.sys.baton_running(lb) {
            live.sys.start_baton(lb)?;
            live.note(format!("baton started on {name}"));
        }
    }
    Ok(())
}
