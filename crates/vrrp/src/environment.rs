//! Runtime facts the configuration cannot know: which interfaces exist, whether they are
//! up, and their addresses (the daemon learns them from netlink). The primary address of an
//! interface is the source of adverts unless `unicast_src_ip` / `mcast_src_ip` says otherwise.

use std::net::IpAddr;
use std::sync::Arc;

use baton_wire::Family;

/// One interface as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceFacts {
    pub name: Arc<str>,
    /// Administratively up with carrier.
    pub up: bool,
    /// Its addresses in the kernel's order (primary first).
    pub addresses: Vec<IpAddr>,
}

/// The interfaces at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub interfaces: Vec<InterfaceFacts>,
}

impl Environment {
    pub fn new() -> Environment {
        Environment::default()
    }

    /// Add an interface (builder style, for tests and the simulator).
    pub fn with_interface(mut self, name: &str, up: bool, addresses: &[IpAddr]) -> Environment {
        self.interfaces.push(InterfaceFacts {
            name: Arc::from(name),
            up,
            addresses: addresses.to_vec(),
        });
        self
    }

    /// Keep only the addresses `keep` accepts, on every interface.
    pub(crate) fn retain_addresses(&mut self, keep: impl Fn(&IpAddr) -> bool) {
        for i in &mut self.interfaces {
            i.addresses.retain(|a| keep(a));
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&InterfaceFacts> {
        self.interfaces.iter().find(|i| &*i.name == name)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> &mut InterfaceFacts {
        let pos = match self.interfaces.iter().position(|i| &*i.name == name) {
            Some(p) => p,
            None => {
                // An interface we had not heard of: it exists now.
                self.interfaces.push(InterfaceFacts {
                    name: Arc::from(name),
                    up: false,
                    addresses: Vec::new(),
                });
                self.interfaces.len() - 1
            }
        };
        &mut self.interfaces[pos]
    }

    pub(crate) fn is_up(&self, name: &str) -> bool {
        self.get(name).is_some_and(|i| i.up)
    }

    pub(crate) fn has_address(&self, name: &str, addr: &IpAddr) -> bool {
        self.get(name).is_some_and(|i| i.addresses.contains(addr))
    }

    /// The address adverts go out from: for IPv4 the first IPv4 address, for IPv6 the
    /// first link-local one (RFC 5798 §5.1.2.1 says the source is the link-local address),
    /// else the first IPv6 address. Addresses in `exclude` (our VIPs) never qualify.
    pub(crate) fn primary(
        &self,
        name: &str,
        family: Family,
        exclude: &dyn Fn(&IpAddr) -> bool,
    ) -> Option<IpAddr> {
        let iface = self.get(name)?;
        let mut candidates = iface
            .addresses
            .iter()
            .filter(|a| Family::of(a) == family && !exclude(a));
        match family {
            Family::Ipv4 => candidates.next().copied(),
            Family::Ipv6 => {
                let all: Vec<&IpAddr> = candidates.collect();
                all.iter()
                    .find(|a| matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
                    .or(all.first())
                    .map(|a| **a)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5798 §5.1.2.1: for IPv6 "the source address ... MUST be the link-local address";
    /// our own VIPs never count as the primary address.
    #[test]
    fn primary_prefers_link_local_and_skips_our_vips() {
        let global: IpAddr = "2001:db8::1".parse().unwrap();
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let vip: IpAddr = "192.168.5.10".parse().unwrap();
        let real: IpAddr = "192.168.5.11".parse().unwrap();
        let env = Environment::new().with_interface("eth0", true, &[vip, global, real, ll]);
        let ours = |a: &IpAddr| *a == vip;
        assert_eq!(env.primary("eth0", Family::Ipv6, &ours), Some(ll));
        assert_eq!(env.primary("eth0", Family::Ipv4, &ours), Some(real));
        assert_eq!(env.primary("eth1", Family::Ipv4, &ours), None);
    }
}
