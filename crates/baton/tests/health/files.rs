//! `track_file` in the running daemon: the file's value × weight moves the effective
//! priority as the file is rewritten or replaced (by rename, as tools that write atomically
//! do), and the VIP follows the priority.

use std::time::Duration;

use crate::common::*;
use crate::health::pair::*;

#[test]
fn a_tracked_file_moves_the_priority_and_the_vip_follows() {
    let Some((_lab, lb1, lb2)) = seed_lab("hp-file") else {
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

    // Rewritten in place: 200 − 150 = 50, below the backup, which takes over at once.
    std::fs::write(&weight_file, "-150\n").unwrap();
    b2.wait_state("Master", SLACK + fast_delay());
    wait_addr(&lb2, VIP, true, SLACK);
    assert_eq!(b1.instance("VI_1")["effective_priority"], 50);
    b1.wait_state("Backup", SLACK);
    assert!(!holds(&lb1, VIP));

    // Replaced by rename: 200 + 20. lb1 preempts on lb2's next advert.
    let tmp = lb1.path("nginx_weight.tmp");
    std::fs::write(&tmp, "20\n").unwrap();
    std::fs::rename(&tmp, &weight_file).unwrap();
    b1.wait_state("Master", ADVERT_INT + SLACK);
    assert_eq!(b1.instance("VI_1")["effective_priority"], 220);
    b2.wait_state("Backup", SLACK);
    wait_addr(&lb1, VIP, true, SLACK);
    assert!(!holds(&lb2, VIP));
}

/// The fast-handover takeover delay of the seed's backup (priority 100): (256 − 100) × 20 ms
/// / 256 (crates/vrrp timers).
fn fast_delay() -> Duration {
    baton_vrrp::timers::fast_takeover_delay(100)
}
