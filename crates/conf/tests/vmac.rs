//! `use_vmac` resolved as keepalived resolves it: names (`vrrp.<VRID>`, `vrrp6.<VRID>` for a
//! second instance of the same VRID), MACs (…:01:VRID, IPv6 …:02:VRID, five octets + VRID),
//! which addresses go on the VMAC, addresses with a VMAC of their own, and unicast.
#![allow(clippy::unwrap_used)]

use baton_conf::{FakeHost, LoadOptions, Loaded, load_str};
use baton_wire::Family;

fn load(text: &str) -> Loaded {
    let host = FakeHost::new().interface("eth0").interface("eth1");
    load_str("v.conf", text, &LoadOptions::default(), &host)
}

#[test]
fn the_instance_vmac_takes_its_vips_and_keepalived_names() {
    let l = load(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n  10.0.0.1\n  10.1.0.1 dev eth1\n }\n virtual_ipaddress_excluded {\n  fd00::1\n }\n}\n\
         vrrp_instance B {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n  fd00::51\n }\n}\n\
         vrrp_instance C {\n interface eth0\n virtual_router_id 52\n use_vmac vmac52 00:00:5e:00:09\n vmac_xmit_base\n virtual_ipaddress {\n  10.0.0.2\n }\n}\n",
    );
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    let c = l.config.unwrap();
    let a = c.instance("A").unwrap();
    assert_eq!(a.vmacs.len(), 1);
    assert_eq!(a.vmacs[0].name, "vrrp.51");
    assert_eq!(a.vmacs[0].mac, [0, 0, 0x5e, 0, 1, 51]);
    assert_eq!(a.vmacs[0].base, "eth0");
    assert_eq!(a.advert_interface(), Some("vrrp.51"));
    // VIPs of its family without another dev go on the VMAC; the others stay.
    assert_eq!(a.vips[0].dev.as_deref(), Some("vrrp.51"));
    assert_eq!(a.vips[1].dev.as_deref(), Some("eth1"));
    assert_eq!(a.excluded_vips[0].dev, None);
    let b = c.instance("B").unwrap();
    assert_eq!(b.vmacs[0].name, "vrrp6.51");
    assert_eq!(b.vmacs[0].mac, [0, 0, 0x5e, 0, 2, 51]);
    assert_eq!(b.vmacs[0].family, Family::Ipv6);
    let cc = c.instance("C").unwrap();
    assert_eq!(cc.vmacs[0].name, "vmac52");
    assert_eq!(cc.vmacs[0].mac, [0, 0, 0x5e, 0, 9, 52]);
    // vmac_xmit_base: adverts on the base interface, VIPs on the VMAC.
    assert_eq!(cc.advert_interface(), Some("eth0"));
    assert_eq!(cc.vips[0].dev.as_deref(), Some("vmac52"));
}

#[test]
fn an_address_marked_use_vmac_gets_a_vmac_on_its_own_interface() {
    let l = load(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 60\n virtual_ipaddress {\n  10.0.0.1\n  10.1.0.1 dev eth1 use_vmac\n }\n}\n",
    );
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    let c = l.config.unwrap();
    let a = c.instance("A").unwrap();
    assert_eq!(a.advert_interface(), Some("eth0"));
    assert_eq!(a.vips[0].dev, None);
    assert_eq!(a.vmacs.len(), 1);
    assert_eq!(a.vmacs[0].base, "eth1");
    assert_eq!(a.vips[1].dev.as_deref(), Some(a.vmacs[0].name.as_str()));
}

#[test]
fn unicast_with_a_vmac_sends_from_the_base_interface() {
    let l = load(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 61\n use_vmac\n unicast_peer {\n  10.0.0.9\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n",
    );
    let c = l.config.as_ref().unwrap();
    let a = c.instance("A").unwrap();
    assert!(a.vmac_xmit_base);
    assert_eq!(a.advert_interface(), Some("eth0"));
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.message.contains("needs vmac_xmit_base")),
        "{:#?}",
        l.diagnostics
    );
}
