//! A deterministic simulator of LAN segments running real [`Node`]s in virtual time.
//!
//! Routers attach to segments through named interfaces. Adverts go through the real codec
//! (`AdvertRepr::emit`, then `Packet::new_checked` + `AdvertRepr::parse` on the receiver),
//! with per-router delay, per-segment loss and partitions; routers can crash (silently),
//! restart, shut down gracefully, and have their trackers changed. Everything that happens
//! is seeded: the same seed and the same calls replay the same run, and [`Sim::trace`]
//! tells what happened for a failure report.

mod rng;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use baton_conf::Config;
use baton_wire::Family;

use crate::action::Action;
use crate::environment::Environment;
use crate::input::Input;
use crate::instance::State;
use crate::node::Node;
use crate::time::Instant;
use crate::tracking::ScriptResult;

pub use rng::Rng;

/// Write a trace line (only when tracing; the arguments are not even formatted otherwise).
macro_rules! note {
    ($sim:expr, $($arg:tt)*) => {
        if $sim.trace.is_some() {
            let line = format!("{:>12} {}", $sim.now.to_string(), format_args!($($arg)*));
            if let Some(t) = &mut $sim.trace {
                t.push(line);
            }
        }
    };
}

// After the macro: textual scope.
mod network;

pub type RouterId = usize;
pub type SegmentId = usize;

/// A router's attachment to a segment.
#[derive(Debug, Clone)]
struct Port {
    segment: SegmentId,
    interface: Arc<str>,
    addr: IpAddr,
    /// One-way delay added to everything this router sends or receives here.
    delay: Duration,
    up: bool,
}

#[derive(Debug, Clone)]
struct Segment {
    name: String,
    loss: f64,
    /// Partition side of each router; frames cross only between equal sides.
    sides: Vec<u8>,
}

#[derive(Debug)]
struct Router {
    name: String,
    config: Config,
    ports: Vec<Port>,
    node: Option<Node>,
    wake: Option<Instant>,
    files: Vec<(String, i64)>,
    scripts: Vec<(String, ScriptResult)>,
}

#[derive(Debug)]
enum Event {
    Deliver {
        to: RouterId,
        port: usize,
        family: Family,
        bytes: Vec<u8>,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        /// Delivery is void if the router restarted since the frame was sent to it.
        epoch: u32,
    },
    Wake(RouterId),
}

/// One state change seen in the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub at: Instant,
    pub router: RouterId,
    pub instance: Arc<str>,
    pub vrid: u8,
    pub from: State,
    pub to: State,
}

/// The simulator.
#[derive(Debug)]
pub struct Sim {
    now: Instant,
    seq: u64,
    /// (time, sequence, slot in `slab`): small entries keep the heap cheap.
    queue: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    slab: Vec<Option<Event>>,
    free: Vec<u32>,
    /// Frame buffers to reuse.
    pool: Vec<Vec<u8>>,
    routers: Vec<Router>,
    epochs: Vec<u32>,
    segments: Vec<Segment>,
    rng: Rng,
    actions: Vec<Action>,
    changes: Vec<Change>,
    trace: Option<Vec<String>>,
    buf: Vec<u8>,
    /// Frames handed to the network and frames delivered.
    pub sent: u64,
    pub delivered: u64,
    /// Set when events kept coming without virtual time moving (two routers answering each
    /// other forever): the run stops there.
    storm: Option<Instant>,
}

/// Events at one instant beyond which the run is declared a storm.
const STORM_EVENTS: u32 = 100_000;

impl Sim {
    /// A simulator whose chance (loss) comes from `seed`. With `trace` every event is
    /// written down for [`Sim::trace`].
    pub fn new(seed: u64, trace: bool) -> Sim {
        Sim {
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            pool: Vec::new(),
            routers: Vec::new(),
            epochs: Vec::new(),
            segments: Vec::new(),
            rng: Rng::new(seed),
            actions: Vec::new(),
            changes: Vec::new(),
            trace: trace.then(Vec::new),
            buf: vec![0u8; 2048],
            sent: 0,
            delivered: 0,
            storm: None,
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn add_segment(&mut self, name: &str) -> SegmentId {
        self.segments.push(Segment {
            name: name.to_string(),
            loss: 0.0,
            sides: Vec::new(),
        });
        self.segments.len() - 1
    }

    /// Add a router running `config`, attached to segments as `(segment, interface,
    /// address)`. It starts with [`Sim::start`].
    pub fn add_router(
        &mut self,
        name: &str,
        config: Config,
        ports: &[(SegmentId, &str, IpAddr)],
    ) -> RouterId {
        let id = self.routers.len();
        self.routers.push(Router {
            name: name.to_string(),
            config,
            ports: ports
                .iter()
                .map(|(segment, interface, addr)| Port {
                    segment: *segment,
                    interface: Arc::from(*interface),
                    addr: *addr,
                    delay: Duration::ZERO,
                    up: true,
                })
                .collect(),
            node: None,
            wake: None,
            files: Vec::new(),
            scripts: Vec::new(),
        });
        self.epochs.push(0);
        for s in &mut self.segments {
            s.sides.push(0);
        }
        id
    }

    fn environment(&self, r: RouterId) -> Environment {
        let mut env = Environment::new();
        for p in &self.routers[r].ports {
            env = env.with_interface(&p.interface, p.up, &[p.addr]);
        }
        env
    }

    /// Boot a router (again, after a crash): a fresh node, tracker values fed, `Start`.
    pub fn start(&mut self, r: RouterId) {
        let env = self.environment(r);
        let router = &mut self.routers[r];
        let mut node = Node::new(&router.config, env);
        let mut out = std::mem::take(&mut self.actions);
        out.clear();
        for (name, value) in &router.files {
            node.handle(
                self.now,
                Input::FileValue {
                    name,
                    value: *value,
                },
                &mut out,
            );
        }
        node.handle(self.now, Input::Start, &mut out);
        for (name, result) in &router.scripts {
            node.handle(
                self.now,
                Input::Script {
                    name,
                    result: *result,
                },
                &mut out,
            );
        }
        router.node = Some(node);
        router.wake = None;
        self.epochs[r] += 1;
        note!(self, "{} starts", self.routers[r].name);
        self.actions = out;
        self.after(r);
    }

    pub fn start_all(&mut self) {
        for r in 0..self.routers.len() {
            self.start(r);
        }
    }

    /// Power off without a word: no priority-0 advert, frames in flight to it are lost.
    pub fn crash(&mut self, r: RouterId) {
        self.routers[r].node = None;
        self.routers[r].wake = None;
        self.epochs[r] += 1;
        note!(self, "{} crashes", self.routers[r].name);
    }

    pub fn is_up(&self, r: RouterId) -> bool {
        self.routers[r].node.is_some()
    }

    /// SIGTERM: masters send priority 0 and release, then the router is off.
    pub fn shutdown(&mut self, r: RouterId) {
        self.input(r, Input::Shutdown);
        note!(self, "{} shuts down", self.routers[r].name);
        self.routers[r].node = None;
        self.routers[r].wake = None;
        self.epochs[r] += 1;
    }

    /// Set a `track_file` value on a router (remembered across restarts).
    pub fn set_file(&mut self, r: RouterId, name: &str, value: i64) {
        let files = &mut self.routers[r].files;
        match files.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value,
            None => files.push((name.to_string(), value)),
        }
        note!(self, "{} file {name} = {value}", self.routers[r].name);
        self.input(r, Input::FileValue { name, value });
    }

    /// Report a `vrrp_script` result on a router (the last one is replayed after restarts).
    pub fn script(&mut self, r: RouterId, name: &str, result: ScriptResult) {
        let scripts = &mut self.routers[r].scripts;
        match scripts.iter_mut().find(|(n, _)| n == name) {
            Some(s) => s.1 = result,
            None => scripts.push((name.to_string(), result)),
        }
        note!(self, "{} script {name} {result:?}", self.routers[r].name);
        self.input(r, Input::Script { name, result });
    }

    /// Take a router's port on `segment` down or up (link events reach the node).
    pub fn set_link(&mut self, r: RouterId, segment: SegmentId, up: bool) {
        let Some(port) = self.routers[r]
            .ports
            .iter_mut()
            .find(|p| p.segment == segment)
        else {
            return;
        };
        port.up = up;
        let interface = port.interface.clone();
        note!(
            self,
            "{} link {interface} {}",
            self.routers[r].name,
            if up { "up" } else { "down" }
        );
        let input = if up {
            Input::LinkUp {
                interface: &interface,
            }
        } else {
            Input::LinkDown {
                interface: &interface,
            }
        };
        self.input(r, input);
    }

    /// One-way delay of everything router `r` sends or receives on `segment`.
    pub fn set_delay(&mut self, r: RouterId, segment: SegmentId, delay: Duration) {
        if let Some(p) = self.routers[r]
            .ports
            .iter_mut()
            .find(|p| p.segment == segment)
        {
            p.delay = delay;
        }
    }

    /// Probability that a frame on `segment` is lost.
    pub fn set_loss(&mut self, segment: SegmentId, loss: f64) {
        self.segments[segment].loss = loss;
        note!(self, "{} loss {loss:.2}", self.segments[segment].name);
    }

    /// Split `segment`: router `r` is on side `sides[r]`; frames only cross within a side.
    pub fn partition(&mut self, segment: SegmentId, sides: &[u8]) {
        let s = &mut self.segments[segment];
        for (i, side) in s.sides.iter_mut().enumerate() {
            *side = sides.get(i).copied().unwrap_or(0);
        }
        note!(self, "{} partition {sides:?}", self.segments[segment].name);
    }

    pub fn heal(&mut self, segment: SegmentId) {
        self.segments[segment].sides.iter_mut().for_each(|s| *s = 0);
        self.segments[segment].loss = 0.0;
        note!(self, "{} healed", self.segments[segment].name);
    }

    pub fn node(&self, r: RouterId) -> Option<&Node> {
        self.routers[r].node.as_ref()
    }

    pub fn routers(&self) -> usize {
        self.routers.len()
    }

    /// Every state change so far.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The routers whose instance `name` is MASTER now.
    pub fn masters(&self, name: &str) -> Vec<RouterId> {
        (0..self.routers.len())
            .filter(|r| {
                self.node(*r)
                    .and_then(|n| n.instance_by_name(name))
                    .is_some_and(|i| i.state() == State::Master)
            })
            .collect()
    }

    /// What happened, one line per event (empty unless built with `trace`).
    pub fn trace(&self) -> String {
        self.trace
            .as_ref()
            .map(|t| t.join("\n"))
            .unwrap_or_default()
    }

    fn push(&mut self, at: Instant, event: Event) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(event);
                s
            }
            None => {
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        self.queue.push(Reverse((at, self.seq, slot)));
    }

    /// Feed one input to a running router and carry out its actions.
    fn input(&mut self, r: RouterId, input: Input<'_>) {
        let Some(node) = self.routers[r].node.as_mut() else {
            return;
        };
        let mut out = std::mem::take(&mut self.actions);
        out.clear();
        node.handle(self.now, input, &mut out);
        self.actions = out;
        self.after(r);
    }

    /// Carry out the actions in `self.actions` for router `r` and requeue its wake-up.
    fn after(&mut self, r: RouterId) {
        let actions = std::mem::take(&mut self.actions);
        for a in &actions {
            match a {
                Action::SendAdvert(s) => self.transmit(r, s),
                Action::StateChanged { instance, from, to } => {
                    let Some(inst) = self.routers[r]
                        .node
                        .as_ref()
                        .and_then(|n| n.instance(*instance))
                    else {
                        continue;
                    };
                    let change = Change {
                        at: self.now,
                        router: r,
                        instance: Arc::from(inst.name()),
                        vrid: inst.vrid(),
                        from: *from,
                        to: *to,
                    };
                    note!(
                        self,
                        "{} ({}) {} -> {} prio {}",
                        self.routers[r].name,
                        change.instance,
                        from,
                        to,
                        inst.effective_priority()
                    );
                    self.changes.push(change);
                }
                Action::Log(l) if self.trace.is_some() => {
                    note!(self, "{}: {l}", self.routers[r].name);
                }
                _ => {}
            }
        }
        self.actions = actions;
        let Some(node) = self.routers[r].node.as_ref() else {
            return;
        };
        if let Some(d) = node.next_deadline()
            && self.routers[r].wake.is_none_or(|w| d < w)
        {
            self.routers[r].wake = Some(d);
            self.push(d, Event::Wake(r));
        }
    }

    /// When the run stopped because events never let virtual time move.
    pub fn storm(&self) -> Option<Instant> {
        self.storm
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }
}
