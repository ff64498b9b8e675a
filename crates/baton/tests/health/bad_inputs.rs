//! Bad inputs to the trackers, all at once in one running daemon: a script that is missing,
//! one that is not executable, one that is insecure under `enable_script_security`, one that
//! never exits (and forks a child that would not either), one that prints 1 MB, one that
//! dies by a signal; a notify FIFO whose directory is missing; a tracked file holding
//! garbage. Each must give a clear log line — here the log is the feature — while the daemon
//! keeps running: it answers `baton status`, becomes and stays master, advertises on time,
//! and the weights of the scripts that do run count as keepalived counts them.

use std::time::{Duration, Instant};

use baton_lab::Host;

use crate::common::*;
use crate::health::pair::*;

/// The interval (and timeout) of the scripts that run.
const INTERVAL: Duration = Duration::from_secs(1);

/// Every tracker of the test, with the script or file behind it. Returns the configuration.
fn bad_config(host: &Host) -> String {
    let dir = host.dir();
    let script = |name: &str, body: &str, mode: u32| {
        let path = host.write_file(name, body).unwrap();
        set_mode(&path, mode);
    };
    // Never written: missing.
    script("not_executable.sh", "#!/bin/sh\nexit 0\n", 0o644);
    script("insecure.sh", "#!/bin/sh\nexit 0\n", 0o777);
    script(
        "never_exits.sh",
        "#!/bin/sh\nsleep 600 &\nexec sleep 600\n",
        0o755,
    );
    script(
        "loud.sh",
        "#!/bin/sh\nhead -c 1048576 /dev/zero\nexit 0\n",
        0o755,
    );
    script("killed.sh", "#!/bin/sh\nkill -KILL $$\n", 0o755);
    host.write_file("garbage", "nginx is fine, thanks\n")
        .unwrap();

    let d = dir.display();
    let mut definitions = String::new();
    let mut references = String::from("track_script {\n");
    for name in [
        "missing",
        "not_executable",
        "insecure",
        "never_exits",
        "loud",
        "killed",
    ] {
        definitions.push_str(&format!(
            "vrrp_script {name} {{\n    script \"{d}/{name}.sh\"\n    interval 1\n    timeout 1\n    weight -1\n}}\n"
        ));
        references.push_str(&format!("    {name}\n"));
    }
    references.push_str("}\ntrack_file {\n    garbage\n}");
    definitions.push_str(&format!(
        "vrrp_track_file garbage {{\n    file {d}/garbage\n    weight 10\n}}"
    ));
    let seed = SEED_MASTER.replace(
        "global_defs {",
        // Security on, as its users set it: scripts run as root and must be safe to.
        &format!(
            "global_defs {{\nenable_script_security\nscript_user root\nnotify_fifo {d}/no/such/dir/notify.fifo"
        ),
    );
    with_tracker(&seed, &definitions, &references)
}

/// Wait until the daemon's log holds a line containing every one of `parts`; that line.
fn wait_log_line(b: &Baton, parts: &[&str], timeout: Duration) -> String {
    let t = Instant::now();
    loop {
        let logs = b.proc.stderr().unwrap_or_default() + &b.proc.stdout().unwrap_or_default();
        if let Some(line) = logs.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
            return line.to_string();
        }
        assert!(
            t.elapsed() < timeout,
            "no log line with {parts:?} after {timeout:?}:\n{}",
            b.logs()
        );
        std::thread::sleep(POLL);
    }
}

#[test]
fn each_bad_tracker_input_is_logged_clearly_and_the_daemon_keeps_running() {
    let Some((lab, lb1, _lb2)) = seed_lab("hp-bad") else {
        return;
    };
    let dir = lb1.dir().display().to_string();
    let cap = capture_vrrp(&lab);
    let b1 = Baton::start(&lb1, &bad_config(&lb1));

    // Refused before they ever run, each naming its path and why.
    let lines = [
        wait_log_line(
            &b1,
            &[
                "vrrp_script missing",
                &format!("{dir}/missing.sh"),
                "does not exist",
            ],
            SLACK,
        ),
        wait_log_line(
            &b1,
            &[
                "vrrp_script not_executable",
                &format!("{dir}/not_executable.sh"),
                "not executable",
            ],
            SLACK,
        ),
        wait_log_line(
            &b1,
            &[
                "vrrp_script insecure",
                &format!("{dir}/insecure.sh"),
                "writable by any user",
            ],
            SLACK,
        ),
        wait_log_line(
            &b1,
            &["notify fifo", "no/such/dir/notify.fifo", "No such file"],
            SLACK,
        ),
        wait_log_line(
            &b1,
            &["track file garbage", &format!("{dir}/garbage"), "no number"],
            SLACK,
        ),
        // Run, and reported when their result is in.
        wait_log_line(
            &b1,
            &["never_exits", "timed out"],
            3 * INTERVAL + Duration::from_secs(1),
        ),
        wait_log_line(&b1, &["loud", "returning 0"], 2 * INTERVAL),
        wait_log_line(&b1, &["killed", "signal 9"], 2 * INTERVAL),
    ];
    for line in &lines {
        eprintln!("{line}");
    }

    // Still running and doing its job: master once Master_Down_Interval has run, with the
    // two failing scripts' weights applied (the refused ones are dropped, as keepalived
    // drops them; the garbage file counts as 0).
    b1.wait_state("Master", mdi_v2(200, ADVERT_INT) + Duration::from_secs(2));
    assert!(holds(&lb1, VIP));
    let i = b1.instance("VI_1");
    assert_eq!(i["effective_priority"], 198, "{i}");
    // A few more rounds of timeouts: no stray processes pile up, the adverts keep their
    // rhythm.
    std::thread::sleep(3 * INTERVAL);
    let sleeps = lb1.pidof("sleep").unwrap().len();
    assert!(
        sleeps <= 2,
        "{sleeps} sleep processes left by the hanging script"
    );
    assert!(b1.proc.try_wait().unwrap().is_none(), "{}", b1.logs());
    let ads: Vec<Advert> = adverts(&cap.stop().unwrap())
        .into_iter()
        .filter(|a| a.src == ip(LB1) && a.priority != 0)
        .collect();
    assert!(ads.len() >= 3, "{ads:#?}");
    for pair in ads.windows(2) {
        let gap = between(pair[0].ts, pair[1].ts);
        assert!(
            gap <= ADVERT_INT + SLACK,
            "adverts {gap:?} apart while the bad scripts ran"
        );
    }
}
