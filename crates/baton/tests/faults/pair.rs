//! The pair most fault cases run on: the seed's two load balancers with VRRPv3 at 0.2 s
//! (so a takeover is due within 0.72 s and each case stays short), lb1 master at priority
//! 200, lb2 backup at 100, and a capture of the segment for the figures.

use std::time::{Duration, SystemTime};

use baton_lab::{Capture, Host, Lab};

use crate::common::*;
use crate::measure::{longest_two_masters, longest_without_master, masters_adverts};

pub const VRID: u8 = 51;
pub const INTERVAL: Duration = Duration::from_millis(200);

pub fn conf(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface ens33\n    virtual_router_id {VRID}\n    \
         priority {priority}\n    version 3\n    advert_int 0.2\n    virtual_ipaddress {{\n        \
         192.168.5.10/24\n    }}\n}}\n"
    )
}

/// The backup's Master_Down_Interval: the longest a segment may go without a master.
pub fn backup_mdi() -> Duration {
    mdi_v3(100, INTERVAL)
}

pub struct Pair {
    pub lab: Lab,
    pub lb1: Host,
    pub lb2: Host,
    pub b1: Baton,
    pub b2: Baton,
    pub cap: Capture,
}

/// What the segment looked like over a fault.
pub struct Figures {
    pub without_master: Duration,
    pub two_masters: Duration,
}

impl Pair {
    /// Both running and settled, or `None` when not root.
    pub fn start(name: &str) -> Option<Pair> {
        let (lab, lb1, lb2) = seed_lab(name)?;
        let cap = capture_vrrp(&lab);
        let b1 = Baton::start(&lb1, &conf("MASTER", 200));
        b1.wait_state("Master", backup_mdi() + Duration::from_secs(2));
        let b2 = Baton::start(&lb2, &conf("BACKUP", 100));
        b2.wait_state("Backup", Duration::from_secs(2));
        Some(Pair {
            lab,
            lb1,
            lb2,
            b1,
            b2,
            cap,
        })
    }

    /// Times either daemon became master so far.
    pub fn takeovers(b: &Baton) -> u64 {
        b.instance("VI_1")["counters"]["transitions"]["master"]
            .as_u64()
            .unwrap()
    }

    /// The segment from `from` until now.
    pub fn figures(&self, from: SystemTime) -> Figures {
        let to = SystemTime::now();
        // Let the capture catch up with the wire.
        std::thread::sleep(Duration::from_millis(300));
        let adverts = masters_adverts(&adverts(&self.cap.packets().unwrap()), VRID, from);
        Figures {
            without_master: longest_without_master(&adverts, from, to),
            two_masters: longest_two_masters(&adverts, INTERVAL * 3 / 2),
        }
    }

    /// The invariants once a fault is over: exactly one master, lb1 (it preempts), holding
    /// the VIP; both daemons answer status.
    pub fn one_master_again(&self) {
        self.b1
            .wait_state("Master", backup_mdi() + Duration::from_secs(2));
        self.b2.wait_state("Backup", Duration::from_secs(2));
        wait_addr(&self.lb1, VIP, true, Duration::from_secs(1));
        wait_addr(&self.lb2, VIP, false, Duration::from_secs(1));
    }
}
