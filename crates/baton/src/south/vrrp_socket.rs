//! The raw VRRP socket: one per interface and address family, IP protocol 112, bound to its
//! device, joined to the VRRP group on that device, sending with TTL / hop limit 255.
//!
//! IPv4 is sent *without* `IP_HDRINCL`. keepalived builds the IPv4 header itself to get TOS
//! 0xc0 (internetwork control), TTL 255 and DF clear; every one of those is a socket option
//! (`IP_TOS`, `IP_TTL` / `IP_MULTICAST_TTL`, `IP_MTU_DISCOVER = IP_PMTUDISC_DONT`), and the
//! source is pinned per packet with `IP_PKTINFO`. Letting the kernel write the header keeps
//! the identification field, the header checksum and output routing the kernel's job, and the
//! packet on the wire is the same. Received IPv4 datagrams come with their header either way,
//! which is where the TTL is read.
//!
//! IPv6 gets the hop limit and the destination from `IPV6_RECVHOPLIMIT` /
//! `IPV6_RECVPKTINFO` and the source from the socket address. The kernel's `IPV6_CHECKSUM`
//! offload is left off: baton-wire verifies the checksum, so a bad one is counted rather than
//! silently dropped.
//!
//! Receiving never allocates: the caller owns the packet buffer and the socket owns one
//! control-message buffer, reused for every datagram.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};
use std::task::{Context, Poll, ready};

use baton_wire::{Family, IPPROTO_VRRP, VRRP_TTL, ipv4::Ipv4Repr};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// TOS keepalived gives adverts: precedence "internetwork control".
pub const TOS_INTERNETWORK_CONTROL: u32 = 0xc0;
/// Large enough for any VRRP datagram (an Ethernet MTU); larger ones are truncated and dropped.
pub const RECV_BUFFER: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("{ifname}: {what}: {source}")]
    Io {
        ifname: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{ifname}: {what}: address {addr} is not {family}")]
    WrongFamily {
        ifname: String,
        what: &'static str,
        addr: IpAddr,
        family: Family,
    },
}

/// One datagram as the protocol core needs it. The payload borrows the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'b> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) the datagram arrived with.
    pub ttl: u8,
    /// The VRRP message (IP payload).
    pub payload: &'b [u8],
}

/// Why a datagram could not be handed on.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    #[error("receive: {0}")]
    Io(#[from] io::Error),
    #[error("malformed IPv4 header: {0}")]
    Ipv4(baton_wire::Error),
    #[error("IPv4 datagram with protocol {0}, not VRRP")]
    NotVrrp(u8),
    #[error("datagram larger than the receive buffer")]
    Truncated,
    #[error("IPv6 datagram without {0}")]
    MissingAncillary(&'static str),
}

/// Room for an in6_pktinfo and a hop-limit control message, aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Debug)]
struct ControlBuffer([u8; 128]);

/// Most adverts handed to the kernel in one `sendmmsg`.
pub const MAX_BATCH: usize = 64;

/// One message of a batch: where it goes and where its bytes lie in the batch's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub start: usize,
    pub len: usize,
}

/// Room for one IP_PKTINFO or IPV6_PKTINFO control message (CMSG_SPACE of in6_pktinfo is
/// 40 on 64-bit Linux).
const PKTINFO_CMSG: usize = 48;

/// One control message, aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy)]
struct PktinfoCmsg([u8; PKTINFO_CMSG]);

impl PktinfoCmsg {
    /// Write one control message carrying `value`; returns the bytes it takes.
    fn put<T: Copy>(&mut self, level: libc::c_int, kind: libc::c_int, value: &T) -> usize {
        let size = std::mem::size_of::<T>() as libc::c_uint;
        // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
        let (space, len) = unsafe { (libc::CMSG_SPACE(size), libc::CMSG_LEN(size)) };
        assert!(
            space as usize <= PKTINFO_CMSG,
            "pktinfo control message too large"
        );
        let header = libc::cmsghdr {
            cmsg_len: len as _,
            cmsg_level: level,
            cmsg_type: kind,
        };
        let base = self.0.as_mut_ptr();
        // SAFETY: the buffer is 8-aligned and holds CMSG_SPACE(size) bytes (asserted): the
        // header at its start and the value at the header's aligned end (CMSG_LEN - size).
        unsafe {
            std::ptr::write(base.cast::<libc::cmsghdr>(), header);
            let data = base.add(len as usize - size as usize);
            std::ptr::write_unaligned(data.cast::<T>(), *value);
        }
        space as usize
    }
}

/// A raw VRRP socket on one interface for one family.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    family: Family,
    ifname: String,
    ifindex: u32,
    control: Box<ControlBuffer>,
}

impl VrrpSocket {
    /// Open the socket in the calling thread's network namespace, bound to `ifname`.
    /// Must be called inside a tokio runtime.
    pub fn open(ifname: &str, ifindex: u32, family: Family) -> Result<VrrpSocket, SocketError> {
        let err = |what: &'static str| {
            let ifname = ifname.to_string();
            move |source| SocketError::Io {
                ifname,
                what,
                source,
            }
        };
        let domain = match family {
            Family::Ipv4 => Domain::IPV4,
            Family::Ipv6 => Domain::IPV6,
        };
        let s = Socket::new(
            domain,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .map_err(err("open raw socket for protocol 112"))?;
        s.bind_device(Some(ifname.as_bytes()))
            .map_err(err("SO_BINDTODEVICE"))?;
        match family {
            Family::Ipv4 => {
                s.set_tos_v4(TOS_INTERNETWORK_CONTROL)
                    .map_err(err("IP_TOS"))?;
                s.set_ttl_v4(u32::from(VRRP_TTL)).map_err(err("IP_TTL"))?;
                s.set_multicast_ttl_v4(u32::from(VRRP_TTL))
                    .map_err(err("IP_MULTICAST_TTL"))?;
                s.set_multicast_loop_v4(false)
                    .map_err(err("IP_MULTICAST_LOOP"))?;
                // The output interface comes from SO_BINDTODEVICE and IP_PKTINFO.
                set_int_option(
                    &s,
                    libc::IPPROTO_IP,
                    libc::IP_MTU_DISCOVER,
                    libc::IP_PMTUDISC_DONT,
                )
                .map_err(err("IP_MTU_DISCOVER"))?;
            }
            Family::Ipv6 => {
                s.set_unicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(err("IPV6_UNICAST_HOPS"))?;
                s.set_multicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(err("IPV6_MULTICAST_HOPS"))?;
                s.set_multicast_loop_v6(false)
                    .map_err(err("IPV6_MULTICAST_LOOP"))?;
                s.set_multicast_if_v6(ifindex)
                    .map_err(err("IPV6_MULTICAST_IF"))?;
                setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true)
                    .map_err(|e| err("IPV6_RECVHOPLIMIT")(e.into()))?;
                setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true)
                    .map_err(|e| err("IPV6_RECVPKTINFO")(e.into()))?;
            }
        }
        // SAFETY: the socket owns its descriptor, which nothing else closes or replaces while
        // the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register(s) }
            .map_err(|e| err("register with the runtime")(e.into()))?;
        Ok(VrrpSocket {
            fd,
            family,
            ifname: ifname.to_string(),
            ifindex,
            control: Box::new(ControlBuffer([0; 128])),
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    fn check_family(&self, what: &'static str, addr: IpAddr) -> Result<(), SocketError> {
        if Family::of(&addr) == self.family {
            Ok(())
        } else {
            Err(SocketError::WrongFamily {
                ifname: self.ifname.clone(),
                what,
                addr,
                family: self.family,
            })
        }
    }

    fn io_err(&self, what: &'static str) -> impl FnOnce(io::Error) -> SocketError + '_ {
        move |source| SocketError::Io {
            ifname: self.ifname.clone(),
            what,
            source,
        }
    }

    /// Join the VRRP group (224.0.0.18, ff02::12 or the configured one) on this interface.
    pub fn join(&self, group: IpAddr) -> Result<(), SocketError> {
        self.check_family("join", group)?;
        let s = self.fd.get_ref();
        match group {
            IpAddr::V4(g) => s
                .join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(self.ifindex))
                .map_err(self.io_err("IP_ADD_MEMBERSHIP")),
            IpAddr::V6(g) => s
                .join_multicast_v6(&g, self.ifindex)
                .map_err(self.io_err("IPV6_ADD_MEMBERSHIP")),
        }
    }

    pub fn leave(&self, group: IpAddr) -> Result<(), SocketError> {
        self.check_family("leave", group)?;
        let s = self.fd.get_ref();
        match group {
            IpAddr::V4(g) => s
                .leave_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(self.ifindex))
                .map_err(self.io_err("IP_DROP_MEMBERSHIP")),
            IpAddr::V6(g) => s
                .leave_multicast_v6(&g, self.ifindex)
                .map_err(self.io_err("IPV6_DROP_MEMBERSHIP")),
        }
    }

    /// Make room for `bytes` of datagrams waiting to be read: SO_RCVBUFFORCE, which root may
    /// set past `net.core.rmem_max`, else SO_RCVBUF up to that limit. Never shrinks the
    /// buffer.
    pub fn reserve_receive_room(&self, bytes: usize) -> Result<(), SocketError> {
        let s = self.fd.get_ref();
        // The kernel reports twice the size asked for (the rest is its bookkeeping).
        let current = s.recv_buffer_size().map_err(self.io_err("SO_RCVBUF"))? / 2;
        if bytes <= current {
            return Ok(());
        }
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        match set_int_option(s, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, value) {
            Ok(()) => Ok(()),
            Err(_) => s
                .set_recv_buffer_size(bytes)
                .map_err(self.io_err("SO_RCVBUF")),
        }
    }

    /// The receive buffer's size as the kernel accounts it (twice what was asked for).
    pub fn receive_buffer(&self) -> Result<usize, SocketError> {
        self.fd
            .get_ref()
            .recv_buffer_size()
            .map_err(self.io_err("SO_RCVBUF"))
    }

    /// TTL / hop limit for unicast adverts (`unicast_ttl`); 255 unless configured.
    pub fn set_unicast_ttl(&self, ttl: u8) -> Result<(), SocketError> {
        let s = self.fd.get_ref();
        match self.family {
            Family::Ipv4 => s.set_ttl_v4(u32::from(ttl)).map_err(self.io_err("IP_TTL")),
            Family::Ipv6 => s
                .set_unicast_hops_v6(u32::from(ttl))
                .map_err(self.io_err("IPV6_UNICAST_HOPS")),
        }
    }

    /// Send one VRRP message from `src` (an address of this interface; the one the checksum
    /// was computed with) to `dst` (the group or a unicast peer).
    pub async fn send(&self, src: IpAddr, dst: IpAddr, message: &[u8]) -> Result<(), SocketError> {
        let one = [Outgoing {
            src,
            dst,
            start: 0,
            len: message.len(),
        }];
        self.send_batch(message, &one).await.map(drop)
    }

    /// Send the first of `msgs` and as many after it as the kernel takes in the same call
    /// (at most [`MAX_BATCH`]), waiting only for room in the socket's buffer. Returns how many
    /// went; the caller sends the rest with another call.
    pub async fn send_batch(&self, buf: &[u8], msgs: &[Outgoing]) -> Result<usize, SocketError> {
        self.check_batch(buf, msgs)?;
        if msgs.is_empty() {
            return Ok(0);
        }
        loop {
            let mut ready = self.fd.writable().await.map_err(self.io_err("send"))?;
            match ready.try_io(|_| self.sendmmsg_now(buf, msgs)) {
                Ok(r) => return r.map_err(self.io_err("send")),
                // The buffer was full: readiness is cleared, wait for room.
                Err(_would_block) => continue,
            }
        }
    }

    fn check_batch(&self, buf: &[u8], msgs: &[Outgoing]) -> Result<(), SocketError> {
        for m in msgs.iter().take(MAX_BATCH) {
            self.check_family("send source", m.src)?;
            self.check_family("send destination", m.dst)?;
            if m.start.checked_add(m.len).is_none_or(|end| end > buf.len()) {
                return Err(SocketError::Io {
                    ifname: self.ifname.clone(),
                    what: "send",
                    source: io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "message outside its buffer",
                    ),
                });
            }
        }
        Ok(())
    }

    /// Hand the kernel up to [`MAX_BATCH`] messages at once (`sendmmsg`, never waiting), each
    /// from its own source to its own destination, their bytes at `msgs[i].start..` in `buf`
    /// (checked by [`VrrpSocket::check_batch`]). Returns how many the kernel took: fewer than
    /// asked when the socket's buffer filled. An error means the first message was not sent;
    /// `WouldBlock` that the buffer is full.
    ///
    /// One system call for every advert due in the same wake-up, with no allocation: the
    /// control messages and addresses live on the stack.
    fn sendmmsg_now(&self, buf: &[u8], msgs: &[Outgoing]) -> io::Result<usize> {
        let msgs = &msgs[..msgs.len().min(MAX_BATCH)];
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut names: [libc::sockaddr_in6; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut controls = [PktinfoCmsg([0; PKTINFO_CMSG]); MAX_BATCH];
        // SAFETY: as above; every pointer in them is set below before the call.
        let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for (k, m) in msgs.iter().enumerate() {
            iovs[k] = libc::iovec {
                iov_base: buf[m.start..].as_ptr() as *mut libc::c_void,
                iov_len: m.len,
            };
            let name = &mut names[k];
            let (name_len, control_len) = match (m.src, m.dst) {
                (IpAddr::V4(src), IpAddr::V4(dst)) => {
                    let sin = libc::sockaddr_in {
                        sin_family: libc::AF_INET as libc::sa_family_t,
                        sin_port: 0,
                        sin_addr: libc::in_addr {
                            s_addr: u32::from(dst).to_be(),
                        },
                        sin_zero: [0; 8],
                    };
                    // SAFETY: a sockaddr_in (16 bytes) fits in the sockaddr_in6 (28 bytes)
                    // it is written over, whose alignment is at least as strict.
                    unsafe { std::ptr::write((name as *mut libc::sockaddr_in6).cast(), sin) };
                    let info = pktinfo_v4(self.ifindex, src);
                    let len = controls[k].put(libc::IPPROTO_IP, libc::IP_PKTINFO, &info);
                    (std::mem::size_of::<libc::sockaddr_in>(), len)
                }
                (IpAddr::V6(src), IpAddr::V6(dst)) => {
                    *name = libc::sockaddr_in6 {
                        sin6_family: libc::AF_INET6 as libc::sa_family_t,
                        sin6_port: 0,
                        sin6_flowinfo: 0,
                        sin6_addr: libc::in6_addr {
                            s6_addr: dst.octets(),
                        },
                        sin6_scope_id: self.ifindex,
                    };
                    let info = pktinfo_v6(self.ifindex, src);
                    let len = controls[k].put(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &info);
                    (std::mem::size_of::<libc::sockaddr_in6>(), len)
                }
                // check_batch refuses these before any call.
                _ => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
            };
            hdrs[k].msg_hdr.msg_name = (name as *mut libc::sockaddr_in6).cast();
            hdrs[k].msg_hdr.msg_namelen = name_len as libc::socklen_t;
            hdrs[k].msg_hdr.msg_iov = &mut iovs[k];
            hdrs[k].msg_hdr.msg_iovlen = 1;
            hdrs[k].msg_hdr.msg_control = controls[k].0.as_mut_ptr().cast();
            hdrs[k].msg_hdr.msg_controllen = control_len as _;
        }
        // SAFETY: every header points into `names`, `iovs`, `controls` and `buf`, all alive
        // and unmoved across the call; `msgs.len()` headers are initialised.
        let r = unsafe {
            libc::sendmmsg(
                self.fd.get_ref().as_raw_fd(),
                hdrs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let sent = r as usize;
        // A raw socket takes a datagram whole or not at all.
        if let Some(k) = (0..sent).find(|&k| hdrs[k].msg_len as usize != msgs[k].len) {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short send of message {k}"),
            ));
        }
        Ok(sent)
    }

    /// Wait for the next datagram and read it into `buf` (at least [`RECV_BUFFER`] bytes
    /// is sensible). Returns source, destination, TTL and the VRRP message within `buf`.
    pub async fn recv<'b>(&mut self, buf: &'b mut [u8]) -> Result<Received<'b>, RecvError> {
        let family = self.family;
        let control = &mut self.control.0;
        let (len, meta) = self
            .fd
            .async_io(Interest::READABLE, |s| {
                recv_once(s.as_fd().as_raw_fd(), family, buf, control)
            })
            .await?;
        finish(family, &buf[..len], meta)
    }

    /// Poll for the next datagram and read it into `buf`. The result owns nothing of `buf`,
    /// so a caller polling several sockets with one buffer can pick the ready one and then
    /// look at the bytes with [`VrrpSocket::received`].
    pub fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Datagram>> {
        let family = self.family;
        let control = &mut self.control.0;
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            match guard.try_io(|s| recv_once(s.as_fd().as_raw_fd(), family, buf, control)) {
                Ok(r) => return Poll::Ready(r.map(|(len, meta)| Datagram { len, meta })),
                // Spurious readiness: the guard cleared it; wait again.
                Err(_would_block) => continue,
            }
        }
    }

    /// The datagram [`VrrpSocket::poll_recv`] read into `buf`, as the protocol core needs it.
    pub fn received<'b>(&self, d: Datagram, buf: &'b [u8]) -> Result<Received<'b>, RecvError> {
        let data = buf.get(..d.len).ok_or(RecvError::Truncated)?;
        finish(self.family, data, d.meta)
    }
}

/// One datagram read by [`VrrpSocket::poll_recv`]: its length in the caller's buffer and
/// what the kernel said about it.
#[derive(Debug, Clone, Copy)]
pub struct Datagram {
    len: usize,
    meta: Meta,
}

/// What the kernel said besides the bytes.
#[derive(Debug, Clone, Copy)]
struct Meta {
    src: Option<IpAddr>,
    dst: Option<Ipv6Addr>,
    hop_limit: Option<u8>,
    truncated: bool,
}

fn recv_once(
    fd: std::os::fd::RawFd,
    family: Family,
    buf: &mut [u8],
    control: &mut [u8; 128],
) -> io::Result<(usize, Meta)> {
    let mut iov = [IoSliceMut::new(buf)];
    let cmsg = match family {
        Family::Ipv4 => None,
        Family::Ipv6 => Some(&mut control[..]),
    };
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, cmsg, MsgFlags::empty())
        .map_err(io::Error::from)?;
    let mut meta = Meta {
        src: msg.address.and_then(|a| {
            a.as_sockaddr_in()
                .map(|s| IpAddr::V4(s.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
        }),
        dst: None,
        hop_limit: None,
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
    };
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    meta.dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                }
                ControlMessageOwned::Ipv6HopLimit(h) => meta.hop_limit = u8::try_from(h).ok(),
                _ => {}
            }
        }
    }
    Ok((msg.bytes, meta))
}

fn finish(family: Family, data: &[u8], meta: Meta) -> Result<Received<'_>, RecvError> {
    if meta.truncated {
        return Err(RecvError::Truncated);
    }
    match family {
        Family::Ipv4 => {
            let (ip, payload) = Ipv4Repr::parse(data).map_err(RecvError::Ipv4)?;
            if ip.protocol != IPPROTO_VRRP {
                return Err(RecvError::NotVrrp(ip.protocol));
            }
            Ok(Received {
                src: IpAddr::V4(ip.src),
                dst: IpAddr::V4(ip.dst),
                ttl: ip.ttl,
                payload,
            })
        }
        Family::Ipv6 => Ok(Received {
            src: meta
                .src
                .ok_or(RecvError::MissingAncillary("source address"))?,
            dst: IpAddr::V6(
                meta.dst
                    .ok_or(RecvError::MissingAncillary("IPV6_PKTINFO"))?,
            ),
            ttl: meta
                .hop_limit
                .ok_or(RecvError::MissingAncillary("IPV6_HOPLIMIT"))?,
            payload: data,
        }),
    }
}

/// An integer socket option neither socket2 nor nix offers (IP_MTU_DISCOVER).
fn set_int_option(
    s: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the descriptor is open for the duration of the call and the option value is a
    // live c_int whose size is passed alongside.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn pktinfo_v4(ifindex: u32, src: Ipv4Addr) -> libc::in_pktinfo {
    libc::in_pktinfo {
        ipi_ifindex: ifindex as libc::c_int,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from(src).to_be(),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    }
}

fn pktinfo_v6(ifindex: u32, src: Ipv6Addr) -> libc::in6_pktinfo {
    libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: ifindex,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_datagram_yields_header_fields_and_payload() {
        // IPv4 header (TTL 255, proto 112, 10.0.0.1 → 224.0.0.18) and a 4-byte payload.
        let mut d = [
            0x45, 0xc0, 0, 24, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18, 1, 2, 3, 4,
        ];
        let meta = Meta {
            src: None,
            dst: None,
            hop_limit: None,
            truncated: false,
        };
        let r = finish(Family::Ipv4, &d, meta).unwrap();
        assert_eq!(r.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.dst, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)));
        assert_eq!(r.ttl, 255);
        assert_eq!(r.payload, &[1, 2, 3, 4]);
        d[9] = 6;
        assert!(matches!(
            finish(Family::Ipv4, &d, meta),
            Err(RecvError::NotVrrp(6))
        ));
        assert!(matches!(
            finish(Family::Ipv4, &d[..10], meta),
            Err(RecvError::Ipv4(_))
        ));
        let t = Meta {
            truncated: true,
            ..meta
        };
        assert!(matches!(
            finish(Family::Ipv4, &d, t),
            Err(RecvError::Truncated)
        ));
    }

    #[test]
    fn ipv6_datagram_needs_its_ancillary_data() {
        let meta = Meta {
            src: Some("fe80::1".parse().unwrap()),
            dst: None,
            hop_limit: Some(255),
            truncated: false,
        };
        assert!(matches!(
            finish(Family::Ipv6, &[0u8; 8], meta),
            Err(RecvError::MissingAncillary("IPV6_PKTINFO"))
        ));
        let ok = Meta {
            dst: Some(baton_wire::MCAST_GROUP_V6),
            ..meta
        };
        let r = finish(Family::Ipv6, &[9u8; 8], ok).unwrap();
        assert_eq!(r.ttl, 255);
        assert_eq!(r.dst, IpAddr::V6(baton_wire::MCAST_GROUP_V6));
        assert_eq!(r.payload, &[9u8; 8]);
    }
}
