//! Two masters: the master that keeps hearing a lower-priority master names it as deaf to
//! us, re-announces its addresses each time and runs notify_master_rx_lower_pri; and says
//! when the other one hears us again.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_vrrp::{Action, State};
use common::*;

fn master_at(priority: u8) -> H {
    let mut i = instance("VI_1", 51, priority);
    std::sync::Arc::make_mut(&mut i.notify).master_rx_lower_pri =
        Some(command("/usr/local/bin/lower.sh").into());
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    assert_eq!(h.state("VI_1"), State::Master);
    h.clear();
    h
}

#[test]
fn a_deaf_lower_master_is_named_then_its_recovery() {
    let mut h = master_at(200);
    let split = |h: &H| h.node.instance_by_name("VI_1").unwrap().split_brain();
    // Its first two adverts may have crossed our answers: not yet a verdict.
    for _ in 0..2 {
        h.rx(&Rx::v2(100, PEER));
        h.run_for(Duration::from_secs(1));
    }
    assert!(split(&h).is_none());
    assert!(!h.logs().iter().any(|l| l.contains("two masters")));
    h.rx(&Rx::v2(100, PEER));
    let logs = h.logs();
    assert!(
        logs.contains(&"(VI_1) two masters: 192.168.5.11 sends adverts but has not heard ours for 2 s: its firewall or its multicast membership drops VRRP (baton check --explain)".to_string()),
        "{logs:#?}"
    );
    let s = split(&h).unwrap();
    assert_eq!((s.peer, s.peer_priority, s.adverts), (PEER, 100, 3));
    assert_eq!(s.not_heard_for_ms, 2000);
    // Every one of its adverts got our advert, a GARP burst and the notify.
    let answers = h.sent().len();
    let bursts = h
        .out
        .iter()
        .filter(|a| matches!(a, Action::Announce { .. }))
        .count();
    let notifies = h
        .out
        .iter()
        .filter(|a| matches!(a, Action::RunNotify { command, .. } if command.text == "/usr/local/bin/lower.sh"))
        .count();
    assert!(answers >= 3, "{answers}");
    assert!(bursts >= 3, "{bursts}");
    assert_eq!(notifies, 3);
    // Silence for more than three of our intervals: it hears us now.
    h.clear();
    h.run_for(Duration::from_secs(5));
    assert!(split(&h).is_none());
    assert!(
        h.logs().iter().any(|l| l.contains(
            "192.168.5.11 no longer advertises after 2 s as a second master: it hears us again"
        )),
        "{:#?}",
        h.logs()
    );
}

#[test]
fn unicast_names_the_peer_list_too() {
    let mut i = instance("VI_1", 51, 200);
    i.unicast_peers = vec![baton_conf::UnicastPeer {
        addr: PEER,
        min_ttl: None,
        max_ttl: None,
    }];
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    assert_eq!(h.state("VI_1"), State::Master);
    let mut rx = Rx::v2(100, PEER);
    rx.dst = ME;
    for _ in 0..3 {
        h.rx(&rx);
        h.run_for(Duration::from_millis(500));
    }
    let s = h
        .node
        .instance_by_name("VI_1")
        .unwrap()
        .split_brain()
        .unwrap();
    assert!(
        s.explanation.contains("we are not among its unicast_peer"),
        "{}",
        s.explanation
    );
}
