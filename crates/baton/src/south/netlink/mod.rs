//! Netlink (rtnetlink): the interfaces VRRP runs on, the virtual addresses, routes and rules an
//! instance installs as master, and a monitor that turns kernel notifications into typed
//! events (link up/down, interfaces appearing later, addresses added or removed, including a
//! VIP deleted by hand).

mod address;
mod macvlan;
mod monitor;
mod route;

use std::net::IpAddr;

use futures::{StreamExt, TryStreamExt};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::Handle;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};

pub use address::address_message;
pub use macvlan::Macvlan;
pub use monitor::{Monitor, NetEvent};
pub use route::RouteOifs;

/// Errors from the kernel or from a request we could not build.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("{op}: {source}")]
    Request {
        op: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("no interface named '{0}'")]
    NoSuchInterface(String),
    #[error("{0}")]
    Invalid(String),
}

impl NetlinkError {
    fn request(op: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetlinkError {
        let op = op.into();
        move |source| NetlinkError::Request { op, source }
    }

    /// The kernel's errno, when the kernel refused a request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Request {
                source: rtnetlink::Error::NetlinkError(m),
                ..
            } => m.code.map(|c| -c.get()),
            _ => None,
        }
    }

    /// The object was already there (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// The object to remove was not there (EADDRNOTAVAIL for addresses, ESRCH/ENOENT for
    /// routes and rules).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.errno(),
            Some(libc::EADDRNOTAVAIL) | Some(libc::ESRCH) | Some(libc::ENOENT)
        )
    }
}

pub type Result<T> = std::result::Result<T, NetlinkError>;

/// How long the loop waits for the kernel to acknowledge an address, route, rule or link
/// change, or to finish a dump. The
/// kernel answers at once unless its routing lock is held (by a large `ip` batch, say);
/// past this the loop carries on and the request completes, or not, without it.
pub const NETLINK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// `fut` within [`NETLINK_DEADLINE`], or a warning saying what did not answer.
pub async fn within_deadline<T>(what: &str, fut: impl Future<Output = T>) -> Option<T> {
    match tokio::time::timeout(NETLINK_DEADLINE, fut).await {
        Ok(r) => Some(r),
        Err(_) => {
            tracing::warn!(
                "{what}: no answer from the kernel within {NETLINK_DEADLINE:?}; carrying on"
            );
            None
        }
    }
}

/// An interface as VRRP cares about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up and running (carrier): keepalived's notion of "up".
    pub up: bool,
    /// Hardware address; `None` for interfaces without an Ethernet address.
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
}

impl Link {
    pub(crate) fn from_message(m: &LinkMessage) -> Option<Link> {
        let mut name = None;
        let mut mac = None;
        let mut mtu = None;
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::Address(a) => mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
                LinkAttribute::Mtu(v) => mtu = Some(*v),
                _ => {}
            }
        }
        let flags = m.header.flags;
        Some(Link {
            index: m.header.index,
            name: name?,
            up: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running),
            mac,
            mtu,
        })
    }
}

/// An address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub label: Option<String>,
    pub scope: AddressScope,
    /// IFA_F_SECONDARY: not the interface's primary address of its subnet.
    pub secondary: bool,
    /// IFA_F_DEPRECATED (IPv6, preferred lifetime 0).
    pub deprecated: bool,
    /// IFA_F_NODAD (IPv6).
    pub nodad: bool,
    /// IFA_F_TENTATIVE (IPv6 duplicate address detection still running).
    pub tentative: bool,
}

impl InterfaceAddress {
    pub(crate) fn from_message(m: &AddressMessage) -> Option<InterfaceAddress> {
        let mut local = None;
        let mut address = None;
        let mut label = None;
        let mut flags = AddressFlags::from_bits_retain(u32::from(m.header.flags.bits()));
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(ip) => local = Some(*ip),
                AddressAttribute::Address(ip) => address = Some(*ip),
                AddressAttribute::Label(l) => label = Some(l.clone()),
                AddressAttribute::Flags(f) => flags = *f,
                _ => {}
            }
        }
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
        // point-to-point links and equal to IFA_LOCAL elsewhere. IPv6 sends only IFA_ADDRESS.
        Some(InterfaceAddress {
            ifindex: m.header.index,
            addr: local.or(address)?,
            prefix_len: m.header.prefix_len,
            label,
            scope: m.header.scope,
            secondary: flags.contains(AddressFlags::Secondary),
            deprecated: flags.contains(AddressFlags::Deprecated),
            nodad: flags.contains(AddressFlags::Nodad),
            tentative: flags.contains(AddressFlags::Tentative),
        })
    }
}

/// The address an instance sends its adverts from on `ifindex` (RFC 5798 §5.1.1.1 and
/// §5.1.2.1): for IPv4 the interface's primary address, for IPv6 its link-local address.
/// `addrs` is in kernel order, where the primary IPv4 address comes first.
pub fn primary_address(addrs: &[InterfaceAddress], ifindex: u32, ipv6: bool) -> Option<IpAddr> {
    addrs
        .iter()
        .filter(|a| a.ifindex == ifindex)
        .find(|a| match a.addr {
            IpAddr::V4(_) => !ipv6 && !a.secondary,
            IpAddr::V6(v6) => ipv6 && v6.is_unicast_link_local() && !a.tentative,
        })
        .map(|a| a.addr)
}

/// A connection to the kernel's routing netlink, for requests.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Open a netlink socket in the calling thread's network namespace and spawn its driver on
    /// the current tokio runtime.
    pub fn connect() -> Result<Netlink> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Socket)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Every interface.
    pub async fn links(&self) -> Result<Vec<Link>> {
        let msgs: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(NetlinkError::request("list interfaces"))?;
        Ok(msgs.iter().filter_map(Link::from_message).collect())
    }

    /// The interface called `name`, or `None` when there is none (yet).
    pub async fn link_by_name(&self, name: &str) -> Result<Option<Link>> {
        Ok(self.links().await?.into_iter().find(|l| l.name == name))
    }

    /// The index of interface `name`, as an error when it does not exist.
    pub async fn ifindex(&self, name: &str) -> Result<u32> {
        self.link_by_name(name)
            .await?
            .map(|l| l.index)
            .ok_or_else(|| NetlinkError::NoSuchInterface(name.to_string()))
    }

    /// Send one request and wait for the kernel's acknowledgement.
    pub(crate) async fn request_ack(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: String,
    ) -> Result<()> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        let mut handle = self.handle.clone();
        let mut resp = handle
            .request(req)
            .map_err(NetlinkError::request(op.clone()))?;
        while let Some(m) = resp.next().await {
            if let NetlinkPayload::Error(e) = m.payload
                && e.code.is_some()
            {
                return Err(NetlinkError::Request {
                    op,
                    source: rtnetlink::Error::NetlinkError(e),
                });
            }
        }
        Ok(())
    }

    /// Addresses of every interface, or of one.
    pub async fn addresses(&self, ifindex: Option<u32>) -> Result<Vec<InterfaceAddress>> {
        let mut req = self.handle.address().get();
        if let Some(i) = ifindex {
            req = req.set_link_index_filter(i);
        }
        let msgs: Vec<AddressMessage> = req
            .execute()
            .try_collect()
            .await
            .map_err(NetlinkError::request("list addresses"))?;
        Ok(msgs
            .iter()
            .filter_map(InterfaceAddress::from_message)
            .filter(|a| ifindex.is_none_or(|i| a.ifindex == i))
            .collect())
    }
}
