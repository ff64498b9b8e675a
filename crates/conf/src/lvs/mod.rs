//! The virtual-server (LVS) half of a configuration: `virtual_server_group`,
//! `virtual_server`, `real_server`, their health checkers and the LVS keywords of
//! `global_defs`, with keepalived's defaults applied and every value a real server inherits
//! from its virtual server (and a checker from its real server) already folded in, so
//! consumers never walk up the tree for a setting.
//!
//! The identifiers ([`VirtualServerId`], [`RealServerId`], [`CheckerId`]) are how the
//! daemon, the load-balancing core and the checkers name one thing: positions in one loaded
//! configuration. Across a reload they are matched by keepalived's rules instead
//! ([`VirtualServer::key`], [`RealServer::address`]).

mod checker;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The address family of a virtual server or group entry (baton-wire's, re-exported so
/// users of the configuration can name it).
pub use baton_wire::Family;
use serde::Serialize;

pub use checker::*;

use crate::model::{Command, NotifyFifo, Span};

/// Serialise a wire type (which has no serde dependency) by its display form.
fn as_display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn as_secs<S: serde::Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(v.as_secs_f64())
}

/// A virtual server: its position in [`Lvs::virtual_servers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct VirtualServerId(pub u32);

/// A real server: its virtual server and its position in
/// [`VirtualServer::real_servers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RealServerId {
    pub vs: VirtualServerId,
    pub index: u32,
}

/// A health checker: its real server and its position in [`RealServer::checkers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CheckerId {
    pub rs: RealServerId,
    pub index: u32,
}

impl fmt::Display for VirtualServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vs{}", self.0)
    }
}

impl fmt::Display for RealServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.rs{}", self.vs, self.index)
    }
}

impl fmt::Display for CheckerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.check{}", self.rs, self.index)
    }
}

/// Everything of the LVS half.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Lvs {
    /// The LVS keywords of `global_defs`.
    pub global: LvsGlobal,
    /// `SSL { … }`: the TLS client context of SSL_GET checkers (`None`: generated).
    pub ssl: Option<SslContext>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    /// Only virtual servers that can run: each has at least one real server.
    pub virtual_servers: Vec<VirtualServer>,
}

impl Lvs {
    pub fn virtual_server(&self, id: VirtualServerId) -> Option<&VirtualServer> {
        self.virtual_servers.get(id.0 as usize)
    }

    pub fn real_server(&self, id: RealServerId) -> Option<&RealServer> {
        self.virtual_server(id.vs)?
            .real_servers
            .get(id.index as usize)
    }

    pub fn checker(&self, id: CheckerId) -> Option<&Checker> {
        self.real_server(id.rs)?.checkers.get(id.index as usize)
    }

    pub fn group(&self, name: &str) -> Option<&VirtualServerGroup> {
        self.virtual_server_groups.iter().find(|g| g.name == name)
    }

    /// Every checker with the servers it belongs to, in configuration order.
    pub fn checkers(&self) -> impl Iterator<Item = (&VirtualServer, &RealServer, &Checker)> {
        self.virtual_servers.iter().flat_map(|vs| {
            vs.real_servers
                .iter()
                .flat_map(move |rs| rs.checkers.iter().map(move |c| (vs, rs, c)))
        })
    }
}

/// `lvs_flush_on_stop [VS]` (old spelling `lvs_flush_onstop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum FlushOnStop {
    /// Remove each real server and virtual server one by one (keepalived's default).
    #[default]
    No,
    /// Flush the whole table at once.
    Full,
    /// Remove each virtual server and let its real servers go with it.
    VirtualServers,
}

/// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]`: connection tracking timeouts;
/// `None` leaves the system's value alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcp_fin: Option<u32>,
    pub udp: Option<u32>,
}

/// `lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]`:
/// connection state synchronisation, active while the VRRP instance is master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    /// The VRRP instance whose state decides master or backup sync.
    pub instance: Option<String>,
    /// `id`: defaults to the instance's VRID.
    pub sync_id: Option<u8>,
    pub max_len: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
    pub span: Span,
}

/// The LVS keywords of `global_defs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LvsGlobal {
    pub sync_daemon: Option<LvsSyncDaemon>,
    pub timeouts: LvsTimeouts,
    /// `lvs_flush`: clear the table at start.
    pub flush: bool,
    pub flush_on_stop: FlushOnStop,
    /// `lvs_notify_fifo FIFO` (+ `lvs_notify_fifo_script`): `VS …` and `RS …` lines.
    pub notify_fifo: Option<NotifyFifo>,
    /// `rs_init_notifies`: run notify_up for real servers that start up.
    pub rs_init_notifies: bool,
    /// `checker_log_all_failures`: log every failed check, not only state changes.
    pub checker_log_all_failures: bool,
}

/// `SSL { password; ca; certificate; key }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SslContext {
    pub password: Option<String>,
    pub ca: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub span: Span,
}

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// keepalived's lower-case name, as in `[10.0.0.1]:tcp:80`.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// `lb_algo` / `lvs_sched`: IPVS's schedulers by their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connections.
    Lc,
    /// Weighted least connections (keepalived's default).
    Wlc,
    /// Locality-based least connections.
    Lblc,
    /// Locality-based least connections with replication.
    Lblcr,
    /// Source hashing.
    Sh,
    /// Maglev hashing.
    Mh,
    /// Destination hashing.
    Dh,
    /// Weighted failover: the available server with the highest weight.
    Fo,
    /// Weighted overflow: the highest weight until its connections exceed its weight.
    Ovf,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Weighted random twos choice.
    Twos,
}

impl Scheduler {
    pub const ALL: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Sh,
        Scheduler::Mh,
        Scheduler::Dh,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Lblcr,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Twos,
    ];

    pub const fn name(self) -> &'static str {
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

    pub fn from_name(s: &str) -> Option<Scheduler> {
        Scheduler::ALL.into_iter().find(|x| x.name() == s)
    }

    /// What baton's nftables data plane does for this scheduler. nftables has no
    /// per-connection counts per real server, so schedulers that need them become the
    /// closest one that does not; loading says so where the scheduler is named.
    pub const fn nftables_equivalent(self) -> Scheduler {
        match self {
            Scheduler::Rr | Scheduler::Lc => Scheduler::Rr,
            Scheduler::Wrr | Scheduler::Wlc | Scheduler::Sed | Scheduler::Nq | Scheduler::Twos => {
                Scheduler::Wrr
            }
            Scheduler::Sh => Scheduler::Sh,
            Scheduler::Mh => Scheduler::Mh,
            Scheduler::Dh | Scheduler::Lblc | Scheduler::Lblcr => Scheduler::Dh,
            Scheduler::Fo | Scheduler::Ovf => Scheduler::Fo,
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Scheduler flags (`flag-1`…`flag-3`, `sh-port`, `sh-fallback`, `mh-port`,
/// `mh-fallback`) and one-packet scheduling (`ops`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub struct SchedulerFlags {
    pub flag_1: bool,
    pub flag_2: bool,
    pub flag_3: bool,
    /// `sh-port` / `mh-port`: hash the source port too.
    pub hash_port: bool,
    /// `sh-fallback` / `mh-fallback`: pick another server when the hashed one has weight 0.
    pub fallback: bool,
    /// `ops`: schedule every UDP datagram on its own.
    pub one_packet: bool,
}

/// Encapsulation of a tunnelled real server (`lvs_method TUN type …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub enum TunnelType {
    #[default]
    Ipip,
    /// Generic UDP encapsulation to this port.
    Gue {
        port: u16,
    },
    Gre,
}

/// Checksum option of a GUE or GRE tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub enum TunnelChecksum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

/// `lb_kind` / `lvs_method`: how packets reach a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub enum Forwarding {
    /// Masquerading: the destination is rewritten to the real server (keepalived's default).
    #[default]
    Nat,
    /// Direct routing: the frame goes to the real server's MAC, addresses unchanged.
    Dr,
    /// IP-in-IP (or GUE/GRE) tunnelling.
    Tun {
        tunnel: TunnelType,
        checksum: TunnelChecksum,
    },
}

impl Forwarding {
    /// Whether baton's nftables data plane can forward this way: it cannot encapsulate,
    /// so a service with a tunnelled real or sorry server is left out of the data plane
    /// (baton-nft reports it as invalid); loading says so where the method is configured.
    pub const fn nftables_supported(self) -> bool {
        !matches!(self, Forwarding::Tun { .. })
    }

    pub const fn name(self) -> &'static str {
        match self {
            Forwarding::Nat => "NAT",
            Forwarding::Dr => "DR",
            Forwarding::Tun { .. } => "TUN",
        }
    }
}

/// `persistence_granularity`: how much of the client address keeps a client on one
/// real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Granularity {
    /// An IPv4 netmask, e.g. 255.255.255.0.
    V4Mask(Ipv4Addr),
    /// An IPv6 prefix length, 1..=128.
    V6Prefix(u8),
}

/// Client affinity: `persistence_timeout`, `persistence_granularity`,
/// `persistence_engine`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Persistence {
    /// 360 s when the keyword has no value, or when only a granularity is given.
    #[serde(serialize_with = "as_secs")]
    pub timeout: Duration,
    pub granularity: Option<Granularity>,
    /// `persistence_engine NAME` (IPVS knows `sip`).
    pub engine: Option<String>,
}

/// One line of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum GroupEntry {
    /// `IP [PORT]`, `IP-LAST [PORT]`, `IP-IP [PORT]` or `IP/LEN [PORT]`: every address
    /// from `first` to `last` inclusive; port 0 means none was given.
    Addresses {
        first: IpAddr,
        last: IpAddr,
        port: u16,
        span: Span,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        mark: u32,
        #[serde(serialize_with = "opt_family")]
        family: Option<Family>,
        span: Span,
    },
}

fn opt_family<S: serde::Serializer>(v: &Option<Family>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(f) => s.collect_str(f),
        None => s.serialize_none(),
    }
}

/// `virtual_server_group NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub span: Span,
    pub entries: Vec<GroupEntry>,
}

impl VirtualServerGroup {
    pub fn has_family(&self, family: Family) -> bool {
        self.entries.iter().any(|e| match e {
            GroupEntry::Addresses { first, .. } => Family::of(first) == family,
            GroupEntry::Fwmark { family: f, .. } => *f == Some(family),
        })
    }
}

/// What a `virtual_server` line names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum VirtualServerAddress {
    /// `virtual_server IP [PORT]` (port 0: none given; only valid when persistent).
    Ip(SocketAddr),
    /// `virtual_server fwmark N`.
    Fwmark(u32),
    /// `virtual_server group NAME`; `member` counts the virtual servers using the group
    /// before this one (keepalived shows it where a port would be).
    Group { name: String, member: u32 },
}

/// The identity keepalived matches virtual servers by across a reload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum VirtualServerKey {
    Ip {
        addr: SocketAddr,
        protocol: Option<Protocol>,
    },
    Fwmark {
        mark: u32,
        family: FamilyKey,
    },
    Group {
        name: String,
        member: u32,
    },
}

/// [`Family`] with an order, for keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum FamilyKey {
    Ipv4,
    Ipv6,
}

impl From<Family> for FamilyKey {
    fn from(f: Family) -> FamilyKey {
        match f {
            Family::Ipv4 => FamilyKey::Ipv4,
            Family::Ipv6 => FamilyKey::Ipv6,
        }
    }
}

impl fmt::Display for FamilyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FamilyKey::Ipv4 => "IPv4",
            FamilyKey::Ipv6 => "IPv6",
        })
    }
}

/// `sorry_server IP [PORT]`: used instead of the real servers while quorum is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    pub address: SocketAddr,
    /// `sorry_server_lvs_method`, else the virtual server's.
    pub forwarding: Forwarding,
    /// `sorry_server_inhibit`: kept in the table with weight 0 while not in use.
    pub inhibit: bool,
    /// The real server with the same address, if any (keepalived shares its entry).
    pub duplicates: Option<RealServerId>,
    pub span: Span,
}

/// `virtual_server … { … }`, with keepalived's defaults and checks applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServer {
    pub id: VirtualServerId,
    pub span: Span,
    pub address: VirtualServerAddress,
    /// From the address, the real servers or `ip_family` (IPv4 when nothing says).
    #[serde(serialize_with = "as_display")]
    pub family: Family,
    /// `None` for a firewall-mark service (the protocol is ignored there).
    pub protocol: Option<Protocol>,
    pub scheduler: Scheduler,
    pub scheduler_flags: SchedulerFlags,
    /// `lb_kind` / `lvs_method`: the default of the real servers.
    pub forwarding: Forwarding,
    pub persistence: Option<Persistence>,
    /// Least total weight of live real servers for the service to be up (default 1).
    pub quorum: u32,
    /// Flap damper: quorum is gained at `quorum + hysteresis`, lost below
    /// `quorum - hysteresis`. Always less than `quorum`.
    pub hysteresis: u32,
    pub quorum_up: Option<Command>,
    pub quorum_down: Option<Command>,
    /// `alpha`: the default of the real servers (start down until checked).
    pub alpha: bool,
    /// `omega`: run quorum_down and notify_down when baton stops.
    pub omega: bool,
    /// `ha_suspend`: checkers run only while the virtual address is on this host.
    pub ha_suspend: bool,
    /// `inhibit_on_failure`: the default of the real servers.
    pub inhibit_on_failure: bool,
    pub virtualhost: Option<String>,
    /// `weight`: the default weight of the real servers (default 1).
    pub weight: u32,
    /// `delay_loop` (default 60 s); MISC_CHECK's default timeout.
    #[serde(serialize_with = "as_secs")]
    pub delay_loop: Duration,
    #[serde(serialize_with = "as_secs")]
    pub connect_timeout: Duration,
    pub sorry_server: Option<SorryServer>,
    pub real_servers: Vec<RealServer>,
}

/// `real_server IP [PORT] { … }`, with what it inherits from its virtual server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealServer {
    pub id: RealServerId,
    pub span: Span,
    /// The port is the virtual server's when none was given (and 0 for firewall-mark
    /// services that are not NAT).
    pub address: SocketAddr,
    /// 0..=2147483647; 0 keeps it in the table without traffic.
    pub weight: u32,
    pub forwarding: Forwarding,
    /// `inhibit_on_failure`: on failure keep it with weight 0 instead of removing it.
    pub inhibit_on_failure: bool,
    /// `alpha`: the default of its checkers (start failed until checked).
    pub alpha: bool,
    pub notify_up: Option<Command>,
    pub notify_down: Option<Command>,
    /// `uthreshold`: most connections (IPVS stops sending new ones above).
    pub uthreshold: Option<u32>,
    /// `lthreshold`: connections under which it is used again.
    pub lthreshold: Option<u32>,
    /// `virtualhost`, else the virtual server's.
    pub virtualhost: Option<String>,
    /// All must be up for the real server to be up.
    pub checkers: Vec<Checker>,
}

/// keepalived's name of a service: `[10.0.0.21]:tcp:8080` (`none` for no protocol).
pub fn service_name(address: &SocketAddr, protocol: Option<Protocol>) -> String {
    Trio(address, protocol).to_string()
}

/// `[ADDR]:PROTO:PORT`, keepalived's way of naming a service in its logs.
struct Trio<'a>(&'a SocketAddr, Option<Protocol>);

impl fmt::Display for Trio<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}]:{}:{}",
            self.0.ip(),
            self.1.map_or("none", Protocol::name),
            self.0.port()
        )
    }
}

impl fmt::Display for VirtualServer {
    /// keepalived's name of a virtual server: `[192.168.5.10]:tcp:80`, `FWM 1` or
    /// `[GROUP]:0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.address {
            VirtualServerAddress::Ip(a) => Trio(a, self.protocol).fmt(f),
            VirtualServerAddress::Fwmark(m) => write!(f, "FWM {m}"),
            VirtualServerAddress::Group { name, member } => write!(f, "[{name}]:{member}"),
        }
    }
}

impl VirtualServer {
    /// The identity keepalived matches virtual servers by across a reload.
    pub fn key(&self) -> VirtualServerKey {
        match &self.address {
            VirtualServerAddress::Ip(a) => VirtualServerKey::Ip {
                addr: *a,
                protocol: self.protocol,
            },
            VirtualServerAddress::Fwmark(m) => VirtualServerKey::Fwmark {
                mark: *m,
                family: self.family.into(),
            },
            VirtualServerAddress::Group { name, member } => VirtualServerKey::Group {
                name: name.clone(),
                member: *member,
            },
        }
    }

    /// keepalived's name of one of its real servers (or its sorry server):
    /// `[10.0.0.21]:tcp:8080`.
    pub fn service_name(&self, address: &SocketAddr) -> String {
        service_name(address, self.protocol)
    }

    /// The total weight of all real servers: the most quorum can be.
    pub fn total_weight(&self) -> u64 {
        self.real_servers.iter().map(|r| u64::from(r.weight)).sum()
    }
}
