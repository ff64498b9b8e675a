//! What happens to a node: the inputs of [`crate::Node::handle`].

use std::net::IpAddr;
use std::time::Duration;

use baton_conf::Config;
use baton_wire::auth_ext::TrailerRepr;
use baton_wire::{AdvertRepr, ChecksumForm, Family};

use crate::tracking::ScriptResult;

/// A received, parsed advertisement and what the socket said about it.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedAdvert<'a> {
    /// The interface the socket is bound to (`""` for an instance configured without one).
    pub interface: &'a str,
    pub family: Family,
    pub advert: AdvertRepr<'a>,
    pub src: IpAddr,
    /// The IP destination: the multicast group or our unicast address.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) as received.
    pub ttl: u8,
    /// Which checksum form matched (parse with `ChecksumPolicy::Either`).
    pub checksum: ChecksumForm,
    /// The VRRP message as received, for `auth_hmac` (which hashes it).
    pub message: &'a [u8],
    /// keepalived's `auth_hmac` trailer, when the advert carried one.
    pub trailer: Option<TrailerRepr>,
    /// Realtime at receipt (since the Unix epoch), for `auth_hmac`'s freshness window.
    pub unix_time: Duration,
}

/// One event.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Begin running: remove stale VIPs, enter BACKUP (or FAULT), arm timers. Feed the
    /// initial tracker values (process counts, file values) before this.
    Start,
    /// An advert arrived; the node finds the instance by interface, family and VRID.
    Advert(ReceivedAdvert<'a>),
    /// `next_deadline()` has passed.
    Deadline,
    /// A `vrrp_script` run finished.
    Script {
        name: &'a str,
        result: ScriptResult,
    },
    /// The number of running processes matching a `vrrp_track_process`.
    ProcessCount {
        name: &'a str,
        count: u32,
    },
    /// The integer read from a `track_file`.
    FileValue {
        name: &'a str,
        value: i64,
    },
    /// An interface went up (carrier and admin up).
    LinkUp {
        interface: &'a str,
    },
    LinkDown {
        interface: &'a str,
    },
    /// An address appeared on an interface (netlink RTM_NEWADDR), ours or not.
    AddressAdded {
        interface: &'a str,
        addr: IpAddr,
    },
    /// An address vanished from an interface (RTM_DELADDR), ours or not.
    AddressRemoved {
        interface: &'a str,
        addr: IpAddr,
    },
    /// SIGTERM: masters send priority 0 and release everything; all instances stop.
    Shutdown,
    /// SIGHUP with a configuration that passed validation.
    Reload(&'a Config),
}
