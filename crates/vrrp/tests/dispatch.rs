//! Which instance a received advert belongs to when several share a VRID on one interface.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use baton_conf::VirtualAddress;
use baton_vrrp::State;
use common::*;

/// keepalived keys its receive sockets on the multicast group as well as the VRID, so
/// instances with the same VRID on one interface but different `mcast_dst_ip` are separate
/// routers: an advert sent to a group reaches the instance of that group only.
#[test]
fn adverts_go_to_the_instance_of_their_multicast_group() {
    let other_group = IpAddr::V4(Ipv4Addr::new(239, 255, 0, 1));
    let other_vip = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 20));
    let first = instance("VI_1", 51, 100);
    let mut second = instance("VI_2", 51, 100);
    second.mcast_group = other_group;
    second.vips = vec![VirtualAddress::new(other_vip)];
    let mut h = H::start(&config(vec![first, second]));
    let mut to_second = Rx::v2(200, PEER);
    to_second.dst = other_group;
    to_second.vips = vec![other_vip];
    let to_first = Rx::v2(200, PEER);
    // Both hear their master every second: neither takes over, nothing is dropped.
    for s in 0..5 {
        h.run_to(at(f64::from(s)));
        h.rx(&to_first);
        h.rx(&to_second);
    }
    h.run_to(at(5.5));
    for name in ["VI_1", "VI_2"] {
        let inst = h.node.instance_by_name(name).unwrap();
        assert_eq!(h.state(name), State::Backup, "{name}");
        assert_eq!(inst.counters().adverts_received, 5, "{name}");
        assert_eq!(inst.counters().dropped.total(), 0, "{name}");
    }
}

/// A caller that fell behind (a paused VM, a starved CPU) hands over the adverts that queued
/// up meanwhile, then the Deadline it is late for. Those adverts come first: a down timer
/// that expired during the stall must not fire on the first of them while the others, from
/// a live master, are still unread.
#[test]
fn adverts_read_after_a_stall_come_before_the_timers_that_expired_during_it() {
    let vip2 = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 20));
    let first = instance("VI_1", 51, 100);
    let mut second = instance("VI_2", 52, 100);
    second.vips = vec![VirtualAddress::new(vip2)];
    let mut h = H::start(&config(vec![first, second]));
    let to_first = Rx::v2(200, PEER);
    let mut to_second = Rx::v2(200, PEER);
    to_second.vrid = 52;
    to_second.vips = vec![vip2];
    h.rx(&to_first);
    h.rx(&to_second);
    h.run_to(at(1.0));
    h.rx(&to_first);
    h.rx(&to_second);
    // Stalled well past both Master_Down_Intervals (3.6 s from t = 1 s), without a
    // Deadline input; then the queue is read, then the Deadline.
    h.now = at(6.0);
    h.rx(&to_first);
    h.rx(&to_second);
    h.input(baton_vrrp::Input::Deadline);
    for name in ["VI_1", "VI_2"] {
        assert_eq!(h.state(name), State::Backup, "{name}");
        assert_eq!(
            h.entered(name, State::Master),
            None,
            "{name} took over after the stall"
        );
    }
    // Without the master the timers still run out as before.
    h.run_to(at(10.0));
    for name in ["VI_1", "VI_2"] {
        assert_eq!(h.state(name), State::Master, "{name}");
    }
}
