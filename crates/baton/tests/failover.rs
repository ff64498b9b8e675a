//! The seed's pair on the real kernel: its two keepalived.conf files, verbatim, run by the real
//! `baton` binary on two lab hosts whose interface is `ens33`. State is read through
//! `baton status --json`; wire facts (who advertised, when, at which priority) come from a
//! capture on the segment. Every time bound is the protocol's timer for the seed's settings
//! (VRRPv2, advert_int 1) plus [`common::SLACK`]. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::Signal;
use common::*;

#[test]
fn seed_pair_fails_over_on_crash_preempts_back_and_hands_over_on_sigterm() {
    let Some((lab, lb1, lb2)) = seed_lab("failover") else {
        return;
    };
    // What a crashed daemon leaves behind: the VIP still on the backup's interface.
    lb2.cmd(["ip", "addr", "add", "192.168.5.10/32", "dev", "ens33"])
        .unwrap();
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    // Removed at start, as keepalived does ("removing VIPs").
    wait_addr(&lb2, VIP, false, Duration::from_secs(1));
    let b1 = Baton::start(&lb1, SEED_MASTER);

    // .11 (priority 200) becomes master holding the VIP once its Master_Down_Interval has
    // run (state MASTER below 255 still waits, as in keepalived); .12 stays backup.
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT);
    let i1 = b1.instance("VI_1");
    assert_eq!(i1["effective_priority"], 200);
    assert_eq!(i1["vips_held"], serde_json::json!([VIP]));
    assert_eq!(i1["master"]["address"], LB1);
    let i2 = b2.instance("VI_1");
    assert_eq!(i2["master"]["address"], LB1, "{i2}");
    assert_eq!(i2["master"]["priority"], 200);
    assert_eq!(i2["vips_held"], serde_json::json!([]));
    assert!(holds(&lb1, VIP) && !holds(&lb2, VIP));

    // SIGKILL the master: .12 takes over once Master_Down_Interval has passed since the
    // last advert it heard.
    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, 2 * SEED_ADVERT_INT + SLACK);
    b1.proc.kill().unwrap();
    let mdi = mdi_v2(100, SEED_ADVERT_INT);
    b2.wait_state("Master", mdi + Duration::from_secs(2));
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
    let ads = adverts(&cap.stop().unwrap());
    let first_new = ads
        .iter()
        .find(|a| a.src == ip(LB2))
        .expect("an advert from the new master");
    let last_old = ads
        .iter()
        .rfind(|a| a.src == ip(LB1) && a.ts < first_new.ts)
        .expect("an advert from the old master before the crash");
    let gap = between(last_old.ts, first_new.ts);
    eprintln!(
        "crash: new master's first advert {gap:?} after the last one heard (Master_Down_Interval {mdi:?})"
    );
    assert!(
        gap <= mdi + SLACK,
        "takeover {gap:?} after the last advert, Master_Down_Interval {mdi:?}"
    );
    assert!(
        gap + SLACK >= mdi,
        "takeover {gap:?} came before Master_Down_Interval {mdi:?}"
    );
    assert_eq!(
        (
            first_new.priority,
            first_new.ttl,
            first_new.vrid,
            first_new.version
        ),
        (100, 255, 51, 2)
    );
    assert_eq!(first_new.dst, ip("224.0.0.18"));

    // Restart .11: it clears what the crash left, starts as backup, hears a master below
    // its own priority and preempts back; .12 gives the VIP up.
    let b1 = Baton::start(&lb1, SEED_MASTER);
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + SEED_ADVERT_INT + Duration::from_secs(1),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT + SLACK);
    wait_addr(&lb2, VIP, false, Duration::from_secs(1));
    assert!(holds(&lb1, VIP));
    assert_eq!(b2.instance("VI_1")["master"]["address"], LB1);

    // SIGTERM the master: a priority-0 advert goes out, the VIP is released, and .12 is
    // master within Skew_Time of it.
    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, 2 * SEED_ADVERT_INT + SLACK);
    b1.signal(Signal::SIGTERM);
    assert!(
        b1.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        b1.logs()
    );
    b2.wait_state("Master", skew_v2(100) + Duration::from_secs(1));
    let ads = adverts(&cap.stop().unwrap());
    let zero = ads
        .iter()
        .find(|a| a.src == ip(LB1) && a.priority == 0)
        .unwrap_or_else(|| panic!("no priority-0 advert on the wire: {ads:#?}"));
    let first_new = ads
        .iter()
        .find(|a| a.src == ip(LB2) && a.ts >= zero.ts)
        .expect("an advert from the new master");
    let gap = between(zero.ts, first_new.ts);
    let skew = skew_v2(100);
    eprintln!(
        "SIGTERM: new master's first advert {gap:?} after the priority-0 advert (Skew_Time {skew:?})"
    );
    assert!(
        gap <= skew + SLACK,
        "takeover {gap:?} after the priority-0 advert, Skew_Time {skew:?}"
    );
    assert!(!holds(&lb1, VIP), "the stopped master kept the VIP");
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
    assert!(!b1.pidfile.exists(), "pid file left behind");
}

#[test]
fn dropped_vrrp_makes_both_masters_and_one_master_returns_within_an_interval() {
    let Some((lab, lb1, lb2)) = seed_lab("splitbrain") else {
        return;
    };
    let (b1, b2) = start_seed_pair(&lb1, &lb2);

    // The seed's firewalld: VRRP dropped on both nodes. Each hears nothing, .12's
    // Master_Down_Interval runs out, and both hold the VIP: the seed's bug, reproduced.
    let f1 = lb1.drop_ip_protocol(112).unwrap();
    let f2 = lb2.drop_ip_protocol(112).unwrap();
    b2.wait_state(
        "Master",
        mdi_v2(100, SEED_ADVERT_INT) + SEED_ADVERT_INT + Duration::from_secs(1),
    );
    assert_eq!(b1.state(), "Master");
    assert!(holds(&lb1, VIP) && holds(&lb2, VIP));
    assert!(
        f2.dropped_packets().unwrap() > 0,
        "the rule dropped nothing"
    );

    // Remove the rules: the first advert of .11 (priority 200) that gets through sends .12
    // back to backup, within one advert interval.
    let cap = capture_vrrp(&lab);
    f1.remove().unwrap();
    f2.remove().unwrap();
    let took = b2.wait_state("Backup", SEED_ADVERT_INT + Duration::from_secs(1));
    eprintln!(
        "split brain healed {took:?} after VRRP flowed again (advert_int {SEED_ADVERT_INT:?})"
    );
    assert!(
        took <= SEED_ADVERT_INT + SLACK,
        "still two masters {took:?} after VRRP flowed again"
    );
    assert_eq!(b1.state(), "Master");
    wait_addr(&lb2, VIP, false, Duration::from_secs(1));
    assert!(holds(&lb1, VIP));
    // The wire agrees: after the last advert of .12, only .11 advertises.
    std::thread::sleep(2 * SEED_ADVERT_INT);
    let ads = adverts(&cap.stop().unwrap());
    let last_lb2 = ads.iter().rposition(|a| a.src == ip(LB2));
    let after: Vec<_> = ads[last_lb2.map_or(0, |i| i + 1)..].iter().collect();
    assert!(after.len() >= 2, "{ads:#?}");
    assert!(after.iter().all(|a| a.src == ip(LB1) && a.priority == 200));
}

#[test]
fn link_down_on_the_master_faults_it_and_the_backup_takes_over() {
    let Some((_lab, lb1, lb2)) = seed_lab("linkdown") else {
        return;
    };
    let (b1, b2) = start_seed_pair(&lb1, &lb2);

    lb1.link_down("ens33").unwrap();
    b1.wait_state("Fault", Duration::from_secs(1));
    let i1 = b1.instance("VI_1");
    assert!(
        i1["faults"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "interface ens33 down"),
        "{i1}"
    );
    assert_eq!(i1["vips_held"], serde_json::json!([]));
    // Nothing crosses a down link, so .12 waits out its Master_Down_Interval.
    b2.wait_state(
        "Master",
        mdi_v2(100, SEED_ADVERT_INT) + SEED_ADVERT_INT + Duration::from_secs(1),
    );
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
    assert!(!holds(&lb1, VIP));

    // Link back: .11 leaves FAULT as backup, hears .12 below it, and preempts.
    lb1.link_up("ens33").unwrap();
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + SEED_ADVERT_INT + Duration::from_secs(1),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT + SLACK);
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));
    let transitions = &b1.instance("VI_1")["counters"]["transitions"];
    assert_eq!(transitions["fault"], 1, "{transitions}");
    assert_eq!(transitions["master"], 2, "{transitions}");
}
