//! The raw VRRP socket: one per interface and address family, IP protocol 112, bound to its
//! device, joined to the VRRP group on that device, sending with TTL / hop limit 255.
//!
//! IPv4 is sent with `IP_HDRINCL`, as keepalived sends it: baton writes the header (TOS 0xc0,
//! internetwork control; TTL 255, or `unicast_ttl` to a unicast peer; DF clear; the source
//! the core chose, and an identification counted per socket as keepalived counts one per
//! instance, and the header checksum) in front of each advert, and the kernel routes the
//! packet out of the socket's device — or, for an advert to the group on an Ethernet-type
//! interface, takes the finished datagram as a frame to the group's MAC
//! ([`super::advert_frames`]: no route, no IP output path). (An identification left zero
//! the kernel would pick itself, hashing the addresses: a fiftieth of a master's CPU per
//! advert at thousands of instances.) The kernel's own header path (`ip_append_data`, a control message naming the
//! source, and the check that the source is local) cost a master of thousands of instances
//! about a tenth of its CPU per advert; the packet on the wire is the same. Received IPv4
//! datagrams come with their header either way, which is where the TTL is read.
//!
//! IPv6 gets the hop limit and the destination from `IPV6_RECVHOPLIMIT` /
//! `IPV6_RECVPKTINFO` and the source from the socket address. The kernel's `IPV6_CHECKSUM`
//! offload is left off: baton-wire verifies the checksum, so a bad one is counted rather than
//! silently dropped.
//!
//! Receiving never allocates: the caller owns the packet buffers (a [`RecvBatch`], read with
//! one `recvmmsg` for every datagram waiting); single reads (`recv`) go through the same read
//! into a one-datagram batch of the socket's own. Every datagram carries the kernel's arrival
//! time (`SO_TIMESTAMPNS`), so an advert read late (the loop was busy, or its sockets parked)
//! still moves the timers from when it arrived.
//!
//! Reading is registered with the event loop through a second descriptor of the socket, so
//! it can be *parked*: taken out of the loop's epoll set while sends stay registered. A
//! backup that hears thousands of adverts a second would otherwise be woken for every few of
//! them; parked, it reads them in batches when its timer says (see `runtime::receive`).

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use baton_wire::{Family, IPPROTO_VRRP, VRRP_TTL, ipv4::Ipv4Repr, ipv6::Ipv6Repr};

use super::advert_frames::{self, AdvertFrames};
use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// TOS keepalived gives adverts: precedence "internetwork control".
pub const TOS_INTERNETWORK_CONTROL: u32 = 0xc0;
/// Large enough for any VRRP datagram (an Ethernet MTU); larger ones are truncated and dropped.
pub const RECV_BUFFER: usize = 2048;
/// The largest datagram VRRP can produce (IPv4 header with options, 255 IPv6 addresses): one
/// slot of a [`RecvBatch`]. Anything larger is truncated and counted.
pub const MAX_DATAGRAM: usize = 60 + 8 + 255 * 16 + 8;
/// Most datagrams one `recvmmsg` reads.
pub const MAX_RECV_BATCH: usize = 32;

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
    /// When the kernel took the datagram in (CLOCK_REALTIME, since the Unix epoch), if it
    /// said.
    pub arrived: Option<Duration>,
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

/// Room for an in6_pktinfo, a hop-limit and a timestamp control message, aligned for
/// `cmsghdr`.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy)]
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

/// Room for one IPV6_PKTINFO control message (CMSG_SPACE of in6_pktinfo is
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
    /// The socket, registered with the runtime for writability only: sends wait for room.
    fd: AsyncFd<Socket>,
    /// A duplicate descriptor of the same socket for reading, registered for readability;
    /// `None` while parked.
    read: Option<AsyncFd<OwnedFd>>,
    /// The reading descriptor while parked: out of the runtime's epoll set, so arriving
    /// datagrams wake nobody.
    parked: Option<OwnedFd>,
    family: Family,
    ifname: String,
    ifindex: u32,
    /// The buffers of [`VrrpSocket::recv`], made on its first call.
    single: Option<RecvBatch>,
    /// The TTL an IPv4 advert to a unicast peer carries in the header baton writes.
    unicast_ttl: std::sync::atomic::AtomicU8,
    /// The identification of the last IPv4 advert sent; never zero on the wire.
    ident: std::sync::atomic::AtomicU16,
    /// Adverts to a group go out as frames through this, where the interface takes them
    /// ([`advert_frames`]).
    frames: Option<AdvertFrames>,
    /// The packet socket refused adverts for good: everything through the raw socket.
    frames_off: std::sync::atomic::AtomicBool,
}

/// The next IPv4 identification from `counter`: counts up, skipping zero (which the kernel
/// would replace with one of its own).
fn next_ident(counter: &std::sync::atomic::AtomicU16) -> u16 {
    use std::sync::atomic::Ordering::Relaxed;
    let id = counter.fetch_add(1, Relaxed).wrapping_add(1);
    if id != 0 {
        return id;
    }
    counter.fetch_add(1, Relaxed).wrapping_add(1)
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
                s.set_header_included_v4(true).map_err(err("IP_HDRINCL"))?;
                // The output interface comes from SO_BINDTODEVICE.
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
        setsockopt(&s, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| err("SO_TIMESTAMPNS")(e.into()))?;
        let reading = s
            .as_fd()
            .try_clone_to_owned()
            .map_err(err("duplicate the descriptor for reading"))?;
        // SAFETY: each descriptor is owned by what is registered, which nothing else closes
        // or replaces while the AsyncFd holds it.
        let read = unsafe { AsyncFd::register_with_interest(reading, Interest::READABLE) }
            .map_err(|e| err("register with the runtime")(e.into()))?;
        // SAFETY: as above.
        let fd = unsafe { AsyncFd::register_with_interest(s, Interest::WRITABLE) }
            .map_err(|e| err("register with the runtime")(e.into()))?;
        Ok(VrrpSocket {
            fd,
            read: Some(read),
            parked: None,
            family,
            ifname: ifname.to_string(),
            ifindex,
            single: None,
            unicast_ttl: std::sync::atomic::AtomicU8::new(VRRP_TTL),
            ident: std::sync::atomic::AtomicU16::new(0),
            frames: AdvertFrames::open(ifname, ifindex),
            frames_off: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// Adverts to the group leave as frames ([`advert_frames`]) rather than through the raw
    /// socket's IP output path.
    pub fn sends_frames(&self) -> bool {
        self.frames.is_some() && !self.frames_off.load(std::sync::atomic::Ordering::Relaxed)
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
            Family::Ipv4 => {
                // The header baton writes carries it.
                self.unicast_ttl
                    .store(ttl, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
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
    ///
    /// Adverts to a group go out as frames where the interface has an
    /// [`AdvertFrames`] sender; one call sends the run of messages at the front that go the
    /// same way. A run the packet socket refuses is sent through the raw socket instead.
    fn sendmmsg_now(&self, buf: &[u8], msgs: &[Outgoing]) -> io::Result<usize> {
        let msgs = &msgs[..msgs.len().min(MAX_BATCH)];
        let frames = self
            .frames
            .as_ref()
            .filter(|_| !self.frames_off.load(std::sync::atomic::Ordering::Relaxed));
        let framed = |m: &Outgoing| frames.is_some() && m.dst.is_multicast();
        let Some(first) = msgs.first() else {
            return Ok(0);
        };
        let way = framed(first);
        let run = msgs.iter().take_while(|m| framed(m) == way).count();
        let msgs = &msgs[..run];
        if let (true, Some(frames)) = (way, frames) {
            match self.sendmmsg_via(buf, msgs, Some(frames)) {
                Ok(sent) => return Ok(sent),
                // Some went: sending them again the other way would repeat them.
                Err(e) if e.kind() == io::ErrorKind::WriteZero => return Err(e),
                Err(e) => {
                    if advert_frames::is_lasting(&e) {
                        self.frames_off
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(
                            "{}: adverts to the group go through the raw IP socket from now \
                             on: the packet socket refused them: {e}",
                            self.ifname
                        );
                    }
                }
            }
        }
        self.sendmmsg_via(buf, msgs, None)
    }

    /// [`VrrpSocket::sendmmsg_now`] through the raw socket, or through `frames` (every
    /// message then an advert to a group).
    fn sendmmsg_via(
        &self,
        buf: &[u8],
        msgs: &[Outgoing],
        frames: Option<&AdvertFrames>,
    ) -> io::Result<usize> {
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut names: [libc::sockaddr_in6; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut controls = [PktinfoCmsg([0; PKTINFO_CMSG]); MAX_BATCH];
        // The IP header baton writes, then the advert: every IPv4 advert, and IPv6 ones
        // sent as frames.
        let mut headers = [[0u8; baton_wire::ipv6::HEADER_LEN]; MAX_BATCH];
        // SAFETY: as above; every pointer in them is set below before the call.
        let mut iovs: [[libc::iovec; 2]; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let unicast_ttl = self.unicast_ttl.load(std::sync::atomic::Ordering::Relaxed);
        for (k, m) in msgs.iter().enumerate() {
            let payload = libc::iovec {
                iov_base: buf[m.start..].as_ptr() as *mut libc::c_void,
                iov_len: m.len,
            };
            let name = &mut names[k];
            let (name_len, control_len, iov_count) = match (m.src, m.dst, frames) {
                (IpAddr::V4(src), IpAddr::V4(dst), _) => {
                    let name_len = match frames {
                        Some(f) => {
                            // SAFETY: a sockaddr_ll (20 bytes) fits in the sockaddr_in6 (28
                            // bytes) it is written over, whose alignment is at least as strict.
                            unsafe {
                                std::ptr::write(
                                    (name as *mut libc::sockaddr_in6).cast(),
                                    f.destination(IpAddr::V4(dst)),
                                )
                            };
                            std::mem::size_of::<libc::sockaddr_ll>()
                        }
                        None => {
                            let sin = libc::sockaddr_in {
                                sin_family: libc::AF_INET as libc::sa_family_t,
                                sin_port: 0,
                                sin_addr: libc::in_addr {
                                    s_addr: u32::from(dst).to_be(),
                                },
                                sin_zero: [0; 8],
                            };
                            // SAFETY: as above, for a sockaddr_in (16 bytes).
                            unsafe {
                                std::ptr::write((name as *mut libc::sockaddr_in6).cast(), sin)
                            };
                            std::mem::size_of::<libc::sockaddr_in>()
                        }
                    };
                    let ip = Ipv4Repr {
                        src,
                        dst,
                        ttl: if dst.is_multicast() {
                            VRRP_TTL
                        } else {
                            unicast_ttl
                        },
                        protocol: IPPROTO_VRRP,
                        header_len: baton_wire::ipv4::MIN_HEADER_LEN,
                        payload_len: m.len,
                    };
                    let len = ip
                        .emit(
                            &mut headers[k],
                            TOS_INTERNETWORK_CONTROL as u8,
                            next_ident(&self.ident),
                        )
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
                    iovs[k][0] = libc::iovec {
                        iov_base: headers[k].as_mut_ptr().cast(),
                        iov_len: len,
                    };
                    iovs[k][1] = payload;
                    (name_len, 0, 2)
                }
                (IpAddr::V6(src), IpAddr::V6(dst), Some(f)) => {
                    // SAFETY: a sockaddr_ll (20 bytes) fits in the sockaddr_in6 (28 bytes) it
                    // is written over, whose alignment is at least as strict.
                    unsafe {
                        std::ptr::write(
                            (name as *mut libc::sockaddr_in6).cast(),
                            f.destination(IpAddr::V6(dst)),
                        )
                    };
                    // What the kernel's IPv6 output writes for the raw socket: no traffic
                    // class or flow label, hop limit 255 to the group.
                    let ip = Ipv6Repr {
                        traffic_class: 0,
                        flow_label: 0,
                        next_header: IPPROTO_VRRP,
                        hop_limit: VRRP_TTL,
                        src,
                        dst,
                        payload_len: m.len,
                    };
                    ip.emit(&mut headers[k])
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
                    iovs[k][0] = libc::iovec {
                        iov_base: headers[k].as_mut_ptr().cast(),
                        iov_len: baton_wire::ipv6::HEADER_LEN,
                    };
                    iovs[k][1] = payload;
                    (std::mem::size_of::<libc::sockaddr_ll>(), 0, 2)
                }
                (IpAddr::V6(src), IpAddr::V6(dst), None) => {
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
                    iovs[k][0] = payload;
                    (std::mem::size_of::<libc::sockaddr_in6>(), len, 1)
                }
                // check_batch refuses these before any call.
                _ => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
            };
            hdrs[k].msg_hdr.msg_name = (name as *mut libc::sockaddr_in6).cast();
            hdrs[k].msg_hdr.msg_namelen = name_len as libc::socklen_t;
            hdrs[k].msg_hdr.msg_iov = iovs[k].as_mut_ptr();
            hdrs[k].msg_hdr.msg_iovlen = iov_count;
            if control_len > 0 {
                hdrs[k].msg_hdr.msg_control = controls[k].0.as_mut_ptr().cast();
                hdrs[k].msg_hdr.msg_controllen = control_len as _;
            }
        }
        // SAFETY: every header points into `names`, `iovs`, `controls` and `buf`, all alive
        // and unmoved across the call; `msgs.len()` headers are initialised.
        let r = unsafe {
            libc::sendmmsg(
                frames.map_or(self.fd.get_ref().as_raw_fd(), AdvertFrames::fd),
                hdrs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let sent = r as usize;
        // A raw socket takes a datagram whole or not at all (an IPv4 one with its header).
        let whole = |k: usize| {
            let header = match (msgs[k].dst, frames) {
                (IpAddr::V4(_), _) => baton_wire::ipv4::MIN_HEADER_LEN,
                (IpAddr::V6(_), Some(_)) => baton_wire::ipv6::HEADER_LEN,
                (IpAddr::V6(_), None) => 0,
            };
            msgs[k].len + header
        };
        if let Some(k) = (0..sent).find(|&k| hdrs[k].msg_len as usize != whole(k)) {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short send of message {k}"),
            ));
        }
        Ok(sent)
    }

    /// Wait for the next datagram and read it into `buf` (at least [`RECV_BUFFER`] bytes
    /// is sensible). Returns source, destination, TTL and the VRRP message within `buf`.
    /// Unparks the socket if it was parked.
    pub async fn recv<'b>(&mut self, buf: &'b mut [u8]) -> Result<Received<'b>, RecvError> {
        self.unpark().map_err(RecvError::Io)?;
        let Some(read) = &self.read else {
            return Err(RecvError::Io(io::Error::from(io::ErrorKind::NotConnected)));
        };
        let family = self.family;
        // The same read as the daemon's batches, one datagram at a time, copied out.
        let one = self.single.get_or_insert_with(RecvBatch::new);
        read.async_io(Interest::READABLE, |fd| one.read_at_most(fd.as_raw_fd(), 1))
            .await?;
        let meta = *one.got.first().ok_or(RecvError::Truncated)?;
        let (Some(to), Some(from)) = (buf.get_mut(..meta.len), one.bufs.get(..meta.len)) else {
            return Err(RecvError::Truncated);
        };
        to.copy_from_slice(from);
        finish(family, to, meta)
    }

    /// Poll for datagrams and read every one waiting (up to the batch's room) into `batch`
    /// with one `recvmmsg`. Returns how many were read; pending while none is waiting, and
    /// always while the socket is parked (its datagrams are then read with
    /// [`VrrpSocket::recv_waiting`]).
    pub fn poll_recv_batch(
        &self,
        cx: &mut Context<'_>,
        batch: &mut RecvBatch,
    ) -> Poll<io::Result<usize>> {
        let Some(read) = &self.read else {
            return Poll::Pending;
        };
        loop {
            let mut guard = ready!(read.poll_read_ready(cx))?;
            match guard.try_io(|fd| batch.read_from(fd.as_raw_fd())) {
                Ok(r) => return Poll::Ready(r),
                // Spurious readiness: the guard cleared it; wait again.
                Err(_would_block) => continue,
            }
        }
    }

    /// Read the datagrams already waiting into `batch`, without waiting for more: 0 when
    /// there are none.
    pub fn recv_waiting(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let r = match (&self.read, &self.parked) {
            (Some(read), _) => {
                read.try_io(Interest::READABLE, |fd| batch.read_from(fd.as_raw_fd()))
            }
            (None, Some(fd)) => batch.read_from(fd.as_raw_fd()),
            (None, None) => batch.read_from(self.fd.get_ref().as_raw_fd()),
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            r => r,
        }
    }

    /// Take the socket's reading out of the runtime: datagrams queue in the kernel (the
    /// receive buffer is sized for a burst from every instance) and wake nobody until
    /// [`VrrpSocket::unpark`]. Sends are not affected.
    pub fn park(&mut self) {
        if let Some(live) = self.read.take() {
            // Deregistering takes the descriptor out of the epoll set (EPOLL_CTL_DEL).
            self.parked = Some(live.into_inner());
        }
    }

    /// Put the socket's reading back into the runtime: the next datagram wakes the loop.
    pub fn unpark(&mut self) -> io::Result<()> {
        if let Some(fd) = self.parked.take() {
            // SAFETY: the descriptor is owned by what is registered, which nothing else closes
            // or replaces while the AsyncFd holds it.
            match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                Ok(live) => self.read = Some(live),
                Err(e) => {
                    let (fd, e) = e.into_parts();
                    self.parked = Some(fd);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    pub fn is_parked(&self) -> bool {
        self.parked.is_some()
    }
}

/// Buffers for the datagrams of one `recvmmsg`: a slot per datagram, each with room for the
/// largest VRRP datagram and its control messages. It starts with one slot and doubles (up
/// to [`MAX_RECV_BATCH`]) whenever a read fills it, so a daemon with one instance keeps 4 KiB
/// and a busy backup reads its adverts 32 at a time.
#[derive(Debug)]
pub struct RecvBatch {
    bufs: Vec<u8>,
    controls: Vec<ControlBuffer>,
    /// What the last read found: one entry per datagram.
    got: Vec<Meta>,
}

impl Default for RecvBatch {
    fn default() -> RecvBatch {
        RecvBatch::new()
    }
}

impl RecvBatch {
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: vec![0; MAX_DATAGRAM],
            controls: vec![ControlBuffer([0; 128])],
            got: Vec::with_capacity(1),
        }
    }

    /// Room for how many datagrams a read takes.
    pub fn slots(&self) -> usize {
        self.controls.len()
    }

    /// How many datagrams the last read found.
    pub fn len(&self) -> usize {
        self.got.len()
    }

    pub fn is_empty(&self) -> bool {
        self.got.is_empty()
    }

    /// Datagram `k` of the last read, as the protocol core needs it.
    pub fn received(&self, k: usize, family: Family) -> Result<Received<'_>, RecvError> {
        let meta = self.got.get(k).ok_or(RecvError::Truncated)?;
        let start = k * MAX_DATAGRAM;
        let data = self
            .bufs
            .get(start..start + meta.len)
            .ok_or(RecvError::Truncated)?;
        finish(family, data, *meta)
    }

    fn grow(&mut self) {
        let slots = (self.slots() * 2).min(MAX_RECV_BATCH);
        self.bufs.resize(slots * MAX_DATAGRAM, 0);
        self.controls.resize(slots, ControlBuffer([0; 128]));
        self.got.reserve(slots);
    }

    /// One `recvmmsg` (never waiting) into every slot. Errors as `recvmsg` gives them;
    /// `WouldBlock` when nothing is waiting.
    fn read_from(&mut self, fd: std::os::fd::RawFd) -> io::Result<usize> {
        self.read_at_most(fd, MAX_RECV_BATCH)
    }

    /// [`RecvBatch::read_from`], at most `limit` datagrams (and never growing past it).
    fn read_at_most(&mut self, fd: std::os::fd::RawFd, limit: usize) -> io::Result<usize> {
        self.got.clear();
        let slots = self.slots().min(limit);
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut names: [libc::sockaddr_in6; MAX_RECV_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above; every pointer in them is set below before the call.
        let mut iovs: [libc::iovec; MAX_RECV_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_RECV_BATCH] = unsafe { std::mem::zeroed() };
        let base = self.bufs.as_mut_ptr();
        for k in 0..slots {
            iovs[k] = libc::iovec {
                // SAFETY: slot k lies within `bufs`, which holds `slots` slots.
                iov_base: unsafe { base.add(k * MAX_DATAGRAM) }.cast(),
                iov_len: MAX_DATAGRAM,
            };
            let h = &mut hdrs[k].msg_hdr;
            h.msg_name = (&mut names[k] as *mut libc::sockaddr_in6).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            h.msg_iov = &mut iovs[k];
            h.msg_iovlen = 1;
            h.msg_control = self.controls[k].0.as_mut_ptr().cast();
            h.msg_controllen = self.controls[k].0.len() as _;
        }
        // SAFETY: every header points into `names`, `iovs`, `controls` and `bufs`, all alive
        // and unmoved across the call; `slots` headers are initialised.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                slots as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = r as usize;
        for k in 0..n {
            let h = &hdrs[k].msg_hdr;
            let mut meta = Meta {
                len: (hdrs[k].msg_len as usize).min(MAX_DATAGRAM),
                src: None,
                dst: None,
                hop_limit: None,
                truncated: h.msg_flags & libc::MSG_TRUNC != 0,
                arrived: None,
            };
            // An IPv6 socket's source; an IPv4 one's is read from the header.
            if names[k].sin6_family == libc::AF_INET6 as libc::sa_family_t {
                meta.src = Some(IpAddr::V6(Ipv6Addr::from(names[k].sin6_addr.s6_addr)));
            }
            // SAFETY: the kernel wrote `msg_controllen` bytes of control messages into the
            // slot's buffer, which `h` still points to.
            unsafe { read_cmsgs(h, &mut meta) };
            self.got.push(meta);
        }
        if n == slots && slots < limit.min(MAX_RECV_BATCH) {
            self.grow();
        }
        Ok(n)
    }
}

/// The control messages the kernel attached to one datagram: arrival time, and for IPv6
/// destination and hop limit.
///
/// # Safety
/// `h` must be a header the kernel has just filled, its control buffer alive.
unsafe fn read_cmsgs(h: &libc::msghdr, meta: &mut Meta) {
    // SAFETY: the caller's promise; CMSG_FIRSTHDR/CMSG_NXTHDR stay within msg_controllen.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(h) };
    while !c.is_null() {
        // SAFETY: a non-null header from CMSG_FIRSTHDR/NXTHDR lies within the buffer, and
        // its data holds the type its level and type say (read unaligned, as copies).
        unsafe {
            let data = libc::CMSG_DATA(c);
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                    let ts = std::ptr::read_unaligned(data.cast::<libc::timespec>());
                    meta.arrived = timespec(ts);
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    meta.dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    let hops = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    meta.hop_limit = u8::try_from(hops).ok();
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
}

fn timespec(ts: libc::timespec) -> Option<Duration> {
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

/// What the kernel said besides the bytes.
#[derive(Debug, Clone, Copy)]
struct Meta {
    len: usize,
    src: Option<IpAddr>,
    dst: Option<Ipv6Addr>,
    hop_limit: Option<u8>,
    truncated: bool,
    arrived: Option<Duration>,
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
                arrived: meta.arrived,
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
            arrived: meta.arrived,
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
    use std::net::Ipv4Addr;

    /// keepalived counts identifications up and never sends zero: the kernel would put one
    /// of its own in its place.
    #[test]
    fn identification_counts_up_and_wraps_past_zero() {
        let c = std::sync::atomic::AtomicU16::new(0);
        assert_eq!((next_ident(&c), next_ident(&c)), (1, 2));
        let c = std::sync::atomic::AtomicU16::new(u16::MAX - 1);
        assert_eq!(next_ident(&c), u16::MAX);
        assert_eq!(next_ident(&c), 1, "zero skipped");
        assert_eq!(next_ident(&c), 2);
    }

    #[test]
    fn ipv4_datagram_yields_header_fields_and_payload() {
        // IPv4 header (TTL 255, proto 112, 10.0.0.1 → 224.0.0.18) and a 4-byte payload.
        let mut d = [
            0x45, 0xc0, 0, 24, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18, 1, 2, 3, 4,
        ];
        let meta = Meta {
            len: d.len(),
            src: None,
            dst: None,
            hop_limit: None,
            truncated: false,
            arrived: Some(Duration::from_secs(7)),
        };
        let r = finish(Family::Ipv4, &d, meta).unwrap();
        assert_eq!(r.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.dst, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)));
        assert_eq!(r.ttl, 255);
        assert_eq!(r.payload, &[1, 2, 3, 4]);
        assert_eq!(r.arrived, Some(Duration::from_secs(7)));
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
            len: 8,
            src: Some("fe80::1".parse().unwrap()),
            dst: None,
            hop_limit: Some(255),
            truncated: false,
            arrived: None,
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
