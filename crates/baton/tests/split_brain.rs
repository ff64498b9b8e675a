//! The seed's split brain on the real kernel: a firewall that drops VRRP. One way, the master
//! that still hears its peer names it in its log and in `baton status` ("… sends adverts but
//! has not heard ours …"), and says when it hears us again. Both ways, both become MASTER;
//! when the firewall goes, the winner re-announces the VIP with gratuitous ARP (seen on the
//! wire) and runs notify_master_rx_lower_pri, and the other backs off. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use baton_lab::DEFAULT_SEGMENT;
use common::*;

/// The seed's master with a notify_master_rx_lower_pri script that appends a line to `log`.
fn master_conf(lb1: &baton_lab::Host) -> (String, std::path::PathBuf) {
    let log = lb1.path("lower.log");
    let script = lb1
        .write_file(
            "lower.sh",
            format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
        )
        .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let conf = SEED_MASTER.replace(
        "virtual_ipaddress {",
        &format!(
            "notify_master_rx_lower_pri {}\n    virtual_ipaddress {{",
            script.display()
        ),
    );
    (conf, log)
}

fn split(b: &Baton) -> serde_json::Value {
    b.instance("VI_1")["split_brain"].clone()
}

#[test]
fn a_one_way_firewall_is_named_by_the_master_that_still_hears() {
    let Some((_lab, lb1, lb2)) = seed_lab("splitone") else {
        return;
    };
    let (conf, _) = master_conf(&lb1);
    let b1 = Baton::start(&lb1, &conf);
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", Duration::from_secs(2));
    assert!(split(&b1).is_null());

    // lb2's firewall drops VRRP: it takes over after its Master_Down_Interval and keeps
    // advertising; lb1 hears every advert.
    let fault = lb2.drop_ip_protocol(112).unwrap();
    b2.wait_state(
        "Master",
        mdi_v2(100, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    baton_lab::wait_until("lb1 to name lb2", Duration::from_secs(6), POLL, || {
        split(&b1)["peer"] == LB2
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", b1.logs()));
    assert_eq!(b1.state(), "Master");
    let s = split(&b1);
    assert_eq!(s["peer_priority"], 100, "{s}");
    assert!(
        s["explanation"]
            .as_str()
            .unwrap()
            .starts_with("192.168.5.12 sends adverts but has not heard ours for "),
        "{s}"
    );
    assert!(
        b1.logs()
            .contains("two masters: 192.168.5.12 sends adverts but has not heard ours for"),
        "{}",
        b1.logs()
    );
    // The table says it too.
    let table = Command::new(BATON)
        .args(["status", "-p"])
        .arg(&b1.pidfile)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.contains("  two masters: 192.168.5.12 sends adverts but has not heard ours for"),
        "{table}"
    );
    // The evidence grows while the firewall stays.
    let before = s["not_heard_for_ms"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(2200));
    assert!(split(&b1)["not_heard_for_ms"].as_u64().unwrap() > before);

    // Healed: lb2 hears lb1 and backs off; lb1 says so once lb2 is silent.
    fault.remove().unwrap();
    b2.wait_state("Backup", Duration::from_secs(3));
    baton_lab::wait_until(
        "lb1 to clear the report",
        Duration::from_secs(6),
        POLL,
        || split(&b1).is_null(),
    )
    .unwrap();
    assert!(
        b1.logs()
            .contains("192.168.5.12 no longer advertises after"),
        "{}",
        b1.logs()
    );
}

#[test]
fn a_healed_partition_ends_with_the_winner_announcing_the_vip() {
    let Some((lab, lb1, lb2)) = seed_lab("splitheal") else {
        return;
    };
    let (conf, notify_log) = master_conf(&lb1);
    let b1 = Baton::start(&lb1, &conf);
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", Duration::from_secs(2));

    // Both firewalls drop VRRP: two masters, the segment's caches follow the latest GARP.
    let f1 = lb1.drop_ip_protocol(112).unwrap();
    let f2 = lb2.drop_ip_protocol(112).unwrap();
    b2.wait_state(
        "Master",
        mdi_v2(100, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    assert_eq!(b1.state(), "Master");
    assert!(holds(&lb1, VIP) && holds(&lb2, VIP));
    std::thread::sleep(Duration::from_millis(1500));

    let cap = lab
        .capture_segment(DEFAULT_SEGMENT, "arp or ip proto 112")
        .unwrap();
    let healed = SystemTime::now();
    f1.remove().unwrap();
    f2.remove().unwrap();
    b2.wait_state("Backup", Duration::from_secs(3));
    wait_addr(&lb2, VIP, false, Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(500));
    let pcap = cap.stop().unwrap();
    assert_eq!(b1.state(), "Master");

    let mac1 = lb1.interface("ens33").unwrap().mac;
    let vip = [192u8, 168, 5, 10];
    let garp = pcap.records.iter().find(|r| {
        r.ts >= healed
            && r.ethernet().is_some_and(|(dst, src, ethertype, arp)| {
                src == mac1
                    && dst.0 == [0xff; 6]
                    && ethertype == 0x0806
                    && arp.get(14..18) == Some(&vip[..])
                    && arp.get(24..28) == Some(&vip[..])
            })
    });
    let garp =
        garp.unwrap_or_else(|| panic!("no gratuitous ARP for {VIP} from lb1 after the heal"));
    eprintln!(
        "gratuitous ARP from the winner {:?} after the heal",
        between(healed, garp.ts)
    );
    // It answered a lower master: its notify ran with keepalived's arguments.
    baton_lab::wait_until(
        "notify_master_rx_lower_pri",
        Duration::from_secs(2),
        POLL,
        || std::fs::read_to_string(&notify_log).is_ok_and(|t| !t.is_empty()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", b1.logs()));
}
