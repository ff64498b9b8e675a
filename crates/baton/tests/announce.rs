//! Gratuitous ARP bursts on the real kernel: on becoming master, `garp_master_repeat` frames
//! spaced by `vrrp_garp_interval`, the same again `garp_master_delay` later, and
//! `garp_master_refresh_repeat` frames every `garp_master_refresh` (timing decided by the
//! protocol core, frames sent by the daemon). Checked on the wire. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use baton_lab::DEFAULT_SEGMENT;
use common::*;

const CONF: &str = "global_defs {
    vrrp_garp_interval 0.05
}

vrrp_instance VI_1 {
    state MASTER
    interface ens33
    virtual_router_id 55
    priority 200
    version 3
    advert_int 0.1
    garp_master_repeat 3
    garp_master_delay 1
    garp_master_refresh 2
    garp_master_refresh_repeat 2
    virtual_ipaddress {
        192.168.5.10
    }
}
";

#[test]
fn garp_bursts_follow_repeat_interval_delay_and_refresh() {
    let Some((lab, lb1, _lb2)) = seed_lab("garp") else {
        return;
    };
    let mac1 = lb1.interface("ens33").unwrap().mac;
    let cap = lab
        .capture_segment(DEFAULT_SEGMENT, "arp or ip proto 112")
        .unwrap();
    let b1 = Baton::start(&lb1, CONF);
    b1.wait_state("Master", Duration::from_secs(2));
    // Long enough for the first burst, the delayed one at 1 s and the refresh at 2 s.
    std::thread::sleep(Duration::from_millis(2500));
    let pcap = cap.stop().unwrap();

    let vip = [192u8, 168, 5, 10];
    let garps: Vec<SystemTime> = pcap
        .records
        .iter()
        .filter(|r| {
            r.ethernet().is_some_and(|(dst, src, ethertype, arp)| {
                src == mac1
                    && dst.0 == [0xff; 6]
                    && ethertype == 0x0806
                    // A request whose sender and target protocol addresses are both the VIP.
                    && arp.get(6..8) == Some(&[0, 1][..])
                    && arp.get(14..18) == Some(&vip[..])
                    && arp.get(24..28) == Some(&vip[..])
            })
        })
        .map(|r| r.ts)
        .collect();
    let first_advert = adverts(&pcap)
        .iter()
        .find(|a| a.src == ip(LB1))
        .expect("an advert from the master")
        .ts;

    // Bursts are separated by far more than the 50 ms spacing inside them.
    let mut bursts: Vec<Vec<SystemTime>> = Vec::new();
    for t in &garps {
        match bursts.last_mut() {
            Some(b) if between(*b.last().unwrap(), *t) < Duration::from_millis(300) => b.push(*t),
            _ => bursts.push(vec![*t]),
        }
    }
    let sizes: Vec<usize> = bursts.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 2], "GARP bursts {bursts:#?}");

    let spacing = Duration::from_millis(50);
    for b in &bursts {
        for pair in b.windows(2) {
            let gap = between(pair[0], pair[1]);
            // The capture's clock may see two frames a hair closer than they were sent.
            assert!(
                gap + Duration::from_millis(2) >= spacing && gap <= spacing + SLACK,
                "frames {gap:?} apart, vrrp_garp_interval {spacing:?}"
            );
        }
    }
    let start = bursts[0][0];
    let lead = between(first_advert, start);
    assert!(lead <= SLACK, "first GARP {lead:?} after the first advert");
    for (burst, want) in [(1, Duration::from_secs(1)), (2, Duration::from_secs(2))] {
        let at = between(start, bursts[burst][0]);
        assert!(
            at + SLACK >= want && at <= want + SLACK,
            "burst {burst} came {at:?} after the first, expected {want:?}"
        );
    }
    let st = b1.status().unwrap();
    assert_eq!(st["daemon"]["announcements"]["garp_sent"], 8, "{st}");
    assert_eq!(st["daemon"]["announcements"]["errors"], 0);
}
