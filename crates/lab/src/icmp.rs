//! ICMP echo ("ping") from inside a host, over a raw socket, so the lab needs no `ping` binary
//! and a probe loop can ping every millisecond without spawning anything.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::AsIp;
use crate::error::IoContext;
use crate::{Host, Result};

static NEXT_ID: AtomicU16 = AtomicU16::new(0);

/// A raw ICMP or ICMPv6 socket in some host, sending echo requests to one address.
#[derive(Debug)]
pub(crate) struct Pinger {
    socket: Socket,
    target: IpAddr,
    id: u16,
    seq: u16,
}

impl Pinger {
    /// Open the socket. Must run inside the host's network namespace.
    pub(crate) fn open(target: IpAddr) -> std::io::Result<Pinger> {
        let socket = match target {
            IpAddr::V4(_) => Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?,
            IpAddr::V6(_) => Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?,
        };
        // Raw ICMP sockets see every ICMP packet of the namespace; a per-pinger id tells ours
        // apart when several probes run on one host.
        let id = (std::process::id() as u16) ^ NEXT_ID.fetch_add(0x9e37, Ordering::Relaxed);
        socket.set_nonblocking(true)?;
        Ok(Pinger {
            socket,
            target,
            id,
            seq: 0,
        })
    }

    /// The address pinged.
    pub(crate) fn target(&self) -> IpAddr {
        self.target
    }

    /// Send one echo request and wait up to `timeout` for its reply; the round-trip time.
    pub(crate) fn ping(&mut self, timeout: Duration) -> std::io::Result<Option<Duration>> {
        self.seq = self.seq.wrapping_add(1);
        let request = echo_request(self.target.is_ipv6(), self.id, self.seq);
        let sent = Instant::now();
        match self
            .socket
            .send_to(&request, &SocketAddr::new(self.target, 0).into())
        {
            Ok(_) => {}
            // No route, interface down, or a firewall rule on the way out: no answer either.
            Err(e) if unreachable(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
        let deadline = sent + timeout;
        let mut buf = [0u8; 2048];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !readable_within(&self.socket, left)? {
                return Ok(None);
            }
            let n = match (&self.socket).read(&mut buf) {
                Ok(n) => n,
                Err(e) if retry(&e) => continue,
                Err(e) => return Err(e),
            };
            if is_reply(&buf[..n], self.target, self.id, self.seq) {
                return Ok(Some(sent.elapsed()));
            }
        }
    }
}

/// Wait until `socket` has something to read, at most `timeout`. Socket receive timeouts
/// count in scheduler ticks (4 ms or more); ppoll keeps a 1 ms probe loop at 1 ms.
pub(crate) fn readable_within(socket: &Socket, timeout: Duration) -> std::io::Result<bool> {
    use nix::poll::{PollFd, PollFlags, ppoll};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    match ppoll(&mut fds, Some(timeout.into()), None) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A read error that only means "try again".
pub(crate) fn retry(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}

/// A send error that means the packet cannot leave (down, unroutable, filtered): for a probe,
/// the same as no answer.
pub(crate) fn unreachable(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{HostUnreachable, NetworkDown, NetworkUnreachable, PermissionDenied};
    matches!(
        e.kind(),
        HostUnreachable | NetworkDown | NetworkUnreachable | PermissionDenied
    ) || e.raw_os_error() == Some(libc::ENXIO)
}

/// An echo request: type 8 (IPv4) or 128 (IPv6), our id and sequence, a short payload. The
/// kernel fills in the ICMPv6 checksum (it covers a pseudo-header); ICMPv4's is ours.
fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"baton-lab ping..");
    if !v6 {
        let sum = internet_checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// Whether `packet` (IPv4: with its IP header, as raw sockets deliver it; IPv6: the ICMPv6
/// message alone) is the echo reply to (id, seq) from `target`.
fn is_reply(packet: &[u8], target: IpAddr, id: u16, seq: u16) -> bool {
    let icmp = match target {
        IpAddr::V4(t) => {
            let ihl = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
            if packet.get(12..16) != Some(&t.octets()[..]) {
                return false;
            }
            match packet.get(ihl..) {
                Some(icmp) if icmp.first() == Some(&0) => icmp,
                _ => return false,
            }
        }
        IpAddr::V6(_) => match packet.first() {
            Some(129) => packet,
            _ => return false,
        },
    };
    icmp.get(4..6) == Some(&id.to_be_bytes()[..]) && icmp.get(6..8) == Some(&seq.to_be_bytes()[..])
}

/// RFC 1071 checksum.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Host {
    /// Ping `addr` once from this host; the round-trip time, or `None` if no reply came within
    /// `timeout`. (Link-local IPv6 targets need a scope and are not supported.)
    ///
    /// ```no_run
    /// # fn f(client: &baton_lab::Host) -> baton_lab::Result<()> {
    /// assert!(client.ping("192.168.5.10", baton_lab::ms(500))?.is_some());
    /// # Ok(()) }
    /// ```
    pub fn ping(&self, addr: impl AsIp, timeout: Duration) -> Result<Option<Duration>> {
        let target = addr.as_ip()?;
        let mut pinger = self
            .in_netns(|| Pinger::open(target))?
            .ctx(|| format!("opening an ICMP socket on {}", self.name()))?;
        pinger
            .ping(timeout)
            .ctx(|| format!("pinging {target} from {}", self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the one's complement sum of these words is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
        // A packet with its checksum filled in sums to zero.
        let req = echo_request(false, 0x1234, 7);
        assert_eq!(internet_checksum(&req), 0);
    }

    #[test]
    fn replies_are_matched_by_source_id_and_sequence() {
        let target: IpAddr = "10.0.0.2".parse().unwrap();
        let mut reply = vec![
            0x45, 0, 0, 44, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ];
        reply.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert!(is_reply(&reply, target, 0x1234, 7));
        assert!(!is_reply(&reply, target, 0x1234, 8));
        assert!(!is_reply(&reply, "10.0.0.3".parse().unwrap(), 0x1234, 7));
        reply[20] = 8; // our own request, seen when pinging ourselves
        assert!(!is_reply(&reply, target, 0x1234, 7));
        let v6: IpAddr = "fd00::2".parse().unwrap();
        assert!(is_reply(&[129, 0, 0, 0, 0x12, 0x34, 0, 7], v6, 0x1234, 7));
        assert!(!is_reply(&[128, 0, 0, 0, 0x12, 0x34, 0, 7], v6, 0x1234, 7));
        assert!(!is_reply(&[], v6, 0x1234, 7));
    }
}
