//! Reloads that must not stop the loop: from a FIFO (the configuration file itself, then an
//! include), from endless files (a device, a sparse file of 100 GB), and a storm of SIGHUPs.
//! Reading happens beside the loop and refuses what is not a regular file or is too large,
//! so the master keeps advertising on time and the backup never takes over.

use std::time::{Duration, Instant, SystemTime};

use baton_lab::Signal;

use crate::common::*;
use crate::pair::{INTERVAL, Pair, backup_mdi};

fn refused(b: &Baton) -> u64 {
    b.status().unwrap()["daemon"]["reloads_refused"]
        .as_u64()
        .unwrap()
}

/// SIGHUP and wait for the refusal; how long it took.
fn reload_refused(b: &Baton, n: u64) -> Duration {
    let t = Instant::now();
    b.signal(Signal::SIGHUP);
    baton_lab::wait_until(
        format!("reload {n} to be refused"),
        Duration::from_secs(3),
        POLL,
        || Ok::<_, baton_lab::Error>(refused(b) >= n),
    )
    .unwrap();
    t.elapsed()
}

fn mkfifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

#[test]
fn a_reload_from_a_fifo_is_refused_and_the_master_keeps_advertising() {
    let Some(p) = Pair::start("fiforeload") else {
        return;
    };
    let before = Pair::takeovers(&p.b2);
    let from = SystemTime::now();
    // The configuration file is a FIFO nobody will ever write to.
    let good = std::fs::read_to_string(&p.b1.conf).unwrap();
    mkfifo(&p.b1.conf);
    let main = reload_refused(&p.b1, 1);
    // A regular file again, including a FIFO.
    let fifo = p.lb1.path("conf.d.fifo");
    mkfifo(&fifo);
    std::fs::remove_file(&p.b1.conf).unwrap();
    std::fs::write(&p.b1.conf, format!("include {}\n{good}", fifo.display())).unwrap();
    let include = reload_refused(&p.b1, 2);
    // Past the backup's Master_Down_Interval twice over: a stalled master would have lost.
    std::thread::sleep(backup_mdi() * 2);
    let f = p.figures(from);
    figure!(
        "fault fifo-reload: refused in {main:?} (configuration file) and {include:?} \
         (include); longest without a master {:?} (bound {:?}), two masters {:?}",
        f.without_master,
        backup_mdi(),
        f.two_masters
    );
    assert_eq!(
        Pair::takeovers(&p.b2),
        before,
        "the backup took over:\n{}",
        p.b2.logs()
    );
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    assert_eq!(f.two_masters, Duration::ZERO);
    let logs = p.b1.logs();
    for file in [p.b1.conf.display().to_string(), fifo.display().to_string()] {
        assert!(
            logs.lines()
                .any(|l| l.contains(&file) && l.contains("it is a FIFO, not a regular file")),
            "the refused file {file} is not named:\n{logs}"
        );
    }
    assert!(logs.contains("Reload refused"), "{logs}");
    p.one_master_again();
}

#[test]
fn a_reload_from_endless_files_is_refused_at_once() {
    let Some(p) = Pair::start("endless") else {
        return;
    };
    let before = Pair::takeovers(&p.b2);
    let from = SystemTime::now();
    let good = std::fs::read_to_string(&p.b1.conf).unwrap();
    // A device that never ends, through a link as an operator might make one.
    std::fs::remove_file(&p.b1.conf).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &p.b1.conf).unwrap();
    let device = reload_refused(&p.b1, 1);
    // A sparse file of 100 GB, included.
    let big = p.lb1.path("big.conf");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(100 << 30).unwrap();
    std::fs::remove_file(&p.b1.conf).unwrap();
    std::fs::write(&p.b1.conf, format!("include {}\n{good}", big.display())).unwrap();
    let sparse = reload_refused(&p.b1, 2);
    std::thread::sleep(backup_mdi());
    let fig = p.figures(from);
    figure!(
        "fault endless-reload: /dev/zero refused in {device:?}, a 100 GB file in {sparse:?}; \
         longest without a master {:?}",
        fig.without_master
    );
    assert_eq!(Pair::takeovers(&p.b2), before);
    assert!(
        fig.without_master <= INTERVAL * 2,
        "{:?}",
        fig.without_master
    );
    let logs = p.b1.logs();
    assert!(
        logs.contains("it is a character device, not a regular file"),
        "{logs}"
    );
    assert!(
        logs.contains("larger than the 8388608-byte limit"),
        "{logs}"
    );
    p.one_master_again();
}

#[test]
fn a_storm_of_reloads_ends_with_the_file_as_it_is_last() {
    let Some(p) = Pair::start("hupstorm") else {
        return;
    };
    let before = Pair::takeovers(&p.b2);
    let from = SystemTime::now();
    let sent = 300;
    for i in 0..sent {
        if i == sent / 2 {
            // The file changes in the middle of the storm: the last read must see it.
            std::fs::write(&p.b1.conf, crate::pair::conf("MASTER", 210)).unwrap();
        }
        p.b1.signal(Signal::SIGHUP);
        std::thread::sleep(Duration::from_millis(1));
    }
    baton_lab::wait_until(
        "the last configuration to be running",
        Duration::from_secs(3),
        POLL,
        || {
            Ok::<_, baton_lab::Error>(
                p.b1.instance("VI_1")["base_priority"] == 210
                    && p.b1.status().unwrap()["daemon"]["reloading_ms"].is_null(),
            )
        },
    )
    .unwrap();
    let s = p.b1.status().unwrap();
    let applied = s["daemon"]["reloads"].as_u64().unwrap();
    let f = p.figures(from);
    figure!(
        "fault reload-storm: {sent} SIGHUPs, {applied} reads applied one at a time; longest \
         without a master {:?}, two masters {:?}",
        f.without_master,
        f.two_masters
    );
    assert!(
        (1..=sent).contains(&applied),
        "{applied} reads for {sent} signals"
    );
    assert_eq!(s["daemon"]["reloads_refused"], 0);
    assert_eq!(Pair::takeovers(&p.b2), before);
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    assert_eq!(f.two_masters, Duration::ZERO);
    p.one_master_again();
}
