//! keepalived's `auth_hmac` test vectors (`vectors/auth_hmac.json`; its README says where
//! they come from): the trailer is found by length, its fields read back, the HMAC input
//! assembled byte for byte, and the IPv6 checksum covers the trailer. The HMAC itself is
//! checked in baton-vrrp, which holds the keys.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use baton_wire::advert::Packet;
use baton_wire::auth_ext::{self, Sequence, TrailerRepr};
use baton_wire::{AdvertRepr, ChecksumForm, ChecksumPolicy, Family, Version};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/auth_hmac.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn family(v: &Value) -> Family {
    match v["family"].as_str().unwrap() {
        "ipv4" => Family::Ipv4,
        _ => Family::Ipv6,
    }
}

fn version(v: &Value) -> Version {
    match v["vrrp_version"].as_u64().unwrap() {
        2 => Version::V2,
        _ => Version::V3,
    }
}

#[test]
fn every_vector_frames_and_feeds_the_hmac_as_keepalived_does() {
    let all = vectors();
    let list = all["vectors"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    for v in list {
        let name = v["name"].as_str().unwrap();
        let payload = hex(v["wire_vrrp_payload_hex"].as_str().unwrap());
        let (message, trailer) = auth_ext::split(&payload, family(v));
        assert_eq!(
            message,
            &hex(v["vrrp_message_hex"].as_str().unwrap())[..],
            "{name}"
        );
        let trailer = trailer.unwrap_or_else(|| panic!("{name}: no trailer found"));
        assert_eq!(&trailer[..], &hex(v["trailer_hex"].as_str().unwrap())[..]);
        let t = TrailerRepr::parse(trailer).unwrap();
        assert!(t.well_formed(), "{name}");
        assert_eq!(t.key_id as u64, v["key_id"].as_u64().unwrap(), "{name}");
        let seq = u64::from_str_radix(v["sequence_hex"].as_str().unwrap(), 16).unwrap();
        assert_eq!(t.sequence, Sequence(seq), "{name}");
        assert_eq!(t.sequence.seconds() as u64, v["seconds"].as_u64().unwrap());
        assert_eq!(
            t.sequence.subseconds() as u64,
            v["subseconds"].as_u64().unwrap()
        );
        assert_eq!(t.sequence.counter() as u64, v["counter"].as_u64().unwrap());
        assert_eq!(
            &t.hmac[..],
            &hex(v["hmac_truncated_hex"].as_str().unwrap())[..]
        );
        assert_eq!(t.emit(), *trailer, "{name}: trailer re-emitted");

        let src: IpAddr = v["src"].as_str().unwrap().parse().unwrap();
        let vrid = v["vrid"].as_u64().unwrap() as u8;
        assert_eq!(
            &auth_ext::pseudo_header(version(v), vrid, src)[..],
            &hex(v["pseudo_header_hex"].as_str().unwrap())[..],
            "{name}"
        );
        let mut input = Vec::new();
        auth_ext::hmac_input(version(v), vrid, src, message, &t.head(), |b| {
            input.extend_from_slice(b)
        });
        assert_eq!(
            input,
            hex(v["hmac_input_hex"].as_str().unwrap()),
            "{name}: HMAC input"
        );

        // The message parses, with the trailer counted in the IPv6 checksum only.
        let packet = Packet::new_checked(message, family(v)).unwrap();
        let mode = v["checksum_mode"].as_str().unwrap();
        if let Some(dst) = v["dst"].as_str() {
            let dst: IpAddr = dst.parse().unwrap();
            let (advert, form) = AdvertRepr::parse_with_trailer(
                &packet,
                trailer,
                family(v),
                src,
                dst,
                ChecksumPolicy::Either,
            )
            .unwrap_or_else(|e| panic!("{name} ({mode}): {e}"));
            assert_eq!(advert.vrid, vrid);
            assert_eq!(advert.priority as u64, v["priority"].as_u64().unwrap());
            assert_eq!(
                advert.addresses.len(),
                v["vips"].as_array().unwrap().len(),
                "{name}"
            );
            if family(v) == Family::Ipv4 && version(v) == Version::V3 {
                assert_eq!(form, ChecksumForm::PseudoHeader, "{name}");
            }
        } else {
            // No destination needed: a checksum over the message alone (v2, or RFC 9568's
            // v3/IPv4 form).
            let any: IpAddr = "0.0.0.0".parse().unwrap();
            let (_, form) = AdvertRepr::parse_with_trailer(
                &packet,
                trailer,
                family(v),
                src,
                any,
                ChecksumPolicy::Expect(ChecksumForm::Plain),
            )
            .unwrap_or_else(|e| panic!("{name} ({mode}): {e}"));
            assert_eq!(form, ChecksumForm::Plain);
        }
    }
}

#[test]
fn an_ipv6_checksum_without_the_trailer_is_refused() {
    let all = vectors();
    let v = &all["vectors"][1];
    assert_eq!(v["name"], "ipv6_v3_appendix");
    let payload = hex(v["wire_vrrp_payload_hex"].as_str().unwrap());
    let (message, _) = auth_ext::split(&payload, Family::Ipv6);
    let packet = Packet::new_checked(message, Family::Ipv6).unwrap();
    let src: IpAddr = v["src"].as_str().unwrap().parse().unwrap();
    let dst: IpAddr = v["dst"].as_str().unwrap().parse().unwrap();
    // Parsed as if it had no trailer, the checksum (which covers the trailer) is wrong.
    assert!(AdvertRepr::parse(&packet, Family::Ipv6, src, dst, ChecksumPolicy::Either).is_err());
}

#[test]
fn sealing_an_ipv6_datagram_reproduces_the_vector_checksum() {
    let all = vectors();
    for v in all["vectors"].as_array().unwrap() {
        if family(v) != Family::Ipv6 {
            continue;
        }
        let mut payload = hex(v["wire_vrrp_payload_hex"].as_str().unwrap());
        let want = payload.clone();
        payload[6] = 0;
        payload[7] = 0;
        let src: IpAddr = v["src"].as_str().unwrap().parse().unwrap();
        let dst: IpAddr = v["dst"].as_str().unwrap().parse().unwrap();
        auth_ext::seal_ipv6_checksum(&mut payload, src, dst).unwrap();
        assert_eq!(payload, want, "{}", v["name"]);
    }
}

#[test]
fn clock_readings_become_sequences_as_in_keepalived() {
    let all = vectors();
    let cases = all["sequence_and_time_examples"]["clock_to_sequence"]["cases"]
        .as_array()
        .unwrap();
    for c in cases {
        let s = Sequence::from_clock(
            c["sec"].as_u64().unwrap(),
            c["nsec"].as_u64().unwrap() as u32,
        );
        let want = u64::from_str_radix(c["seq_hex"].as_str().unwrap(), 16).unwrap();
        assert_eq!(s, Sequence(want), "{c}");
    }
    for c in all["sequence_and_time_examples"]["serial_compare"]["cases"]
        .as_array()
        .unwrap()
    {
        let a = u64::from_str_radix(c["a_hex"].as_str().unwrap(), 16).unwrap();
        let b = u64::from_str_radix(c["b_hex"].as_str().unwrap(), 16).unwrap();
        assert_eq!(
            Sequence(a).is_after(Sequence(b)),
            c["a_after_b"].as_bool().unwrap(),
            "{c}"
        );
    }
}
