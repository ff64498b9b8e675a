//! The forwarding table the data plane is asked to program: plain values, no configuration
//! semantics (the daemon translates the LVS core's desired table into these).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Every virtual service that should be forwarding, as a whole: what is not here is removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardingTable {
    pub services: Vec<VirtualService>,
}

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// Bytes of an address.
    pub(crate) fn addr_len(self) -> u32 {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }
}

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// What traffic a virtual service takes: a virtual address, port and protocol, or every
/// packet carrying a firewall mark (set by the administrator's own rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Frontend {
    /// `virtual_server IP PORT` with `protocol`. Port 0: every port (persistent services).
    Address {
        addr: SocketAddr,
        protocol: Protocol,
    },
    /// `virtual_server fwmark N` for one address family.
    Fwmark { mark: u32, family: Family },
}

impl Frontend {
    pub fn family(&self) -> Family {
        match self {
            Frontend::Address { addr, .. } => Family::of(&addr.ip()),
            Frontend::Fwmark { family, .. } => *family,
        }
    }
}

impl fmt::Display for Frontend {
    /// keepalived's way of naming a service: `[10.0.0.1]:tcp:80`, `FWM 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frontend::Address { addr, protocol } => {
                write!(f, "[{}]:{}:{}", addr.ip(), protocol.name(), addr.port())
            }
            Frontend::Fwmark { mark, family } => {
                let fam = if *family == Family::Ipv4 { "" } else { " IPv6" };
                write!(f, "FWM {mark}{fam}")
            }
        }
    }
}

/// IPVS's schedulers, by their names (`lb_algo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Sh,
    Mh,
    Dh,
    Fo,
    Ovf,
    Sed,
    Nq,
    Twos,
}

impl Scheduler {
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Sh => "sh",
            Scheduler::Mh => "mh",
            Scheduler::Dh => "dh",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Twos => "twos",
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How much of the client's address keeps it on one real server
/// (`persistence_granularity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// An IPv4 netmask (255.255.255.0: a /24 sticks together).
    V4Mask(Ipv4Addr),
    /// An IPv6 prefix length.
    V6Prefix(u8),
}

/// Client affinity (`persistence_timeout`, `persistence_granularity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Persistence {
    pub timeout: Duration,
    /// `None`: the whole address.
    pub granularity: Option<Granularity>,
}

/// How packets reach the real servers (`lb_kind`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Forwarding {
    /// The destination is rewritten to the real server; replies must come back through this
    /// host (the real servers route via it), or with `masquerade` the source is rewritten
    /// to this host's address too, so replies come back whatever the real servers' routes.
    Nat { masquerade: bool },
    /// The frame is sent to the real server's MAC unchanged, out of `interface` (where the
    /// virtual address's traffic arrives); the real servers hold the virtual address on
    /// their loopback and reply to the client directly.
    DirectRouting { interface: String },
    /// IP-in-IP tunnelling: not possible with nftables (see [`crate::lvs::Limitation`]).
    Tunnel { interface: String },
}

/// A real server (or the sorry server) of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RealServer {
    /// Port 0: keep the port the client connected to (firewall-mark and every-port
    /// services).
    pub addr: SocketAddr,
    /// 0: quiescent, gets no new clients (persistent clients and established connections
    /// stay).
    pub weight: u32,
}

/// One virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualService {
    pub frontend: Frontend,
    pub scheduler: Scheduler,
    /// `sh-port` / `mh-port`: hash the client's port with its address.
    pub hash_port: bool,
    /// `ops`: one-packet scheduling for UDP.
    pub one_packet: bool,
    pub persistence: Option<Persistence>,
    pub forwarding: Forwarding,
    pub real_servers: Vec<RealServer>,
    /// Takes every new client while no real server has a weight above 0 (the LVS core
    /// leaves the real servers out, or at weight 0, when quorum is lost).
    pub sorry_server: Option<RealServer>,
}

impl VirtualService {
    /// A service with defaults: rr, NAT without masquerade, no persistence.
    pub fn new(frontend: Frontend) -> VirtualService {
        VirtualService {
            frontend,
            scheduler: Scheduler::Rr,
            hash_port: false,
            one_packet: false,
            persistence: None,
            forwarding: Forwarding::Nat { masquerade: false },
            real_servers: Vec::new(),
            sorry_server: None,
        }
    }
}
