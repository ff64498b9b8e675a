//! Notifications from the running daemon: `notify_master|backup|fault|stop` run as
//! configured, the generic `notify` with keepalived's `INSTANCE name STATE priority`
//! appended, one after the other in the order the states were entered; and the notify FIFO
//! (created by baton, as keepalived creates a missing one) receives keepalived's lines.
//! The instance is driven through every state by its tracker on nginx and by SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use baton_lab::Signal;

use crate::common::*;
use crate::health::nginx::Nginx;
use crate::health::pair::*;

/// A notify command that logs its arguments (`|`-separated, so their boundaries show) when
/// it starts and again when it ends a little later: overlapping runs would interleave.
const NOTIFY_SH: &str = "#!/bin/sh\n\
    log=\"$(dirname \"$0\")/notify.log\"\n\
    args=\"$#\"; for a in \"$@\"; do args=\"$args|$a\"; done\n\
    echo \"start $args\" >> \"$log\"\n\
    sleep 0.05\n\
    echo \"end $args\" >> \"$log\"\n";

/// The seed's master configuration with a notify FIFO, a command for each state, the generic
/// one, and a process tracker on nginx (weight 0: FAULT without it).
fn notifying(seed: &str, script: &Path, fifo: &Path) -> String {
    let s = script.display();
    let seed = seed.replace(
        "global_defs {",
        &format!("global_defs {{\nnotify_fifo {}", fifo.display()),
    );
    with_tracker(
        &seed,
        "vrrp_track_process chk_nginx {\n    process nginx\n}",
        &format!(
            "track_process {{\n    chk_nginx\n}}\n\
             notify_master \"{s} master\"\n\
             notify_backup \"{s} backup\"\n\
             notify_fault \"{s} fault\"\n\
             notify_stop \"{s} stop\"\n\
             notify \"{s} generic\"\n"
        ),
    )
}

/// Read lines from a FIFO until every writer has closed it; they arrive on the channel.
fn read_fifo(path: PathBuf) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // baton holds the FIFO open for writing, so this does not block.
        let fifo = std::fs::File::open(&path).unwrap();
        for line in BufReader::new(fifo).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The notify log's lines.
fn notify_log(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The log lines of one notification by state: its own command, then the generic one.
fn expected(state: &str, word: &str, priority: u8) -> Vec<String> {
    let own = format!("1|{state}");
    let generic = format!("5|generic|INSTANCE|VI_1|{word}|{priority}");
    vec![
        format!("start {own}"),
        format!("end {own}"),
        format!("start {generic}"),
        format!("end {generic}"),
    ]
}

#[test]
fn notify_commands_run_in_order_with_keepalived_arguments_and_the_fifo_gets_its_lines() {
    let Some((_lab, lb1, _lb2)) = seed_lab("hp-notify") else {
        return;
    };
    let nginx = Nginx::install(&lb1, LB1);
    nginx.start();
    let script = write_script(&lb1, "notify.sh", NOTIFY_SH);
    let log = lb1.path("notify.log");
    // Missing at start: baton makes it.
    let fifo_path = lb1.path("notify.fifo");
    let b1 = Baton::start(&lb1, &notifying(SEED_MASTER, &script, &fifo_path));
    let fifo = read_fifo(fifo_path.clone());

    // Alone on the segment: BACKUP, then MASTER once Master_Down_Interval has run.
    let mdi = mdi_v2(200, ADVERT_INT);
    b1.wait_state("Master", mdi + Duration::from_secs(2));
    // nginx dies: FAULT. It comes back: BACKUP, then MASTER again.
    nginx.kill();
    b1.wait_state("Fault", ADVERT_INT);
    nginx.start();
    b1.wait_state("Master", mdi + Duration::from_secs(2));
    // Stopping: STOP.
    b1.signal(Signal::SIGTERM);
    assert!(b1.wait_exit(Duration::from_secs(10)).success());

    let mut want = Vec::new();
    for (state, word) in [
        ("backup", "BACKUP"),
        ("master", "MASTER"),
        ("fault", "FAULT"),
        ("backup", "BACKUP"),
        ("master", "MASTER"),
        ("stop", "STOP"),
    ] {
        want.extend(expected(state, word, 200));
    }
    // The STOP commands run while the daemon stops; it waits for them.
    assert_eq!(notify_log(&log), want, "{}", b1.logs());

    // Every line, up to the end of the stream when baton closed the FIFO.
    let mut lines = Vec::new();
    loop {
        match fifo.recv_timeout(Duration::from_secs(2)) {
            Ok(line) => lines.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the FIFO stayed open: {lines:?}"),
        }
    }
    assert_eq!(
        lines,
        [
            "INSTANCE \"VI_1\" BACKUP 200",
            "INSTANCE \"VI_1\" MASTER 200",
            "INSTANCE \"VI_1\" FAULT 200",
            "INSTANCE \"VI_1\" BACKUP 200",
            "INSTANCE \"VI_1\" MASTER 200",
            "INSTANCE \"VI_1\" STOP 200",
        ]
    );
    // baton made the FIFO, so it removes it when it stops.
    assert!(!fifo_path.exists());
}
