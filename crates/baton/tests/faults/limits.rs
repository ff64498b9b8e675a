//! Resource limits (prlimit): few file descriptors while control clients pile up, and a
//! bounded address space under a flood of forged adverts and reloads.

use std::time::{Duration, Instant, SystemTime};

use baton_lab::Signal;
use baton_wire::Family;

use crate::common::*;
use crate::forge;
use crate::measure::{mb, rss_kb};
use crate::pair::{INTERVAL, Pair, backup_mdi, conf};

/// lb1 restarted through `prlimit` with `limit`.
fn restart_limited(p: &mut Pair, limit: &str) {
    p.b1.signal(Signal::SIGTERM);
    p.b1.wait_exit(Duration::from_secs(5));
    p.b1 = Baton::start_wrapped(
        &p.lb1,
        std::path::Path::new(BATON),
        &conf("MASTER", 200),
        &[],
        &["prlimit", limit, "--"],
        &[],
    );
    p.b1.wait_state("Master", backup_mdi() + Duration::from_secs(2));
    p.b2.wait_state("Backup", Duration::from_secs(2));
}

#[test]
fn out_of_descriptors_the_daemon_keeps_advertising_and_answers_again() {
    let Some(mut p) = Pair::start("fdlimit") else {
        return;
    };
    restart_limited(&mut p, "--nofile=48");
    let sock = baton::cli::control_socket_for(&p.b1.pidfile);
    let from = SystemTime::now();
    // More clients than descriptors left: accept fails with EMFILE for some.
    let clients: Vec<_> = (0..64)
        .filter_map(|_| std::os::unix::net::UnixStream::connect(&sock).ok())
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    drop(clients);
    let t = Instant::now();
    let answered = loop {
        if p.b1.status().is_ok() {
            break t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no answer:\n{}",
            p.b1.logs()
        );
        std::thread::sleep(POLL);
    };
    let f = p.figures(from);
    figure!(
        "fault fd-limit: 48 descriptors, 64 clients; longest without a master {:?}, status \
         answered again {answered:?} after they left",
        f.without_master
    );
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    p.one_master_again();
}

#[test]
fn in_a_small_address_space_a_flood_and_reloads_change_nothing() {
    let Some(mut p) = Pair::start("aslimit") else {
        return;
    };
    // Room for the daemon and its threads, none for a table that grows with the flood.
    restart_limited(&mut p, "--as=1073741824");
    let mallory = p
        .lab
        .add_host(baton_lab::HostSpec::new("mallory").addr("192.168.5.66/24"))
        .unwrap();
    let pid = p.b1.proc.pid();
    let idle = rss_kb(pid);
    let from = SystemTime::now();
    let mut inj = mallory.injector("eth0").unwrap();
    // The pair's VRRPv3 instance drops VRRPv2 adverts as a version mismatch, one table entry
    // per forged source.
    inj.send_paced(
        (0..20_000).map(|i| forge::advert(Family::Ipv4, forge::forged(Family::Ipv4, i))),
        20_000,
    )
    .unwrap();
    for _ in 0..5 {
        p.b1.signal(Signal::SIGHUP);
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kb(pid);
    let f = p.figures(from);
    figure!(
        "fault memory-limit: 1 GiB address space, 20000 forged adverts and 5 reloads: RSS {} \
         (idle {}), longest without a master {:?}",
        mb(after),
        mb(idle),
        f.without_master
    );
    assert!(p.b1.proc.is_running().unwrap());
    assert!(after <= idle + 2048, "{after} kB after, {idle} kB idle");
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    let inst = p.b1.instance("VI_1");
    assert!(inst["mismatches"].as_array().unwrap().len() <= 32);
    p.one_master_again();
}
