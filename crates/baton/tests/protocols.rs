//! The pair beyond the seed's settings, on the real kernel: VRRPv3 at 100 ms, an IPv6 VIP,
//! and unicast peers. Each test crashes the master and bounds the takeover by the
//! Master_Down_Interval of its own timers (from the last advert of the old master to the first
//! of the new one, on the wire). And packets that are not adverts at all are counted, by
//! reason, where `baton status` shows them. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

/// One instance on `ens33`, with `extra` lines inside the block.
fn instance(state: &str, vrid: u8, priority: u8, extra: &str, vips: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n\
         \x20   state {state}\n\
         \x20   interface ens33\n\
         \x20   virtual_router_id {vrid}\n\
         \x20   priority {priority}\n\
         {extra}\
         \x20   virtual_ipaddress {{\n\
         \x20       {vips}\n\
         \x20   }}\n\
         }}\n"
    )
}

/// Crash `b1` (the master) and check that `b2` advertises first `mdi` after the last
/// advert of `old`, within the slack; returns the new master's first advert.
fn crash_and_time_takeover(
    lab: &baton_lab::Lab,
    b1: &Baton,
    b2: &Baton,
    old: &str,
    new: &str,
    mdi: Duration,
) -> Advert {
    let cap = capture_vrrp(lab);
    wait_advert_from(&cap, old, Duration::from_secs(3));
    b1.proc.kill().unwrap();
    b2.wait_state("Master", mdi + Duration::from_secs(2));
    let ads = adverts(&cap.stop().unwrap());
    let first_new = ads
        .iter()
        .find(|a| a.src == ip(new))
        .unwrap_or_else(|| panic!("no advert from {new}: {ads:#?}"))
        .clone();
    let last_old = ads
        .iter()
        .rfind(|a| a.src == ip(old) && a.ts < first_new.ts)
        .unwrap_or_else(|| panic!("no advert from {old}: {ads:#?}"));
    let gap = between(last_old.ts, first_new.ts);
    eprintln!("takeover {gap:?} after the last advert (Master_Down_Interval {mdi:?})");
    assert!(
        gap <= mdi + SLACK,
        "takeover after {gap:?}, Master_Down_Interval {mdi:?}"
    );
    assert!(gap + SLACK >= mdi, "takeover after {gap:?}, before {mdi:?}");
    first_new
}

#[test]
fn vrrp_v3_at_100_ms_fails_over_within_its_master_down_interval() {
    let Some((lab, lb1, lb2)) = seed_lab("v3") else {
        return;
    };
    let v3 = "    version 3\n    advert_int 0.1\n";
    let interval = Duration::from_millis(100);
    let b1 = Baton::start(&lb1, &instance("MASTER", 52, 200, v3, VIP));
    let b2 = Baton::start(&lb2, &instance("BACKUP", 52, 100, v3, VIP));
    b1.wait_state("Master", mdi_v3(200, interval) + Duration::from_secs(2));
    b2.wait_state("Backup", Duration::from_secs(1));
    let i1 = b1.instance("VI_1");
    assert_eq!(i1["version"], "VRRPv3", "{i1}");
    assert_eq!(i1["advert_interval_ms"], 100);
    // A v3 backup adopts the master's interval from its adverts.
    assert_eq!(b2.instance("VI_1")["master_adver_interval_ms"], 100);
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));

    let first = crash_and_time_takeover(&lab, &b1, &b2, LB1, LB2, mdi_v3(100, interval));
    assert_eq!((first.version, first.priority, first.ttl), (3, 100, 255));
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
}

#[test]
fn an_ipv6_vip_moves_with_vrrp_v3_from_link_local_addresses() {
    let Some((lab, lb1, lb2)) = seed_lab("ipv6") else {
        return;
    };
    let vip6 = "fd00:5::10";
    let timers = "    advert_int 0.2\n";
    let interval = Duration::from_millis(200);
    let b1 = Baton::start(
        &lb1,
        &instance("MASTER", 53, 200, timers, &format!("{vip6}/64")),
    );
    let b2 = Baton::start(
        &lb2,
        &instance("BACKUP", 53, 100, timers, &format!("{vip6}/64")),
    );
    b1.wait_state("Master", mdi_v3(200, interval) + Duration::from_secs(2));
    b2.wait_state("Backup", Duration::from_secs(1));
    wait_addr(&lb1, vip6, true, Duration::from_secs(1));
    assert!(!holds(&lb2, vip6));
    let i1 = b1.instance("VI_1");
    assert_eq!(i1["family"], "IPv6", "{i1}");
    assert_eq!(i1["version"], "VRRPv3");
    assert_eq!(i1["vips_held"], serde_json::json!([vip6]));
    // RFC 5798 §5.1.2.1: adverts come from the link-local address.
    let src: std::net::Ipv6Addr = i1["source"].as_str().unwrap().parse().unwrap();
    assert!(src.is_unicast_link_local(), "{src}");

    let src2 = b2.instance("VI_1")["source"].as_str().unwrap().to_string();
    assert!(src2.starts_with("fe80:"), "{src2}");

    // Crash the master; the backup takes over and tells the segment with an unsolicited
    // Neighbor Advertisement for the VIP.
    let na_cap = lab
        .capture_segment(baton_lab::DEFAULT_SEGMENT, "icmp6")
        .unwrap();
    let first = crash_and_time_takeover(
        &lab,
        &b1,
        &b2,
        &src.to_string(),
        &src2,
        mdi_v3(100, interval),
    );
    assert_eq!((first.version, first.priority, first.ttl), (3, 100, 255));
    assert_eq!(first.dst, ip("ff02::12"));
    wait_addr(&lb2, vip6, true, Duration::from_secs(1));
    // As keepalived sends it: from the VIP to all nodes, the new master's MAC as the
    // target's link-layer address.
    let target: std::net::Ipv6Addr = vip6.parse().unwrap();
    let mac2 = lb2.interface("ens33").unwrap().mac;
    let pcap = na_cap.stop().unwrap();
    let na = pcap.records.iter().find(|r| {
        let from_lb2 = r.ethernet().is_some_and(|(_, src, _, _)| src == mac2);
        from_lb2
            && r.ip().is_some_and(|ip| {
                ip.protocol == 58
                    && ip.src == ip_of(vip6)
                    && ip.dst == ip_of("ff02::1")
                    && ip.payload.first() == Some(&136)
                    && ip.payload.get(8..24) == Some(&target.octets()[..])
            })
    });
    assert!(na.is_some(), "no unsolicited NA for {vip6} from {mac2:?}");
}

fn ip_of(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[test]
fn unicast_peers_carry_the_adverts_and_fail_over() {
    let Some((lab, lb1, lb2)) = seed_lab("unicast") else {
        return;
    };
    let unicast = |src: &str, peer: &str| {
        format!(
            "    version 3\n    advert_int 0.1\n    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n"
        )
    };
    let interval = Duration::from_millis(100);
    let b1 = Baton::start(&lb1, &instance("MASTER", 54, 200, &unicast(LB1, LB2), VIP));
    let b2 = Baton::start(&lb2, &instance("BACKUP", 54, 100, &unicast(LB2, LB1), VIP));
    b1.wait_state("Master", mdi_v3(200, interval) + Duration::from_secs(2));
    b2.wait_state("Backup", Duration::from_secs(1));
    wait_addr(&lb1, VIP, true, Duration::from_secs(1));
    // No group membership: the socket joins nothing.
    let s1 = b1.status().unwrap();
    assert_eq!(
        s1["daemon"]["sockets"][0]["groups"],
        serde_json::json!([]),
        "{s1}"
    );

    let cap = capture_vrrp(&lab);
    wait_advert_from(&cap, LB1, Duration::from_secs(2));
    let ads = adverts(&cap.stop().unwrap());
    assert!(
        ads.iter().all(|a| a.src == ip(LB1) && a.dst == ip(LB2)),
        "every advert goes from .11 to .12 alone: {ads:#?}"
    );

    let first = crash_and_time_takeover(&lab, &b1, &b2, LB1, LB2, mdi_v3(100, interval));
    assert_eq!(first.dst, ip(LB1), "the new master advertises to its peer");
    wait_addr(&lb2, VIP, true, Duration::from_secs(1));
}

#[test]
fn packets_that_are_not_adverts_are_counted_by_reason_in_status() {
    use baton_wire::{Addresses, AdvertRepr, Auth, ChecksumForm, Family, Version};
    use socket2::{Domain, Protocol, SockAddr, Type};

    let Some((_lab, lb1, lb2)) = seed_lab("wirecount") else {
        return;
    };
    let b1 = Baton::start(&lb1, SEED_BACKUP);
    b1.wait_state("Backup", Duration::from_secs(1));
    // lb2 plays a broken peer with a raw socket: the kernel adds the IP header.
    let s = lb2
        .socket(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))
        .unwrap();
    s.set_multicast_ttl_v4(255).unwrap();
    s.set_multicast_if_v4(&std::net::Ipv4Addr::new(192, 168, 5, 12))
        .unwrap();
    let group = SockAddr::from(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::new(224, 0, 0, 18),
        0,
    ));
    let vip = [192u8, 168, 5, 10];
    let advert = |vrid: u8| {
        let repr = AdvertRepr {
            version: Version::V2,
            vrid,
            priority: 50,
            interval: 1,
            auth: Auth::pass(b"1111"),
            addresses: Addresses::new(Family::Ipv4, &vip).unwrap(),
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut buf, ip(LB2), ip("224.0.0.18"), ChecksumForm::Plain)
            .unwrap();
        buf
    };
    let mut bad_checksum = advert(51);
    bad_checksum[6] ^= 0xff;
    let mut bad_version = advert(51);
    bad_version[0] = 0x41;
    let truncated = advert(51)[..5].to_vec();
    let unknown_vrid = advert(99);
    for p in [&bad_checksum, &bad_version, &truncated, &unknown_vrid] {
        s.send_to(p, &group).unwrap();
    }
    let wanted = |st: &serde_json::Value| {
        let w = &st["daemon"]["sockets"][0]["wire_errors"];
        w["checksum"] == 1
            && w["version"] == 1
            && w["truncated"] == 1
            && st["unknown_vrid_adverts"] == 1
    };
    baton_lab::wait_until(
        "the broken packets to be counted",
        Duration::from_secs(2),
        POLL,
        || b1.status().map(|st| wanted(&st)),
    )
    .unwrap_or_else(|e| panic!("{e}: {}", b1.status().unwrap()));
    let st = b1.status().unwrap();
    assert_eq!(st["daemon"]["sockets"][0]["received"], 4, "{st}");
    // None of it reached the instance: no advert counted, still backup, no master learnt.
    let vi = &st["instances"][0];
    assert_eq!(vi["counters"]["adverts_received"], 0, "{vi}");
    assert_eq!(vi["state"], "Backup");
    // The table shows the same.
    let out = std::process::Command::new(BATON)
        .args(["status", "-p"])
        .arg(&b1.pidfile)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("not-vrrp: checksum=1 truncated=1 version=1"),
        "{table}"
    );
}
