//! A tiny reader for the classic pcap files tcpdump writes: records of (timestamp, bytes), and
//! just enough Ethernet/IP decoding for a test to find "the first VRRP advert after the kill"
//! without tshark.
//!
//! A file still being written (tcpdump `-U`) may end in a partial record; the reader stops
//! before it instead of failing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, SystemTime};

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
    /// IPv4 protocol or IPv6 next header (112 for VRRP).
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
        let header = bytes
            .get(..24)
            .ok_or_else(|| Error::Pcap("shorter than its header".into()))?;
        let magic = [header[0], header[1], header[2], header[3]];
        let (big_endian, nanos) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            _ => return Err(Error::Pcap(format!("unknown magic {magic:02x?}"))),
        };
        let u32_at = |b: &[u8], at: usize| -> u32 {
            let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        let linktype = u32_at(header, 20);
        let mut records = Vec::new();
        let mut rest = &bytes[24..];
        while rest.len() >= 16 {
            let (secs, frac) = (u32_at(rest, 0), u32_at(rest, 4));
            let (incl, orig) = (u32_at(rest, 8) as usize, u32_at(rest, 12));
            let Some(data) = rest.get(16..16 + incl) else {
                break;
            };
            let frac = if nanos {
                Duration::from_nanos(frac.into())
            } else {
                Duration::from_micros(frac.into())
            };
            let ts = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.into()) + frac;
            records.push(Record {
                ts,
                orig_len: orig,
                data: data.to_vec(),
                linktype,
            });
            rest = &rest[16 + incl..];
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

impl Record {
    /// Ethernet header: (destination, source, ethertype, payload). `None` for other link types
    /// or a runt frame. One 802.1Q tag is skipped.
    pub fn ethernet(&self) -> Option<(MacAddr, MacAddr, u16, &[u8])> {
        match self.linktype {
            LINKTYPE_ETHERNET => {
                let d = &self.data;
                let mac = |at: usize| -> Option<MacAddr> {
                    Some(MacAddr(d.get(at..at + 6)?.try_into().ok()?))
                };
                let (dst, src) = (mac(0)?, mac(6)?);
                let mut ethertype = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
                let mut at = 14;
                if ethertype == 0x8100 {
                    ethertype = u16::from_be_bytes([*d.get(16)?, *d.get(17)?]);
                    at = 18;
                }
                Some((dst, src, ethertype, d.get(at..)?))
            }
            _ => None,
        }
    }

    /// The link-layer payload and its ethertype, for Ethernet and `-i any` captures.
    fn l3(&self) -> Option<(u16, &[u8])> {
        match self.linktype {
            LINKTYPE_ETHERNET => self.ethernet().map(|(_, _, t, p)| (t, p)),
            LINKTYPE_LINUX_SLL => {
                let d = &self.data;
                Some((u16::from_be_bytes([*d.get(14)?, *d.get(15)?]), d.get(16..)?))
            }
            _ => None,
        }
    }

    /// The IP layer, if this is an IPv4 or IPv6 packet.
    pub fn ip(&self) -> Option<IpPacket<'_>> {
        let (ethertype, p) = self.l3()?;
        match ethertype {
            0x0800 => {
                let ihl = usize::from(p.first()? & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
                let src: [u8; 4] = p.get(12..16)?.try_into().ok()?;
                let dst: [u8; 4] = p.get(16..20)?.try_into().ok()?;
                Some(IpPacket {
                    src: IpAddr::V4(Ipv4Addr::from(src)),
                    dst: IpAddr::V4(Ipv4Addr::from(dst)),
                    protocol: *p.get(9)?,
                    ttl: *p.get(8)?,
                    payload: p.get(ihl..total.min(p.len()).max(ihl))?,
                })
            }
            0x86dd => {
                let len = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
                let src: [u8; 16] = p.get(8..24)?.try_into().ok()?;
                let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
                Some(IpPacket {
                    src: IpAddr::V6(Ipv6Addr::from(src)),
                    dst: IpAddr::V6(Ipv6Addr::from(dst)),
                    protocol: *p.get(6)?,
                    ttl: *p.get(7)?,
                    payload: p.get(40..(40 + len).min(p.len()))?,
                })
            }
            _ => None,
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
