//! Hand-checked vectors, four ways each (deconstruct, construct, parse, emit), and the
//! refusals. Except where noted, the bytes are those keepalived 2.2.7 sent for the same
//! configuration (see tests/vectors/README.md), so the checksums are not our own arithmetic
//! checked against itself.

use super::*;
use core::net::{Ipv4Addr, Ipv6Addr};

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 11));
const DST4: IpAddr = IpAddr::V4(crate::MCAST_GROUP_V4);
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x5eff, 0xfe10, 0x000b));
const DST6: IpAddr = IpAddr::V6(crate::MCAST_GROUP_V6);

/// The seed's master: v2, vrid 51, priority 200, PASS "1111", 1 s, VIP 192.168.5.10.
static V2_PASS: [u8; 20] = [
    0x21, 51, 200, 1, // v2 advert, vrid, priority, one address
    1, 1, 0xed, 0xb4, // PASS, 1 s, checksum
    192, 168, 5, 10, // VIP
    b'1', b'1', b'1', b'1', 0, 0, 0, 0, // password, zero padded
];

/// v3/IPv4 with keepalived's pseudo-header checksum: vrid 53, priority 100, 50 cs, two VIPs.
static V3_IPV4_PSEUDO: [u8; 16] = [
    0x31, 53, 100, 2, 0x00, 0x32, 0x38, 0xc1, 192, 168, 5, 30, 192, 168, 5, 31,
];

/// v3/IPv4 with `v3_checksum_as_v2`: vrid 54, priority 120, 100 cs, one VIP. keepalived 2.2.7
/// cannot send this form; the checksum 0x9093 was summed by hand (and tshark agrees, see
/// tests/tshark.rs).
static V3_IPV4_PLAIN: [u8; 12] = [0x31, 54, 120, 1, 0x00, 0x64, 0x90, 0x93, 192, 168, 5, 40];

/// v3/IPv6: vrid 56, priority 100, 100 cs, VIPs fe80::56 and fd00:5::56.
static V3_IPV6: [u8; 40] = [
    0x31, 56, 100, 2, 0x00, 0x64, 0x12, 0xe5, //
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x56, //
    0xfd, 0x00, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x56,
];

fn v4(addrs: &[[u8; 4]]) -> Vec<u8> {
    addrs.concat()
}

#[test]
fn deconstruct_v2() {
    let p = Packet::new_checked(&V2_PASS[..], Family::Ipv4).unwrap();
    assert_eq!(p.version_number(), 2);
    assert_eq!(p.msg_type(), 1);
    assert_eq!(p.vrid(), 51);
    assert_eq!(p.priority(), 200);
    assert_eq!(p.count(), 1);
    assert_eq!(p.auth_type(), 1);
    assert_eq!(p.adver_int(), 1);
    assert_eq!(p.checksum(), 0xedb4);
    assert_eq!(p.address_bytes(Family::Ipv4), &[192, 168, 5, 10]);
    assert_eq!(&p.auth_data(), b"1111\0\0\0\0");
    assert!(p.verify_checksum(ChecksumForm::Plain, SRC4, DST4));
}

#[test]
fn deconstruct_v3() {
    let p = Packet::new_checked(&V3_IPV4_PSEUDO[..], Family::Ipv4).unwrap();
    assert_eq!((p.version_number(), p.msg_type()), (3, 1));
    assert_eq!((p.vrid(), p.priority(), p.count()), (53, 100, 2));
    assert_eq!((p.reserved(), p.max_adver_int()), (0, 50));
    assert_eq!(p.checksum(), 0x38c1);
    assert!(p.verify_checksum(ChecksumForm::PseudoHeader, SRC4, DST4));
    assert!(!p.verify_checksum(ChecksumForm::Plain, SRC4, DST4));

    let p = Packet::new_checked(&V3_IPV6[..], Family::Ipv6).unwrap();
    assert_eq!((p.vrid(), p.count(), p.max_adver_int()), (56, 2, 100));
    assert_eq!(p.address_bytes(Family::Ipv6), &V3_IPV6[8..]);
    assert!(p.verify_checksum(ChecksumForm::PseudoHeader, SRC6, DST6));
}

#[test]
fn construct_v2_and_v3() {
    let mut buf = [0u8; 20];
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_version_type(2, 1);
    p.set_vrid(51);
    p.set_priority(200);
    p.set_count(1);
    p.set_auth_type(1);
    p.set_adver_int(1);
    p.address_bytes_mut()[..4].copy_from_slice(&[192, 168, 5, 10]);
    p.set_auth_data(b"1111\0\0\0\0");
    p.fill_checksum(ChecksumForm::Plain, SRC4, DST4);
    assert_eq!(buf, V2_PASS);

    let mut buf = [0u8; 12];
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_version_type(3, 1);
    p.set_vrid(54);
    p.set_priority(120);
    p.set_count(1);
    p.set_max_adver_int(100);
    p.address_bytes_mut().copy_from_slice(&[192, 168, 5, 40]);
    p.fill_checksum(ChecksumForm::Plain, SRC4, DST4);
    assert_eq!(buf, V3_IPV4_PLAIN);
}

#[test]
fn parse_all_four_kinds() {
    let cases: [(&[u8], Family, IpAddr, IpAddr, ChecksumForm); 4] = [
        (&V2_PASS, Family::Ipv4, SRC4, DST4, ChecksumForm::Plain),
        (
            &V3_IPV4_PSEUDO,
            Family::Ipv4,
            SRC4,
            DST4,
            ChecksumForm::PseudoHeader,
        ),
        (
            &V3_IPV4_PLAIN,
            Family::Ipv4,
            SRC4,
            DST4,
            ChecksumForm::Plain,
        ),
        (
            &V3_IPV6,
            Family::Ipv6,
            SRC6,
            DST6,
            ChecksumForm::PseudoHeader,
        ),
    ];
    for (bytes, family, src, dst, form) in cases {
        let p = Packet::new_checked(bytes, family).unwrap();
        let (repr, seen) = AdvertRepr::parse(&p, family, src, dst, ChecksumPolicy::Either).unwrap();
        assert_eq!(seen, form);
        let (again, _) =
            AdvertRepr::parse(&p, family, src, dst, ChecksumPolicy::Expect(form)).unwrap();
        assert_eq!(again, repr);
        assert_eq!(repr.addresses.family(), family);
    }

    let p = Packet::new_checked(&V2_PASS[..], Family::Ipv4).unwrap();
    let (repr, _) =
        AdvertRepr::parse(&p, Family::Ipv4, SRC4, DST4, ChecksumPolicy::Either).unwrap();
    assert_eq!(repr.version, Version::V2);
    assert_eq!((repr.vrid, repr.priority, repr.interval), (51, 200, 1));
    assert_eq!(repr.auth, Auth::pass(b"1111"));
    assert_eq!(repr.interval_duration(), core::time::Duration::from_secs(1));
    let vips: Vec<IpAddr> = repr.addresses.iter().collect();
    assert_eq!(vips, [IpAddr::V4(Ipv4Addr::new(192, 168, 5, 10))]);
    assert_eq!(
        repr.to_string(),
        "VRRPv2 vrid 51 prio 200 intvl 1s auth PASS addrs [192.168.5.10]"
    );

    let p = Packet::new_checked(&V3_IPV4_PSEUDO[..], Family::Ipv4).unwrap();
    let (repr, _) =
        AdvertRepr::parse(&p, Family::Ipv4, SRC4, DST4, ChecksumPolicy::Either).unwrap();
    assert_eq!(
        repr.interval_duration(),
        core::time::Duration::from_millis(500)
    );
    assert_eq!(repr.auth, Auth::None);
}

#[test]
fn emit_all_four_kinds() {
    let vip = v4(&[[192, 168, 5, 10]]);
    let v2 = AdvertRepr {
        version: Version::V2,
        vrid: 51,
        priority: 200,
        interval: 1,
        auth: Auth::pass(b"1111"),
        addresses: Addresses::new(Family::Ipv4, &vip).unwrap(),
    };
    let mut buf = [0xaau8; 64];
    // The form asked for does not matter for v2.
    let n = v2
        .emit(&mut buf, SRC4, DST4, ChecksumForm::PseudoHeader)
        .unwrap();
    assert_eq!(buf[..n], V2_PASS);
    assert_eq!(buf[n], 0xaa, "emit must not write past the advert");

    let vips = v4(&[[192, 168, 5, 30], [192, 168, 5, 31]]);
    let v3 = AdvertRepr {
        version: Version::V3,
        vrid: 53,
        priority: 100,
        interval: 50,
        auth: Auth::None,
        addresses: Addresses::new(Family::Ipv4, &vips).unwrap(),
    };
    let n = v3
        .emit(&mut buf, SRC4, DST4, ChecksumForm::PseudoHeader)
        .unwrap();
    assert_eq!(buf[..n], V3_IPV4_PSEUDO);

    let vip = v4(&[[192, 168, 5, 40]]);
    let plain = AdvertRepr {
        vrid: 54,
        priority: 120,
        interval: 100,
        addresses: Addresses::new(Family::Ipv4, &vip).unwrap(),
        ..v3
    };
    let n = plain
        .emit(&mut buf, SRC4, DST4, ChecksumForm::Plain)
        .unwrap();
    assert_eq!(buf[..n], V3_IPV4_PLAIN);

    let v6 = AdvertRepr {
        vrid: 56,
        priority: 100,
        interval: 100,
        addresses: Addresses::new(Family::Ipv6, &V3_IPV6[8..]).unwrap(),
        ..v3
    };
    // The form asked for does not matter for IPv6 either: always the pseudo-header.
    let n = v6.emit(&mut buf, SRC6, DST6, ChecksumForm::Plain).unwrap();
    assert_eq!(buf[..n], V3_IPV6);
}

fn parse4(bytes: &[u8]) -> Result<(AdvertRepr<'_>, ChecksumForm)> {
    let p = Packet::new_unchecked(bytes);
    AdvertRepr::parse(&p, Family::Ipv4, SRC4, DST4, ChecksumPolicy::Either)
}

/// Change one byte of a v2 advert and fix its checksum so only that change is judged.
fn v2_with(at: usize, value: u8) -> [u8; 20] {
    let mut b = V2_PASS;
    b[at] = value;
    Packet::new_unchecked(&mut b[..]).fill_checksum(ChecksumForm::Plain, SRC4, DST4);
    b
}

#[test]
fn refusals_name_the_field() {
    assert_eq!(parse4(&v2_with(0, 0x11)), Err(Error::Version(1)));
    assert_eq!(parse4(&v2_with(0, 0x41)), Err(Error::Version(4)));
    assert_eq!(parse4(&v2_with(0, 0x22)), Err(Error::Type(2)));
    assert_eq!(parse4(&v2_with(4, 2)), Err(Error::AuthAh));
    assert_eq!(parse4(&v2_with(4, 3)), Err(Error::AuthType(3)));
    assert_eq!(parse4(&v2_with(5, 0)), Err(Error::ZeroInterval));
    assert_eq!(
        parse4(&v2_with(3, 2)),
        Err(Error::Truncated {
            field: Field::VrrpAddressCount,
            need: 24,
            have: 20
        })
    );
    assert_eq!(
        parse4(&v2_with(3, 0)),
        Err(Error::Length {
            field: Field::VrrpAddressCount,
            expected: 16,
            have: 20
        })
    );
    let mut bad = V2_PASS;
    bad[7] ^= 0xff;
    assert_eq!(
        parse4(&bad),
        Err(Error::Checksum {
            got: 0xed4b,
            expected: 0xedb4
        })
    );
    assert_eq!(
        parse4(&V2_PASS[..7]),
        Err(Error::Truncated {
            field: Field::VrrpHeader,
            need: 8,
            have: 7
        })
    );

    let p = Packet::new_unchecked(&V2_PASS[..]);
    assert_eq!(
        AdvertRepr::parse(&p, Family::Ipv6, SRC6, DST6, ChecksumPolicy::Either),
        Err(Error::Version2OverIpv6)
    );

    // A v3/IPv4 advert whose sender used the other checksum form than the one required.
    let p = Packet::new_unchecked(&V3_IPV4_PSEUDO[..]);
    let strict = ChecksumPolicy::Expect(ChecksumForm::Plain);
    assert!(matches!(
        AdvertRepr::parse(&p, Family::Ipv4, SRC4, DST4, strict),
        Err(Error::Checksum { got: 0x38c1, .. })
    ));
    // ...and a pseudo-header checksum depends on the addresses.
    let other = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 12));
    assert!(matches!(
        AdvertRepr::parse(&p, Family::Ipv4, other, DST4, ChecksumPolicy::Either),
        Err(Error::Checksum { .. })
    ));
    // v3 with a zero interval.
    let mut z = V3_IPV4_PLAIN;
    z[5] = 0;
    Packet::new_unchecked(&mut z[..]).fill_checksum(ChecksumForm::Plain, SRC4, DST4);
    assert_eq!(parse4(&z), Err(Error::ZeroInterval));
}

#[test]
fn v3_reserved_bits_are_ignored_and_the_interval_is_12_bits() {
    let mut b = V3_IPV4_PLAIN;
    b[4] = 0xf0 | 0x0f;
    b[5] = 0xff;
    Packet::new_unchecked(&mut b[..]).fill_checksum(ChecksumForm::Plain, SRC4, DST4);
    let p = Packet::new_unchecked(&b[..]);
    assert_eq!(p.reserved(), 0xf);
    let (repr, _) = parse4(&b).unwrap();
    assert_eq!(repr.interval, 4095);
    assert_eq!(
        repr.interval_duration(),
        core::time::Duration::from_millis(40950)
    );
}

/// A ucarp advertisement: version 2, type 1, vhid 1, advskew 0, authlen 7, advbase 1,
/// 8-byte counter, 20-byte SHA-1 HMAC; checksummed like VRRPv2.
fn carp() -> [u8; 36] {
    let mut c = [0u8; 36];
    c[..6].copy_from_slice(&[0x21, 1, 0, 7, 0, 1]);
    c[8..16].copy_from_slice(&[0, 0, 0, 0, 0x5e, 0x10, 0x00, 0x2a]);
    for (i, b) in c[16..].iter_mut().enumerate() {
        *b = 0x80 ^ i as u8;
    }
    let sum = checksum::plain(&c);
    c[6..8].copy_from_slice(&sum.to_be_bytes());
    c
}

#[test]
fn carp_is_refused_as_carp_on_both_families() {
    let c = carp();
    assert_eq!(parse4(&c), Err(Error::Carp));
    assert_eq!(
        Packet::new_checked(&c[..], Family::Ipv6).err(),
        Some(Error::Carp)
    );
    // A genuine v2 advert with seven addresses is not CARP.
    let vips: Vec<u8> = (1..=7).flat_map(|i| [10, 0, 0, i]).collect();
    let repr = AdvertRepr {
        version: Version::V2,
        vrid: 1,
        priority: 100,
        interval: 1,
        auth: Auth::None,
        addresses: Addresses::new(Family::Ipv4, &vips).unwrap(),
    };
    let mut buf = [0u8; 44];
    repr.emit(&mut buf, SRC4, DST4, ChecksumForm::Plain)
        .unwrap();
    assert_eq!(parse4(&buf).unwrap().0, repr);
}

#[test]
fn zero_and_255_addresses() {
    for family in [Family::Ipv4, Family::Ipv6] {
        let (src, dst) = match family {
            Family::Ipv4 => (SRC4, DST4),
            Family::Ipv6 => (SRC6, DST6),
        };
        for n in [0usize, 1, 255] {
            let bytes: Vec<u8> = (0..n * family.addr_len()).map(|i| i as u8).collect();
            let repr = AdvertRepr {
                version: Version::V3,
                vrid: 7,
                priority: 255,
                interval: 100,
                auth: Auth::None,
                addresses: Addresses::new(family, &bytes).unwrap(),
            };
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut buf, src, dst, ChecksumForm::PseudoHeader)
                .unwrap();
            let p = Packet::new_checked(&buf[..], family).unwrap();
            let (parsed, _) =
                AdvertRepr::parse(&p, family, src, dst, ChecksumPolicy::Either).unwrap();
            assert_eq!(parsed, repr);
            assert_eq!(parsed.addresses.len(), n);
        }
    }
}

#[test]
fn emit_refuses_what_does_not_fit() {
    let many = vec![0u8; 256 * 4];
    let base = AdvertRepr {
        version: Version::V3,
        vrid: 1,
        priority: 100,
        interval: 100,
        auth: Auth::None,
        addresses: Addresses::new(Family::Ipv4, &many).unwrap(),
    };
    let mut buf = vec![0u8; 2048];
    assert_eq!(
        base.emit(&mut buf, SRC4, DST4, ChecksumForm::Plain),
        Err(Error::TooManyAddresses(256))
    );
    let one = AdvertRepr {
        addresses: Addresses::new(Family::Ipv4, &many[..4]).unwrap(),
        ..base
    };
    let cases = [
        (AdvertRepr { interval: 0, ..one }, Error::ZeroInterval),
        (
            AdvertRepr {
                interval: 4096,
                ..one
            },
            Error::IntervalRange(4096),
        ),
        (
            AdvertRepr {
                version: Version::V2,
                interval: 256,
                ..one
            },
            Error::IntervalRange(256),
        ),
        (
            AdvertRepr {
                version: Version::V2,
                addresses: Addresses::new(Family::Ipv6, &many[..16]).unwrap(),
                ..one
            },
            Error::Version2OverIpv6,
        ),
    ];
    for (repr, want) in cases {
        assert_eq!(
            repr.emit(&mut buf, SRC4, DST4, ChecksumForm::Plain),
            Err(want)
        );
    }
    assert!(matches!(
        one.emit(&mut buf[..11], SRC4, DST4, ChecksumForm::Plain),
        Err(Error::Truncated {
            field: Field::OutputBuffer,
            need: 12,
            have: 11
        })
    ));
}

#[test]
fn password_keeps_only_eight_bytes() {
    assert_eq!(Auth::pass(b"0123456789"), Auth::Pass(*b"01234567"));
    assert_eq!(Auth::pass(b""), Auth::Pass([0; 8]));
}

#[test]
fn address_lists() {
    let a = v4(&[[10, 0, 0, 1], [10, 0, 0, 2]]);
    let b = v4(&[[10, 0, 0, 2], [10, 0, 0, 1]]);
    let c = v4(&[[10, 0, 0, 2], [10, 0, 0, 3]]);
    let (a, b, c) = (
        Addresses::new(Family::Ipv4, &a).unwrap(),
        Addresses::new(Family::Ipv4, &b).unwrap(),
        Addresses::new(Family::Ipv4, &c).unwrap(),
    );
    assert!(a.same_set(&b));
    assert!(!a.same_set(&c));
    assert!(a.contains(&IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))));
    assert!(!a.contains(&IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3))));
    assert!(!a.contains(&SRC6));
    assert_eq!(Addresses::new(Family::Ipv4, &[1, 2, 3]), None);
    assert!(Addresses::empty(Family::Ipv6).is_empty());
    assert_eq!(format!("{a:?}"), "[10.0.0.1, 10.0.0.2]");
    let mixed = [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), SRC6];
    assert_eq!(encode_addresses(Family::Ipv4, &mixed), vec![10, 0, 0, 1]);
    assert_eq!(encode_addresses(Family::Ipv6, &mixed).len(), 16);
}
