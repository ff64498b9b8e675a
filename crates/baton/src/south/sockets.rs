//! The VRRP sockets of a running configuration: one per interface and address family that
//! some instance of the core uses (the core's own table, [`Node::segments`]), joined to every multicast group the instances there advertise to, and
//! counters for what arrived and what could not be parsed (the core counts what it drops;
//! bytes that never became an advert are counted here).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use baton_vrrp::Node;
use baton_wire::{Family, VRRP_TTL};
use serde::Serialize;

use super::links::Interfaces;
use crate::south::vrrp_socket::{MAX_BATCH, Outgoing, RecvBatch, RecvError, VrrpSocket};

/// Datagrams that never became an advert, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WireErrors {
    /// Larger than the receive buffer, or shorter than its header or address count says.
    pub truncated: u64,
    /// A malformed IPv4 header, another IP protocol, or IPv6 ancillary data missing.
    pub ip_header: u64,
    /// Version field neither 2 nor 3 (or VRRPv2 over IPv6).
    pub version: u64,
    /// Type field not 1 (ADVERTISEMENT).
    pub msg_type: u64,
    pub checksum: u64,
    /// VRRPv2 AH authentication, which nobody implements any more.
    pub auth_ah: u64,
    /// VRRPv2 authentication type other than none, PASS or AH.
    pub auth_type: u64,
    /// An advert interval of zero.
    pub interval: u64,
    /// CARP (ucarp, OpenBSD) sharing IP protocol 112.
    pub carp: u64,
    pub other: u64,
}

impl WireErrors {
    pub fn count_recv(&mut self, e: &RecvError) {
        match e {
            RecvError::Truncated => self.truncated += 1,
            RecvError::Ipv4(_) | RecvError::NotVrrp(_) | RecvError::MissingAncillary(_) => {
                self.ip_header += 1
            }
            RecvError::Io(_) => self.other += 1,
        }
    }

    pub fn count_parse(&mut self, e: &baton_wire::Error) {
        use baton_wire::Error as E;
        match e {
            E::Truncated { .. } | E::Length { .. } => self.truncated += 1,
            E::Version(_) | E::Version2OverIpv6 => self.version += 1,
            E::Type(_) => self.msg_type += 1,
            E::Checksum { .. } => self.checksum += 1,
            E::AuthAh => self.auth_ah += 1,
            E::AuthType(_) => self.auth_type += 1,
            E::ZeroInterval | E::IntervalRange(_) => self.interval += 1,
            E::Carp => self.carp += 1,
            _ => self.other += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.truncated
            + self.ip_header
            + self.version
            + self.msg_type
            + self.checksum
            + self.auth_ah
            + self.auth_type
            + self.interval
            + self.carp
            + self.other
    }
}

/// Traffic through one socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SocketStats {
    /// Datagrams read (each then either parsed and handed to the core, or a wire error).
    pub received: u64,
    pub wire_errors: WireErrors,
    pub sent: u64,
    pub send_errors: u64,
}

/// One advert built and waiting to be sent: its bytes in the batch's buffer, and the TTL a
/// unicast copy goes out with (`unicast_ttl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedAdvert {
    pub out: Outgoing,
    pub ttl: u8,
    pub unicast: bool,
}

/// Receive room per instance on a socket. Masters send the adverts of all their instances
/// in one burst each interval (their timers start together, in keepalived as in baton), so
/// the socket must queue one advert per instance at once; a small datagram costs about
/// 1 KiB of buffer in the kernel's accounting, and twice that leaves room for a second
/// burst while the loop is busy. The kernel default (208 KiB) holds about 200.
const RECEIVE_ROOM_PER_INSTANCE: usize = 2048;
/// How long a send may wait for room in the socket's buffer before the advert is dropped
/// and counted as a send error.
pub const SEND_DEADLINE: std::time::Duration = std::time::Duration::from_millis(50);

/// One interface and family: the socket once it could be opened, and its groups.
#[derive(Debug)]
pub struct Endpoint {
    pub ifname: Arc<str>,
    pub family: Family,
    pub socket: Option<VrrpSocket>,
    /// Groups the instances here send to (multicast instances only).
    groups: Vec<IpAddr>,
    /// How many instances receive through this socket.
    instances: usize,
    joined: Vec<IpAddr>,
    unicast_ttl: u8,
    pub stats: SocketStats,
    /// The last send error logged, so a dead link does not log once per advert.
    last_send_error: Option<String>,
}

/// The endpoint's part of `baton status`.
#[derive(Debug, Serialize)]
pub struct EndpointStatus {
    pub interface: String,
    pub family: String,
    pub open: bool,
    pub groups: Vec<IpAddr>,
    #[serde(flatten)]
    pub stats: SocketStats,
}

impl Endpoint {
    fn new(ifname: Arc<str>, family: Family) -> Endpoint {
        Endpoint {
            ifname,
            family,
            socket: None,
            groups: Vec::new(),
            instances: 0,
            joined: Vec::new(),
            unicast_ttl: VRRP_TTL,
            stats: SocketStats::default(),
            last_send_error: None,
        }
    }

    pub fn status(&self) -> EndpointStatus {
        EndpointStatus {
            interface: self.ifname.to_string(),
            family: self.family.to_string(),
            open: self.socket.is_some(),
            groups: self.joined.clone(),
            stats: self.stats.clone(),
        }
    }

    /// Send adverts built back to back in `buf`, in order, as few system calls as the kernel
    /// allows. Failures are counted per advert and logged once per distinct error.
    pub async fn send_all(&mut self, buf: &[u8], queued: &[QueuedAdvert]) {
        let Some(socket) = &self.socket else {
            self.stats.send_errors += queued.len() as u64;
            self.note_send_error(format!(
                "no VRRP socket on {} ({}) yet",
                self.ifname, self.family
            ));
            return;
        };
        let mut rest = queued;
        let mut outs = [Outgoing {
            src: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            start: 0,
            len: 0,
        }; MAX_BATCH];
        while let Some(first) = rest.first() {
            if first.unicast && first.ttl != self.unicast_ttl {
                match socket.set_unicast_ttl(first.ttl) {
                    Ok(()) => self.unicast_ttl = first.ttl,
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            // A run the socket's TTL suits: unicast TTL is a socket option, set between runs.
            let run = rest
                .iter()
                .take(MAX_BATCH)
                .enumerate()
                .take_while(|(k, q)| *k == 0 || !q.unicast || q.ttl == self.unicast_ttl)
                .count();
            for (o, q) in outs.iter_mut().zip(&rest[..run]) {
                *o = q.out;
            }
            // A send waits only for room in the socket's buffer, and not for long: a queue
            // that does not drain (a stuck interface) must not hold the event loop.
            let sent =
                tokio::time::timeout(SEND_DEADLINE, socket.send_batch(buf, &outs[..run])).await;
            match sent {
                Ok(Ok(n)) => {
                    let n = n.clamp(1, run);
                    self.stats.sent += n as u64;
                    rest = &rest[n..];
                    if self.last_send_error.take().is_some() {
                        tracing::info!("{} ({}): sending adverts again", self.ifname, self.family);
                    }
                }
                Ok(Err(e)) => {
                    self.stats.send_errors += 1;
                    note_send_error(
                        &mut self.last_send_error,
                        format!("cannot send advert to {}: {e}", first.out.dst),
                    );
                    rest = &rest[1..];
                }
                Err(_) => {
                    self.stats.send_errors += rest.len() as u64;
                    note_send_error(
                        &mut self.last_send_error,
                        format!(
                            "cannot send advert to {}: the send buffer stayed full for {SEND_DEADLINE:?}",
                            first.out.dst
                        ),
                    );
                    return;
                }
            }
        }
    }

    /// Size the receive buffer for the instances behind this socket.
    fn reserve_receive_room(&self) {
        if let Some(socket) = &self.socket
            && let Err(e) = socket.reserve_receive_room(self.instances * RECEIVE_ROOM_PER_INSTANCE)
        {
            tracing::warn!("{e}");
        }
    }

    fn note_send_error(&mut self, text: String) {
        note_send_error(&mut self.last_send_error, text);
    }
}

/// Log a send error unless it is the one logged last.
fn note_send_error(last: &mut Option<String>, text: String) {
    if last.as_deref() != Some(text.as_str()) {
        tracing::warn!("{text}");
        *last = Some(text);
    }
}

/// Every endpoint the configuration needs.
#[derive(Debug, Default)]
pub struct Sockets {
    endpoints: Vec<Endpoint>,
    /// Where the next receive poll starts, so one busy socket cannot starve the others.
    next: usize,
}

impl Sockets {
    /// The endpoints the core's instances need, none open yet.
    pub fn plan(node: &Node) -> Sockets {
        let mut s = Sockets::default();
        s.replan(node);
        s
    }

    /// Follow a new configuration: endpoints still needed keep their socket and counters
    /// (an instance that stays master must not miss a beat), groups no longer used are
    /// left, endpoints no longer used are closed.
    pub fn replan(&mut self, node: &Node) {
        let mut kept = Vec::new();
        for seg in node.segments() {
            let (ifname, family) = (seg.interface.clone(), seg.family);
            let groups = seg.groups.to_vec();
            let mut ep = match self
                .endpoints
                .iter()
                .position(|e| e.ifname == ifname && e.family == family)
            {
                Some(p) => self.endpoints.swap_remove(p),
                None => Endpoint::new(ifname, family),
            };
            if let Some(socket) = &ep.socket {
                for g in ep.joined.clone() {
                    if !groups.contains(&g) {
                        if let Err(e) = socket.leave(g) {
                            tracing::warn!("{e}");
                        }
                        ep.joined.retain(|j| *j != g);
                    }
                }
            }
            ep.groups = groups;
            ep.instances = seg.instances;
            ep.reserve_receive_room();
            kept.push(ep);
        }
        self.endpoints = kept;
        self.next = 0;
    }

    /// Open every endpoint whose interface exists and join its groups; endpoints already
    /// open retry groups that could not be joined (e.g. on an interface that was down).
    /// Failures are logged and retried when the interface next appears or comes up.
    pub fn open_available(&mut self, ifaces: &Interfaces) {
        for ep in &mut self.endpoints {
            if ep.socket.is_none() {
                let index = if ep.ifname.is_empty() {
                    Some(0)
                } else {
                    ifaces.by_name(&ep.ifname).map(|l| l.index)
                };
                let Some(index) = index else { continue };
                match VrrpSocket::open(&ep.ifname, index, ep.family) {
                    Ok(s) => {
                        tracing::debug!("VRRP socket open on {} ({})", ep.ifname, ep.family);
                        ep.socket = Some(s);
                        ep.joined.clear();
                        ep.unicast_ttl = VRRP_TTL;
                        ep.reserve_receive_room();
                    }
                    Err(e) => {
                        tracing::warn!("cannot open the VRRP socket: {e}");
                        continue;
                    }
                }
            }
            let Some(socket) = &ep.socket else { continue };
            for g in &ep.groups {
                if ep.joined.contains(g) {
                    continue;
                }
                match socket.join(*g) {
                    Ok(()) => ep.joined.push(*g),
                    Err(e) => tracing::warn!("cannot join the VRRP group: {e}"),
                }
            }
        }
    }

    /// The interface is gone: its sockets are bound to a device that no longer exists.
    pub fn close_interface(&mut self, ifname: &str) {
        for ep in &mut self.endpoints {
            if &*ep.ifname == ifname && ep.socket.take().is_some() {
                ep.joined.clear();
                tracing::debug!("VRRP socket on {ifname} ({}) closed", ep.family);
            }
        }
    }

    /// The index of the endpoint for `ifname` and `family` (see [`Sockets::get_mut`]).
    pub fn position(&self, ifname: &str, family: Family) -> Option<usize> {
        self.endpoints
            .iter()
            .position(|e| e.family == family && &*e.ifname == ifname)
    }

    pub fn find_mut(&mut self, ifname: &str, family: Family) -> Option<&mut Endpoint> {
        self.endpoints
            .iter_mut()
            .find(|e| &*e.ifname == ifname && e.family == family)
    }

    pub fn get(&self, index: usize) -> Option<&Endpoint> {
        self.endpoints.get(index)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut Endpoint> {
        self.endpoints.get_mut(index)
    }

    pub fn status(&self) -> Vec<EndpointStatus> {
        self.endpoints.iter().map(Endpoint::status).collect()
    }

    /// Poll every open socket for datagrams, reading those of the first ready one into
    /// `batch`. Returns the endpoint's index and how many were read; pending while nothing
    /// is ready, nothing is open, or the sockets are parked.
    pub fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        batch: &mut RecvBatch,
    ) -> Poll<(usize, io::Result<usize>)> {
        let n = self.endpoints.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Some(socket) = &self.endpoints[i].socket
                && let Poll::Ready(r) = socket.poll_recv_batch(cx, batch)
            {
                self.next = (i + 1) % n;
                return Poll::Ready((i, r));
            }
        }
        Poll::Pending
    }

    /// Read the datagrams waiting on endpoint `i` into `batch`, parked or not, without
    /// waiting: 0 when there are none (or the endpoint has no socket).
    pub fn recv_waiting(&mut self, i: usize, batch: &mut RecvBatch) -> io::Result<usize> {
        match self.endpoints.get(i).and_then(|e| e.socket.as_ref()) {
            Some(socket) => socket.recv_waiting(batch),
            None => Ok(0),
        }
    }

    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Park every socket's reading (see [`VrrpSocket::park`]).
    pub fn park(&mut self) {
        for socket in self.endpoints.iter_mut().filter_map(|e| e.socket.as_mut()) {
            socket.park();
        }
    }

    /// Put every socket's reading back into the runtime. A socket that cannot be registered
    /// again stays parked and is read on the loop's next deadline; that is logged.
    pub fn unpark(&mut self) {
        for ep in &mut self.endpoints {
            if let Some(socket) = &mut ep.socket
                && let Err(e) = socket.unpark()
            {
                tracing::warn!(
                    "{} ({}): cannot watch the VRRP socket again: {e}",
                    ep.ifname,
                    ep.family
                );
            }
        }
    }

    /// Whether any socket is parked.
    pub fn parked(&self) -> bool {
        self.endpoints
            .iter()
            .filter_map(|e| e.socket.as_ref())
            .any(VrrpSocket::is_parked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_conf::{UnicastPeer, VrrpInstance};

    fn instance(name: &str, vrid: u8, iface: Option<&str>, family: Family) -> VrrpInstance {
        let mut i = VrrpInstance::new(name, vrid, family);
        i.interface = iface.map(str::to_string);
        i
    }

    fn node(instances: Vec<VrrpInstance>) -> Node {
        let config = baton_conf::Config::build(|c| c.instances = instances);
        Node::new(&config, baton_vrrp::Environment::new())
    }

    #[test]
    fn one_endpoint_per_interface_and_family_with_each_group_once() {
        let mut c = instance("c", 3, Some("ens33"), Family::Ipv4);
        c.mcast_group = "224.0.0.99".parse().unwrap();
        let mut u = instance("u", 5, None, Family::Ipv4);
        u.unicast_peers.push(UnicastPeer {
            addr: "10.0.0.2".parse().unwrap(),
            min_ttl: None,
            max_ttl: None,
        });
        let s = Sockets::plan(&node(vec![
            instance("a", 1, Some("ens33"), Family::Ipv4),
            instance("b", 2, Some("ens33"), Family::Ipv4),
            c,
            instance("d", 4, Some("ens33"), Family::Ipv6),
            u,
        ]));
        let w: Vec<&Endpoint> = s.endpoints.iter().collect();
        assert_eq!(w.len(), 3);
        assert_eq!((&*w[0].ifname, w[0].family), ("ens33", Family::Ipv4));
        assert_eq!(
            w[0].groups,
            vec![
                "224.0.0.18".parse::<IpAddr>().unwrap(),
                "224.0.0.99".parse().unwrap()
            ]
        );
        assert_eq!(w[1].groups, vec!["ff02::12".parse::<IpAddr>().unwrap()]);
        // A unicast instance joins no group.
        assert_eq!(
            (&*w[2].ifname, w[2].family, w[2].groups.len()),
            ("", Family::Ipv4, 0)
        );
        // Instances behind each socket, which size its receive buffer.
        assert_eq!((w[0].instances, w[1].instances, w[2].instances), (3, 1, 1));
    }

    #[test]
    fn replanning_keeps_counters_of_endpoints_still_needed() {
        let a = instance("a", 1, Some("ens33"), Family::Ipv4);
        let b = instance("b", 1, Some("eth1"), Family::Ipv4);
        let mut s = Sockets::plan(&node(vec![a.clone(), b]));
        s.find_mut("ens33", Family::Ipv4).unwrap().stats.received = 7;
        s.replan(&node(vec![a]));
        assert_eq!(s.status().len(), 1);
        assert_eq!(s.find_mut("ens33", Family::Ipv4).unwrap().stats.received, 7);
        assert!(s.find_mut("eth1", Family::Ipv4).is_none());
    }

    #[test]
    fn wire_errors_are_counted_by_reason() {
        let mut w = WireErrors::default();
        w.count_parse(&baton_wire::Error::Carp);
        w.count_parse(&baton_wire::Error::Checksum {
            got: 1,
            expected: 2,
        });
        w.count_parse(&baton_wire::Error::Version(4));
        w.count_recv(&RecvError::NotVrrp(6));
        w.count_recv(&RecvError::Truncated);
        assert_eq!(
            (w.carp, w.checksum, w.version, w.ip_header, w.truncated),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(w.total(), 5);
    }
}
