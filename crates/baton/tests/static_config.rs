//! keepalived keywords that act outside the instances' states, on the real kernel:
//! `static_ipaddress` and `static_routes` put in place at start and taken away at exit, and
//! `promote_secondaries` set on the instance's interface. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::Signal;
use common::*;

const CONF: &str = "global_defs {\n    default_interface ens33\n}\n\nstatic_ipaddress {\n    10.77.0.1/24\n}\n\nstatic_routes {\n    10.78.0.0/24 via 10.77.0.254\n}\n\nvrrp_instance VI_1 {\n    state BACKUP\n    interface ens33\n    virtual_router_id 97\n    priority 100\n    promote_secondaries\n    virtual_ipaddress {\n        192.168.5.10\n    }\n}\n";

#[test]
fn static_addresses_and_routes_live_as_long_as_the_daemon() {
    let Some((_lab, lb1, _lb2)) = seed_lab("staticcfg") else {
        return;
    };
    let before = lb1
        .cmd(["cat", "/proc/sys/net/ipv4/conf/ens33/promote_secondaries"])
        .unwrap();
    assert_eq!(before.trim(), "0");
    let b = Baton::start(&lb1, CONF);
    wait_addr(&lb1, "10.77.0.1", true, Duration::from_secs(2));
    let routes = lb1.cmd(["ip", "route", "show"]).unwrap();
    assert!(routes.contains("10.78.0.0/24 via 10.77.0.254"), "{routes}");
    let after = lb1
        .cmd(["cat", "/proc/sys/net/ipv4/conf/ens33/promote_secondaries"])
        .unwrap();
    assert_eq!(after.trim(), "1");
    b.signal(Signal::SIGTERM);
    b.wait_exit(Duration::from_secs(5));
    assert!(!holds(&lb1, "10.77.0.1"));
    let routes = lb1.cmd(["ip", "route", "show"]).unwrap();
    assert!(!routes.contains("10.78.0.0/24"), "{routes}");
}
