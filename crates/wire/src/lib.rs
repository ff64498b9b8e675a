//! Wire formats spoken by baton: VRRP advertisements (v2, RFC 3768; v3, RFC 5798 / RFC 9568) for
//! IPv4 and IPv6, the IPv4 header a raw socket hands back, gratuitous ARP and IPv6 unsolicited
//! Neighbor Advertisements.
//!
//! Every format follows one pattern: a validated `Repr` with `parse` and `emit` (into the
//! caller's buffer) and, for the messages themselves, a zero-copy `Packet<T: AsRef<[u8]>>` view
//! whose `new_checked` guarantees that no accessor can panic. Parsing never allocates and never
//! panics, on any input; every error names the field that was wrong.
//!
//! | module | what | parse / emit |
//! |---|---|---|
//! | [`advert`] | VRRPv2/v3 advert, both checksum forms for v3/IPv4, CARP refused | [`AdvertRepr`] |
//! | [`ipv4`] | the IPv4 header of a raw-socket datagram (IHL, TTL, protocol, addresses) | [`ipv4::Ipv4Repr`] |
//! | [`ipv6`] | the fixed IPv6 header (NA frames, captures) | [`ipv6::Ipv6Repr`] |
//! | [`ethernet`] | Ethernet II header, [`MacAddr`] | [`ethernet::EthernetRepr`] |
//! | [`auth_ext`] | keepalived's `auth_hmac` trailer: found by length, HMAC input, sequence | [`auth_ext::TrailerRepr`] |
//! | [`arp`] | gratuitous ARP frame as keepalived sends it | [`arp::FrameRepr::gratuitous`] |
//! | [`ndisc`] | unsolicited Neighbor Advertisement frame as keepalived sends it | [`ndisc::FrameRepr::unsolicited`] |
//! | [`checksum`] | RFC 1071 sum with IPv4/IPv6 pseudo-headers | |
//!
//! The captured keepalived packets the tests check against, and how they were captured, are in
//! `tests/vectors/`.

#![forbid(unsafe_code)]

pub mod advert;
pub mod arp;
pub mod auth_ext;
pub mod checksum;
mod error;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;

pub use advert::{Addresses, AdvertRepr, Auth, ChecksumForm, ChecksumPolicy, Version};
pub use error::{Error, Field};
pub use ethernet::MacAddr;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP (and, unfortunately, of CARP).
pub const IPPROTO_VRRP: u8 = 112;
/// The VRRP IPv4 multicast group (RFC 5798 §5.1.1.2).
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group (RFC 5798 §5.1.2.2).
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit every advertisement must carry (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u8 = 255;

/// Address family of a VRRP router; the advert itself does not say, the socket does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// Bytes of one address of this family.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }

    pub const fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

impl core::fmt::Display for Family {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

pub type Result<T> = core::result::Result<T, Error>;
