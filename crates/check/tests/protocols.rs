//! DNS_CHECK against dnsmasq, SMTP_CHECK against OpenSMTPD, UDP_CHECK against a UDP echo
//! and PING_CHECK against a host, all in namespaces: each passes, fails on the right
//! condition, and recovers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use baton_check::{CheckState, Verdict};
use baton_lab::Chain;
use common::servers::{Dnsmasq, Smtpd};
use common::{RS, Run, UdpEcho, load, net};

fn case(v: &Verdict) -> u32 {
    v.checker.rs.vs.0
}

/// Virtual servers 10.0.9.100 + i, each with the lab's real server on `port` and `check`.
fn config(cases: &[(u16, &str)]) -> String {
    let mut text = String::new();
    for (i, (port, check)) in cases.iter().enumerate() {
        text.push_str(&format!(
            "virtual_server 10.0.9.{} {port} {{\n\
             \tdelay_loop 1\n\
             \twarmup 0\n\
             \tprotocol TCP\n\
             \treal_server {RS} {port} {{\n\
             {check}\n\
             \t}}\n\
             }}\n",
            100 + i
        ));
    }
    text
}

/// Wait until each `(case, up)` has been reported.
fn settle(run: &mut Run, cases: &[(u32, bool)], within: Duration) -> Vec<Verdict> {
    let mut got = Vec::new();
    let mut left = cases.to_vec();
    while !left.is_empty() {
        let v = run.wait_for(&format!("cases {left:?}"), within, |v| {
            left.iter()
                .any(|&(c, up)| c == case(v) && v.state.is_up() == up)
        });
        left.retain(|&(c, _)| c != case(&v));
        got.push(v);
    }
    got
}

fn reason_of(verdicts: &[Verdict], c: u32) -> String {
    verdicts
        .iter()
        .find(|v| case(v) == c)
        .map(|v| v.reason.clone())
        .unwrap_or_default()
}

/// Every DNS question (name in wire form, type) captured.
fn dns_questions(pcap: &baton_lab::Pcap) -> Vec<(Vec<u8>, u16)> {
    pcap.records
        .iter()
        .filter_map(|r| {
            let ip = r.ip()?;
            let udp = ip.payload;
            if ip.protocol != 17 || udp.len() < 8 + 12 || udp[2..4] != [0, 53] {
                return None;
            }
            let msg = &udp[8..];
            let mut at = 12;
            while *msg.get(at)? != 0 {
                at += 1 + usize::from(msg[at]);
            }
            let qtype = u16::from_be_bytes([*msg.get(at + 1)?, *msg.get(at + 2)?]);
            Some((msg[12..=at].to_vec(), qtype))
        })
        .collect()
}

#[test]
fn dns_check_against_dnsmasq() {
    let Some(n) = net("chk-dns") else { return };
    let mut dnsmasq = Dnsmasq::new(&n.rs);
    dnsmasq.start();
    let text = config(&[
        // keepalived's defaults: SOA of the root, which this dnsmasq refuses.
        (53, "DNS_CHECK {\n}"),
        (
            53,
            "DNS_CHECK {\n type A\n name web.example.test\n retry 1\n delay_before_retry 0.3\n}",
        ),
        (53, "DNS_CHECK {\n type A\n name missing.example.test\n}"),
    ]);
    let capture = n.rs.capture("eth0", "udp dst port 53").unwrap();
    let mut run = Run::start(&n.lb, &load(&text));
    let first = settle(
        &mut run,
        &[(0, false), (1, true), (2, false)],
        Duration::from_secs(4),
    );
    assert_eq!(
        reason_of(&first, 0),
        "DNS_CHECK ([10.0.9.21]:tcp:53) read error occurred. (rcode = 5)"
    );
    assert_eq!(
        reason_of(&first, 2),
        "DNS_CHECK ([10.0.9.21]:tcp:53) read error occurred. (rcode = 3)"
    );
    let questions = dns_questions(&capture.stop().unwrap());
    assert!(
        questions.contains(&(vec![0], 6)),
        "the default query is SOA for the root: {questions:?}"
    );
    assert!(questions.contains(&(b"\x03web\x07example\x04test\x00".to_vec(), 1)));

    // Gone: the port is unreachable; one retry 0.3 s later, then down.
    dnsmasq.kill();
    let down = run.wait_for("case 1 down", Duration::from_secs(4), |v| {
        case(v) == 1 && v.state == CheckState::Down
    });
    assert!(
        down.reason.contains("failed to read socket") && down.reason.ends_with("after 1 retries"),
        "{}",
        down.reason
    );
    dnsmasq.start();
    run.wait_for("case 1 up", Duration::from_secs(3), |v| {
        case(v) == 1 && v.state.is_up()
    });
    run.stop();
}

#[test]
fn smtp_check_against_opensmtpd() {
    let Some(n) = net("chk-smtp") else { return };
    let mut smtpd = Smtpd::new(&n.rs);
    smtpd.start();
    // A server whose greeting refuses service.
    let refusing =
        n.rs.in_netns(|| TcpListener::bind(format!("{RS}:2525")))
            .unwrap()
            .unwrap();
    std::thread::spawn(move || {
        for mut conn in refusing.incoming().flatten() {
            let _ = conn.write_all(b"554 5.3.2 not accepting mail now\r\n");
        }
    });
    let text = config(&[
        (
            25,
            "SMTP_CHECK {\n helo_name checker.example.test\n retry 1\n delay_before_retry 0.3\n}",
        ),
        (2525, "SMTP_CHECK {\n retry 0\n}"),
    ]);
    let capture = n.rs.capture("eth0", "tcp dst port 25").unwrap();
    let mut run = Run::start(&n.lb, &load(&text));
    let first = settle(&mut run, &[(0, true), (1, false)], Duration::from_secs(4));
    assert_eq!(
        reason_of(&first, 0),
        "Remote SMTP server [10.0.9.21]:tcp:25 succeed on service."
    );
    assert!(
        reason_of(&first, 1)
            .starts_with("SMTP_CHECK Bad greeting banner from server [10.0.9.21]:2525"),
        "{}",
        reason_of(&first, 1)
    );
    let pcap = capture.stop().unwrap();
    const HELO: &[u8] = b"HELO checker.example.test\r\n";
    let said_helo = pcap.records.iter().any(|r| {
        r.ip()
            .is_some_and(|ip| ip.payload.windows(HELO.len()).any(|w| w == HELO))
    });
    assert!(said_helo, "HELO with helo_name on the wire");

    smtpd.kill();
    let down = run.wait_for("case 0 down", Duration::from_secs(4), |v| {
        case(v) == 0 && v.state == CheckState::Down
    });
    assert!(
        down.reason
            .starts_with("SMTP_CHECK Could not connect to server [10.0.9.21]:25"),
        "{}",
        down.reason
    );
    smtpd.start();
    run.wait_for("case 0 up", Duration::from_secs(3), |v| {
        case(v) == 0 && v.state.is_up()
    });
    smtpd.kill();
    run.stop();
}

#[test]
fn udp_check_against_an_echo_server() {
    let Some(n) = net("chk-udp") else { return };
    let echo = |req: &[u8]| -> Vec<u8> {
        if req == b"PING" {
            b"PONG-reply".to_vec()
        } else {
            b"HUH?".to_vec()
        }
    };
    let server = UdpEcho::start(&n.rs, &format!("{RS}:5353"), echo);
    // Datagrams to 5355 vanish: no reply, no error.
    let dropped = n.rs.nft_drop(Chain::Input, "udp dport 5355").unwrap();
    let text = config(&[
        // payload "PING", reply must start "PONG".
        (
            5353,
            "UDP_CHECK {\n payload 50494e47\n require_reply 504f4e47\n connect_timeout 0.5\n retry 1\n delay_before_retry 0.3\n}",
        ),
        // Nothing listens on 5354: ICMP port unreachable.
        (5354, "UDP_CHECK {\n connect_timeout 0.5\n retry 0\n}"),
        // A reply that is not what is required: x nibbles are wildcards, byte 1 differs.
        (
            5353,
            "UDP_CHECK {\n payload 50494e47\n require_reply 5x 4e\n connect_timeout 0.5\n retry 0\n}",
        ),
        // Silence is success without require_reply.
        (5355, "UDP_CHECK {\n connect_timeout 0.5\n}"),
        // ... and failure with it.
        (
            5355,
            "UDP_CHECK {\n require_reply\n connect_timeout 0.5\n retry 0\n}",
        ),
    ]);
    let mut run = Run::start(&n.lb, &load(&text));
    let first = settle(
        &mut run,
        &[(0, true), (1, false), (2, false), (3, true), (4, false)],
        Duration::from_secs(4),
    );
    assert_eq!(
        reason_of(&first, 0),
        "UDP connection to [10.0.9.21]:tcp:5353 success."
    );
    assert!(
        reason_of(&first, 1).contains("refused"),
        "{}",
        reason_of(&first, 1)
    );
    assert!(
        reason_of(&first, 2).contains("reply byte 1"),
        "{}",
        reason_of(&first, 2)
    );
    assert!(
        reason_of(&first, 4).contains("no reply"),
        "{}",
        reason_of(&first, 4)
    );

    drop(server);
    let down = run.wait_for("case 0 down", Duration::from_secs(4), |v| {
        case(v) == 0 && v.state == CheckState::Down
    });
    assert!(
        down.reason
            .starts_with("UDP_CHECK on service [10.0.9.21]:tcp:5353 failed after 1 retries."),
        "{}",
        down.reason
    );
    let _server = UdpEcho::start(&n.rs, &format!("{RS}:5353"), echo);
    run.wait_for("case 0 up", Duration::from_secs(3), |v| {
        case(v) == 0 && v.state.is_up()
    });
    dropped.remove().unwrap();
    run.stop();
}

#[test]
fn ping_check_raw_and_ping_sockets() {
    let Some(n) = net("chk-ping") else { return };
    let text = config(&[(
        80,
        "PING_CHECK {\n connect_timeout 0.5\n retry 1\n delay_before_retry 0.3\n}",
    )]);
    let config = load(&text);

    // A fresh namespace's ping_group_range admits nobody: a raw socket is used.
    let mut run = Run::start(&n.lb, &config);
    let up = run.wait_up(Duration::from_secs(3));
    assert_eq!(up.reason, "ICMP connection to [10.0.9.21]:tcp:80 success.");
    let status = run.checkers.as_ref().unwrap().status();
    let detail = &status[0].last_probe.as_ref().unwrap().detail;
    assert!(detail.contains("raw ICMP socket"), "{detail}");

    let drop =
        n.rs.nft_drop(Chain::Input, "icmp type echo-request")
            .unwrap();
    let down = run.wait_down(Duration::from_secs(4));
    assert!(
        down.reason.starts_with(
            "ICMP CHECK on service [10.0.9.21]:tcp:80 of [10.0.9.100]:tcp:80 failed after 1 retries."
        ),
        "{}",
        down.reason
    );
    drop.remove().unwrap();
    run.wait_up(Duration::from_secs(3));
    run.stop();

    // With the range opened, the unprivileged ping socket is used.
    n.lb.sh("sysctl -qw net.ipv4.ping_group_range='0 2147483647'")
        .unwrap();
    let mut run = Run::start(&n.lb, &config);
    run.wait_up(Duration::from_secs(3));
    let status = run.checkers.as_ref().unwrap().status();
    let detail = &status[0].last_probe.as_ref().unwrap().detail;
    assert!(detail.contains("(ping socket)"), "{detail}");
    run.stop();
}
