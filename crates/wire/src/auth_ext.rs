//! keepalived's HMAC authentication extension (`auth_hmac`, keepalived 2.4.2 and later;
//! draft-cassen-vrrp-auth-hmac): a 28-byte trailer after the VRRP message, for VRRPv2 and v3
//! over IPv4 and IPv6.
//!
//! ```text
//!  0        1        2        3
//! |Ext Type| Key ID |    Reserved     |
//! |             Seconds              |      UTC seconds mod 2^32
//! |   Subseconds    |     Counter     |      1/65536 s; tie-breaker
//! |       HMAC (16 bytes: HMAC-SHA256 truncated to 128 bits)          |
//! ```
//!
//! Nothing in front of the trailer says it is there: a receiver finds it by length alone
//! ([`split`]). The HMAC covers a 20-byte pseudo-header (family, version, VRID, the IP
//! source), the VRRP message with its checksum read as zero, the first 12 trailer bytes and
//! 16 zero bytes in place of the HMAC ([`hmac_input`]). The IP header, and with it the
//! destination and TTL, is not covered, so every unicast copy of one advert carries the same
//! trailer.
//!
//! The checksum and the trailer: over IPv4 the VRRP checksum covers the message only; over
//! IPv6 keepalived lets the kernel checksum the whole payload, trailer included
//! (`IPV6_CHECKSUM`), so baton does the same ([`seal_ipv6_checksum`],
//! [`crate::AdvertRepr::parse_with_trailer`]).
//!
//! This crate frames the bytes; computing the HMAC and the replay rules belong to the
//! protocol core, which holds the keys.

use core::net::IpAddr;

use crate::advert::{ChecksumForm, HEADER_LEN, Packet, Version};
use crate::{Error, Family, Field, Result};

/// Bytes of the trailer.
pub const TRAILER_LEN: usize = 28;
/// Bytes of the truncated HMAC at the end of the trailer.
pub const HMAC_LEN: usize = 16;
/// Bytes of the trailer the HMAC covers as sent (type to counter).
pub const HEAD_LEN: usize = 12;
/// Bytes of the HMAC pseudo-header.
pub const PSEUDO_HEADER_LEN: usize = 20;
/// Ext Type 1: HMAC-SHA256 truncated to 128 bits, the only type defined.
pub const EXT_HMAC_SHA256_128: u8 = 1;

/// The 64-bit sequence number of trailer bytes 4..12: seconds (32) | subseconds (16) |
/// counter (16). Ordered by serial-number arithmetic (RFC 1982 style over 64 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sequence(pub u64);

impl Sequence {
    /// The sequence for a realtime clock reading: UTC seconds mod 2^32, the nanoseconds as
    /// a 1/65536 s fraction (rounded down), counter zero.
    pub const fn from_clock(unix_seconds: u64, nanoseconds: u32) -> Sequence {
        let sec = unix_seconds & 0xffff_ffff;
        let sub = (nanoseconds as u64 * 65536) / 1_000_000_000;
        Sequence(sec << 32 | (sub & 0xffff) << 16)
    }

    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub const fn subseconds(self) -> u16 {
        (self.0 >> 16) as u16
    }

    pub const fn counter(self) -> u16 {
        self.0 as u16
    }

    /// Serial comparison: `self` comes after `other` when `(self - other) mod 2^64`,
    /// read as signed, is positive. A difference of exactly 2^63 is not "after".
    pub const fn is_after(self, other: Sequence) -> bool {
        (self.0.wrapping_sub(other.0) as i64) > 0
    }

    /// The next value, carrying from the counter into the subseconds and the seconds.
    pub const fn successor(self) -> Sequence {
        Sequence(self.0.wrapping_add(1))
    }
}

/// A zero-copy view of a trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Trailer<T> {
    /// Wrap exactly [`TRAILER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<Trailer<T>> {
        let have = buffer.as_ref().len();
        if have != TRAILER_LEN {
            return Err(Error::Length {
                field: Field::AuthTrailer,
                expected: TRAILER_LEN,
                have,
            });
        }
        Ok(Trailer { buffer })
    }

    pub fn ext_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn key_id(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    pub fn reserved(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    pub fn sequence(&self) -> Sequence {
        let b = self.buffer.as_ref();
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[4..12]);
        Sequence(u64::from_be_bytes(s))
    }

    pub fn hmac(&self) -> [u8; HMAC_LEN] {
        let mut h = [0u8; HMAC_LEN];
        h.copy_from_slice(&self.buffer.as_ref()[HEAD_LEN..]);
        h
    }

    /// The bytes the HMAC covers as sent.
    pub fn head(&self) -> [u8; HEAD_LEN] {
        let mut h = [0u8; HEAD_LEN];
        h.copy_from_slice(&self.buffer.as_ref()[..HEAD_LEN]);
        h
    }
}

/// A trailer's fields. Parsing checks only the length: an unknown type or a non-zero
/// reserved field is the receiver's MALFORMED verdict, counted by the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrailerRepr {
    pub ext_type: u8,
    pub key_id: u8,
    pub reserved: u16,
    pub sequence: Sequence,
    pub hmac: [u8; HMAC_LEN],
}

impl TrailerRepr {
    pub fn parse(bytes: &[u8]) -> Result<TrailerRepr> {
        let t = Trailer::new_checked(bytes)?;
        Ok(TrailerRepr {
            ext_type: t.ext_type(),
            key_id: t.key_id(),
            reserved: t.reserved(),
            sequence: t.sequence(),
            hmac: t.hmac(),
        })
    }

    /// The first 12 bytes as sent: type, key id, reserved, sequence.
    pub fn head(&self) -> [u8; HEAD_LEN] {
        let mut h = [0u8; HEAD_LEN];
        h[0] = self.ext_type;
        h[1] = self.key_id;
        h[2..4].copy_from_slice(&self.reserved.to_be_bytes());
        h[4..12].copy_from_slice(&self.sequence.0.to_be_bytes());
        h
    }

    pub fn emit(&self) -> [u8; TRAILER_LEN] {
        let mut t = [0u8; TRAILER_LEN];
        t[..HEAD_LEN].copy_from_slice(&self.head());
        t[HEAD_LEN..].copy_from_slice(&self.hmac);
        t
    }

    /// Whether the type is HMAC-SHA256-128 and the reserved field zero.
    pub fn well_formed(&self) -> bool {
        self.ext_type == EXT_HMAC_SHA256_128 && self.reserved == 0
    }
}

/// The length a VRRP message should have from its header (version and address count), or
/// `None` when the header is short or the version unknown.
fn message_len(payload: &[u8], family: Family) -> Option<usize> {
    if payload.len() < HEADER_LEN {
        return None;
    }
    let count = payload[3] as usize;
    match payload[0] >> 4 {
        2 => Some(HEADER_LEN + 4 * count + 8),
        3 => Some(HEADER_LEN + family.addr_len() * count),
        _ => None,
    }
}

/// Split an IP payload into the VRRP message and the trailer, by length: exactly the
/// message's length plus [`TRAILER_LEN`] carries a trailer; anything else is handed on
/// whole (and a wrong length is the message parser's error).
pub fn split(payload: &[u8], family: Family) -> (&[u8], Option<&[u8; TRAILER_LEN]>) {
    match message_len(payload, family) {
        Some(n) if payload.len() == n + TRAILER_LEN => {
            let (message, trailer) = payload.split_at(n);
            match <&[u8; TRAILER_LEN]>::try_from(trailer) {
                Ok(t) => (message, Some(t)),
                Err(_) => (payload, None),
            }
        }
        _ => (payload, None),
    }
}

/// The 20-byte HMAC pseudo-header: family (4 or 6), VRRP version, VRID, 0, the IP source
/// (IPv4: 4 bytes then 12 zero bytes).
pub fn pseudo_header(version: Version, vrid: u8, src: IpAddr) -> [u8; PSEUDO_HEADER_LEN] {
    let mut p = [0u8; PSEUDO_HEADER_LEN];
    p[1] = version.number();
    p[2] = vrid;
    match src {
        IpAddr::V4(a) => {
            p[0] = 4;
            p[4..8].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            p[0] = 6;
            p[4..20].copy_from_slice(&a.octets());
        }
    }
    p
}

/// Feed the HMAC input to `sink`, piece by piece and without allocating: the pseudo-header,
/// `message` with its checksum bytes (6..8) as zero, `head` (trailer bytes 0..12) and 16
/// zero bytes. `message` must hold at least the 8-byte header.
pub fn hmac_input(
    version: Version,
    vrid: u8,
    src: IpAddr,
    message: &[u8],
    head: &[u8; HEAD_LEN],
    mut sink: impl FnMut(&[u8]),
) {
    sink(&pseudo_header(version, vrid, src));
    let (before, rest) = message.split_at(message.len().min(6));
    sink(before);
    if rest.len() >= 2 {
        sink(&[0, 0]);
        sink(&rest[2..]);
    }
    sink(head);
    sink(&[0u8; HMAC_LEN]);
}

/// Over IPv6 the checksum covers the message and the trailer (the pseudo-header length
/// counting both): recompute it over `datagram` (message followed by trailer) once the
/// trailer is written. IPv4 keeps the message-only checksum `emit` wrote.
pub fn seal_ipv6_checksum(datagram: &mut [u8], src: IpAddr, dst: IpAddr) -> Result<()> {
    if datagram.len() < HEADER_LEN + TRAILER_LEN {
        return Err(Error::Truncated {
            field: Field::AuthTrailer,
            need: HEADER_LEN + TRAILER_LEN,
            have: datagram.len(),
        });
    }
    Packet::new_unchecked(datagram).fill_checksum(ChecksumForm::PseudoHeader, src, dst);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_fields_and_serial_order() {
        let s = Sequence(0x6800_0000_8000_0001);
        assert_eq!(
            (s.seconds(), s.subseconds(), s.counter()),
            (0x6800_0000, 0x8000, 1)
        );
        assert!(Sequence(0).is_after(Sequence(u64::MAX)));
        assert!(!Sequence(1 << 63).is_after(Sequence(0)));
        assert!(!Sequence(5).is_after(Sequence(5)));
        assert_eq!(
            Sequence(0x6800_0000_ffff_ffff).successor(),
            Sequence(0x6800_0001_0000_0000)
        );
    }

    #[test]
    fn split_finds_the_trailer_by_length_only() {
        // v3/IPv4, one address: 12 bytes of message.
        let mut p = [0u8; 12 + TRAILER_LEN];
        p[0] = 0x31;
        p[3] = 1;
        let (m, t) = split(&p, Family::Ipv4);
        assert_eq!((m.len(), t.is_some()), (12, true));
        let (m, t) = split(&p[..12], Family::Ipv4);
        assert_eq!((m.len(), t.is_none()), (12, true));
        // One byte more or less than a trailer: no trailer, the parser judges the length.
        let (m, t) = split(&p[..12 + TRAILER_LEN - 1], Family::Ipv4);
        assert_eq!((m.len(), t.is_none()), (39, true));
        assert_eq!(split(&p[..4], Family::Ipv4).0.len(), 4);
    }

    #[test]
    fn trailer_round_trips() {
        let r = TrailerRepr {
            ext_type: 1,
            key_id: 7,
            reserved: 0,
            sequence: Sequence(0x0102_0304_0506_0708),
            hmac: [0xaa; 16],
        };
        let bytes = r.emit();
        assert_eq!(TrailerRepr::parse(&bytes).unwrap(), r);
        assert!(r.well_formed());
        assert!(TrailerRepr::parse(&bytes[..27]).is_err());
    }
}
