//! VIPs, routes, rules and link/address events through rtnetlink, checked with `ip -j`.

use std::net::IpAddr;
use std::time::Duration;

use baton::south::netlink::{Monitor, NetEvent, Netlink};
use baton_conf::{Broadcast, RouteKind, Scope, VirtualAddress};
use baton_conf::{VirtualRoute, VirtualRule};
use baton_wire::Family;
use serde_json::Value;

use crate::netns::{Netns, in_thread, root_or_skip, runtime};

/// A namespace with an up veth `d0` (its peer `d0p` up too, so d0 has carrier).
fn ns_with_d0(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d0p"]);
    ns.ip(&["link", "set", "d0p", "up"]);
    ns.ip(&["link", "set", "d0", "up"]);
    // The carrier comes a moment after `up` (the kernel's link watch runs later, up to a
    // second on a busy machine); tests that read `up` want it there.
    let t = std::time::Instant::now();
    while !ns.ip_json(&["link", "show", "d0"])[0]["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f == "LOWER_UP"))
    {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "d0 has no carrier after 5 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    ns
}

fn addr_info(ns: &Netns, dev: &str, local: &str) -> Option<Value> {
    let v = ns.ip_json(&["addr", "show", "dev", dev]);
    v[0]["addr_info"]
        .as_array()?
        .iter()
        .find(|a| a["local"] == local)
        .cloned()
}

fn vip(s: &str, prefix_len: u8) -> VirtualAddress {
    let mut v = VirtualAddress::new(s.parse().unwrap());
    v.prefix_len = prefix_len;
    v
}

#[test]
fn ipv4_vip_with_label_scope_and_brd_reads_back_as_configured() {
    if !root_or_skip("ipv4_vip_with_label_scope_and_brd_reads_back_as_configured") {
        return;
    }
    let ns = ns_with_d0("vip4");
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let idx = nl.ifindex("d0").await.unwrap();
            let mut full = vip("10.1.0.10", 24);
            full.brd = Some(Broadcast::Set);
            full.label = Some("d0:vip".into());
            full.scope = Scope::Site;
            nl.add_address(idx, &full).await.unwrap();
            let plain = vip("10.1.0.11", 32);
            nl.add_address(idx, &plain).await.unwrap();

            let a = addr_info(&ns, "d0", "10.1.0.10").expect("VIP not on d0");
            assert_eq!(a["prefixlen"], 24);
            assert_eq!(a["broadcast"], "10.1.0.255");
            assert_eq!(a["label"], "d0:vip");
            assert_eq!(a["scope"], "site");
            let p = addr_info(&ns, "d0", "10.1.0.11").expect("plain VIP not on d0");
            assert_eq!(p["prefixlen"], 32);
            assert!(p.get("broadcast").is_none(), "no brd asked, got {p}");
            assert_eq!(p["scope"], "global");

            // Our own listing agrees with ip's.
            let ours = nl.addresses(Some(idx)).await.unwrap();
            let mine = ours
                .iter()
                .find(|a| a.addr == full.addr)
                .expect("listing lacks the VIP");
            assert_eq!(mine.label.as_deref(), Some("d0:vip"));
            assert_eq!(mine.prefix_len, 24);

            // Adding twice is EEXIST, recognisably.
            let again = nl.add_address(idx, &full).await.unwrap_err();
            assert!(again.is_exists(), "{again}");

            assert!(nl.del_address_if_present(idx, &full).await.unwrap());
            assert!(!nl.del_address_if_present(idx, &full).await.unwrap());
            assert!(addr_info(&ns, "d0", "10.1.0.10").is_none());
            nl.del_address(idx, &plain).await.unwrap();
            assert!(addr_info(&ns, "d0", "10.1.0.11").is_none());
        });
    });
}

#[test]
fn ipv6_vip_is_nodad_and_a_host_vip_is_deprecated() {
    if !root_or_skip("ipv6_vip_is_nodad_and_a_host_vip_is_deprecated") {
        return;
    }
    let ns = ns_with_d0("vip6");
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let idx = nl.ifindex("d0").await.unwrap();
            let host = vip("fd00::10", 128);
            nl.add_address(idx, &host).await.unwrap();
            let mut net = vip("fd00:1::5", 64);
            net.preferred_forever = true;
            nl.add_address(idx, &net).await.unwrap();

            let h = addr_info(&ns, "d0", "fd00::10").expect("/128 VIP missing");
            assert_eq!(h["nodad"], true);
            assert_eq!(h["deprecated"], true);
            assert_eq!(h["preferred_life_time"], 0);
            let n = addr_info(&ns, "d0", "fd00:1::5").expect("/64 VIP missing");
            assert_eq!(n["nodad"], true);
            assert!(n.get("deprecated").is_none(), "{n}");
            assert!(
                n.get("tentative").is_none(),
                "NODAD address went through DAD: {n}"
            );

            nl.del_address(idx, &host).await.unwrap();
            nl.del_address(idx, &net).await.unwrap();
            assert!(addr_info(&ns, "d0", "fd00::10").is_none());
            assert!(addr_info(&ns, "d0", "fd00:1::5").is_none());
        });
    });
}

/// The next event that `want` accepts, skipping others (IPv6 link-local churn and the like).
async fn expect_event(mon: &mut Monitor, what: &str, want: impl Fn(&NetEvent) -> bool) -> NetEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, mon.next()).await {
            Ok(Some(ev)) if want(&ev) => return ev,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("monitor closed while waiting for {what}"),
            Err(_) => panic!("no {what} event within 5 s"),
        }
    }
}

#[test]
fn monitor_reports_vip_deleted_by_hand_link_down_up_and_new_interfaces() {
    if !root_or_skip("monitor_reports_vip_deleted_by_hand_link_down_up_and_new_interfaces") {
        return;
    }
    let ns = ns_with_d0("mon");
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let mut mon = Monitor::start(&[]).unwrap();
            // Subscribe first, then list, so nothing falls in between.
            mon.set_known(&nl.links().await.unwrap());
            let d0 = nl.link_by_name("d0").await.unwrap().unwrap();
            assert!(d0.up);
            assert_eq!(Some(d0.mac.unwrap()), Some(ns.mac("d0")));

            let v = vip("192.168.5.10", 32);
            nl.add_address(d0.index, &v).await.unwrap();
            expect_event(&mut mon, "VIP added", |e| {
                matches!(e, NetEvent::AddressAdded(a) if a.addr == v.addr)
            })
            .await;

            ns.ip(&["addr", "del", "192.168.5.10/32", "dev", "d0"]);
            let ev = expect_event(&mut mon, "VIP removed by hand", |e| {
                matches!(e, NetEvent::AddressRemoved(a) if a.addr == v.addr)
            })
            .await;
            let NetEvent::AddressRemoved(a) = ev else { unreachable!() };
            assert_eq!(a.ifindex, d0.index);
            assert_eq!(a.prefix_len, 32);

            ns.ip(&["link", "set", "d0", "down"]);
            expect_event(&mut mon, "d0 down", |e| {
                matches!(e, NetEvent::LinkDown(l) if l.name == "d0" && !l.up)
            })
            .await;
            ns.ip(&["link", "set", "d0", "up"]);
            expect_event(&mut mon, "d0 up", |e| {
                matches!(e, NetEvent::LinkUp(l) if l.name == "d0" && l.up)
            })
            .await;
            // Carrier loss (the peer going down) is "down" too, as in keepalived.
            ns.ip(&["link", "set", "d0p", "down"]);
            expect_event(&mut mon, "d0 carrier lost", |e| {
                matches!(e, NetEvent::LinkDown(l) if l.name == "d0")
            })
            .await;

            ns.ip(&["link", "add", "late0", "type", "veth", "peer", "name", "late1"]);
            let ev = expect_event(&mut mon, "late0 appears", |e| {
                matches!(e, NetEvent::LinkAppeared(l) if l.name == "late0")
            })
            .await;
            let NetEvent::LinkAppeared(late) = ev else { unreachable!() };
            ns.ip(&["link", "del", "late0"]);
            expect_event(&mut mon, "late0 removed", |e| {
                matches!(e, NetEvent::LinkRemoved { index, name } if *index == late.index && name == "late0")
            })
            .await;
        });
    });
}

fn has_route(ns: &Netns, table: &str, dst: &str) -> Option<Value> {
    let mut args = vec!["route", "show", "table", table];
    if dst.contains(':') {
        args.insert(0, "-6");
    }
    ns.ip_json(&args)
        .as_array()?
        .iter()
        .find(|r| r["dst"] == dst)
        .cloned()
}

#[test]
fn virtual_routes_are_added_tagged_keepalived_and_removed() {
    if !root_or_skip("virtual_routes_are_added_tagged_keepalived_and_removed") {
        return;
    }
    let ns = ns_with_d0("route");
    ns.ip(&["addr", "add", "10.2.0.1/24", "dev", "d0"]);
    ns.ip(&["addr", "add", "fd00:2::1/64", "dev", "d0"]);
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let mut via = VirtualRoute::new("10.9.0.0".parse().unwrap(), 16);
            via.via = Some("10.2.0.254".parse().unwrap());
            via.dev = Some("d0".into());
            via.table = Some(100);
            via.metric = Some(5);
            let mut black = VirtualRoute::new("10.8.0.0".parse().unwrap(), 16);
            black.kind = RouteKind::Blackhole;
            let mut onlink = VirtualRoute::new("10.7.0.0".parse().unwrap(), 16);
            onlink.dev = Some("d0".into());
            onlink.src = Some("10.2.0.1".parse().unwrap());
            let mut v6 = VirtualRoute::new("fd00:9::".parse().unwrap(), 64);
            v6.via = Some("fd00:2::fe".parse().unwrap());
            v6.dev = Some("d0".into());
            for r in [&via, &black, &onlink, &v6] {
                nl.add_route(r).await.unwrap();
            }
            let r = has_route(&ns, "100", "10.9.0.0/16").expect("route in table 100");
            assert_eq!(r["gateway"], "10.2.0.254");
            assert_eq!(r["dev"], "d0");
            assert_eq!(r["metric"], 5);
            assert_eq!(r["protocol"], "keepalived");
            let b = has_route(&ns, "main", "10.8.0.0/16").expect("blackhole route");
            assert_eq!(b["type"], "blackhole");
            let o = has_route(&ns, "main", "10.7.0.0/16").expect("on-link route");
            assert_eq!(o["scope"], "link");
            assert_eq!(o["prefsrc"], "10.2.0.1");
            let s = has_route(&ns, "main", "fd00:9::/64").expect("IPv6 route");
            assert_eq!(s["gateway"], "fd00:2::fe");

            for r in [&via, &black, &onlink, &v6] {
                nl.del_route(r).await.unwrap();
            }
            assert!(has_route(&ns, "100", "10.9.0.0/16").is_none());
            assert!(has_route(&ns, "main", "10.8.0.0/16").is_none());
            assert!(has_route(&ns, "main", "10.7.0.0/16").is_none());
            assert!(has_route(&ns, "main", "fd00:9::/64").is_none());
            let gone = nl.del_route(&via).await.unwrap_err();
            assert!(gone.is_not_found(), "{gone}");
        });
    });
}

fn find_rule(ns: &Netns, v6: bool, pref: u64) -> Option<Value> {
    let args: &[&str] = if v6 {
        &["-6", "rule", "show"]
    } else {
        &["rule", "show"]
    };
    ns.ip_json(args)
        .as_array()?
        .iter()
        .find(|r| r["priority"] == pref)
        .cloned()
}

#[test]
fn virtual_rules_are_added_and_removed_for_both_families() {
    if !root_or_skip("virtual_rules_are_added_and_removed_for_both_families") {
        return;
    }
    let ns = ns_with_d0("rule");
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let mut r4 = VirtualRule::new(Family::Ipv4, 100);
            r4.from = Some(("10.9.0.0".parse::<IpAddr>().unwrap(), 16));
            r4.fwmark = Some((0x10, Some(0xff)));
            r4.preference = Some(1000);
            r4.iif = Some("d0".into());
            let mut r6 = VirtualRule::new(Family::Ipv6, 200);
            r6.to = Some(("fd00:9::".parse::<IpAddr>().unwrap(), 64));
            r6.preference = Some(1001);
            nl.add_rule(&r4).await.unwrap();
            nl.add_rule(&r6).await.unwrap();

            let a = find_rule(&ns, false, 1000).expect("IPv4 rule");
            assert_eq!(a["src"], "10.9.0.0");
            assert_eq!(a["srclen"], 16);
            assert_eq!(a["fwmark"], "0x10");
            assert_eq!(a["fwmask"], "0xff");
            assert_eq!(a["iif"], "d0");
            assert_eq!(a["table"], "100");
            assert_eq!(a["protocol"], "keepalived");
            let b = find_rule(&ns, true, 1001).expect("IPv6 rule");
            assert_eq!(b["dst"], "fd00:9::");
            assert_eq!(b["dstlen"], 64);
            assert_eq!(b["table"], "200");

            nl.del_rule(&r4).await.unwrap();
            nl.del_rule(&r6).await.unwrap();
            assert!(find_rule(&ns, false, 1000).is_none());
            assert!(find_rule(&ns, true, 1001).is_none());
        });
    });
}

#[test]
fn startup_removes_leftover_vips_of_configured_instances_only() {
    if !root_or_skip("startup_removes_leftover_vips_of_configured_instances_only") {
        return;
    }
    let ns = ns_with_d0("left");
    ns.ip(&["link", "add", "e0", "type", "veth", "peer", "name", "e0p"]);
    ns.ip(&["addr", "add", "10.4.0.1/24", "dev", "d0"]);
    // What a crashed daemon left: two VIPs, one of them on another interface.
    ns.ip(&["addr", "add", "192.168.5.10/32", "dev", "d0"]);
    ns.ip(&["addr", "add", "192.168.6.10/32", "dev", "e0"]);
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let on_e0 = {
                let mut v = vip("192.168.6.10", 32);
                v.dev = Some("e0".into());
                v
            };
            let never_added = vip("192.168.5.99", 32);
            let on_missing_if = {
                let mut v = vip("192.168.7.10", 32);
                v.dev = Some("nosuch0".into());
                v
            };
            let vips = [vip("192.168.5.10", 32), on_e0, never_added, on_missing_if];
            let removed = nl.remove_leftovers(&vips, "d0").await.unwrap();
            let removed: Vec<IpAddr> = removed.iter().map(|v| v.addr).collect();
            assert_eq!(
                removed,
                [
                    "192.168.5.10".parse::<IpAddr>().unwrap(),
                    "192.168.6.10".parse().unwrap()
                ]
            );
            assert!(addr_info(&ns, "d0", "192.168.5.10").is_none());
            assert!(addr_info(&ns, "e0", "192.168.6.10").is_none());
            // The interface's own address is not a VIP and stays.
            assert!(addr_info(&ns, "d0", "10.4.0.1").is_some());
        });
    });
}

#[test]
fn primary_address_is_the_first_ipv4_and_the_link_local_ipv6() {
    if !root_or_skip("primary_address_is_the_first_ipv4_and_the_link_local_ipv6") {
        return;
    }
    let ns = ns_with_d0("prim");
    ns.ip(&["addr", "add", "10.5.0.1/24", "dev", "d0"]);
    ns.ip(&["addr", "add", "10.5.0.9/24", "dev", "d0"]); // secondary in the same subnet
    ns.ip(&["addr", "add", "fd00:5::1/64", "dev", "d0"]);
    let ll = ns.link_local("d0");
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let idx = nl.ifindex("d0").await.unwrap();
            let addrs = nl.addresses(None).await.unwrap();
            let sec = addrs
                .iter()
                .find(|a| a.addr == "10.5.0.9".parse::<IpAddr>().unwrap())
                .unwrap();
            assert!(sec.secondary);
            assert_eq!(
                baton::south::netlink::primary_address(&addrs, idx, false),
                Some("10.5.0.1".parse().unwrap())
            );
            assert_eq!(
                baton::south::netlink::primary_address(&addrs, idx, true),
                Some(IpAddr::V6(ll))
            );
            // An interface without IPv4 has no IPv4 source: the core must treat it as FAULT.
            let peer = nl.ifindex("d0p").await.unwrap();
            assert_eq!(
                baton::south::netlink::primary_address(&addrs, peer, false),
                None
            );
        });
    });
}

#[test]
fn multipath_mtu_and_append_routes_match_ip_route() {
    if !root_or_skip("multipath_mtu_and_append_routes_match_ip_route") {
        return;
    }
    let ns = ns_with_d0("mpath");
    ns.ip(&["addr", "add", "10.2.0.1/24", "dev", "d0"]);
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            // `10.9.0.0/16 via 10.2.0.253 dev d0 or 10.2.0.254 dev d0 mtu 1400`-like line,
            // with nexthop weights.
            let mut multi = VirtualRoute::new("10.9.0.0".parse().unwrap(), 16);
            multi.mtu = Some(1400);
            for (gw, weight) in [("10.2.0.253", 2), ("10.2.0.254", 1)] {
                multi.nexthops.push(baton_conf::Nexthop {
                    via: Some(gw.parse().unwrap()),
                    dev: Some("d0".into()),
                    weight: Some(weight),
                    onlink: false,
                });
            }
            nl.add_route(&multi).await.unwrap();
            let r = has_route(&ns, "main", "10.9.0.0/16").expect("multipath route");
            assert_eq!(r["metrics"][0]["mtu"], 1400);
            let hops = r["nexthops"].as_array().unwrap();
            assert_eq!(hops.len(), 2);
            assert_eq!(hops[0]["gateway"], "10.2.0.253");
            assert_eq!(hops[0]["weight"], 2);
            assert_eq!(hops[1]["gateway"], "10.2.0.254");
            assert_eq!(hops[1]["dev"], "d0");
            nl.del_route(&multi).await.unwrap();
            assert!(has_route(&ns, "main", "10.9.0.0/16").is_none());

            // `append` puts a route after the others to the same destination; the default,
            // like keepalived's, prepends.
            let mut first = VirtualRoute::new("10.6.0.0".parse().unwrap(), 16);
            first.via = Some("10.2.0.250".parse().unwrap());
            first.protocol = Some(4); // static, as a line saying `proto static` asks
            let mut appended = first.clone();
            appended.via = Some("10.2.0.251".parse().unwrap());
            appended.append = true;
            let mut prepended = first.clone();
            prepended.via = Some("10.2.0.252".parse().unwrap());
            for r in [&first, &appended, &prepended] {
                nl.add_route(r).await.unwrap();
            }
            let all = ns.ip_json(&["route", "show", "10.6.0.0/16"]);
            let gws: Vec<&str> = all
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["gateway"].as_str().unwrap())
                .collect();
            assert_eq!(gws, ["10.2.0.252", "10.2.0.250", "10.2.0.251"]);
            assert_eq!(all[0]["protocol"], "static");
            for r in [&first, &appended, &prepended] {
                nl.del_route(r).await.unwrap();
            }
            assert!(
                ns.ip_json(&["route", "show", "10.6.0.0/16"])
                    .as_array()
                    .unwrap()
                    .is_empty()
            );

            let mut tos = VirtualRoute::new("10.5.0.0".parse().unwrap(), 16);
            tos.via = Some("10.2.0.250".parse().unwrap());
            tos.tos = Some(0x10);
            nl.add_route(&tos).await.unwrap();
            let t = has_route(&ns, "main", "10.5.0.0/16").expect("tos route");
            assert_eq!(t["tos"], "0x10");
            nl.del_route(&tos).await.unwrap();
        });
    });
}

#[test]
fn rule_actions_goto_blackhole_ports_uids_and_l3mdev_match_ip_rule() {
    if !root_or_skip("rule_actions_goto_blackhole_ports_uids_and_l3mdev_match_ip_rule") {
        return;
    }
    let ns = ns_with_d0("ract");
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let mut goto = VirtualRule::new(Family::Ipv4, 0);
            goto.table = None;
            goto.preference = Some(10);
            goto.goto = Some(20);
            let mut black = VirtualRule::new(Family::Ipv4, 0);
            black.table = None;
            black.preference = Some(20);
            black.action = Some(RouteKind::Blackhole);
            let mut ports = VirtualRule::new(Family::Ipv4, 7);
            ports.preference = Some(30);
            ports.ip_proto = Some(6);
            ports.dport = Some((80, 81));
            ports.uidrange = Some((100, 200));
            let mut suppress = VirtualRule::new(Family::Ipv6, 254);
            suppress.preference = Some(40);
            suppress.suppress_prefixlength = Some(0);
            let mut l3 = VirtualRule::new(Family::Ipv4, 0);
            l3.table = None;
            l3.preference = Some(50);
            l3.l3mdev = true;
            let rules = [&goto, &black, &ports, &suppress, &l3];
            for r in rules {
                nl.add_rule(r).await.unwrap();
            }
            let g = find_rule(&ns, false, 10).expect("goto rule");
            assert_eq!(g["goto"], 20);
            let b = find_rule(&ns, false, 20).expect("blackhole rule");
            assert_eq!(b["action"], "blackhole");
            let p = find_rule(&ns, false, 30).expect("port rule");
            assert_eq!(p["ipproto"], "tcp");
            assert_eq!(p["dport_start"], 80);
            assert_eq!(p["dport_end"], 81);
            assert_eq!(p["uid_start"], 100);
            assert_eq!(p["uid_end"], 200);
            assert_eq!(p["table"], "7");
            let s = find_rule(&ns, true, 40).expect("suppress rule");
            assert_eq!(s["suppress_prefixlen"], 0);
            assert_eq!(s["table"], "main");
            let l = find_rule(&ns, false, 50).expect("l3mdev rule");
            assert!(l.get("l3mdev").is_some(), "{l}");
            for r in rules {
                nl.del_rule(r).await.unwrap();
            }
            for pref in [10, 20, 30, 50] {
                assert!(find_rule(&ns, false, pref).is_none(), "rule {pref} left");
            }
            assert!(find_rule(&ns, true, 40).is_none());
        });
    });
}

#[test]
fn ipv6_vip_flags_mngtmpaddr_and_noprefixroute_reach_the_kernel() {
    if !root_or_skip("ipv6_vip_flags_mngtmpaddr_and_noprefixroute_reach_the_kernel") {
        return;
    }
    let ns = ns_with_d0("v6fl");
    in_thread(|| {
        ns.enter();
        runtime().block_on(async {
            let nl = Netlink::connect().unwrap();
            let idx = nl.ifindex("d0").await.unwrap();
            let mut v = vip("fd00:7::5", 64);
            v.mngtmpaddr = true;
            v.noprefixroute = true;
            nl.add_address(idx, &v).await.unwrap();
            let a = addr_info(&ns, "d0", "fd00:7::5").expect("VIP missing");
            assert_eq!(a["mngtmpaddr"], true);
            assert_eq!(a["noprefixroute"], true);
            assert!(
                has_route(&ns, "main", "fd00:7::/64").is_none(),
                "noprefixroute added a route"
            );
            nl.del_address(idx, &v).await.unwrap();
        });
    });
}
