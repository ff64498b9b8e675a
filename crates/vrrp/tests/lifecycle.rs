//! Sync groups, notifications, shutdown, reload and the VIP lifecycle, one test per
//! keepalived rule, each quoting what it checks.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use baton_conf::{Config, Span, SyncGroup, Tracking, VirtualAddress};
use baton_vrrp::{Action, AddressKind, Environment, Input, NotifyState, ScriptResult, State};
use common::*;

fn group_config() -> Config {
    let mut a = instance("VI_1", 51, 200);
    std::sync::Arc::make_mut(&mut a.notify).any = Some(command("/bin/notify").into());
    let mut b = instance("VI_2", 52, 200);
    b.vips = vec![VirtualAddress::new("192.168.5.20".parse().unwrap())];
    std::sync::Arc::make_mut(&mut b.tracking).interfaces = vec![track("eth1")];
    let mut cfg = config(vec![a, b]);
    cfg.sync_groups = vec![SyncGroup {
        name: "G1".to_string(),
        span: Span::default(),
        members: vec!["VI_1".to_string(), "VI_2".to_string()],
        tracking: Tracking::default(),
        notify: baton_conf::Notify {
            master: Some(command("/bin/group_master").into()),
            ..Default::default()
        },
        tracking_weight: false,
    }];
    cfg
}

/// keepalived sync group: "all go MASTER together or BACKUP/FAULT together (a fault in one
/// → all FAULT)", with group notifications `GROUP name STATE 0`.
#[test]
fn sync_group_members_move_and_fault_together() {
    let env = Environment::new()
        .with_interface("eth0", true, &[ME])
        .with_interface("eth1", true, &[]);
    let mut h = H::start_with(&group_config(), env);
    h.run_to(at(4.0));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (State::Master, State::Master)
    );
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::WriteFifo(l) if l.to_string() == "GROUP \"G1\" MASTER 0"))
    );
    assert!(h.out.iter().any(
        |a| matches!(a, Action::RunNotify { command, .. } if command.text == "/bin/group_master")
    ));
    h.clear();
    h.input(Input::LinkDown { interface: "eth1" });
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (State::Fault, State::Fault)
    );
    let zeros = h.sent().iter().filter(|s| s.priority == 0).count();
    assert_eq!(zeros, 2, "both members tell their backups");
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::WriteFifo(l) if l.to_string() == "GROUP \"G1\" FAULT 0"))
    );
    h.input(Input::LinkUp { interface: "eth1" });
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (State::Backup, State::Backup)
    );
}

/// keepalived sync group: one member yielding to a better master takes the others to
/// BACKUP; a member cannot go MASTER while another still hears its master ("only sync to
/// master if everyone wants to").
#[test]
fn sync_group_follows_a_member_to_backup_and_waits_for_all() {
    let env = Environment::new()
        .with_interface("eth0", true, &[ME])
        .with_interface("eth1", true, &[]);
    let mut h = H::start_with(&group_config(), env);
    h.run_to(at(4.0));
    h.rx(&Rx::v2(250, PEER));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (State::Backup, State::Backup)
    );
    // VI_2's master keeps talking; VI_1's goes silent: VI_1 must not go alone.
    let mut rx2 = Rx::v2(250, PEER);
    rx2.vrid = 52;
    rx2.vips = vec!["192.168.5.20".parse().unwrap()];
    for s in 5..15 {
        h.run_to(at(s as f64));
        h.rx(&rx2);
    }
    assert_eq!(h.state("VI_1"), State::Backup);
    h.run_to(at(20.0));
    assert_eq!(
        (h.state("VI_1"), h.state("VI_2")),
        (State::Master, State::Master)
    );
}

/// keepalived: a group member hearing a lower priority as MASTER has "any other member of
/// the group that has garp_lower_prio_rep set" send its GARP burst too.
#[test]
fn sync_group_members_refresh_caches_on_a_lower_priority_advert() {
    let env = Environment::new()
        .with_interface("eth0", true, &[ME])
        .with_interface("eth1", true, &[]);
    let mut h = H::start_with(&group_config(), env);
    h.run_to(at(4.0));
    h.clear();
    h.rx(&Rx::v2(100, PEER));
    let bursts: Vec<_> = h
        .out
        .iter()
        .filter_map(|a| match a {
            Action::Announce { instance, .. } => Some(*instance),
            _ => None,
        })
        .collect();
    assert_eq!(bursts, vec![h.id("VI_1"), h.id("VI_2")]);
}

/// keepalived notify: `notify` scripts get `INSTANCE name STATE priority` appended; the
/// FIFO line is `INSTANCE "VI_1" MASTER 200`.
#[test]
fn notifications_carry_keepalived_arguments() {
    let mut i = instance("VI_1", 51, 200);
    std::sync::Arc::make_mut(&mut i.notify).any = Some(command("/bin/notify").into());
    std::sync::Arc::make_mut(&mut i.notify).master = Some(command("/bin/master").into());
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    let args = h
        .out
        .iter()
        .find_map(|a| match a {
            Action::RunNotify { args: Some(a), .. } if a.state == NotifyState::Master => {
                Some(a.words())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        args,
        ["INSTANCE", "VI_1", "MASTER", "200"].map(String::from)
    );
    assert!(h.out.iter().any(
        |a| matches!(a, Action::RunNotify { command, args: None, .. } if command.text == "/bin/master")
    ));
    assert!(h.out.iter().any(
        |a| matches!(a, Action::WriteFifo(l) if l.to_string() == "INSTANCE \"VI_1\" MASTER 200")
    ));
}

/// keepalived SIGTERM: "for every instance in MASTER: send advert with priority 0, remove
/// virtual rules, routes, VIPs ... run notify_stop".
#[test]
fn shutdown_sends_priority_zero_then_releases() {
    let mut i = instance("VI_1", 51, 200);
    i.excluded_vips = vec![VirtualAddress::new("10.9.9.9".parse().unwrap())];
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    h.clear();
    h.input(Input::Shutdown);
    assert!(
        matches!(h.out.iter().find(|a| !matches!(a, Action::StateChanged { .. })), Some(Action::SendAdvert(s)) if s.priority == 0)
    );
    let removed: Vec<AddressKind> = h
        .out
        .iter()
        .filter_map(|a| match a {
            Action::RemoveAddress { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec![AddressKind::Virtual, AddressKind::Excluded]);
    assert_eq!(h.state("VI_1"), State::Stopped);
    assert!(h.out.iter().any(
        |a| matches!(a, Action::WriteFifo(l) if l.to_string() == "INSTANCE \"VI_1\" STOP 200")
    ));
    assert_eq!(h.node.next_deadline(), None);
}

/// A VIP deleted behind our back: keepalived leaves MASTER (unless no_track); baton puts
/// it back at once and announces it; no_track VIPs are left alone.
#[test]
fn vip_removed_externally_is_restored_unless_no_track() {
    let mut i = instance("VI_1", 51, 200);
    let mut other = VirtualAddress::new("192.168.5.30".parse().unwrap());
    other.no_track = true;
    i.vips.push(other);
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    h.clear();
    h.input(Input::AddressRemoved {
        interface: "eth0",
        addr: VIP,
    });
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::AddAddress { address, .. } if address.addr == VIP))
    );
    assert!(h.out.iter().any(|a| matches!(a, Action::Announce { .. })));
    assert_eq!(h.state("VI_1"), State::Master);
    h.clear();
    h.input(Input::AddressRemoved {
        interface: "eth0",
        addr: "192.168.5.30".parse().unwrap(),
    });
    assert!(!h.out.iter().any(|a| matches!(a, Action::AddAddress { .. })));
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .counters()
            .vips_restored,
        1
    );
}

/// Our own VIPs are never an advert source, even listed first on the interface (a restart
/// finds them still there), and the kernel's echo of a VIP's removal reaches only the
/// instance that has it.
#[test]
fn vips_are_never_sources_and_a_removal_reaches_only_its_owner() {
    let second_vip: IpAddr = "192.168.5.20".parse().unwrap();
    let mut second = instance("VI_2", 52, 200);
    second.vips = vec![VirtualAddress::new(second_vip)];
    let cfg = config(vec![instance("VI_1", 51, 200), second]);
    let mut h = H::start_with(
        &cfg,
        Environment::new().with_interface("eth0", true, &[VIP, second_vip, ME]),
    );
    h.run_to(at(4.0));
    assert_eq!(h.state("VI_1"), State::Master);
    assert_eq!(h.state("VI_2"), State::Master);
    let sources: Vec<IpAddr> = h.sent().iter().map(|s| s.src).collect();
    assert!(
        !sources.is_empty() && sources.iter().all(|s| *s == ME),
        "{sources:?}"
    );
    h.clear();
    h.input(Input::AddressRemoved {
        interface: "eth0",
        addr: VIP,
    });
    assert_eq!(h.addresses_changed(true), vec![VIP]);
    let count = |name: &str| {
        h.node
            .instance_by_name(name)
            .unwrap()
            .counters()
            .vips_restored
    };
    assert_eq!((count("VI_1"), count("VI_2")), (1, 0));
}

/// keepalived GARP: on becoming MASTER a burst of `garp_master_repeat`, "second burst
/// after garp_master_delay", optional periodic refresh.
#[test]
fn garp_bursts_follow_keepalived_timing() {
    let mut i = instance("VI_1", 51, 200);
    std::sync::Arc::make_mut(&mut i.garp).master_refresh = Some(secs(60.0));
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(3.3));
    let t0 = h.entered("VI_1", State::Master).unwrap();
    let bursts = |h: &H| {
        h.out
            .iter()
            .filter(|a| matches!(a, Action::Announce { .. }))
            .count()
    };
    assert_eq!(bursts(&h), 1);
    h.run_to(t0 + secs(4.99));
    assert_eq!(bursts(&h), 1);
    h.run_to(t0 + secs(5.0));
    assert_eq!(bursts(&h), 2);
    h.run_to(t0 + secs(60.0));
    assert_eq!(bursts(&h), 3);
}

/// keepalived SIGHUP: "instances are matched old↔new by VRID + family + interface (+
/// unicast src), not by name; matched MASTERs stay MASTER and keep VIPs; VIPs/routes/rules
/// no longer configured are removed, new ones added".
#[test]
fn reload_keeps_a_master_and_applies_only_the_difference() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 200)]));
    h.run_to(at(4.0));
    h.clear();
    let mut renamed = instance("VI_renamed", 51, 200);
    let added = VirtualAddress::new("192.168.5.40".parse().unwrap());
    renamed.vips = vec![added.clone()];
    let cfg = config(vec![renamed, instance("VI_new", 52, 100)]);
    h.input(Input::Reload(&cfg));
    assert_eq!(h.state("VI_renamed"), State::Master);
    assert_eq!(h.state("VI_new"), State::Backup);
    assert_eq!(h.addresses_changed(false), vec![VIP]);
    assert_eq!(h.addresses_changed(true), vec![added.addr]);
    assert!(
        !h.out.iter().any(|a| matches!(
            a,
            Action::StateChanged {
                to: State::Master,
                ..
            }
        )),
        "no MASTER flap"
    );
    // It advertises at once with the new list.
    assert!(h.sent().iter().any(|s| s.priority == 200));
    let repr = h.node.advert(h.id("VI_renamed"), 200).unwrap();
    assert_eq!(repr.addresses.iter().collect::<Vec<_>>(), vec![added.addr]);
}

/// keepalived reload: scripts are kept ("init-reload") so priorities do not flap.
#[test]
fn reload_keeps_tracker_state() {
    let mut cfg = config(vec![with_script(instance("VI_1", 51, 200), "chk")]);
    cfg.scripts = vec![script("chk", -150)];
    let mut h = H::start(&cfg);
    script_result(&mut h, "chk", ScriptResult::Failure);
    h.input(Input::Reload(&cfg));
    assert_eq!(
        h.node
            .instance_by_name("VI_1")
            .unwrap()
            .effective_priority(),
        50
    );
    assert_ne!(
        h.state("VI_1"),
        State::Fault,
        "no script init state after reload"
    );
}

/// The status snapshot serialises with what `baton status` shows.
#[test]
fn status_snapshot_serialises() {
    let mut h = H::start(&config(vec![instance("VI_1", 51, 200)]));
    h.run_to(at(4.0));
    h.rx(&Rx::v2(100, PEER));
    let status = h.node.status();
    let json = serde_json::to_value(&status).unwrap();
    let inst = &json["instances"][0];
    assert_eq!(inst["state"], "Master");
    assert_eq!(inst["effective_priority"], 200);
    assert_eq!(inst["vips_held"][0], "192.168.5.10");
    assert_eq!(inst["master"]["address"], "192.168.5.12");
    assert_eq!(inst["counters"]["adverts_received"], 1);
    assert_eq!(
        inst["last_transition"]["reason"],
        "master down timer expired"
    );
    // One on entering MASTER at 3.22 s, one answering the lower-priority advert.
    assert_eq!(inst["counters"]["adverts_sent"], 2);
}

/// keepalived reload: an instance that is no longer configured releases what it held and
/// reports DELETED with `notify_deleted` (FAULT otherwise).
#[test]
fn reload_releases_a_removed_master() {
    let mut i = instance("VI_1", 51, 200);
    std::sync::Arc::make_mut(&mut i.notify).deleted = true;
    let mut h = H::start(&config(vec![i]));
    h.run_to(at(4.0));
    h.clear();
    let cfg = config(vec![instance("VI_9", 9, 100)]);
    h.input(Input::Reload(&cfg));
    assert!(
        h.out
            .iter()
            .any(|a| matches!(a, Action::RemoveAddress { address, .. } if address.addr == VIP))
    );
    assert!(h.out.iter().any(
        |a| matches!(a, Action::WriteFifo(l) if l.to_string() == "INSTANCE \"VI_1\" DELETED 200")
    ));
    assert!(
        h.sent().is_empty(),
        "no advert under an id that now names another instance"
    );
    assert_eq!(h.state("VI_9"), State::Backup);
    assert_eq!(h.node.instances().len(), 1);
}
