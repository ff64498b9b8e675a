//! The properties every fuzz target checks. `crates/wire/tests/fuzz_corpus.rs` includes this
//! very file to replay the committed corpus under `cargo test`, so the replay checks exactly
//! what the fuzzer checked.
//!
//! Every check: parsing any input returns (never panics); what parses emits again, and the
//! emitted bytes parse back to the same representation (and, where the representation keeps
//! every bit, to the same bytes). Each function returns whether the input was accepted, so the
//! replay can tell that its seeds reach past the first length check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_wire::advert::Packet;
use baton_wire::ipv4::{self, Ipv4Repr};
use baton_wire::{AdvertRepr, Auth, ChecksumForm, ChecksumPolicy, Family, Version, arp, ndisc};

/// Input bits of the one flag byte the advert and ndisc targets start with.
const FIX_CHECKSUM: u8 = 0x04;
const FIX_PLAIN: u8 = 0x08;

/// `[flags][src 4][dst 4][VRRP message]`. Flags: bits 0–1 the checksum policy (0 either,
/// 1 plain, 2–3 pseudo-header); bit 2 first writes a valid checksum (bit 3: plain rather than
/// pseudo-header) so the fuzzer gets past the checksum to the fields behind it.
pub fn advert_v4(data: &[u8]) -> bool {
    let Some((head, msg)) = data.split_first_chunk::<9>() else {
        return false;
    };
    let src = Ipv4Addr::new(head[1], head[2], head[3], head[4]);
    let dst = Ipv4Addr::new(head[5], head[6], head[7], head[8]);
    advert(head[0], Family::Ipv4, src.into(), dst.into(), msg)
}

/// `[flags][src 16][dst 16][VRRP message]`, flags as for [`advert_v4`].
pub fn advert_v6(data: &[u8]) -> bool {
    let Some((head, msg)) = data.split_first_chunk::<33>() else {
        return false;
    };
    let src: [u8; 16] = head[1..17].try_into().unwrap();
    let dst: [u8; 16] = head[17..33].try_into().unwrap();
    let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
    advert(head[0], Family::Ipv6, src.into(), dst.into(), msg)
}

fn advert(flags: u8, family: Family, src: IpAddr, dst: IpAddr, msg: &[u8]) -> bool {
    let policy = match flags & 3 {
        0 => ChecksumPolicy::Either,
        1 => ChecksumPolicy::Expect(ChecksumForm::Plain),
        _ => ChecksumPolicy::Expect(ChecksumForm::PseudoHeader),
    };
    let mut buf = msg.to_vec();
    if flags & FIX_CHECKSUM != 0 && buf.len() >= baton_wire::advert::HEADER_LEN {
        let form = if flags & FIX_PLAIN != 0 {
            ChecksumForm::Plain
        } else {
            ChecksumForm::PseudoHeader
        };
        Packet::new_unchecked(&mut buf[..]).fill_checksum(form, src, dst);
    }
    let checked = Packet::new_checked(&buf[..], family);
    let parsed = AdvertRepr::parse(&Packet::new_unchecked(&buf[..]), family, src, dst, policy);
    let (repr, form) = match (checked, parsed) {
        (_, Err(_)) => return false,
        (Err(e), Ok(_)) => panic!("parse accepted what new_checked refused: {e}"),
        (Ok(_), Ok(ok)) => ok,
    };
    // Formatting must not panic either.
    let _ = repr.to_string();

    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut out, src, dst, form)
        .expect("a parsed advert emits");
    assert_eq!(n, buf.len());
    let again = AdvertRepr::parse(
        &Packet::new_checked(&out[..], family).expect("emitted advert is well formed"),
        family,
        src,
        dst,
        ChecksumPolicy::Expect(form),
    )
    .expect("emitted advert parses");
    assert_eq!(again.0, repr);

    // Byte for byte, once the bits the representation drops on purpose are cleared: v3's
    // reserved nibble, and v2 authentication data when there is no authentication.
    let mut canon = buf.clone();
    match repr.version {
        Version::V3 => canon[4] &= 0x0f,
        Version::V2 if repr.auth == Auth::None => {
            let len = canon.len();
            canon[len - 8..].fill(0);
        }
        Version::V2 => {}
    }
    Packet::new_unchecked(&mut canon[..]).fill_checksum(form, src, dst);
    assert_eq!(out, canon);
    true
}

/// A datagram as a raw IPv4 socket returns it.
pub fn ipv4_header(data: &[u8]) -> bool {
    let plain = Ipv4Repr::parse(data);
    let vrrp = Ipv4Repr::parse_vrrp(data);
    let (repr, payload) = match plain {
        Err(e) => {
            assert_eq!(vrrp, Err(e));
            return false;
        }
        Ok(ok) => ok,
    };
    assert_eq!(vrrp.is_ok(), repr.protocol == baton_wire::IPPROTO_VRRP);
    assert_eq!(payload.len(), repr.payload_len);
    assert!(repr.header_len >= ipv4::MIN_HEADER_LEN && repr.header_len <= ipv4::MAX_HEADER_LEN);

    let mut out = vec![0u8; repr.header_len + repr.payload_len];
    let ident = u16::from_be_bytes([data[4], data[5]]);
    let n = repr
        .emit(&mut out, data[1], ident)
        .expect("a parsed header emits");
    assert_eq!(n, repr.header_len);
    out[n..].copy_from_slice(payload);
    assert!(ipv4::header_checksum_ok(&out));
    let (again, again_payload) = Ipv4Repr::parse(&out).expect("emitted header parses");
    assert_eq!(again, repr);
    assert_eq!(again_payload, payload);
    true
}

/// An Ethernet frame that may be a gratuitous ARP.
pub fn arp_frame(data: &[u8]) -> bool {
    let Ok(repr) = arp::FrameRepr::parse(data) else {
        return false;
    };
    let mut out = [0u8; arp::FRAME_LEN];
    let n = repr.emit(&mut out).expect("a parsed ARP frame emits");
    // The representation keeps every bit of an Ethernet/IPv4 ARP frame.
    assert_eq!(&out[..n], &data[..arp::FRAME_LEN]);
    assert_eq!(arp::FrameRepr::parse(&out), Ok(repr));
    true
}

/// `[flags][Ethernet frame]` that may be a Neighbor Advertisement. Flag bit 2 first writes a
/// valid ICMPv6 checksum for the addresses and payload length the frame claims.
pub fn ndisc_frame(data: &[u8]) -> bool {
    let Some((&flags, frame)) = data.split_first() else {
        return false;
    };
    let mut buf = frame.to_vec();
    if flags & FIX_CHECKSUM != 0 {
        fix_icmpv6_checksum(&mut buf);
    }
    let Ok(repr) = ndisc::FrameRepr::parse(&buf) else {
        return false;
    };
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut out).expect("a parsed NA frame emits");
    assert_eq!(n, out.len());
    assert_eq!(ndisc::FrameRepr::parse(&out), Ok(repr));
    // The ICMPv6 body alone, behind the same addresses.
    let body = &out[54..];
    let na = ndisc::NeighborAdvertRepr::parse(
        &ndisc::Packet::new_checked(body).expect("emitted body is long enough"),
        repr.ip_src,
        repr.ip_dst,
    );
    assert_eq!(na, Ok(repr.na));
    true
}

fn fix_icmpv6_checksum(frame: &mut [u8]) {
    const ICMP: usize = 54;
    if frame.len() < ICMP + ndisc::HEADER_LEN {
        return;
    }
    let plen = u16::from_be_bytes([frame[18], frame[19]]) as usize;
    let src: [u8; 16] = frame[22..38].try_into().unwrap();
    let dst: [u8; 16] = frame[38..54].try_into().unwrap();
    if let Some(body) = frame.get_mut(ICMP..ICMP + plen)
        && body.len() >= 4
    {
        ndisc::Packet::new_unchecked(body).fill_checksum(src.into(), dst.into());
    }
}
