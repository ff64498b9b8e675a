//! keepalived's `use_vmac` on the real kernel: the macvlan `vrrp.<VRID>` in private mode
//! with the virtual router's MAC, the VIP on it, adverts and gratuitous ARP leaving with that
//! MAC, the sysctls keepalived sets, a leftover of an earlier run replaced, the macvlan gone
//! when baton stops; and the IPv6 form with its link-local address. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::{DEFAULT_SEGMENT, MacAddr, Signal};
use common::*;

fn conf(state: &str, priority: u8, extra: &str, vip: &str, vrid: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface ens33\n    virtual_router_id {vrid}\n    priority {priority}\n    use_vmac\n{extra}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

fn sysctl(h: &baton_lab::Host, path: &str) -> String {
    h.cmd(["cat", &format!("/proc/sys/net/{path}")])
        .unwrap()
        .trim()
        .to_string()
}

fn link(h: &baton_lab::Host, name: &str) -> Option<serde_json::Value> {
    let out = h.cmd(["ip", "-d", "-j", "link", "show"]).ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    v.as_array()?.iter().find(|l| l["ifname"] == name).cloned()
}

#[test]
fn an_ipv4_vmac_carries_the_vip_adverts_and_garps_with_the_virtual_mac() {
    let Some((lab, lb1, lb2)) = seed_lab("vmac4") else {
        return;
    };
    // A leftover of a crashed run on lb2: the right name, a wrong MAC.
    lb2.cmd([
        "ip",
        "link",
        "add",
        "vrrp.51",
        "link",
        "ens33",
        "address",
        "02:00:00:00:00:99",
        "type",
        "macvlan",
        "mode",
        "bridge",
    ])
    .unwrap();
    let cap = lab
        .capture_segment(DEFAULT_SEGMENT, "arp or ip proto 112")
        .unwrap();
    let b1 = Baton::start(&lb1, &conf("MASTER", 200, "", VIP, 51));
    let b2 = Baton::start(&lb2, &conf("BACKUP", 100, "", VIP, 51));
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", Duration::from_secs(2));
    let vmac = "00:00:5e:00:01:33";
    for h in [&lb1, &lb2] {
        let l = link(h, "vrrp.51").unwrap_or_else(|| panic!("no vrrp.51 on {}", h.name()));
        assert_eq!(l["address"], vmac, "{l}");
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], "private", "{l}");
        assert_eq!(l["link"], "ens33", "{l}");
        assert_eq!(sysctl(h, "ipv4/conf/vrrp.51/arp_ignore"), "1");
        assert_eq!(sysctl(h, "ipv4/conf/vrrp.51/accept_local"), "1");
        assert_eq!(sysctl(h, "ipv4/conf/vrrp.51/rp_filter"), "0");
        assert_eq!(sysctl(h, "ipv4/conf/ens33/arp_ignore"), "1");
        assert_eq!(sysctl(h, "ipv4/conf/ens33/arp_filter"), "1");
    }
    // The VIP sits on the VMAC of the master only.
    let on_vmac = lb1
        .cmd(["ip", "-4", "addr", "show", "dev", "vrrp.51"])
        .unwrap();
    assert!(on_vmac.contains(VIP), "{on_vmac}");
    assert!(!holds(&lb2, VIP));
    std::thread::sleep(Duration::from_millis(1500));
    let pcap = cap.stop().unwrap();
    let virt = MacAddr([0, 0, 0x5e, 0, 1, 0x33]);
    let from_virt: Vec<_> = pcap
        .records
        .iter()
        .filter(|r| r.ethernet().is_some_and(|(_, src, _, _)| src == virt))
        .collect();
    let adverts = from_virt
        .iter()
        .filter(|r| {
            r.ip()
                .is_some_and(|ip| ip.protocol == 112 && ip.src == ip_of(LB1))
        })
        .count();
    let garps = from_virt
        .iter()
        .filter(|r| {
            r.ethernet()
                .is_some_and(|(_, _, et, arp)| et == 0x0806 && arp.get(8..14) == Some(&virt.0[..]))
        })
        .count();
    assert!(adverts >= 2, "adverts from the virtual MAC: {adverts}");
    assert!(garps >= 1, "gratuitous ARP from the virtual MAC: {garps}");

    // The master stops: the backup takes the VIP on its VMAC; the old master's VMAC goes
    // and its base interface's ARP settings are put back.
    b1.signal(Signal::SIGTERM);
    b1.wait_exit(Duration::from_secs(5));
    b2.wait_state("Master", Duration::from_secs(3));
    wait_addr(&lb2, VIP, true, Duration::from_secs(2));
    assert!(link(&lb1, "vrrp.51").is_none(), "vrrp.51 left on lb1");
    assert_eq!(sysctl(&lb1, "ipv4/conf/ens33/arp_ignore"), "0");
    assert_eq!(sysctl(&lb1, "ipv4/conf/ens33/arp_filter"), "0");
}

fn ip_of(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[test]
fn an_ipv6_vmac_has_no_automatic_address_and_the_base_link_local() {
    let Some((_lab, lb1, lb2)) = seed_lab("vmac6") else {
        return;
    };
    let vip6 = "fd00:5::52";
    let v3 = "    advert_int 0.2\n";
    let b1 = Baton::start(&lb1, &conf("MASTER", 200, v3, vip6, 52));
    let b2 = Baton::start(&lb2, &conf("BACKUP", 100, v3, vip6, 52));
    let interval = Duration::from_millis(200);
    b1.wait_state("Master", mdi_v3(200, interval) + Duration::from_secs(3));
    b2.wait_state("Backup", Duration::from_secs(2));
    wait_addr(&lb1, vip6, true, Duration::from_secs(2));
    let l = link(&lb1, "vrrp.52").unwrap();
    assert_eq!(l["address"], "00:00:5e:00:02:34", "{l}");
    // keepalived's IPv6 VMAC: no EUI-64 address of the shared MAC, the base's link-local.
    let base_ll = b1.instance("VI_1")["source"].as_str().unwrap().to_string();
    assert!(base_ll.starts_with("fe80:"), "{base_ll}");
    let addrs = lb1
        .cmd(["ip", "-6", "addr", "show", "dev", "vrrp.52"])
        .unwrap();
    assert!(addrs.contains(&base_ll), "{addrs}");
    assert!(!addrs.contains("fe80::200:5eff:fe00:234"), "{addrs}");
    assert!(addrs.contains(vip6), "{addrs}");
    assert!(!holds(&lb2, vip6));
}
