//! A node: everything one daemon runs. It owns the instances, the sync groups and the
//! trackers, demultiplexes received adverts, and keeps one timer queue for all instances so
//! `next_deadline` costs nothing per call.

pub(crate) mod trackers;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::sync::Arc;

use baton_conf::{Config, VirtualAddress};
use baton_wire::{Addresses, AdvertRepr, Family};

use crate::action::{Action, InstanceId, Level, LogLine, LogText, PeerLog, PeerLogKind};
use crate::environment::Environment;
use crate::input::{Input, ReceivedAdvert};
use crate::instance::{FaultReason, Instance, Outcome, Params, State};
use crate::sync_group::Group;
use crate::time::Instant;
use crate::tracking::{
    Contribution, ScriptState, ScriptTransition, effective_priority, file_contribution, process_ok,
    weighted,
};
use trackers::{Binding, Tracked, Trackers};

/// Instances sharing one interface and family, indexed by VRID.
#[derive(Debug, Clone)]
struct Segment {
    interface: Arc<str>,
    family: Family,
    by_vrid: Vec<Vec<VridEntry>>,
    /// The multicast groups the instances here advertise to (unicast ones join none).
    groups: Vec<IpAddr>,
    instances: usize,
}

/// An instance found by VRID, with what tells it from others sharing the VRID on the same
/// segment: its multicast group (`None` for a unicast instance). Kept here rather than read
/// from the instance because a backup of thousands of instances looks up every advert, and
/// each instance visited is a cache miss.
#[derive(Debug, Clone, Copy)]
struct VridEntry {
    id: u32,
    group: Option<IpAddr>,
}

/// One interface and address family some instance runs on: what the daemon opens a VRRP
/// socket for. Instances without an interface (unicast, every VIP with its own `dev`)
/// share the interface `""`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentUse<'a> {
    pub interface: &'a Arc<str>,
    pub family: Family,
    /// Multicast groups to join, each once.
    pub groups: &'a [IpAddr],
    /// How many instances receive through it.
    pub instances: usize,
}

/// All of one daemon's VRRP state. See the crate documentation for how to drive it.
#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) instances: Vec<Instance>,
    pub(crate) bindings: Vec<Vec<Binding>>,
    pub(crate) groups: Vec<Group>,
    /// Group index of each instance.
    pub(crate) group_of: Vec<Option<usize>>,
    pub(crate) trackers: Trackers,
    pub(crate) env: Environment,
    segments: Vec<Segment>,
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    scheduled: Vec<Option<Instant>>,
    pub(crate) started: bool,
    pending_logs: Vec<Action>,
    log_unknown_vrids: bool,
    /// `vrrp_startup_delay`, lengthened by `vrrp_delay_after_boot` (see
    /// [`Node::booted_ago`]).
    startup_delay: std::time::Duration,
    /// `vrrp_delay_after_boot`.
    delay_after_boot: std::time::Duration,
    unknown_vrid_adverts: u64,
    /// Every configured VIP and eVIP with the instance that has it, sorted: never a
    /// candidate for an interface's primary address, and kept out of the interfaces'
    /// address lists, so the kernel's echo of a mass takeover or release costs a search
    /// per address instead of a pass over every VIP and every instance.
    our_addresses: Vec<(IpAddr, u32)>,
}

impl Node {
    /// Build a node from a validated configuration and what the daemon knows about the
    /// interfaces. Nothing happens until [`Input::Start`].
    pub fn new(config: &Config, env: Environment) -> Node {
        Node::with_config(Arc::new(config.clone()), env)
    }

    /// [`Node::new`] with a configuration the caller keeps too: the instances read their
    /// addresses, routes, rules and peers from it rather than keep copies.
    pub fn with_config(config: Arc<Config>, env: Environment) -> Node {
        let mut logs = Vec::new();
        let mut node = Node {
            instances: Vec::new(),
            bindings: Vec::new(),
            groups: Vec::new(),
            group_of: Vec::new(),
            trackers: Trackers::new(&config),
            env,
            segments: Vec::new(),
            heap: BinaryHeap::new(),
            scheduled: Vec::new(),
            started: false,
            pending_logs: Vec::new(),
            log_unknown_vrids: config.global.log_unknown_vrids,
            startup_delay: config.global.startup_delay,
            delay_after_boot: config.global.delay_after_boot,
            unknown_vrid_adverts: 0,
            our_addresses: Vec::new(),
        };
        node.install(&config, &mut logs);
        node.pending_logs = logs;
        node
    }

    /// (Re)build instances, bindings, groups and the demultiplexing table from `config`.
    pub(crate) fn install(&mut self, config: &Arc<Config>, logs: &mut Vec<Action>) {
        // keepalived's rules were applied by baton-conf; nothing here applies them again.
        debug_assert_eq!(config.keeps_promises(), Ok(()));
        self.log_unknown_vrids = config.global.log_unknown_vrids;
        self.instances.clear();
        self.bindings.clear();
        self.segments.clear();
        // Exact sizes: with hundreds of instances, doubling growth would leave up to half of
        // these (large) entries allocated and unused.
        self.instances.reserve_exact(config.instances.len());
        self.bindings.reserve_exact(config.instances.len());
        let mut shared = crate::instance::Shared::default();
        for (i, c) in config.instances.iter().enumerate() {
            let id = InstanceId(i as u32);
            let group = config.sync_group_of(&c.name);
            self.instances
                .push(Instance::new(id, Params::new(config, i, &mut shared)));
            self.bindings
                .push(trackers::bindings(config, c, group, logs));
        }
        self.groups = crate::sync_group::build(config, &self.instances);
        self.group_of = vec![None; self.instances.len()];
        for (g, group) in self.groups.iter().enumerate() {
            for m in &group.members {
                self.group_of[m.index()] = Some(g);
            }
        }
        for inst in &self.instances {
            let seg =
                match self.segments.iter().position(|s| {
                    s.interface == inst.p.advert_interface && s.family == inst.p.family
                }) {
                    Some(s) => s,
                    None => {
                        self.segments.push(Segment {
                            interface: inst.p.advert_interface.clone(),
                            family: inst.p.family,
                            by_vrid: vec![Vec::new(); 256],
                            groups: Vec::new(),
                            instances: 0,
                        });
                        self.segments.len() - 1
                    }
                };
            let segment = &mut self.segments[seg];
            segment.by_vrid[usize::from(inst.p.vrid)].push(VridEntry {
                id: inst.id.0,
                group: (!inst.p.unicast()).then_some(inst.p.mcast_group),
            });
            segment.instances += 1;
            if !inst.p.unicast() && !segment.groups.contains(&inst.p.mcast_group) {
                segment.groups.push(inst.p.mcast_group);
            }
        }
        self.our_addresses = config
            .instances
            .iter()
            .enumerate()
            .flat_map(|(n, i)| {
                i.vips
                    .iter()
                    .chain(i.excluded_vips.iter())
                    .map(move |v| (v.addr, n as u32))
            })
            .collect();
        self.our_addresses.sort_unstable();
        self.our_addresses.dedup();
        // Collected without knowing the count, it grew by doubling: kept for the daemon's
        // life, the slack would be up to a second copy.
        self.our_addresses.shrink_to_fit();
        // Ours are never sources: the interfaces' lists keep only the other addresses.
        let ours = &self.our_addresses;
        self.env.retain_addresses(|a| !is_ours(ours, a));
        self.heap.clear();
        self.scheduled = vec![None; self.instances.len()];
    }

    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(id.index())
    }

    pub fn instance_by_name(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name() == name)
    }

    /// Every interface and family the instances use, in the order the configuration first
    /// names them.
    pub fn segments(&self) -> impl Iterator<Item = SegmentUse<'_>> {
        self.segments.iter().map(|s| SegmentUse {
            interface: &s.interface,
            family: s.family,
            groups: &s.groups,
            instances: s.instances,
        })
    }

    /// Adverts that arrived for a VRID no instance runs on that interface and family.
    pub fn unknown_vrid_adverts(&self) -> u64 {
        self.unknown_vrid_adverts
    }

    /// The instance an advert received on `interface` for `vrid` belongs to. Several instances
    /// may share a VRID: multicast ones on different groups (`mcast_dst_ip`), where the one
    /// whose group is `dst` wins, and unicast ones, where the one whose source is `dst` wins.
    pub fn lookup(
        &self,
        interface: &str,
        family: Family,
        vrid: u8,
        dst: &IpAddr,
    ) -> Option<InstanceId> {
        let seg = self
            .segments
            .iter()
            .find(|s| s.family == family && same_name(&s.interface, interface))?;
        let entries = &seg.by_vrid[usize::from(vrid)];
        match entries.as_slice() {
            [] => None,
            [one] => Some(InstanceId(one.id)),
            many => many
                .iter()
                .find(|e| {
                    if dst.is_multicast() {
                        e.group.as_ref() == Some(dst)
                    } else {
                        self.instances[e.id as usize].src.as_ref() == Some(dst)
                    }
                })
                .or(many.first())
                .map(|e| InstanceId(e.id)),
        }
    }

    /// How long ago the machine booted, for `vrrp_delay_after_boot` (keepalived starts VRRP
    /// no earlier than that long after boot, or after `vrrp_startup_delay`, whichever is
    /// later). Call before [`Input::Start`].
    pub fn booted_ago(&mut self, uptime: std::time::Duration) {
        self.startup_delay = self
            .startup_delay
            .max(self.delay_after_boot.saturating_sub(uptime));
    }

    /// The advert an instance sends at `priority`, borrowing its pre-encoded VIP list.
    pub fn advert(&self, id: InstanceId, priority: u8) -> Option<AdvertRepr<'_>> {
        let p = &self.instances.get(id.index())?.p;
        Some(AdvertRepr {
            version: p.version,
            vrid: p.vrid,
            priority,
            interval: p.advert_field,
            auth: p.auth,
            addresses: Addresses::new(p.family, &p.vip_bytes).unwrap_or(Addresses::empty(p.family)),
        })
    }

    /// Write the advert `s` asks for into `buf`, signed with its `auth_hmac` trailer when
    /// the instance has one that signs (`unix_time`: the realtime clock, since the Unix
    /// epoch). Returns the bytes written: the IP payload to send.
    pub fn emit_advert(
        &mut self,
        s: &crate::action::SendAdvert,
        unix_time: std::time::Duration,
        buf: &mut [u8],
    ) -> Result<usize, baton_wire::Error> {
        use baton_wire::auth_ext::{self, TRAILER_LEN};
        let Some(inst) = self.instances.get_mut(s.instance.index()) else {
            return Err(baton_wire::Error::Truncated {
                field: baton_wire::Field::OutputBuffer,
                need: 0,
                have: 0,
            });
        };
        let p = &inst.p;
        let advert = AdvertRepr {
            version: p.version,
            vrid: p.vrid,
            priority: s.priority,
            interval: p.advert_field,
            auth: p.auth,
            addresses: Addresses::new(p.family, &p.vip_bytes).unwrap_or(Addresses::empty(p.family)),
        };
        let dst = s.dst.addr();
        let n = advert.emit(buf, s.src, dst, s.checksum)?;
        let Some(cfg) = p.hmac.as_ref().filter(|h| h.mode.signs()) else {
            return Ok(n);
        };
        let have = buf.len();
        let Some(datagram) = buf.get_mut(..n + TRAILER_LEN) else {
            return Err(baton_wire::Error::Truncated {
                field: baton_wire::Field::OutputBuffer,
                need: n + TRAILER_LEN,
                have,
            });
        };
        let (message, tail) = datagram.split_at_mut(n);
        let (version, vrid) = (p.version, p.vrid);
        let m = crate::auth_hmac::Message {
            version,
            vrid,
            src: s.src,
            message,
            trailer: None,
            unix_time,
        };
        let Some(trailer) =
            inst.hmac
                .get_or_insert_with(Default::default)
                .sign(cfg, &m, s.first_copy)
        else {
            return Ok(n);
        };
        tail.copy_from_slice(&trailer.emit());
        if p.family == Family::Ipv6 {
            auth_ext::seal_ipv6_checksum(datagram, s.src, dst)?;
        }
        Ok(n + TRAILER_LEN)
    }

    /// The addresses an [`Action::Announce`] covers, with the interface each goes out on.
    pub fn announce_addresses(
        &self,
        id: InstanceId,
    ) -> impl Iterator<Item = (Arc<str>, &VirtualAddress)> {
        self.instances.get(id.index()).into_iter().flat_map(|i| {
            i.p.vips()
                .iter()
                .chain(i.p.excluded().iter())
                .map(move |a| (i.p.dev_of(&a.dev), a))
        })
    }

    /// When the node next needs [`Input::Deadline`]: the earliest deadline of any instance as
    /// of the last input (never late; early only if the caller's clock went backwards).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Feed one input; append what to do to `out` (which the caller clears and reuses).
    pub fn handle(&mut self, now: Instant, input: Input<'_>, out: &mut Vec<Action>) {
        if !self.pending_logs.is_empty() {
            out.append(&mut self.pending_logs);
        }
        match input {
            Input::Start => self.start(now, out),
            Input::Advert(rx) => {
                // Timers already overdue mean the caller fell behind (a paused VM, a starved
                // CPU) with adverts queued meanwhile. Take this one in and leave those
                // timers to the Deadline input that follows the queue: a backup must not
                // take over from a master whose adverts it has not read yet.
                let behind = self.heap.peek().is_some_and(|Reverse((t, _))| *t < now);
                self.advert_received(now, &rx, out);
                if behind {
                    return;
                }
            }
            Input::Deadline => {}
            Input::Script { name, result } => {
                let Some(s) = self.trackers.scripts.iter_mut().find(|s| &*s.name == name) else {
                    return;
                };
                if let Some(t) = s.counter.record(result) {
                    let text = match t {
                        ScriptTransition::Succeeded => "succeeded",
                        ScriptTransition::Failed => "failed",
                        ScriptTransition::TimedOut => "timed_out",
                    };
                    out.push(Action::Log(LogLine {
                        level: Level::Info,
                        scope: None,
                        text: LogText::Owned(format!("VRRP_Script({name}) {text}")),
                        peer: None,
                    }));
                    self.refresh_all(now, out);
                }
            }
            Input::ProcessCount { name, count } => {
                if let Some(p) = self
                    .trackers
                    .processes
                    .iter_mut()
                    .find(|p| &*p.name == name)
                    && p.count != count
                {
                    p.count = count;
                    self.refresh_all(now, out);
                }
            }
            Input::FileValue { name, value } => {
                if let Some(f) = self.trackers.files.iter_mut().find(|f| &*f.name == name)
                    && f.value != value
                {
                    f.value = value;
                    self.refresh_all(now, out);
                }
            }
            Input::LinkUp { interface } | Input::LinkDown { interface } => {
                let up = matches!(input, Input::LinkUp { .. });
                let iface = self.env.get_mut(interface);
                if iface.up != up {
                    iface.up = up;
                    out.push(Action::Log(LogLine {
                        level: Level::Info,
                        scope: None,
                        text: LogText::Owned(format!(
                            "Netlink reports {interface} {}",
                            if up { "up" } else { "down" }
                        )),
                        peer: None,
                    }));
                    self.refresh_all(now, out);
                }
            }
            Input::AddressAdded { interface, addr } => {
                // Our own VIPs coming and going never change a source address (they are
                // not candidates), and a mass takeover adds thousands of them.
                if !is_ours(&self.our_addresses, &addr) {
                    let iface = self.env.get_mut(interface);
                    if !iface.addresses.contains(&addr) {
                        iface.addresses.push(addr);
                        self.refresh_all(now, out);
                    }
                }
            }
            Input::AddressRemoved { interface, addr } => {
                if is_ours(&self.our_addresses, &addr) {
                    // Only the instances that have it can restore it.
                    let have: smallvec::SmallVec<[usize; 4]> =
                        owners(&self.our_addresses, &addr).collect();
                    for i in have {
                        if self.instances[i].address_removed(interface, &addr, out) {
                            self.schedule(i);
                        }
                    }
                } else {
                    self.env.get_mut(interface).addresses.retain(|a| *a != addr);
                    self.refresh_all(now, out);
                }
            }
            Input::Shutdown => self.shutdown(now, out),
            Input::Reload(config) => self.reload(now, Arc::new(config.clone()), out),
        }
        self.run_timers(now, out);
        self.settle_queue();
    }

    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.started {
            return;
        }
        self.started = true;
        for i in 0..self.instances.len() {
            let (prio, faults, src) = self.health(i);
            let inst = &mut self.instances[i];
            inst.src = src;
            inst.apply_health(now, prio, faults, out);
        }
        let faulty: Vec<bool> = (0..self.instances.len())
            .map(|i| !self.instances[i].faults.is_empty())
            .collect();
        for i in 0..self.instances.len() {
            let group_faults = self.group_faults(i, &faulty);
            self.instances[i].faults.extend(group_faults);
            self.instances[i].start(now, self.startup_delay, out);
            self.schedule(i);
        }
        for g in 0..self.groups.len() {
            self.group_notify(g, out);
        }
    }

    fn shutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        for i in 0..self.instances.len() {
            self.instances[i].stop(now, out);
        }
        for g in 0..self.groups.len() {
            self.group_notify(g, out);
        }
        self.heap.clear();
        self.scheduled.iter_mut().for_each(|s| *s = None);
    }

    fn advert_received(&mut self, now: Instant, rx: &ReceivedAdvert<'_>, out: &mut Vec<Action>) {
        let Some(id) = self.lookup(rx.interface, rx.family, rx.advert.vrid, &rx.dst) else {
            self.unknown_vrid_adverts += 1;
            if self.log_unknown_vrids {
                out.push(Action::Log(LogLine {
                    level: Level::Info,
                    scope: None,
                    text: LogText::Owned(format!(
                        "Unknown VRID {} received on {} from {}",
                        rx.advert.vrid, rx.interface, rx.src
                    )),
                    peer: Some(PeerLog {
                        kind: PeerLogKind::UnknownVrid,
                        source: rx.src,
                    }),
                }));
            }
            return;
        };
        let i = id.index();
        let outcome = self.instances[i].receive(now, rx, out);
        self.schedule(i);
        self.apply_outcome(now, i, outcome, out);
    }

    /// Fire every due timer.
    fn run_timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        while let Some(&Reverse((t, i))) = self.heap.peek() {
            if t > now {
                break;
            }
            let i = i as usize;
            if self.scheduled[i] != Some(t) {
                self.heap.pop();
                continue;
            }
            let outcome = self.instances[i].on_deadline(now, out);
            // The fired entry is still the head: only the instance ran.
            self.requeue_head(i);
            self.apply_outcome(now, i, outcome, out);
        }
    }

    /// Bring the head of the queue up to date: entries left behind by deadlines that moved
    /// later (a backup's down timer, pushed back by every advert it hears) are requeued at
    /// the instance's real deadline, so [`Node::next_deadline`] is one that is due. Without
    /// this a backup woke every few intervals per instance only to find nothing to do: with
    /// thousands of instances, thousands of wake-ups a second.
    fn settle_queue(&mut self) {
        while let Some(&Reverse((t, i))) = self.heap.peek() {
            let i = i as usize;
            if self.scheduled[i] != Some(t) {
                // Superseded by an earlier entry already fired or requeued.
                self.heap.pop();
                continue;
            }
            if self.instances[i].next_deadline() == Some(t) {
                break;
            }
            self.requeue_head(i);
        }
    }

    /// The head of the queue, instance `i`'s entry, becomes its next deadline: replaced in
    /// place, one sift down where a pop and a push were two. A master's every advert and a
    /// backup's every few come through here.
    fn requeue_head(&mut self, i: usize) {
        self.scheduled[i] = self.instances[i].next_deadline();
        match self.scheduled[i] {
            Some(d) => {
                if let Some(mut head) = self.heap.peek_mut() {
                    *head = Reverse((d, i as u32));
                }
            }
            None => {
                self.heap.pop();
            }
        }
    }

    /// Make sure the queue holds instance `i`'s next deadline. A deadline that moved later
    /// leaves the earlier entry in place: it fires, finds nothing due, and requeues.
    pub(crate) fn schedule(&mut self, i: usize) {
        let Some(d) = self.instances[i].next_deadline() else {
            return;
        };
        if self.scheduled[i].is_none_or(|s| d < s) {
            self.scheduled[i] = Some(d);
            self.heap.push(Reverse((d, i as u32)));
        }
    }

    pub(crate) fn apply_outcome(
        &mut self,
        now: Instant,
        i: usize,
        outcome: Outcome,
        out: &mut Vec<Action>,
    ) {
        match outcome {
            Outcome::Nothing => {}
            Outcome::WantsMaster => self.wants_master(now, i, out),
            Outcome::LeftMaster => self.left_master(now, i, out),
            Outcome::HeardLowerPriority => self.heard_lower_priority(now, i, out),
        }
    }

    /// An instance's own health: effective priority, faults and advert source.
    pub(crate) fn health(&self, i: usize) -> (u8, Vec<FaultReason>, Option<IpAddr>) {
        let inst = &self.instances[i];
        let p = &inst.p;
        let mut faults = Vec::new();
        if !p.interface.is_empty() && !p.dont_track_primary && !self.env.is_up(&p.interface) {
            faults.push(FaultReason::InterfaceDown(p.interface.clone()));
        }
        let ours = &self.our_addresses;
        let src = match p.src_ip {
            Some(a) => {
                // One of our VIPs is on the interface while an instance that has it holds
                // its addresses (the interfaces' lists leave ours out).
                let present = if is_ours(ours, &a) {
                    owners(ours, &a).any(|n| self.instances[n].holds_vips())
                } else {
                    self.env.has_address(&p.interface, &a)
                };
                if p.track_src_ip && !present {
                    faults.push(FaultReason::SourceAddressMissing(a));
                }
                Some(a)
            }
            None => {
                let primary = self
                    .env
                    .primary(&p.interface, p.family, &|a| is_ours(ours, a));
                if primary.is_none() {
                    faults.push(FaultReason::NoSourceAddress);
                }
                primary
            }
        };
        if p.unicast_fault_no_peer && p.unicast_peers().is_empty() {
            faults.push(FaultReason::NoUnicastPeer);
        }
        let mut delta = 0i32;
        for b in &self.bindings[i] {
            let (contribution, kind, name) = match &b.tracked {
                Tracked::Script(s) => {
                    let s = &self.trackers.scripts[*s];
                    match s.counter.state() {
                        ScriptState::Init => {
                            faults.push(FaultReason::ScriptInit(s.name.clone()));
                            continue;
                        }
                        st => (
                            weighted(st == ScriptState::Ok, b.weight, b.reverse),
                            "script",
                            &s.name,
                        ),
                    }
                }
                Tracked::Process(x) => {
                    let t = &self.trackers.processes[*x];
                    let ok = process_ok(t.count, t.quorum, t.quorum_max);
                    (weighted(ok, b.weight, b.reverse), "process", &t.name)
                }
                Tracked::File(x) => {
                    let t = &self.trackers.files[*x];
                    (
                        file_contribution(t.value, b.weight, b.reverse),
                        "file",
                        &t.name,
                    )
                }
                Tracked::Interface(name) => (
                    weighted(self.env.is_up(name), b.weight, b.reverse),
                    "interface",
                    name,
                ),
            };
            match contribution {
                Contribution::Delta(d) => delta += d,
                Contribution::Fault => faults.push(FaultReason::Tracker {
                    kind,
                    name: name.clone(),
                }),
            }
        }
        (
            effective_priority(p.base_priority, p.owner, delta),
            faults,
            src,
        )
    }

    /// Recompute every instance's health and apply it; sync group members fault together.
    pub(crate) fn refresh_all(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.started {
            return;
        }
        let n = self.instances.len();
        let mut own: Vec<(u8, Vec<FaultReason>, Option<IpAddr>)> =
            (0..n).map(|i| self.health(i)).collect();
        let faulty: Vec<bool> = own.iter().map(|h| !h.1.is_empty()).collect();
        for (i, h) in own.iter_mut().enumerate() {
            h.1.extend(self.group_faults(i, &faulty));
        }
        let mut touched_groups = Vec::new();
        for (i, (prio, faults, src)) in own.into_iter().enumerate() {
            if self.instances[i].state == State::Stopped {
                continue;
            }
            let before = self.instances[i].state;
            self.instances[i].src = src;
            let outcome = self.instances[i].apply_health(now, prio, faults, out);
            self.schedule(i);
            if self.instances[i].state != before
                && let Some(g) = self.group_of[i]
            {
                touched_groups.push(g);
            }
            self.apply_outcome(now, i, outcome, out);
        }
        touched_groups.dedup();
        for g in touched_groups {
            self.group_notify(g, out);
        }
    }
}

/// Interface names are short: a byte loop beats a call to memcmp on the per-advert path.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Whether `addr` is one of the VIPs or eVIPs in `ours` (sorted by address).
fn is_ours(ours: &[(IpAddr, u32)], addr: &IpAddr) -> bool {
    owners(ours, addr).next().is_some()
}

/// The instances (by position) that have `addr` among their VIPs or eVIPs, in order.
fn owners<'a>(ours: &'a [(IpAddr, u32)], addr: &'a IpAddr) -> impl Iterator<Item = usize> + 'a {
    let at = ours.partition_point(|(a, _)| a < addr);
    ours[at..]
        .iter()
        .take_while(move |(a, _)| a == addr)
        .map(|&(_, n)| n as usize)
}
