//! Link monitoring through netlink, on the real kernel: an interface that appears after the
//! daemon started is used at once, a VIP deleted by hand is noticed, and a weighted
//! `track_interface` moves the effective priority (and with fast handover the VIP) when that
//! interface goes down and back. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::{HostSpec, Lab, Nic};
use common::*;

#[test]
fn an_interface_that_appears_later_is_taken_into_use() {
    let Some((_lab, lb1, lb2)) = seed_lab("latelink") else {
        return;
    };
    // lb1's configuration names `lan1`, which does not exist when baton starts.
    let b1 = Baton::start(
        &lb1,
        &SEED_MASTER.replace("interface ens33", "interface lan1"),
    );
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    b1.wait_state("Fault", Duration::from_secs(1));
    assert_eq!(
        b1.instance("VI_1")["faults"],
        serde_json::json!(["interface lan1 down", "no source address"])
    );
    let s = b1.status().unwrap();
    assert_eq!(s["daemon"]["sockets"][0]["open"], false, "{s}");

    // The interface arrives under the configured name (here: renamed), with its address.
    for args in [
        &["link", "set", "dev", "ens33", "down"][..],
        &["link", "set", "dev", "ens33", "name", "lan1"],
        &["link", "set", "dev", "lan1", "up"],
    ] {
        let mut argv = vec!["ip"];
        argv.extend_from_slice(args);
        lb1.cmd(argv).unwrap();
    }
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + SEED_ADVERT_INT + Duration::from_secs(2),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT + SLACK);
    let s = b1.status().unwrap();
    let sock = &s["daemon"]["sockets"][0];
    assert_eq!(
        (sock["interface"].as_str(), sock["open"].as_bool()),
        (Some("lan1"), Some(true))
    );
    assert_eq!(sock["groups"], serde_json::json!(["224.0.0.18"]));
    assert!(sock["sent"].as_u64().unwrap() > 0, "{sock}");
    assert_eq!(s["instances"][0]["source"], LB1);
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));
}

#[test]
fn a_weighted_tracked_interface_moves_the_priority_and_the_vip() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = Lab::new("trackif").unwrap();
    lab.add_segment("wan").unwrap();
    let lb1 = lab
        .add_host(
            HostSpec::new("lb1")
                .ifname("ens33")
                .addr("192.168.5.11/24")
                .nic(Nic::new("eth1").segment("wan").addr("10.9.0.11/24")),
        )
        .unwrap();
    let lb2 = lab
        .add_host(HostSpec::new("lb2").ifname("ens33").addr("192.168.5.12/24"))
        .unwrap();
    // keepalived's weight table: a negative weight is subtracted while the interface is down.
    let conf = SEED_MASTER.replace(
        "virtual_ipaddress {",
        "track_interface {\n    eth1 weight -150\n}\nvirtual_ipaddress {",
    );
    let b1 = Baton::start(&lb1, &conf);
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT);

    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, 2 * SEED_ADVERT_INT + SLACK);
    lb1.link_down("eth1").unwrap();
    // 200 − 150 = 50 < 100: under fast handover the master advertises 50 at once and the
    // backup, seeing a master below itself, takes over without waiting out its timer.
    b2.wait_state("Master", Duration::from_secs(1));
    b1.wait_state("Backup", Duration::from_secs(1));
    let i1 = b1.instance("VI_1");
    assert_eq!(i1["effective_priority"], 50, "{i1}");
    assert_eq!(i1["base_priority"], 200);
    assert_eq!(i1["faults"], serde_json::json!([]));
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
    let ads = adverts(&cap.stop().unwrap());
    let fifty = ads
        .iter()
        .find(|a| a.src == ip(LB1) && a.priority == 50)
        .unwrap_or_else(|| panic!("no advert at priority 50: {ads:#?}"));
    let first_new = ads
        .iter()
        .find(|a| a.src == ip(LB2) && a.ts >= fifty.ts)
        .expect("an advert from the new master");
    let gap = between(fifty.ts, first_new.ts);
    eprintln!("advert at 50 to the new master's first advert: {gap:?}");
    assert!(
        gap <= skew_v2(100),
        "takeover {gap:?} after the lowered advert"
    );

    lb1.link_up("eth1").unwrap();
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + SEED_ADVERT_INT + Duration::from_secs(1),
    );
    assert_eq!(b1.instance("VI_1")["effective_priority"], 200);
    b2.wait_state("Backup", SEED_ADVERT_INT + SLACK);
}

#[test]
fn a_vip_deleted_by_hand_is_noticed_and_put_back() {
    let Some((lab, lb1, lb2)) = seed_lab("delvip") else {
        return;
    };
    let (b1, b2) = start_seed_pair(&lb1, &lb2);
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));

    let arp = lab
        .capture_segment(baton_lab::DEFAULT_SEGMENT, "arp")
        .unwrap();
    lb1.cmd(["ip", "addr", "del", "192.168.5.10/32", "dev", "ens33"])
        .unwrap();
    // The master notices through netlink, adds it back and announces it again, without
    // leaving MASTER (keepalived would leave MASTER here).
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));
    let i1 = b1.instance("VI_1");
    assert_eq!(i1["state"], "Master");
    assert_eq!(i1["counters"]["vips_restored"], 1, "{i1}");
    assert_eq!(i1["counters"]["transitions"]["master"], 1);
    let mac1 = lb1.interface("ens33").unwrap().mac;
    let vip = std::net::Ipv4Addr::new(192, 168, 5, 10).octets();
    let garps = arp
        .stop()
        .unwrap()
        .records
        .iter()
        .filter(|r| {
            r.ethernet().is_some_and(|(dst, src, ethertype, body)| {
                src == mac1
                    && dst.0 == [0xff; 6]
                    && ethertype == 0x0806
                    && body.get(14..18) == Some(&vip[..])
            })
        })
        .count();
    assert!(garps >= 1, "no gratuitous ARP for the restored VIP");
    assert_eq!(b2.state(), "Backup");
}
