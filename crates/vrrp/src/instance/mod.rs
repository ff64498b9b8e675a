//! One VRRP instance: RFC 5798 §6 / RFC 3768 §6 with keepalived's rules. The node owns the
//! instances and calls into them; an instance never looks at another one (sync groups are
//! the node's business).

mod params;
mod receive;
mod transitions;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::action::{
    Action, InstanceId, Level, LogLine, LogText, PeerLog, PeerLogKind, Transition,
};
use crate::counters::{Counters, Tally};
use crate::mismatch::Mismatches;
use crate::time::Instant;
use crate::timers::{fast_takeover_delay, master_down_interval, skew_time};

pub(crate) use params::{Params, Shared};
pub use transitions::notify_actions;

/// An instance's state (RFC 5798 §6.4 plus keepalived's FAULT and STOP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
    Stopped,
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stopped => "STOP",
        })
    }
}

/// Why an instance is in FAULT. Several may hold at once; the instance leaves FAULT when
/// none is left.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum FaultReason {
    /// The instance's own interface is down (unless `dont_track_primary`).
    InterfaceDown(Arc<str>),
    /// No address of the instance's family on its interface to send from.
    NoSourceAddress,
    /// `track_src_ip`: the configured source address is not on the interface.
    SourceAddressMissing(IpAddr),
    /// A tracker with weight 0 (or a file value ≤ −254) says so.
    Tracker { kind: &'static str, name: Arc<str> },
    /// A tracked script has not reported yet (keepalived's init state): no notify.
    ScriptInit(Arc<str>),
    /// Another member of the instance's sync group is in FAULT.
    SyncGroup(Arc<str>),
    /// `unicast_fault_no_peer` with no peer.
    NoUnicastPeer,
}

impl core::fmt::Display for FaultReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FaultReason::InterfaceDown(i) => write!(f, "interface {i} down"),
            FaultReason::NoSourceAddress => f.write_str("no source address"),
            FaultReason::SourceAddressMissing(a) => write!(f, "source address {a} missing"),
            FaultReason::Tracker { kind, name } => write!(f, "{kind} {name} failed"),
            FaultReason::ScriptInit(n) => write!(f, "script {n} not run yet"),
            FaultReason::SyncGroup(m) => write!(f, "sync group member {m} in fault"),
            FaultReason::NoUnicastPeer => f.write_str("no unicast peer"),
        }
    }
}

/// What an instance wants the node to do next (sync groups may overrule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Nothing,
    /// The master down timer expired (or a preemption is due): become MASTER.
    WantsMaster,
    /// Left MASTER for BACKUP because a better master spoke.
    LeftMaster,
    /// As MASTER, heard a lower priority: the sync group's other masters refresh their
    /// neighbours' caches too.
    HeardLowerPriority,
}

/// One VRRP instance.
#[derive(Debug, Clone)]
pub struct Instance {
    pub(crate) id: InstanceId,
    pub(crate) p: Params,
    pub(crate) state: State,
    /// Effective priority.
    pub(crate) prio: u8,
    /// An owner that met another owner with a higher address runs at 254 until it is the
    /// only master again.
    pub(crate) demoted: bool,
    pub(crate) faults: Vec<FaultReason>,
    /// Master_Adver_Interval as the advert field carries it (seconds in v2, centiseconds in
    /// v3): two bytes where the interval itself took sixteen.
    pub(crate) master_adver_field: u16,
    /// BACKUP: master down timer; MASTER: next advert.
    pub(crate) timer: Option<Instant>,
    /// keepalived's preempt_time: end of the preempt_delay window.
    pub(crate) preempt_until: Option<Instant>,
    /// The down timer expired but the sync group holds this instance in BACKUP.
    pub(crate) want_master: bool,
    pub(crate) master: Option<(IpAddr, u8)>,
    pub(crate) src: Option<IpAddr>,
    pub(crate) garp_second: Option<Instant>,
    pub(crate) garp_lower_second: Option<Instant>,
    pub(crate) garp_refresh: Option<Instant>,
    /// The earliest of the three GARP timers, kept so `next_deadline` stays cheap on the
    /// per-advert path.
    pub(crate) garp_next: Option<Instant>,
    pub(crate) counters: Tally,
    pub(crate) mismatches: Mismatches,
    pub(crate) last: Option<Transition>,
    /// When the last advert from another router was accepted in BACKUP: the last sign of
    /// the master this instance followed, from which a takeover is timed.
    pub(crate) heard: Option<Instant>,
    /// `auth_hmac` sequence and replay marks, made on the first advert signed or checked.
    /// Boxed like `dual`: a daemon may run tens of thousands of instances, few with
    /// auth_hmac or a second master.
    pub(crate) hmac: Option<Box<crate::auth_hmac::HmacState>>,
    /// As MASTER: a lower-priority master we keep hearing (split brain).
    pub(crate) dual: Option<Box<crate::split_brain::DualMaster>>,
}

impl Instance {
    pub(crate) fn new(id: InstanceId, p: Params) -> Instance {
        let prio = p.base_priority;
        let interval = p.advert_field;
        Instance {
            id,
            p,
            state: State::Initialize,
            prio,
            demoted: false,
            faults: Vec::new(),
            master_adver_field: interval,
            timer: None,
            preempt_until: None,
            want_master: false,
            master: None,
            src: None,
            garp_second: None,
            garp_lower_second: None,
            garp_refresh: None,
            garp_next: None,
            counters: Tally::default(),
            mismatches: Mismatches::default(),
            last: None,
            heard: None,
            hmac: None,
            dual: None,
        }
    }

    pub fn id(&self) -> InstanceId {
        self.id
    }

    pub fn name(&self) -> &str {
        self.p.name()
    }

    pub fn vrid(&self) -> u8 {
        self.p.vrid
    }

    pub fn family(&self) -> baton_wire::Family {
        self.p.family
    }

    pub fn interface(&self) -> &str {
        &self.p.interface
    }

    /// Where the instance's adverts are sent and received: its VMAC (keepalived's
    /// `use_vmac`), unless `vmac_xmit_base`, else [`Instance::interface`].
    pub fn advert_interface(&self) -> &str {
        &self.p.advert_interface
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn effective_priority(&self) -> u8 {
        self.prio
    }

    pub fn base_priority(&self) -> u8 {
        self.p.base_priority
    }

    /// The master as last heard (or ourselves when MASTER): address and priority.
    pub fn master(&self) -> Option<(IpAddr, u8)> {
        self.master
    }

    /// The address adverts are sent from.
    pub fn source(&self) -> Option<IpAddr> {
        self.src
    }

    pub fn counters(&self) -> Counters {
        self.counters.counters()
    }

    pub fn faults(&self) -> &[FaultReason] {
        &self.faults
    }

    /// The peers' configuration differences listed now, oldest first.
    pub fn mismatches(&self) -> Vec<crate::mismatch::Mismatch> {
        self.mismatches.list()
    }

    /// Another master beside us that does not hear us, once the evidence is in.
    pub fn split_brain(&self) -> Option<crate::split_brain::SplitBrain> {
        self.dual
            .as_ref()
            .filter(|d| d.reported)
            .map(|d| crate::split_brain::SplitBrain::of(d, self.p.unicast()))
    }

    pub fn last_transition(&self) -> Option<&Transition> {
        self.last.as_ref()
    }

    /// When this instance, in BACKUP, last accepted an advert from another router (the
    /// master it followed, or one advertising priority 0 or below it before a takeover).
    pub fn master_heard_at(&self) -> Option<Instant> {
        self.heard
    }

    pub fn unicast_peers(&self) -> &[baton_conf::UnicastPeer] {
        self.p.unicast_peers()
    }

    /// Master_Adver_Interval: ours, or the master's as learned from its adverts (v3).
    pub fn master_adver_interval(&self) -> Duration {
        baton_wire::advert::interval_duration(self.p.version, self.master_adver_field)
    }

    /// Skew_Time at the current effective priority.
    pub fn skew_time(&self) -> Duration {
        skew_time(self.p.version, self.prio, self.master_adver_interval())
    }

    /// Master_Down_Interval at the current effective priority and master interval. Worked
    /// out for every accepted advert: a few integer operations, cheaper than the 40 bytes an
    /// instance would spend remembering it.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.p.version,
            self.prio,
            self.master_adver_interval(),
            self.p.down_timer_adverts,
        )
    }

    /// The delay before taking over after a priority-0 advert, or after seeing a master
    /// advertise below us: Skew_Time, or the fast-handover delay.
    pub(crate) fn takeover_delay(&self) -> Duration {
        if self.p.fast {
            fast_takeover_delay(self.prio)
        } else {
            self.skew_time()
        }
    }

    /// The earliest time this instance needs [`crate::Input::Deadline`].
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.timer, self.garp_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Call after changing any GARP timer.
    pub(crate) fn garp_changed(&mut self) {
        self.garp_next = [self.garp_second, self.garp_lower_second, self.garp_refresh]
            .into_iter()
            .flatten()
            .min();
    }

    pub(crate) fn log(&self, out: &mut Vec<Action>, level: Level, text: LogText) {
        out.push(Action::Log(LogLine {
            level,
            scope: Some(self.p.name_arc()),
            text,
            peer: None,
        }));
    }

    /// A line about what `source` sent (see [`crate::PeerLog`]).
    pub(crate) fn log_peer(
        &self,
        out: &mut Vec<Action>,
        level: Level,
        kind: PeerLogKind,
        source: IpAddr,
        text: LogText,
    ) {
        out.push(Action::Log(LogLine {
            level,
            scope: Some(self.p.name_arc()),
            text,
            peer: Some(PeerLog { kind, source }),
        }));
    }

    pub(crate) fn holds_vips(&self) -> bool {
        self.state == State::Master
    }
}
