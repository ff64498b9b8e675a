//! One test per rule of keepalived's virtual-server half, each naming where keepalived
//! decides it (keepalived/check/ipwrapper.c unless said otherwise).
#![allow(clippy::unwrap_used)]

mod common;

use baton_conf::{RealServerId, VirtualServerId};
use baton_lvs::{Action, Change, Input, NotifyKind, Role, Verdict};
use common::*;

const VS: &str = "[192.168.5.10]:tcp:80";

/// A TCP service on the seed's VIP with the given body.
fn vs(body: &str) -> String {
    format!(
        "virtual_server 192.168.5.10 80 {{\n protocol TCP\n lb_algo wrr\n lb_kind NAT\n{body}\n}}\n"
    )
}

fn rs(addr: &str, body: &str) -> String {
    format!(" real_server {addr} 8080 {{\n{body}\n  TCP_CHECK {{\n  }}\n }}\n")
}

fn rsid(index: u32) -> RealServerId {
    RealServerId {
        vs: VirtualServerId(0),
        index,
    }
}

#[test]
fn start_puts_checked_servers_in_and_alpha_ones_out() {
    // check_data.c validate_check_config: alpha checkers start failed; init_service_rs
    // adds real servers without failed checkers.
    let mut r = Run::new(&vs(&format!(
        "{}{}",
        rs("10.0.0.21", "  weight 3"),
        rs("10.0.0.22", "  alpha")
    )));
    let out = r.input(Input::Start);
    assert!(matches!(&out[0], Action::Apply(c) if matches!(c[0], Change::AddService(_))));
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 3)]);
    // No notifies at start unless rs_init_notifies.
    assert!(notifies(&out).is_empty());
    assert!(fifo(&out).is_empty());
    assert!(logs(&out).contains(&format!(
        "Activating healthchecker for service [10.0.0.22]:tcp:8080 for VS {VS}"
    )));
}

#[test]
fn a_failed_checker_takes_the_real_server_out_and_back() {
    // perform_svr_state: "Removing service X from VS Y", notify_down, FIFO line.
    let mut r = Run::started(&vs(&rs(
        "10.0.0.21",
        "  notify_up /bin/up\n  notify_down /bin/down",
    )));
    let out = r.verdict(0, 0, 0, Verdict::Down);
    assert_eq!(
        changes(&out),
        [Change::RemoveDestination {
            service: r.config.lvs.virtual_servers[0].key(),
            address: "10.0.0.21:8080".parse().unwrap(),
        }]
    );
    assert_eq!(
        logs(&out)[0],
        format!("Removing service [10.0.0.21]:tcp:8080 from VS {VS}")
    );
    assert_eq!(
        notifies(&out),
        [(NotifyKind::RealServerDown(rsid(0)), "/bin/down".to_string())]
    );
    assert_eq!(fifo(&out)[0], format!("RS [10.0.0.21]:tcp:8080 {VS} DOWN"));
    // The same verdict again changes nothing.
    let out = r.verdict(0, 0, 0, Verdict::Down);
    assert!(out.is_empty(), "{out:?}");
    let out = r.verdict(0, 0, 0, Verdict::Up);
    assert_eq!(
        logs(&out)[0],
        format!("Adding service [10.0.0.21]:tcp:8080 to VS {VS}")
    );
    assert_eq!(
        notifies(&out),
        [(NotifyKind::RealServerUp(rsid(0)), "/bin/up".to_string())]
    );
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 1)]);
}

#[test]
fn every_checker_must_be_up() {
    // update_svr_checker_state: the server goes down with its first failed checker and up
    // with its last recovered one (num_failed_checkers).
    let two = " real_server 10.0.0.21 8080 {\n  TCP_CHECK {\n  }\n  \
               MISC_CHECK {\n   misc_path /bin/check\n  }\n }\n";
    let mut r = Run::started(&vs(two));
    r.verdict(0, 0, 0, Verdict::Down);
    assert!(r.weights().is_empty());
    let out = r.verdict(0, 0, 1, Verdict::Down);
    assert!(changes(&out).is_empty() && notifies(&out).is_empty());
    let out = r.verdict(0, 0, 0, Verdict::Up);
    assert!(changes(&out).is_empty(), "one checker still fails");
    r.verdict(0, 0, 1, Verdict::Up);
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 1)]);
}

#[test]
fn inhibit_on_failure_keeps_the_server_at_weight_zero() {
    // ipvswrapper.c ipvs_cmd: DELDEST of an inhibited server is EDITDEST weight 0.
    let mut r = Run::started(&vs(&rs("10.0.0.21", "  weight 5\n  inhibit_on_failure")));
    let out = r.verdict(0, 0, 0, Verdict::Down);
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 0)]);
    assert!(
        matches!(&changes(&out)[0], Change::EditDestination { destination, .. } if destination.weight == 0)
    );
    assert_eq!(
        logs(&out)[0],
        format!("Disabling service [10.0.0.21]:tcp:8080 of VS {VS}")
    );
    let out = r.verdict(0, 0, 0, Verdict::Up);
    assert_eq!(
        logs(&out)[0],
        format!("Enabling service [10.0.0.21]:tcp:8080 of VS {VS}")
    );
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 5)]);
}

#[test]
fn alpha_servers_wait_for_a_success_and_report_a_first_failure() {
    // update_svr_checker_state: a first result equal to the state only notifies, and only
    // for alpha checkers or failures.
    let mut r = Run::started(&vs(&rs(
        "10.0.0.21",
        "  alpha\n  inhibit_on_failure\n  notify_down /bin/down",
    )));
    // Alpha and inhibit: in the table at weight 0 from the start.
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 0)]);
    let out = r.verdict(0, 0, 0, Verdict::Down);
    assert!(changes(&out).is_empty());
    assert_eq!(
        notifies(&out),
        [(NotifyKind::RealServerDown(rsid(0)), "/bin/down".to_string())]
    );
    let out = r.verdict(0, 0, 0, Verdict::Up);
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 1)]);
    assert!(logs(&out)[0].starts_with("Enabling service"));
    // A non-alpha checker's first success says nothing.
    let mut r = Run::started(&vs(&rs("10.0.0.21", "  notify_up /bin/up")));
    let out = r.verdict(0, 0, 0, Verdict::Up);
    assert!(out.is_empty(), "{out:?}");
}

/// keepalived's doc/samples/keepalived.conf.quorum: ten servers, quorum 7, hysteresis 2,
/// alpha and omega.
fn quorum_sample() -> String {
    let mut body = String::from(
        " alpha\n omega\n quorum 7\n hysteresis 2\n quorum_up /bin/qup\n quorum_down /bin/qdown\n",
    );
    for i in 1..=10 {
        body.push_str(&format!(
            " real_server 10.0.0.{i} 8080 {{\n  weight 1\n  TCP_CHECK {{\n   connect_port 80\n  }}\n }}\n"
        ));
    }
    format!("virtual_server 10.0.1.1 80 {{\n protocol TCP\n lb_algo wrr\n lb_kind NAT\n{body}}}\n")
}

#[test]
fn quorum_is_gained_at_quorum_plus_hysteresis_and_lost_below_quorum_minus_it() {
    // update_quorum_state; the sample's comment: up at 9 (7+2), down below 5 (7-2).
    let mut r = Run::started(&quorum_sample());
    let vs = "[10.0.1.1]:tcp:80";
    assert!(!r.services.state(VirtualServerId(0)).unwrap().quorum_up);
    for i in 0..8 {
        let out = r.verdict(0, i, 0, Verdict::Up);
        assert!(notifies(&out).is_empty(), "no quorum yet at {}", i + 1);
    }
    let out = r.verdict(0, 8, 0, Verdict::Up);
    assert!(logs(&out).contains(&format!("Gained quorum 7+2=9 <= 9 for VS {vs}")));
    assert_eq!(
        notifies(&out),
        [(
            NotifyKind::QuorumUp(VirtualServerId(0)),
            "/bin/qup".to_string()
        )]
    );
    assert!(fifo(&out).contains(&format!("VS {vs} UP")));
    // 9 → 5 keeps it.
    for i in 0..4 {
        let out = r.verdict(0, i, 0, Verdict::Down);
        assert!(notifies(&out).is_empty());
    }
    let out = r.verdict(0, 4, 0, Verdict::Down);
    assert!(logs(&out).contains(&format!("Lost quorum 7-2=5 > 4 for VS {vs}")));
    assert_eq!(
        notifies(&out),
        [(
            NotifyKind::QuorumDown(VirtualServerId(0)),
            "/bin/qdown".to_string()
        )]
    );
    assert!(fifo(&out).contains(&format!("VS {vs} DOWN")));
    // Without a sorry server the live servers stay in the pool.
    assert_eq!(r.weights().len(), 4);
}

#[test]
fn omega_runs_the_down_notifiers_on_shutdown() {
    // clear_services → clear_service_rs / update_vs_notifies with stopping: only with omega.
    let mut r = Run::started(&vs(&format!(
        " omega\n quorum_down /bin/qdown\n{}",
        rs("10.0.0.21", "  notify_down /bin/down")
    )));
    let out = r.input(Input::Shutdown);
    assert!(matches!(&changes(&out)[..], [Change::RemoveService(_)]));
    assert_eq!(
        logs(&out),
        [format!(
            "Shutting down service [10.0.0.21]:tcp:8080 from VS {VS}"
        )]
    );
    assert_eq!(
        notifies(&out),
        [
            (NotifyKind::RealServerDown(rsid(0)), "/bin/down".to_string()),
            (
                NotifyKind::QuorumDown(VirtualServerId(0)),
                "/bin/qdown".to_string()
            )
        ]
    );
    assert!(
        out.iter()
            .all(|a| !matches!(a, Action::RunNotify { timeout: None, .. }))
    );
    assert!(r.services.table().services.is_empty());
    // Without omega: the table is emptied, no script runs.
    let mut r = Run::started(&vs(&format!(
        " quorum_down /bin/qdown\n{}",
        rs("10.0.0.21", "  notify_down /bin/down")
    )));
    let out = r.input(Input::Shutdown);
    assert!(notifies(&out).is_empty() && fifo(&out).is_empty());
    // Nothing happens after shutdown.
    assert!(r.verdict(0, 0, 0, Verdict::Down).is_empty());
}

#[test]
fn the_sorry_server_stands_in_while_quorum_is_lost() {
    // update_quorum_state + perform_quorum_state: the sorry server replaces the live real
    // servers; inhibited ones stay at weight 0.
    let body = format!(
        " sorry_server 10.0.0.99 8080\n quorum 2\n{}{}",
        rs("10.0.0.21", ""),
        rs("10.0.0.22", "  inhibit_on_failure")
    );
    let mut r = Run::started(&vs(&body));
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.21:8080".to_string(), 1),
            ("10.0.0.22:8080".to_string(), 1)
        ]
    );
    let out = r.verdict(0, 0, 0, Verdict::Down);
    let l = logs(&out);
    assert_eq!(
        l[0],
        format!("Removing service [10.0.0.21]:tcp:8080 from VS {VS}")
    );
    assert_eq!(l[1], format!("Lost quorum 2-0=2 > 1 for VS {VS}"));
    assert_eq!(
        l[2],
        format!("Adding sorry server [10.0.0.99]:tcp:8080 to VS {VS}")
    );
    assert_eq!(
        l[3],
        format!("Removing alive servers from the pool for VS {VS}")
    );
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.22:8080".to_string(), 0),
            ("10.0.0.99:8080".to_string(), 1)
        ]
    );
    let svc = r.services.table().services.values().next().unwrap();
    assert_eq!(svc.destinations[1].role, Role::Sorry);
    // While the sorry server is in, real servers coming up wait for quorum.
    let out = r.verdict(0, 0, 0, Verdict::Up);
    let l = logs(&out);
    assert_eq!(
        l[0],
        format!("Adding service [10.0.0.21]:tcp:8080 to VS {VS}")
    );
    assert_eq!(l[1], format!("Gained quorum 2+0=2 <= 2 for VS {VS}"));
    assert_eq!(
        l[2],
        format!("Removing sorry server [10.0.0.99]:tcp:8080 from VS {VS}")
    );
    assert_eq!(
        l[3],
        format!("Adding alive servers to the pool for VS {VS}")
    );
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.21:8080".to_string(), 1),
            ("10.0.0.22:8080".to_string(), 1)
        ]
    );
}

#[test]
fn a_service_starting_without_quorum_starts_with_its_sorry_server() {
    // update_quorum_state(init): "Starting with quorum down", the threshold printed is
    // quorum + hysteresis as keepalived computes it.
    let body = format!(
        " sorry_server 10.0.0.99 8080\n sorry_server_inhibit\n hysteresis 0\n{}",
        rs("10.0.0.21", "  alpha")
    );
    let out = Run::new(&vs(&body)).input(Input::Start);
    let l = logs(&out);
    assert!(l.contains(&format!("Starting with quorum down 1-0=1 > 0 for VS {VS}")));
    assert!(l.contains(&format!(
        "Enabling sorry server [10.0.0.99]:tcp:8080 to VS {VS}"
    )));
    // A sorry server with inhibit, not in use, waits at weight 0.
    let mut r = Run::started(&vs(&format!(
        " sorry_server 10.0.0.99 8080\n sorry_server_inhibit\n{}",
        rs("10.0.0.21", "")
    )));
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.21:8080".to_string(), 1),
            ("10.0.0.99:8080".to_string(), 0)
        ]
    );
    r.verdict(0, 0, 0, Verdict::Down);
    assert_eq!(r.weights(), [("10.0.0.99:8080".to_string(), 1)]);
}

#[test]
fn misc_dynamic_sets_the_weight_to_status_minus_two() {
    // check_misc.c misc_check_child_thread; keepalived.conf(5): exit 10 → weight 8…
    let body = " real_server 10.0.0.21 8080 {\n  weight 3\n  MISC_CHECK {\n   \
                misc_path /bin/check\n   misc_dynamic\n  }\n }\n";
    let mut r = Run::started(&vs(body));
    let out = r.verdict(0, 0, 0, Verdict::Weight(8));
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 8)]);
    assert_eq!(
        logs(&out),
        [format!(
            "Changing weight from 3 to 8 for active service [10.0.0.21]:tcp:8080 of VS {VS}"
        )]
    );
    // Exit 0: the configured weight again.
    r.verdict(0, 0, 0, Verdict::Up);
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 3)]);
    r.verdict(0, 0, 0, Verdict::Weight(0));
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 0)]);
    // A failure takes it out and gives the dynamic weight back.
    r.verdict(0, 0, 0, Verdict::Down);
    assert!(r.weights().is_empty());
    r.verdict(0, 0, 0, Verdict::Up);
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 3)]);
}

#[test]
fn file_check_values_weigh_or_fail() {
    // track_file.c process_update_checker_track_file_status.
    let text = format!(
        "track_file flag {{\n file /run/flag\n weight 0\n}}\ntrack_file load {{\n \
         file /run/load\n weight 2\n}}\n{}",
        vs(
            " real_server 10.0.0.21 8080 {\n  weight 10\n  FILE_CHECK {\n   track_file load\n  }\n }\n \
            real_server 10.0.0.22 8080 {\n  FILE_CHECK {\n   track_file flag\n  }\n }\n"
        )
    );
    let mut r = Run::new(&text);
    // Values read before start decide the start: flag 1 is a failure.
    r.verdict(0, 1, 0, Verdict::FileValue(1));
    r.verdict(0, 0, 0, Verdict::FileValue(3));
    r.input(Input::Start);
    assert_eq!(r.weights(), [("10.0.0.21:8080".to_string(), 16)]);
    r.verdict(0, 1, 0, Verdict::FileValue(0));
    r.verdict(0, 0, 0, Verdict::FileValue(-2));
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.21:8080".to_string(), 6),
            ("10.0.0.22:8080".to_string(), 1)
        ]
    );
    // Below IPVS_WEIGHT_FAULT the checker fails.
    r.verdict(0, 0, 0, Verdict::FileValue(i64::from(i32::MIN)));
    assert_eq!(r.weights(), [("10.0.0.22:8080".to_string(), 1)]);
    r.verdict(0, 0, 0, Verdict::FileValue(1));
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.21:8080".to_string(), 12),
            ("10.0.0.22:8080".to_string(), 1)
        ]
    );
}

#[test]
fn weight_zero_servers_are_in_the_table_but_not_in_quorum() {
    // real_weight 0: IPVS keeps the destination and sends it no new connections.
    let body = format!(
        " quorum 1\n quorum_down /bin/qdown\n{}{}",
        rs("10.0.0.21", "  weight 0"),
        rs("10.0.0.22", "  weight 1")
    );
    let mut r = Run::started(&vs(&body));
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.21:8080".to_string(), 0),
            ("10.0.0.22:8080".to_string(), 1)
        ]
    );
    let out = r.verdict(0, 1, 0, Verdict::Down);
    assert!(logs(&out).contains(&format!("Lost quorum 1-0=1 > 0 for VS {VS}")));
}

#[test]
fn ha_suspend_follows_the_vip() {
    // check_api.c update_checker_activity / register_checkers_thread.
    let text = format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n \
         virtual_ipaddress {{\n  192.168.5.10\n }}\n}}\n{}",
        vs(&format!(" ha_suspend\n{}", rs("10.0.0.21", "")))
    );
    let mut r = Run::new(&text);
    let out = r.input(Input::Start);
    assert!(out.contains(&Action::CheckersEnabled {
        vs: VirtualServerId(0),
        enabled: false
    }));
    assert!(logs(&out).contains(&format!(
        "Deactivating healthchecker for service [10.0.0.21]:tcp:8080 for VS {VS}"
    )));
    assert!(!r.services.checkers_enabled(VirtualServerId(0)));
    let out = r.input(Input::VrrpState {
        instance: "VI_1",
        master: true,
    });
    assert_eq!(
        logs(&out),
        [format!(
            "Activating healthchecker for service [10.0.0.21]:tcp:8080 for VS {VS}"
        )]
    );
    assert!(r.services.checkers_enabled(VirtualServerId(0)));
    // The address added by hand keeps them running when VRRP lets go.
    r.input(Input::LocalAddress {
        address: "192.168.5.10".parse().unwrap(),
        present: true,
    });
    let out = r.input(Input::VrrpState {
        instance: "VI_1",
        master: false,
    });
    assert!(out.is_empty());
    let out = r.input(Input::LocalAddress {
        address: "192.168.5.10".parse().unwrap(),
        present: false,
    });
    assert!(out.contains(&Action::CheckersEnabled {
        vs: VirtualServerId(0),
        enabled: false
    }));
    assert!(logs(&out)[0].starts_with("Suspending healthchecker"));
}

#[test]
fn reloading_the_same_configuration_changes_nothing() {
    let text = vs(&format!(
        " sorry_server 10.0.0.99 8080\n quorum 2\n{}{}",
        rs("10.0.0.21", "  alpha"),
        rs("10.0.0.22", "")
    ));
    let mut r = Run::started(&text);
    r.verdict(0, 1, 0, Verdict::Down);
    let before = r.services.table().clone();
    let out = r.reload(&text);
    assert!(changes(&out).is_empty(), "{out:#?}");
    assert!(
        notifies(&out).is_empty() && fifo(&out).is_empty(),
        "{out:#?}"
    );
    assert_eq!(r.services.table(), &before);
}

#[test]
fn reload_removes_adds_and_reweighs_only_what_changed() {
    // clear_diff_services / clear_diff_rs: "service X no longer exist", notify_down.
    let old = vs(&format!(
        "{}{}",
        rs("10.0.0.21", "  notify_down /bin/down"),
        rs("10.0.0.22", "")
    ));
    let mut r = Run::started(&old);
    r.verdict(0, 1, 0, Verdict::Down);
    let new = vs(&format!(
        "{}{}",
        rs("10.0.0.22", "  weight 4"),
        rs("10.0.0.23", "")
    ));
    let out = r.reload(&new);
    let l = logs(&out);
    assert_eq!(l[0], "service [10.0.0.21]:tcp:8080 no longer exist");
    assert_eq!(
        notifies(&out),
        [(NotifyKind::RealServerDown(rsid(0)), "/bin/down".to_string())]
    );
    // 10.0.0.22 kept its failed checker: still out; 10.0.0.23 comes in.
    assert_eq!(r.weights(), [("10.0.0.23:8080".to_string(), 1)]);
    // Its checker recovers with the new weight.
    r.verdict(0, 0, 0, Verdict::Up);
    assert_eq!(
        r.weights(),
        [
            ("10.0.0.22:8080".to_string(), 4),
            ("10.0.0.23:8080".to_string(), 1)
        ]
    );
    // A service that goes away leaves with its live servers' notifies.
    let other = "virtual_server 192.168.5.10 443 {\n protocol TCP\n lb_algo rr\n \
                 lb_kind NAT\n real_server 10.0.0.31 443 {\n }\n}\n";
    let out = r.reload(other);
    assert!(logs(&out).contains(&format!("Removing Virtual Server {VS}")));
    let c = changes(&out);
    assert!(c.iter().any(|c| matches!(c, Change::RemoveService(_))));
    assert!(c.iter().any(|c| matches!(c, Change::AddService(_))));
}

#[test]
fn reload_changes_the_scheduler_in_place() {
    let mut r = Run::started(&vs(&rs("10.0.0.21", "")));
    let out = r.reload(&vs(&rs("10.0.0.21", "")).replace("lb_algo wrr", "lb_algo rr"));
    match &changes(&out)[..] {
        [Change::EditService(s)] => assert_eq!(s.scheduler, baton_conf::Scheduler::Rr),
        other => panic!("{other:#?}"),
    }
}

/// A data plane in memory, as a backend sees the core.
#[derive(Default)]
struct Memory(baton_lvs::Table);

impl baton_lvs::Backend for Memory {
    type Error = String;
    fn apply(&mut self, changes: &[Change]) -> Result<(), String> {
        self.0.apply(changes);
        Ok(())
    }
}

#[test]
fn a_backend_applying_each_batch_holds_the_desired_table() {
    use baton_lvs::Backend;
    let mut r = Run::new(&vs(&format!(
        " sorry_server 10.0.0.99 8080\n quorum 2\n{}{}",
        rs("10.0.0.21", ""),
        rs("10.0.0.22", "  inhibit_on_failure")
    )));
    let mut plane = Memory::default();
    let feed = |out: Vec<Action>, plane: &mut Memory| {
        for a in out {
            if let Action::Apply(c) = a {
                plane.apply(&c).unwrap();
            }
        }
    };
    feed(r.input(Input::Start), &mut plane);
    feed(r.verdict(0, 0, 0, Verdict::Down), &mut plane);
    feed(r.verdict(0, 1, 0, Verdict::Down), &mut plane);
    feed(r.verdict(0, 0, 0, Verdict::Up), &mut plane);
    assert_eq!(&plane.0, r.services.table());
    // A backend that lost its state is brought back whole.
    let mut fresh = Memory::default();
    fresh.resync(r.services.table()).unwrap();
    assert_eq!(&fresh.0, r.services.table());
}
