//! TCP_CHECK against nginx on a real server in a namespace: up, refused, timed out, and
//! back, with keepalived's retry timing read from the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use baton_lab::Chain;
use common::servers::Nginx;
use common::{Run, gaps_ms, load, net, one_checker, syns};

const CHECK: &str = "TCP_CHECK {
    connect_timeout 1
    retry 2
    delay_before_retry 0.3
    warmup 0
}";

#[test]
fn tcp_check_up_refused_timeout_and_back() {
    let Some(n) = net("chk-tcp") else { return };
    let nginx = Nginx::install(&n.rs);
    nginx.start();
    let config = load(&one_checker(80, CHECK));
    let mut run = Run::start(&n.lb, &config);

    let up = run.wait_up(Duration::from_secs(3));
    assert_eq!(up.reason, "TCP connection to [10.0.9.21]:tcp:80 success.");

    // Refused: the probe after the kill fails, then two retries 0.3 s apart, then down.
    let capture = n.rs.capture("eth0", "tcp dst port 80").unwrap();
    let killed = SystemTime::now();
    nginx.kill();
    let down = run.wait_down(Duration::from_secs(4));
    assert!(
        down.reason
            .starts_with("TCP_CHECK on service [10.0.9.21]:tcp:80 failed after 2 retries."),
        "{}",
        down.reason
    );
    assert!(down.reason.contains("refused"), "{}", down.reason);
    let detected = down.at.elapsed();
    // Down: probed every delay_loop, no retries.
    std::thread::sleep(Duration::from_millis(2300));
    let pcap = capture.stop().unwrap();
    let after_kill: Vec<SystemTime> = syns(&pcap, 80)
        .into_iter()
        .filter(|t| *t > killed)
        .collect();
    let gaps = gaps_ms(&after_kill);
    eprintln!("SYNs after the kill, gaps in ms: {gaps:?} (verdict {detected:?} ago)");
    assert!(after_kill.len() >= 5, "SYNs: {gaps:?}");
    // First failure, two retries delay_before_retry apart ...
    for g in &gaps[0..2] {
        assert!(
            (280..=420).contains(g),
            "retry gap {g} ms, want ~300: {gaps:?}"
        );
    }
    // ... then delay_loop apart while down.
    for g in &gaps[2..4] {
        assert!(
            (980..=1150).contains(g),
            "down gap {g} ms, want ~1000: {gaps:?}"
        );
    }

    nginx.start();
    let up = run.wait_up(Duration::from_secs(3));
    assert_eq!(up.reason, "TCP connection to [10.0.9.21]:tcp:80 success.");

    // Silently dropped SYNs: each probe waits out connect_timeout.
    let drop = n.rs.nft_drop(Chain::Input, "tcp dport 80").unwrap();
    let down = run.wait_down(Duration::from_secs(6));
    assert!(
        down.reason.contains("timed out after 1s"),
        "{}",
        down.reason
    );
    drop.remove().unwrap();
    run.wait_up(Duration::from_secs(3));
    run.stop();
}
