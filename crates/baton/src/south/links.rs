//! The interfaces as the daemon knows them: listed once at start, then kept current from the
//! netlink monitor. Kernel events become the protocol core's link and address inputs; the
//! core decides what they mean (FAULT, a new advert source, a VIP deleted by hand).

use std::net::IpAddr;
use std::sync::Arc;

use baton_vrrp::{Environment, InterfaceFacts};

use crate::south::netlink::{InterfaceAddress, Link, NetEvent};

/// A link or address change, owned, for `Input::LinkUp/LinkDown/AddressAdded/AddressRemoved`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkInput {
    Up(Arc<str>),
    Down(Arc<str>),
    AddressAdded(Arc<str>, IpAddr),
    AddressRemoved(Arc<str>, IpAddr),
}

/// What one kernel event changed, besides the core's inputs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub inputs: Vec<LinkInput>,
    /// An interface appeared, came up or was renamed: sockets may be opened on it now.
    pub appeared: Option<Arc<str>>,
    /// An interface vanished (or was renamed away): sockets bound to it are dead.
    pub vanished: Option<Arc<str>>,
}

#[derive(Debug, Clone)]
struct Known {
    link: Link,
    name: Arc<str>,
}

/// Interfaces and their addresses.
#[derive(Debug, Default)]
pub struct Interfaces {
    links: Vec<Known>,
    /// Every address, in kernel order (the primary IPv4 address of a subnet comes first).
    addrs: Vec<InterfaceAddress>,
}

/// An address the core may send from: IPv6 addresses still under duplicate address
/// detection cannot be bound yet.
fn usable(a: &InterfaceAddress) -> bool {
    !a.tentative
}

impl Interfaces {
    pub fn new(links: Vec<Link>, addrs: Vec<InterfaceAddress>) -> Interfaces {
        Interfaces {
            links: links
                .into_iter()
                .map(|link| Known {
                    name: Arc::from(link.name.as_str()),
                    link,
                })
                .collect(),
            addrs,
        }
    }

    pub fn by_name(&self, name: &str) -> Option<&Link> {
        self.links
            .iter()
            .find(|k| k.link.name == name)
            .map(|k| &k.link)
    }

    pub fn by_index(&self, index: u32) -> Option<&Link> {
        self.links
            .iter()
            .find(|k| k.link.index == index)
            .map(|k| &k.link)
    }

    /// The indexes of every known interface.
    pub fn indexes(&self) -> impl Iterator<Item = u32> + '_ {
        self.links.iter().map(|k| k.link.index)
    }

    /// Every known address.
    pub fn addresses(&self) -> &[InterfaceAddress] {
        &self.addrs
    }

    fn name_of(&self, index: u32) -> Option<Arc<str>> {
        self.links
            .iter()
            .find(|k| k.link.index == index)
            .map(|k| k.name.clone())
    }

    /// What the core needs at start: each interface, whether it is up, its usable addresses.
    pub fn environment(&self) -> Environment {
        Environment {
            interfaces: self
                .links
                .iter()
                .map(|k| InterfaceFacts {
                    name: k.name.clone(),
                    up: k.link.up,
                    addresses: self
                        .addrs
                        .iter()
                        .filter(|a| a.ifindex == k.link.index && usable(a))
                        .map(|a| a.addr)
                        .collect(),
                })
                .collect(),
        }
    }

    /// Apply one kernel event and say what it means.
    pub fn apply(&mut self, ev: NetEvent) -> Changes {
        let mut ch = Changes::default();
        match ev {
            NetEvent::LinkAppeared(link) | NetEvent::LinkChanged(link) => {
                match self.links.iter().position(|k| k.link.index == link.index) {
                    Some(i) if self.links[i].link.name != link.name => {
                        // A rename is the old name going and a new one coming.
                        // The addresses stay with the interface under its new name.
                        let old = self.links.remove(i);
                        self.vanish(&old, false, &mut ch);
                        self.appear(link, &mut ch);
                    }
                    Some(i) => {
                        let was_up = self.links[i].link.up;
                        self.links[i].link = link.clone();
                        if was_up != link.up {
                            self.up_down(i, &mut ch);
                        }
                    }
                    None => self.appear(link, &mut ch),
                }
            }
            NetEvent::LinkUp(link) | NetEvent::LinkDown(link) => {
                match self.links.iter().position(|k| k.link.index == link.index) {
                    Some(i) if self.links[i].link.name == link.name => {
                        let was_up = self.links[i].link.up;
                        self.links[i].link = link;
                        if was_up != self.links[i].link.up {
                            self.up_down(i, &mut ch);
                        }
                    }
                    _ => return self.apply(NetEvent::LinkAppeared(link)),
                }
            }
            NetEvent::LinkRemoved { index, .. } => {
                if let Some(i) = self.links.iter().position(|k| k.link.index == index) {
                    let old = self.links.remove(i);
                    self.vanish(&old, true, &mut ch);
                }
            }
            NetEvent::AddressAdded(a) => {
                let Some(name) = self.name_of(a.ifindex) else {
                    // The link's own event comes first in practice; without it the
                    // address has no name to go by and is learnt when the link appears.
                    return ch;
                };
                let was_usable = match self
                    .addrs
                    .iter_mut()
                    .find(|x| x.ifindex == a.ifindex && x.addr == a.addr)
                {
                    Some(x) => {
                        let before = usable(x);
                        *x = a.clone();
                        before
                    }
                    None => {
                        self.addrs.push(a.clone());
                        false
                    }
                };
                if usable(&a) && !was_usable {
                    ch.inputs.push(LinkInput::AddressAdded(name, a.addr));
                } else if !usable(&a) && was_usable {
                    ch.inputs.push(LinkInput::AddressRemoved(name, a.addr));
                }
            }
            NetEvent::AddressRemoved(a) => {
                let before = self.addrs.len();
                let mut was_usable = false;
                self.addrs.retain(|x| {
                    let gone = x.ifindex == a.ifindex && x.addr == a.addr;
                    was_usable |= gone && usable(x);
                    !gone
                });
                // An address we never saw added (or saw tentative) still reaches the core if
                // it was usable: a VIP deleted by hand must never go unnoticed.
                if let Some(name) = self.name_of(a.ifindex)
                    && (was_usable || before == self.addrs.len())
                {
                    ch.inputs.push(LinkInput::AddressRemoved(name, a.addr));
                }
            }
        }
        ch
    }

    fn up_down(&self, i: usize, ch: &mut Changes) {
        let k = &self.links[i];
        if k.link.up {
            ch.inputs.push(LinkInput::Up(k.name.clone()));
            ch.appeared = Some(k.name.clone());
        } else {
            ch.inputs.push(LinkInput::Down(k.name.clone()));
        }
    }

    fn appear(&mut self, link: Link, ch: &mut Changes) {
        let name: Arc<str> = Arc::from(link.name.as_str());
        let up = link.up;
        let index = link.index;
        self.links.push(Known {
            name: name.clone(),
            link,
        });
        // Addresses the kernel reported before the link's own event (rare) count now.
        for a in self
            .addrs
            .iter()
            .filter(|a| a.ifindex == index && usable(a))
        {
            ch.inputs
                .push(LinkInput::AddressAdded(name.clone(), a.addr));
        }
        ch.inputs.push(if up {
            LinkInput::Up(name.clone())
        } else {
            LinkInput::Down(name.clone())
        });
        ch.appeared = Some(name);
    }

    fn vanish(&mut self, old: &Known, forget_addresses: bool, ch: &mut Changes) {
        let index = old.link.index;
        for a in self
            .addrs
            .iter()
            .filter(|a| a.ifindex == index && usable(a))
        {
            ch.inputs
                .push(LinkInput::AddressRemoved(old.name.clone(), a.addr));
        }
        if forget_addresses {
            self.addrs.retain(|a| a.ifindex != index);
        }
        ch.inputs.push(LinkInput::Down(old.name.clone()));
        ch.vanished = Some(old.name.clone());
    }
}

/// keepalived's `promote_secondaries`: on the interface of every instance that asks for it,
/// removing one address of a subnet keeps the others (the kernel promotes a secondary
/// instead of dropping them all), so a VIP leaving does not take the node's own addresses.
pub fn promote_secondaries(config: &baton_conf::Config) {
    for i in config.instances.iter().filter(|i| i.promote_secondaries) {
        let Some(ifname) = &i.interface else { continue };
        let path = format!("/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries");
        if let Err(e) = std::fs::write(&path, "1") {
            tracing::warn!("({}) promote_secondaries on {ifname}: {e}", i.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::address::AddressScope;

    fn link(index: u32, name: &str, up: bool) -> Link {
        Link {
            index,
            name: name.into(),
            up,
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            mtu: Some(1500),
        }
    }

    fn addr(ifindex: u32, a: &str, tentative: bool) -> InterfaceAddress {
        InterfaceAddress {
            ifindex,
            addr: a.parse().unwrap(),
            prefix_len: 24,
            label: None,
            scope: AddressScope::Universe,
            secondary: false,
            deprecated: false,
            nodad: false,
            tentative,
        }
    }

    fn name(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    #[test]
    fn environment_lists_usable_addresses_in_kernel_order() {
        let ifs = Interfaces::new(
            vec![link(2, "ens33", true), link(3, "eth1", false)],
            vec![
                addr(2, "192.168.5.11", false),
                addr(2, "fe80::1", true),
                addr(2, "192.168.5.99", false),
                addr(3, "10.0.0.1", false),
            ],
        );
        let env = ifs.environment();
        assert_eq!(env.interfaces.len(), 2);
        assert_eq!(&*env.interfaces[0].name, "ens33");
        assert!(env.interfaces[0].up);
        assert_eq!(
            env.interfaces[0].addresses,
            vec![
                "192.168.5.11".parse::<IpAddr>().unwrap(),
                "192.168.5.99".parse().unwrap()
            ]
        );
        assert!(!env.interfaces[1].up);
    }

    #[test]
    fn link_down_up_and_a_late_interface_become_inputs() {
        let mut ifs = Interfaces::new(vec![link(2, "ens33", true)], vec![]);
        let ch = ifs.apply(NetEvent::LinkDown(link(2, "ens33", false)));
        assert_eq!(ch.inputs, vec![LinkInput::Down(name("ens33"))]);
        assert_eq!(ch.appeared, None);
        let ch = ifs.apply(NetEvent::LinkUp(link(2, "ens33", true)));
        assert_eq!(ch.inputs, vec![LinkInput::Up(name("ens33"))]);
        assert_eq!(ch.appeared, Some(name("ens33")));
        // An attribute change without a state change says nothing.
        let ch = ifs.apply(NetEvent::LinkChanged(link(2, "ens33", true)));
        assert!(ch.inputs.is_empty());
        let ch = ifs.apply(NetEvent::LinkAppeared(link(7, "eth9", true)));
        assert_eq!(ch.inputs, vec![LinkInput::Up(name("eth9"))]);
        assert_eq!(ch.appeared, Some(name("eth9")));
        assert_eq!(ifs.by_name("eth9").map(|l| l.index), Some(7));
    }

    #[test]
    fn addresses_count_once_usable_and_removal_is_always_reported() {
        let mut ifs = Interfaces::new(vec![link(2, "ens33", true)], vec![]);
        let ll: IpAddr = "fe80::1".parse().unwrap();
        // Tentative first (DAD running), usable later: one AddressAdded.
        assert!(
            ifs.apply(NetEvent::AddressAdded(addr(2, "fe80::1", true)))
                .inputs
                .is_empty()
        );
        let ch = ifs.apply(NetEvent::AddressAdded(addr(2, "fe80::1", false)));
        assert_eq!(ch.inputs, vec![LinkInput::AddressAdded(name("ens33"), ll)]);
        assert!(
            ifs.apply(NetEvent::AddressAdded(addr(2, "fe80::1", false)))
                .inputs
                .is_empty()
        );
        let vip: IpAddr = "192.168.5.10".parse().unwrap();
        ifs.apply(NetEvent::AddressAdded(addr(2, "192.168.5.10", false)));
        let ch = ifs.apply(NetEvent::AddressRemoved(addr(2, "192.168.5.10", false)));
        assert_eq!(
            ch.inputs,
            vec![LinkInput::AddressRemoved(name("ens33"), vip)]
        );
        // Removed without ever being seen: still reported.
        let ch = ifs.apply(NetEvent::AddressRemoved(addr(2, "192.168.5.10", false)));
        assert_eq!(
            ch.inputs,
            vec![LinkInput::AddressRemoved(name("ens33"), vip)]
        );
        // Unknown interface: nothing to name it by.
        assert!(
            ifs.apply(NetEvent::AddressAdded(addr(9, "10.9.9.9", false)))
                .inputs
                .is_empty()
        );
    }

    #[test]
    fn removed_and_renamed_links_take_their_addresses_with_them() {
        let mut ifs = Interfaces::new(
            vec![link(2, "ens33", true)],
            vec![addr(2, "192.168.5.11", false)],
        );
        let a: IpAddr = "192.168.5.11".parse().unwrap();
        let ch = ifs.apply(NetEvent::LinkChanged(link(2, "lan0", true)));
        assert_eq!(
            ch.inputs,
            vec![
                LinkInput::AddressRemoved(name("ens33"), a),
                LinkInput::Down(name("ens33")),
                LinkInput::AddressAdded(name("lan0"), a),
                LinkInput::Up(name("lan0")),
            ]
        );
        assert_eq!(ch.vanished, Some(name("ens33")));
        assert_eq!(ch.appeared, Some(name("lan0")));
        let ch = ifs.apply(NetEvent::LinkRemoved {
            index: 2,
            name: "lan0".into(),
        });
        assert_eq!(
            ch.inputs,
            vec![
                LinkInput::AddressRemoved(name("lan0"), a),
                LinkInput::Down(name("lan0")),
            ]
        );
        assert!(ifs.by_index(2).is_none());
    }
}
