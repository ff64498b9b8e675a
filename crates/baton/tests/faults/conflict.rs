//! A third host claims the VIP (an address conflict on the segment). keepalived does not
//! defend the address and neither does baton; what must hold is that the pair neither flaps
//! nor splits, and the master keeps its VIP and its adverts.

use std::time::{Duration, SystemTime};

use crate::common::*;
use crate::pair::{INTERVAL, Pair};

#[test]
fn a_third_host_claiming_the_vip_does_not_make_the_pair_flap() {
    let Some(p) = Pair::start("arpconflict") else {
        return;
    };
    let mallory = p
        .lab
        .add_host(baton_lab::HostSpec::new("mallory").addr("192.168.5.66/24"))
        .unwrap();
    let before = (Pair::takeovers(&p.b1), Pair::takeovers(&p.b2));
    let from = SystemTime::now();
    mallory.sh("ip addr add 192.168.5.10/24 dev eth0").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let answering = p
        .lb2
        .arping("ens33", VIP, Duration::from_millis(300))
        .unwrap();
    let f = p.figures(from);
    figure!(
        "fault address-conflict: {} host(s) answer ARP for the VIP; longest without a master \
         {:?}, two masters {:?}",
        answering.len(),
        f.without_master,
        f.two_masters
    );
    assert_eq!(
        answering.len(),
        2,
        "the conflict was not real: {answering:?}"
    );
    assert_eq!((Pair::takeovers(&p.b1), Pair::takeovers(&p.b2)), before);
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    assert_eq!(f.two_masters, Duration::ZERO);
    mallory.sh("ip addr del 192.168.5.10/24 dev eth0").unwrap();
    p.one_master_again();
}
