//! Adverts to the group as link-layer datagrams: an AF_PACKET `SOCK_DGRAM` socket beside an
//! interface's raw VRRP socket, carrying the same IP header and advert to the group's MAC.
//!
//! Why: an advert to the group always leaves by one interface for one MAC, yet through the
//! raw IP socket the kernel routes every one afresh — and since the host is itself a member
//! of the group, the route is built and freed for each packet (multicast routes to a joined
//! group are not cached) — then runs the IP output path. Handing the kernel the finished
//! datagram and its link-layer destination skips all of that; the kernel writes the
//! Ethernet header from the device (its current MAC as the source), and the frame leaves
//! through the device's queue and qdisc as before. What changes for the operator: adverts
//! to the group no longer pass the host's netfilter OUTPUT and POSTROUTING hooks (as
//! keepalived's own gratuitous ARPs never have); the receiving side is unchanged.
//!
//! Both families: an IPv6 advert gets the header the kernel would write for the raw socket
//! (no traffic class or flow label, hop limit 255, the link-local source the core chose).
//! Only Ethernet-type interfaces (VLANs, bonds, bridges, macvlan VMACs included) are framed;
//! elsewhere, and for unicast peers (which would need neighbour resolution), and for any
//! call the packet socket refuses, the raw IP socket sends as before.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use baton_wire::MacAddr;
use socket2::{Domain, Socket, Type};

/// The sending half: a packet socket with protocol 0, so the kernel queues nothing on it.
#[derive(Debug)]
pub struct AdvertFrames {
    socket: OwnedFd,
    ifindex: u32,
}

impl AdvertFrames {
    /// A frame sender for interface `ifindex` if it is an Ethernet-type interface and a
    /// packet socket can be opened in the calling thread's network namespace; `None` sends
    /// everything through the raw IP socket.
    pub fn open(ifname: &str, ifindex: u32) -> Option<AdvertFrames> {
        let socket = Socket::new(Domain::PACKET, Type::DGRAM.nonblocking().cloexec(), None).ok()?;
        if !is_ethernet(&socket, ifname) {
            return None;
        }
        Some(AdvertFrames {
            socket: socket.into(),
            ifindex,
        })
    }

    pub fn fd(&self) -> i32 {
        self.socket.as_raw_fd()
    }

    /// Where a datagram to `group` goes: this interface, the group's family and MAC.
    pub fn destination(&self, group: IpAddr) -> libc::sockaddr_ll {
        let (protocol, mac) = match group {
            IpAddr::V4(g) => (libc::ETH_P_IP, MacAddr::ipv4_multicast(&g)),
            IpAddr::V6(g) => (libc::ETH_P_IPV6, MacAddr::ipv6_multicast(&g)),
        };
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut ll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
        ll.sll_protocol = (protocol as u16).to_be();
        ll.sll_ifindex = self.ifindex as libc::c_int;
        ll.sll_halen = 6;
        ll.sll_addr[..6].copy_from_slice(&mac.octets());
        ll
    }
}

/// Errors after which the packet socket will not do better next time: the interface keeps
/// its adverts on the raw IP socket from then on. Others (a full queue, a device going
/// down) only send that call's adverts the old way.
pub fn is_lasting(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::EACCES | libc::EINVAL | libc::EOPNOTSUPP | libc::EAFNOSUPPORT)
    )
}

/// The interface's link type is Ethernet (`ARPHRD_ETHER`).
fn is_ethernet(socket: &Socket, ifname: &str) -> bool {
    // SAFETY: all-zero is a valid ifreq.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = ifname.as_bytes();
    if name.len() >= req.ifr_name.len() {
        return false;
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the NUL-terminated name and writes the hardware address
    // into the ifreq it is given, which lives across the call.
    let r = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    // SAFETY: on success the kernel filled ifru_hwaddr.
    r == 0 && unsafe { req.ifr_ifru.ifru_hwaddr.sa_family } == libc::ARPHRD_ETHER
}
