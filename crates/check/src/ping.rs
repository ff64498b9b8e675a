//! `PING_CHECK`: one ICMP (or ICMPv6) echo request per probe, answered within
//! `connect_timeout`.
//!
//! keepalived uses the kernel's unprivileged ping sockets and widens
//! `net.ipv4.ping_group_range` to allow them. baton does not change that sysctl: it uses a
//! ping socket where the range allows one, and otherwise a raw ICMP socket (root has
//! CAP_NET_RAW), connected to the target so the kernel hands it only that host's packets.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use crate::net::{ConnectError, apply_options};
use crate::udp::filler;
use baton_conf::Connection;

/// Payload bytes after the ICMP header (keepalived's `ICMP_BUFSIZE`).
const PAYLOAD: usize = 128;
const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const UNREACHABLE_V4: u8 = 3;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const UNREACHABLE_V6: u8 = 1;

/// What one probe found.
#[derive(Debug)]
pub enum PingResult {
    /// Answered after this long, on a ping socket (`true`) or a raw one.
    Answered(Duration, bool),
    Failed(String),
    /// No ICMP socket could be had: no verdict.
    Local(String),
}

/// How the socket was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Unprivileged ping socket: the kernel sets the id and filters replies by it.
    Ping,
    /// Raw socket: our id, our checksum, IPv4 headers included on receive.
    Raw,
}

/// Send one echo request to `conn.dst` and wait for its reply.
pub async fn probe(conn: &Connection, seq: u16) -> PingResult {
    let (socket, kind) = match open(conn) {
        Ok(s) => s,
        Err(e) => return PingResult::Local(e.to_string()),
    };
    let v6 = conn.dst.is_ipv6();
    let id = fastrand::u16(..);
    let request = echo_request(v6, kind == Kind::Raw, id, seq);
    // SAFETY: the socket is moved into the AsyncFd, which owns it (and so its descriptor)
    // until it is dropped.
    let fd = match unsafe {
        AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE)
    } {
        Ok(fd) => fd,
        Err(e) => {
            return PingResult::Local(format!("cannot poll ICMP socket: {}", e.into_parts().1));
        }
    };
    let start = Instant::now();
    let deadline = start + conn.timeout;
    let sent = tokio::time::timeout_at(
        deadline,
        fd.async_io(Interest::WRITABLE, |s| s.send(&request)),
    )
    .await;
    match sent {
        Err(_) => return PingResult::Failed("send ICMP packet timed out".into()),
        Ok(Err(e)) => return PingResult::Failed(format!("send ICMP packet fail: {e}")),
        Ok(Ok(_)) => {}
    }
    let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
    loop {
        let got = tokio::time::timeout_at(
            deadline,
            fd.async_io(Interest::READABLE, |s| s.recv(&mut buf)),
        )
        .await;
        let n = match got {
            Err(_) => {
                return PingResult::Failed(format!("no echo reply within {:?}", conn.timeout));
            }
            Ok(Err(e)) => return PingResult::Failed(format!("recv ICMP packet error: {e}")),
            Ok(Ok(n)) => n,
        };
        // SAFETY: recv initialised the first n bytes.
        let packet: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
        let icmp = if kind == Kind::Raw && !v6 {
            match strip_ipv4_header(packet) {
                Some(p) => p,
                None => continue,
            }
        } else {
            packet
        };
        match classify(icmp, v6, (kind == Kind::Raw).then_some(id), seq) {
            Echo::Ours => return PingResult::Answered(start.elapsed(), kind == Kind::Ping),
            Echo::Unreachable(code) => {
                return PingResult::Failed(format!("destination unreachable (code {code})"));
            }
            Echo::Other => continue,
        }
    }
}

fn open(conn: &Connection) -> Result<(Socket, Kind), ConnectError> {
    let (domain, protocol) = match conn.dst {
        SocketAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        SocketAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (socket, kind) =
        match Socket::new(domain, Type::DGRAM.nonblocking().cloexec(), Some(protocol)) {
            Ok(s) => (s, Kind::Ping),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
                let raw = Socket::new(domain, Type::RAW.nonblocking().cloexec(), Some(protocol))
                    .map_err(|raw_err| {
                        ConnectError::Local(format!(
                            "ICMP socket refused ({e}; net.ipv4.ping_group_range excludes us) \
                         and raw ICMP socket refused ({raw_err})"
                        ))
                    })?;
                (raw, Kind::Raw)
            }
            Err(e) => {
                return Err(ConnectError::Local(format!(
                    "cannot create ICMP socket: {e}"
                )));
            }
        };
    // A bind port means nothing to ICMP; the address and device do.
    let options = Connection {
        bind_port: None,
        ..conn.clone()
    };
    apply_options(&socket, &options)?;
    if kind == Kind::Raw && conn.dst.is_ipv6() {
        // Only echo replies and errors, not every neighbour discovery packet.
        set_icmp6_filter(&socket).map_err(|e| ConnectError::Local(format!("ICMP6_FILTER: {e}")))?;
    }
    let dst = SocketAddr::new(conn.dst.ip(), 0);
    socket
        .connect(&SockAddr::from(dst))
        .map_err(|e| ConnectError::Local(format!("cannot connect ICMP socket: {e}")))?;
    Ok((socket, kind))
}

/// An echo request with keepalived's payload. The checksum is ours to fill only for raw
/// IPv4 (the kernel fills it for ping sockets and for ICMPv6).
pub fn echo_request(v6: bool, raw: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&filler(PAYLOAD));
    if raw && !v6 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// What an ICMP message is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The reply to our request.
    Ours,
    /// An unreachable error about our request.
    Unreachable(u8),
    /// Anything else: ignored.
    Other,
}

/// Classify `icmp` (starting at the ICMP header). `id` is checked when we chose it (raw
/// sockets); a ping socket's kernel already filtered by it.
pub fn classify(icmp: &[u8], v6: bool, id: Option<u16>, seq: u16) -> Echo {
    if icmp.len() < 8 {
        return Echo::Other;
    }
    let (reply, unreachable, request) = if v6 {
        (ECHO_REPLY_V6, UNREACHABLE_V6, ECHO_REQUEST_V6)
    } else {
        (ECHO_REPLY_V4, UNREACHABLE_V4, ECHO_REQUEST_V4)
    };
    let echo_matches = |h: &[u8]| {
        let got_id = u16::from_be_bytes([h[4], h[5]]);
        let got_seq = u16::from_be_bytes([h[6], h[7]]);
        got_seq == seq && id.is_none_or(|id| id == got_id)
    };
    if icmp[0] == reply && icmp[1] == 0 {
        return if echo_matches(icmp) {
            Echo::Ours
        } else {
            Echo::Other
        };
    }
    if icmp[0] == unreachable {
        // The offending packet follows the 8-byte header: its IP header, then our echo.
        let inner = &icmp[8..];
        let inner = if v6 {
            inner.get(40..)
        } else {
            strip_ipv4_header(inner)
        };
        if let Some(echo) = inner
            && echo.len() >= 8
            && echo[0] == request
            && echo_matches(echo)
        {
            return Echo::Unreachable(icmp[1]);
        }
    }
    Echo::Other
}

fn strip_ipv4_header(packet: &[u8]) -> Option<&[u8]> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    packet.get(ihl..)
}

/// RFC 1071.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], chunk.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn set_icmp6_filter(socket: &Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // struct icmp6_filter: 256 bits, a set bit blocks that type.
    let mut filter = [0xffff_ffffu32; 8];
    for t in [ECHO_REPLY_V6, UNREACHABLE_V6] {
        filter[usize::from(t >> 5)] &= !(1 << (t & 31));
    }
    const ICMP6_FILTER: libc::c_int = 1;
    // SAFETY: a valid descriptor and a pointer to 32 live bytes, the option's size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_ICMPV6,
            ICMP6_FILTER,
            filter.as_ptr().cast(),
            std::mem::size_of_val(&filter) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksum_verifies() {
        let p = echo_request(false, true, 0x1234, 7);
        assert_eq!(p.len(), 8 + PAYLOAD);
        assert_eq!(checksum(&p), 0);
        assert_eq!(&p[8..27], b"keepalived check - ");
    }

    #[test]
    fn replies_and_errors() {
        let mut reply = echo_request(false, true, 0x1234, 7);
        reply[0] = ECHO_REPLY_V4;
        assert_eq!(classify(&reply, false, Some(0x1234), 7), Echo::Ours);
        assert_eq!(classify(&reply, false, Some(0x1234), 8), Echo::Other);
        assert_eq!(classify(&reply, false, Some(0x9999), 7), Echo::Other);
        assert_eq!(classify(&reply, false, None, 7), Echo::Ours);
        let mut err = vec![UNREACHABLE_V4, 1, 0, 0, 0, 0, 0, 0];
        let mut ip = vec![0x45u8];
        ip.extend_from_slice(&[0; 19]);
        err.extend_from_slice(&ip);
        err.extend_from_slice(&echo_request(false, true, 0x1234, 7)[..8]);
        assert_eq!(classify(&err, false, Some(0x1234), 7), Echo::Unreachable(1));
        assert_eq!(classify(&err[..10], false, Some(0x1234), 7), Echo::Other);
        assert_eq!(classify(&[], false, None, 7), Echo::Other);
    }
}
