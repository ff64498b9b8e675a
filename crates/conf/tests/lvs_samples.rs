//! The virtual-server samples: one configuration of our own per LVS sample of keepalived's
//! doc/samples, covering the same keywords (tests/fixtures/lvs), loads with all its
//! virtual servers and means what keepalived.conf(5) says.
//!
//! keepalived's own samples are read too when `BATON_KEEPALIVED_SAMPLES` names its
//! doc/samples directory (a checkout, or Debian's /usr/share/doc/keepalived/samples):
//! every `virtual_server` they define must load. Without it that test says so and checks
//! nothing.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use baton_conf::{
    CheckKind, CheckStatus, Code, Config, FakeHost, FakeScript, Forwarding, FsSources, GroupEntry,
    HttpProtocol, LoadOptions, Loaded, Protocol, Scheduler, VirtualServerAddress, load_with,
};

fn host() -> FakeHost {
    let mut h = FakeHost::new().hostname("lb1");
    for i in ["eth0", "eth1"] {
        h = h.interface(i);
    }
    for s in [
        "/usr/local/bin/check-app",
        "/usr/local/bin/announce-up",
        "/usr/local/bin/announce-down",
    ] {
        h = h.script(s, FakeScript::Executable);
    }
    h
}

fn load_path(path: &Path) -> Loaded {
    load_with(path, &LoadOptions::default(), &FsSources, &host())
}

fn load(name: &str) -> (Loaded, Config) {
    let l = load_path(&Path::new("tests/fixtures/lvs").join(name));
    let errors: Vec<String> = l.errors().map(|d| d.log_line()).collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    let c = l.config.clone().unwrap();
    (l, c)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// How many `virtual_server` blocks a file has (comment lines left out).
fn blocks(text: &str) -> usize {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("virtual_server ") && !l.starts_with('#') && !l.starts_with('!'))
        .count()
}

#[test]
fn every_fixture_loads_all_its_virtual_servers() {
    let mut n = 0;
    for e in std::fs::read_dir("tests/fixtures/lvs").unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "conf") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let l = load_path(&path);
        let c = l.config.as_ref().unwrap();
        assert_eq!(
            c.lvs.virtual_servers.len(),
            blocks(&text),
            "{}: {:#?}",
            path.display(),
            l.diagnostics
        );
        n += 1;
    }
    assert_eq!(n, 16, "one fixture per LVS sample of keepalived");
}

#[test]
fn sample_with_sorry_server_and_http_get() {
    let (l, c) = load("sample.conf");
    // Only the SMTP settings are not implemented.
    assert!(
        l.diagnostics.iter().all(|d| d.code == Code::NotImplemented),
        "{:#?}",
        l.diagnostics
    );
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(vs.to_string(), "[203.0.113.5]:tcp:8443");
    assert_eq!(
        (vs.scheduler, vs.forwarding, vs.delay_loop, vs.quorum),
        (Scheduler::Rr, Forwarding::Nat, secs(10), 1)
    );
    assert_eq!(vs.persistence.as_ref().unwrap().timeout, secs(120));
    assert_eq!(
        vs.sorry_server.as_ref().unwrap().address,
        sa("198.51.100.250:8443")
    );
    let rs = &vs.real_servers[0];
    assert_eq!(
        (rs.weight, rs.alpha, rs.inhibit_on_failure),
        (2, false, false)
    );
    let ch = &rs.checkers[0];
    assert_eq!(
        (ch.retry, ch.delay_before_retry, ch.delay_loop, ch.warmup),
        (2, secs(2), secs(10), secs(10))
    );
    let co = ch.connection.as_ref().unwrap();
    assert_eq!((co.dst, co.timeout), (sa("198.51.100.21:8443"), secs(4)));
    let CheckKind::Http(h) = &ch.kind else {
        panic!()
    };
    assert_eq!((h.tls, h.protocol), (false, HttpProtocol::Http10));
    assert_eq!(h.urls[0].status_codes, [(200, 299)]);
}

#[test]
fn ssl_get_connects_to_its_own_port() {
    let (_, c) = load("http_get_port.conf");
    let ch = &c.lvs.virtual_servers[0].real_servers[0].checkers[0];
    assert!(matches!(&ch.kind, CheckKind::Http(h) if h.tls));
    assert_eq!(
        ch.connection.as_ref().unwrap().dst,
        sa("198.51.100.31:8444")
    );
}

#[test]
fn ipv6_group_and_smtp() {
    let (_, c) = load("ipv6.conf");
    let g = c.lvs.group("V6_POOL").unwrap();
    match &g.entries[0] {
        // IPv6 ranges count the last group in hex.
        GroupEntry::Addresses {
            first, last, port, ..
        } => assert_eq!(
            (first.to_string(), last.to_string(), *port),
            (
                "2001:db8:10::2".to_string(),
                "2001:db8:10::a".to_string(),
                80
            )
        ),
        e => panic!("{e:?}"),
    }
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(vs.to_string(), "[2001:db8:10::1]:tcp:80");
    // NAT may change the port.
    assert_eq!(vs.real_servers[0].address, sa("[2001:db8:20::10]:25"));
    let ch = &vs.real_servers[0].checkers[0];
    assert!(matches!(&ch.kind, CheckKind::Smtp(s) if s.helo_name == "check.example.org"));
}

#[test]
fn ping_check_retries() {
    let (_, c) = load("ping_check.conf");
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(vs.protocol, Some(Protocol::Udp));
    let ch = &vs.real_servers[0].checkers[0];
    assert_eq!((&ch.kind, ch.retry), (&CheckKind::Ping, 2));
}

#[test]
fn smtp_hosts_are_checkers_of_their_own() {
    let (l, c) = load("smtp_check.conf");
    assert_eq!(
        l.diagnostics
            .iter()
            .filter(|d| d.code == Code::Deprecated)
            .count(),
        4
    );
    let rs = &c.lvs.virtual_servers[0].real_servers;
    assert_eq!(rs[0].checkers.len(), 1);
    assert_eq!(
        rs[0].checkers[0].connection.as_ref().unwrap().dst,
        sa("198.51.100.51:25")
    );
    let dsts = |i: usize| -> Vec<SocketAddr> {
        rs[i]
            .checkers
            .iter()
            .map(|c| c.connection.as_ref().unwrap().dst)
            .collect()
    };
    // connect_timeout on the SMTP_CHECK is a connection option, so it checks too.
    assert_eq!(
        dsts(1),
        [
            sa("198.51.100.52:25"),
            sa("198.51.100.52:25"),
            sa("192.0.2.52:25")
        ]
    );
    assert_eq!(
        dsts(2),
        [
            sa("198.51.100.53:25"),
            sa("198.51.100.53:25"),
            sa("192.0.2.53:587")
        ]
    );
    let h = rs[2].checkers[1].connection.as_ref().unwrap();
    assert_eq!(
        (h.bindto, h.timeout),
        (Some("198.51.100.2".parse().unwrap()), secs(8))
    );
    assert!(rs[2].checkers.iter().all(|c| c.retry == 3));
}

#[test]
fn ssl_and_http_services_share_an_address() {
    let (_, c) = load("ssl_get.conf");
    let names: Vec<String> = c
        .lvs
        .virtual_servers
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(names, ["[203.0.113.40]:tcp:443", "[203.0.113.40]:tcp:80"]);
    for vs in &c.lvs.virtual_servers {
        let CheckKind::Http(h) = &vs.real_servers[0].checkers[0].kind else {
            panic!()
        };
        assert_eq!(h.urls.len(), 2);
        assert_eq!(h.urls[1].path, "/metrics/");
    }
}

#[test]
fn udp_checks() {
    let (_, c) = load("udp_check.conf");
    let rs = &c.lvs.virtual_servers[0].real_servers[0];
    let CheckKind::Udp(plain) = &rs.checkers[0].kind else {
        panic!()
    };
    assert_eq!((plain.payload.as_ref(), plain.require_reply), (None, false));
    let CheckKind::Udp(reply) = &rs.checkers[1].kind else {
        panic!()
    };
    assert_eq!(reply.payload.as_deref(), Some(&[0, 1, 2, 3][..]));
    let pattern = reply.reply.as_ref().unwrap();
    assert_eq!(
        (&pattern.data[..], &pattern.mask[..]),
        (&[0, 0][..], &[0, 0x0f][..])
    );
    assert_eq!(rs.checkers[1].retry, 1);
}

#[test]
fn fwmark_service_ignores_its_protocol() {
    let (l, c) = load("fwmark.conf");
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.code == Code::LvsAdjusted && d.span.line == 12)
    );
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(
        (&vs.address, vs.protocol, vs.to_string().as_str()),
        (&VirtualServerAddress::Fwmark(10), None, "FWM 10")
    );
    // NAT real servers of a firewall-mark service keep port 0: the packet's port.
    assert_eq!(vs.real_servers[0].address, sa("198.51.100.81:0"));
    assert_eq!(
        vs.real_servers[0].checkers[0]
            .connection
            .as_ref()
            .unwrap()
            .dst,
        sa("198.51.100.81:8080")
    );
}

#[test]
fn inhibit_and_misc_checks() {
    let (_, c) = load("inhibit.conf");
    assert!(c.lvs.virtual_servers[0].real_servers[0].inhibit_on_failure);
    let (_, c) = load("misc_check.conf");
    let ch = &c.lvs.virtual_servers[0].real_servers[0].checkers[0];
    let CheckKind::Misc(m) = &ch.kind else {
        panic!()
    };
    // MISC_CHECK: retry 0 by default, timeout the virtual server's delay_loop.
    assert_eq!(
        (m.dynamic, m.timeout, ch.retry, ch.connection.is_none()),
        (false, secs(9), 0, true)
    );
    let (_, c) = load("misc_check_arg.conf");
    let CheckKind::Misc(m) = &c.lvs.virtual_servers[0].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert_eq!(
        m.command.argv,
        ["/usr/local/bin/check-app", "--port", "7001", "--strict"]
    );
}

#[test]
fn quorum_alpha_omega() {
    let (_, c) = load("quorum.conf");
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(
        (vs.quorum, vs.hysteresis, vs.alpha, vs.omega),
        (4, 1, true, true)
    );
    assert_eq!(vs.scheduler, Scheduler::Wrr);
    assert_eq!(vs.real_servers.len(), 6);
    assert!(vs.real_servers.iter().all(|r| r.alpha));
    assert!(
        vs.real_servers
            .iter()
            .all(|r| r.checkers[0].alpha && r.address.port() == 8080)
    );
    assert_eq!(
        vs.quorum_down.as_ref().unwrap().argv,
        ["/usr/local/bin/announce-down"]
    );
}

#[test]
fn status_codes_and_group_and_virtualhost() {
    let (_, c) = load("status_code.conf");
    let CheckKind::Http(h) = &c.lvs.virtual_servers[0].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert_eq!(h.urls[0].status_codes, [(200, 204), (301, 302), (418, 418)]);
    assert!(h.urls[0].accepts(302) && !h.urls[0].accepts(303));
    assert_eq!(h.urls[1].status_codes, [(200, 200)]);

    let (_, c) = load("virtual_server_group.conf");
    let g = c.lvs.group("WEB").unwrap();
    assert_eq!(g.entries.len(), 6);
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(vs.to_string(), "[WEB]:0");
    assert_eq!(vs.protocol, Some(Protocol::Tcp));
    match &g.entries[3] {
        GroupEntry::Addresses { first, last, .. } => assert_eq!(
            (first.to_string(), last.to_string()),
            ("198.51.100.203".to_string(), "198.51.100.209".to_string())
        ),
        e => panic!("{e:?}"),
    }

    let (_, c) = load("virtualhost.conf");
    let CheckKind::Http(h) = &c.lvs.virtual_servers[0].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert!(
        h.urls
            .iter()
            .all(|u| u.virtualhost.as_deref() == Some("shop.example.org"))
    );
}

#[test]
fn old_sync_daemon_interface() {
    let (l, c) = load("vrrp_lvs_syncd.conf");
    assert_eq!(l.status(), CheckStatus::Clean);
    let s = c.lvs.global.sync_daemon.unwrap();
    assert_eq!(
        (s.interface.as_str(), s.instance.as_deref(), s.sync_id),
        ("eth1", Some("VI_SYNC"), Some(62))
    );
}

/// keepalived's own samples, when a copy is at hand (not in CI: they are keepalived's,
/// GPL-licensed, and not committed here).
#[test]
fn keepalived_samples_load_every_virtual_server() {
    let Some(dir) = std::env::var_os("BATON_KEEPALIVED_SAMPLES") else {
        eprintln!(
            "skipped: set BATON_KEEPALIVED_SAMPLES to keepalived's doc/samples (or \
             /usr/share/doc/keepalived/samples) to load keepalived's own samples"
        );
        return;
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("keepalived.conf."))
        })
        .collect();
    entries.sort();
    let mut with_lvs = 0;
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = blocks(&text);
        let l = load_path(&path);
        let loaded = l.config.as_ref().map_or(0, |c| c.lvs.virtual_servers.len());
        eprintln!(
            "{}: {loaded}/{expected} virtual servers, status {}",
            path.display(),
            l.status() as u8
        );
        for d in &l.diagnostics {
            eprintln!("  [{}] {}", d.code, d.log_line());
        }
        assert_eq!(loaded, expected, "{}", path.display());
        with_lvs += usize::from(expected > 0);
    }
    assert!(
        with_lvs >= 15,
        "only {with_lvs} samples with virtual servers"
    );
}
