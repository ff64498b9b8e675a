//! `track_file` in the running daemon: the file's value × weight moves the effective
//! priority as the file is rewritten or replaced (by rename, as tools that write atomically
//! do), and the VIP follows the priority.

use std::time::{Duration, SystemTime};

use crate::common::*;
use crate::health::pair::*;

#[test]
fn a_tracked_file_moves_the_priority_and_the_vip_follows() {
    let Some((lab, lb1, lb2)) = seed_lab("hp-file") else {
        return;
    };
    let weight_file = lb1.path("nginx_weight");
    // Missing at start: `init_file` creates it holding 0.
    let conf = with_tracker(
        SEED_MASTER,
        &format!(
            "vrrp_track_file nginx_weight {{\n    file {}\n    weight 1\n    init_file\n}}",
            weight_file.display()
        ),
        "track_file {\n    nginx_weight\n}",
    );
    let b1 = Baton::start(&lb1, &conf);
    let b2 = Baton::start(&lb2, SEED_BACKUP);
    b1.wait_state("Master", mdi_v2(200, ADVERT_INT) + Duration::from_secs(2));
    b2.wait_state("Backup", ADVERT_INT);
    assert_eq!(std::fs::read_to_string(&weight_file).unwrap().trim(), "0");
    assert_eq!(b1.instance("VI_1")["effective_priority"], 200);

    // Rewritten in place: 200 − 150 = 50, below the backup. lb1 says so at once and lb2
    // takes over after its fast-handover delay.
    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, 2 * ADVERT_INT + SLACK);
    let written = SystemTime::now();
    std::fs::write(&weight_file, "-150\n").unwrap();
    b2.wait_state("Master", ADVERT_INT);
    wait_addr(&lb2, VIP, true, ADVERT_INT);
    assert_eq!(b1.instance("VI_1")["effective_priority"], 50);
    b1.wait_state("Backup", ADVERT_INT);
    assert!(!holds(&lb1, VIP));

    // Replaced by rename: 200 + 20. lb1 preempts on lb2's next advert.
    let tmp = lb1.path("nginx_weight.tmp");
    std::fs::write(&tmp, "20\n").unwrap();
    let renamed = SystemTime::now();
    std::fs::rename(&tmp, &weight_file).unwrap();
    b1.wait_state("Master", 2 * ADVERT_INT);
    assert_eq!(b1.instance("VI_1")["effective_priority"], 220);
    b2.wait_state("Backup", ADVERT_INT);
    wait_addr(&lb1, VIP, true, ADVERT_INT);
    assert!(!holds(&lb2, VIP));

    // The wire: each change advertised as it happened.
    let ads = adverts(&cap.stop().unwrap());
    let at = |src: &str, priority: u8, after: SystemTime| {
        ads.iter()
            .find(|a| a.src == ip(src) && a.priority == priority && a.ts >= after)
            .unwrap_or_else(|| panic!("no advert from {src} at {priority}: {ads:#?}"))
            .ts
    };
    let lowered = between(written, at(LB1, 50, written));
    let taken = between(written, at(LB2, 100, written));
    let raised = between(renamed, at(LB1, 220, renamed));
    eprintln!(
        "file written: lb1 advertised 50 after {lowered:?}, lb2 took over after {taken:?}; renamed: lb1 back after {raised:?}"
    );
    assert!(
        lowered <= SLACK,
        "priority 50 advertised {lowered:?} after the write"
    );
    assert!(
        taken <= fast_delay() + SLACK,
        "lb2 took over {taken:?} after the write"
    );
    assert!(
        raised <= ADVERT_INT + fast_delay() + SLACK,
        "lb1 preempted {raised:?} after the rename"
    );
}

/// The fast-handover takeover delay of the seed's backup (priority 100): (256 − 100) × 20 ms
/// / 256 (crates/vrrp timers).
fn fast_delay() -> Duration {
    baton_vrrp::timers::fast_takeover_delay(100)
}
