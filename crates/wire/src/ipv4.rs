//! The IPv4 header as a Linux raw socket hands it back with each received datagram (header
//! fields in network order, options included), so the daemon can check the TTL and read the
//! source and destination before looking at the VRRP message.

use core::net::Ipv4Addr;

use crate::{Error, Field, IPPROTO_VRRP, Result, checksum};

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Length of an IPv4 header with the most options IHL can describe.
pub const MAX_HEADER_LEN: usize = 60;
/// Type of service keepalived puts on adverts: precedence "internetwork control" (0xc0).
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;

/// A validated IPv4 header and where its payload lies in the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub protocol: u8,
    /// Header length in bytes (IHL × 4, options included).
    pub header_len: usize,
    /// Payload length in bytes (total length − header length).
    pub payload_len: usize,
}

impl Ipv4Repr {
    /// Parse the header at the start of `datagram`. Trailing bytes past the total length are
    /// ignored (link-layer padding). Returns the header and the payload.
    pub fn parse(datagram: &[u8]) -> Result<(Ipv4Repr, &[u8])> {
        if datagram.len() < MIN_HEADER_LEN {
            return Err(Error::Truncated {
                field: Field::Ipv4Header,
                need: MIN_HEADER_LEN,
                have: datagram.len(),
            });
        }
        let version = datagram[0] >> 4;
        if version != 4 {
            return Err(Error::IpVersion(version));
        }
        let header_len = (datagram[0] & 0x0f) as usize * 4;
        if header_len < MIN_HEADER_LEN {
            return Err(Error::Length {
                field: Field::Ipv4HeaderLength,
                expected: MIN_HEADER_LEN,
                have: header_len,
            });
        }
        if datagram.len() < header_len {
            return Err(Error::Truncated {
                field: Field::Ipv4HeaderLength,
                need: header_len,
                have: datagram.len(),
            });
        }
        let total_len = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
        if total_len < header_len {
            return Err(Error::Length {
                field: Field::Ipv4TotalLength,
                expected: header_len,
                have: total_len,
            });
        }
        if datagram.len() < total_len {
            return Err(Error::Truncated {
                field: Field::Ipv4TotalLength,
                need: total_len,
                have: datagram.len(),
            });
        }
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(datagram[12], datagram[13], datagram[14], datagram[15]),
            dst: Ipv4Addr::new(datagram[16], datagram[17], datagram[18], datagram[19]),
            ttl: datagram[8],
            protocol: datagram[9],
            header_len,
            payload_len: total_len - header_len,
        };
        Ok((repr, &datagram[header_len..total_len]))
    }

    /// Parse a datagram from a raw socket bound to IP protocol 112 and refuse anything else,
    /// so the caller can go straight on to the VRRP message.
    pub fn parse_vrrp(datagram: &[u8]) -> Result<(Ipv4Repr, &[u8])> {
        let (repr, payload) = Ipv4Repr::parse(datagram)?;
        if repr.protocol != IPPROTO_VRRP {
            return Err(Error::IpProtocol(repr.protocol));
        }
        Ok((repr, payload))
    }

    /// Write the header (for an `IP_HDRINCL` socket, or a test) into the first `header_len`
    /// bytes of `buf`, with the header checksum; option space beyond 20 bytes is filled with
    /// End-of-Options (0). Don't Fragment stays clear, as keepalived leaves it. Returns the
    /// number of bytes written.
    pub fn emit(&self, buf: &mut [u8], tos: u8, ident: u16) -> Result<usize> {
        let hl = self.header_len;
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&hl) || !hl.is_multiple_of(4) {
            return Err(Error::Length {
                field: Field::Ipv4HeaderLength,
                expected: MIN_HEADER_LEN,
                have: hl,
            });
        }
        let total = hl + self.payload_len;
        let Ok(total_len) = u16::try_from(total) else {
            return Err(Error::Length {
                field: Field::Ipv4TotalLength,
                expected: u16::MAX as usize,
                have: total,
            });
        };
        let have = buf.len();
        let Some(h) = buf.get_mut(..hl) else {
            return Err(Error::Truncated {
                field: Field::OutputBuffer,
                need: hl,
                have,
            });
        };
        h.fill(0);
        h[0] = 0x40 | (hl / 4) as u8;
        h[1] = tos;
        h[2..4].copy_from_slice(&total_len.to_be_bytes());
        h[4..6].copy_from_slice(&ident.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let sum = checksum::plain(h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        Ok(hl)
    }
}

/// Whether the header checksum of the IPv4 header at the start of `datagram` is right. The
/// kernel has checked it before a raw socket sees the datagram; this is for captures and tests.
pub fn header_checksum_ok(datagram: &[u8]) -> bool {
    let Some(&first) = datagram.first() else {
        return false;
    };
    let hl = (first & 0x0f) as usize * 4;
    hl >= MIN_HEADER_LEN && datagram.get(..hl).is_some_and(|h| checksum::plain(h) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived 2.2.7's header on the seed's advert (tests/vectors/v2_pass.ip).
    const HEADER: [u8; 20] = [
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x14, 0xdf, 192, 168, 5, 11,
        224, 0, 0, 18,
    ];

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 5, 11),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            ttl: 255,
            protocol: 112,
            header_len: 20,
            payload_len: 20,
        }
    }

    #[test]
    fn parse_and_emit_agree_with_keepalived() {
        let mut datagram = [0u8; 40];
        datagram[..20].copy_from_slice(&HEADER);
        let (parsed, payload) = Ipv4Repr::parse_vrrp(&datagram).unwrap();
        assert_eq!(parsed, repr());
        assert_eq!(payload.len(), 20);
        assert!(header_checksum_ok(&datagram));

        let mut buf = [0xaau8; 24];
        assert_eq!(
            repr().emit(&mut buf, TOS_INTERNETWORK_CONTROL, 1).unwrap(),
            20
        );
        assert_eq!(buf[..20], HEADER);
        assert_eq!(buf[20], 0xaa);
    }

    #[test]
    fn options_move_the_payload() {
        let with_opts = Ipv4Repr {
            header_len: 24,
            payload_len: 4,
            ..repr()
        };
        let mut buf = [0u8; 28];
        with_opts.emit(&mut buf, 0, 7).unwrap();
        buf[24..].copy_from_slice(&[1, 2, 3, 4]);
        // Router Alert option (RFC 2113), as some stacks add it.
        buf[20..24].copy_from_slice(&[0x94, 0x04, 0, 0]);
        let (parsed, payload) = Ipv4Repr::parse(&buf).unwrap();
        assert_eq!(parsed, with_opts);
        assert_eq!(payload, &[1, 2, 3, 4]);
    }

    #[test]
    fn refusals_name_the_field() {
        let mut d = [0u8; 40];
        d[..20].copy_from_slice(&HEADER);
        let cases: [(usize, u8, Error); 4] = [
            (0, 0x65, Error::IpVersion(6)),
            (9, 6, Error::IpProtocol(6)),
            (
                0,
                0x44,
                Error::Length {
                    field: Field::Ipv4HeaderLength,
                    expected: 20,
                    have: 16,
                },
            ),
            (
                3,
                0x10,
                Error::Length {
                    field: Field::Ipv4TotalLength,
                    expected: 20,
                    have: 16,
                },
            ),
        ];
        for (at, value, want) in cases {
            let mut d = d;
            d[at] = value;
            assert_eq!(
                Ipv4Repr::parse_vrrp(&d),
                Err(want),
                "byte {at} = {value:#x}"
            );
        }
        let mut long = d;
        long[0] = 0x4f; // 60-byte header in a 40-byte datagram
        assert!(matches!(
            Ipv4Repr::parse(&long),
            Err(Error::Truncated {
                field: Field::Ipv4HeaderLength,
                need: 60,
                ..
            })
        ));
        assert!(matches!(
            Ipv4Repr::parse(&d[..39]),
            Err(Error::Truncated {
                field: Field::Ipv4TotalLength,
                ..
            })
        ));
        assert!(matches!(
            Ipv4Repr::parse(&d[..19]),
            Err(Error::Truncated {
                field: Field::Ipv4Header,
                ..
            })
        ));
        // Link-layer padding past the total length is not payload.
        let mut padded = [0u8; 46];
        padded[..40].copy_from_slice(&d);
        assert_eq!(Ipv4Repr::parse(&padded).unwrap().1.len(), 20);
        assert!(!header_checksum_ok(&d[..10]));
    }
}
