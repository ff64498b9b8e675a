//! The desired forwarding table: per virtual service, what it matches, how it schedules
//! and which destinations (real servers, or the sorry server) get traffic with which
//! weight. A backend applies the [`Change`]s between two tables; [`Table::diff`] computes
//! them, so a backend only touches what changed.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use baton_conf::{
    FamilyKey, Forwarding, GroupEntry, Lvs, Persistence, Protocol, RealServerId, Scheduler,
    SchedulerFlags, VirtualServer, VirtualServerAddress, VirtualServerId, VirtualServerKey,
};
use serde::Serialize;

/// What packets a service takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Frontend {
    /// Addresses `first..=last` (one address when equal) and a port (0: any port, only
    /// with persistence) of a protocol.
    Addresses {
        first: IpAddr,
        last: IpAddr,
        port: u16,
        protocol: Protocol,
    },
    /// Packets with this firewall mark; `family` `None` means both families.
    Fwmark {
        mark: u32,
        family: Option<FamilyKey>,
    },
}

/// Who a destination is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Role {
    Real(RealServerId),
    /// The sorry server, in use while quorum is lost (or parked with weight 0 under
    /// `sorry_server_inhibit`).
    Sorry,
}

/// One destination of a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Destination {
    pub address: SocketAddr,
    /// 0 keeps established connections and takes no new ones (`inhibit_on_failure`,
    /// weight 0 servers).
    pub weight: u32,
    pub forwarding: Forwarding,
    pub role: Role,
}

/// One virtual service as it should be in the data plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub key: VirtualServerKey,
    pub id: VirtualServerId,
    /// keepalived's name of it, for logs and status: `[192.168.5.10]:tcp:80`.
    pub name: String,
    pub frontends: Vec<Frontend>,
    /// As configured; the nftables backend does `scheduler.nftables_equivalent()`.
    pub scheduler: Scheduler,
    pub flags: SchedulerFlags,
    pub persistence: Option<Persistence>,
    /// Ordered by address.
    pub destinations: Vec<Destination>,
}

impl Service {
    /// The service of `vs` with no destinations.
    pub(crate) fn of(vs: &VirtualServer, lvs: &Lvs) -> Service {
        Service {
            key: vs.key(),
            id: vs.id,
            name: vs.to_string(),
            frontends: frontends(vs, lvs),
            scheduler: vs.scheduler,
            flags: vs.scheduler_flags,
            persistence: vs.persistence.clone(),
            destinations: Vec::new(),
        }
    }

    pub fn destination(&self, address: &SocketAddr) -> Option<&Destination> {
        self.destinations.iter().find(|d| d.address == *address)
    }

    /// Everything but the destinations is equal.
    fn same_frame(&self, other: &Service) -> bool {
        self.frontends == other.frontends
            && self.scheduler == other.scheduler
            && self.flags == other.flags
            && self.persistence == other.persistence
            && self.id == other.id
            && self.name == other.name
    }
}

fn frontends(vs: &VirtualServer, lvs: &Lvs) -> Vec<Frontend> {
    let protocol = vs.protocol.unwrap_or(Protocol::Udp);
    match &vs.address {
        VirtualServerAddress::Ip(a) => vec![Frontend::Addresses {
            first: a.ip(),
            last: a.ip(),
            port: a.port(),
            protocol,
        }],
        VirtualServerAddress::Fwmark(mark) => vec![Frontend::Fwmark {
            mark: *mark,
            family: Some(vs.family.into()),
        }],
        VirtualServerAddress::Group { name, .. } => lvs
            .group(name)
            .map(|g| {
                g.entries
                    .iter()
                    .map(|e| match e {
                        GroupEntry::Addresses {
                            first, last, port, ..
                        } => Frontend::Addresses {
                            first: *first,
                            last: *last,
                            port: *port,
                            protocol,
                        },
                        GroupEntry::Fwmark { mark, family, .. } => Frontend::Fwmark {
                            mark: *mark,
                            family: family.map(FamilyKey::from),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// One step from one table to another. A backend applies a batch of them as one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    /// A new service, with its destinations.
    AddService(Service),
    /// The frontends, scheduler or persistence of a service changed; its destinations
    /// follow as their own changes.
    EditService(Service),
    RemoveService(VirtualServerKey),
    AddDestination {
        service: VirtualServerKey,
        destination: Destination,
    },
    /// A destination's weight, forwarding or role changed.
    EditDestination {
        service: VirtualServerKey,
        destination: Destination,
    },
    RemoveDestination {
        service: VirtualServerKey,
        address: SocketAddr,
    },
}

/// The whole desired table, by service identity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Table {
    pub services: BTreeMap<VirtualServerKey, Service>,
}

impl Table {
    pub fn service(&self, key: &VirtualServerKey) -> Option<&Service> {
        self.services.get(key)
    }

    /// The changes that turn `self` into `to`; empty when they are equal.
    pub fn diff(&self, to: &Table) -> Vec<Change> {
        let mut out = Vec::new();
        for key in self.services.keys() {
            if !to.services.contains_key(key) {
                out.push(Change::RemoveService(key.clone()));
            }
        }
        for (key, new) in &to.services {
            let Some(old) = self.services.get(key) else {
                out.push(Change::AddService(new.clone()));
                continue;
            };
            if !old.same_frame(new) {
                let mut frame = new.clone();
                frame.destinations.clear();
                out.push(Change::EditService(frame));
            }
            for d in &old.destinations {
                if new.destination(&d.address).is_none() {
                    out.push(Change::RemoveDestination {
                        service: key.clone(),
                        address: d.address,
                    });
                }
            }
            for d in &new.destinations {
                match old.destination(&d.address) {
                    None => out.push(Change::AddDestination {
                        service: key.clone(),
                        destination: d.clone(),
                    }),
                    Some(o) if o != d => out.push(Change::EditDestination {
                        service: key.clone(),
                        destination: d.clone(),
                    }),
                    Some(_) => {}
                }
            }
        }
        out
    }

    /// `self` with `changes` applied: what a backend that applied them now has.
    pub fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            match c {
                Change::AddService(s) => {
                    self.services.insert(s.key.clone(), s.clone());
                }
                Change::EditService(s) => {
                    if let Some(old) = self.services.get_mut(&s.key) {
                        let destinations = std::mem::take(&mut old.destinations);
                        *old = s.clone();
                        old.destinations = destinations;
                    }
                }
                Change::RemoveService(k) => {
                    self.services.remove(k);
                }
                Change::AddDestination {
                    service,
                    destination,
                }
                | Change::EditDestination {
                    service,
                    destination,
                } => {
                    if let Some(s) = self.services.get_mut(service) {
                        s.destinations.retain(|d| d.address != destination.address);
                        s.destinations.push(destination.clone());
                        s.destinations.sort_by_key(|d| d.address);
                    }
                }
                Change::RemoveDestination { service, address } => {
                    if let Some(s) = self.services.get_mut(service) {
                        s.destinations.retain(|d| d.address != *address);
                    }
                }
            }
        }
    }
}
