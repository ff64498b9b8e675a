//! Reading the classic pcap files tcpdump writes, for a test to find "the first VRRP advert
//! after the kill" without tshark: records of (timestamp, bytes) from `pcap-parser`, the
//! Ethernet, 802.1Q, Linux-cooked and IP layers from `etherparse`.
//!
//! A file still being written (tcpdump `-U`) may end in a partial record; the reader stops
//! before it instead of failing.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use etherparse::{
    EtherType, Ethernet2Slice, LaxNetSlice, LaxSlicedPacket, LinuxSllProtocolType, LinuxSllSlice,
    SingleVlanSlice,
};
use pcap_parser::nom;
use pcap_parser::{LegacyPcapBlock, PcapError};

use crate::addr::MacAddr;
use crate::error::IoContext;
use crate::{Error, Result};

/// Link type of Ethernet captures (`DLT_EN10MB`).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Link type of `tcpdump -i any` captures (`DLT_LINUX_SLL`).
pub const LINKTYPE_LINUX_SLL: u32 = 113;

/// A parsed capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcap {
    /// The link type of every record.
    pub linktype: u32,
    /// The records, in file order.
    pub records: Vec<Record>,
}

/// One captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When the kernel saw it (wall clock, as `SystemTime::now()` tells it).
    pub ts: SystemTime,
    /// Its length on the wire (may exceed `data.len()` if the snap length cut it).
    pub orig_len: u32,
    /// The captured bytes, from the link-layer header on.
    pub data: Vec<u8>,
    /// The file's link type, so the record can decode itself.
    pub linktype: u32,
}

/// The IP layer of a captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 protocol, or for IPv6 the upper-layer protocol after any extension headers (112 for
    /// VRRP, 58 for ICMPv6).
    pub protocol: u8,
    /// IPv4 TTL or IPv6 hop limit (VRRP requires 255).
    pub ttl: u8,
    /// The bytes after the IP header.
    pub payload: &'a [u8],
}

impl Pcap {
    /// Read and parse a pcap file.
    pub fn read(path: impl AsRef<Path>) -> Result<Pcap> {
        let path = path.as_ref();
        Pcap::parse(&std::fs::read(path).ctx(|| format!("reading {}", path.display()))?)
    }

    /// Parse pcap bytes (either byte order, microsecond or nanosecond timestamps).
    pub fn parse(bytes: &[u8]) -> Result<Pcap> {
        let (mut rest, header) = pcap_parser::parse_pcap_header(bytes).map_err(|e| {
            Error::Pcap(match e {
                nom::Err::Incomplete(_) => "shorter than its header".to_string(),
                _ => format!(
                    "not a classic pcap file (magic {:02x?})",
                    &bytes[..4.min(bytes.len())]
                ),
            })
        })?;
        let linktype = u32::try_from(header.network.0).unwrap_or(u32::MAX);
        let nanos = header.is_nanosecond_precision();
        let frame = if header.is_bigendian() {
            pcap_parser::parse_pcap_frame_be
        } else {
            pcap_parser::parse_pcap_frame
        };
        let mut records = Vec::new();
        while !rest.is_empty() {
            let block: LegacyPcapBlock<'_> = match frame(rest) {
                Ok((next, block)) => {
                    rest = next;
                    block
                }
                // A record tcpdump has not finished writing.
                Err(nom::Err::Incomplete(_)) => break,
                Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                    return Err(Error::Pcap(describe(&e)));
                }
            };
            let frac = if nanos {
                Duration::from_nanos(block.ts_usec.into())
            } else {
                Duration::from_micros(block.ts_usec.into())
            };
            records.push(Record {
                ts: SystemTime::UNIX_EPOCH + Duration::from_secs(block.ts_sec.into()) + frac,
                orig_len: block.origlen,
                data: block.data.to_vec(),
                linktype,
            });
        }
        Ok(Pcap { linktype, records })
    }

    /// Records whose IP protocol is `protocol` (112: VRRP), in order.
    pub fn with_protocol(&self, protocol: u8) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(move |r| r.ip().is_some_and(|ip| ip.protocol == protocol))
    }

    /// The first record at or after `t` that satisfies `pred`.
    pub fn first_after(&self, t: SystemTime, pred: impl Fn(&Record) -> bool) -> Option<&Record> {
        self.records.iter().find(|r| r.ts >= t && pred(r))
    }
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::Eof => "unexpected end of file".into(),
        PcapError::ReadError => "read error".into(),
        PcapError::Incomplete(_) => "incomplete record".into(),
        PcapError::HeaderNotRecognized => "header not recognized".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("malformed record ({kind:?})")
        }
        PcapError::BufferTooSmall => "buffer too small".into(),
        PcapError::UnexpectedEof => "unexpected end of file".into(),
    }
}

impl Record {
    /// Ethernet header: (destination, source, ethertype, payload). `None` for other link types
    /// or a runt frame. One 802.1Q tag is skipped.
    pub fn ethernet(&self) -> Option<(MacAddr, MacAddr, u16, &[u8])> {
        if self.linktype != LINKTYPE_ETHERNET {
            return None;
        }
        let eth = Ethernet2Slice::from_slice_without_fcs(&self.data).ok()?;
        let (dst, src) = (MacAddr(eth.destination()), MacAddr(eth.source()));
        if eth.ether_type() == EtherType::VLAN_TAGGED_FRAME {
            let vlan = SingleVlanSlice::from_slice(eth.payload_slice()).ok()?;
            return Some((dst, src, vlan.ether_type().0, vlan.payload_slice()));
        }
        Some((dst, src, eth.ether_type().0, eth.payload_slice()))
    }

    /// The IP layer, if this is an IPv4 or IPv6 packet.
    pub fn ip(&self) -> Option<IpPacket<'_>> {
        let packet = match self.linktype {
            LINKTYPE_ETHERNET => LaxSlicedPacket::from_ethernet(&self.data).ok()?,
            LINKTYPE_LINUX_SLL => {
                let sll = LinuxSllSlice::from_slice(&self.data).ok()?;
                match sll.protocol_type() {
                    LinuxSllProtocolType::EtherType(t) => {
                        LaxSlicedPacket::from_ether_type(t, sll.payload_slice())
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };
        match packet.net? {
            LaxNetSlice::Ipv4(v4) => {
                let h = v4.header();
                Some(IpPacket {
                    src: IpAddr::V4(h.source_addr()),
                    dst: IpAddr::V4(h.destination_addr()),
                    protocol: h.protocol().0,
                    ttl: h.ttl(),
                    payload: v4.payload().payload,
                })
            }
            LaxNetSlice::Ipv6(v6) => {
                let h = v6.header();
                Some(IpPacket {
                    src: IpAddr::V6(h.source_addr()),
                    dst: IpAddr::V6(h.destination_addr()),
                    protocol: v6.payload().ip_number.0,
                    ttl: h.hop_limit(),
                    payload: v6.payload().payload,
                })
            }
            LaxNetSlice::Arp(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VRRPv2 advert from 192.168.5.11 to 224.0.0.18, in an Ethernet frame.
    fn vrrp_frame() -> Vec<u8> {
        let mut f = vec![
            0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0xba, 1, 2, 3, 0, 0x08, 0x00,
        ];
        let vrrp = [
            0x21, 51, 200, 1, 1, 1, 0, 0, 192, 168, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let total = (20 + vrrp.len()) as u16;
        f.extend_from_slice(&[0x45, 0xc0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0, 192, 168, 5, 11, 224, 0, 0, 18]);
        f.extend_from_slice(&vrrp);
        f
    }

    fn file(
        big_endian: bool,
        nanos: bool,
        linktype: u32,
        records: &[(u32, u32, &[u8])],
    ) -> Vec<u8> {
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend_from_slice(&w16(2));
        out.extend_from_slice(&w16(4));
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&w32(262_144));
        out.extend_from_slice(&w32(linktype));
        for (secs, frac, data) in records {
            out.extend_from_slice(&w32(*secs));
            out.extend_from_slice(&w32(*frac));
            out.extend_from_slice(&w32(data.len() as u32));
            out.extend_from_slice(&w32(data.len() as u32));
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn reads_both_byte_orders_and_precisions() {
        let frame = vrrp_frame();
        for (big, nanos, frac, want) in [
            (false, false, 250_000, Duration::from_micros(250_000)),
            (true, false, 250_000, Duration::from_micros(250_000)),
            (false, true, 250_000, Duration::from_nanos(250_000)),
            (true, true, 7, Duration::from_nanos(7)),
        ] {
            let bytes = file(
                big,
                nanos,
                LINKTYPE_ETHERNET,
                &[(1_700_000_000, frac, &frame)],
            );
            let pcap = Pcap::parse(&bytes).unwrap();
            assert_eq!(pcap.linktype, LINKTYPE_ETHERNET);
            assert_eq!(pcap.records.len(), 1);
            let r = &pcap.records[0];
            assert_eq!(
                r.ts,
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + want
            );
            assert_eq!(r.data, frame);
        }
    }

    #[test]
    fn decodes_vrrp_over_ethernet() {
        let frame = vrrp_frame();
        let bytes = file(
            false,
            false,
            LINKTYPE_ETHERNET,
            &[(1, 0, &frame), (2, 0, &frame[..10])],
        );
        let pcap = Pcap::parse(&bytes).unwrap();
        let ip = pcap.records[0].ip().unwrap();
        assert_eq!(ip.protocol, 112);
        assert_eq!(ip.ttl, 255);
        assert_eq!(ip.src, "192.168.5.11".parse::<IpAddr>().unwrap());
        assert_eq!(ip.dst, "224.0.0.18".parse::<IpAddr>().unwrap());
        assert_eq!(ip.payload[..3], [0x21, 51, 200]);
        let (dst, src, ethertype, _) = pcap.records[0].ethernet().unwrap();
        assert_eq!(dst.to_string(), "01:00:5e:00:00:12");
        assert_eq!(src.to_string(), "02:ba:01:02:03:00");
        assert_eq!(ethertype, 0x0800);
        // A runt frame decodes to nothing rather than panicking.
        assert_eq!(pcap.records[1].ip(), None);
        assert_eq!(pcap.with_protocol(112).count(), 1);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(2);
        assert!(pcap.first_after(t, |r| r.ip().is_some()).is_none());
        assert!(pcap.first_after(t, |_| true).is_some());
    }

    #[test]
    fn decodes_vlan_tagged_and_linux_cooked_records() {
        let frame = vrrp_frame();
        let mut tagged = frame[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&frame[12..]);
        // `tcpdump -i any`: packet type, ARPHRD_ETHER, address length, 8 address bytes, ethertype.
        let mut cooked = vec![0, 2, 0, 1, 0, 6, 0x02, 0xba, 1, 2, 3, 0, 0, 0, 0x08, 0x00];
        cooked.extend_from_slice(&frame[14..]);
        let eth = Pcap::parse(&file(false, false, LINKTYPE_ETHERNET, &[(1, 0, &tagged)])).unwrap();
        let sll = Pcap::parse(&file(false, false, LINKTYPE_LINUX_SLL, &[(1, 0, &cooked)])).unwrap();
        let (_, _, ethertype, _) = eth.records[0].ethernet().unwrap();
        assert_eq!(ethertype, 0x0800);
        assert_eq!(sll.records[0].ethernet(), None);
        for ip in [eth.records[0].ip().unwrap(), sll.records[0].ip().unwrap()] {
            assert_eq!(ip.protocol, 112);
            assert_eq!(ip.src, "192.168.5.11".parse::<IpAddr>().unwrap());
            assert_eq!(ip.payload[..3], [0x21, 51, 200]);
        }
    }

    #[test]
    fn a_partial_last_record_is_left_out() {
        let frame = vrrp_frame();
        let mut bytes = file(
            false,
            false,
            LINKTYPE_ETHERNET,
            &[(1, 0, &frame), (2, 0, &frame)],
        );
        bytes.truncate(bytes.len() - 5);
        assert_eq!(Pcap::parse(&bytes).unwrap().records.len(), 1);
        assert_eq!(Pcap::parse(&bytes[..24]).unwrap().records.len(), 0);
    }

    #[test]
    fn rejects_what_is_not_pcap() {
        assert!(Pcap::parse(b"short").is_err());
        assert!(Pcap::parse(&[0u8; 24]).is_err());
        // pcapng starts with a section header block type 0x0a0d0d0a.
        let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a];
        ng.resize(24, 0);
        assert!(Pcap::parse(&ng).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let frame = vrrp_frame();
        let good = file(false, false, LINKTYPE_ETHERNET, &[(1, 0, &frame)]);
        for cut in 0..good.len() {
            let _ = Pcap::parse(&good[..cut]);
        }
        let mut mangled = good.clone();
        for i in 24..mangled.len() {
            mangled[i] = mangled[i].wrapping_mul(31).wrapping_add(7);
            // The header is intact, so parsing succeeds whatever the records hold.
            let p = Pcap::parse(&mangled).unwrap();
            for r in &p.records {
                let _ = (r.ip(), r.ethernet());
            }
        }
    }
}
