//! Packets Debian's keepalived 2.2.7 put on the wire (tests/vectors/README.md says how they were
//! captured), checked byte for byte: parse gives the configured fields, and emitting the parsed
//! representation with the checksum form it was received in gives the very same bytes.
#![allow(clippy::unwrap_used)]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_wire::advert::Packet;
use baton_wire::ipv4::{Ipv4Repr, TOS_INTERNETWORK_CONTROL};
use baton_wire::ipv6::Ipv6Repr;
use baton_wire::{
    AdvertRepr, Auth, ChecksumForm, ChecksumPolicy, Family, MacAddr, VRRP_TTL, Version, arp, ndisc,
};

/// The MAC of the veth keepalived ran on.
const MAC_KA: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b]);
const SRC4: Ipv4Addr = Ipv4Addr::new(192, 168, 5, 11);

/// What the configuration of each capture says the advert must carry.
struct Expected {
    file: &'static [u8],
    version: Version,
    vrid: u8,
    priority: u8,
    interval: u16,
    auth: Auth,
    vips: &'static [&'static str],
    form: ChecksumForm,
}

const IPV4_CASES: [Expected; 4] = [
    Expected {
        file: include_bytes!("vectors/v2_pass.ip"),
        version: Version::V2,
        vrid: 51,
        priority: 200,
        interval: 1,
        auth: Auth::Pass(*b"1111\0\0\0\0"),
        vips: &["192.168.5.10"],
        form: ChecksumForm::Plain,
    },
    Expected {
        file: include_bytes!("vectors/v2_pass_prio0.ip"),
        version: Version::V2,
        vrid: 51,
        priority: 0,
        interval: 1,
        auth: Auth::Pass(*b"1111\0\0\0\0"),
        vips: &["192.168.5.10"],
        form: ChecksumForm::Plain,
    },
    Expected {
        file: include_bytes!("vectors/v2_noauth.ip"),
        version: Version::V2,
        vrid: 52,
        priority: 150,
        interval: 3,
        auth: Auth::None,
        vips: &["192.168.5.20", "192.168.5.21", "10.0.0.1"],
        form: ChecksumForm::Plain,
    },
    Expected {
        file: include_bytes!("vectors/v3_ipv4.ip"),
        version: Version::V3,
        vrid: 53,
        priority: 100,
        interval: 50,
        auth: Auth::None,
        vips: &["192.168.5.30", "192.168.5.31"],
        form: ChecksumForm::PseudoHeader,
    },
];

fn check_advert(e: &Expected, vrrp: &[u8], family: Family, src: IpAddr, dst: IpAddr) {
    let packet = Packet::new_checked(vrrp, family).unwrap();
    let (repr, form) =
        AdvertRepr::parse(&packet, family, src, dst, ChecksumPolicy::Either).unwrap();
    assert_eq!(form, e.form);
    assert_eq!(repr.version, e.version);
    assert_eq!(repr.vrid, e.vrid);
    assert_eq!(repr.priority, e.priority);
    assert_eq!(repr.interval, e.interval);
    assert_eq!(repr.auth, e.auth);
    let vips: Vec<IpAddr> = e.vips.iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(repr.addresses.iter().collect::<Vec<_>>(), vips);
    // The same advert must also pass when exactly its form is required.
    AdvertRepr::parse(&packet, family, src, dst, ChecksumPolicy::Expect(form)).unwrap();

    let mut out = [0u8; 1024];
    let n = repr.emit(&mut out, src, dst, form).unwrap();
    assert_eq!(
        &out[..n],
        vrrp,
        "re-emitted advert differs from keepalived's"
    );
}

#[test]
fn keepalived_ipv4_adverts() {
    for e in &IPV4_CASES {
        let (ip, vrrp) = Ipv4Repr::parse_vrrp(e.file).unwrap();
        assert_eq!(ip.ttl, VRRP_TTL);
        assert_eq!(ip.src, SRC4);
        assert_eq!(ip.dst, baton_wire::MCAST_GROUP_V4);
        assert_eq!(ip.header_len, 20);
        assert_eq!(ip.payload_len, vrrp.len());
        assert!(baton_wire::ipv4::header_checksum_ok(e.file));
        check_advert(e, vrrp, Family::Ipv4, ip.src.into(), ip.dst.into());

        // keepalived builds the IPv4 header itself (IP_HDRINCL); ours matches it.
        let ident = u16::from_be_bytes([e.file[4], e.file[5]]);
        let mut hdr = [0u8; 20];
        ip.emit(&mut hdr, TOS_INTERNETWORK_CONTROL, ident).unwrap();
        assert_eq!(hdr, e.file[..20]);
    }
}

#[test]
fn keepalived_ipv6_advert() {
    let e = Expected {
        file: include_bytes!("vectors/v3_ipv6.ip"),
        version: Version::V3,
        vrid: 56,
        priority: 100,
        interval: 100,
        auth: Auth::None,
        vips: &["fe80::56", "fd00:5::56"],
        form: ChecksumForm::PseudoHeader,
    };
    let (ip, vrrp) = Ipv6Repr::parse(e.file).unwrap();
    assert_eq!(ip.hop_limit, VRRP_TTL);
    assert_eq!(ip.next_header, baton_wire::IPPROTO_VRRP);
    assert_eq!(ip.dst, baton_wire::MCAST_GROUP_V6);
    // The source is the interface's link-local address, derived from its MAC (EUI-64).
    assert_eq!(ip.src, "fe80::5eff:fe10:b".parse::<Ipv6Addr>().unwrap());
    check_advert(&e, vrrp, Family::Ipv6, ip.src.into(), ip.dst.into());
}

#[test]
fn keepalived_gratuitous_arp() {
    let frame: &[u8] = include_bytes!("vectors/garp.eth");
    let vip = Ipv4Addr::new(192, 168, 5, 10);
    let repr = arp::FrameRepr::parse(frame).unwrap();
    assert_eq!(repr, arp::FrameRepr::gratuitous(MAC_KA, vip));
    let mut out = [0u8; 64];
    let n = repr.emit(&mut out).unwrap();
    assert_eq!(&out[..n], frame);
}

#[test]
fn keepalived_unsolicited_neighbor_advert() {
    let frame: &[u8] = include_bytes!("vectors/unsolicited_na.eth");
    let vip: Ipv6Addr = "fe80::56".parse().unwrap();
    let repr = ndisc::FrameRepr::parse(frame).unwrap();
    // Forwarding is off in the capture namespace, so keepalived leaves the Router flag clear.
    assert_eq!(repr, ndisc::FrameRepr::unsolicited(MAC_KA, vip, false));
    let mut out = [0u8; 128];
    let n = repr.emit(&mut out).unwrap();
    assert_eq!(&out[..n], frame);
}
