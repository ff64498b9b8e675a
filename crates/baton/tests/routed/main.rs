//! Beyond one L2 segment: VIPs as host routes in routing table 100, installed by baton while
//! an instance is MASTER and announced by BGP through FRR or BIRD 2 on the load balancer to an
//! upstream FRR router. Primary/backup (one VRRP instance across the router by unicast) and
//! anycast (each load balancer alone, the route following nginx's health; the router keeps
//! one ECMP next hop per healthy load balancer). Timings are printed as `ROUTED …` lines:
//! baton's part (nginx's death → the route gone from the load balancer's kernel), the
//! router's (→ gone from the router's kernel) and the client's (→ first answer from the
//! survivor), one run each, of whatever baton `cargo test` built (a debug build, several
//! times slower on baton's part than the release build). The targets are judged on the
//! release build, over several runs, by `bench/run --only routed` (docs/PERFORMANCE.md).
//! Root only; FRR and BIRD from Debian's frr and bird2 packages. The lab itself is
//! `baton_lab::routed`, which the benchmark runner's `routed` section builds too.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use baton_lab::routed::{
    self as topo, LB, LB6, MAIN, RouteWatch, Routed, Setup, Speaker, TABLE, VIP, VIP6, baton_conf,
};
use baton_lab::{HostSpec, Lab, Signal, ms, secs, wait_until};

const BATON: &str = env!("CARGO_BIN_EXE_baton");
const V4: IpAddr = IpAddr::V4(VIP);

fn lab(name: &str, speaker: Speaker, bfd: bool) -> Routed {
    let setup = Setup {
        speaker,
        bfd,
        ipv6: false,
    };
    Routed::new(name, Path::new(BATON), setup).unwrap()
}

/// Targets from the issue.
const BATON_TARGET: Duration = Duration::from_millis(5);
const ROUTER_TARGET: Duration = Duration::from_millis(300);
/// FRR's BFD detection time as configured (100 ms × 3), plus the allowance.
const BFD_DETECT: Duration = Duration::from_millis(300);
const BFD_SLACK: Duration = Duration::from_millis(100);

fn root(test: &str) -> bool {
    if baton_lab::require_root() {
        return true;
    }
    eprintln!("{test}: skipped, needs root for network namespaces");
    false
}

fn ms_f(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn verdict(d: Duration, target: Duration) -> &'static str {
    if d <= target { "met" } else { "not met" }
}

/// What one service death cost, measured from the kill.
#[derive(Debug)]
struct Takeover {
    baton: Option<Duration>,
    router: Duration,
    answer: Duration,
}

impl Takeover {
    fn print(&self, case: &str) {
        let baton = self.baton.map_or("n/a".to_string(), |b| {
            let build = if cfg!(debug_assertions) {
                "debug build"
            } else {
                "release build"
            };
            format!(
                "{} ({build}; target < 5 ms: {})",
                ms_f(b),
                verdict(b, BATON_TARGET)
            )
        });
        println!(
            "ROUTED {case}: baton's part {baton}; withdrawn at the router {} (target < 300 ms: {}); \
             first answer from the survivor {}",
            ms_f(self.router),
            verdict(self.router, ROUTER_TARGET),
            ms_f(self.answer)
        );
    }
}

/// Kill `dead`'s nginx (or run `kill`) and time the takeover by `survivor`.
fn time_death(
    t: &mut Routed,
    dead: usize,
    survivor_hops: &[Ipv4Addr],
    kill: impl FnOnce(&mut Routed),
) -> Takeover {
    let lb_watch = RouteWatch::start(&t.lbs[dead]).unwrap();
    let r_watch = RouteWatch::start(&t.r).unwrap();
    std::thread::sleep(ms(50));
    let survivors: Vec<String> = (0..2)
        .filter(|i| *i != dead)
        .map(|i| format!("lb{}", i + 1))
        .collect();
    let t0 = Instant::now();
    kill(t);
    // The first HTTP answer with a survivor's name (a refused connection is no answer).
    let answer = wait_until("an answer from the survivor", secs(10), ms(1), || {
        Ok::<bool, std::convert::Infallible>(t.get().is_ok_and(|b| survivors.contains(&b)))
    })
    .unwrap();
    t.wait_next_hops(survivor_hops, secs(10)).unwrap();
    std::thread::sleep(ms(20));
    let gw = IpAddr::V4(LB[dead]);
    let baton = lb_watch
        .withdrawn_after(t0, V4, TABLE, None)
        .map(|w| w - t0);
    let router = r_watch
        .withdrawn_after(t0, V4, MAIN, Some(gw))
        .unwrap_or_else(|| panic!("no withdrawal seen at the router: {:?}", r_watch.events()))
        - t0;
    Takeover {
        baton,
        router,
        answer,
    }
}

/// Two load balancers, one VIP, one master: the router's route points at the master; nginx
/// dying on it, then baton stopping on it, moves the route and the client's answers.
fn primary_backup(speaker: Speaker, name: &str) {
    let mut t = lab(name, speaker, false);
    for i in 0..2 {
        t.start_nginx(i).unwrap();
        t.write_baton_conf(i, &baton_conf(i, false, &[V4])).unwrap();
        t.start_baton(i).unwrap();
    }
    t.wait_next_hops(&[LB[0]], secs(20)).unwrap();
    wait_until("the client answered by lb1", secs(5), ms(20), || {
        t.get().map(|b| b == "lb1")
    })
    .map_err(|e| {
        let trace = t.client.cmd(["ip", "route", "get", "10.100.0.1"]).unwrap_or_default()
            + &t.r.cmd(["ip", "route"]).unwrap_or_default()
            + &t.lbs[0].cmd(["ip", "route", "get", "10.0.3.2", "from", "10.100.0.1"]).unwrap_or_default()
            + &t.client.sh("for a in 10.0.3.1/179 10.0.1.2/80 10.100.0.1/80; do timeout 1 bash -c \"echo > /dev/tcp/${a%/*}/${a#*/}\" && echo ok $a || echo fail $a; done").unwrap_or_else(|e| e.to_string())
            + &t.r.sh("for a in 10.0.1.2/80 10.100.0.1/80; do timeout 1 bash -c \"echo > /dev/tcp/${a%/*}/${a#*/}\" && echo ok $a || echo fail $a; done").unwrap_or_else(|e| e.to_string())
            + &t.lbs[0].sh("nft list ruleset; sysctl -a 2>/dev/null | grep -E \"rp_filter|accept_local|route_localnet\"; ip rule").unwrap_or_else(|e| e.to_string())
            + &t.lbs[0].cmd(["ip", "route", "get", "10.100.0.1"]).unwrap_or_default();
        anyhow::anyhow!("{e}\n{trace}")
    })
    .unwrap();
    // The backup installs nothing; the pair elected across the router (adverts at TTL 254).
    assert_eq!(t.baton_routes(1).unwrap(), "");
    assert!(
        t.baton_routes(0)
            .unwrap()
            .contains("10.100.0.1 dev lo table 100")
    );

    let nginx_death = time_death(&mut t, 0, &[LB[1]], |t| {
        t.nginx[0].as_ref().unwrap().kill().unwrap()
    });
    assert_eq!(t.get().unwrap(), "lb2");
    assert_eq!(
        t.baton_routes(0).unwrap(),
        "",
        "the faulted master left a route"
    );
    nginx_death.print(&format!(
        "{speaker:?} primary/backup, nginx killed on the master"
    ));

    // nginx back on lb1: it preempts, the route comes back.
    t.start_nginx(0).unwrap();
    t.wait_next_hops(&[LB[0]], secs(10)).unwrap();
    assert_eq!(t.get().unwrap(), "lb1");

    let stop = time_death(&mut t, 0, &[LB[1]], |t| {
        t.batons[0]
            .as_ref()
            .unwrap()
            .signal(Signal::SIGTERM)
            .unwrap()
    });
    assert_eq!(t.get().unwrap(), "lb2");
    assert_eq!(
        t.baton_routes(0).unwrap(),
        "",
        "a stopped baton left a route"
    );
    stop.print(&format!(
        "{speaker:?} primary/backup, baton stopped on the master"
    ));
    if speaker == Speaker::Frr {
        assert!(nginx_death.router < secs(5));
    }
}

/// Each load balancer alone: both announce, the router load-shares; one nginx dies and its
/// next hop goes. With BFD, a load balancer cut off whole goes within the detection time.
fn anycast(speaker: Speaker, name: &str, bfd: bool) {
    let mut t = lab(name, speaker, bfd);
    for i in 0..2 {
        t.start_nginx(i).unwrap();
        t.write_baton_conf(i, &baton_conf(i, true, &[V4])).unwrap();
        t.start_baton(i).unwrap();
    }
    t.wait_next_hops(&LB, secs(20)).unwrap();
    let death = time_death(&mut t, 1, &[LB[0]], |t| {
        t.nginx[1].as_ref().unwrap().kill().unwrap()
    });
    assert_eq!(t.get().unwrap(), "lb1");
    let bfd_word = if bfd { "BFD on" } else { "BFD off" };
    death.print(&format!(
        "{speaker:?} anycast ({bfd_word}), nginx killed on lb2"
    ));

    t.start_nginx(1).unwrap();
    t.wait_next_hops(&LB, secs(10)).unwrap();
    if !bfd {
        return;
    }
    // lb2 cut off whole: its link goes down, nothing is withdrawn by BGP; BFD notices.
    let r_watch = RouteWatch::start(&t.r).unwrap();
    let t0 = Instant::now();
    t.lbs[1].link_down("eth0").unwrap();
    t.wait_next_hops(&[LB[0]], secs(10)).unwrap();
    let gone = r_watch
        .withdrawn_after(t0, V4, MAIN, Some(IpAddr::V4(LB[1])))
        .unwrap()
        - t0;
    let target = BFD_DETECT + BFD_SLACK;
    println!(
        "ROUTED {speaker:?} anycast, lb2 cut off (link down): withdrawn at the router {} \
         (target < BFD detection 300 ms + 100 ms: {})",
        ms_f(gone),
        verdict(gone, target)
    );
    assert_eq!(t.get().unwrap(), "lb1");
    // Its own link down faults lb2's instance: its route goes from its kernel too.
    wait_until("lb2 to remove its route", secs(5), ms(10), || {
        t.baton_routes(1).map(|r| r.is_empty())
    })
    .unwrap();
}

#[test]
fn frr_primary_backup_route_follows_the_master() {
    if root("frr_primary_backup_route_follows_the_master") {
        primary_backup(Speaker::Frr, "routed-frr-pb");
    }
}

#[test]
fn frr_anycast_ecmp_next_hop_follows_nginx() {
    if root("frr_anycast_ecmp_next_hop_follows_nginx") {
        anycast(Speaker::Frr, "routed-frr-any", false);
    }
}

#[test]
fn frr_anycast_with_bfd_withdraws_a_cut_off_load_balancer() {
    if root("frr_anycast_with_bfd_withdraws_a_cut_off_load_balancer") {
        anycast(Speaker::Frr, "routed-frr-bfd", true);
    }
}

#[test]
fn bird_primary_backup_route_follows_the_master() {
    if root("bird_primary_backup_route_follows_the_master") {
        primary_backup(Speaker::Bird, "routed-bird-pb");
    }
}

#[test]
fn bird_anycast_ecmp_next_hop_follows_nginx() {
    if root("bird_anycast_ecmp_next_hop_follows_nginx") {
        anycast(Speaker::Bird, "routed-bird-any", false);
    }
}

/// IPv6: a /128 VIP beside the /32 in the same `virtual_routes`, learned by BIRD from table
/// 100 and announced over an IPv6 session. The router's IPv6 route follows the master when
/// nginx dies on it and when it comes back; after both batons stop nothing of theirs is left
/// in either family and the router has no route to the VIP.
#[test]
fn bird_ipv6_route_follows_the_master() {
    if !root("bird_ipv6_route_follows_the_master") {
        return;
    }
    let setup = Setup {
        speaker: Speaker::Bird,
        bfd: false,
        ipv6: true,
    };
    let mut t = Routed::new("routed-bird-v6", Path::new(BATON), setup).unwrap();
    let v6 = IpAddr::V6(VIP6);
    let hop = |i: usize| [IpAddr::V6(LB6[i])];
    for i in 0..2 {
        t.start_nginx(i).unwrap();
        t.write_baton_conf(i, &baton_conf(i, false, &[V4, v6]))
            .unwrap();
        t.start_baton(i).unwrap();
    }
    t.wait_next_hops_for(v6, &hop(0), secs(20)).unwrap();
    t.wait_next_hops(&[LB[0]], secs(5)).unwrap();
    wait_until("lb1 to answer on the IPv6 VIP", secs(5), ms(20), || {
        t.get_from(v6).map(|b| b == "lb1")
    })
    .unwrap();
    let held = t.baton_routes(0).unwrap();
    assert!(held.contains("fd00:100::1 dev lo table 100"), "{held}");
    assert!(held.contains("10.100.0.1 dev lo table 100"), "{held}");
    assert_eq!(t.baton_routes(1).unwrap(), "");

    let lb_watch = RouteWatch::start(&t.lbs[0]).unwrap();
    let r_watch = RouteWatch::start(&t.r).unwrap();
    std::thread::sleep(ms(50));
    let t0 = Instant::now();
    t.nginx[0].as_ref().unwrap().kill().unwrap();
    let answer = wait_until(
        "an answer from lb2 on the IPv6 VIP",
        secs(10),
        ms(1),
        || Ok::<bool, std::convert::Infallible>(t.get_from(v6).is_ok_and(|b| b == "lb2")),
    )
    .unwrap();
    t.wait_next_hops_for(v6, &hop(1), secs(10)).unwrap();
    std::thread::sleep(ms(20));
    let baton = lb_watch
        .withdrawn_after(t0, v6, TABLE, None)
        .unwrap_or_else(|| panic!("lb1 never removed its /128: {:?}", lb_watch.events()))
        - t0;
    let router = r_watch
        .withdrawn_after(t0, v6, MAIN, Some(IpAddr::V6(LB6[0])))
        .unwrap_or_else(|| panic!("no IPv6 withdrawal at the router: {:?}", r_watch.events()))
        - t0;
    Takeover {
        baton: Some(baton),
        router,
        answer,
    }
    .print("Bird primary/backup IPv6, nginx killed on the master");
    assert_eq!(
        t.baton_routes(0).unwrap(),
        "",
        "the faulted master left a route"
    );
    assert!(
        t.baton_routes(1)
            .unwrap()
            .contains("fd00:100::1 dev lo table 100")
    );

    // nginx back on lb1: it preempts and the IPv6 route comes back with the IPv4 one.
    t.start_nginx(0).unwrap();
    t.wait_next_hops_for(v6, &hop(0), secs(10)).unwrap();
    t.wait_next_hops(&[LB[0]], secs(5)).unwrap();
    assert_eq!(t.get_from(v6).unwrap(), "lb1");
    assert_eq!(t.baton_routes(1).unwrap(), "", "the backup kept a route");

    // Both stop: nothing of baton's in any table of either family, nothing at the router.
    for i in [1, 0] {
        let p = t.batons[i].as_ref().unwrap();
        p.signal(Signal::SIGTERM).unwrap();
        assert!(
            p.wait_timeout(secs(5)).unwrap().is_some(),
            "baton on lb{} did not stop",
            i + 1
        );
        assert_eq!(
            t.baton_routes(i).unwrap(),
            "",
            "a stopped baton left a route"
        );
    }
    t.wait_next_hops_for(v6, &[], secs(10)).unwrap();
    t.wait_next_hops(&[], secs(5)).unwrap();
}

/// No route of baton's is left behind: not after SIGKILL and a restart with a changed
/// configuration, not after the link goes down, not after a reload that drops the VIP, not
/// after stop.
#[test]
fn nothing_stale_after_kill_link_down_reload_and_stop() {
    if !root("nothing_stale_after_kill_link_down_reload_and_stop") {
        return;
    }
    let lab = Lab::new("routed-stale").unwrap();
    let h = lab
        .add_host(HostSpec::new("lb1").addr(format!("{}/24", LB[0])))
        .unwrap();
    let conf_path = h.path("baton/keepalived.conf");
    let pid = h.path("baton/baton.pid");
    let write = |vips: &[IpAddr]| {
        // No tracker: the instance is master as long as its link is up.
        let c = baton_conf(0, true, vips)
            .replace("    track_process {\n        chk_nginx\n    }\n", "");
        h.write_file("baton/keepalived.conf", c).unwrap();
    };
    let start = || {
        h.spawn(
            Command::new(BATON)
                .args(["-n", "-l", "-D", "-f"])
                .arg(&conf_path)
                .arg("-p")
                .arg(&pid),
        )
        .unwrap()
    };
    let routes = || {
        h.cmd(["ip", "route", "show", "table", "all", "proto", "keepalived"])
            .unwrap()
    };
    let has = |r: &str, vip: &str| r.contains(&format!("{vip} dev lo table 100"));
    let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
        "10.100.0.1".parse().unwrap(),
        "10.100.0.2".parse().unwrap(),
        "10.100.0.3".parse().unwrap(),
    );

    write(&[a]);
    let p = start();
    wait_until("the route of .1", secs(10), ms(10), || {
        has(&routes(), "10.100.0.1")
    })
    .unwrap();
    p.signal(Signal::SIGKILL).unwrap();
    p.wait_timeout(secs(5)).unwrap();
    assert!(
        has(&routes(), "10.100.0.1"),
        "SIGKILL leaves the route (the point of the sweep)"
    );

    // Restart with .2 instead: the configuration no longer names .1; the sweep removes it.
    write(&[b]);
    let p = start();
    wait_until("the route of .2", secs(10), ms(10), || {
        has(&routes(), "10.100.0.2")
    })
    .unwrap();
    let r = routes();
    assert!(!has(&r, "10.100.0.1"), "stale route after restart: {r}");
    assert!(
        p.stderr()
            .unwrap()
            .contains("removed stale route 10.100.0.1/32 table 100"),
        "{}",
        p.stderr().unwrap()
    );

    // Link down: the instance faults and takes its route away.
    h.link_down("eth0").unwrap();
    wait_until("no route after link down", secs(5), ms(10), || {
        routes().trim().is_empty()
    })
    .unwrap();
    h.link_up("eth0").unwrap();
    wait_until("the route back", secs(10), ms(10), || {
        has(&routes(), "10.100.0.2")
    })
    .unwrap();

    // Reload that swaps the VIP, then one that drops it.
    write(&[c]);
    p.signal(Signal::SIGHUP).unwrap();
    wait_until("only .3", secs(5), ms(10), || {
        let r = routes();
        has(&r, "10.100.0.3") && !has(&r, "10.100.0.2")
    })
    .unwrap();
    write(&[]);
    p.signal(Signal::SIGHUP).unwrap();
    wait_until("no route after the reload", secs(5), ms(10), || {
        routes().trim().is_empty()
    })
    .unwrap();

    // And stop with a VIP held.
    write(&[a]);
    p.signal(Signal::SIGHUP).unwrap();
    wait_until("the route of .1", secs(5), ms(10), || {
        has(&routes(), "10.100.0.1")
    })
    .unwrap();
    p.signal(Signal::SIGTERM).unwrap();
    p.wait_timeout(secs(5)).unwrap();
    assert_eq!(routes().trim(), "", "a stopped baton left a route");
}

/// docs/ROUTED.md quotes the configurations this test runs, verbatim.
#[test]
fn docs_quote_the_tested_configurations() {
    let doc = include_str!("../../../../docs/ROUTED.md");
    for (what, conf) in [
        ("baton primary/backup", baton_conf(0, false, &[V4])),
        ("baton anycast", baton_conf(0, true, &[V4])),
        ("baton IPv6", baton_conf(0, false, &[V4, IpAddr::V6(VIP6)])),
        ("router bgpd with IPv6", topo::router_bgpd_for(false, true)),
        ("BIRD's IPv6 half", topo::lb_bird_v6(0)),
        ("FRR bgpd", topo::lb_bgpd(0, true)),
        ("FRR zebra", topo::LB_ZEBRA.to_string()),
        ("FRR bfdd", topo::BFDD.to_string()),
        ("router bgpd", topo::router_bgpd(true)),
        ("BIRD", topo::lb_bird(0)),
    ] {
        assert!(
            doc.contains(&format!("```\n{conf}```")),
            "docs/ROUTED.md does not quote the {what} configuration:\n{conf}"
        );
    }
}
