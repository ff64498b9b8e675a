//! Virtual addresses: `virtual_ipaddress` lines turned into RTM_NEWADDR / RTM_DELADDR with
//! every option keepalived honours (prefix, brd, label, scope, peer, home, noprefixroute,
//! IPv6 NODAD and the deprecated /128).

use std::net::{IpAddr, Ipv4Addr};

use baton_conf::{Broadcast, Scope, VirtualAddress};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};

use super::{Netlink, NetlinkError, Result};

/// "Forever" in IFA_CACHEINFO lifetimes.
const INFINITY_LIFE_TIME: u32 = u32::MAX;

pub(crate) fn address_scope(s: Scope) -> AddressScope {
    match s {
        Scope::Global => AddressScope::Universe,
        Scope::Site => AddressScope::Site,
        Scope::Link => AddressScope::Link,
        Scope::Host => AddressScope::Host,
        Scope::Nowhere => AddressScope::Nowhere,
        Scope::Other(n) => AddressScope::from(n),
    }
}

fn broadcast(addr: Ipv4Addr, prefix_len: u8, brd: Broadcast) -> Ipv4Addr {
    let host_mask = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
    match brd {
        Broadcast::Addr(a) => a,
        Broadcast::Set => Ipv4Addr::from(u32::from(addr) | host_mask),
        Broadcast::Clear => Ipv4Addr::from(u32::from(addr) & !host_mask),
    }
}

/// The RTM_NEWADDR message for `vip` on `ifindex`. Unlike rtnetlink's builder it adds no
/// broadcast address unless `brd` asks for one, as keepalived does.
pub fn address_message(ifindex: u32, vip: &VirtualAddress) -> Result<AddressMessage> {
    let mut m = AddressMessage::default();
    m.header.index = ifindex;
    m.header.prefix_len = vip.prefix_len;
    m.header.scope = address_scope(vip.scope);
    let mut flags = AddressFlags::empty();
    match vip.addr {
        IpAddr::V4(v4) => {
            if vip.prefix_len > 32 {
                return Err(NetlinkError::Invalid(format!(
                    "{}/{}: prefix too long",
                    v4, vip.prefix_len
                )));
            }
            m.header.family = AddressFamily::Inet;
            m.attributes.push(AddressAttribute::Local(vip.addr));
            m.attributes
                .push(AddressAttribute::Address(vip.peer.unwrap_or(vip.addr)));
            if let Some(b) = vip.brd {
                m.attributes.push(AddressAttribute::Broadcast(broadcast(
                    v4,
                    vip.prefix_len,
                    b,
                )));
            }
            if let Some(l) = &vip.label {
                m.attributes.push(AddressAttribute::Label(l.clone()));
            }
        }
        IpAddr::V6(v6) => {
            if vip.prefix_len > 128 {
                return Err(NetlinkError::Invalid(format!(
                    "{}/{}: prefix too long",
                    v6, vip.prefix_len
                )));
            }
            m.header.family = AddressFamily::Inet6;
            if let Some(peer) = vip.peer {
                m.attributes.push(AddressAttribute::Local(vip.addr));
                m.attributes.push(AddressAttribute::Address(peer));
            } else {
                m.attributes.push(AddressAttribute::Address(vip.addr));
            }
            if vip.nodad {
                flags |= AddressFlags::Nodad;
            }
            if vip.home {
                flags |= AddressFlags::Homeaddress;
            }
            // A /128 VIP must not become the source of the host's own traffic: keepalived
            // deprecates it (preferred_lft 0) unless `preferred_lft forever`.
            if vip.prefix_len == 128 && !vip.preferred_forever {
                let mut life = CacheInfo::default();
                life.ifa_preferred = 0;
                life.ifa_valid = INFINITY_LIFE_TIME;
                m.attributes.push(AddressAttribute::CacheInfo(life));
            }
        }
    }
    if vip.noprefixroute {
        flags |= AddressFlags::Noprefixroute;
    }
    if vip.mngtmpaddr {
        flags |= AddressFlags::Managetempaddr;
    }
    if vip.autojoin {
        flags |= AddressFlags::Mcautojoin;
    }
    m.header.flags = AddressHeaderFlags::from_bits_truncate((flags.bits() & 0xff) as u8);
    if !flags.is_empty() {
        m.attributes.push(AddressAttribute::Flags(flags));
    }
    Ok(m)
}

impl Netlink {
    /// Add `vip` to interface `ifindex` (`ip addr add`). An address already there is an
    /// error the caller can recognise with [`NetlinkError::is_exists`].
    pub async fn add_address(&self, ifindex: u32, vip: &VirtualAddress) -> Result<()> {
        let m = address_message(ifindex, vip)?;
        self.request_ack(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            format!("add address {}/{}", vip.addr, vip.prefix_len),
        )
        .await
    }

    /// Remove `vip` from interface `ifindex` (`ip addr del`).
    pub async fn del_address(&self, ifindex: u32, vip: &VirtualAddress) -> Result<()> {
        let mut m = address_message(ifindex, vip)?;
        // Deletion matches on local address and prefix; lifetimes and flags would only get
        // in the way, and a label that was changed by hand must not make the VIP stick.
        m.attributes
            .retain(|a| matches!(a, AddressAttribute::Local(_) | AddressAttribute::Address(_)));
        m.header.flags = AddressHeaderFlags::empty();
        self.request_ack(
            RouteNetlinkMessage::DelAddress(m),
            NLM_F_REQUEST | NLM_F_ACK,
            format!("remove address {}/{}", vip.addr, vip.prefix_len),
        )
        .await
    }

    /// Remove `vip` if it is there; `Ok(false)` when it was not. What startup uses to clear
    /// the leftovers of a crashed daemon, and shutdown to release.
    pub async fn del_address_if_present(&self, ifindex: u32, vip: &VirtualAddress) -> Result<bool> {
        match self.del_address(ifindex, vip).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Netlink {
    /// Clear what a crashed daemon may have left: remove each of `vips` that is present,
    /// on its own `dev` or else on `default_dev` (the instance's interface), as keepalived
    /// does for every configured instance at start ("removing VIPs"). Returns the addresses
    /// that were there. An interface that does not exist yet holds nothing to remove.
    pub async fn remove_leftovers<'v>(
        &self,
        vips: &'v [VirtualAddress],
        default_dev: &str,
    ) -> Result<Vec<&'v VirtualAddress>> {
        let links = self.links().await?;
        let mut removed = Vec::new();
        for vip in vips {
            let dev = vip.dev.as_deref().unwrap_or(default_dev);
            let Some(link) = links.iter().find(|l| l.name == dev) else {
                continue;
            };
            if self.del_address_if_present(link.index, vip).await? {
                removed.push(vip);
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(s: &str) -> VirtualAddress {
        VirtualAddress::new(s.parse().unwrap())
    }

    #[test]
    fn ipv4_vip_gets_no_broadcast_unless_asked() {
        let m = address_message(3, &vip("192.168.5.10")).unwrap();
        assert!(
            !m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Broadcast(_)))
        );
        assert_eq!(m.header.prefix_len, 32);
        assert_eq!(m.header.index, 3);
    }

    #[test]
    fn broadcast_plus_and_minus_set_and_clear_host_bits() {
        let a: Ipv4Addr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            broadcast(a, 24, Broadcast::Set),
            Ipv4Addr::new(10, 1, 2, 255)
        );
        assert_eq!(
            broadcast(a, 24, Broadcast::Clear),
            Ipv4Addr::new(10, 1, 2, 0)
        );
        assert_eq!(broadcast(a, 0, Broadcast::Set), Ipv4Addr::BROADCAST);
        assert_eq!(broadcast(a, 32, Broadcast::Set), a);
    }

    #[test]
    fn ipv6_host_vip_is_nodad_and_deprecated_unless_preferred_forever() {
        let m = address_message(1, &vip("fd00::10")).unwrap();
        assert!(m.header.flags.contains(AddressHeaderFlags::Nodad));
        assert!(
            m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::CacheInfo(c) if c.ifa_preferred == 0))
        );
        let mut v = vip("fd00::10");
        v.preferred_forever = true;
        v.nodad = false;
        let m = address_message(1, &v).unwrap();
        assert!(!m.header.flags.contains(AddressHeaderFlags::Nodad));
        assert!(
            !m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::CacheInfo(_)))
        );
    }

    #[test]
    fn impossible_prefix_is_refused_before_the_kernel_sees_it() {
        let mut v = vip("10.0.0.1");
        v.prefix_len = 33;
        assert!(address_message(1, &v).is_err());
    }
}
