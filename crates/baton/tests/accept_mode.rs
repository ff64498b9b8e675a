//! `no_accept` and `vrrp_strict` on the real kernel: while a non-owner instance without
//! accept mode is master, traffic to its VIP is dropped by baton's nftables table (the
//! backup's pings go unanswered), an instance with accept mode beside it answers, the table
//! follows the VIP to the new master, and it is gone when baton stops. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::Signal;
use common::*;

/// VI_1 `no_accept` (VIP .10), VI_2 with accept mode (VIP .20), VI_3 `strict_mode` (v3,
/// VIP .30, no_accept implied below priority 255).
fn conf(state: &str, priority: u8) -> String {
    let inst = |name: &str, vrid: u8, vip: &str, extra: &str| {
        format!(
            "vrrp_instance {name} {{\n    state {state}\n    interface ens33\n    virtual_router_id {vrid}\n    priority {priority}\n{extra}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    [
        inst("VI_1", 81, "192.168.5.10", "    no_accept\n"),
        inst("VI_2", 82, "192.168.5.20", ""),
        inst(
            "VI_3",
            83,
            "192.168.5.30",
            "    strict_mode on\n    version 3\n",
        ),
    ]
    .concat()
}

fn answers(host: &baton_lab::Host, addr: &str) -> bool {
    host.ping(addr, Duration::from_millis(500))
        .unwrap()
        .is_some()
}

fn table(host: &baton_lab::Host) -> String {
    host.cmd(["nft", "list", "tables"]).unwrap()
}

#[test]
fn a_master_without_accept_mode_drops_traffic_to_its_vips() {
    let Some((_lab, lb1, lb2)) = seed_lab("noaccept") else {
        return;
    };
    let b1 = Baton::start(&lb1, &conf("MASTER", 200));
    let b2 = Baton::start(&lb2, &conf("BACKUP", 100));
    for vi in ["VI_1", "VI_2"] {
        b1.wait_state_of(
            vi,
            "Master",
            mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
        );
    }
    b1.wait_state_of("VI_3", "Master", Duration::from_secs(5));
    b2.wait_state_of("VI_1", "Backup", Duration::from_secs(2));
    for vip in ["192.168.5.10", "192.168.5.20", "192.168.5.30"] {
        wait_addr(&lb1, vip, true, Duration::from_secs(2));
    }
    // The backup's traffic to the VIPs: accept mode answers, the others are dropped.
    baton_lab::wait_until("VI_2's VIP to answer", Duration::from_secs(3), POLL, || {
        answers(&lb2, "192.168.5.20")
    })
    .unwrap();
    assert!(!answers(&lb2, "192.168.5.10"), "no_accept VIP answered");
    assert!(!answers(&lb2, "192.168.5.30"), "strict mode VIP answered");
    assert!(
        answers(&lb2, LB1),
        "the master's own address must still answer"
    );
    let listed = lb1
        .cmd(["nft", "list", "table", "inet", "baton_vrrp"])
        .unwrap();
    assert!(
        listed.contains("192.168.5.10") && listed.contains("192.168.5.30"),
        "{listed}"
    );
    assert!(!listed.contains("192.168.5.20"), "{listed}");
    // The backup blocks nothing: it holds nothing.
    assert!(!table(&lb2).contains("baton_vrrp"), "{}", table(&lb2));

    // The master stops (priority 0): the filter follows the VIPs to the new master, and
    // the old master's table goes with it.
    b1.signal(Signal::SIGTERM);
    b1.wait_exit(Duration::from_secs(5));
    b2.wait_state_of("VI_1", "Master", Duration::from_secs(3));
    wait_addr(&lb2, "192.168.5.10", true, Duration::from_secs(2));
    assert!(!table(&lb1).contains("baton_vrrp"), "{}", table(&lb1));
    baton_lab::wait_until(
        "VI_2's VIP to answer on lb2",
        Duration::from_secs(3),
        POLL,
        || answers(&lb1, "192.168.5.20"),
    )
    .unwrap();
    assert!(!answers(&lb1, "192.168.5.10"));
}
