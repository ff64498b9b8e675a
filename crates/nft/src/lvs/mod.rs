//! The LVS data plane: virtual services forwarded by nftables tables that baton owns.
//!
//! [`Dataplane::apply`] takes the whole desired [`ForwardingTable`] each time, works out what
//! changed since the last call, and programs it in one transaction: a server joining or
//! leaving is a few map elements, a weight change rewrites one service's slot map (and its
//! chain when the cycle length changes), a new service adds its chain and maps. When the
//! kernel refuses part of a change, that service keeps what it had, the rest is programmed
//! in a second transaction, and the refusal comes back with the object and the reason.

mod limits;
mod model;
mod render;
mod rules;
mod schedule;

use std::collections::{BTreeMap, BTreeSet};
use std::io;

pub use limits::{Limitation, limitations, scheduler_used};
pub use model::{
    Family, Forwarding, ForwardingTable, Frontend, Granularity, Persistence, Protocol, RealServer,
    Scheduler, VirtualService,
};
pub use render::{DEFAULT_MAX_ENTRIES, Invalid, Limits, chain_name};

use crate::batch::{BaseChain, Batch, Element, Group, HookPoint, TABLE_GROUP, TableId};
use crate::expr::{self, Action, CtKey, NfProto, and, cmp, counter, r};
use crate::socket::{BatchFailure, NftSocket};
use crate::{Error, table};
use render::{Dispatch, MASQ_LABEL, Place, Plan, ServerPlan, render};

/// The table name baton uses unless told otherwise (in the inet and netdev families).
pub const DEFAULT_TABLE: &str = "baton_lvs";

/// How the data plane is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Name of the tables (`inet NAME` for NAT, `netdev NAME` for DR).
    pub table: String,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            table: DEFAULT_TABLE.to_string(),
            limits: Limits::default(),
        }
    }
}

/// A service the data plane could not program, and why.
#[derive(Debug)]
pub struct ServiceError {
    pub service: Frontend,
    pub reason: Reason,
}

/// Why a service is not (or not fully) programmed.
#[derive(Debug)]
pub enum Reason {
    /// The service cannot be expressed (checked before the kernel saw it).
    Invalid(Invalid),
    /// The kernel refused an object of the service: which one, and its error.
    Kernel { object: String, error: io::Error },
    /// The same frontend appears twice in the table; the first one is used.
    Duplicate,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Reason::Invalid(e) => write!(f, "virtual server {}: {e}", self.service),
            Reason::Kernel { object, error } => write!(
                f,
                "virtual server {}: the kernel refused to {object}: {error}",
                self.service
            ),
            Reason::Duplicate => write!(f, "virtual server {} is listed twice", self.service),
        }
    }
}

/// What one [`Dataplane::apply`] did besides programming the table.
#[derive(Debug, Default)]
pub struct Report {
    /// What each service gets instead of what IPVS would do.
    pub limitations: Vec<(Frontend, Limitation)>,
    /// Services left as they were (or absent): the rest of the table is programmed.
    pub failed: Vec<ServiceError>,
    /// Netlink messages in the transaction that committed (0: nothing changed).
    pub messages: usize,
}

/// A service as programmed.
#[derive(Debug, Clone)]
struct Programmed {
    plan: Plan,
}

/// baton's LVS tables in one network namespace (the one [`Dataplane::new`] ran in).
///
/// Blocking: each call is one netlink exchange of microseconds to a few milliseconds; a
/// daemon calls it from a blocking task, not from its event loop.
#[derive(Debug)]
pub struct Dataplane {
    sock: NftSocket,
    nat: TableId,
    dr: TableId,
    limits: Limits,
    /// Whether the netdev table exists (made when the first DR service comes).
    dr_table: bool,
    /// Interfaces whose ingress base chain and dispatch maps exist.
    interfaces: BTreeSet<String>,
    services: BTreeMap<Frontend, Programmed>,
    closed: bool,
}

const NAT_PRIORITY: i32 = -100; // dstnat
const SNAT_PRIORITY: i32 = 100; // srcnat
const INGRESS_PRIORITY: i32 = 0;

impl Dataplane {
    /// Open the data plane in the calling thread's network namespace: replace any table of
    /// the same names left behind (a crashed older baton, a hand-made one) with fresh ones
    /// owned by this process, which the kernel deletes when the process exits.
    pub fn new(options: Options) -> Result<Dataplane, Error> {
        let sock = NftSocket::open().map_err(Error::Socket)?;
        let nat = TableId::new(NfProto::Inet, &options.table);
        let dr = TableId::new(NfProto::Netdev, &options.table);
        let mut dp = Dataplane {
            sock,
            nat,
            dr,
            limits: options.limits,
            dr_table: false,
            interfaces: BTreeSet::new(),
            services: BTreeMap::new(),
            closed: false,
        };
        let mut b = Batch::new();
        table::claim(&mut b, &dp.nat);
        dp.nat_skeleton(&mut b);
        table::remove_stale(&mut b, &dp.dr);
        dp.commit_whole(&b)?;
        Ok(dp)
    }

    /// The inet table's base chains and dispatch maps.
    fn nat_skeleton(&self, b: &mut Batch) {
        let t = &self.nat;
        let place = Place::Nat;
        for d in Dispatch::ALL {
            b.add_set(TABLE_GROUP, t, &d.set(&place));
        }
        for (name, hook) in [
            ("prerouting", HookPoint::Prerouting),
            ("output", HookPoint::Output),
        ] {
            let base = BaseChain {
                hook,
                kind: "nat",
                priority: NAT_PRIORITY,
            };
            b.add_chain(TABLE_GROUP, t, name, Some(&base));
            for d in Dispatch::ALL {
                b.add_rule(TABLE_GROUP, t, name, d.rule(&place), "dispatch");
            }
        }
        let base = BaseChain {
            hook: HookPoint::Postrouting,
            kind: "nat",
            priority: SNAT_PRIORITY,
        };
        b.add_chain(TABLE_GROUP, t, "postrouting", Some(&base));
        let zero = [0u8; 16];
        b.add_rule(
            TABLE_GROUP,
            t,
            "postrouting",
            vec![
                expr::ct_load(CtKey::Labels, r(0)),
                and(r(0), r(0), &MASQ_LABEL),
                cmp(
                    r(0),
                    netlink_packet_netfilter::nftables::Operator::NotEqual,
                    &zero,
                ),
                counter(),
                expr::masquerade(),
            ],
            "masquerade for services that ask for it",
        );
    }

    /// One interface's ingress chain and dispatch maps in the netdev table.
    fn add_interface(&self, b: &mut Batch, group: Group, dev: &str) {
        let t = &self.dr;
        let place = Place::Dr(dev.to_string());
        for d in Dispatch::ALL {
            b.add_set(group, t, &d.set(&place));
        }
        let chain = ingress_chain(dev);
        let base = BaseChain {
            hook: HookPoint::Ingress(dev.to_string()),
            kind: "filter",
            priority: INGRESS_PRIORITY,
        };
        b.add_chain(group, t, &chain, Some(&base));
        for d in Dispatch::ALL {
            b.add_rule(group, t, &chain, d.rule(&place), "dispatch");
        }
    }

    fn remove_interface(&self, b: &mut Batch, group: Group, dev: &str) {
        let t = &self.dr;
        let place = Place::Dr(dev.to_string());
        b.delete_chain(group, t, &ingress_chain(dev));
        for d in Dispatch::ALL {
            b.delete_set(group, t, &d.map_name(&place));
        }
    }

    fn table_of(&self, place: &Place) -> &TableId {
        match place {
            Place::Nat => &self.nat,
            Place::Dr(_) => &self.dr,
        }
    }

    /// Add a whole service: its maps, its servers' sets and chains, the slot map's elements
    /// (which jump to those chains), its chain, and last the jump to it.
    fn add_service(&self, b: &mut Batch, group: Group, plan: &Plan) {
        let t = self.table_of(&plan.shape.place);
        for s in &plan.shape.sets {
            b.add_set(group, t, s);
        }
        for sp in plan.servers.values() {
            self.add_server(b, group, t, sp);
        }
        b.add_elements(group, t, &plan.sched_set(), &plan.slots);
        b.add_chain(group, t, &plan.shape.chain, None);
        for (note, rule) in &plan.rules {
            b.add_rule(group, t, &plan.shape.chain, rule.clone(), note);
        }
        let (d, key) = &plan.shape.dispatch;
        b.add_elements(
            group,
            t,
            &d.map_name(&plan.shape.place),
            &[Element::verdict(
                key.clone(),
                Action::Jump(plan.shape.chain.clone()),
            )],
        );
    }

    fn add_server(&self, b: &mut Batch, group: Group, t: &TableId, sp: &ServerPlan) {
        for s in &sp.sets {
            b.add_set(group, t, s);
        }
        b.add_chain(group, t, &sp.chain, None);
        for (note, rule) in &sp.rules {
            b.add_rule(group, t, &sp.chain, rule.clone(), note);
        }
    }

    fn remove_server(&self, b: &mut Batch, group: Group, t: &TableId, sp: &ServerPlan) {
        b.delete_chain(group, t, &sp.chain);
        for s in &sp.sets {
            b.delete_set(group, t, &s.name);
        }
    }

    /// Remove a whole service in the order its objects refer to each other (the kernel
    /// refuses to delete what is still referred to): the jump to it, its chain, its slot map
    /// (whose elements jump to the servers' chains), the servers' chains and sets (a DR
    /// server's chain writes the service's connection map), then the service's other maps.
    fn remove_service(&self, b: &mut Batch, group: Group, plan: &Plan) {
        let t = self.table_of(&plan.shape.place);
        let (d, key) = &plan.shape.dispatch;
        b.delete_elements(
            group,
            t,
            &d.map_name(&plan.shape.place),
            &[Element::key(key.clone())],
        );
        b.delete_chain(group, t, &plan.shape.chain);
        let sched = plan.sched_set();
        let (slot_maps, others): (Vec<_>, Vec<_>) =
            plan.shape.sets.iter().partition(|s| s.name == sched);
        for s in slot_maps {
            b.delete_set(group, t, &s.name);
        }
        for sp in plan.servers.values() {
            self.remove_server(b, group, t, sp);
        }
        for s in others {
            b.delete_set(group, t, &s.name);
        }
    }

    /// Change a service in place: servers that came get their chain first, then the slot
    /// map and the service chain are rewritten if they changed, then servers that went lose
    /// theirs. Nothing when nothing changed.
    fn update_service(&self, b: &mut Batch, group: Group, old: &Plan, new: &Plan) {
        let same_sets = old
            .servers
            .iter()
            .all(|(name, sp)| new.servers.get(name).is_none_or(|n| n.sets == sp.sets));
        if old.shape != new.shape || !same_sets {
            self.remove_service(b, group, old);
            self.add_service(b, group, new);
            return;
        }
        let t = self.table_of(&new.shape.place);
        for (name, sp) in &new.servers {
            match old.servers.get(name) {
                None => self.add_server(b, group, t, sp),
                Some(o) if o.rules != sp.rules => {
                    b.flush_chain(group, t, name);
                    for (note, rule) in &sp.rules {
                        b.add_rule(group, t, name, rule.clone(), note);
                    }
                }
                Some(_) => {}
            }
        }
        if old.slots != new.slots {
            b.flush_set(group, t, &new.sched_set());
            b.add_elements(group, t, &new.sched_set(), &new.slots);
        }
        if old.rules != new.rules {
            b.flush_chain(group, t, &new.shape.chain);
            for (note, rule) in &new.rules {
                b.add_rule(group, t, &new.shape.chain, rule.clone(), note);
            }
        }
        for (name, sp) in &old.servers {
            if !new.servers.contains_key(name) {
                self.remove_server(b, group, t, sp);
            }
        }
    }

    /// Program `table`: everything in it forwards as described, everything else baton
    /// programmed before is removed. One transaction (two when the kernel refused part of
    /// the first: the refused services are left as they were and reported in
    /// [`Report::failed`]). `Err` only when the tables themselves cannot be changed.
    pub fn apply(&mut self, table: &ForwardingTable) -> Result<Report, Error> {
        let mut report = Report::default();
        // The desired services, rendered.
        let mut desired: BTreeMap<Frontend, Plan> = BTreeMap::new();
        for vs in &table.services {
            for l in limitations(vs) {
                report.limitations.push((vs.frontend, l));
            }
            if desired.contains_key(&vs.frontend) {
                report.failed.push(ServiceError {
                    service: vs.frontend,
                    reason: Reason::Duplicate,
                });
                continue;
            }
            match render(vs, &self.limits) {
                Ok(plan) => {
                    desired.insert(vs.frontend, plan);
                }
                Err(e) => report.failed.push(ServiceError {
                    service: vs.frontend,
                    reason: Reason::Invalid(e),
                }),
            }
        }
        // A service that failed to render keeps its old programming (if any).
        let failed_render: BTreeSet<Frontend> = report.failed.iter().map(|f| f.service).collect();

        // Units of change, each a group of the transaction.
        let keys: BTreeSet<Frontend> = desired
            .keys()
            .chain(self.services.keys())
            .filter(|fe| !failed_render.contains(fe))
            .copied()
            .collect();
        let group_of: BTreeMap<Frontend, Group> = keys
            .iter()
            .enumerate()
            .map(|(i, fe)| (*fe, i as Group + 1))
            .collect();
        let iface_wanted: BTreeSet<String> = self
            .services
            .iter()
            .filter(|(fe, _)| failed_render.contains(fe))
            .map(|(_, p)| &p.plan)
            .chain(desired.values())
            .filter_map(|p| match &p.shape.place {
                Place::Dr(dev) => Some(dev.clone()),
                Place::Nat => None,
            })
            .collect();
        let iface_base = keys.len() as Group + 1;
        let all_ifaces: BTreeSet<String> = iface_wanted.union(&self.interfaces).cloned().collect();
        let iface_group: BTreeMap<String, Group> = all_ifaces
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), iface_base + i as Group))
            .collect();

        let mut failed: BTreeMap<Group, (String, io::Error)> = BTreeMap::new();
        loop {
            let b = self.change(&keys, &group_of, &desired, &iface_wanted, &iface_group);
            let mut b = b;
            b.retain_groups(|g| {
                !failed.contains_key(&g)
                    && !self.depends_on_failed(g, &failed, &group_of, &desired, &iface_group)
            });
            match self.sock.commit(&b) {
                Ok(()) => {
                    report.messages = b.len();
                    break;
                }
                Err(BatchFailure::Io(e)) => return Err(Error::Socket(e)),
                Err(BatchFailure::Refused(refusals)) => {
                    let mut progress = false;
                    for rf in refusals {
                        let Some(label) = b.label(rf.index) else {
                            continue;
                        };
                        if label.group == TABLE_GROUP {
                            return Err(Error::Refused {
                                object: label.what.clone(),
                                error: rf.error,
                            });
                        }
                        if let std::collections::btree_map::Entry::Vacant(v) =
                            failed.entry(label.group)
                        {
                            v.insert((label.what.clone(), rf.error));
                            progress = true;
                        }
                    }
                    if !progress {
                        return Err(Error::Socket(io::Error::other(
                            "nf_tables refused a transaction without naming a new object",
                        )));
                    }
                }
            }
        }

        // Record what committed.
        for fe in &keys {
            let g = group_of[fe];
            let iface_failed = desired
                .get(fe)
                .and_then(|p| match &p.shape.place {
                    Place::Dr(dev) => iface_group.get(dev),
                    Place::Nat => None,
                })
                .and_then(|ig| failed.get(ig))
                .map(|(o, e)| (o.clone(), copy_error(e)));
            if let Some((object, error)) = failed.remove(&g) {
                report.failed.push(ServiceError {
                    service: *fe,
                    reason: Reason::Kernel { object, error },
                });
                continue;
            }
            if let Some((object, error)) = iface_failed {
                report.failed.push(ServiceError {
                    service: *fe,
                    reason: Reason::Kernel { object, error },
                });
                continue;
            }
            match desired.remove(fe) {
                Some(plan) => {
                    self.services.insert(*fe, Programmed { plan });
                }
                None => {
                    self.services.remove(fe);
                }
            }
        }
        for (dev, g) in &iface_group {
            if failed.contains_key(g) {
                continue;
            }
            if iface_wanted.contains(dev) {
                self.interfaces.insert(dev.clone());
            } else {
                self.interfaces.remove(dev);
            }
        }
        if !iface_wanted.is_empty() {
            // The claim of the netdev table is part of the table group: committed.
            self.dr_table = true;
        }
        Ok(report)
    }

    /// Whether group `g` (a service) needs an interface group that failed.
    fn depends_on_failed(
        &self,
        g: Group,
        failed: &BTreeMap<Group, (String, io::Error)>,
        group_of: &BTreeMap<Frontend, Group>,
        desired: &BTreeMap<Frontend, Plan>,
        iface_group: &BTreeMap<String, Group>,
    ) -> bool {
        let Some((fe, _)) = group_of.iter().find(|(_, x)| **x == g) else {
            return false;
        };
        let Some(plan) = desired.get(fe) else {
            return false;
        };
        match &plan.shape.place {
            Place::Dr(dev) => iface_group
                .get(dev)
                .is_some_and(|ig| failed.contains_key(ig)),
            Place::Nat => false,
        }
    }

    /// The whole change as one batch.
    fn change(
        &self,
        keys: &BTreeSet<Frontend>,
        group_of: &BTreeMap<Frontend, Group>,
        desired: &BTreeMap<Frontend, Plan>,
        iface_wanted: &BTreeSet<String>,
        iface_group: &BTreeMap<String, Group>,
    ) -> Batch {
        let mut b = Batch::new();
        if !iface_wanted.is_empty() && !self.dr_table {
            table::claim(&mut b, &self.dr);
        }
        for dev in iface_wanted.difference(&self.interfaces) {
            self.add_interface(&mut b, iface_group[dev], dev);
        }
        // Removals first (a service moving between tables frees its name), then the rest.
        for fe in keys {
            if let (Some(old), None) = (self.services.get(fe), desired.get(fe)) {
                self.remove_service(&mut b, group_of[fe], &old.plan);
            }
        }
        for fe in keys {
            let g = group_of[fe];
            match (self.services.get(fe), desired.get(fe)) {
                (Some(old), Some(new)) => self.update_service(&mut b, g, &old.plan, new),
                (None, Some(new)) => self.add_service(&mut b, g, new),
                _ => {}
            }
        }
        for dev in self.interfaces.difference(iface_wanted) {
            self.remove_interface(&mut b, iface_group[dev], dev);
        }
        b
    }

    fn commit_whole(&mut self, b: &Batch) -> Result<(), Error> {
        table::commit(&mut self.sock, b, &self.nat)
    }

    /// Delete baton's tables now, reporting a failure (dropping does the same silently).
    pub fn close(mut self) -> Result<(), Error> {
        self.closed = true;
        self.remove_tables()
    }

    fn remove_tables(&mut self) -> Result<(), Error> {
        let mut b = Batch::new();
        b.delete_table(TABLE_GROUP, &self.nat);
        if self.dr_table {
            b.delete_table(TABLE_GROUP, &self.dr);
        }
        self.commit_whole(&b)
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        if !self.closed {
            // The kernel deletes owned tables when the socket closes anyway; this makes it
            // explicit and immediate.
            let _ = self.remove_tables();
        }
    }
}

/// io::Error is not Clone; a refusal shared by several services is reported to each.
fn copy_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The netdev base chain of an interface.
fn ingress_chain(dev: &str) -> String {
    format!("ingress_{dev}")
}
