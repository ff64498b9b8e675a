//! The node's timer queue: what it says is next is what is really next. A backup's down
//! timer moves later with every advert it hears; the queue must not keep waking the daemon
//! at the times those adverts already pushed back.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use baton_conf::VirtualAddress;
use baton_vrrp::{Input, State};
use baton_wire::Version;
use common::*;

const INSTANCES: u8 = 50;

#[test]
fn a_backup_hearing_its_masters_reports_only_real_deadlines() {
    let instances = (1..=INSTANCES)
        .map(|vrid| {
            let mut i = instance(&format!("VI_{vrid}"), vrid, 100);
            i.version = Version::V3;
            i.advert_int = Duration::from_millis(100);
            i.vips = vec![VirtualAddress::new(IpAddr::V4(Ipv4Addr::new(
                10, 0, 0, vrid,
            )))];
            i
        })
        .collect();
    let mut h = H::start(&config(instances));
    let real = |h: &H| {
        h.node
            .instances()
            .iter()
            .filter_map(|i| i.next_deadline())
            .min()
    };
    let mut wakes = 0;
    // Thirty intervals of adverts from a master, each instance's a little after the last.
    for round in 0..30u32 {
        for vrid in 1..=INSTANCES {
            let t = at(0.1 * f64::from(round)) + Duration::from_micros(u64::from(vrid) * 500);
            while h.node.next_deadline().is_some_and(|d| d <= t) {
                h.now = h.node.next_deadline().unwrap().max(h.now);
                h.input(Input::Deadline);
                wakes += 1;
            }
            h.now = t;
            let mut rx = Rx::v3(200, PEER, 10);
            rx.vrid = vrid;
            rx.vips = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, vrid))];
            h.rx(&rx);
            assert_eq!(
                h.node.next_deadline(),
                real(&h),
                "round {round}, VRID {vrid}"
            );
        }
    }
    for vrid in 1..=INSTANCES {
        assert_eq!(h.state(&format!("VI_{vrid}")), State::Backup);
    }
    // Only the start-up timers (before the first adverts) may have rung; none after.
    assert!(wakes <= usize::from(INSTANCES), "{wakes} wake-ups");
}
