//! keepalived's own sample configurations (doc/samples, unmodified) load, and mean what
//! keepalived.conf(5) says they mean.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use baton_conf::{
    Authentication, CheckKind, CheckStatus, Code, Config, FakeHost, FakeScript, Forwarding,
    FsSources, InitialState, LoadOptions, Loaded, RouteKind, Scheduler, Scope, load_with,
};
use baton_wire::Version;

fn host() -> FakeHost {
    let mut h = FakeHost::new().hostname("lb1");
    for i in ["eth0", "eth1", "eth2", "eth3", "eth0.1"] {
        h = h.interface(i);
    }
    for s in [
        "killall",
        "/usr/local/bin/vrrp.back",
        "/usr/local/bin/vrrp.mast",
        "/usr/local/bin/vrrp.fault",
        "/usr/local/bin/vrrp.sh",
        "/etc/keepalived/scripts/check_high_VI_0.sh",
        "/etc/keepalived/scripts/check_low_VI_0.sh",
    ] {
        h = h.script(s, FakeScript::Executable);
    }
    h
}

fn load_id(name: &str, id: &str) -> Loaded {
    let path = format!("tests/fixtures/keepalived-samples/{name}");
    let opts = LoadOptions {
        config_id: Some(id.to_string()),
        ..LoadOptions::default()
    };
    load_with(Path::new(&path), &opts, &FsSources, &host())
}

fn load(name: &str) -> (Loaded, Config) {
    let loaded = load_id(name, "lb1");
    let config = loaded.config.clone().unwrap();
    (loaded, config)
}

fn codes(l: &Loaded) -> Vec<(Code, u32)> {
    l.diagnostics
        .iter()
        .map(|d| (d.code, d.span.line))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn vrrp() {
    let (l, c) = load("keepalived.conf.vrrp");
    assert_eq!(l.status(), CheckStatus::Clean, "{:#?}", l.diagnostics);
    // SMTP settings load and are said, once each, to be not implemented.
    assert_eq!(
        codes(&l),
        vec![
            (Code::NotImplemented, 4),
            (Code::NotImplemented, 7),
            (Code::NotImplemented, 8),
            (Code::NotImplemented, 9),
            (Code::NotImplemented, 17),
            // 192.168.200.18 is listed twice, the second time with a label.
            (Code::VipDuplicate, 32),
        ]
    );
    assert_eq!(c.global.router_id.as_deref(), Some("LVS_DEVEL"));
    let names: Vec<&str> = c.instances.iter().map(|i| &*i.name).collect();
    assert_eq!(names, ["VI_1", "VI_2", "VI_3", "VI_4"]);
    let vi1 = c.instance("VI_1").unwrap();
    assert_eq!(
        (vi1.state, vi1.priority, vi1.vrid),
        (InitialState::Master, 100, 51)
    );
    assert_eq!(vi1.garp.master_delay, Duration::from_secs(10));
    assert_eq!(
        vi1.auth.as_deref(),
        Some(&Authentication::Pass("1111".into()))
    );
    assert_eq!(vi1.vips.len(), 3);
    let vi2 = c.instance("VI_2").unwrap();
    assert_eq!(
        (vi2.state, vi2.priority, vi2.auth.is_none()),
        (InitialState::Backup, 50, true)
    );
    assert_eq!(vi2.garp.master_delay, Duration::from_secs(5));
}

#[test]
fn vrrp_localcheck() {
    let (l, c) = load("keepalived.conf.vrrp.localcheck");
    // The three `</dev/tcp/…` checks are keepalived's "system" commands: they run through
    // /bin/sh, as keepalived runs them, and are kept.
    assert_eq!(c.scripts.len(), 5);
    let vi1 = c.instance("VI_1").unwrap();
    let w: Vec<(&str, Option<i32>)> = vi1
        .tracking
        .interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(w, [("eth1", Some(2)), ("eth2", Some(-2)), ("eth3", None)]);
    // chk_sshd keeps the script's weight, chk_haproxy takes the one written.
    let s: Vec<(&str, Option<i32>)> = vi1
        .tracking
        .scripts
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(
        s,
        [
            ("chk_sshd", Some(-4)),
            ("chk_haproxy", Some(2)),
            ("chk_http_port", Some(-2)),
            ("chk_https_port", Some(-2)),
            ("chk_smtp_port", Some(-2))
        ]
    );
    assert_eq!(
        c.script("chk_sshd").unwrap().command.argv,
        ["killall", "-0", "sshd"]
    );
    let port = c.script("chk_http_port").unwrap();
    assert!(port.command.runs_through_shell());
    assert!(
        !l.diagnostics.iter().any(|d| d.code == Code::ScriptNotFound),
        "{:#?}",
        l.diagnostics
    );
    let vi2 = c.instance("VI_2").unwrap();
    let tracked: Vec<&str> = vi2
        .tracking
        .scripts
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert!(tracked.contains(&"chk_http_port"), "{tracked:?}");
    assert_eq!(c.instances.len(), 9);
}

#[test]
fn vrrp_scripts() {
    let (l, c) = load("keepalived.conf.vrrp.scripts");
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    assert_eq!(l.status(), CheckStatus::ScriptSecurity);
    let g = &c.sync_groups[0];
    assert_eq!(
        (g.name.as_str(), g.members.clone()),
        ("G1", vec!["VI_2".to_string(), "VI_3".to_string()])
    );
    assert_eq!(
        g.notify.backup.as_ref().unwrap().argv,
        ["/usr/local/bin/vrrp.back", "arg1", "arg2"]
    );
    let vi1 = c.instance("VI_1").unwrap();
    assert_eq!(
        vi1.notify.fault.as_ref().unwrap().argv,
        ["/usr/local/bin/vrrp.sh", "FAULT", "VI_1"]
    );
    assert_eq!(c.sync_group_of("VI_3").unwrap().name, "G1");
}

#[test]
fn vrrp_sync() {
    let (l, c) = load("keepalived.conf.vrrp.sync");
    assert_eq!(codes(&l), [(Code::ScriptSecurity, 13)]);
    assert_eq!(c.sync_groups.len(), 2);
    assert_eq!(c.sync_groups[0].members.len(), 7);
    assert_eq!(c.sync_groups[1].members, ["VI_3", "VI_4"]);
    assert_eq!(c.instances.len(), 9);
    assert_eq!(c.instance("VI_2").unwrap().vips[0].prefix_len, 26);
}

#[test]
fn vrrp_routes() {
    let (l, c) = load("keepalived.conf.vrrp.routes");
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    assert_eq!(c.static_routes.len(), 5);
    let r = &c.static_routes[0];
    assert_eq!(
        (r.src, r.dst, r.dst_len, r.via, r.dev.as_deref()),
        (
            Some(ip("192.168.100.1")),
            ip("192.168.209.0"),
            24,
            Some(ip("192.168.200.254")),
            Some("eth0")
        )
    );
    assert_eq!(c.static_routes[3].scope, Some(Scope::Site));
    assert_eq!(c.static_routes[4].scope, Some(Scope::Link));
    let vi = &c.instances[0];
    assert_eq!(vi.virtual_routes.len(), 7);
    assert_eq!(vi.virtual_routes[3].via, Some(ip("192.168.100.254")));
    assert_eq!(vi.virtual_routes[2].kind, RouteKind::Unicast);
    // `via A or B`: B is an alternative gateway.
    let or = &vi.virtual_routes[4];
    assert_eq!(or.via, Some(ip("192.168.100.252")));
    assert_eq!(or.nexthops[0].via, Some(ip("192.168.100.253")));
    let bh = &vi.virtual_routes[5];
    assert_eq!(
        (bh.kind, bh.dst, bh.dst_len),
        (RouteKind::Blackhole, ip("192.168.113.1"), 32)
    );
    let default = &vi.virtual_routes[6];
    assert_eq!(
        (default.dst_len, default.via, default.table),
        (0, Some(ip("192.168.0.1")), Some(100))
    );
    let devs: Vec<Option<&str>> = vi.vips.iter().map(|v| v.dev.as_deref()).collect();
    assert_eq!(devs, [None, Some("eth1"), Some("eth2")]);
}

#[test]
fn vrrp_rules_reports_the_malformed_prefix() {
    let l = load_id("keepalived.conf.vrrp.rules", "lb1");
    let errors: Vec<(Code, u32, u32)> = l
        .errors()
        .map(|d| (d.code, d.span.line, d.span.col))
        .collect();
    assert_eq!(
        errors,
        [(Code::InvalidValue, 11, 8), (Code::InvalidValue, 26, 12)]
    );
    let c = l.config.unwrap();
    assert_eq!(c.static_rules.len(), 1);
    assert_eq!(c.static_rules[0].from, Some((ip("192.168.100.0"), 24)));
    assert_eq!(c.static_rules[0].table, Some(1));
    assert_eq!(c.instances[0].virtual_rules.len(), 1);
}

#[test]
fn vrrp_static_ipaddress() {
    let (l, c) = load("keepalived.conf.vrrp.static_ipaddress");
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    let s: Vec<(IpAddr, Option<&str>, Scope)> = c
        .static_addresses
        .iter()
        .map(|a| (a.addr, a.dev.as_deref(), a.scope))
        .collect();
    assert_eq!(
        s,
        [
            (ip("192.168.200.16"), Some("eth0"), Scope::Link),
            (ip("192.168.200.17"), Some("eth1"), Scope::Link),
            (ip("192.168.200.18"), Some("eth2"), Scope::Global),
        ]
    );
}

#[test]
fn vrrp_lvs_syncd_legacy_group() {
    let l = load_id("keepalived.conf.vrrp.lvs_syncd", "lb1");
    // Members listed without `group { }` are unknown keywords to keepalived too; the group
    // is left empty and dropped.
    assert_eq!(
        codes(&l)[..4],
        [
            (Code::SyncGroupEmpty, 3),
            (Code::UnknownKeyword, 4),
            (Code::UnknownKeyword, 5),
            (Code::Deprecated, 11),
        ]
    );
    // keepalived -t counts unknown keywords as errors (exit 5); so does baton.
    assert_eq!(l.status(), CheckStatus::Errors);
    assert!(!l.has_errors(), "the daemon still loads and reloads it");
    let c = l.config.unwrap();
    assert!(c.sync_groups.is_empty());
    assert_eq!(c.instances.len(), 3);
    assert_eq!(
        c.instances[0].auth.as_deref(),
        Some(&Authentication::Pass("grr02".into()))
    );
    // The instance's old lvs_sync_daemon_interface becomes the global sync daemon,
    // following VI_1 with its VRID as sync id.
    let sd = c.lvs.global.sync_daemon.as_ref().unwrap();
    assert_eq!(
        (sd.interface.as_str(), sd.instance.as_deref(), sd.sync_id),
        ("eth1", Some("VI_1"), Some(51))
    );
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(vs.to_string(), "[192.168.200.19]:tcp:80");
    assert_eq!(vs.delay_loop, Duration::from_secs(20));
    let rs = &vs.real_servers[0];
    assert_eq!(rs.address, "192.168.201.100:80".parse().unwrap());
    let tcp = &rs.checkers[0];
    assert_eq!(tcp.kind, CheckKind::Tcp);
    let co = tcp.connection.as_ref().unwrap();
    assert_eq!(
        (co.dst, co.timeout),
        (
            "192.168.201.100:80".parse().unwrap(),
            Duration::from_secs(3)
        )
    );
    // TCP_CHECK's defaults: retry 1, delay_before_retry 1 s, warmup = delay_loop.
    assert_eq!(
        (tcp.retry, tcp.delay_before_retry, tcp.warmup),
        (1, Duration::from_secs(1), Duration::from_secs(20))
    );
}

#[test]
fn conditional_conf_follows_the_config_id() {
    for (id, prio, script) in [
        ("high", 170, "/etc/keepalived/scripts/check_high_VI_0.sh"),
        ("low", 85, "/etc/keepalived/scripts/check_low_VI_0.sh"),
    ] {
        let l = load_id("keepalived.conf.conditional_conf", id);
        assert!(!l.has_errors(), "{:#?}", l.diagnostics);
        let c = l.config.unwrap();
        let vi = &c.instances[0];
        assert_eq!(vi.priority, prio);
        assert_eq!(
            (vi.version, vi.advert_int),
            (Version::V3, Duration::from_secs(12))
        );
        assert!(vi.use_vmac);
        let s = c.script("check_VI_0").unwrap();
        assert_eq!(s.command.argv, [script]);
        assert_eq!((s.timeout, s.rise, s.fall), (Duration::from_secs(10), 3, 3));
        // check_VI_0 has weight 0: failure puts the instance in FAULT.
        assert_eq!(vi.tracking.scripts[0].weight, Some(0));
        let ifs: Vec<(&str, Option<i32>)> = vi
            .tracking
            .interfaces
            .iter()
            .map(|t| (t.name.as_str(), t.weight))
            .collect();
        assert_eq!(ifs, [("eth3", None), ("eth2", Some(20))]);
    }
    // Neither id: no priority line survives, so the default applies.
    let l = load_id("keepalived.conf.conditional_conf", "other");
    assert_eq!(l.config.unwrap().instances[0].priority, 100);
}

#[test]
fn sample_with_nopreempt_and_virtual_server() {
    let (l, c) = load("keepalived.conf.sample");
    assert_eq!(l.status(), CheckStatus::Clean);
    let vi = &c.instances[0];
    assert!(vi.nopreempt);
    assert_eq!(vi.state, InitialState::Backup);
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(vs.to_string(), "[10.10.10.2]:tcp:1358");
    assert_eq!(
        (vs.scheduler, vs.forwarding, vs.delay_loop),
        (Scheduler::Rr, Forwarding::Nat, Duration::from_secs(6))
    );
    assert_eq!(
        vs.persistence.as_ref().unwrap().timeout,
        Duration::from_secs(50)
    );
    let sorry = vs.sorry_server.as_ref().unwrap();
    assert_eq!(sorry.address, "192.168.200.200:1358".parse().unwrap());
    assert!(!sorry.inhibit);
    let http = &vs.real_servers[0].checkers[0];
    let CheckKind::Http(h) = &http.kind else {
        panic!("{:?}", http.kind)
    };
    assert!(!h.tls);
    assert_eq!(h.urls[0].path, "/testurl3/test.jsp");
    assert_eq!(h.urls[0].status_codes, [(200, 299)]);
    assert_eq!(h.urls[0].digest.unwrap()[..2], [0x64, 0x02]);
    assert_eq!(
        (http.retry, http.delay_before_retry),
        (3, Duration::from_secs(3))
    );
    assert_eq!(
        http.connection.as_ref().unwrap().timeout,
        Duration::from_secs(3)
    );
}

#[test]
fn track_interface_sample() {
    let (l, c) = load("keepalived.conf.track_interface");
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    assert_eq!(c.static_routes.len(), 4);
    let vi = &c.instances[0];
    assert_eq!(vi.interface.as_deref(), Some("eth0.1"));
    let t: Vec<&str> = vi
        .tracking
        .interfaces
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(t, ["eth0", "eth1"]);
    assert_eq!(vi.virtual_routes.len(), 3);
}
