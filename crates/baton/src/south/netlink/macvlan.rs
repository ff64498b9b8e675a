//! Macvlan interfaces for VRRP's virtual MAC (`use_vmac`): create one in private mode with
//! the virtual router's MAC on its base interface, switch off IPv6's automatic addresses on
//! it, bring it up, find the ones a previous run left, delete them.

use futures::TryStreamExt;
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoKind, LinkAttribute, LinkInfo, LinkMessage,
    MacVlanMode,
};
use rtnetlink::{LinkMacVlan, LinkUnspec};

use super::{Netlink, NetlinkError, Result};

/// A macvlan as found on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macvlan {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    /// The interface it sits on.
    pub base: Option<u32>,
}

fn macvlan_of(m: &LinkMessage) -> Option<Macvlan> {
    let mut name = None;
    let mut mac = None;
    let mut base = None;
    let mut is_macvlan = false;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Address(a) => mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            LinkAttribute::Link(i) => base = Some(*i),
            LinkAttribute::LinkInfo(infos) => {
                is_macvlan = infos
                    .iter()
                    .any(|i| matches!(i, LinkInfo::Kind(InfoKind::MacVlan)));
            }
            _ => {}
        }
    }
    is_macvlan.then_some(Macvlan {
        index: m.header.index,
        name: name?,
        mac,
        base,
    })
}

impl Netlink {
    /// Every macvlan interface.
    pub async fn macvlans(&self) -> Result<Vec<Macvlan>> {
        let msgs: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(NetlinkError::request("list interfaces"))?;
        Ok(msgs.iter().filter_map(macvlan_of).collect())
    }

    /// `ip link add NAME link BASE address MAC type macvlan mode private`, left down.
    pub async fn add_macvlan(&self, name: &str, base: u32, mac: [u8; 6]) -> Result<()> {
        let msg = LinkMacVlan::new(name, base, MacVlanMode::Private)
            .address(mac.to_vec())
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(NetlinkError::request(format!("create macvlan {name}")))
    }

    /// No automatic IPv6 address on the interface (`addrgenmode none`): every router's VMAC
    /// has the same MAC, so an EUI-64 link-local address would be the same on all of them
    /// (RFC 5798 §7.4).
    pub async fn no_ipv6_autoconf(&self, index: u32) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index)
            .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]))
            .build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(NetlinkError::request("set addrgenmode none"))
    }

    pub async fn set_link_up(&self, index: u32) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(NetlinkError::request("set link up"))
    }

    pub async fn del_link(&self, index: u32) -> Result<()> {
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(NetlinkError::request("delete interface"))
    }
}
