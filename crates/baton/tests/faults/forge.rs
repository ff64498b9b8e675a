//! Forged adverts for the flood cases and the flood bench (`examples/flood_bench.rs`
//! includes this file): VRRPv2 for VRID 51 with a password that is not the daemon's, and
//! VRRPv3/IPv6 for VRID 61 with a VIP list that is not the daemon's. Both are dropped as
//! configuration mismatches, so each new source is a new entry for the mismatch table and a
//! new line for the log.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_lab::{ipv4_datagram, ipv6_datagram};
use baton_wire::{AdvertRepr, Auth, ChecksumForm, Family, Version};

/// The daemon's side: the two instances the forged adverts disagree with.
pub const CONF: &str = "\
vrrp_instance VI_1 {
    state MASTER
    interface ens33
    virtual_router_id 51
    priority 200
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        192.168.5.10
    }
}
vrrp_instance VI_6 {
    state MASTER
    interface ens33
    virtual_router_id 61
    priority 200
    version 3
    advert_int 1
    virtual_ipaddress {
        fd00:5::10
    }
}
";

/// One forged advert from `src`, as a whole IP datagram.
pub fn advert(family: Family, src: IpAddr) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let theirs: [u8; 16] = "fd00:5::99"
        .parse::<Ipv6Addr>()
        .unwrap_or(Ipv6Addr::LOCALHOST)
        .octets();
    let (repr, dst) = match family {
        Family::Ipv4 => (
            AdvertRepr {
                version: Version::V2,
                vrid: 51,
                priority: 100,
                interval: 1,
                auth: Auth::pass(b"wrongpw"),
                addresses: baton_wire::Addresses::new(Family::Ipv4, &[192, 168, 5, 10])
                    .unwrap_or(baton_wire::Addresses::empty(Family::Ipv4)),
            },
            IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        ),
        Family::Ipv6 => (
            AdvertRepr {
                version: Version::V3,
                vrid: 61,
                priority: 100,
                interval: 100,
                auth: Auth::None,
                addresses: baton_wire::Addresses::new(Family::Ipv6, &theirs)
                    .unwrap_or(baton_wire::Addresses::empty(Family::Ipv6)),
            },
            IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
        ),
    };
    let n = repr
        .emit(&mut buf, src, dst, ChecksumForm::PseudoHeader)
        .unwrap_or(0);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4_datagram(s, d, 255, 112, &buf[..n]),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6_datagram(s, d, 255, 112, &buf[..n]),
        _ => Vec::new(),
    }
}

/// Forged source number `i`: from 10.0.0.0/8 for IPv4, from fe80::/64 for IPv6.
pub fn forged(family: Family, i: u32) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(
            0xfe80_0000_0000_0000_0000_0001_0000_0000u128 + u128::from(i),
        )),
    }
}

/// The attacker's own address (the single-source floods).
pub fn own(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(192, 168, 5, 66)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x66)),
    }
}

/// Datagrams the daemon has read on its sockets, from its status.
pub fn received(status: &serde_json::Value) -> u64 {
    status["daemon"]["sockets"]
        .as_array()
        .map(|a| a.iter().map(|s| s["received"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}
