//! Global keywords the core acts on: `fifo_write_vrrp_states_on_reload` writes every state to
//! the notify FIFOs again on reload; `vrrp_delay_after_boot` holds VRRP back until that long
//! after boot (or `vrrp_startup_delay`, whichever is later).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_vrrp::{Action, Input, State};
use common::*;

#[test]
fn states_are_written_to_the_fifo_again_on_reload_when_asked() {
    for asked in [false, true] {
        let mut c = config(vec![instance("VI_1", 51, 200)]);
        c.global.fifo_write_states_on_reload = asked;
        let mut h = H::start(&c);
        h.run_to(at(4.0));
        assert_eq!(h.state("VI_1"), State::Master);
        h.clear();
        h.input(Input::Reload(&c));
        let lines: Vec<String> = h
            .out
            .iter()
            .filter_map(|a| match a {
                Action::WriteFifo(l) => Some(l.to_string()),
                _ => None,
            })
            .collect();
        if asked {
            assert_eq!(lines, vec!["INSTANCE \"VI_1\" MASTER 200".to_string()]);
        } else {
            assert!(lines.is_empty(), "{lines:?}");
        }
    }
}

#[test]
fn delay_after_boot_holds_vrrp_until_that_long_after_boot() {
    let mut c = config(vec![instance("VI_1", 51, 200)]);
    c.global.delay_after_boot = Duration::from_secs(30);
    let env = baton_vrrp::Environment::new().with_interface("eth0", true, &[ME]);
    // Booted 20 s ago: 10 s still to wait, then the usual Master_Down_Interval.
    let mut node = baton_vrrp::Node::new(&c, env);
    node.booted_ago(Duration::from_secs(20));
    let mut h = H::from_node(node);
    h.run_to(at(12.0));
    assert_eq!(
        h.state("VI_1"),
        State::Backup,
        "master before the delay ran out"
    );
    h.run_to(at(14.5));
    assert_eq!(h.state("VI_1"), State::Master);
    // Booted long ago: no delay at all.
    let env = baton_vrrp::Environment::new().with_interface("eth0", true, &[ME]);
    let mut node = baton_vrrp::Node::new(&c, env);
    node.booted_ago(Duration::from_secs(3600));
    let mut h = H::from_node(node);
    h.run_to(at(4.0));
    assert_eq!(h.state("VI_1"), State::Master);
}
