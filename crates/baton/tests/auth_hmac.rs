//! keepalived's `auth_hmac` between two batons on the real kernel: signed adverts on the
//! wire (VRRPv2 and v3, IPv4 multicast and IPv6 unicast), a key in a `file:`, a key rotated
//! by reload without a flap, and two different keys splitting the pair with the reason
//! counted. keepalived 2.4 itself cannot run here (docs/INTEROP.md). Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::{Pcap, Signal};
use common::*;

const KEY_A: &str = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "an-ascii-key-of-thirty-two-bytes";

fn instance(state: &str, priority: u8, extra: &str, auth: &str, vip: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface ens33\n    virtual_router_id 61\n    priority {priority}\n{extra}    auth_hmac {{\n{auth}    }}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

/// VRRP payloads (after the IP header) seen from `src`.
fn payloads(p: &Pcap, src: &str) -> Vec<Vec<u8>> {
    let src = ip(src);
    p.with_protocol(112)
        .filter_map(|r| {
            let ip = r.ip()?;
            (ip.src == src).then(|| ip.payload.to_vec())
        })
        .collect()
}

fn auth_counters(b: &Baton) -> serde_json::Value {
    b.instance("VI_1")["counters"]["auth_ext"].clone()
}

#[test]
fn signed_v2_multicast_adverts_elect_one_master_and_rotate_keys_by_reload() {
    let Some((lab, lb1, lb2)) = seed_lab("hmac-v2") else {
        return;
    };
    let key_file = lb1.write_file("vrrp61.key", format!("{KEY_A}\n")).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let both = |active: u8, first: &str| {
        format!("        key 1 {first}\n        key 2 {KEY_B}\n        active_key {active}\n")
    };
    let conf1 = |active| {
        instance(
            "MASTER",
            200,
            "",
            &both(active, &format!("file:{}", key_file.display())),
            VIP,
        )
    };
    let b1 = Baton::start(&lb1, &conf1(1));
    let b2 = Baton::start(&lb2, &instance("BACKUP", 100, "", &both(1, KEY_A), VIP));
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", Duration::from_secs(2));
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));
    assert!(!holds(&lb2, VIP));

    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, Duration::from_secs(3));
    let ads = payloads(&cap.stop().unwrap(), LB1);
    // VRRPv2 with one VIP: 20 bytes of message, then the 28-byte trailer of key 1.
    assert!(!ads.is_empty());
    for a in &ads {
        assert_eq!(a.len(), 20 + 28, "{a:02x?}");
        assert_eq!(a[4], 0, "auth type is 0 under auth_hmac");
        assert_eq!((a[20], a[21], a[22], a[23]), (1, 1, 0, 0), "{a:02x?}");
    }
    let c2 = auth_counters(&b2);
    assert!(c2["verified"].as_u64().unwrap() > 0, "{c2}");
    assert_eq!(c2["invalid_hmac"], 0);

    // Rotation, make-before-break: both hold keys 1 and 2; the master now signs with 2.
    b1.rewrite(&conf1(2));
    b1.signal(Signal::SIGHUP);
    let cap = capture_vrrp(&lab);
    baton_lab::wait_until(
        "adverts signed with key 2",
        Duration::from_secs(5),
        POLL,
        || {
            cap.packets()
                .map(|p| payloads(&p, LB1).iter().any(|a| a.get(21) == Some(&2)))
        },
    )
    .unwrap();
    let before = auth_counters(&b2)["verified"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    cap.stop().unwrap();
    let after = auth_counters(&b2);
    assert!(after["verified"].as_u64().unwrap() > before, "{after}");
    assert_eq!(after["unknown_key"], 0, "{after}");
    assert_eq!(b2.state(), "Backup");
    assert_eq!(b1.state(), "Master");
    assert_eq!(b1.instance("VI_1")["counters"]["transitions"]["master"], 1);
}

#[test]
fn signed_v3_ipv6_unicast_adverts_carry_the_trailer_in_their_checksum() {
    let Some((lab, lb1, lb2)) = seed_lab("hmac-v6") else {
        return;
    };
    let vip6 = "fd00:5::61";
    let uni = |src: &str, peer: &str| {
        format!(
            "    advert_int 0.2\n    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n"
        )
    };
    let auth = format!("        key 9 {KEY_A}\n        active_key 9\n");
    let b1 = Baton::start(
        &lb1,
        &instance("MASTER", 200, &uni("fd00:5::11", "fd00:5::12"), &auth, vip6),
    );
    let b2 = Baton::start(
        &lb2,
        &instance("BACKUP", 100, &uni("fd00:5::12", "fd00:5::11"), &auth, vip6),
    );
    let interval = Duration::from_millis(200);
    b1.wait_state("Master", mdi_v3(200, interval) + Duration::from_secs(2));
    b2.wait_state("Backup", Duration::from_secs(2));
    wait_addr(&lb1, vip6, true, Duration::from_secs(1));
    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, "fd00:5::11", Duration::from_secs(2));
    let ads = payloads(&cap.stop().unwrap(), "fd00:5::11");
    for a in &ads {
        // v3/IPv6, one VIP: 24 bytes of message, then the trailer.
        assert_eq!(a.len(), 24 + 28, "{a:02x?}");
        assert_eq!((a[24], a[25]), (1, 9));
    }
    baton_lab::wait_until(
        "the backup to verify adverts",
        Duration::from_secs(3),
        POLL,
        || auth_counters(&b2)["verified"].as_u64().unwrap() > 5,
    )
    .unwrap();
    // A bad checksum would have been dropped before the core: the receiving socket saw none.
    let s2 = b2.status().unwrap();
    let wire = &s2["daemon"]["sockets"][0]["wire_errors"];
    assert_eq!(wire["checksum"], 0, "{s2}");

    // The backup takes over when the signer dies, and signs in turn.
    b1.proc.kill().unwrap();
    b2.wait_state("Master", mdi_v3(100, interval) + Duration::from_secs(2));
    wait_addr(&lb2, vip6, true, Duration::from_secs(1));
}

#[test]
fn different_keys_split_the_pair_and_say_why() {
    let Some((_lab, lb1, lb2)) = seed_lab("hmac-split") else {
        return;
    };
    let k = |key: &str| format!("        key 1 {key}\n        active_key 1\n");
    let b1 = Baton::start(&lb1, &instance("MASTER", 200, "", &k(KEY_A), VIP));
    let b2 = Baton::start(&lb2, &instance("BACKUP", 100, "", &k(KEY_B), VIP));
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state(
        "Master",
        mdi_v2(100, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    let c2 = auth_counters(&b2);
    assert!(c2["invalid_hmac"].as_u64().unwrap() > 0, "{c2}");
    assert!(
        b2.logs()
            .contains("auth_hmac: dropped advert from 192.168.5.11: invalid HMAC"),
        "{}",
        b2.logs()
    );
}
