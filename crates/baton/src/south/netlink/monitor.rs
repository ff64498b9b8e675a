//! Kernel notifications (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR) turned into
//! the events VRRP reacts to. RTM_NEWLINK arrives for every attribute change, so the monitor
//! remembers each interface's up state and reports only real transitions.

use std::collections::HashMap;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::sys::SocketAddr;
use tokio::task::JoinHandle;

use super::{InterfaceAddress, Link, NetlinkError, Result};

/// Something the kernel told us about interfaces or addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// An interface we did not know about: created after start, or moved into our namespace.
    LinkAppeared(Link),
    /// A known interface went up (administratively up and running).
    LinkUp(Link),
    /// A known interface went down.
    LinkDown(Link),
    /// A known interface changed name, MAC or MTU without changing up state.
    LinkChanged(Link),
    LinkRemoved {
        index: u32,
        name: String,
    },
    AddressAdded(InterfaceAddress),
    /// An address went away; for a VIP we hold, someone deleted it behind our back.
    AddressRemoved(InterfaceAddress),
}

/// A subscription to link and address notifications. Dropping it closes the socket.
#[derive(Debug)]
pub struct Monitor {
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    links: HashMap<u32, Link>,
    driver: JoinHandle<()>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Monitor {
    /// Subscribe, in the calling thread's network namespace, on the current tokio runtime.
    /// `known` are the interfaces the caller already listed (after subscribing, ideally, so
    /// nothing falls between the listing and the first event): changes are reported against
    /// them and anything else is new.
    pub fn start(known: &[Link]) -> Result<Monitor> {
        let (conn, _handle, messages) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .map_err(NetlinkError::Socket)?;
        let driver = tokio::spawn(conn);
        Ok(Monitor {
            messages,
            links: known.iter().map(|l| (l.index, l.clone())).collect(),
            driver,
        })
    }

    /// Replace what the monitor believes about interfaces (after a fresh listing).
    pub fn set_known(&mut self, known: &[Link]) {
        self.links = known.iter().map(|l| (l.index, l.clone())).collect();
    }

    /// The next event; `None` once the netlink socket is gone.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            let (msg, _) = self.messages.next().await?;
            if let Some(ev) = self.translate(msg) {
                return Some(ev);
            }
        }
    }

    fn translate(&mut self, msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<NetEvent> {
        let NetlinkPayload::InnerMessage(inner) = msg.payload else {
            return None;
        };
        match inner {
            RouteNetlinkMessage::NewLink(m) => {
                let link = Link::from_message(&m)?;
                match self.links.insert(link.index, link.clone()) {
                    None => Some(NetEvent::LinkAppeared(link)),
                    Some(old) if old.up != link.up => Some(if link.up {
                        NetEvent::LinkUp(link)
                    } else {
                        NetEvent::LinkDown(link)
                    }),
                    Some(old) if old != link => Some(NetEvent::LinkChanged(link)),
                    Some(_) => None,
                }
            }
            RouteNetlinkMessage::DelLink(m) => {
                let index = m.header.index;
                let name = self
                    .links
                    .remove(&index)
                    .map(|l| l.name)
                    .or_else(|| Link::from_message(&m).map(|l| l.name))
                    .unwrap_or_default();
                Some(NetEvent::LinkRemoved { index, name })
            }
            RouteNetlinkMessage::NewAddress(m) => {
                InterfaceAddress::from_message(&m).map(NetEvent::AddressAdded)
            }
            RouteNetlinkMessage::DelAddress(m) => {
                InterfaceAddress::from_message(&m).map(NetEvent::AddressRemoved)
            }
            _ => None,
        }
    }
}
