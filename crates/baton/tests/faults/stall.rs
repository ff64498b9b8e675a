//! A master stopped (SIGSTOP: a paused VM, a debugger) and continued, and a control client
//! that connects and says nothing while another asks for status.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use baton_lab::Signal;

use crate::common::*;
use crate::pair::{INTERVAL, Pair, backup_mdi};

#[test]
fn a_stopped_master_is_replaced_within_the_bound_and_takes_back_without_a_split() {
    let Some(p) = Pair::start("sigstop") else {
        return;
    };
    let from = SystemTime::now();
    p.b1.signal(Signal::SIGSTOP);
    std::thread::sleep(backup_mdi() * 3);
    let cont = SystemTime::now();
    p.b1.signal(Signal::SIGCONT);
    std::thread::sleep(Duration::from_secs(1));
    let all = p.figures(from);
    let after = p.figures(cont);
    figure!(
        "fault sigstop: longest without a master {:?} (bound {:?} + one interval), \
         longest with two masters after SIGCONT {:?}",
        all.without_master,
        backup_mdi(),
        after.two_masters
    );
    assert!(
        all.without_master <= backup_mdi() + INTERVAL + SLACK * 2,
        "{:?}",
        all.without_master
    );
    assert!(after.two_masters <= INTERVAL * 2, "{:?}", after.two_masters);
    p.one_master_again();
}

#[test]
fn a_control_client_that_stalls_does_not_delay_another() {
    let Some((_lab, lb1, _lb2)) = seed_lab("stalledctl") else {
        return;
    };
    let b = Baton::start(&lb1, SEED_MASTER);
    let sock = baton::cli::control_socket_for(&b.pidfile);
    // Half a request, and never the rest.
    let mut stalled = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    stalled.write_all(b"{\"cmd\":\"sta").unwrap();
    let silent = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let s = b.status().unwrap();
    let took = t.elapsed();
    figure!("fault stalled-control-client: status answered in {took:?} beside two stalled clients");
    assert_eq!(s["instances"][0]["name"], "VI_1");
    // `baton status` itself is a process start; the answer must not wait for the others.
    assert!(took < Duration::from_secs(1), "{took:?}");
    drop((stalled, silent));
}
