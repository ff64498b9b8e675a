//! Ethernet II framing: what an AF_PACKET `SOCK_RAW` socket sends and receives (gratuitous ARP
//! and unsolicited Neighbor Advertisements), and the multicast addresses adverts to a group
//! are framed to.

use core::fmt;

use crate::{Error, Field, Result};

/// Length of an Ethernet II header (no 802.1Q tag).
pub const HEADER_LEN: usize = 14;

/// Ethertype of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethertype of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// A 48-bit Ethernet (MAC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// From a hardware address as netlink reports it; `None` unless it is exactly 6 bytes
    /// (an InfiniBand or tunnel interface has no Ethernet address to announce).
    pub fn from_bytes(bytes: &[u8]) -> Option<MacAddr> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }

    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The multicast MAC an IPv4 multicast group maps to (RFC 1112 §6.4): 01:00:5e and the
    /// low 23 bits of the group.
    pub const fn ipv4_multicast(group: &core::net::Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }

    /// The multicast MAC an IPv6 multicast group maps to (RFC 2464 §7): 33:33 and the low
    /// 32 bits of the group.
    pub const fn ipv6_multicast(group: &core::net::Ipv6Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A validated Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Parse the header at the start of `frame`; returns it and the payload (which may carry
    /// link-layer padding past the upper-layer length).
    pub fn parse(frame: &[u8]) -> Result<(EthernetRepr, &[u8])> {
        let Some((header, payload)) = frame.split_first_chunk::<HEADER_LEN>() else {
            return Err(Error::Truncated {
                field: Field::EthernetHeader,
                need: HEADER_LEN,
                have: frame.len(),
            });
        };
        let mut dst = [0u8; 6];
        let mut src = [0u8; 6];
        dst.copy_from_slice(&header[0..6]);
        src.copy_from_slice(&header[6..12]);
        let repr = EthernetRepr {
            dst: MacAddr(dst),
            src: MacAddr(src),
            ethertype: u16::from_be_bytes([header[12], header[13]]),
        };
        Ok((repr, payload))
    }

    /// Parse and require `ethertype`.
    pub fn parse_expecting(frame: &[u8], ethertype: u16) -> Result<(EthernetRepr, &[u8])> {
        let (repr, payload) = EthernetRepr::parse(frame)?;
        if repr.ethertype != ethertype {
            return Err(Error::EtherType {
                expected: ethertype,
                got: repr.ethertype,
            });
        }
        Ok((repr, payload))
    }

    /// Write the header into the first [`HEADER_LEN`] bytes of `buf`; returns the rest.
    pub fn emit<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8]> {
        let have = buf.len();
        let Some((header, rest)) = buf.split_first_chunk_mut::<HEADER_LEN>() else {
            return Err(Error::Truncated {
                field: Field::OutputBuffer,
                need: HEADER_LEN,
                have,
            });
        };
        header[0..6].copy_from_slice(&self.dst.0);
        header[6..12].copy_from_slice(&self.src.0);
        header[12..14].copy_from_slice(&self.ethertype.to_be_bytes());
        Ok(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_display_and_from_bytes() {
        let mac = MacAddr::from_bytes(&[2, 0, 0x5e, 0x10, 0, 0x0b]).unwrap();
        assert_eq!(mac.to_string(), "02:00:5e:10:00:0b");
        assert_eq!(MacAddr::from_bytes(&[1, 2, 3]), None);
        assert_eq!(MacAddr::from_bytes(&[0; 20]), None);
    }

    #[test]
    fn all_nodes_maps_to_33_33_0_0_0_1() {
        let mac = MacAddr::ipv6_multicast(&core::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(mac, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    }

    /// RFC 1112 §6.4: the VRRP group 224.0.0.18 is 01:00:5e:00:00:12; the 24th bit from
    /// the top of the group is dropped.
    #[test]
    fn ipv4_groups_map_to_01_00_5e_and_23_bits() {
        let vrrp = MacAddr::ipv4_multicast(&core::net::Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(vrrp, MacAddr([1, 0, 0x5e, 0, 0, 0x12]));
        let high = MacAddr::ipv4_multicast(&core::net::Ipv4Addr::new(239, 200, 1, 2));
        assert_eq!(high, MacAddr([1, 0, 0x5e, 0x48, 1, 2]));
    }

    #[test]
    fn header_round_trip_and_errors() {
        let repr = EthernetRepr {
            dst: MacAddr::BROADCAST,
            src: MacAddr([2, 0, 0x5e, 0x10, 0, 0x0b]),
            ethertype: ETHERTYPE_ARP,
        };
        let mut buf = [0u8; 16];
        let rest = repr.emit(&mut buf).unwrap();
        assert_eq!(rest.len(), 2);
        assert_eq!(&buf[12..14], &[0x08, 0x06]);
        let (parsed, payload) = EthernetRepr::parse(&buf).unwrap();
        assert_eq!(parsed, repr);
        assert_eq!(payload.len(), 2);
        assert_eq!(
            EthernetRepr::parse_expecting(&buf, ETHERTYPE_IPV6),
            Err(Error::EtherType {
                expected: ETHERTYPE_IPV6,
                got: ETHERTYPE_ARP
            })
        );
        assert!(matches!(
            EthernetRepr::parse(&buf[..13]),
            Err(Error::Truncated {
                need: 14,
                have: 13,
                ..
            })
        ));
        assert!(repr.emit(&mut [0u8; 10]).is_err());
    }
}
