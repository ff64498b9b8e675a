//! `baton check --explain`: what each instance needs from the firewall and the network so
//! both routers hear each other, written for this configuration. The seed's split brain was
//! a firewalld that dropped VRRP; its fix, and the same for nftables, with the interface,
//! group or peers the instance uses.

use std::fmt::Write as _;
use std::net::IpAddr;

use baton_conf::{Config, VrrpInstance};

/// The remedies for every instance of `config`, as text.
pub fn remedies(config: &Config) -> String {
    let mut out = String::from(
        "Split brain (both routers MASTER) means one router does not hear the other's adverts \
         (IP protocol 112, VRRP). The master that still hears its peer says which one in its log \
         and in `baton status`. Let VRRP in on both routers:\n",
    );
    for i in &config.instances {
        out.push('\n');
        instance(&mut out, i);
    }
    out
}

fn instance(out: &mut String, i: &VrrpInstance) {
    let ifname = i.interface.as_deref().unwrap_or("<interface>");
    let v6 = matches!(i.mcast_group, IpAddr::V6(_));
    let (fw_family, nft_family) = if v6 { ("ipv6", "ip6") } else { ("ipv4", "ip") };
    if i.unicast_peers.is_empty() {
        let group = i.mcast_group;
        let _ = writeln!(
            out,
            "{} (VRID {}, {ifname}, multicast to {group}):",
            i.name, i.vrid
        );
        let _ = writeln!(out, "  firewalld (the seed's fix):");
        let _ = writeln!(
            out,
            "    firewall-cmd --direct --permanent --add-rule {fw_family} filter INPUT 0 --in-interface {ifname} --destination {group} --protocol vrrp -j ACCEPT"
        );
        let _ = writeln!(out, "    firewall-cmd --reload");
        let _ = writeln!(
            out,
            "  nftables (in your input chain, before any drop):\n    nft add rule inet filter input iifname \"{ifname}\" {nft_family} daddr {group} meta l4proto vrrp accept"
        );
        let _ = writeln!(
            out,
            "  multicast: `ip maddr show dev {ifname}` must list {group}; a switch snooping IGMP without a querier, or a cloud network, drops it: use unicast_peer there"
        );
    } else {
        let peers: Vec<String> = i.unicast_peers.iter().map(|p| p.addr.to_string()).collect();
        let _ = writeln!(
            out,
            "{} (VRID {}, {ifname}, unicast with {}):",
            i.name,
            i.vrid,
            peers.join(", ")
        );
        let _ = writeln!(out, "  firewalld:");
        for p in &peers {
            let _ = writeln!(
                out,
                "    firewall-cmd --direct --permanent --add-rule {fw_family} filter INPUT 0 --in-interface {ifname} --source {p} --protocol vrrp -j ACCEPT"
            );
        }
        let _ = writeln!(out, "    firewall-cmd --reload");
        let _ = writeln!(
            out,
            "  nftables (in your input chain, before any drop):\n    nft add rule inet filter input iifname \"{ifname}\" {nft_family} saddr {{ {} }} meta l4proto vrrp accept",
            peers.join(", ")
        );
        let _ = writeln!(
            out,
            "  each peer must list this router's address ({}) as its unicast_peer",
            i.src_ip
                .map_or_else(|| format!("the address of {ifname}"), |a| a.to_string())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_conf::{FakeHost, LoadOptions, load_str};

    fn config(text: &str) -> Config {
        let host = FakeHost::new().interface("ens33");
        load_str("k.conf", text, &LoadOptions::default(), &host)
            .config
            .unwrap()
    }

    #[test]
    fn the_seeds_fix_with_its_interface_and_group() {
        let c = config(
            "vrrp_instance VI_1 {\n interface ens33\n virtual_router_id 51\n virtual_ipaddress {\n  192.168.5.10\n }\n}\n",
        );
        let text = remedies(&c);
        assert!(text.contains("firewall-cmd --direct --permanent --add-rule ipv4 filter INPUT 0 --in-interface ens33 --destination 224.0.0.18 --protocol vrrp -j ACCEPT"), "{text}");
        assert!(text.contains("nft add rule inet filter input iifname \"ens33\" ip daddr 224.0.0.18 meta l4proto vrrp accept"), "{text}");
    }

    #[test]
    fn unicast_peers_are_let_in_by_source() {
        let c = config(
            "vrrp_instance VI_1 {\n interface ens33\n virtual_router_id 51\n unicast_src_ip 10.0.0.1\n unicast_peer {\n  10.0.0.2\n }\n virtual_ipaddress {\n  10.0.0.10\n }\n}\n",
        );
        let text = remedies(&c);
        assert!(text.contains("--source 10.0.0.2 --protocol vrrp"), "{text}");
        assert!(
            text.contains("ip saddr { 10.0.0.2 } meta l4proto vrrp accept"),
            "{text}"
        );
        assert!(text.contains("(10.0.0.1) as its unicast_peer"), "{text}");
    }
}
