//! Health tracking wired through the daemon, on the real kernel (smoke tests; the trackers
//! themselves are tested in baton-track): a `vrrp_track_process` whose process dies moves the
//! VIP, and the seed's `killall keepalived` stops baton the way keepalived stops. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

/// The seed's master configuration tracking a process called `nginx` (weight 0: without it
/// the instance is in FAULT).
fn master_tracking_nginx() -> String {
    let tracker = "vrrp_track_process chk_nginx {\n    process nginx\n}\n\nvrrp_instance VI_1 {";
    SEED_MASTER
        .replace("vrrp_instance VI_1 {", tracker)
        .replace(
            "virtual_ipaddress {",
            "track_process {\n    chk_nginx\n}\nvirtual_ipaddress {",
        )
}

#[test]
fn killing_a_tracked_process_on_the_master_moves_the_vip() {
    let Some((lab, lb1, lb2)) = seed_lab("trackproc") else {
        return;
    };
    // A stand-in for nginx: `sleep` under that name, so the kernel calls it nginx.
    let nginx = lb1.path("nginx");
    std::fs::copy("/bin/sleep", &nginx).unwrap();
    let server = lb1.spawn(Command::new(&nginx).arg("600")).unwrap();
    let b1 = Baton::start(&lb1, &master_tracking_nginx());
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT);
    let s1 = b1.status().unwrap();
    let tracker = s1["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "chk_nginx")
        .cloned()
        .unwrap_or_else(|| panic!("no tracker in {s1}"));
    assert_eq!(tracker["kind"], "process", "{tracker}");

    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, 2 * SEED_ADVERT_INT + SLACK);
    let killed = SystemTime::now();
    server.kill().unwrap();
    // The master goes to FAULT and says so with a priority-0 advert; the backup takes over
    // within Skew_Time of that (at once under fast handover).
    b1.wait_state("Fault", Duration::from_secs(1));
    b2.wait_state("Master", skew_v2(100) + Duration::from_secs(1));
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
    assert!(!holds(&lb1, VIP));
    let ads = adverts(&cap.stop().unwrap());
    let zero = ads
        .iter()
        .find(|a| a.src == ip(LB1) && a.priority == 0 && a.ts >= killed)
        .unwrap_or_else(|| panic!("no priority-0 advert after the kill: {ads:#?}"));
    let first_new = ads
        .iter()
        .find(|a| a.src == ip(LB2) && a.ts >= zero.ts)
        .expect("an advert from the new master");
    let detected = between(killed, zero.ts);
    let handed = between(killed, first_new.ts);
    eprintln!(
        "process death to priority 0 on the wire: {detected:?}; to the new master's advert: {handed:?}"
    );
    assert!(
        handed <= skew_v2(100) + SLACK,
        "VIP moved {handed:?} after the tracked process died"
    );
    let faults = b1.instance("VI_1")["faults"].clone();
    assert_eq!(faults, serde_json::json!(["process chk_nginx failed"]));

    // nginx back: the master leaves FAULT and, being the better router, takes the VIP back.
    let _server = lb1.spawn(Command::new(&nginx).arg("600")).unwrap();
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + SEED_ADVERT_INT + Duration::from_secs(1),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT + SLACK);
}

#[test]
fn the_seeds_killall_keepalived_stops_baton_like_keepalived() {
    let Some((lab, lb1, lb2)) = seed_lab("killall") else {
        return;
    };
    // keepalived's own global keyword: its processes get their names (the main one
    // `keepalived`), and so does baton.
    let conf = SEED_MASTER.replace("global_defs {", "global_defs {\nprocess_names");
    let b1 = Baton::start(&lb1, &conf);
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT);
    assert_eq!(b1.status().unwrap()["daemon"]["process_name"], "keepalived");
    assert_eq!(lb1.pidof("keepalived").unwrap().len(), 1);

    // What the seed's check script runs when nginx cannot be restarted.
    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, 2 * SEED_ADVERT_INT + SLACK);
    lb1.cmd(["killall", "keepalived"]).unwrap();
    assert!(
        b1.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        b1.logs()
    );
    b2.wait_state("Master", skew_v2(100) + Duration::from_secs(1));
    let ads = adverts(&cap.stop().unwrap());
    assert!(
        ads.iter().any(|a| a.src == ip(LB1) && a.priority == 0),
        "no priority-0 advert: {ads:#?}"
    );
    assert!(!holds(&lb1, VIP), "the stopped master kept the VIP");
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
}
