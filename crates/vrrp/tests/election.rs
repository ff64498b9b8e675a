//! The state machine's election rules, one test per keepalived / RFC rule, each quoting what
//! it checks.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_vrrp::{Action, State};
use baton_wire::Version;
use common::*;

/// keepalived-semantics §3: "all instances start as BACKUP with a full Master_Down_Interval
/// ... Example: v2, advert_int 1, prio 100 → 3 + 156/256 ≈ 3.61 s."
#[test]
fn startup_waits_a_full_master_down_interval_in_backup() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    assert_eq!(h.state("VI_1"), State::Backup);
    assert!(
        h.logs()
            .contains(&"(VI_1) Entering BACKUP STATE (init)".to_string())
    );
    h.run_to(at(3.609));
    assert_eq!(h.state("VI_1"), State::Backup);
    h.run_to(at(3.61));
    assert_eq!(h.state("VI_1"), State::Master);
    assert_eq!(h.entered("VI_1", State::Master), Some(at(3.609375)));
    assert!(
        h.logs()
            .contains(&"(VI_1) Entering MASTER STATE".to_string())
    );
}

/// keepalived: "MASTER with prio<255 still waits a full Master_Down_Interval; prio 255 +
/// MASTER → immediate."
#[test]
fn owner_with_state_master_is_master_at_once_and_others_wait() {
    let mut owner = instance("VI_1", 51, 255);
    owner.state = baton_conf::InitialState::Master;
    let h = H::start(&config(vec![owner]));
    assert_eq!(h.state("VI_1"), State::Master);
    assert_eq!(h.entered("VI_1", State::Master), Some(at(0.0)));

    let mut not_owner = instance("VI_1", 51, 200);
    not_owner.state = baton_conf::InitialState::Master;
    let mut h = H::start(&config(vec![not_owner]));
    assert_eq!(h.state("VI_1"), State::Backup);
    h.run_to(at(3.3));
    assert_eq!(
        h.entered("VI_1", State::Master),
        Some(at(3.0) + Duration::from_nanos(56 * 3_906_250))
    );
}

/// keepalived §3: "Startup removes stale VIPs" — "(VI_1) removing VIPs." before anything.
#[test]
fn startup_removes_stale_addresses_first() {
    let h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    let first = h
        .out
        .iter()
        .position(|a| matches!(a, Action::RemoveAddress { .. }));
    let backup = h.out.iter().position(|a| {
        matches!(
            a,
            Action::StateChanged {
                to: State::Backup,
                ..
            }
        )
    });
    assert!(first.unwrap() < backup.unwrap());
}

/// RFC 5798 §6.4.2: a backup sets "Master_Adver_Interval to Adver Interval contained in the
/// ADVERTISEMENT" and recomputes Master_Down_Interval (v3 only).
#[test]
fn v3_backup_adopts_the_masters_interval() {
    let mut i = instance("VI_1", 51, 100);
    i.version = Version::V3;
    i.advert_int = secs(1.0);
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(0.5));
    h.rx(&Rx::v3(200, PEER, 20)); // 200 ms
    let inst = h.node.instance_by_name("VI_1").unwrap();
    assert_eq!(inst.master_adver_interval(), secs(0.2));
    // 3 × 0.2 s + (256-100) × 0.2 s / 256
    assert_eq!(
        inst.master_down_interval(),
        secs(0.6) + Duration::from_nanos(156 * 200_000_000 / 256)
    );
    h.run_to(at(0.5) + inst.master_down_interval() - Duration::from_nanos(1));
    assert_eq!(h.state("VI_1"), State::Backup);
    h.run_for(Duration::from_nanos(1));
    assert_eq!(h.state("VI_1"), State::Master);
}

/// RFC 5798 §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then: Set the
/// Master_Down_Timer to Skew_Time" (keepalived timing with fast handover off).
#[test]
fn backup_takes_over_skew_time_after_priority_zero() {
    let mut i = instance("VI_1", 51, 100);
    i.fast_handover = false;
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(1.0));
    h.rx(&Rx::v2(200, PEER));
    h.run_to(at(2.0));
    h.rx(&Rx::v2(0, PEER));
    h.run_to(at(4.0));
    assert_eq!(
        h.entered("VI_1", State::Master),
        Some(at(2.0) + Duration::from_nanos(156 * 3_906_250))
    );
    let inst = h.node.instance_by_name("VI_1").unwrap();
    assert_eq!(inst.counters().priority_zero_received, 1);
}

/// Fast handover: a priority-0 advert is followed by (256−prio) × 20 ms / 256, not the v2
/// Skew_Time of 0.61 s at priority 100.
#[test]
fn fast_handover_takes_over_milliseconds_after_priority_zero() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    h.run_to(at(1.0));
    h.rx(&Rx::v2(200, PEER));
    h.rx(&Rx::v2(0, PEER));
    h.run_to(at(2.0));
    assert_eq!(
        h.entered("VI_1", State::Master),
        Some(at(1.0) + Duration::from_nanos(156 * 78_125))
    );
}

fn master_at(priority: u8) -> H {
    let mut h = H::start(&config(vec![instance("VI_1", 51, priority)]));
    h.run_to(at(4.0));
    assert_eq!(h.state("VI_1"), State::Master);
    h.clear();
    h
}

/// RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send an
/// ADVERTISEMENT".
#[test]
fn master_answers_priority_zero_with_an_advert_at_once() {
    let mut h = master_at(100);
    h.rx(&Rx::v2(0, PEER));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].priority, 100);
    assert_eq!(h.state("VI_1"), State::Master);
}

/// keepalived: lower priority at MASTER → "Received advert from X with lower priority N,
/// ours M, forcing new election"; an immediate advert (RFC 9568), a GARP burst and
/// notify_master_rx_lower_pri.
#[test]
fn master_answers_a_lower_priority_advert_at_once() {
    let mut h = master_at(100);
    h.rx(&Rx::v2(50, PEER));
    assert_eq!(h.state("VI_1"), State::Master);
    assert_eq!(h.sent().len(), 1);
    assert!(h.logs().contains(
        &"(VI_1) Received advert from 192.168.5.11 with lower priority 50, ours 100, forcing new election".to_string()
    ));
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::Announce { repeat: 5, .. }))
    );
    assert!(h.out.iter().any(|a| matches!(a, Action::WriteFifo(l) if l.to_string() == "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100")));
}

/// keepalived `lower_prio_no_advert`: the master does not answer a lower priority advert.
#[test]
fn lower_prio_no_advert_keeps_the_master_quiet() {
    let mut i = instance("VI_1", 51, 100);
    i.lower_prio_no_advert = true;
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    h.clear();
    h.rx(&Rx::v2(50, PEER));
    assert!(h.sent().is_empty());
    assert_eq!(h.state("VI_1"), State::Master);
}

/// RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is greater than the local
/// Priority ... Transition to the Backup state"; keepalived logs "Master received advert
/// from X with higher priority N, ours M" and releases without a priority-0 advert
/// (keepalived's timing: fast handover off).
#[test]
fn master_yields_to_a_higher_priority_and_releases() {
    let mut i = instance("VI_1", 51, 100);
    i.fast_handover = false;
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    h.clear();
    h.rx(&Rx::v2(150, PEER));
    assert_eq!(h.state("VI_1"), State::Backup);
    assert!(h.sent().is_empty());
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::RemoveAddress { address, .. } if address.addr == VIP))
    );
    assert!(
        h.logs().contains(
            &"(VI_1) Master received advert from 192.168.5.11 with higher priority 150, ours 100"
                .to_string()
        )
    );
}

/// keepalived `higher_prio_send_advert`: one advert before yielding; under fast handover
/// always, so that after a healed split brain the winner hears a lower master and
/// re-announces its addresses.
#[test]
fn higher_prio_send_advert_sends_one_before_yielding() {
    for (keyword, fast) in [(true, false), (false, true)] {
        let mut i = instance("VI_1", 51, 100);
        i.higher_prio_send_advert = keyword;
        i.fast_handover = fast;
        let mut h = H::start(&config(vec![i]));
        h.run_to(at(4.0));
        h.clear();
        h.rx(&Rx::v2(150, PEER));
        let sent = h.sent();
        assert_eq!(sent.len(), 1, "keyword {keyword} fast {fast}");
        assert_eq!(sent[0].priority, 100);
        assert_eq!(h.state("VI_1"), State::Backup);
    }
}

/// RFC 5798 §6.4.3: "the Priority in the ADVERTISEMENT is equal to the local Priority and
/// the primary IPvX Address of the sender is greater than the local primary IPvX Address"
/// → Backup; a lower address is answered and ignored.
#[test]
fn master_tie_break_on_the_primary_address() {
    let mut h = master_at(100);
    h.rx(&Rx::v2(100, PEER)); // .11 < .12
    assert_eq!(h.state("VI_1"), State::Master);
    h.rx(&Rx::v2(100, HIGH_PEER)); // .13 > .12
    assert_eq!(h.state("VI_1"), State::Backup);
    assert!(
        h.logs()
            .iter()
            .any(|l| l.contains("same priority 100 but higher IP address than ours"))
    );
}

/// keepalived: "Equal priority at BACKUP is accepted (no IP tie-break in BACKUP)".
#[test]
fn backup_accepts_equal_priority_without_a_tie_break() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    for s in 0..10 {
        h.run_to(at(0.5 + s as f64));
        h.rx(&Rx::v2(100, PEER)); // lower address than ours
    }
    h.run_to(at(10.0));
    assert_eq!(h.state("VI_1"), State::Backup);
}

/// keepalived (fast handover off): "Otherwise (lower prio, preempt allowed) it is
/// discarded ('received lower priority (N) advert … discarding') and the down timer keeps
/// running → preemption."
#[test]
fn backup_discards_lower_priority_and_preempts_after_the_down_interval() {
    let mut i = instance("VI_1", 51, 100);
    i.fast_handover = false;
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(1.0));
    h.rx(&Rx::v2(150, PEER)); // accepted: timer = 1 + 3.609375
    for s in 2..5 {
        h.run_to(at(s as f64));
        h.rx(&Rx::v2(50, PEER));
    }
    assert!(h.logs().contains(
        &"(VI_1) received lower priority (50) advert from 192.168.5.11 - discarding".to_string()
    ));
    h.run_to(at(6.0));
    assert_eq!(h.entered("VI_1", State::Master), Some(at(4.609375)));
}

/// Fast handover: "a preempting backup that sees a master advertising below its own
/// effective priority takes over at once" — after the short priority-ordered delay.
#[test]
fn fast_handover_preempts_a_lower_master_within_milliseconds() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    h.run_to(at(1.0));
    h.rx(&Rx::v2(150, PEER));
    h.run_to(at(2.0));
    h.rx(&Rx::v2(50, PEER));
    h.run_to(at(3.0));
    assert_eq!(
        h.entered("VI_1", State::Master),
        Some(at(2.0) + Duration::from_nanos(156 * 78_125))
    );
}

/// keepalived `nopreempt`: "don't take over from a lower-prio master".
#[test]
fn nopreempt_follows_a_lower_priority_master() {
    let mut i = instance("VI_1", 51, 200);
    i.nopreempt = true;
    let mut h = H::start(&config(vec![i]));
    for s in 0..20 {
        h.run_to(at(0.5 + s as f64));
        h.rx(&Rx::v2(50, PEER));
    }
    assert_eq!(h.state("VI_1"), State::Backup);
    assert_eq!(
        h.node.instance_by_name("VI_1").unwrap().master().unwrap(),
        (PEER, 50)
    );
}

/// keepalived `preempt_delay`: at startup and on first seeing a lower-priority master,
/// lower adverts are accepted for preempt_delay; then discarded, and the down timer runs.
#[test]
fn preempt_delay_holds_preemption_for_the_delay() {
    let mut i = instance("VI_1", 51, 200);
    i.preempt_delay = secs(10.0);
    i.fast_handover = false;
    let mut h = H::start(&config(vec![i]));
    for s in 0..30 {
        h.run_to(at(0.5 + s as f64));
        h.rx(&Rx::v2(100, PEER));
        if h.state("VI_1") == State::Master {
            break;
        }
    }
    // Window 0..10 s; the advert at 10.5 s is discarded; down timer from the 9.5 s one:
    // 9.5 + 3 + 56/256.
    assert_eq!(h.entered("VI_1", State::Master), Some(at(12.71875)));
}

/// Fast handover with preempt_delay: take over as soon as the window closes.
#[test]
fn fast_handover_preempts_when_the_preempt_delay_ends() {
    let mut i = instance("VI_1", 51, 200);
    i.preempt_delay = secs(5.0);
    let mut h = H::start(&config(vec![i]));
    for s in 0..12 {
        h.run_to(at(0.5 + s as f64));
        h.rx(&Rx::v2(100, PEER));
    }
    assert_eq!(
        h.entered("VI_1", State::Master),
        Some(at(5.0) + Duration::from_nanos(56 * 78_125))
    );
}

/// keepalived `vrrp_down_timer_adverts`: Master_Down_Interval = N × interval + skew.
#[test]
fn down_timer_adverts_stretches_the_master_down_interval() {
    let mut i = instance("VI_1", 51, 100);
    i.down_timer_adverts = 5;
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(6.0));
    assert_eq!(h.entered("VI_1", State::Master), Some(at(5.609375)));
}

/// RFC 5798 Accept_Mode: a non-owner master with `no_accept` must not accept packets for
/// the VIPs (keepalived: nftables drop rules while MASTER).
#[test]
fn no_accept_blocks_vip_traffic_only_while_master() {
    let mut i = instance("VI_1", 51, 100);
    i.accept = false;
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::BlockVipTraffic { block: true, .. }))
    );
    h.clear();
    h.rx(&Rx::v2(200, PEER));
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::BlockVipTraffic { block: false, .. }))
    );
}

/// keepalived `owner_ignore_adverts` (forced by vrrp_strict): "owner (prio 255) ignores
/// received adverts".
#[test]
fn strict_owner_ignores_adverts() {
    let mut i = instance("VI_1", 51, 255);
    i.state = baton_conf::InitialState::Master;
    let mut h = H::start(&config(vec![strict(i)]));
    h.rx(&Rx::v2(255, HIGH_PEER));
    assert_eq!(h.state("VI_1"), State::Master);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .counters()
            .dropped
            .owner_ignores,
        1
    );
}

/// keepalived: two owners on one segment — "CONFIGURATION ERROR"; the lower address backs
/// off (to 254) and the higher one stays owner.
#[test]
fn two_owners_the_lower_address_backs_off() {
    let mut i = instance("VI_1", 51, 255);
    i.state = baton_conf::InitialState::Master;
    let mut h = H::start(&config(vec![i.clone()]));
    h.rx(&Rx::v2(255, PEER)); // lower than us: we stay
    assert_eq!(h.state("VI_1"), State::Master);
    assert!(h.logs().iter().any(|l| l.contains("CONFIGURATION ERROR")));
    h.rx(&Rx::v2(255, HIGH_PEER)); // higher: we back off
    assert_eq!(h.state("VI_1"), State::Backup);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        254
    );
    // The other owner disappears: we take over and are the owner again.
    h.run_to(at(5.0));
    assert_eq!(h.state("VI_1"), State::Master);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        255
    );
}

/// keepalived `vrrp_startup_delay`: backup timers run from the end of the delay.
#[test]
fn startup_delay_postpones_the_first_master_down_timer() {
    let mut cfg = config(vec![instance("VI_1", 51, 100)]);
    cfg.global.startup_delay = secs(10.0);
    let mut h = H::start(&cfg);
    h.run_to(at(13.0));
    assert_eq!(h.state("VI_1"), State::Backup);
    h.run_to(at(14.0));
    assert_eq!(h.entered("VI_1", State::Master), Some(at(13.609375)));
}
