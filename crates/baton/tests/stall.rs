//! A backup whose process was stopped (a paused VM, a starved CPU) for longer than its
//! Master_Down_Interval while its master kept advertising must read the adverts waiting in
//! its socket before it acts on its expired down timer: the master is alive, and keepalived
//! does not take over there either.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::Signal;
use common::*;

const INSTANCES: u8 = 10;

/// Ten instances at VRRPv3 0.1 s (Master_Down_Interval 0.36 s at priority 100).
fn conf(state: &str, priority: u8) -> String {
    (1..=INSTANCES)
        .map(|i| {
            format!(
                "vrrp_instance VI_{i} {{\n    state {state}\n    interface ens33\n    \
                 virtual_router_id {i}\n    priority {priority}\n    version 3\n    \
                 advert_int 0.1\n    virtual_ipaddress {{\n        10.9.0.{i}/32\n    }}\n}}\n"
            )
        })
        .collect()
}

fn masters_entered(b: &Baton) -> u64 {
    b.status().unwrap()["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["counters"]["transitions"]["master"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_stalled_backup_reads_the_waiting_adverts_before_its_down_timer() {
    let Some((_lab, lb1, lb2)) = seed_lab("stall") else {
        return;
    };
    let b1 = Baton::start(&lb1, &conf("MASTER", 200));
    for i in 1..=INSTANCES {
        b1.wait_state_of(&format!("VI_{i}"), "Master", Duration::from_secs(5));
    }
    let b2 = Baton::start(&lb2, &conf("BACKUP", 100));
    for i in 1..=INSTANCES {
        b2.wait_state_of(&format!("VI_{i}"), "Backup", Duration::from_secs(5));
    }
    let before = masters_entered(&b2);
    for _ in 0..3 {
        // Stopped for about three Master_Down_Intervals; the master's adverts queue up.
        b2.signal(Signal::SIGSTOP);
        std::thread::sleep(Duration::from_secs(1));
        b2.signal(Signal::SIGCONT);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        masters_entered(&b2),
        before,
        "the stalled backup took over from a live master:\n{}",
        b2.logs()
    );
    for i in 1..=INSTANCES {
        assert_eq!(b2.state_of(&format!("VI_{i}")), "Backup");
        assert!(!holds(&lb2, &format!("10.9.0.{i}")));
    }
}
