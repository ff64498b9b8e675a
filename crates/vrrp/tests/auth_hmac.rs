//! `auth_hmac` against keepalived's vectors (crates/wire/tests/vectors/auth_hmac.json): every
//! HMAC, every upstream mutation and context case, the sender's sequence rule, the window, the
//! replay table; then two simulated routers that sign and check each other.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use baton_conf::{AntiReplay, AuthHmac, HmacKey, HmacMode, Span, UnicastPeer};
use baton_vrrp::auth_hmac::{AuthFailure, HmacState, Message, compute, freshness, next_sequence};
use baton_vrrp::sim::Sim;
use baton_wire::auth_ext::{self, Sequence, TrailerRepr};
use baton_wire::{Family, Version};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../wire/tests/vectors/auth_hmac.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn seq(s: &str) -> Sequence {
    Sequence(u64::from_str_radix(s, 16).unwrap())
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

fn key(id: u8, secret: Vec<u8>) -> HmacKey {
    HmacKey {
        id,
        secret,
        span: Span::default(),
    }
}

fn config(keys: Vec<HmacKey>, anti_replay: AntiReplay, mode: HmacMode) -> AuthHmac {
    AuthHmac {
        active_key: keys[0].id,
        keys,
        anti_replay,
        time_window: 5,
        mode,
    }
}

/// The verdict for one payload as keepalived's test computes it: a fresh (or given) state,
/// monotonic anti-replay, the vector's key only.
fn verdict(
    state: &mut HmacState,
    cfg: &AuthHmac,
    v: &Value,
    payload: &[u8],
    src: IpAddr,
    vrid: u8,
) -> Result<(), AuthFailure> {
    let (message, trailer) = auth_ext::split(payload, family(v));
    let trailer = trailer.map(|t| TrailerRepr::parse(t).unwrap());
    let rx = Message {
        version: version(v),
        vrid,
        src,
        message,
        trailer: trailer.as_ref(),
        unix_time: Duration::from_secs(v["seconds"].as_u64().unwrap()),
    };
    state.verify(cfg, &[], &rx).map(|_| ())
}

fn code(r: Result<(), AuthFailure>) -> &'static str {
    match r {
        Ok(()) => "OK",
        Err(AuthFailure::Malformed) => "MALFORMED",
        Err(AuthFailure::UnknownKey) => "UNKNOWN_KEY",
        Err(AuthFailure::BadHmac) => "BAD_HMAC",
        Err(AuthFailure::Stale) => "STALE",
        Err(AuthFailure::Replay) => "REPLAY",
        Err(AuthFailure::Missing) => "MISSING",
        Err(AuthFailure::NotAPeer) => "NOT_A_PEER",
    }
}

/// A v3 advert of VRID 51 to sign.
fn msg<'a>(src: IpAddr, message: &'a [u8], unix: Duration) -> Message<'a> {
    Message {
        version: Version::V3,
        vrid: 51,
        src,
        message,
        trailer: None,
        unix_time: unix,
    }
}

fn vector_key(v: &Value) -> AuthHmac {
    let k = key(
        v["key_id"].as_u64().unwrap() as u8,
        hex(v["key_hex"].as_str().unwrap()),
    );
    config(vec![k], AntiReplay::Monotonic, HmacMode::Enforce)
}

#[test]
fn every_vector_hmac_is_computed_and_accepted() {
    let all = vectors();
    for v in all["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let payload = hex(v["wire_vrrp_payload_hex"].as_str().unwrap());
        let (message, trailer) = auth_ext::split(&payload, family(v));
        let t = TrailerRepr::parse(trailer.unwrap()).unwrap();
        let src: IpAddr = v["src"].as_str().unwrap().parse().unwrap();
        let vrid = v["vrid"].as_u64().unwrap() as u8;
        let secret = hex(v["key_hex"].as_str().unwrap());
        // The configured form decodes to the same key (hex: or ASCII).
        let cfg_form = v["key_config"].as_str().unwrap();
        if !cfg_form.starts_with("hex:") {
            assert_eq!(cfg_form.as_bytes(), &secret[..], "{name}");
        }
        let mac = compute(&secret, version(v), vrid, src, message, &t.head());
        assert_eq!(
            &mac[..],
            &hex(v["hmac_truncated_hex"].as_str().unwrap())[..],
            "{name}"
        );
        assert!(
            v["hmac_sha256_full_hex"]
                .as_str()
                .unwrap()
                .starts_with(v["hmac_truncated_hex"].as_str().unwrap())
        );
        let cfg = vector_key(v);
        let r = verdict(&mut HmacState::default(), &cfg, v, &payload, src, vrid);
        assert_eq!(code(r), "OK", "{name}");
    }
}

#[test]
fn upstream_mutations_give_upstream_verdicts() {
    let all = vectors();
    let m = &all["mutations"];
    let base = all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == m["base_vector"])
        .unwrap();
    let cfg = vector_key(base);
    let payload = hex(base["wire_vrrp_payload_hex"].as_str().unwrap());
    let src: IpAddr = base["src"].as_str().unwrap().parse().unwrap();
    let vrid = base["vrid"].as_u64().unwrap() as u8;
    let xor = m["xor"].as_u64().unwrap() as u8;
    let cases = m["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for c in cases {
        let mut p = payload.clone();
        p[c["offset"].as_u64().unwrap() as usize] ^= xor;
        let r = verdict(&mut HmacState::default(), &cfg, base, &p, src, vrid);
        assert_eq!(code(r), c["expected"].as_str().unwrap(), "{}", c["name"]);
    }
    // Context cases, in the order the file lists them.
    let ctx = m["context_cases"].as_array().unwrap();
    let wrong_src: IpAddr = "fe80::20".parse().unwrap();
    let r = verdict(
        &mut HmacState::default(),
        &cfg,
        base,
        &payload,
        wrong_src,
        vrid,
    );
    assert_eq!(code(r), ctx[0]["expected"].as_str().unwrap());
    let r = verdict(&mut HmacState::default(), &cfg, base, &payload, src, 52);
    assert_eq!(code(r), ctx[1]["expected"].as_str().unwrap());
    let mut once = HmacState::default();
    let first = verdict(&mut once, &cfg, base, &payload, src, vrid);
    let second = verdict(&mut once, &cfg, base, &payload, src, vrid);
    assert_eq!(code(first), ctx[2]["expected_first"].as_str().unwrap());
    assert_eq!(code(second), ctx[2]["expected_second"].as_str().unwrap());
    let r = verdict(&mut HmacState::default(), &cfg, base, &payload, src, vrid);
    assert_eq!(code(r), ctx[3]["expected"].as_str().unwrap());
}

#[test]
fn the_sender_sequence_rule_matches_every_worked_example() {
    let all = vectors();
    let ex = &all["sequence_and_time_examples"];
    for c in ex["sender_next_sequence"]["cases"].as_array().unwrap() {
        let mode = match c["anti_replay"].as_str().unwrap() {
            "time" => AntiReplay::Time,
            _ => AntiReplay::Monotonic,
        };
        let next = next_sequence(
            seq(c["last_hex"].as_str().unwrap()),
            seq(c["clock_hex"].as_str().unwrap()),
            mode,
            c["time_window"].as_u64().unwrap() as u32,
        );
        assert_eq!(next, seq(c["next_hex"].as_str().unwrap()), "{}", c["case"]);
    }
    for c in ex["freshness_window"]["cases"].as_array().unwrap() {
        let now = u32::from_str_radix(c["now_sec_hex"].as_str().unwrap(), 16).unwrap();
        let sec = u32::from_str_radix(c["trailer_sec_hex"].as_str().unwrap(), 16).unwrap();
        let window = c["time_window"].as_u64().unwrap() as u32;
        let (fresh, delta) = freshness(now, sec, window);
        assert_eq!(delta as i64, c["delta"].as_i64().unwrap());
        assert_eq!(fresh, c["result"] != "STALE", "{c}");
    }
}

#[test]
fn time_mode_refuses_stale_adverts_before_hashing_and_forgets_old_marks() {
    let all = vectors();
    let v = &all["vectors"][0];
    let mut cfg = vector_key(v);
    cfg.anti_replay = AntiReplay::Time;
    let payload = hex(v["wire_vrrp_payload_hex"].as_str().unwrap());
    let (message, trailer) = auth_ext::split(&payload, Family::Ipv4);
    let t = TrailerRepr::parse(trailer.unwrap()).unwrap();
    let src: IpAddr = v["src"].as_str().unwrap().parse().unwrap();
    let sec = v["seconds"].as_u64().unwrap();
    let mut state = HmacState::default();
    let rx = |unix: u64| Message {
        version: Version::V3,
        vrid: 51,
        src,
        message,
        trailer: Some(&t),
        unix_time: Duration::from_secs(unix),
    };
    assert_eq!(
        state.verify(&cfg, &[], &rx(sec + 6)),
        Err(AuthFailure::Stale)
    );
    assert_eq!(
        state.verify(&cfg, &[], &rx(sec - 6)),
        Err(AuthFailure::Stale)
    );
    // Inside the window: accepted, and more than half the window away is a skew warning.
    assert_eq!(state.verify(&cfg, &[], &rx(sec + 3)), Ok(Some(3)));
    assert_eq!(
        state.verify(&cfg, &[], &rx(sec + 3)),
        Err(AuthFailure::Replay)
    );
    // A stale advert never touched the mark: after the window the mark itself has
    // expired, but the advert is stale too; the same image is never accepted twice.
    assert_eq!(
        state.verify(&cfg, &[], &rx(sec + 5)),
        Err(AuthFailure::Replay)
    );
}

#[test]
fn multicast_keeps_four_senders_and_unicast_only_hears_its_peers() {
    let cfg = config(
        vec![key(9, vec![7u8; 40])],
        AntiReplay::Monotonic,
        HmacMode::Enforce,
    );
    let message = [0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0, 0, 10, 0, 0, 100];
    let unix = Duration::from_secs(1_750_000_000);
    let signed: Vec<(IpAddr, TrailerRepr)> = (1..=5)
        .map(|i| {
            let src: IpAddr = format!("10.0.0.{i}").parse().unwrap();
            let mut s = HmacState::default();
            let t = s.sign(&cfg, &msg(src, &message, unix), true).unwrap();
            (src, t)
        })
        .collect();
    let rx = |i: usize| Message {
        version: Version::V3,
        vrid: 51,
        src: signed[i].0,
        message: &message,
        trailer: Some(&signed[i].1),
        unix_time: unix,
    };
    let mut state = HmacState::default();
    for i in 0..5 {
        assert_eq!(state.verify(&cfg, &[], &rx(i)), Ok(None));
    }
    // The fifth sender evicted the least recently used (the first): its old advert is new
    // again; the others are still remembered.
    assert_eq!(state.verify(&cfg, &[], &rx(0)), Ok(None));
    assert_eq!(state.verify(&cfg, &[], &rx(4)), Err(AuthFailure::Replay));
    let peers = [UnicastPeer {
        addr: signed[1].0,
        min_ttl: None,
        max_ttl: None,
    }];
    let mut uni = HmacState::default();
    assert_eq!(uni.verify(&cfg, &peers, &rx(0)), Err(AuthFailure::NotAPeer));
    assert_eq!(uni.verify(&cfg, &peers, &rx(1)), Ok(None));
}

#[test]
fn modes_decide_what_an_advert_without_trailer_gets() {
    let message = [0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0, 0, 10, 0, 0, 100];
    let rx = Message {
        version: Version::V3,
        vrid: 51,
        src: "10.0.0.1".parse().unwrap(),
        message: &message,
        trailer: None,
        unix_time: Duration::from_secs(1_750_000_000),
    };
    for (mode, want) in [
        (HmacMode::Enforce, Err(AuthFailure::Missing)),
        (HmacMode::Permissive, Ok(None)),
        (HmacMode::ReceiveOnly, Ok(None)),
    ] {
        let cfg = config(vec![key(1, vec![1u8; 32])], AntiReplay::Time, mode);
        assert_eq!(
            HmacState::default().verify(&cfg, &[], &rx),
            want,
            "{mode:?}"
        );
    }
}

#[test]
fn unicast_copies_of_one_advert_share_a_sequence_and_rotation_accepts_old_keys() {
    let old = key(1, vec![1u8; 32]);
    let new = key(2, vec![2u8; 64]);
    let mut cfg = config(
        vec![old.clone(), new.clone()],
        AntiReplay::Time,
        HmacMode::Enforce,
    );
    let message = [0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0, 0, 10, 0, 0, 100];
    let src: IpAddr = "10.0.0.1".parse().unwrap();
    let unix = Duration::from_secs(1_750_000_000);
    let mut s = HmacState::default();
    let a = s.sign(&cfg, &msg(src, &message, unix), true).unwrap();
    let b = s.sign(&cfg, &msg(src, &message, unix), false).unwrap();
    let c = s.sign(&cfg, &msg(src, &message, unix), true).unwrap();
    assert_eq!(a, b);
    assert_eq!(c.sequence, a.sequence.successor(), "same clock: last + 1");
    assert_eq!(a.key_id, 1);
    // Rotation: the sender moves to key 2; a receiver holding both keys accepts either.
    cfg.active_key = 2;
    let d = s.sign(&cfg, &msg(src, &message, unix), true).unwrap();
    assert_eq!(d.key_id, 2);
    let mut r = HmacState::default();
    for t in [&c, &d] {
        let rx = Message {
            version: Version::V3,
            vrid: 51,
            src,
            message: &message,
            trailer: Some(t),
            unix_time: unix,
        };
        assert_eq!(r.verify(&cfg, &[], &rx), Ok(None));
    }
    // A receiver that dropped key 1 too early refuses the old signer.
    let only_new = config(vec![new], AntiReplay::Time, HmacMode::Enforce);
    let rx = Message {
        version: Version::V3,
        vrid: 51,
        src,
        message: &message,
        trailer: Some(&a),
        unix_time: unix,
    };
    assert_eq!(
        HmacState::default().verify(&only_new, &[], &rx),
        Err(AuthFailure::UnknownKey)
    );
}

/// Two simulated routers with `auth_hmac` over multicast (IPv4 v2 and v3, IPv6) and unicast.
fn pair(family: Family, version: Version, unicast: bool, keys: [Vec<u8>; 2]) -> Sim {
    let mut sim = Sim::new(1, false);
    let lan = sim.add_segment("lan");
    let (a, b, vip): (IpAddr, IpAddr, IpAddr) = match family {
        Family::Ipv4 => (
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "10.0.0.100".parse().unwrap(),
        ),
        Family::Ipv6 => (
            "fe80::1".parse().unwrap(),
            "fe80::2".parse().unwrap(),
            "fe80::100".parse().unwrap(),
        ),
    };
    for (r, (me, peer, prio)) in [(a, b, 200u8), (b, a, 100u8)].into_iter().enumerate() {
        let mut i = baton_conf::VrrpInstance::new("VI_1", 51, family);
        i.interface = Some("eth0".to_string());
        i.version = version;
        i.priority = prio;
        i.vips = vec![baton_conf::VirtualAddress::new(vip)];
        if unicast {
            i.unicast_peers = vec![UnicastPeer {
                addr: peer,
                min_ttl: None,
                max_ttl: None,
            }];
        }
        i.auth_hmac = Some(Box::new(config(
            vec![key(1, keys[r].clone())],
            AntiReplay::Time,
            HmacMode::Enforce,
        )));
        sim.add_router(&format!("r{r}"), config_of(i), &[(lan, "eth0", me)]);
    }
    sim.start_all();
    sim.run_for(Duration::from_secs(15));
    sim
}

fn config_of(i: baton_conf::VrrpInstance) -> baton_conf::Config {
    common::config(vec![i])
}

#[test]
fn two_routers_with_one_key_elect_one_master_in_every_form() {
    for (family, version, unicast) in [
        (Family::Ipv4, Version::V2, false),
        (Family::Ipv4, Version::V3, false),
        (Family::Ipv4, Version::V3, true),
        (Family::Ipv6, Version::V3, false),
        (Family::Ipv6, Version::V3, true),
    ] {
        let sim = pair(family, version, unicast, [vec![5u8; 32], vec![5u8; 32]]);
        let what = format!("{family} {version} unicast={unicast}");
        assert_eq!(sim.masters("VI_1"), vec![0], "{what}");
        let backup = sim.node(1).unwrap().instance_by_name("VI_1").unwrap();
        let c = &backup.counters().auth_ext;
        assert!(c.verified > 10, "{what}: {c:?}");
        assert_eq!(
            c.invalid_hmac + c.replay + c.stale + c.missing,
            0,
            "{what}: {c:?}"
        );
    }
}

#[test]
fn two_routers_with_different_keys_both_become_master_and_count_why() {
    let sim = pair(
        Family::Ipv4,
        Version::V3,
        false,
        [vec![5u8; 32], vec![6u8; 32]],
    );
    assert_eq!(sim.masters("VI_1"), vec![0, 1]);
    for r in 0..2 {
        let c = &sim
            .node(r)
            .unwrap()
            .instance_by_name("VI_1")
            .unwrap()
            .counters()
            .auth_ext;
        assert!(c.invalid_hmac > 5, "r{r}: {c:?}");
        assert_eq!(c.verified, 0);
    }
}
