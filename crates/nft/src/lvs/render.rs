//! A virtual service as nftables objects: its chain, its maps and their contents, and the
//! element of the dispatch map that jumps to it. Pure: nothing here talks to the kernel.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_netfilter::nftables::{MetaKey, Operator};

use super::limits::scheduler_used;
use super::model::{Family, Forwarding, Frontend, Granularity, Protocol, VirtualService};
use super::rules::Rules;
use super::schedule::{Candidate, Pick, pick};
use crate::batch::{Element, SetSpec};
use crate::expr::{self, Action, Base, Expr, NfProto, cmp, lookup, meta, payload, r};

// nft's datatypes, so `nft list ruleset` prints keys and values as addresses and ports.
const TYPE_IPADDR: u32 = 7;
const TYPE_IP6ADDR: u32 = 8;
const TYPE_INET_PROTOCOL: u32 = 12;
const TYPE_INET_SERVICE: u32 = 13;
const TYPE_MARK: u32 = 19;
/// `NFT_DATA_VERDICT`: the value type of a verdict map.
pub(crate) const TYPE_VERDICT: u32 = 0xffff_ff00;
/// nft's concatenated types: each part's type shifted in 6 bits at a time.
const fn concat(a: u32, b: u32) -> u32 {
    (a << 6) | b
}

/// The ct label bit (127) that marks connections of NAT services with masquerade, for the
/// postrouting chain. Kept as the kernel keeps labels: 16 bytes, bit 127 in the last word.
pub(crate) const MASQ_LABEL: [u8; 16] = {
    let mut l = [0u8; 16];
    let word = (1u32 << 31).to_ne_bytes();
    l[12] = word[0];
    l[13] = word[1];
    l[14] = word[2];
    l[15] = word[3];
    l
};

/// Stable seed of the hashing schedulers: two directors hash a client alike, so a VRRP
/// failover keeps clients on their real servers.
pub(crate) const HASH_SEED: u32 = 0x6261_746f;

/// Default number of clients a persistence map or DR connection map holds.
pub const DEFAULT_MAX_ENTRIES: u32 = 65_536;

/// Sizes and idle times the rendering needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most persistent clients per service.
    pub max_persistent: u32,
    /// Most DR connections per service.
    pub max_connections: u32,
    /// A DR TCP connection is forgotten after this long without a packet (IPVS: 900 s).
    pub dr_tcp_idle_ms: u64,
    /// The same for UDP and SCTP (IPVS: 300 s).
    pub dr_udp_idle_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_persistent: DEFAULT_MAX_ENTRIES,
            max_connections: DEFAULT_MAX_ENTRIES,
            dr_tcp_idle_ms: 900_000,
            dr_udp_idle_ms: 300_000,
        }
    }
}

/// Which of baton's tables a service lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// The inet table's NAT chains.
    Nat,
    /// The netdev table, on this interface's ingress.
    Dr(String),
}

/// The dispatch maps a table holds (per interface in the netdev table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dispatch {
    Fwmark,
    Vip4,
    Vip4AnyPort,
    Vip6,
    Vip6AnyPort,
}

impl Dispatch {
    pub const ALL: [Dispatch; 5] = [
        Dispatch::Fwmark,
        Dispatch::Vip4,
        Dispatch::Vip4AnyPort,
        Dispatch::Vip6,
        Dispatch::Vip6AnyPort,
    ];

    /// The map's name, prefixed by the interface in the netdev table.
    pub fn map_name(self, place: &Place) -> String {
        let base = match self {
            Dispatch::Fwmark => "fwmark",
            Dispatch::Vip4 => "vip4",
            Dispatch::Vip4AnyPort => "vip4_anyport",
            Dispatch::Vip6 => "vip6",
            Dispatch::Vip6AnyPort => "vip6_anyport",
        };
        match place {
            Place::Nat => base.to_string(),
            Place::Dr(dev) => format!("{dev}_{base}"),
        }
    }

    pub fn set(self, place: &Place) -> SetSpec {
        let (key_type, key_len) = match self {
            Dispatch::Fwmark => (TYPE_MARK, 4),
            Dispatch::Vip4 => (
                concat(concat(TYPE_IPADDR, TYPE_INET_PROTOCOL), TYPE_INET_SERVICE),
                12,
            ),
            Dispatch::Vip4AnyPort => (concat(TYPE_IPADDR, TYPE_INET_PROTOCOL), 8),
            Dispatch::Vip6 => (
                concat(concat(TYPE_IP6ADDR, TYPE_INET_PROTOCOL), TYPE_INET_SERVICE),
                24,
            ),
            Dispatch::Vip6AnyPort => (concat(TYPE_IP6ADDR, TYPE_INET_PROTOCOL), 20),
        };
        SetSpec {
            name: self.map_name(place),
            key_type,
            key_len,
            data: Some((TYPE_VERDICT, None)),
            interval: false,
            timeout_ms: None,
            size: None,
            dynamic: false,
        }
    }

    /// The rule that looks packets up in this map and jumps to the service they belong to.
    pub fn rule(self, place: &Place) -> Vec<Expr> {
        let name = self.map_name(place);
        let mut e = Vec::new();
        let family = match self {
            Dispatch::Fwmark => None,
            Dispatch::Vip4 | Dispatch::Vip4AnyPort => Some(Family::Ipv4),
            Dispatch::Vip6 | Dispatch::Vip6AnyPort => Some(Family::Ipv6),
        };
        match family {
            None => {
                e.push(meta(MetaKey::Mark, r(0)));
                e.push(lookup(&name, r(0), Some(expr::VERDICT)));
                return e;
            }
            Some(f) => e.extend(family_check(place, f)),
        }
        let f = family.unwrap_or(Family::Ipv4);
        let a = f.addr_len();
        e.push(payload(Base::Network, daddr_offset(f), a, r(0)));
        e.push(meta(MetaKey::L4Proto, r(a / 4)));
        if matches!(self, Dispatch::Vip4 | Dispatch::Vip6) {
            e.push(payload(Base::Transport, 2, 2, r(a / 4 + 1)));
        }
        e.push(lookup(&name, r(0), Some(expr::VERDICT)));
        e
    }
}

/// Stop the rule unless the packet is of `f`: by nfproto in the inet table, by ethertype at
/// netdev ingress.
pub(crate) fn family_check(place: &Place, f: Family) -> Vec<Expr> {
    match place {
        Place::Nat => {
            let p = match f {
                Family::Ipv4 => NfProto::Ipv4,
                Family::Ipv6 => NfProto::Ipv6,
            };
            vec![
                meta(MetaKey::Nfproto, r(0)),
                cmp(r(0), Operator::Equal, &[p as u8]),
            ]
        }
        Place::Dr(_) => {
            let ethertype: [u8; 2] = match f {
                Family::Ipv4 => [0x08, 0x00],
                Family::Ipv6 => [0x86, 0xdd],
            };
            vec![
                meta(MetaKey::EtherTypeProtocol, r(0)),
                cmp(r(0), Operator::Equal, &ethertype),
            ]
        }
    }
}

pub(crate) fn saddr_offset(f: Family) -> u32 {
    match f {
        Family::Ipv4 => 12,
        Family::Ipv6 => 8,
    }
}

pub(crate) fn daddr_offset(f: Family) -> u32 {
    match f {
        Family::Ipv4 => 16,
        Family::Ipv6 => 24,
    }
}

pub(crate) fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// A port as a key part: two bytes in network order, padded to a register's 4.
pub(crate) fn port_bytes(p: u16) -> [u8; 4] {
    let b = p.to_be_bytes();
    [b[0], b[1], 0, 0]
}

/// The service's chain name: readable in `nft list ruleset`, stable across restarts.
pub fn chain_name(fe: &Frontend) -> String {
    match fe {
        Frontend::Address { addr, protocol } => {
            let ip = addr.ip().to_string().replace(['.', ':'], "_");
            format!("vs_{ip}_{}_{}", protocol.name(), addr.port())
        }
        Frontend::Fwmark { mark, family } => {
            let f = if *family == Family::Ipv4 { "ip" } else { "ip6" };
            format!("vs_fwm{mark}_{f}")
        }
    }
}

/// The dispatch map and key that lead to a service.
pub fn dispatch_entry(fe: &Frontend) -> (Dispatch, Vec<u8>) {
    match fe {
        Frontend::Fwmark { mark, .. } => (Dispatch::Fwmark, mark.to_ne_bytes().to_vec()),
        Frontend::Address { addr, protocol } => {
            let mut key = addr_bytes(&addr.ip());
            key.extend_from_slice(&[protocol.number(), 0, 0, 0]);
            let v4 = addr.is_ipv4();
            let d = match (v4, addr.port()) {
                (true, 0) => Dispatch::Vip4AnyPort,
                (false, 0) => Dispatch::Vip6AnyPort,
                (true, _) => Dispatch::Vip4,
                (false, _) => Dispatch::Vip6,
            };
            if addr.port() != 0 {
                key.extend_from_slice(&port_bytes(addr.port()));
            }
            (d, key)
        }
    }
}

/// Everything that decides whether a change can be made in place (element and rule updates)
/// or needs the service rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub place: Place,
    pub chain: String,
    pub sets: Vec<SetSpec>,
    pub dispatch: (Dispatch, Vec<u8>),
}

/// One server's own objects: a chain that sends a client to it (and pins the client), and
/// its persistence set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPlan {
    pub chain: String,
    pub sets: Vec<SetSpec>,
    pub rules: Vec<(String, Vec<Expr>)>,
}

/// A service rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub shape: Shape,
    /// Every server a client may be sent to, by chain name: the real servers, weight 0
    /// included (pinned clients and DR connections stay with them), and the sorry server
    /// while it serves.
    pub servers: BTreeMap<String, ServerPlan>,
    /// Elements of the slot map (intervals of slots → jump to a server's chain).
    pub slots: Vec<Element>,
    /// The service chain's rules, each with a note for error reports.
    pub rules: Vec<(String, Vec<Expr>)>,
}

impl Plan {
    pub fn sched_set(&self) -> String {
        format!("{}_sched", self.shape.chain)
    }
}

/// Why a service cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("real server {0} is not of the service's address family")]
    FamilyMismatch(SocketAddr),
    #[error("real servers mix port 0 (keep the client's port) with fixed ports")]
    MixedPorts,
    #[error("lb_kind TUN cannot be done with nftables")]
    Tunnel,
    #[error("interface name {0:?} is not a valid interface name")]
    Interface(String),
}

/// A server as the rules see it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub chain: String,
    pub addr: IpAddr,
    /// The port DNAT writes (NAT with ports), else `None`.
    pub port: Option<u16>,
    pub weight: u32,
    pub pers_set: Option<String>,
}

/// Render `vs`.
pub fn render(vs: &VirtualService, limits: &Limits) -> Result<Plan, Invalid> {
    let fe = vs.frontend;
    let family = fe.family();
    let place = match &vs.forwarding {
        Forwarding::Nat { .. } => Place::Nat,
        Forwarding::DirectRouting { interface } => {
            if interface.is_empty() || interface.len() > 15 || interface.contains(['/', ' ', '\0'])
            {
                return Err(Invalid::Interface(interface.clone()));
            }
            Place::Dr(interface.clone())
        }
        Forwarding::Tunnel { .. } => return Err(Invalid::Tunnel),
    };
    for rs in vs.real_servers.iter().chain(vs.sorry_server.iter()) {
        if Family::of(&rs.addr.ip()) != family {
            return Err(Invalid::FamilyMismatch(rs.addr));
        }
    }
    let service_port = match fe {
        Frontend::Address { addr, .. } => addr.port(),
        Frontend::Fwmark { .. } => 0,
    };
    // The sorry server serves only while no real server has a weight: when it stops, its
    // chain and pinned clients go with it.
    let sorry_active = vs.real_servers.iter().all(|r| r.weight == 0);
    let mut list: Vec<(SocketAddr, u32)> = Vec::new();
    for r in &vs.real_servers {
        if !list.iter().any(|(a, _)| *a == r.addr) {
            list.push((r.addr, r.weight));
        }
    }
    if sorry_active && let Some(s) = vs.sorry_server {
        list.retain(|(a, _)| *a != s.addr);
        list.push((s.addr, 1));
    }
    // NAT rewrites the port when the real servers name one (0: the service's own); with no
    // port anywhere, the client's is kept. DR never changes it.
    let port_of = |a: &SocketAddr| {
        if a.port() == 0 {
            service_port
        } else {
            a.port()
        }
    };
    let nat_ports = match place {
        Place::Dr(_) => false,
        Place::Nat => {
            let with = list.iter().filter(|m| port_of(&m.0) != 0).count();
            if with != 0 && with != list.len() {
                return Err(Invalid::MixedPorts);
            }
            with != 0
        }
    };
    let chain = chain_name(&fe);
    let addr_type = if family == Family::Ipv4 {
        TYPE_IPADDR
    } else {
        TYPE_IP6ADDR
    };
    let a = family.addr_len();
    let mask = vs.persistence.map(|p| mask_bytes(family, p.granularity));
    let members: Vec<Member> = list
        .iter()
        .map(|&(addr, weight)| {
            let port = nat_ports.then(|| port_of(&addr));
            let ip = addr.ip().to_string().replace(['.', ':'], "_");
            let server_chain = match port {
                Some(p) => format!("{chain}__{ip}_{p}"),
                None => format!("{chain}__{ip}"),
            };
            Member {
                pers_set: mask.as_ref().map(|_| format!("{server_chain}_pers")),
                chain: server_chain,
                addr: addr.ip(),
                port,
                weight,
            }
        })
        .collect();

    let mut sets = vec![SetSpec {
        name: format!("{chain}_sched"),
        key_type: TYPE_MARK,
        key_len: 4,
        data: Some((TYPE_VERDICT, None)),
        interval: true,
        timeout_ms: None,
        size: None,
        dynamic: false,
    }];
    let tcp = matches!(
        fe,
        Frontend::Address {
            protocol: Protocol::Tcp,
            ..
        }
    );
    let conn = if let Place::Dr(_) = place {
        let set = format!("{chain}_conn");
        sets.push(SetSpec {
            name: set.clone(),
            key_type: concat(addr_type, TYPE_INET_SERVICE),
            key_len: a + 4,
            data: Some((addr_type, Some(a))),
            interval: false,
            timeout_ms: Some(if tcp {
                limits.dr_tcp_idle_ms
            } else {
                limits.dr_udp_idle_ms
            }),
            size: Some(limits.max_connections),
            dynamic: true,
        });
        Some(set)
    } else {
        None
    };
    let cands: Vec<Candidate> = members
        .iter()
        .enumerate()
        .map(|(i, m)| Candidate {
            id: i as u32,
            addr: SocketAddr::new(m.addr, m.port.unwrap_or(0)),
            weight: m.weight,
        })
        .collect();
    let choice = pick(scheduler_used(vs.scheduler), vs.hash_port, &cands);
    let slots = match &choice {
        Pick::Slots { runs, .. } => slot_elements(runs, &members),
        _ => Vec::new(),
    };
    let rules = Rules {
        place: place.clone(),
        family,
        sched_set: format!("{chain}_sched"),
        conn,
        tcp,
        mask,
        masquerade: matches!(vs.forwarding, Forwarding::Nat { masquerade: true }),
    };
    let servers = members
        .iter()
        .map(|m| {
            let mut sets = Vec::new();
            if let (Some(set), Some(p)) = (&m.pers_set, vs.persistence) {
                sets.push(SetSpec {
                    name: set.clone(),
                    key_type: addr_type,
                    key_len: a,
                    data: None,
                    interval: false,
                    timeout_ms: Some((p.timeout.as_millis() as u64).max(1)),
                    size: Some(limits.max_persistent),
                    dynamic: true,
                });
            }
            let plan = ServerPlan {
                chain: m.chain.clone(),
                sets,
                rules: rules.server(m),
            };
            (m.chain.clone(), plan)
        })
        .collect();
    Ok(Plan {
        shape: Shape {
            place,
            chain,
            sets,
            dispatch: dispatch_entry(&fe),
        },
        servers,
        slots,
        rules: rules.service(&members, &choice),
    })
}

/// The persistence mask over a client address.
fn mask_bytes(family: Family, g: Option<Granularity>) -> Vec<u8> {
    let len = family.addr_len() as usize;
    match (family, g) {
        (Family::Ipv4, Some(Granularity::V4Mask(m))) => m.octets().to_vec(),
        (Family::Ipv6, Some(Granularity::V6Prefix(p))) => {
            let bits = u128::MAX
                .checked_shl(128 - u32::from(p.min(128)))
                .unwrap_or(0);
            bits.to_be_bytes().to_vec()
        }
        _ => vec![0xff; len],
    }
}

/// Interval map elements for slot runs: each run opens at its first slot, jumping to its
/// server's chain, and closes after its last (keys in network order, as `byteorder` leaves
/// the slot).
fn slot_elements(runs: &[(u32, u32, u32)], members: &[Member]) -> Vec<Element> {
    let mut out = Vec::with_capacity(runs.len() * 2);
    for &(first, last, i) in runs {
        out.push(Element::verdict(
            first.to_be_bytes().to_vec(),
            Action::Jump(members[i as usize].chain.clone()),
        ));
        out.push(Element::end((last + 1).to_be_bytes().to_vec()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvs::model::{Persistence, Protocol, RealServer, Scheduler};
    use std::time::Duration;

    fn svc(port: u16) -> VirtualService {
        let mut vs = VirtualService::new(Frontend::Address {
            addr: SocketAddr::from(([10, 1, 0, 100], port)),
            protocol: Protocol::Tcp,
        });
        vs.real_servers = (1..=3)
            .map(|i| RealServer {
                addr: SocketAddr::from(([10, 2, 0, 10 + i], 8080)),
                weight: u32::from(i),
            })
            .collect();
        vs
    }

    #[test]
    fn names_and_dispatch_keys_are_readable_and_exact() {
        let fe = svc(80).frontend;
        assert_eq!(chain_name(&fe), "vs_10_1_0_100_tcp_80");
        let (d, key) = dispatch_entry(&fe);
        assert_eq!(d, Dispatch::Vip4);
        assert_eq!(key, [10, 1, 0, 100, 6, 0, 0, 0, 0, 80, 0, 0]);
        let (d, key) = dispatch_entry(&svc(0).frontend);
        assert_eq!((d, key.len()), (Dispatch::Vip4AnyPort, 8));
        let fw = Frontend::Fwmark {
            mark: 7,
            family: Family::Ipv6,
        };
        assert_eq!(chain_name(&fw), "vs_fwm7_ip6");
        assert_eq!(dispatch_entry(&fw).1, 7u32.to_ne_bytes());
    }

    #[test]
    fn wrr_nat_renders_slots_servers_and_rules() {
        let mut vs = svc(80);
        vs.scheduler = Scheduler::Wrr;
        let plan = render(&vs, &Limits::default()).unwrap();
        // Three servers with a chain each, named by address and rewritten port.
        assert!(
            plan.servers
                .contains_key("vs_10_1_0_100_tcp_80__10_2_0_11_8080")
        );
        assert_eq!(plan.servers.len(), 3);
        // IPVS order for 1:2:3 is C, B, C, A, B, C: six runs, two elements each.
        assert_eq!(plan.slots.len(), 12);
        // Schedule, then drop.
        assert_eq!(plan.rules.len(), 2);
        assert_eq!(plan.shape.sets.len(), 1);
    }

    #[test]
    fn persistence_adds_a_timed_map_and_masks_the_client() {
        let mut vs = svc(80);
        vs.persistence = Some(Persistence {
            timeout: Duration::from_secs(300),
            granularity: Some(Granularity::V4Mask("255.255.255.0".parse().unwrap())),
        });
        let plan = render(&vs, &Limits::default()).unwrap();
        let pers = &plan.servers["vs_10_1_0_100_tcp_80__10_2_0_12_8080"].sets[0];
        assert_eq!((pers.timeout_ms, pers.dynamic), (Some(300_000), true));
        // One pinned-client rule per server, schedule, drop.
        assert_eq!(plan.rules.len(), 5);
        assert_eq!(
            mask_bytes(Family::Ipv6, Some(Granularity::V6Prefix(12)))[..3],
            [0xff, 0xf0, 0]
        );
    }

    #[test]
    fn sorry_server_serves_only_without_weighted_servers() {
        let mut vs = svc(80);
        vs.sorry_server = Some(RealServer {
            addr: "10.2.0.99:8080".parse().unwrap(),
            weight: 0,
        });
        let plan = render(&vs, &Limits::default()).unwrap();
        assert_eq!(plan.servers.len(), 3);
        for rs in &mut vs.real_servers {
            rs.weight = 0;
        }
        let plan = render(&vs, &Limits::default()).unwrap();
        assert_eq!(plan.servers.len(), 4);
        assert!(plan.slots.is_empty(), "one server: no slot map needed");
        assert!(plan.servers.keys().any(|k| k.ends_with("10_2_0_99_8080")));
    }

    #[test]
    fn bad_services_are_refused_with_the_reason() {
        let mut vs = svc(0);
        vs.real_servers[0].addr.set_port(0);
        assert_eq!(render(&vs, &Limits::default()), Err(Invalid::MixedPorts));
        let mut vs = svc(80);
        vs.real_servers[1].addr = "[fd00::1]:80".parse().unwrap();
        assert!(matches!(
            render(&vs, &Limits::default()),
            Err(Invalid::FamilyMismatch(_))
        ));
    }
}
