//! A gratuitous ARP and an unsolicited NA sent from one namespace are captured by tcpdump in
//! the other and carry exactly the bytes of baton-wire's frames.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton::south::garp::{Announcer, ipv6_forwarding};
use baton_wire::{MacAddr, arp, ndisc};

use crate::netns::{Netns, in_thread, root_or_skip, veth_pair};

/// tcpdump in `ns` on `dev`, writing the first frame matching `filter` to `file`; returns
/// once tcpdump is listening.
fn capture(ns: &Netns, dev: &str, filter: &str, file: &std::path::Path) -> Child {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "tcpdump",
            "-i",
            dev,
            "-U",
            "--immediate-mode",
            "-c",
            "1",
            "-w",
        ])
        .arg(file)
        .arg(filter)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("listening on") => break,
            Some(Ok(_)) => continue,
            other => panic!("tcpdump did not start: {other:?}"),
        }
    }
    child
}

/// Wait for tcpdump to exit with its one frame and return that frame.
fn captured_frame(mut child: Child, file: &std::path::Path) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "tcpdump failed: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nothing captured within 5 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pcap = std::fs::read(file).unwrap();
    // 24-byte file header, 16-byte record header whose bytes 8..12 are the captured length.
    assert!(pcap.len() > 40, "empty capture");
    let caplen = u32::from_le_bytes(pcap[32..36].try_into().unwrap()) as usize;
    pcap[40..40 + caplen].to_vec()
}

#[test]
fn gratuitous_arp_is_captured_in_the_peer_namespace_byte_for_byte() {
    if !root_or_skip("gratuitous_arp_is_captured_in_the_peer_namespace_byte_for_byte") {
        return;
    }
    let (a, b) = (Netns::new("garpa"), Netns::new("garpb"));
    veth_pair(&a, &b);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garp.pcap");
    let mac = a.mac("va");
    let ifindex = a.ip_json(&["link", "show", "dev", "va"])[0]["ifindex"]
        .as_u64()
        .unwrap() as u32;
    let vip = Ipv4Addr::new(192, 168, 5, 10);
    let tcpdump = capture(&b, "vb", "arp", &file);
    in_thread(|| {
        a.enter();
        Announcer::open("va", ifindex, mac)
            .unwrap()
            .send_garp(vip)
            .unwrap();
    });
    let frame = captured_frame(tcpdump, &file);
    let mut expected = [0u8; arp::FRAME_LEN];
    let n = arp::FrameRepr::gratuitous(MacAddr(mac), vip)
        .emit(&mut expected)
        .unwrap();
    assert_eq!(&frame[..n], &expected[..n]);
    let parsed = arp::FrameRepr::parse(&frame).unwrap();
    assert_eq!(parsed.eth_dst, MacAddr::BROADCAST);
    assert_eq!(parsed.eth_src, MacAddr(mac));
    assert!(parsed.arp.is_gratuitous());
}

#[test]
fn unsolicited_na_is_captured_in_the_peer_namespace_byte_for_byte() {
    if !root_or_skip("unsolicited_na_is_captured_in_the_peer_namespace_byte_for_byte") {
        return;
    }
    let (a, b) = (Netns::new("naa"), Netns::new("nab"));
    veth_pair(&a, &b);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("na.pcap");
    let mac = a.mac("va");
    let ifindex = a.ip_json(&["link", "show", "dev", "va"])[0]["ifindex"]
        .as_u64()
        .unwrap() as u32;
    let vip: Ipv6Addr = "fd00::10".parse().unwrap();
    // Only neighbour advertisements: the link also carries MLD reports and solicitations.
    let tcpdump = capture(&b, "vb", "icmp6 and ip6[40] == 136", &file);
    let router = in_thread(|| {
        a.enter();
        let router = ipv6_forwarding("va");
        Announcer::open("va", ifindex, mac)
            .unwrap()
            .send_na(vip, router)
            .unwrap();
        router
    });
    let frame = captured_frame(tcpdump, &file);
    let mut expected = [0u8; ndisc::FRAME_LEN];
    let n = ndisc::FrameRepr::unsolicited(MacAddr(mac), vip, router)
        .emit(&mut expected)
        .unwrap();
    assert_eq!(frame.len(), n);
    assert_eq!(&frame[..], &expected[..n]);
    let parsed = ndisc::FrameRepr::parse(&frame).unwrap();
    assert_eq!(parsed.eth_src, MacAddr(mac));
    assert_eq!(parsed.ip_src, vip);
}
