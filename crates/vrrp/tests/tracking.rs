//! Tracking: keepalived's weights, the script counter, fault sources and fast handover on a
//! priority drop, one test per rule, each quoting what it checks.
#![allow(clippy::unwrap_used)]

mod common;

use baton_vrrp::{Action, Environment, Input, ScriptResult, State};
use common::*;

/// keepalived: a tracked script in its init state keeps the instance in FAULT (init)
/// without notifying; the first result decides.
#[test]
fn instance_waits_for_its_scripts_first_result() {
    let mut cfg = config(vec![with_script(instance("VI_1", 51, 200), "chk")]);
    cfg.scripts = vec![script("chk", -50)];
    let mut h = H::start(&cfg);
    assert_eq!(h.state("VI_1"), State::Fault);
    assert!(
        !h.out.iter().any(|a| matches!(a, Action::WriteFifo(_))),
        "no notify for init"
    );
    script_result(&mut h, "chk", ScriptResult::Success);
    assert_eq!(h.state("VI_1"), State::Backup);
}

/// keepalived weight table, W<0: "tracked KO → −abs(W)", logged "Changing effective
/// priority from X to Y"; the seed's failure case (nginx dies on the master).
#[test]
fn negative_weight_lowers_priority_on_failure() {
    let mut cfg = config(vec![with_script(instance("VI_1", 51, 200), "chk")]);
    cfg.scripts = vec![script("chk", -150)];
    let mut h = H::start(&cfg);
    script_result(&mut h, "chk", ScriptResult::Success);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        200
    );
    script_result(&mut h, "chk", ScriptResult::TimedOut);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        50
    );
    assert!(
        h.logs()
            .contains(&"(VI_1) Changing effective priority from 200 to 50".to_string())
    );
    assert!(h.logs().contains(&"VRRP_Script(chk) timed_out".to_string()));
}

/// The seed's configuration: `weight 2` on a script means +2 while it succeeds.
#[test]
fn positive_weight_raises_priority_while_ok() {
    let mut cfg = config(vec![with_script(instance("VI_1", 51, 100), "check_nginx")]);
    cfg.scripts = vec![script("check_nginx", 2)];
    let mut h = H::start(&cfg);
    script_result(&mut h, "check_nginx", ScriptResult::Success);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        102
    );
    script_result(&mut h, "check_nginx", ScriptResult::Failure);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        100
    );
}

/// keepalived: "weight 0 ⇒ failure puts instance in FAULT"; entering FAULT from MASTER
/// "send prio-0 advert then remove"; the fault clears to BACKUP.
#[test]
fn weight_zero_failure_faults_a_master_with_a_priority_zero_advert() {
    let mut cfg = config(vec![with_script(instance("VI_1", 51, 200), "chk")]);
    cfg.scripts = vec![script("chk", 0)];
    let mut h = H::start(&cfg);
    script_result(&mut h, "chk", ScriptResult::Success);
    h.run_to(at(4.0));
    assert_eq!(h.state("VI_1"), State::Master);
    h.clear();
    script_result(&mut h, "chk", ScriptResult::Failure);
    assert_eq!(h.state("VI_1"), State::Fault);
    let zero = h
        .out
        .iter()
        .position(|a| matches!(a, Action::SendAdvert(s) if s.priority == 0))
        .unwrap();
    let removed = h
        .out
        .iter()
        .position(|a| matches!(a, Action::RemoveAddress { .. }))
        .unwrap();
    assert!(
        zero < removed,
        "priority 0 goes out before the VIP is released"
    );
    assert!(
        h.logs()
            .contains(&"(VI_1) Entering FAULT STATE".to_string())
    );
    script_result(&mut h, "chk", ScriptResult::Success);
    assert_eq!(h.state("VI_1"), State::Backup);
}

/// keepalived: "Multiple FAULT sources are ORed; the instance leaves FAULT only when all
/// are clear" (interface down, then a script).
#[test]
fn fault_sources_are_ored() {
    let mut i = with_script(instance("VI_1", 51, 100), "chk");
    std::sync::Arc::make_mut(&mut i.tracking).interfaces = vec![track("eth1")];
    let mut cfg = config(vec![i]);
    cfg.scripts = vec![script("chk", 0)];
    let env = Environment::new()
        .with_interface("eth0", true, &[ME])
        .with_interface("eth1", true, &[]);
    let mut h = H::start_with(&cfg, env);
    script_result(&mut h, "chk", ScriptResult::Failure);
    h.input(Input::LinkDown { interface: "eth1" });
    assert_eq!(h.node.instance_by_name("VI_1").unwrap().faults().len(), 2);
    script_result(&mut h, "chk", ScriptResult::Success);
    assert_eq!(h.state("VI_1"), State::Fault);
    h.input(Input::LinkUp { interface: "eth1" });
    assert_eq!(h.state("VI_1"), State::Backup);
}

/// keepalived: the instance's own interface down ⇒ FAULT, unless `dont_track_primary`.
#[test]
fn own_interface_down_faults_unless_dont_track_primary() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 100)]));
    h.input(Input::LinkDown { interface: "eth0" });
    assert_eq!(h.state("VI_1"), State::Fault);
    let mut i = instance("VI_1", 51, 100);
    i.dont_track_primary = true;
    let mut h = H::start(&config(vec![i]));
    h.input(Input::LinkDown { interface: "eth0" });
    assert_eq!(h.state("VI_1"), State::Backup);
}

/// keepalived: no source address ⇒ FAULT ("src address not configured"); `track_src_ip`
/// faults when the configured source vanishes.
#[test]
fn missing_source_address_faults() {
    let h = H::start_with(
        &config(vec![instance("VI_1", 51, 100)]),
        Environment::new().with_interface("eth0", true, &[]),
    );
    assert_eq!(h.state("VI_1"), State::Fault);
    let mut i = instance("VI_1", 51, 100);
    i.src_ip = Some(ME);
    i.track_src_ip = true;
    let mut h = H::start(&config(vec![i]));
    assert_eq!(h.state("VI_1"), State::Backup);
    h.input(Input::AddressRemoved {
        interface: "eth0",
        addr: ME,
    });
    assert_eq!(h.state("VI_1"), State::Fault);
    h.input(Input::AddressAdded {
        interface: "eth0",
        addr: ME,
    });
    assert_eq!(h.state("VI_1"), State::Backup);
}

/// keepalived: "Effective priority ... A non-owner can never reach 255 via weights"; the
/// owner's priority "is never changed by trackers".
#[test]
fn owner_priority_is_untouched_by_weights() {
    let mut cfg = config(vec![with_script(instance("VI_1", 51, 255), "chk")]);
    cfg.scripts = vec![script("chk", -100)];
    let mut h = H::start(&cfg);
    script_result(&mut h, "chk", ScriptResult::Failure);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        255
    );
    let mut cfg = config(vec![with_script(instance("VI_1", 51, 250), "chk")]);
    cfg.scripts = vec![script("chk", 100)];
    let mut h = H::start(&cfg);
    script_result(&mut h, "chk", ScriptResult::Success);
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        254
    );
}

/// Fast handover: "a master whose effective priority drops advertises at once"; without
/// it (vrrp_strict) the next regular advert carries the new priority.
#[test]
fn fast_handover_master_advertises_a_priority_drop_at_once() {
    for strict in [false, true] {
        let mut i = with_script(instance("VI_1", 51, 200), "chk");
        if strict {
            i = common::strict(i);
        }
        let mut cfg = config(vec![i]);
        cfg.scripts = vec![script("chk", -150)];
        let mut h = H::start(&cfg);
        script_result(&mut h, "chk", ScriptResult::Success);
        h.run_to(at(4.0));
        h.clear();
        script_result(&mut h, "chk", ScriptResult::Failure);
        let sent: Vec<u8> = h.sent().iter().map(|s| s.priority).collect();
        assert_eq!(
            sent,
            if strict { vec![] } else { vec![50] },
            "strict={strict}"
        );
    }
}
