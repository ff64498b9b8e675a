//! What happens to the core.

use std::net::IpAddr;

use baton_conf::{CheckerId, Config};

/// A checker's result, after its own retries (`retry`, `delay_before_retry`) and warmup,
/// which are the checker's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The check passed. For a MISC_CHECK with `misc_dynamic` this is exit status 0: the
    /// real server's configured weight.
    Up,
    /// The check failed (its retries used up).
    Down,
    /// A MISC_CHECK with `misc_dynamic` exited with 2..=255: up, with weight status - 2.
    Weight(u32),
    /// A FILE_CHECK read this number from its file; the core applies the check's weight.
    FileValue(i64),
}

/// One event for the core.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Put the services in the table. Feed FILE_CHECK values (and any verdict known
    /// before start) first: they decide which real servers start failed.
    Start,
    /// A checker's verdict. `reason` says why, for the log ("connection refused").
    Verdict {
        checker: CheckerId,
        verdict: Verdict,
        reason: Option<&'a str>,
    },
    /// A new configuration (SIGHUP): services, real servers and checkers are matched by
    /// keepalived's identities and keep their state; the table changes only where the
    /// configuration did. Checker ids change: look them up again.
    Reload(&'a Config),
    /// A VRRP instance became master (`true`) or left master: its VIPs come or go, which
    /// suspends or resumes the checkers of `ha_suspend` services on those addresses.
    VrrpState { instance: &'a str, master: bool },
    /// An address was added to (or removed from) an interface of this host, for
    /// `ha_suspend` services on addresses no VRRP instance owns.
    LocalAddress { address: IpAddr, present: bool },
    /// Stop: take every service out of the table; with `omega`, run notify_down and
    /// quorum_down as keepalived does.
    Shutdown,
}
