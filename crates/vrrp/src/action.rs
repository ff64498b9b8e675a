//! What the state machines ask the daemon to do. The daemon carries actions out in order
//! and blindly: every protocol decision has already been made.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use baton_conf::{Command, VirtualAddress, VirtualRoute, VirtualRule};
use baton_wire::ChecksumForm;
use serde::Serialize;

use crate::instance::State;
use crate::time::Instant;

/// Index of an instance inside its [`crate::Node`]. Stable until the next reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct InstanceId(pub u32);

impl InstanceId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where one advert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The VRRP multicast group (or `mcast_dst_ip`), TTL / hop limit 255.
    Multicast(IpAddr),
    /// One unicast peer (one action per peer).
    Unicast(IpAddr),
}

impl Destination {
    pub fn addr(&self) -> IpAddr {
        match self {
            Destination::Multicast(a) | Destination::Unicast(a) => *a,
        }
    }
}

/// Send one advertisement. Build it with [`crate::Node::advert`]`(instance, priority)`,
/// which borrows the instance's pre-encoded address list, and emit it with
/// `AdvertRepr::emit(buf, src, dst.addr(), checksum)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendAdvert {
    pub instance: InstanceId,
    pub priority: u8,
    pub src: IpAddr,
    pub dst: Destination,
    /// TTL / hop limit to send with.
    pub ttl: u8,
    pub checksum: ChecksumForm,
    /// The first (or only) copy of this advert; later unicast copies carry the same
    /// `auth_hmac` sequence.
    pub first_copy: bool,
}

/// Which address list an address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AddressKind {
    /// `virtual_ipaddress`: carried in adverts.
    Virtual,
    /// `virtual_ipaddress_excluded`: moved like VIPs, not advertised.
    Excluded,
}

/// Whose notification it is: a `vrrp_instance` or a `vrrp_sync_group`. Commands of one
/// target run one after the other, in the order the core asks for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyTarget {
    pub group: bool,
    pub name: Arc<str>,
}

/// Arguments keepalived appends to a generic `notify` script:
/// `INSTANCE|GROUP name MASTER|BACKUP|FAULT|STOP priority`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyArgs {
    pub group: bool,
    pub name: Arc<str>,
    pub state: NotifyState,
    pub priority: u8,
}

impl NotifyArgs {
    /// The four words to append to the command's argv.
    pub fn words(&self) -> [String; 4] {
        [
            if self.group { "GROUP" } else { "INSTANCE" }.to_string(),
            self.name.to_string(),
            self.state.to_string(),
            self.priority.to_string(),
        ]
    }
}

/// The state word of notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
    Deleted,
    MasterRxLowerPri,
    MasterPriority,
    BackupPriority,
}

impl fmt::Display for NotifyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
            NotifyState::Deleted => "DELETED",
            NotifyState::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            NotifyState::MasterPriority => "MASTER_PRIORITY",
            NotifyState::BackupPriority => "BACKUP_PRIORITY",
        })
    }
}

impl NotifyState {
    pub(crate) fn of(state: State) -> NotifyState {
        match state {
            State::Master => NotifyState::Master,
            State::Backup | State::Initialize => NotifyState::Backup,
            State::Fault => NotifyState::Fault,
            State::Stopped => NotifyState::Stop,
        }
    }
}

/// A line for the notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`), keepalived's format:
/// `INSTANCE "VI_1" MASTER 200` (newline not included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoLine {
    pub group: bool,
    pub name: Arc<str>,
    pub state: NotifyState,
    pub priority: u8,
}

impl fmt::Display for FifoLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.group { "GROUP" } else { "INSTANCE" };
        write!(
            f,
            "{kind} \"{}\" {} {}",
            self.name, self.state, self.priority
        )
    }
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// A log line as data, worded like keepalived's; the daemon hands it to tracing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    /// The instance (or group) name, printed as keepalived's `(VI_1)` prefix.
    pub scope: Option<Arc<str>>,
    pub text: LogText,
    /// Set when the line reports what a peer sent: anyone on the segment can send adverts
    /// under any source address, so the daemon limits how many such lines of each kind it
    /// writes.
    pub peer: Option<PeerLog>,
}

/// What a line about a peer reports, and which peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLog {
    pub kind: PeerLogKind,
    pub source: IpAddr,
}

/// The kinds of line about peers, each limited on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerLogKind {
    /// An advert with a lower priority than ours (either state).
    LowerPriority,
    /// An advert dropped for a configuration difference, or with the other checksum form.
    Mismatch,
    /// An advert with our priority and our own address, or a second address owner.
    Conflict,
    /// An advert for a VRID we do not run (`log_unknown_vrids`).
    UnknownVrid,
    /// A datagram that is not a valid advert (the daemon's own line, before the core).
    Malformed,
}

impl PeerLogKind {
    pub const ALL: [PeerLogKind; 5] = [
        PeerLogKind::LowerPriority,
        PeerLogKind::Mismatch,
        PeerLogKind::Conflict,
        PeerLogKind::UnknownVrid,
        PeerLogKind::Malformed,
    ];

    /// What the lines say, for the summary of those left out.
    pub fn describe(self) -> &'static str {
        match self {
            PeerLogKind::LowerPriority => "lower priority advert",
            PeerLogKind::Mismatch => "configuration mismatch",
            PeerLogKind::Conflict => "address conflict",
            PeerLogKind::UnknownVrid => "unknown VRID",
            PeerLogKind::Malformed => "dropped datagram",
        }
    }
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scope) = &self.scope {
            write!(f, "({scope}) ")?;
        }
        write!(f, "{}", self.text)
    }
}

/// The text of a log line. Fixed messages cost no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogText {
    Static(&'static str),
    Owned(String),
}

impl fmt::Display for LogText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogText::Static(s) => f.write_str(s),
            LogText::Owned(s) => f.write_str(s),
        }
    }
}

/// One thing to do. Addresses, routes, rules and commands are boxed: the daemon keeps a
/// batch's capacity of actions between batches (a master's steady batch is an advert per
/// instance), so every byte of the largest variant is kept once per instance, while the
/// boxed ones come only with state changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    SendAdvert(SendAdvert),
    AddAddress {
        instance: InstanceId,
        interface: Arc<str>,
        kind: AddressKind,
        address: Box<VirtualAddress>,
    },
    /// Remove an address; a missing address is not an error (startup cleans up blindly).
    RemoveAddress {
        instance: InstanceId,
        interface: Arc<str>,
        kind: AddressKind,
        address: Box<VirtualAddress>,
    },
    AddRoute {
        instance: InstanceId,
        interface: Arc<str>,
        route: Box<VirtualRoute>,
    },
    RemoveRoute {
        instance: InstanceId,
        interface: Arc<str>,
        route: Box<VirtualRoute>,
    },
    AddRule {
        instance: InstanceId,
        rule: Box<VirtualRule>,
    },
    RemoveRule {
        instance: InstanceId,
        rule: Box<VirtualRule>,
    },
    /// `no_accept` (RFC 5798 Accept_Mode false): while MASTER and not the owner, drop traffic
    /// addressed to the VIPs (keepalived does it with nftables); `false` removes the filter.
    BlockVipTraffic {
        instance: InstanceId,
        block: bool,
    },
    /// Send `repeat` gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) for every VIP and
    /// excluded VIP of the instance (see [`crate::Node::announce_addresses`]), at least
    /// `spacing` apart per interface (`vrrp_garp_interval` / `vrrp_gna_interval`).
    Announce {
        instance: InstanceId,
        repeat: u32,
        spacing_arp: Duration,
        spacing_na: Duration,
    },
    /// Run a notify command of `target`'s, after the ones asked for it before; with `args`,
    /// append them (`notify` scripts). The core has decided which commands a notification
    /// runs and in which order (keepalived's: the state's own, then the generic one); the
    /// daemon runs them as given.
    RunNotify {
        target: NotifyTarget,
        command: Box<Command>,
        args: Option<NotifyArgs>,
    },
    /// Write a line to the notify FIFOs.
    WriteFifo(FifoLine),
    Log(LogLine),
    /// An instance changed state (for metrics, status streaming and the simulator; the
    /// daemon need not act on it).
    StateChanged {
        instance: InstanceId,
        from: State,
        to: State,
    },
}

/// Why an instance changed state, for status and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub at: Instant,
    pub from: State,
    pub to: State,
    /// Borrowed for the core's fixed reasons, owned for a fault's: every instance keeps
    /// its last change, and the daemon's history keeps a few more.
    pub reason: std::borrow::Cow<'static, str>,
}
