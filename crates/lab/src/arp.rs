//! ARP requests from inside a host over an AF_PACKET socket: "who holds 192.168.5.10 right
//! now?", answered with the MAC of every host that replies. That is the sharpest view of a
//! failover (which MAC owns the VIP, and when) and of a split brain (two MACs answer).

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::{AsIp, MacAddr};
use crate::error::IoContext;
use crate::icmp::{readable_within, retry, unreachable};
use crate::{Error, Host, Result};

const ETH_P_ARP: u16 = 0x0806;

/// An AF_PACKET socket bound to one interface of a host, asking for one IPv4 address.
#[derive(Debug)]
pub(crate) struct Arper {
    socket: Socket,
    request: Vec<u8>,
    target: Ipv4Addr,
}

impl Arper {
    /// Open the socket on `ifname`. Must run inside the host's network namespace (the
    /// interface lookup and the socket both belong to the calling thread's namespace).
    pub(crate) fn open(ifname: &str, target: Ipv4Addr) -> std::io::Result<Arper> {
        let ifindex = nix::net::if_::if_nametoindex(ifname).map_err(std::io::Error::from)?;
        let (mac, ip) = own_addresses(ifname)?;
        // Protocol 0 here and ETH_P_ARP at bind: the kernel then hooks the socket in once. A
        // protocol at creation would be unhooked and rehooked by bind, each waiting for an RCU
        // grace period (milliseconds). Closing it still waits for one.
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))?;
        bind_packet(&socket, ifindex, ETH_P_ARP)?;
        socket.set_nonblocking(true)?;
        Ok(Arper {
            socket,
            request: arp_request(mac, ip, target),
            target,
        })
    }

    /// Broadcast one request and collect the MACs that answer within `wait`.
    pub(crate) fn ask(&mut self, wait: Duration) -> std::io::Result<Vec<MacAddr>> {
        // Bound to an interface, a raw packet socket sends a whole frame without an address.
        let sent = match self.socket.send(&self.request) {
            Ok(n) => n,
            Err(e) if unreachable(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        if sent != self.request.len() {
            return Err(std::io::Error::other(format!(
                "sent {sent} of {} bytes",
                self.request.len()
            )));
        }
        let deadline = Instant::now() + wait;
        let mut answers = Vec::new();
        let mut buf = [0u8; 1600];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !readable_within(&self.socket, left)? {
                return Ok(answers);
            }
            match (&self.socket).read(&mut buf) {
                Ok(n) => {
                    if let Some(mac) = reply_from(&buf[..n], self.target)
                        && !answers.contains(&mac)
                    {
                        answers.push(mac);
                    }
                }
                Err(e) if retry(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Bind a packet socket to an interface, for ARP frames only.
pub(crate) fn bind_packet(socket: &Socket, ifindex: u32, protocol: u16) -> std::io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value, and bind reads exactly
    // `size_of::<sockaddr_ll>()` bytes from it.
    let rc = unsafe {
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = ifindex as i32;
        libc::bind(
            socket.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The interface's MAC and first IPv4 address (0.0.0.0 if it has none: an ARP probe, which
/// hosts answer too).
pub(crate) fn own_addresses(ifname: &str) -> std::io::Result<(MacAddr, Ipv4Addr)> {
    let mut mac = None;
    let mut ip = None;
    for ifa in nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)? {
        if ifa.interface_name != ifname {
            continue;
        }
        let Some(addr) = ifa.address else { continue };
        if let Some(link) = addr.as_link_addr().and_then(|l| l.addr()) {
            mac = Some(MacAddr(link));
        }
        if let (Some(v4), None) = (addr.as_sockaddr_in(), ip) {
            ip = Some(v4.ip());
        }
    }
    let mac = mac.ok_or_else(|| std::io::Error::other(format!("{ifname} has no MAC address")))?;
    Ok((mac, ip.unwrap_or(Ipv4Addr::UNSPECIFIED)))
}

/// A broadcast Ethernet frame holding an ARP request for `target`.
fn arp_request(mac: MacAddr, ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet, IPv4, request
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// The sender MAC of `frame` if it is an ARP reply from `target`.
fn reply_from(frame: &[u8], target: Ipv4Addr) -> Option<MacAddr> {
    let arp = frame.get(14..42)?;
    let is_reply =
        frame.get(12..14)? == ETH_P_ARP.to_be_bytes() && arp[..8] == [0, 1, 0x08, 0x00, 6, 4, 0, 2];
    (is_reply && arp[14..18] == target.octets())
        .then(|| MacAddr(arp[8..14].try_into().unwrap_or_default()))
}

impl Host {
    /// Ask on `ifname` who holds `addr` (IPv4); the MACs that answered within `timeout`
    /// (empty: nobody; two: a split brain).
    pub fn arping(&self, ifname: &str, addr: impl AsIp, timeout: Duration) -> Result<Vec<MacAddr>> {
        let target = ipv4(addr.as_ip()?)?;
        let mut arper = self
            .in_netns(|| Arper::open(ifname, target))?
            .ctx(|| format!("opening an ARP socket on {}:{ifname}", self.name()))?;
        arper
            .ask(timeout)
            .ctx(|| format!("asking for {target} from {}", self.name()))
    }
}

pub(crate) fn ipv4(ip: IpAddr) -> Result<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(_) => Err(Error::invalid("ARP target", format!("{ip} is not IPv4"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let mac = MacAddr([2, 0xba, 1, 2, 3, 0]);
        let f = arp_request(mac, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(f.len(), 42);
        assert_eq!(f[..6], [0xff; 6]);
        assert_eq!(f[12..14], [0x08, 0x06]);
        assert_eq!(f[20..22], [0, 1]);
        assert_eq!(f[38..42], [10, 0, 0, 2]);
    }

    #[test]
    fn replies_name_their_sender() {
        let them = MacAddr([2, 0xba, 9, 9, 9, 0]);
        let target = Ipv4Addr::new(10, 0, 0, 2);
        let mut reply = arp_request(them, target, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(reply_from(&reply, target), None, "a request is not a reply");
        reply[21] = 2;
        assert_eq!(reply_from(&reply, target), Some(them));
        assert_eq!(reply_from(&reply, Ipv4Addr::new(10, 0, 0, 3)), None);
        assert_eq!(reply_from(&reply[..30], target), None);
    }
}
