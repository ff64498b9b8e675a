//! VRRP virtual MAC interfaces (keepalived's `use_vmac`): for every VMAC the configuration
//! names (baton-conf resolved the names, MACs and bases), a macvlan in private mode with the
//! virtual router's MAC on its base interface, set up as keepalived sets it up:
//!
//! | where | IPv4 instance | IPv6 instance |
//! |---|---|---|
//! | the VMAC | `arp_ignore 1`, `accept_local 1`, `rp_filter 0`, `promote_secondaries 1`, IPv6 off | `arp_ignore 1`, `addrgenmode none`, a link-local address (the base's, or EUI-64 of the base's MAC) |
//! | the base interface | `arp_ignore 1`, `arp_filter 1` (put back as they were when the last VMAC on it goes) | |
//!
//! Leftovers of a run that did not clean up (a crash, `kill -9`) are deleted at start: any
//! macvlan with a configured VMAC's name, and any macvlan named `<vmac_prefix>…` that
//! carries a VRRP virtual MAC (00:00:5e:00:01:xx or 00:00:5e:00:02:xx). Everything made is
//! deleted on exit.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use baton_conf::{Config, Scope, VirtualAddress, Vmac};
use baton_wire::Family;

use super::netlink::{Netlink, within_deadline};

/// The VMACs this daemon made, and the base interfaces' ARP settings to put back.
#[derive(Debug, Default)]
pub struct Vmacs {
    made: Vec<(Vmac, u32)>,
    /// Base interface → (arp_ignore, arp_filter) before the first VMAC on it.
    saved: BTreeMap<String, (String, String)>,
}

fn sysctl_path(family: &str, ifname: &str, key: &str) -> String {
    format!("/proc/sys/net/{family}/conf/{ifname}/{key}")
}

fn read_sysctl(family: &str, ifname: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(sysctl_path(family, ifname, key))
        .ok()
        .map(|s| s.trim().to_string())
}

fn write_sysctl(family: &str, ifname: &str, key: &str, value: &str) {
    if let Err(e) = std::fs::write(sysctl_path(family, ifname, key), value) {
        tracing::warn!("cannot set net.{family}.conf.{ifname}.{key} = {value}: {e}");
    }
}

/// A VRRP virtual router MAC (RFC 5798 §7.3).
fn is_vrrp_mac(mac: &[u8; 6]) -> bool {
    mac[..4] == [0x00, 0x00, 0x5e, 0x00] && matches!(mac[4], 1 | 2)
}

/// The EUI-64 link-local address of `mac` (keepalived's `make_link_local_address`).
fn link_local_of(mac: [u8; 6]) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}

impl Vmacs {
    /// Make the VMACs of `config` that do not exist yet (deleting leftovers first) and
    /// delete the ones this daemon made that `config` no longer has.
    pub async fn apply(&mut self, netlink: &Netlink, config: &Config) {
        let wanted: Vec<Vmac> = config
            .instances
            .iter()
            .flat_map(|i| i.vmacs.iter().cloned())
            .collect();
        // Every kernel request below has the loop's netlink deadline: a VMAC not made in
        // time is logged and not counted as made, so the next reconcile finds it (if the
        // kernel made it after all) as a leftover and makes it again.
        let existing = match within_deadline("VMAC: listing interfaces", netlink.macvlans()).await {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                tracing::error!("VMAC: cannot list interfaces: {e}");
                return;
            }
            None => return,
        };
        // Ours, no longer configured.
        let mut keep = Vec::new();
        for (v, index) in std::mem::take(&mut self.made) {
            if wanted.contains(&v) {
                keep.push((v, index));
            } else {
                self.remove(netlink, &v, index).await;
            }
        }
        self.made = keep;
        let prefix = &config.global.vmac_prefix;
        for m in &existing {
            if self.made.iter().any(|(_, i)| *i == m.index) {
                continue;
            }
            let configured = wanted.iter().any(|v| v.name == m.name);
            let stray =
                m.name.starts_with(prefix.as_str()) && m.mac.is_some_and(|mac| is_vrrp_mac(&mac));
            if configured || stray {
                tracing::info!("VMAC: removing {} left by an earlier run", m.name);
                let what = format!("VMAC: removing {}", m.name);
                if let Some(Err(e)) = within_deadline(&what, netlink.del_link(m.index)).await {
                    tracing::warn!("VMAC: cannot remove {}: {e}", m.name);
                }
            }
        }
        for v in wanted {
            if self.made.iter().any(|(m, _)| *m == v) {
                continue;
            }
            let what = format!("VMAC {} on {}", v.name, v.base);
            match within_deadline(&what, self.create(netlink, &v)).await {
                Some(Ok(index)) => self.made.push((v, index)),
                Some(Err(e)) => tracing::error!("{what}: {e}"),
                None => {}
            }
        }
    }

    async fn create(
        &mut self,
        netlink: &Netlink,
        v: &Vmac,
    ) -> Result<u32, super::netlink::NetlinkError> {
        let base = netlink.ifindex(&v.base).await?;
        netlink.add_macvlan(&v.name, base, v.mac).await?;
        let index = netlink.ifindex(&v.name).await?;
        write_sysctl("ipv4", &v.name, "arp_ignore", "1");
        match v.family {
            Family::Ipv4 => {
                write_sysctl("ipv4", &v.name, "accept_local", "1");
                write_sysctl("ipv4", &v.name, "rp_filter", "0");
                write_sysctl("ipv4", &v.name, "promote_secondaries", "1");
                write_sysctl("ipv6", &v.name, "disable_ipv6", "1");
                if !self.saved.contains_key(&v.base) {
                    let old = (
                        read_sysctl("ipv4", &v.base, "arp_ignore").unwrap_or_else(|| "0".into()),
                        read_sysctl("ipv4", &v.base, "arp_filter").unwrap_or_else(|| "0".into()),
                    );
                    self.saved.insert(v.base.clone(), old);
                }
                write_sysctl("ipv4", &v.base, "arp_ignore", "1");
                write_sysctl("ipv4", &v.base, "arp_filter", "1");
                netlink.set_link_up(index).await?;
            }
            Family::Ipv6 => {
                netlink.no_ipv6_autoconf(index).await?;
                netlink.set_link_up(index).await?;
                // Adverts go out from a link-local address that is not a VIP: the base's.
                let base_ll =
                    netlink
                        .addresses(Some(base))
                        .await?
                        .into_iter()
                        .find_map(|a| match a.addr {
                            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(v6),
                            _ => None,
                        });
                let ll = match base_ll {
                    Some(ll) => ll,
                    None => {
                        let mac = netlink
                            .link_by_name(&v.base)
                            .await?
                            .and_then(|l| l.mac)
                            .unwrap_or(v.mac);
                        link_local_of(mac)
                    }
                };
                let mut a = VirtualAddress::new(IpAddr::V6(ll));
                a.prefix_len = 64;
                a.scope = Scope::Link;
                a.preferred_forever = true;
                if let Err(e) = netlink.add_address(index, &a).await
                    && !e.is_exists()
                {
                    return Err(e);
                }
            }
        }
        tracing::info!(
            "VMAC {} created on {} with MAC {}",
            v.name,
            v.base,
            v.mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        );
        Ok(index)
    }

    async fn remove(&mut self, netlink: &Netlink, v: &Vmac, index: u32) {
        let what = format!("VMAC: removing {}", v.name);
        if let Some(Err(e)) = within_deadline(&what, netlink.del_link(index)).await {
            tracing::warn!("VMAC: cannot remove {}: {e}", v.name);
        }
        let others_on_base = self
            .made
            .iter()
            .any(|(m, _)| m.base == v.base && m.family == Family::Ipv4 && m != v);
        if v.family == Family::Ipv4
            && !others_on_base
            && let Some((ignore, filter)) = self.saved.remove(&v.base)
        {
            write_sysctl("ipv4", &v.base, "arp_ignore", &ignore);
            write_sysctl("ipv4", &v.base, "arp_filter", &filter);
        }
    }

    /// Delete every VMAC made (the daemon is stopping).
    pub async fn remove_all(&mut self, netlink: &Netlink) {
        while let Some((v, index)) = self.made.pop() {
            self.remove(netlink, &v, index).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_is_eui64_of_the_mac() {
        assert_eq!(
            link_local_of([0x02, 0xba, 0x6c, 0x00, 0x00, 0x01]),
            "fe80::ba:6cff:fe00:1".parse::<Ipv6Addr>().unwrap()
        );
        assert!(is_vrrp_mac(&[0, 0, 0x5e, 0, 1, 51]));
        assert!(is_vrrp_mac(&[0, 0, 0x5e, 0, 2, 51]));
        assert!(!is_vrrp_mac(&[0, 0, 0x5e, 0, 3, 51]));
    }
}
