//! The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 and ICMPv6 put in front of it.

use core::net::IpAddr;

/// One's-complement running sum; fold with [`finish`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Accumulator(u32);

impl Accumulator {
    pub const fn new() -> Self {
        Accumulator(0)
    }

    /// Add bytes as big-endian 16-bit words; an odd trailing byte is padded with zero.
    /// Slices fed one after another must have even lengths except the last one.
    pub fn add_bytes(&mut self, data: &[u8]) {
        let mut chunks = data.chunks_exact(2);
        let mut sum = self.0 as u64;
        for c in &mut chunks {
            sum += u16::from_be_bytes([c[0], c[1]]) as u64;
        }
        if let [last] = chunks.remainder() {
            sum += u16::from_be_bytes([*last, 0]) as u64;
        }
        self.0 = fold64(sum);
    }

    pub fn add_u16(&mut self, v: u16) {
        self.add_bytes(&v.to_be_bytes());
    }

    pub fn add_u32(&mut self, v: u32) {
        self.add_bytes(&v.to_be_bytes());
    }

    /// The checksum to put in a header: the complement of the folded sum.
    pub fn finish(self) -> u16 {
        !(fold64(self.0 as u64) as u16)
    }
}

fn fold64(mut sum: u64) -> u32 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u32
}

/// Checksum of `data` alone (VRRPv2; VRRPv3 over IPv4 with `v3_checksum_as_v2`).
pub fn plain(data: &[u8]) -> u16 {
    let mut acc = Accumulator::new();
    acc.add_bytes(data);
    acc.finish()
}

/// Checksum of `data` behind the IPv4 or IPv6 pseudo-header (RFC 768 / RFC 8200 §8.1) for
/// upper-layer protocol `proto`.
pub fn with_pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, data: &[u8]) -> u16 {
    let mut acc = Accumulator::new();
    acc.add_pseudo_header(src, dst, proto, data.len());
    acc.add_bytes(data);
    acc.finish()
}

impl Accumulator {
    /// Add the pseudo-header for an upper-layer message of `len` bytes. Mixed families cannot
    /// occur on one socket; if given, anything but two IPv4 addresses uses the IPv6 layout.
    pub fn add_pseudo_header(&mut self, src: IpAddr, dst: IpAddr, proto: u8, len: usize) {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                self.add_bytes(&s.octets());
                self.add_bytes(&d.octets());
                self.add_u16(proto as u16);
                self.add_u16(len as u16);
            }
            _ => {
                self.add_bytes(&v6_octets(src));
                self.add_bytes(&v6_octets(dst));
                self.add_u32(len as u32);
                self.add_u32(proto as u32);
            }
        }
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0x0001 0xf203 0xf4f5 0xf6f7 sum to 0xddf2 (before complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(plain(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(plain(&[0x12]), !0x1200);
    }

    #[test]
    fn verifying_a_checksummed_buffer_gives_zero() {
        let mut data = [0x21, 0x33, 0x64, 0x01, 0x00, 0x64, 0x00, 0x00, 10, 0, 0, 1];
        let c = plain(&data);
        data[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(plain(&data), 0);
    }
}
