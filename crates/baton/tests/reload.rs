//! SIGHUP on the real kernel, with the seed's pair: a reload keeps an instance that stays
//! master as master without a flap on the wire or in `ip addr`; a reload that adds a VIP adds
//! only that; a configuration that fails validation is refused and the running one kept.
//! Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use baton_lab::Signal;
use common::*;

/// Wait until the daemon has counted `n` reloads (`field`: `reloads` or `reloads_refused`).
fn wait_reloads(b: &Baton, field: &str, n: u64) {
    baton_lab::wait_until(
        format!("{} to count {n} {field}", b.host.name()),
        Duration::from_secs(5),
        POLL,
        || b.status().map(|s| s["daemon"][field] == n),
    )
    .unwrap();
}

#[test]
fn reloads_keep_the_master_and_its_vip_and_a_bad_one_is_refused() {
    let Some((lab, lb1, lb2)) = seed_lab("reload") else {
        return;
    };
    let (b1, b2) = start_seed_pair(&lb1, &lb2);
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));

    // Watch lb1's addresses and the wire across the reload.
    let monitor = lb1
        .spawn(Command::new("ip").args(["-o", "monitor", "address"]))
        .unwrap();
    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, 2 * SEED_ADVERT_INT + SLACK);
    let before1 = b1.instance("VI_1");
    let before2 = b2.instance("VI_1");

    // 1. Nothing changed: MASTER stays MASTER, the VIP is never removed.
    b1.signal(Signal::SIGHUP);
    wait_reloads(&b1, "reloads", 1);
    std::thread::sleep(2 * SEED_ADVERT_INT);
    let after1 = b1.instance("VI_1");
    assert_eq!(after1["state"], "Master");
    assert_eq!(after1["vips_held"], serde_json::json!([VIP]));
    assert_eq!(
        after1["counters"]["transitions"], before1["counters"]["transitions"],
        "a transition during the reload"
    );
    // The reloaded backup restarts as BACKUP (keepalived's "(init)"), never as master.
    let after2 = b2.instance("VI_1");
    assert_eq!(after2["state"], "Backup");
    assert_eq!(
        after2["counters"]["transitions"]["master"], before2["counters"]["transitions"]["master"],
        "the backup became master during the reload"
    );
    assert!(holds(&lb1, VIP));

    // 2. A broken file (priority out of range) is refused; everything keeps running.
    b1.rewrite(&SEED_MASTER.replace("priority 200", "priority 900"));
    b1.signal(Signal::SIGHUP);
    wait_reloads(&b1, "reloads_refused", 1);
    std::thread::sleep(SEED_ADVERT_INT);
    assert!(b1.proc.is_running().unwrap(), "{}", b1.logs());
    let i1 = b1.instance("VI_1");
    assert_eq!(i1["state"], "Master");
    assert_eq!(i1["base_priority"], 200, "the refused priority was applied");
    assert!(holds(&lb1, VIP));
    let logs = b1.logs();
    assert!(logs.contains("Reload refused"), "{logs}");

    // 3. Both sides gain a second VIP: added next to the first, which stays put.
    let second = "192.168.5.20";
    let add = |conf: &str| {
        conf.replace(
            "192.168.5.10 # 虚拟ip",
            "192.168.5.10 # 虚拟ip\n192.168.5.20",
        )
    };
    b2.rewrite(&add(SEED_BACKUP));
    b1.rewrite(&add(SEED_MASTER));
    b2.signal(Signal::SIGHUP);
    b1.signal(Signal::SIGHUP);
    wait_reloads(&b1, "reloads", 2);
    wait_reloads(&b2, "reloads", 1);
    wait_addr(&lb1, second, true, Duration::from_secs(1));
    std::thread::sleep(2 * SEED_ADVERT_INT);
    let i1 = b1.instance("VI_1");
    assert_eq!(i1["state"], "Master");
    assert_eq!(i1["vips_held"], serde_json::json!([VIP, second]));
    assert_eq!(
        i1["counters"]["transitions"],
        before1["counters"]["transitions"]
    );
    let i2 = b2.instance("VI_1");
    assert_eq!(i2["state"], "Backup", "{i2}");
    assert_eq!(
        i2["counters"]["transitions"]["master"],
        before2["counters"]["transitions"]["master"]
    );
    assert!(!holds(&lb2, VIP) && !holds(&lb2, second));

    // Neither the wire nor `ip addr` saw the master let go at any point.
    let ads = adverts(&cap.stop().unwrap());
    assert!(
        ads.iter().all(|a| a.src == ip(LB1) && a.priority == 200),
        "an advert from the backup or at another priority: {ads:#?}"
    );
    monitor.signal(Signal::SIGTERM).unwrap();
    monitor.wait().unwrap();
    let addr_events = monitor.stdout().unwrap();
    assert!(
        !addr_events
            .lines()
            .any(|l| l.starts_with("Deleted") && l.contains("192.168.5.10/32")),
        "the VIP was removed during a reload:\n{addr_events}"
    );
    assert!(
        addr_events.contains("192.168.5.20/32"),
        "the monitor saw nothing:\n{addr_events}"
    );
}
