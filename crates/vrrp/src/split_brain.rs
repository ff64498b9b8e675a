//! Two masters at once, seen from the side that can tell: a master that keeps hearing a
//! lower-priority master knows that router does not hear it (a router that heard us would
//! have backed off after our first answer). The seed's split brain was exactly this: a
//! firewall that dropped VRRP. The master names the deaf peer in its log and in `baton
//! status`, and says when it hears us again. The other side hears nothing and cannot tell.
//!
//! Re-announcing (the GARP/NA burst after a lower-priority advert, keepalived's
//! `garp_lower_prio_repeat`) and `notify_master_rx_lower_pri` are the receive path's
//! (`instance/receive.rs`); this module only keeps the evidence.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::time::Instant;

/// Adverts from the same lower-priority master, each answered by ours, before it counts as
/// deaf to us: the first can cross ours on the wire, the second had our answer in hand.
pub(crate) const EVIDENCE: u64 = 3;

/// The stretch of adverts from one lower-priority master while we are master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DualMaster {
    pub peer: IpAddr,
    pub priority: u8,
    pub since: Instant,
    pub last: Instant,
    pub adverts: u64,
    pub reported: bool,
}

impl DualMaster {
    pub fn new(now: Instant, peer: IpAddr, priority: u8) -> DualMaster {
        DualMaster {
            peer,
            priority,
            since: now,
            last: now,
            adverts: 1,
            reported: false,
        }
    }

    /// How long it has advertised without hearing us.
    pub fn deaf_for(&self) -> Duration {
        self.last.saturating_duration_since(self.since)
    }
}

/// What `baton status` shows while another router is master beside us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitBrain {
    /// The other master.
    pub peer: IpAddr,
    pub peer_priority: u8,
    /// From its first advert of this stretch to its latest: how long it has not heard us.
    pub not_heard_for_ms: u64,
    pub adverts: u64,
    /// The sentence the log says.
    pub explanation: String,
}

/// The log's and status's sentence: who cannot hear whom, and the likely cause.
pub(crate) fn explain(d: &DualMaster, unicast: bool) -> String {
    let cause = if unicast {
        "its firewall drops VRRP from us, or we are not among its unicast_peer"
    } else {
        "its firewall or its multicast membership drops VRRP"
    };
    format!(
        "{} sends adverts but has not heard ours for {} s: {cause} (baton check --explain)",
        d.peer,
        d.deaf_for().as_secs()
    )
}

impl SplitBrain {
    pub(crate) fn of(d: &DualMaster, unicast: bool) -> SplitBrain {
        SplitBrain {
            peer: d.peer,
            peer_priority: d.priority,
            not_heard_for_ms: d.deaf_for().as_millis() as u64,
            adverts: d.adverts,
            explanation: explain(d, unicast),
        }
    }
}
