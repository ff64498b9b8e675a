//! The IPv4 header as a Linux raw socket hands it back with each received datagram (header
//! fields in network order, options included), so the daemon can check the TTL and read the
//! source and destination before looking at the VRRP message.

use core::net::Ipv4Addr;

use crate::{Error, Field, Result};

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;

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
}
