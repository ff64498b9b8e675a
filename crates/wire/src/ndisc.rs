//! IPv6 Neighbor Advertisements (RFC 4861 §4.4), and the unsolicited one a new VRRP master
//! sends for each virtual IPv6 address (RFC 4861 §7.2.6), the IPv6 counterpart of gratuitous ARP.
//!
//! keepalived 2.2 builds the whole frame itself and sends it on an AF_PACKET socket: Ethernet
//! destination 33:33:00:00:00:01, source the interface MAC; IPv6 with traffic class and flow
//! label 0, hop limit 255, source **the virtual address itself** (not the link-local address of
//! the interface), destination ff02::1; ICMPv6 type 136 code 0 with Override set, Solicited
//! clear, Router set when the interface forwards IPv6; target the VIP; one Target Link-Layer
//! Address option carrying the MAC. 86 bytes. The captured `tests/vectors/unsolicited_na.eth`
//! is byte-identical to [`FrameRepr::unsolicited`].
//!
//! ```text
//!  0      1      2           4                 8                        24      26        32
//!  | 136  |  0   | checksum  |R|S|O| reserved  |      target address    | 2 | 1 |   MAC   |
//! ```

use core::net::{IpAddr, Ipv6Addr};

use crate::checksum;
use crate::ethernet::{self, ETHERTYPE_IPV6, EthernetRepr, MacAddr};
use crate::ipv6::{self, Ipv6Repr};
use crate::{Error, Field, Result};

/// IPv6 next-header number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 type of a Neighbor Advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
/// Hop limit every Neighbor Discovery message carries and receivers insist on (RFC 4861 §7.1.2).
pub const HOP_LIMIT: u8 = 255;
/// The all-nodes multicast group unsolicited advertisements go to.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Length of a Neighbor Advertisement without options.
pub const HEADER_LEN: usize = 24;
/// Length of the Target Link-Layer Address option for Ethernet.
const TLLA_LEN: usize = 8;
/// NDP option type of the Target Link-Layer Address.
const OPT_TARGET_LLADDR: u8 = 2;
/// Length of the whole unsolicited NA frame keepalived sends.
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + HEADER_LEN + TLLA_LEN;

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
    pub const OPTIONS: usize = 24;
}

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// A zero-copy view of an ICMPv6 Neighbor Advertisement (the ICMPv6 message, options included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer, checking it holds the fixed part so that no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let have = buffer.as_ref().len();
        if have < HEADER_LEN {
            return Err(Error::Truncated {
                field: Field::NdiscBody,
                need: HEADER_LEN,
                have,
            });
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn router_flag(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_ROUTER != 0
    }

    pub fn solicited_flag(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_SOLICITED != 0
    }

    pub fn override_flag(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_OVERRIDE != 0
    }

    pub fn target(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::TARGET]);
        Ipv6Addr::from(o)
    }

    /// The NDP options, raw.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..]
    }

    /// Whether the checksum is right for a message from `src` to `dst`.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let mut acc = checksum::Accumulator::new();
        acc.add_pseudo_header(IpAddr::V6(src), IpAddr::V6(dst), IPPROTO_ICMPV6, data.len());
        acc.add_bytes(data);
        acc.finish() == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the three flags and clears the 29 reserved bits.
    pub fn set_flags(&mut self, router: bool, solicited: bool, override_: bool) {
        let mut b = 0u8;
        if router {
            b |= FLAG_ROUTER;
        }
        if solicited {
            b |= FLAG_SOLICITED;
        }
        if override_ {
            b |= FLAG_OVERRIDE;
        }
        self.buffer.as_mut()[field::FLAGS..field::TARGET.start].copy_from_slice(&[b, 0, 0, 0]);
    }

    pub fn set_target(&mut self, v: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&v.octets());
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS..]
    }

    /// Compute and store the checksum over the whole buffer behind the pseudo-header.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let sum = checksum::with_pseudo_header(
            IpAddr::V6(src),
            IpAddr::V6(dst),
            IPPROTO_ICMPV6,
            self.buffer.as_ref(),
        );
        self.set_checksum(sum);
    }
}

/// A validated Neighbor Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborAdvertRepr {
    pub router_flag: bool,
    pub solicited_flag: bool,
    pub override_flag: bool,
    pub target: Ipv6Addr,
    /// The Target Link-Layer Address option, if present.
    pub target_lladdr: Option<MacAddr>,
}

impl NeighborAdvertRepr {
    /// The unsolicited advertisement keepalived sends for `vip` from an interface with `mac`;
    /// `router` mirrors whether the interface forwards IPv6.
    pub const fn unsolicited(mac: MacAddr, vip: Ipv6Addr, router: bool) -> NeighborAdvertRepr {
        NeighborAdvertRepr {
            router_flag: router,
            solicited_flag: false,
            override_flag: true,
            target: vip,
            target_lladdr: Some(mac),
        }
    }

    /// Validate a checked ICMPv6 message received from `src` to `dst`, following the checks of
    /// RFC 4861 §7.1.2 that the message itself can answer (the hop limit is the IP layer's).
    /// Unknown options are skipped; a zero-length option makes the message invalid.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<NeighborAdvertRepr> {
        if packet.msg_type() != TYPE_NEIGHBOR_ADVERT {
            return Err(Error::IcmpType(packet.msg_type()));
        }
        if packet.code() != 0 {
            return Err(Error::IcmpCode(packet.code()));
        }
        if !packet.verify_checksum(src, dst) {
            let data = packet.buffer.as_ref();
            let mut acc = checksum::Accumulator::new();
            acc.add_pseudo_header(IpAddr::V6(src), IpAddr::V6(dst), IPPROTO_ICMPV6, data.len());
            acc.add_bytes(&data[..field::CHECKSUM.start]);
            acc.add_bytes(&data[field::CHECKSUM.end..]);
            return Err(Error::IcmpChecksum {
                got: packet.checksum(),
                expected: acc.finish(),
            });
        }
        let target = packet.target();
        if target.is_multicast() {
            return Err(Error::NdiscTarget(target));
        }
        if dst.is_multicast() && packet.solicited_flag() {
            return Err(Error::NdiscSolicitedToMulticast);
        }
        let mut target_lladdr = None;
        let mut opts = packet.options();
        while !opts.is_empty() {
            let [kind, units, ..] = *opts else {
                return Err(Error::Truncated {
                    field: Field::NdiscOption,
                    need: 2,
                    have: opts.len(),
                });
            };
            let len = units as usize * 8;
            if len == 0 {
                return Err(Error::Length {
                    field: Field::NdiscOption,
                    expected: 8,
                    have: 0,
                });
            }
            let Some((opt, rest)) = opts.split_at_checked(len) else {
                return Err(Error::Truncated {
                    field: Field::NdiscOption,
                    need: len,
                    have: opts.len(),
                });
            };
            if kind == OPT_TARGET_LLADDR {
                // Ethernet: 2 bytes of type and length, 6 of address, one 8-byte unit.
                let Some(addr) = (len == TLLA_LEN)
                    .then(|| MacAddr::from_bytes(&opt[2..8]))
                    .flatten()
                else {
                    return Err(Error::Length {
                        field: Field::NdiscOption,
                        expected: TLLA_LEN,
                        have: len,
                    });
                };
                target_lladdr = Some(addr);
            }
            opts = rest;
        }
        Ok(NeighborAdvertRepr {
            router_flag: packet.router_flag(),
            solicited_flag: packet.solicited_flag(),
            override_flag: packet.override_flag(),
            target,
            target_lladdr,
        })
    }

    /// Bytes this message takes: 24, plus 8 with the link-layer address option.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self.target_lladdr {
                Some(_) => TLLA_LEN,
                None => 0,
            }
    }

    /// Write the ICMPv6 message into `buf` with its checksum for `src` → `dst`; returns the
    /// length written.
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<usize> {
        let len = self.buffer_len();
        let Some(buf) = buf.get_mut(..len) else {
            return Err(Error::Truncated {
                field: Field::OutputBuffer,
                need: len,
                have: buf.len(),
            });
        };
        let mut packet = Packet::new_unchecked(buf);
        packet.set_msg_type(TYPE_NEIGHBOR_ADVERT);
        packet.set_code(0);
        packet.set_flags(self.router_flag, self.solicited_flag, self.override_flag);
        packet.set_target(self.target);
        if let Some(mac) = self.target_lladdr {
            let opt = packet.options_mut();
            opt[0] = OPT_TARGET_LLADDR;
            opt[1] = 1;
            opt[2..8].copy_from_slice(&mac.0);
        }
        packet.fill_checksum(src, dst);
        Ok(len)
    }
}

/// A whole Neighbor Advertisement frame for an AF_PACKET socket: Ethernet, IPv6, ICMPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRepr {
    pub eth_dst: MacAddr,
    pub eth_src: MacAddr,
    pub ip_src: Ipv6Addr,
    pub ip_dst: Ipv6Addr,
    pub na: NeighborAdvertRepr,
}

impl FrameRepr {
    /// The unsolicited advertisement frame keepalived sends for `vip` on an interface with
    /// `mac`: from the VIP itself to all nodes. `router` mirrors the interface's IPv6
    /// forwarding setting.
    pub const fn unsolicited(mac: MacAddr, vip: Ipv6Addr, router: bool) -> FrameRepr {
        FrameRepr {
            eth_dst: MacAddr::ipv6_multicast(&ALL_NODES),
            eth_src: mac,
            ip_src: vip,
            ip_dst: ALL_NODES,
            na: NeighborAdvertRepr::unsolicited(mac, vip, router),
        }
    }

    /// Parse a received frame: IPv6 carrying ICMPv6 directly (no extension headers), hop
    /// limit 255, a valid Neighbor Advertisement. Link-layer padding is ignored.
    pub fn parse(frame: &[u8]) -> Result<FrameRepr> {
        let (eth, datagram) = EthernetRepr::parse_expecting(frame, ETHERTYPE_IPV6)?;
        let (ip, payload) = Ipv6Repr::parse(datagram)?;
        if ip.next_header != IPPROTO_ICMPV6 {
            return Err(Error::NextHeader(ip.next_header, IPPROTO_ICMPV6));
        }
        if ip.hop_limit != HOP_LIMIT {
            return Err(Error::HopLimit(ip.hop_limit));
        }
        let na = NeighborAdvertRepr::parse(&Packet::new_checked(payload)?, ip.src, ip.dst)?;
        Ok(FrameRepr {
            eth_dst: eth.dst,
            eth_src: eth.src,
            ip_src: ip.src,
            ip_dst: ip.dst,
            na,
        })
    }

    /// Bytes this frame takes (86 with the link-layer address option).
    pub const fn buffer_len(&self) -> usize {
        ethernet::HEADER_LEN + ipv6::HEADER_LEN + self.na.buffer_len()
    }

    /// Write the frame into `buf`; returns the length written. Traffic class and flow label
    /// are 0 and the hop limit 255, as keepalived sends them.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let Some(buf) = buf.get_mut(..len) else {
            return Err(Error::Truncated {
                field: Field::OutputBuffer,
                need: len,
                have: buf.len(),
            });
        };
        let eth = EthernetRepr {
            dst: self.eth_dst,
            src: self.eth_src,
            ethertype: ETHERTYPE_IPV6,
        };
        let ip = Ipv6Repr {
            traffic_class: 0,
            flow_label: 0,
            next_header: IPPROTO_ICMPV6,
            hop_limit: HOP_LIMIT,
            src: self.ip_src,
            dst: self.ip_dst,
            payload_len: self.na.buffer_len(),
        };
        let rest = eth.emit(buf)?;
        let rest = ip.emit(rest)?;
        self.na.emit(rest, self.ip_src, self.ip_dst)?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
