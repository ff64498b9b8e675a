//! The wall clock jumping an hour forward and back under the daemon (libfaketime, for this
//! process only: the machine's clock is left alone). baton times everything on the monotonic
//! clock, so nothing may happen.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use baton_lab::Signal;

use crate::common::*;
use crate::pair::{INTERVAL, Pair, backup_mdi, conf};

const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

#[test]
fn wall_clock_jumps_change_nothing() {
    if !Path::new(FAKETIME).exists() {
        eprintln!(
            "skipped: {FAKETIME} missing (Debian package faketime; scripts/test installs it)"
        );
        return;
    }
    let Some(mut p) = Pair::start("clockjump") else {
        return;
    };
    let offset = p.lb1.path("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    p.b1.signal(Signal::SIGTERM);
    p.b1.wait_exit(Duration::from_secs(5));
    let offset_file = offset.display().to_string();
    p.b1 = Baton::start_wrapped(
        &p.lb1,
        Path::new(BATON),
        &conf("MASTER", 200),
        &[],
        &[],
        &[
            ("LD_PRELOAD", OsStr::new(FAKETIME)),
            ("FAKETIME_TIMESTAMP_FILE", OsStr::new(&offset_file)),
            ("FAKETIME_NO_CACHE", OsStr::new("1")),
            ("FAKETIME_DONT_FAKE_MONOTONIC", OsStr::new("1")),
        ],
    );
    p.b1.wait_state("Master", backup_mdi() + Duration::from_secs(2));
    p.b2.wait_state("Backup", Duration::from_secs(2));
    let before = (Pair::takeovers(&p.b1), Pair::takeovers(&p.b2));
    let from = SystemTime::now();
    for jump in ["+3600", "-3600", "+0"] {
        std::fs::write(&offset, format!("{jump}\n")).unwrap();
        std::thread::sleep(backup_mdi() * 2);
    }
    let f = p.figures(from);
    figure!(
        "fault wall-clock-jump: +1 h, -1 h, back; longest without a master {:?}, two masters {:?}",
        f.without_master,
        f.two_masters
    );
    assert_eq!((Pair::takeovers(&p.b1), Pair::takeovers(&p.b2)), before);
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    assert_eq!(f.two_masters, Duration::ZERO);
    p.one_master_again();
}
