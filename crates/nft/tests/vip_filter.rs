//! The VRRP side's table on the real kernel: an address blocked for `no_accept` stops
//! answering (in and out), neighbour discovery still passes, unblocking restores it, and
//! the table is gone with the filter. Root only; skipped with the reason printed otherwise.

#![allow(clippy::unwrap_used)] // a test: a failed setup step is a failed test

use std::net::IpAddr;
use std::time::Duration;

use baton_lab::{HostSpec, Lab};
use baton_nft::VipFilter;

#[test]
fn blocked_addresses_are_dropped_and_unblocked_ones_answer() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = Lab::new("nftvip").unwrap();
    let master = lab
        .add_host(
            HostSpec::new("m")
                .addr("10.9.0.1/24")
                .addr("10.9.0.100/24")
                .addr("fd09::1/64")
                .addr("fd09::100/64"),
        )
        .unwrap();
    let client = lab
        .add_host(HostSpec::new("c").addr("10.9.0.2/24").addr("fd09::2/64"))
        .unwrap();
    let t = Duration::from_secs(1);
    // IPv6 addresses answer once duplicate address detection is done.
    for a in ["10.9.0.100", "fd09::100", "10.9.0.1"] {
        baton_lab::wait_until(
            format!("{a} to answer"),
            Duration::from_secs(5),
            Duration::ZERO,
            || {
                client
                    .ping(a, Duration::from_millis(300))
                    .map(|r| r.is_some())
            },
        )
        .unwrap();
    }
    let mut f = master.in_netns(VipFilter::new).unwrap().unwrap();
    let vips: Vec<IpAddr> = vec!["10.9.0.100".parse().unwrap(), "fd09::100".parse().unwrap()];
    f.block(&vips).unwrap();
    for a in ["10.9.0.100", "fd09::100"] {
        assert!(
            client.ping(a, t).unwrap().is_none(),
            "{a} answered while blocked"
        );
    }
    // The router's own address, and neighbour discovery of the blocked one, still work.
    assert!(client.ping("10.9.0.1", t).unwrap().is_some());
    let listed = master
        .cmd(["nft", "list", "table", "inet", "baton_vrrp"])
        .unwrap();
    assert!(listed.contains("10.9.0.100"), "{listed}");
    assert!(listed.contains("fd09::100"), "{listed}");
    // Blocked twice (two instances), it stays blocked until both let go.
    f.block(&vips[..1]).unwrap();
    f.unblock(&vips).unwrap();
    assert!(client.ping("10.9.0.100", t).unwrap().is_none());
    assert!(client.ping("fd09::100", t).unwrap().is_some());
    f.unblock(&vips[..1]).unwrap();
    assert!(client.ping("10.9.0.100", t).unwrap().is_some());
    assert_eq!(f.blocked().count(), 0);
    drop(f);
    let tables = master.cmd(["nft", "list", "tables"]).unwrap();
    assert!(!tables.contains("baton_vrrp"), "{tables}");
}
