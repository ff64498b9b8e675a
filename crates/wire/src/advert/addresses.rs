//! The list of virtual addresses an advertisement carries.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Family;

/// The addresses carried in an advertisement: a borrowed run of network-order addresses of
/// one family. Parsing borrows them from the packet; a sender encodes its list once with
/// [`encode_addresses`] and borrows that.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Addresses<'a> {
    pub(super) family: Family,
    pub(super) bytes: &'a [u8],
}

impl<'a> Addresses<'a> {
    /// `None` when `bytes` is not a whole number of addresses.
    pub fn new(family: Family, bytes: &'a [u8]) -> Option<Addresses<'a>> {
        bytes
            .len()
            .is_multiple_of(family.addr_len())
            .then_some(Addresses { family, bytes })
    }

    pub const fn empty(family: Family) -> Addresses<'a> {
        Addresses { family, bytes: &[] }
    }

    pub const fn family(&self) -> Family {
        self.family
    }

    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / self.family.addr_len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = IpAddr> + 'a {
        let family = self.family;
        self.bytes
            .chunks_exact(family.addr_len())
            .map(move |c| decode_addr(family, c))
    }

    pub fn contains(&self, addr: &IpAddr) -> bool {
        let mut buf = [0u8; 16];
        let Some(enc) = encode_addr(self.family, addr, &mut buf) else {
            return false;
        };
        self.bytes
            .chunks_exact(self.family.addr_len())
            .any(|c| c == enc)
    }

    /// Same set of addresses, in any order (keepalived compares VIP lists as sets).
    pub fn same_set(&self, other: &Addresses<'_>) -> bool {
        self.family == other.family
            && self.len() == other.len()
            && self.bytes.chunks_exact(self.family.addr_len()).all(|c| {
                other
                    .bytes
                    .chunks_exact(other.family.addr_len())
                    .any(|o| o == c)
            })
    }
}

impl fmt::Debug for Addresses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn decode_addr(family: Family, c: &[u8]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
        Family::Ipv6 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(c);
            IpAddr::V6(Ipv6Addr::from(o))
        }
    }
}

fn encode_addr<'b>(family: Family, addr: &IpAddr, buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    match (family, addr) {
        (Family::Ipv4, IpAddr::V4(a)) => {
            buf[..4].copy_from_slice(&a.octets());
            Some(&buf[..4])
        }
        (Family::Ipv6, IpAddr::V6(a)) => {
            buf.copy_from_slice(&a.octets());
            Some(&buf[..])
        }
        _ => None,
    }
}

/// Encode addresses of `family` in network order, skipping any of the other family.
pub fn encode_addresses<'i>(
    family: Family,
    addrs: impl IntoIterator<Item = &'i IpAddr>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16];
    for a in addrs {
        if let Some(enc) = encode_addr(family, a, &mut buf) {
            out.extend_from_slice(enc);
        }
    }
    out
}
