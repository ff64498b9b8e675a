//! The snapshot behind `baton status`: serialisable, detached from the node.

use std::net::IpAddr;

use serde::Serialize;

use crate::action::Transition;
use crate::counters::Counters;
use crate::instance::{Instance, State};
use crate::mismatch::Mismatch;
use crate::node::Node;
use crate::node::trackers::TrackerStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MasterStatus {
    pub address: IpAddr,
    pub priority: u8,
}

/// One instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    pub name: String,
    pub vrid: u8,
    pub family: String,
    pub version: String,
    pub interface: String,
    pub state: State,
    pub base_priority: u8,
    pub effective_priority: u8,
    pub source: Option<IpAddr>,
    pub master: Option<MasterStatus>,
    /// Addresses held (VIPs and excluded VIPs) while MASTER.
    pub vips_held: Vec<IpAddr>,
    pub advert_interval_ms: u64,
    pub master_adver_interval_ms: u64,
    pub last_transition: Option<Transition>,
    pub faults: Vec<String>,
    pub counters: Counters,
    /// At most [`crate::mismatch::CAPACITY`]; the table's forgetting is counted below.
    pub mismatches: Vec<Mismatch>,
    /// Entries dropped to make room while the table was full (forged sources, usually).
    pub mismatches_evicted: u64,
    /// Entries forgotten after [`crate::mismatch::EXPIRY`] without an advert.
    pub mismatches_expired: u64,
    /// A lower-priority master beside us that does not hear us.
    pub split_brain: Option<crate::split_brain::SplitBrain>,
}

impl InstanceStatus {
    pub fn of(i: &Instance) -> InstanceStatus {
        let p = &i.p;
        InstanceStatus {
            name: p.name().to_string(),
            vrid: p.vrid,
            family: p.family.to_string(),
            version: p.version.to_string(),
            interface: p.interface.to_string(),
            state: i.state,
            base_priority: p.base_priority,
            effective_priority: i.prio,
            source: i.src,
            master: i
                .master
                .map(|(address, priority)| MasterStatus { address, priority }),
            vips_held: if i.holds_vips() {
                p.vips()
                    .iter()
                    .chain(p.excluded().iter())
                    .map(|a| a.addr)
                    .collect()
            } else {
                Vec::new()
            },
            advert_interval_ms: p.advert_int().as_millis() as u64,
            master_adver_interval_ms: i.master_adver_interval().as_millis() as u64,
            last_transition: i.last.clone(),
            faults: i.faults.iter().map(|f| f.to_string()).collect(),
            counters: i.counters.counters(),
            mismatches: i.mismatches.list(),
            mismatches_evicted: i.mismatches.evicted(),
            mismatches_expired: i.mismatches.expired(),
            split_brain: i.split_brain(),
        }
    }
}

/// One sync group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupStatus {
    pub name: String,
    pub members: Vec<String>,
    pub state: Option<State>,
}

/// The whole node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub instances: Vec<InstanceStatus>,
    pub groups: Vec<GroupStatus>,
    pub trackers: Vec<TrackerStatus>,
    pub unknown_vrid_adverts: u64,
}

impl Node {
    /// A snapshot for `baton status`.
    pub fn status(&self) -> NodeStatus {
        NodeStatus {
            instances: self.instances.iter().map(InstanceStatus::of).collect(),
            groups: self
                .groups
                .iter()
                .map(|g| GroupStatus {
                    name: g.name.to_string(),
                    members: g
                        .members
                        .iter()
                        .map(|m| self.instances[m.index()].name().to_string())
                        .collect(),
                    state: g.notified,
                })
                .collect(),
            trackers: self.trackers.status(),
            unknown_vrid_adverts: self.unknown_vrid_adverts(),
        }
    }
}
