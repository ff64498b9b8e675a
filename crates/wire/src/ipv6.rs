//! The fixed IPv6 header (RFC 8200 §3). A raw IPv6 socket never shows it (the hop limit comes
//! in a control message); it is needed for the Neighbor Advertisement frames sent on AF_PACKET
//! and to read captured VRRPv3/IPv6 datagrams.

use core::net::Ipv6Addr;

use crate::{Error, Field, Result};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// A validated fixed IPv6 header and the length of what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// Payload length in bytes (everything after the fixed header).
    pub payload_len: usize,
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(b);
    Ipv6Addr::from(o)
}

impl Ipv6Repr {
    /// Parse the header at the start of `datagram`. Bytes past the payload length are ignored
    /// (link-layer padding). Returns the header and the payload. Jumbograms (payload length 0
    /// with a hop-by-hop option) are not supported: they never carry ND or VRRP.
    pub fn parse(datagram: &[u8]) -> Result<(Ipv6Repr, &[u8])> {
        let Some((h, rest)) = datagram.split_first_chunk::<HEADER_LEN>() else {
            return Err(Error::Truncated {
                field: Field::Ipv6Header,
                need: HEADER_LEN,
                have: datagram.len(),
            });
        };
        let version = h[0] >> 4;
        if version != 6 {
            return Err(Error::Ip6Version(version));
        }
        let payload_len = u16::from_be_bytes([h[4], h[5]]) as usize;
        let Some(payload) = rest.get(..payload_len) else {
            return Err(Error::Truncated {
                field: Field::Ipv6PayloadLength,
                need: HEADER_LEN + payload_len,
                have: datagram.len(),
            });
        };
        let word = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let repr = Ipv6Repr {
            traffic_class: (word >> 20) as u8,
            flow_label: word & 0x000f_ffff,
            next_header: h[6],
            hop_limit: h[7],
            src: addr(&h[8..24]),
            dst: addr(&h[24..40]),
            payload_len,
        };
        Ok((repr, payload))
    }

    /// Write the header into the first [`HEADER_LEN`] bytes of `buf`; returns the rest.
    pub fn emit<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8]> {
        let have = buf.len();
        let payload_len = u16::try_from(self.payload_len).map_err(|_| Error::Length {
            field: Field::Ipv6PayloadLength,
            expected: u16::MAX as usize,
            have: self.payload_len,
        })?;
        let Some((h, rest)) = buf.split_first_chunk_mut::<HEADER_LEN>() else {
            return Err(Error::Truncated {
                field: Field::OutputBuffer,
                need: HEADER_LEN,
                have,
            });
        };
        let word =
            (6u32 << 28) | ((self.traffic_class as u32) << 20) | (self.flow_label & 0x000f_ffff);
        h[0..4].copy_from_slice(&word.to_be_bytes());
        h[4..6].copy_from_slice(&payload_len.to_be_bytes());
        h[6] = self.next_header;
        h[7] = self.hop_limit;
        h[8..24].copy_from_slice(&self.src.octets());
        h[24..40].copy_from_slice(&self.dst.octets());
        Ok(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_class_and_flow_label() {
        let repr = Ipv6Repr {
            traffic_class: 0xc0,
            flow_label: 0xfe6ec,
            next_header: 112,
            hop_limit: 255,
            src: "fe80::5eff:fe10:b".parse().unwrap(),
            dst: "ff02::12".parse().unwrap(),
            payload_len: 4,
        };
        let mut buf = [0u8; 44];
        let rest = repr.emit(&mut buf).unwrap();
        assert_eq!(rest.len(), 4);
        assert_eq!(&buf[..8], &[0x6c, 0x0f, 0xe6, 0xec, 0x00, 0x04, 112, 255]);
        let (parsed, payload) = Ipv6Repr::parse(&buf).unwrap();
        assert_eq!(parsed, repr);
        assert_eq!(payload.len(), 4);
    }

    #[test]
    fn refuses_short_wrong_version_and_overlong_payload() {
        let mut buf = [0u8; 44];
        buf[0] = 0x60;
        buf[5] = 4;
        assert!(Ipv6Repr::parse(&buf).is_ok());
        assert!(matches!(
            Ipv6Repr::parse(&buf[..43]),
            Err(Error::Truncated {
                field: Field::Ipv6PayloadLength,
                ..
            })
        ));
        assert!(matches!(
            Ipv6Repr::parse(&buf[..39]),
            Err(Error::Truncated {
                field: Field::Ipv6Header,
                ..
            })
        ));
        buf[0] = 0x45;
        assert_eq!(Ipv6Repr::parse(&buf), Err(Error::Ip6Version(4)));
    }
}
