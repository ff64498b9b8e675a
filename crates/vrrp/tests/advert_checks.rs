//! Advert validation (RFC 5798 §7.1, RFC 3768 §7.1, keepalived's vrrp_check_packet): one
//! test per check, each quoting it, with the drop counters and the mismatch reports.
#![allow(clippy::unwrap_used)]

mod common;

use baton_vrrp::{Destination, State};
use baton_wire::Version;
use common::*;

/// RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same as the
/// locally configured"; in v3 a different interval is adopted, not dropped.
#[test]
fn v2_interval_mismatch_is_dropped_and_named_once() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    let mut rx = Rx::v2(200, PEER);
    rx.interval = 2;
    h.rx(&rx);
    h.rx(&rx);
    let inst = h.node.instance_by_name("VI_1").unwrap();
    assert_eq!(inst.counters().dropped.interval, 2);
    assert_eq!(inst.counters().adverts_received, 0);
    assert_eq!(inst.mismatches().len(), 1);
    assert_eq!(
        inst.mismatches()[0].field,
        baton_vrrp::MismatchField::AdvertInterval
    );
    let named: Vec<_> = h
        .logs()
        .into_iter()
        .filter(|l| l.contains("advert_int differs"))
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(named[0].contains("192.168.5.11") && named[0].contains("ours 1s, theirs 2s"));
    // The peer's adverts were dropped, so the down timer ran on.
    h.run_to(at(3.7));
    assert_eq!(h.state("VI_1"), State::Master);
}

/// keepalived `unicast_peer`: adverts go to each peer with `unicast_ttl`; multicast
/// adverts are refused ("Expected unicast packet but received multicast packet").
#[test]
fn unicast_sends_to_each_peer_and_refuses_multicast() {
    let mut i = instance("VI_1", 51, 100);
    i.unicast_peers = vec![
        baton_conf::UnicastPeer {
            addr: PEER,
            min_ttl: None,
            max_ttl: None,
        },
        baton_conf::UnicastPeer {
            addr: HIGH_PEER,
            min_ttl: None,
            max_ttl: None,
        },
    ];
    i.unicast_ttl = Some(64);
    let mut h = H::start(&config(vec![i]));
    h.rx(&Rx::v2(200, PEER)); // to the multicast group
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .counters()
            .dropped
            .destination,
        1
    );
    h.run_to(at(4.0));
    let sent = h.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].dst, Destination::Unicast(PEER));
    assert_eq!(sent[1].dst, Destination::Unicast(HIGH_PEER));
    assert!(sent.iter().all(|s| s.ttl == 64 && s.src == ME));
}

/// keepalived `check_unicast_src`: "drop unicast adverts whose source isn't a configured
/// peer", and a peer's min_ttl/max_ttl bound the TTL.
#[test]
fn check_unicast_src_drops_strangers_and_bad_ttls() {
    let mut i = instance("VI_1", 51, 100);
    i.unicast_peers = vec![baton_conf::UnicastPeer {
        addr: PEER,
        min_ttl: Some(250),
        max_ttl: None,
    }];
    i.check_unicast_src = true;
    let mut h = H::start(&config(vec![i]));
    let mut rx = Rx::v2(200, HIGH_PEER);
    rx.dst = ME;
    h.rx(&rx);
    rx.src = PEER;
    rx.ttl = 64;
    h.rx(&rx);
    rx.ttl = 254; // unicast TTL needs not be 255
    h.rx(&rx);
    let c = h.node.instance_by_name("VI_1").unwrap().counters().clone();
    assert_eq!(
        (c.dropped.not_a_peer, c.dropped.ttl, c.adverts_received),
        (1, 1, 1)
    );
}

/// RFC 5798 §7.1: "MUST verify that the IPvX TTL/Hop Limit is 255" for multicast.
#[test]
fn multicast_advert_with_ttl_below_255_is_dropped() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    let mut rx = Rx::v2(200, PEER);
    rx.ttl = 254;
    h.rx(&rx);
    let c = h.node.instance_by_name("VI_1").unwrap().counters().clone();
    assert_eq!((c.dropped.ttl, c.adverts_received), (1, 0));
}

/// keepalived: "VIP count/addresses ≠ configured ('ip address associated with VRID N not
/// present in MASTER advert', unless skip_check_adv_addr)" — a classic split-brain cause,
/// named once per peer.
#[test]
fn vip_list_mismatch_is_dropped_and_named() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    let mut rx = Rx::v2(200, PEER);
    rx.vips = vec!["192.168.5.20".parse().unwrap()];
    h.rx(&rx);
    rx.vips = vec![VIP, "192.168.5.20".parse().unwrap()];
    h.rx(&rx);
    let inst = h.node.instance_by_name("VI_1").unwrap();
    assert_eq!(inst.counters().dropped.address_list, 1);
    assert_eq!(inst.counters().dropped.address_count, 1);
    let logs: Vec<_> = h
        .logs()
        .into_iter()
        .filter(|l| l.contains("virtual_ipaddress differs"))
        .collect();
    assert_eq!(
        logs.len(),
        2,
        "the difference changed, so it is named again: {logs:?}"
    );
    assert!(logs[0].contains("ours [192.168.5.10], theirs [192.168.5.20]"));
}

/// keepalived `skip_check_adv_addr`: "skip VIP-list check if advert from same master as
/// last".
#[test]
fn skip_check_adv_addr_trusts_the_known_master() {
    let mut i = instance("VI_1", 51, 100);
    i.skip_check_adv_addr = true;
    let mut h = H::start(&config(vec![i]));
    h.rx(&Rx::v2(200, PEER));
    let mut odd = Rx::v2(200, PEER);
    odd.vips = vec!["192.168.5.20".parse().unwrap()];
    h.rx(&odd);
    let mut stranger = odd.clone();
    stranger.src = HIGH_PEER;
    h.rx(&stranger);
    let c = h.node.instance_by_name("VI_1").unwrap().counters().clone();
    assert_eq!((c.adverts_received, c.dropped.address_list), (2, 1));
}

/// RFC 2338 §7.1 / keepalived PASS: "only the first 8 bytes" compared; a different type
/// or password drops the advert and names the field.
#[test]
fn authentication_mismatch_is_dropped() {
    let mut i = instance("VI_1", 51, 100);
    i.auth = Some(Box::new(baton_conf::Authentication::Pass(
        "1111".to_string(),
    )));
    let mut h = H::start(&config(vec![i]));
    let mut rx = Rx::v2(200, PEER);
    h.rx(&rx); // no auth
    rx.auth = baton_wire::Auth::pass(b"2222");
    h.rx(&rx);
    rx.auth = baton_wire::Auth::pass(b"1111");
    h.rx(&rx);
    let inst = h.node.instance_by_name("VI_1").unwrap();
    let c = inst.counters();
    assert_eq!(
        (
            c.dropped.auth_type,
            c.dropped.auth_failure,
            c.adverts_received
        ),
        (1, 1, 1)
    );
    assert!(
        inst.mismatches().is_empty(),
        "a good advert clears the peer's mismatches"
    );
    assert!(
        h.logs()
            .iter()
            .any(|l| l.contains("authentication differs (ours PASS, theirs none)"))
    );
}

/// RFC 5798 §7.1: "MUST verify the VRRP version".
#[test]
fn version_mismatch_is_dropped() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    h.rx(&Rx::v3(200, PEER, 100));
    let inst = h.node.instance_by_name("VI_1").unwrap();
    assert_eq!(inst.counters().dropped.version, 1);
    assert_eq!(
        inst.mismatches()[0].field,
        baton_vrrp::MismatchField::Version
    );
}

/// DESIGN: receive accepts either v3/IPv4 checksum form "while counting which one it saw";
/// a difference is named because a peer that only accepts its own form drops ours.
#[test]
fn checksum_form_difference_is_accepted_counted_and_named() {
    let mut i = instance("VI_1", 51, 100);
    i.version = Version::V3;
    let mut h = H::start(&config(vec![i]));
    let mut rx = Rx::v3(200, PEER, 100);
    rx.checksum = baton_wire::ChecksumForm::Plain;
    h.rx(&rx);
    h.rx(&rx);
    let inst = h.node.instance_by_name("VI_1").unwrap();
    assert_eq!(inst.counters().adverts_received, 2);
    assert_eq!(inst.counters().checksum_plain, 2);
    assert_eq!(inst.mismatches().len(), 1);
    assert_eq!(
        h.logs()
            .iter()
            .filter(|l| l.contains("v3_checksum_as_v2"))
            .count(),
        1
    );
}

/// Adverts for a VRID nobody runs are counted, not dispatched.
#[test]
fn unknown_vrids_are_counted() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    let mut rx = Rx::v2(200, PEER);
    rx.vrid = 52;
    h.rx(&rx);
    rx.vrid = 51;
    rx.interface = "eth1";
    h.rx(&rx);
    assert_eq!(h.node.unknown_vrid_adverts(), 2);
}
