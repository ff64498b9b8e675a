//! A harness that drives one node directly with crafted adverts and virtual time.
#![allow(dead_code, clippy::unwrap_used)]

pub mod scenario;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use baton_conf::{
    Command, Config, Span, TrackRef, Tracking, VirtualAddress, VrrpInstance, VrrpScript,
};
use baton_vrrp::{
    Action, Environment, Input, InstanceId, Instant, Node, ReceivedAdvert, ScriptResult,
    SendAdvert, State,
};
use baton_wire::{Addresses, AdvertRepr, Auth, ChecksumForm, Family, Version};

pub const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 12));
pub const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 11));
pub const HIGH_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 13));
pub const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 10));
pub const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub fn at(s: f64) -> Instant {
    Instant::ZERO + secs(s)
}

/// The seed's instance: VI_1 on eth0, VRID 51, the VIP 192.168.5.10.
pub fn instance(name: &str, vrid: u8, priority: u8) -> VrrpInstance {
    let mut i = VrrpInstance::new(name, vrid, Family::Ipv4);
    i.interface = Some("eth0".to_string());
    i.priority = priority;
    i.vips = vec![VirtualAddress::new(VIP)];
    i
}

/// `vrrp_strict` on an instance, as baton-conf resolves it when it loads a configuration:
/// strict mode and everything it implies (the core applies none of it itself).
pub fn strict(mut i: VrrpInstance) -> VrrpInstance {
    i.strict = true;
    i.fast_handover = false;
    i.down_timer_adverts = 3;
    i.lower_prio_no_advert = true;
    i.higher_prio_send_advert = false;
    i.owner_ignore_adverts = true;
    i.preempt_delay = Duration::ZERO;
    let garp = std::sync::Arc::make_mut(&mut i.garp);
    garp.lower_prio_repeat = 0;
    garp.lower_prio_delay = Duration::ZERO;
    i.accept = i.is_owner();
    i.auth = None;
    i
}

/// A configuration of `instances`, to which a test may add scripts and groups before
/// starting a node (which checks in debug builds that it keeps a loaded configuration's
/// promises).
pub fn config(instances: Vec<VrrpInstance>) -> Config {
    let mut c = Config::build(|_| {});
    c.instances = instances;
    c
}

/// What a received advert looks like; defaults are a v2 advert from PEER matching
/// `instance()`.
#[derive(Debug, Clone)]
pub struct Rx {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    pub interval: u16,
    pub auth: Auth,
    pub vips: Vec<IpAddr>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub checksum: ChecksumForm,
    pub interface: &'static str,
}

impl Rx {
    pub fn v2(priority: u8, src: IpAddr) -> Rx {
        Rx {
            version: Version::V2,
            vrid: 51,
            priority,
            interval: 1,
            auth: Auth::None,
            vips: vec![VIP],
            src,
            dst: GROUP,
            ttl: 255,
            checksum: ChecksumForm::Plain,
            interface: "eth0",
        }
    }

    pub fn v3(priority: u8, src: IpAddr, centis: u16) -> Rx {
        Rx {
            version: Version::V3,
            interval: centis,
            checksum: ChecksumForm::PseudoHeader,
            ..Rx::v2(priority, src)
        }
    }
}

pub struct H {
    pub node: Node,
    pub now: Instant,
    pub out: Vec<Action>,
    /// (time, instance, from, to) of every state change.
    pub changes: Vec<(Instant, InstanceId, State, State)>,
}

impl H {
    /// A node with eth0 up and ME on it, started at time zero.
    pub fn start(cfg: &Config) -> H {
        Self::start_with(cfg, Environment::new().with_interface("eth0", true, &[ME]))
    }

    pub fn start_with(cfg: &Config, env: Environment) -> H {
        Self::from_node(Node::new(cfg, env))
    }

    /// Start a node made by the test (after calls such as `booted_ago`).
    pub fn from_node(node: Node) -> H {
        let mut h = H {
            node,
            now: Instant::ZERO,
            out: Vec::new(),
            changes: Vec::new(),
        };
        h.input(Input::Start);
        h
    }

    pub fn input(&mut self, input: Input<'_>) {
        let mut out = Vec::new();
        self.node.handle(self.now, input, &mut out);
        for a in &out {
            if let Action::StateChanged { instance, from, to } = a {
                self.changes.push((self.now, *instance, *from, *to));
            }
        }
        self.out.extend(out);
    }

    /// Advance to `t`, firing every deadline on the way at its own time.
    pub fn run_to(&mut self, t: Instant) {
        while let Some(d) = self.node.next_deadline() {
            if d > t {
                break;
            }
            self.now = d.max(self.now);
            self.input(Input::Deadline);
        }
        self.now = t;
    }

    pub fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        self.run_to(t);
    }

    pub fn rx(&mut self, rx: &Rx) {
        let bytes = baton_wire::advert::encode_addresses(Family::Ipv4, &rx.vips);
        let advert = AdvertRepr {
            version: rx.version,
            vrid: rx.vrid,
            priority: rx.priority,
            interval: rx.interval,
            auth: rx.auth,
            addresses: Addresses::new(Family::Ipv4, &bytes).unwrap(),
        };
        self.input(Input::Advert(ReceivedAdvert {
            interface: rx.interface,
            family: Family::Ipv4,
            advert,
            src: rx.src,
            dst: rx.dst,
            ttl: rx.ttl,
            checksum: rx.checksum,
            message: &[],
            trailer: None,
            unix_time: std::time::Duration::ZERO,
        }));
    }

    pub fn state(&self, name: &str) -> State {
        self.node.instance_by_name(name).unwrap().state()
    }

    pub fn id(&self, name: &str) -> InstanceId {
        self.node.instance_by_name(name).unwrap().id()
    }

    /// Forget the actions so far.
    pub fn clear(&mut self) {
        self.out.clear();
    }

    pub fn sent(&self) -> Vec<SendAdvert> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::SendAdvert(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// The addresses the core asked to add (`add`) or remove, in order.
    pub fn addresses_changed(&self, add: bool) -> Vec<IpAddr> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::AddAddress { address, .. } if add => Some(address.addr),
                Action::RemoveAddress { address, .. } if !add => Some(address.addr),
                _ => None,
            })
            .collect()
    }

    pub fn logs(&self) -> Vec<String> {
        self.out
            .iter()
            .filter_map(|a| match a {
                Action::Log(l) => Some(l.to_string()),
                _ => None,
            })
            .collect()
    }

    /// When `name` last entered `state`.
    pub fn entered(&self, name: &str, state: State) -> Option<Instant> {
        let id = self.id(name);
        self.changes
            .iter()
            .rev()
            .find(|c| c.1 == id && c.3 == state)
            .map(|c| c.0)
    }
}

pub fn script(name: &str, weight: i32) -> VrrpScript {
    VrrpScript {
        name: name.to_string(),
        span: Span::default(),
        command: command("/usr/local/keepalived/check_nginx.sh"),
        interval: secs(2.0),
        timeout: secs(2.0),
        weight,
        reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
    }
}

pub fn command(text: &str) -> Command {
    Command {
        text: text.to_string(),
        argv: text.split(' ').map(str::to_string).collect(),
        run_as: None,
        span: Span::default(),
    }
}

pub fn track(name: &str) -> TrackRef {
    TrackRef {
        name: name.to_string(),
        weight: None,
        reverse: false,
        span: Span::default(),
    }
}

pub fn with_script(mut i: baton_conf::VrrpInstance, s: &str) -> baton_conf::VrrpInstance {
    i.tracking = std::sync::Arc::new(Tracking {
        scripts: vec![track(s)],
        ..Tracking::default()
    });
    i
}

pub fn script_result(h: &mut H, name: &str, result: ScriptResult) {
    h.input(Input::Script { name, result });
}
