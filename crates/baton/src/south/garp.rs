//! Gratuitous ARP and unsolicited Neighbor Advertisements, sent as whole Ethernet frames on an
//! AF_PACKET socket as keepalived sends them (frames from baton-wire, byte-identical to
//! keepalived's). The socket is opened with protocol 0, so it receives nothing: the kernel
//! never queues the segment's ARP and IPv6 traffic on it.
//!
//! The burst timing (how many, how far apart, the delayed second burst) is protocol and comes
//! from the VRRP core; this module sends one frame when asked.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use baton_wire::MacAddr;
use baton_wire::{arp, ndisc};
use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};

#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    #[error("{ifname}: {what}: {source}")]
    Io {
        ifname: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{ifname}: cannot build the frame: {source}")]
    Frame {
        ifname: String,
        #[source]
        source: baton_wire::Error,
    },
}

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

/// Sends announcements for the VIPs of one interface.
#[derive(Debug)]
pub struct Announcer {
    socket: Socket,
    ifname: String,
    ifindex: u32,
    mac: MacAddr,
}

/// The link-layer destination of a frame, as `sendto` on AF_PACKET wants it.
fn link_addr(ifindex: u32, protocol: u16, dst: MacAddr) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_storage is at least as large and as aligned as any sockaddr type,
    // sockaddr_ll included, and zeroed storage is a valid sockaddr_ll.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    ll.sll_protocol = protocol.to_be();
    ll.sll_ifindex = ifindex as libc::c_int;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&dst.0);
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised sockaddr_ll and `len` is its size.
    unsafe { SockAddr::new(storage, len) }
}

impl Announcer {
    /// Open the sender for interface `ifindex` whose hardware address is `mac`, in the
    /// calling thread's network namespace.
    pub fn open(ifname: &str, ifindex: u32, mac: [u8; 6]) -> Result<Announcer, AnnounceError> {
        let socket = Socket::new(Domain::PACKET, Type::RAW.nonblocking().cloexec(), None).map_err(
            |source| AnnounceError::Io {
                ifname: ifname.to_string(),
                what: "open AF_PACKET socket",
                source,
            },
        )?;
        Ok(Announcer {
            socket,
            ifname: ifname.to_string(),
            ifindex,
            mac: MacAddr(mac),
        })
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    fn send(
        &self,
        frame: &[u8],
        protocol: u16,
        dst: MacAddr,
        what: &'static str,
    ) -> Result<(), AnnounceError> {
        let to = link_addr(self.ifindex, protocol, dst);
        // Non-blocking: a full device queue loses this frame (the burst repeats it) instead
        // of stalling the daemon.
        self.socket
            .send_to(frame, &to)
            .map_err(|source| AnnounceError::Io {
                ifname: self.ifname.clone(),
                what,
                source,
            })?;
        Ok(())
    }

    /// Broadcast one gratuitous ARP for `vip`.
    pub fn send_garp(&self, vip: Ipv4Addr) -> Result<(), AnnounceError> {
        let mut buf = [0u8; arp::FRAME_LEN];
        let frame = arp::FrameRepr::gratuitous(self.mac, vip);
        let n = frame
            .emit(&mut buf)
            .map_err(|source| AnnounceError::Frame {
                ifname: self.ifname.clone(),
                source,
            })?;
        self.send(&buf[..n], ETH_P_ARP, frame.eth_dst, "send gratuitous ARP")
    }

    /// Send one unsolicited Neighbor Advertisement for `vip` to all nodes. `router` is the
    /// R flag: set when the interface forwards IPv6 (see [`ipv6_forwarding`]).
    pub fn send_na(&self, vip: Ipv6Addr, router: bool) -> Result<(), AnnounceError> {
        let mut buf = [0u8; ndisc::FRAME_LEN];
        let frame = ndisc::FrameRepr::unsolicited(self.mac, vip, router);
        let n = frame
            .emit(&mut buf)
            .map_err(|source| AnnounceError::Frame {
                ifname: self.ifname.clone(),
                source,
            })?;
        self.send(&buf[..n], ETH_P_IPV6, frame.eth_dst, "send unsolicited NA")
    }
}

/// Whether `ifname` forwards IPv6, which keepalived reflects in the NA's router flag. Read in
/// the calling thread's network namespace; unreadable means no.
pub fn ipv6_forwarding(ifname: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{ifname}/forwarding"))
        .is_ok_and(|s| s.trim() == "1")
}
