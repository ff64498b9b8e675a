//! The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 and ICMPv6 put in front of it.

use core::net::IpAddr;

/// One's-complement running sum; fold with [`finish`](Accumulator::finish).
///
/// The sum is kept unfolded in 64 bits and folded once at the end (RFC 1071 §2(C): the sum
/// may be taken over wider words and folded afterwards), which keeps the per-packet cost to a
/// few instructions per 4 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accumulator(u64);

impl Accumulator {
    pub const fn new() -> Self {
        Accumulator(0)
    }

    /// Add bytes as big-endian 16-bit words; an odd trailing byte is padded with zero.
    /// Slices fed one after another must have even lengths except the last one.
    pub fn add_bytes(&mut self, data: &[u8]) {
        let mut sum = self.0;
        let mut words = data.chunks_exact(4);
        for w in &mut words {
            // Two 16-bit words at once: their 32-bit value folds to the same 16-bit sum.
            sum += u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as u64;
        }
        match *words.remainder() {
            [a, b, c] => sum += u16::from_be_bytes([a, b]) as u64 + ((c as u64) << 8),
            [a, b] => sum += u16::from_be_bytes([a, b]) as u64,
            [a] => sum += (a as u64) << 8,
            _ => {}
        }
        // Cannot overflow: a packet would need 2^32 bytes to carry out of 64 bits.
        self.0 = sum;
    }

    pub fn add_u16(&mut self, v: u16) {
        self.0 += v as u64;
    }

    pub fn add_u32(&mut self, v: u32) {
        self.0 += v as u64;
    }

    /// The checksum to put in a header: the complement of the folded sum.
    pub fn finish(self) -> u16 {
        !fold(self.0)
    }
}

fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
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
    fn wide_words_and_odd_tails_agree_with_16_bit_words() {
        // Every length from 0 to 40, split anywhere even: same as a plain 16-bit word sum.
        let data: Vec<u8> = (0..40u32).map(|i| (i * 97 + 13) as u8).collect();
        for len in 0..=data.len() {
            let d = &data[..len];
            let mut reference: u64 = 0;
            for c in d.chunks(2) {
                reference += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u64;
            }
            let want = !fold(reference);
            assert_eq!(plain(d), want, "len {len}");
            for split in (0..=len).step_by(2) {
                let mut acc = Accumulator::new();
                acc.add_bytes(&d[..split]);
                acc.add_bytes(&d[split..]);
                assert_eq!(acc.finish(), want, "len {len} split {split}");
            }
        }
    }

    #[test]
    fn all_ones_is_a_valid_sum() {
        // 0xffff words: the folded sum is 0xffff and the checksum 0, never a carry lost.
        assert_eq!(plain(&[0xff; 64]), 0);
        assert_eq!(plain(&[]), 0xffff);
    }

    #[test]
    fn verifying_a_checksummed_buffer_gives_zero() {
        let mut data = [0x21, 0x33, 0x64, 0x01, 0x00, 0x64, 0x00, 0x00, 10, 0, 0, 1];
        let c = plain(&data);
        data[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(plain(&data), 0);
    }
}
