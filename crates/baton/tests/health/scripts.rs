//! `vrrp_script` in the running daemon: a script runs as the user its block names, and a run
//! still going when the next is due is skipped (logged as keepalived logs it), never run
//! twice at once. Their weights show in the effective priority.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::health::pair::*;

/// Succeeds only when run as `nobody`.
const AS_NOBODY: &str = "#!/bin/sh\n[ \"$(id -un)\" = nobody ]\n";

/// Takes 2.5 s, longer than its interval; leaves a mark if it ever finds another run of
/// itself in progress.
const SLOW: &str = "#!/bin/sh\n\
    dir=\"$(dirname \"$0\")\"\n\
    mkdir \"$dir/slow.lock\" 2>/dev/null || { touch \"$dir/slow.overlapped\"; exit 1; }\n\
    sleep 2.5\n\
    rmdir \"$dir/slow.lock\"\n";

#[test]
fn scripts_run_as_their_user_and_never_overlap() {
    let Some((_lab, lb1, _lb2)) = seed_lab("hp-scripts") else {
        return;
    };
    let nobody = write_script(&lb1, "as_nobody.sh", AS_NOBODY);
    let slow = write_script(&lb1, "slow.sh", SLOW);
    let conf = with_tracker(
        SEED_MASTER,
        &format!(
            "vrrp_script as_nobody {{\n    script \"{}\"\n    user nobody\n    weight 5\n}}\n\
             vrrp_script slow {{\n    script \"{}\"\n    interval 1\n    timeout 4\n    weight 1\n}}",
            nobody.display(),
            slow.display()
        ),
        "track_script {\n    as_nobody\n    slow\n}",
    );
    let t = Instant::now();
    let b1 = Baton::start(&lb1, &conf);
    // 200 + 5 (ran as nobody) + 1 (the slow one succeeded, after 2.5 s).
    baton_lab::wait_until(
        "both scripts to succeed",
        Duration::from_secs(5),
        POLL,
        || b1.instance("VI_1")["effective_priority"] == 206,
    )
    .unwrap_or_else(|e| panic!("{e}: {}\n{}", b1.instance("VI_1"), b1.logs()));
    assert!(t.elapsed() >= Duration::from_millis(2500));
    // Two more runs of the slow script, with the ticks in between skipped.
    std::thread::sleep(Duration::from_secs(5));
    let logs = b1.logs();
    assert!(
        logs.contains("Track script slow is already running, expect idle - skipping run"),
        "{logs}"
    );
    assert!(
        !lb1.path("slow.overlapped").exists(),
        "two runs of one script overlapped\n{logs}"
    );
    assert_eq!(b1.instance("VI_1")["effective_priority"], 206);
}
