//! What a virtual server means once loaded: keepalived's defaults, what a real server
//! inherits from its virtual server and a checker from its real server
//! (check_data.c validate_check_config), identifiers, and names.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use baton_conf::{
    CheckKind, CheckStatus, CheckerId, Config, DnsType, FakeHost, FakeScript, Family, Forwarding,
    LoadOptions, Loaded, RealServerId, Scheduler, TunnelChecksum, TunnelType, VirtualServerId,
    load_str,
};

fn load(text: &str) -> (Loaded, Config) {
    let host = FakeHost::new()
        .interface("eth0")
        .script("/bin/check", FakeScript::Executable);
    let l = load_str("k.conf", text, &LoadOptions::default(), &host);
    let c = l.config.clone().unwrap();
    (l, c)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const TIMINGS: &str = "
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 20
    connect_timeout 7
    retry 4
    virtualhost vs.example
    weight 3
    alpha
    real_server 192.0.2.21 80 {
        delay_loop 10
        delay_before_retry 2.5
        TCP_CHECK {
            warmup 0
            alpha off
        }
        HTTP_GET {
            url {
                path /
            }
            url {
                path /x
                virtualhost url.example
            }
        }
        DNS_CHECK {
            connect_timeout 1
        }
        MISC_CHECK {
            misc_path /bin/check
        }
    }
    real_server 192.0.2.22 80 {
        weight 0
        virtualhost rs.example
        HTTP_GET {
            retry 0
            url {
                path /
            }
        }
        DNS_CHECK {
            type AAAA
            name example.org
        }
    }
}
";

#[test]
fn checkers_inherit_from_real_and_virtual_servers() {
    let (l, c) = load(TIMINGS);
    // The MISC_CHECK program counts as a script: keepalived -t would exit 5.
    assert_eq!(
        l.status(),
        CheckStatus::ScriptSecurity,
        "{:#?}",
        l.diagnostics
    );
    let vs = &c.lvs.virtual_servers[0];
    let (a, b) = (&vs.real_servers[0], &vs.real_servers[1]);
    // Real servers: the virtual server's weight and alpha unless their own.
    assert_eq!((a.weight, a.alpha, b.weight), (3, true, 0));
    let [tcp, http, dns, misc] = &a.checkers[..] else {
        panic!()
    };
    // delay_loop: the real server's; warmup: the checker's (0), else delay_loop.
    assert_eq!(
        (tcp.delay_loop, tcp.warmup, tcp.alpha),
        (ms(10_000), ms(0), false)
    );
    assert_eq!((http.warmup, http.alpha), (ms(10_000), true));
    // retry: the virtual server's 4 everywhere it is not set closer.
    assert_eq!([tcp.retry, http.retry, dns.retry, misc.retry], [4, 4, 4, 4]);
    // delay_before_retry from the real server.
    assert!(
        [tcp, http, dns, misc]
            .iter()
            .all(|c| c.delay_before_retry == ms(2_500))
    );
    // connect_timeout: the checker's, else the virtual server's.
    assert_eq!(tcp.connection.as_ref().unwrap().timeout, ms(7_000));
    assert_eq!(dns.connection.as_ref().unwrap().timeout, ms(1_000));
    assert!(misc.connection.is_none());
    // MISC_CHECK times out after the virtual server's delay_loop.
    let CheckKind::Misc(m) = &misc.kind else {
        panic!()
    };
    assert_eq!(m.timeout, ms(20_000));
    // Host header: the URL's, else the checker's, the real server's, the virtual server's.
    let CheckKind::Http(h) = &http.kind else {
        panic!()
    };
    let hosts: Vec<_> = h.urls.iter().map(|u| u.virtualhost.as_deref()).collect();
    assert_eq!(hosts, [Some("vs.example"), Some("url.example")]);
    let CheckKind::Http(h) = &b.checkers[0].kind else {
        panic!()
    };
    assert_eq!(h.urls[0].virtualhost.as_deref(), Some("rs.example"));
    assert_eq!(b.checkers[0].retry, 0);
}

#[test]
fn each_checker_kind_has_keepalived_defaults() {
    let text = "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n \
                real_server 192.0.2.21 80 {\n  TCP_CHECK\n  HTTP_GET {\n   url {\n    path /\n   }\n  }\n  \
                DNS_CHECK\n  MISC_CHECK {\n   misc_path /bin/check\n  }\n  SMTP_CHECK\n  UDP_CHECK\n  PING_CHECK\n }\n}\n";
    let (_, c) = load(text);
    let checks = &c.lvs.virtual_servers[0].real_servers[0].checkers;
    let got: Vec<(&str, u32, Duration)> = checks
        .iter()
        .map(|c| (c.kind.keyword(), c.retry, c.delay_before_retry))
        .collect();
    // check_api.c queue_checker: retry 1, delay_before_retry 1 s; check_http.c 3 s;
    // check_dns.c retry 3 and delay_loop; check_misc.c retry 0.
    let s = Duration::from_secs;
    assert_eq!(
        got,
        [
            ("TCP_CHECK", 1, s(1)),
            ("HTTP_GET", 1, s(3)),
            ("DNS_CHECK", 3, s(60)),
            ("MISC_CHECK", 0, s(1)),
            ("SMTP_CHECK", 1, s(1)),
            ("UDP_CHECK", 1, s(1)),
            ("PING_CHECK", 1, s(1)),
        ]
    );
    for ch in checks {
        // delay_loop 60, warmup = delay_loop, connect_timeout 5, not alpha.
        assert_eq!((ch.delay_loop, ch.warmup, ch.alpha), (s(60), s(60), false));
        if let Some(co) = &ch.connection {
            assert_eq!(
                (co.dst.to_string(), co.timeout),
                ("192.0.2.21:80".into(), s(5))
            );
        }
    }
    let CheckKind::Dns(d) = &checks[2].kind else {
        panic!()
    };
    assert_eq!((d.query_type, d.name.as_str()), (DnsType::Soa, "."));
    let CheckKind::Smtp(m) = &checks[4].kind else {
        panic!()
    };
    assert_eq!(m.helo_name, "smtpchecker.keepalived.org");
    let CheckKind::Udp(u) = &checks[5].kind else {
        panic!()
    };
    assert_eq!((u.min_reply_length, u.max_reply_length), (0, 255));
}

#[test]
fn identifiers_are_positions() {
    let (_, c) = load(TIMINGS);
    let id = CheckerId {
        rs: RealServerId {
            vs: VirtualServerId(0),
            index: 1,
        },
        index: 1,
    };
    let ch = c.lvs.checker(id).unwrap();
    assert_eq!(ch.id, id);
    assert!(matches!(&ch.kind, CheckKind::Dns(d) if d.query_type == DnsType::Aaaa));
    assert_eq!(id.to_string(), "vs0.rs1.check1");
    let all: Vec<CheckerId> = c.lvs.checkers().map(|(_, _, c)| c.id).collect();
    assert_eq!(all.len(), 6);
    assert_eq!(all[5], id);
}

#[test]
fn forwarding_is_inherited_as_keepalived_copies_it() {
    // check_data.c alloc_rs copies the virtual server's method when the real server is
    // read; an unset one takes the final method at validation.
    let text = "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo sh\n \
                real_server 192.0.2.21 80 {\n }\n lb_kind DR\n real_server 192.0.2.22 80 {\n }\n \
                lb_kind TUN type gre csum\n real_server 192.0.2.23 80 {\n  lvs_method NAT\n }\n \
                sorry_server 192.0.2.99 80\n}\n";
    let (l, c) = load(text);
    let vs = &c.lvs.virtual_servers[0];
    let tun = Forwarding::Tun {
        tunnel: TunnelType::Gre,
        checksum: TunnelChecksum::Csum,
    };
    let got: Vec<Forwarding> = vs.real_servers.iter().map(|r| r.forwarding).collect();
    assert_eq!(got, [tun, Forwarding::Dr, Forwarding::Nat]);
    assert_eq!(vs.sorry_server.as_ref().unwrap().forwarding, tun);
    assert!(!tun.nftables_supported() && Forwarding::Dr.nftables_supported());
    // The tunnelled servers are said to keep the service out of the data plane.
    let unsupported = l
        .diagnostics
        .iter()
        .filter(|d| d.code == baton_conf::Code::LvsUnsupported)
        .count();
    assert_eq!(unsupported, 2, "{:#?}", l.diagnostics);
}

#[test]
fn groups_number_their_services_and_fwmarks_take_the_servers_family() {
    let text = "virtual_server_group G {\n 192.0.2.10 80\n}\n\
                virtual_server group G {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 192.0.2.21 80 {\n }\n}\n\
                virtual_server group G {\n protocol UDP\n lb_algo rr\n lb_kind NAT\n real_server 192.0.2.21 80 {\n }\n}\n\
                virtual_server fwmark 3 {\n lb_algo rr\n lb_kind NAT\n real_server 2001:db8::5 80 {\n }\n}\n";
    let (_, c) = load(text);
    let names: Vec<String> = c
        .lvs
        .virtual_servers
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(names, ["[G]:0", "[G]:1", "FWM 3"]);
    assert_eq!(c.lvs.virtual_servers[0].family, Family::Ipv4);
    assert_eq!(c.lvs.virtual_servers[2].family, Family::Ipv6);
    assert_ne!(
        c.lvs.virtual_servers[0].key(),
        c.lvs.virtual_servers[1].key()
    );
}

#[test]
fn schedulers_map_onto_what_nftables_can_do() {
    use Scheduler::*;
    let got: Vec<(Scheduler, Scheduler)> = Scheduler::ALL
        .iter()
        .map(|s| (*s, s.nftables_equivalent()))
        .collect();
    assert_eq!(
        got,
        [
            (Rr, Rr),
            (Wrr, Wrr),
            (Lc, Rr),
            (Wlc, Wrr),
            (Lblc, Dh),
            (Sh, Sh),
            (Mh, Mh),
            (Dh, Dh),
            (Fo, Fo),
            (Ovf, Fo),
            (Lblcr, Dh),
            (Sed, Wrr),
            (Nq, Wrr),
            (Twos, Wrr),
        ]
    );
    for s in Scheduler::ALL {
        assert_eq!(Scheduler::from_name(s.name()), Some(s));
    }
}

#[test]
fn a_configuration_of_virtual_servers_only_is_usable() {
    let (l, c) = load(
        "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n \
         real_server 192.0.2.21 80 {\n }\n}\n",
    );
    assert_eq!(l.status(), CheckStatus::Clean);
    assert!(c.instances.is_empty());
    assert_eq!(c.lvs.virtual_servers.len(), 1);
}

#[test]
fn the_dump_shows_virtual_servers() {
    let (_, c) = load(TIMINGS);
    let v = serde_json::to_value(&c).unwrap();
    let vs = &v["lvs"]["virtual_servers"][0];
    assert_eq!(vs["address"]["Ip"], "192.0.2.10:80");
    assert_eq!(vs["delay_loop"], 20.0);
    assert_eq!(vs["real_servers"][0]["checkers"][0]["kind"], "Tcp");
    assert_eq!(
        vs["real_servers"][1]["checkers"][1]["id"],
        serde_json::json!({"rs": {"vs": 0, "index": 1}, "index": 1})
    );
}

#[test]
fn interfaces_of_the_lvs_half_are_checked_on_the_host() {
    let (l, c) = load(
        "global_defs {\n lvs_sync_daemon eth9 inst VI_1 id 4\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.10\n }\n}\n\
         virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n \
         real_server 192.0.2.21 80 {\n  TCP_CHECK {\n   bind_if eth8\n  }\n }\n}\n",
    );
    let missing: Vec<String> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == baton_conf::Code::InterfaceMissing)
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        missing,
        [
            "lvs_sync_daemon eth9 does not exist on this host (yet)",
            "bind_if eth8 does not exist on this host (yet)"
        ]
    );
    let s = c.lvs.global.sync_daemon.unwrap();
    assert_eq!((s.sync_id, s.instance.as_deref()), (Some(4), Some("VI_1")));
}
