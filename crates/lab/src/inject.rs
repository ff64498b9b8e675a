//! IP datagrams under any source address, sent from inside a host as whole Ethernet frames:
//! what anyone on a segment can do without a password, and what a daemon must survive. The
//! lab builds the IP header; what it carries (a VRRP advert, say) is the test's business.
//!
//! ```no_run
//! # fn f(mallory: &baton_lab::Host) -> baton_lab::Result<()> {
//! use std::net::Ipv4Addr;
//! use baton_lab::{ipv4_datagram, ms};
//!
//! let mut inj = mallory.injector("eth0")?;
//! let forged = (0..100_000u32).map(|i| {
//!     let src = Ipv4Addr::from(0x0a00_0000 + i);
//!     ipv4_datagram(src, Ipv4Addr::new(224, 0, 0, 18), 255, 112, b"...")
//! });
//! let sent = inj.send_paced(forged, 20_000)?; // 20,000 a second
//! # Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::MacAddr;
use crate::arp::{bind_packet, own_addresses};
use crate::error::IoContext;
use crate::{Error, Host, Result};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

/// An AF_PACKET socket on one interface of a host that sends IP datagrams as they are given,
/// source address included.
#[derive(Debug)]
pub struct Injector {
    socket: Socket,
    mac: MacAddr,
    frame: Vec<u8>,
}

impl Host {
    /// An injector on `ifname`.
    pub fn injector(&self, ifname: &str) -> Result<Injector> {
        self.in_netns(|| -> std::io::Result<Injector> {
            let ifindex = nix::net::if_::if_nametoindex(ifname).map_err(std::io::Error::from)?;
            let (mac, _) = own_addresses(ifname)?;
            // Protocol 0: the socket sends only, nothing is queued to it.
            let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))?;
            bind_packet(&socket, ifindex, 0)?;
            Ok(Injector {
                socket,
                mac,
                frame: Vec::with_capacity(1514),
            })
        })?
        .ctx(|| format!("opening an injector on {}:{ifname}", self.name()))
    }
}

impl Injector {
    /// Send one datagram (an IPv4 or IPv6 packet, header included) to the Ethernet address
    /// of its destination: the group's for multicast, broadcast for anything else.
    pub fn send(&mut self, datagram: &[u8]) -> Result<()> {
        let (dst, ethertype) = match datagram.first().map(|b| b >> 4) {
            Some(4) if datagram.len() >= 20 => {
                let d = Ipv4Addr::new(datagram[16], datagram[17], datagram[18], datagram[19]);
                (ethernet_destination(IpAddr::V4(d)), ETH_P_IP)
            }
            Some(6) if datagram.len() >= 40 => {
                let mut d = [0u8; 16];
                d.copy_from_slice(&datagram[24..40]);
                (
                    ethernet_destination(IpAddr::V6(Ipv6Addr::from(d))),
                    ETH_P_IPV6,
                )
            }
            _ => {
                return Err(Error::invalid(
                    "datagram",
                    "neither an IPv4 nor an IPv6 packet",
                ));
            }
        };
        self.frame.clear();
        self.frame.extend_from_slice(&dst.0);
        self.frame.extend_from_slice(&self.mac.0);
        self.frame.extend_from_slice(&ethertype.to_be_bytes());
        self.frame.extend_from_slice(datagram);
        loop {
            match self.socket.send(&self.frame) {
                Ok(_) => return Ok(()),
                // The interface queue is full: wait for it rather than lose the frame.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => return Err(Error::invalid("injecting a frame", e.to_string())),
            }
        }
    }

    /// Send every datagram, at most `per_second` a second (evenly, in small batches); how
    /// many were sent.
    pub fn send_paced(
        &mut self,
        datagrams: impl IntoIterator<Item = Vec<u8>>,
        per_second: u32,
    ) -> Result<u64> {
        let started = Instant::now();
        let mut sent = 0u64;
        for d in datagrams {
            self.send(&d)?;
            sent += 1;
            if sent.is_multiple_of(64) {
                let due = Duration::from_secs_f64(sent as f64 / f64::from(per_second.max(1)));
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        Ok(sent)
    }
}

/// The Ethernet address an IP destination is sent to: 01:00:5e:… for IPv4 multicast,
/// 33:33:… for IPv6 multicast, broadcast otherwise.
pub fn ethernet_destination(dst: IpAddr) -> MacAddr {
    match dst {
        IpAddr::V4(v4) if v4.is_multicast() => {
            let o = v4.octets();
            MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        IpAddr::V6(v6) if v6.is_multicast() => {
            let o = v6.octets();
            MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
        }
        _ => MacAddr([0xff; 6]),
    }
}

/// An IPv4 packet: a 20-byte header (no options, checksum filled in) and `payload`.
pub fn ipv4_datagram(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    protocol: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0]); // id 0, don't fragment
    p.extend_from_slice(&[ttl, protocol, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let sum = internet_checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 packet: a 40-byte header and `payload` (which carries its own checksum, if any).
pub fn ipv6_datagram(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    next_header: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next_header, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// The Internet checksum (RFC 1071) of `data`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checks_out() {
        let p = ipv4_datagram(
            Ipv4Addr::new(192, 168, 5, 11),
            Ipv4Addr::new(224, 0, 0, 18),
            255,
            112,
            &[1, 2, 3, 4],
        );
        assert_eq!(p.len(), 24);
        assert_eq!(
            internet_checksum(&p[..20]),
            0,
            "a header with its checksum sums to 0"
        );
        assert_eq!((p[8], p[9]), (255, 112));
    }

    #[test]
    fn multicast_goes_to_the_group_mac() {
        assert_eq!(
            ethernet_destination("224.0.0.18".parse().unwrap()),
            MacAddr([1, 0, 0x5e, 0, 0, 0x12])
        );
        assert_eq!(
            ethernet_destination("ff02::12".parse().unwrap()),
            MacAddr([0x33, 0x33, 0, 0, 0, 0x12])
        );
        assert_eq!(
            ethernet_destination("10.0.0.1".parse().unwrap()),
            MacAddr([0xff; 6])
        );
    }

    #[test]
    fn ipv6_header_layout() {
        let p = ipv6_datagram(
            "fe80::1".parse().unwrap(),
            "ff02::12".parse().unwrap(),
            255,
            112,
            &[0; 8],
        );
        assert_eq!(p.len(), 48);
        assert_eq!((p[4], p[5], p[6], p[7]), (0, 8, 112, 255));
    }
}
