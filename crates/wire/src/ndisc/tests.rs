use super::*;

const MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b]);
const VIP: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x56);

/// keepalived 2.2.7's unsolicited NA for fe80::56 from MAC 02:00:5e:10:00:0b (captured; see
/// tests/vectors/README.md).
static FRAME: [u8; 86] = [
    0x33, 0x33, 0x00, 0x00, 0x00, 0x01, // Ethernet destination: all-nodes multicast
    0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b, // Ethernet source: interface MAC
    0x86, 0xdd, // ethertype IPv6
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, // v6, payload 32, ICMPv6, hop limit 255
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x56, // source: the VIP
    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // destination: ff02::1
    0x88, 0x00, 0xf8, 0xd6, // type 136, code 0, checksum
    0x20, 0x00, 0x00, 0x00, // Override
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x56, // target: the VIP
    0x02, 0x01, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b, // target link-layer address option
];

const BODY: core::ops::Range<usize> = 54..86;

#[test]
fn deconstruct() {
    let p = Packet::new_checked(&FRAME[BODY]).unwrap();
    assert_eq!(p.msg_type(), 136);
    assert_eq!(p.code(), 0);
    assert_eq!(p.checksum(), 0xf8d6);
    assert!(!p.router_flag());
    assert!(!p.solicited_flag());
    assert!(p.override_flag());
    assert_eq!(p.target(), VIP);
    assert_eq!(p.options(), &FRAME[78..86]);
    assert!(p.verify_checksum(VIP, ALL_NODES));
    // The pseudo-header binds the checksum to the addresses.
    let other = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x57);
    assert!(!p.verify_checksum(other, ALL_NODES));
}

#[test]
fn construct() {
    let mut buf = [0u8; 32];
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_msg_type(136);
    p.set_code(0);
    p.set_flags(false, false, true);
    p.set_target(VIP);
    p.options_mut()
        .copy_from_slice(&[2, 1, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b]);
    p.fill_checksum(VIP, ALL_NODES);
    assert_eq!(buf, FRAME[BODY]);
}

#[test]
fn parse() {
    let repr = FrameRepr::parse(&FRAME).unwrap();
    assert_eq!(repr, FrameRepr::unsolicited(MAC, VIP, false));
    let body = Packet::new_checked(&FRAME[BODY]).unwrap();
    let na = NeighborAdvertRepr::parse(&body, VIP, ALL_NODES).unwrap();
    assert_eq!(na, NeighborAdvertRepr::unsolicited(MAC, VIP, false));
}

#[test]
fn emit() {
    let mut buf = [0xaau8; 100];
    let repr = FrameRepr::unsolicited(MAC, VIP, false);
    assert_eq!(repr.buffer_len(), FRAME_LEN);
    let n = repr.emit(&mut buf).unwrap();
    assert_eq!(n, FRAME_LEN);
    assert_eq!(buf[..n], FRAME);
    assert_eq!(buf[n], 0xaa, "emit must not write past the frame");

    let mut body = [0u8; 32];
    let n = NeighborAdvertRepr::unsolicited(MAC, VIP, false)
        .emit(&mut body, VIP, ALL_NODES)
        .unwrap();
    assert_eq!(body[..n], FRAME[BODY]);
    assert!(repr.emit(&mut buf[..85]).is_err());
}

#[test]
fn router_flag_round_trips_and_changes_the_checksum() {
    let repr = FrameRepr::unsolicited(MAC, VIP, true);
    let mut buf = [0u8; FRAME_LEN];
    repr.emit(&mut buf).unwrap();
    assert_eq!(buf[58], 0xa0);
    assert_ne!(buf[56..58], FRAME[56..58]);
    assert_eq!(FrameRepr::parse(&buf).unwrap(), repr);
}

#[test]
fn without_link_layer_option() {
    let na = NeighborAdvertRepr {
        target_lladdr: None,
        ..NeighborAdvertRepr::unsolicited(MAC, VIP, false)
    };
    let mut buf = [0u8; 24];
    assert_eq!(na.emit(&mut buf, VIP, ALL_NODES).unwrap(), 24);
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(NeighborAdvertRepr::parse(&p, VIP, ALL_NODES).unwrap(), na);
}

fn reparse(frame: &[u8]) -> Result<FrameRepr> {
    FrameRepr::parse(frame)
}

/// Rewrite the ICMPv6 checksum of a frame after tampering with its body.
fn fix_checksum(f: &mut [u8]) {
    let mut p = Packet::new_unchecked(&mut f[BODY]);
    p.fill_checksum(VIP, ALL_NODES);
}

#[test]
fn refusals_name_the_field() {
    let mut f = FRAME;
    f[57] ^= 1;
    assert!(matches!(
        reparse(&f),
        Err(Error::IcmpChecksum {
            got: 0xf8d7,
            expected: 0xf8d6
        })
    ));

    let mut f = FRAME;
    f[21] = 64;
    assert_eq!(reparse(&f), Err(Error::HopLimit(64)));

    let mut f = FRAME;
    f[20] = 17;
    assert_eq!(reparse(&f), Err(Error::NextHeader(17, 58)));

    let mut f = FRAME;
    f[54] = 135;
    fix_checksum(&mut f);
    assert_eq!(reparse(&f), Err(Error::IcmpType(135)));

    let mut f = FRAME;
    f[55] = 1;
    fix_checksum(&mut f);
    assert_eq!(reparse(&f), Err(Error::IcmpCode(1)));

    let mut f = FRAME;
    f[58] = 0x60; // solicited + override, to a multicast group
    fix_checksum(&mut f);
    assert_eq!(reparse(&f), Err(Error::NdiscSolicitedToMulticast));

    let mut f = FRAME;
    f[62] = 0xff; // target ff80::56 is multicast
    fix_checksum(&mut f);
    assert!(matches!(reparse(&f), Err(Error::NdiscTarget(_))));

    let mut f = FRAME;
    f[79] = 0; // zero-length option
    fix_checksum(&mut f);
    assert!(matches!(
        reparse(&f),
        Err(Error::Length {
            field: Field::NdiscOption,
            ..
        })
    ));

    let mut f = FRAME;
    f[79] = 2; // option claims 16 bytes, 8 are there
    fix_checksum(&mut f);
    assert!(matches!(
        reparse(&f),
        Err(Error::Truncated {
            field: Field::NdiscOption,
            ..
        })
    ));

    let mut f = FRAME;
    f[78] = 1; // a Source Link-Layer Address option is skipped, not taken for the target's
    fix_checksum(&mut f);
    assert_eq!(reparse(&f).unwrap().na.target_lladdr, None);

    let mut f = FRAME;
    f[12] = 0x08;
    f[13] = 0x00;
    assert!(matches!(
        reparse(&f),
        Err(Error::EtherType {
            expected: 0x86dd,
            got: 0x0800
        })
    ));

    assert!(matches!(
        reparse(&FRAME[..77]),
        Err(Error::Truncated {
            field: Field::Ipv6PayloadLength,
            ..
        })
    ));
}
