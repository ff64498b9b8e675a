//! One look at the running daemon, for the views that are not the control socket: the
//! Prometheus text, the status page, keepalived's dump files and `/healthz`. The event loop
//! builds it when one of them asks (never on its own, never per advert), from what the
//! protocol core, the sockets and the configuration already hold; the views read it on
//! their side of a channel, so the loop's state is never shared.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use std::collections::{HashMap, HashSet};

use baton_conf::{Config, Scope, VirtualAddress, VrrpInstance};
use baton_vrrp::{InstanceStatus, Instant, NodeStatus, State};

use crate::north::history::{History, TransitionRecord};
use crate::runtime::lvs_status::VirtualServerView;
use crate::south::lvs::DataplaneStatus;
use crate::south::sockets::{EndpointStatus, WireErrors};

/// The daemon as the views see it.
#[derive(Debug)]
pub struct Snapshot {
    pub pid: u32,
    pub version: &'static str,
    pub config: PathBuf,
    pub uptime: Duration,
    /// The wall clock at the core's time zero (the daemon's start), to date changes.
    pub started_wall: SystemTime,
    /// The core's time when the snapshot was taken.
    pub now: Instant,
    pub reloads: u32,
    pub reloads_refused: u32,
    pub node: NodeStatus,
    pub sockets: Vec<EndpointStatus>,
    /// Configuration facts and history, one per instance of `node`, in its order.
    pub instances: Vec<InstanceView>,
    /// `vrrp_script`s with a run in progress.
    pub scripts_running: Vec<String>,
    /// keepalived's virtual servers (empty without any).
    pub lvs: LvsSnapshot,
}

/// The LVS half as the views see it: every virtual server with its real servers and their
/// checkers, and the nftables data plane's record.
#[derive(Debug, Default)]
pub struct LvsSnapshot {
    pub virtual_servers: Vec<VirtualServerView>,
    /// `None` while no virtual server ever started the data plane.
    pub dataplane: Option<DataplaneStatus>,
    /// Verdicts the checkers gave.
    pub verdicts: u64,
}

/// What the views need of an instance beyond the core's status.
#[derive(Debug, Clone, Default)]
pub struct InstanceView {
    pub vips: Vec<VipText>,
    pub excluded: Vec<VipText>,
    /// `garp_master_delay`.
    pub garp_delay: Duration,
    /// Tracked `vrrp_script`s and their weights.
    pub track_scripts: Vec<(String, i32)>,
    /// Every tracker the instance follows with the weight it applies (`None`: its failure
    /// is FAULT, not a weight).
    pub trackers: Vec<TrackerWeight>,
    pub changes: Vec<TransitionRecord>,
    pub last_takeover: Option<Duration>,
    /// Datagrams on this instance's socket that never became an advert: set on the first
    /// instance of each socket only (their VRID is unknown, so they are charged once and
    /// sums over instances stay right).
    pub socket_errors: Option<WireErrors>,
}

/// A tracker an instance follows, and what it weighs there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerWeight {
    /// `script`, `process`, `file` or `interface`, as the core's tracker kinds.
    pub kind: &'static str,
    pub name: String,
    pub weight: Option<i32>,
}

/// A virtual address as keepalived writes it (`192.168.5.10 dev ens33 scope global`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipText {
    /// The address, with `/len` unless a host prefix (keepalived's `ipaddresstos`).
    pub addr: String,
    pub dev: String,
    pub scope: String,
}

impl VipText {
    pub fn of(v: &VirtualAddress, instance_interface: &str) -> VipText {
        let host = match v.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let addr = if v.prefix_len == host {
            v.addr.to_string()
        } else {
            format!("{}/{}", v.addr, v.prefix_len)
        };
        VipText {
            addr,
            dev: v
                .dev
                .clone()
                .unwrap_or_else(|| instance_interface.to_string()),
            scope: scope_name(v.scope),
        }
    }

    /// The whole line, as in keepalived's data dump and JSON.
    pub fn line(&self) -> String {
        format!("{} dev {} scope {}", self.addr, self.dev, self.scope)
    }
}

/// keepalived's (and iproute2's) names for address scopes.
pub fn scope_name(s: Scope) -> String {
    match s {
        Scope::Global => "global".into(),
        Scope::Site => "site".into(),
        Scope::Link => "link".into(),
        Scope::Host => "host".into(),
        Scope::Nowhere => "nowhere".into(),
        Scope::Other(n) => n.to_string(),
    }
}

impl InstanceView {
    /// The views of every instance of `node`, in its order. Linear in the number of
    /// instances: a scrape of a thousand must not cost a million comparisons.
    pub fn all(
        config: &Config,
        history: &History,
        node: &NodeStatus,
        sockets: &[EndpointStatus],
    ) -> Vec<InstanceView> {
        let conf: HashMap<&str, &VrrpInstance> =
            config.instances.iter().map(|i| (&*i.name, i)).collect();
        let scripts: HashMap<&str, i32> = config
            .scripts
            .iter()
            .map(|s| (s.name.as_str(), s.weight))
            .collect();
        let mut charged = HashSet::new();
        node.instances
            .iter()
            .enumerate()
            .map(|(index, i)| {
                let mut v = InstanceView::default();
                if let Some(c) = conf.get(i.name.as_str()) {
                    v.vips = c
                        .vips
                        .iter()
                        .map(|a| VipText::of(a, &i.interface))
                        .collect();
                    v.excluded = c
                        .excluded_vips
                        .iter()
                        .map(|a| VipText::of(a, &i.interface))
                        .collect();
                    v.garp_delay = c.garp.master_delay;
                    v.track_scripts = c
                        .tracking
                        .scripts
                        .iter()
                        .map(|r| {
                            let own = scripts.get(r.name.as_str()).copied();
                            (r.name.clone(), r.weight.or(own).unwrap_or(0))
                        })
                        .collect();
                    let t = &c.tracking;
                    v.trackers = [
                        ("script", &t.scripts),
                        ("process", &t.processes),
                        ("file", &t.files),
                        ("interface", &t.interfaces),
                    ]
                    .into_iter()
                    .flat_map(|(kind, refs)| {
                        refs.iter().map(move |r| TrackerWeight {
                            kind,
                            name: r.name.clone(),
                            // 0 is keepalived's "failure is FAULT" too.
                            weight: r.weight.filter(|w| *w != 0),
                        })
                    })
                    .collect();
                }
                if let Some(h) = history.get(index) {
                    v.changes = h.changes.iter().cloned().collect();
                    v.last_takeover = h.last_takeover;
                }
                if charged.insert((i.interface.as_str(), i.family.as_str())) {
                    v.socket_errors = sockets
                        .iter()
                        .find(|s| s.interface == i.interface && s.family == i.family)
                        .map(|s| s.stats.wire_errors.clone());
                }
                v
            })
            .collect()
    }
}

/// keepalived's state numbers, as its dumps and the exporter's `keepalived_vrrp_state` use
/// them (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT; 98 STOP).
pub fn keepalived_state(s: State) -> u8 {
    match s {
        State::Initialize => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
        State::Stopped => 98,
    }
}

impl Snapshot {
    /// The instances with their views.
    pub fn instances(&self) -> impl Iterator<Item = (&InstanceStatus, &InstanceView)> {
        self.node.instances.iter().zip(self.instances.iter())
    }

    /// Wall-clock time of a core instant.
    pub fn wall(&self, at: Instant) -> SystemTime {
        self.started_wall + at.since_epoch()
    }

    /// How long ago a core instant was.
    pub fn ago(&self, at: Instant) -> Duration {
        self.now.saturating_duration_since(at)
    }

    /// A script tracker's state word ("ok", "failed", "init"), if it is one.
    pub fn script_state(&self, name: &str) -> Option<&str> {
        self.node
            .trackers
            .iter()
            .find(|t| t.kind == "script" && t.name == name)
            .map(|t| t.state.as_str())
    }
}

/// A snapshot of the seed's master after a failover and back, for the views' tests.
#[cfg(test)]
pub(crate) fn sample() -> Snapshot {
    use baton_vrrp::{Counters, MasterStatus, TrackerStatus, Transition};

    use crate::south::sockets::SocketStats;

    let ms = |n: u64| Instant::from_nanos(n * 1_000_000);
    let mut counters = Counters {
        adverts_sent: 42,
        adverts_received: 7,
        priority_zero_sent: 1,
        priority_zero_received: 2,
        ..Counters::default()
    };
    counters.transitions.master = 2;
    counters.transitions.backup = 2;
    counters.dropped.ttl = 3;
    counters.dropped.auth_failure = 4;
    counters.dropped.address_list = 5;
    counters.dropped.address_count = 1;
    let vi1 = InstanceStatus {
        name: "VI_1".into(),
        vrid: 51,
        family: "IPv4".into(),
        version: "VRRPv2".into(),
        interface: "ens33".into(),
        state: State::Master,
        base_priority: 200,
        effective_priority: 200,
        source: Some("192.168.5.11".parse().unwrap()),
        master: Some(MasterStatus {
            address: "192.168.5.11".parse().unwrap(),
            priority: 200,
        }),
        vips_held: vec!["192.168.5.10".parse().unwrap()],
        advert_interval_ms: 1000,
        master_adver_interval_ms: 1000,
        last_transition: Some(Transition {
            at: ms(20_000),
            from: State::Backup,
            to: State::Master,
            reason: "master down timer expired".into(),
        }),
        faults: Vec::new(),
        counters,
        mismatches: Vec::new(),
        mismatches_evicted: 0,
        mismatches_expired: 0,
        split_brain: None,
    };
    let vi2 = InstanceStatus {
        name: "VI_2".into(),
        vrid: 52,
        state: State::Fault,
        effective_priority: 100,
        base_priority: 100,
        master: None,
        vips_held: Vec::new(),
        source: None,
        last_transition: None,
        faults: vec!["interface ens33 down".into()],
        counters: Counters::default(),
        ..vi1.clone()
    };
    let mut history = History::default();
    history.record(0, ms(0), State::Initialize, State::Backup, "init", None);
    history.record(
        0,
        ms(3_600),
        State::Backup,
        State::Master,
        "master down timer expired",
        None,
    );
    history.record(
        0,
        ms(10_000),
        State::Master,
        State::Backup,
        "higher priority advert",
        None,
    );
    history.record(
        0,
        ms(20_000),
        State::Backup,
        State::Master,
        "master down timer expired",
        Some(ms(19_988)),
    );
    let vip = |a: &str| VipText {
        addr: a.into(),
        dev: "ens33".into(),
        scope: "global".into(),
    };
    let view1 = InstanceView {
        vips: vec![vip("192.168.5.10")],
        excluded: vec![vip("fd00:5::10/64")],
        garp_delay: Duration::from_secs(5),
        track_scripts: vec![("chk_nginx".into(), -150)],
        trackers: vec![
            TrackerWeight {
                kind: "script",
                name: "chk_nginx".into(),
                weight: Some(-150),
            },
            TrackerWeight {
                kind: "interface",
                name: "ens34".into(),
                weight: None,
            },
        ],
        changes: history.get(0).unwrap().changes.iter().cloned().collect(),
        last_takeover: history.get(0).unwrap().last_takeover,
        socket_errors: Some(WireErrors {
            truncated: 6,
            msg_type: 8,
            auth_type: 9,
            ..WireErrors::default()
        }),
    };
    let sockets = vec![EndpointStatus {
        interface: "ens33".into(),
        family: "IPv4".into(),
        open: true,
        groups: vec!["224.0.0.18".parse().unwrap()],
        stats: SocketStats {
            received: 60,
            sent: 42,
            send_errors: 0,
            wire_errors: WireErrors {
                truncated: 6,
                msg_type: 8,
                auth_type: 9,
                ..WireErrors::default()
            },
        },
    }];
    Snapshot {
        pid: 4242,
        version: "0.1.0",
        config: "/etc/keepalived/keepalived.conf".into(),
        uptime: Duration::from_secs(30),
        started_wall: std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        now: ms(30_000),
        reloads: 1,
        reloads_refused: 0,
        node: NodeStatus {
            instances: vec![vi1, vi2],
            groups: Vec::new(),
            trackers: vec![
                TrackerStatus {
                    kind: "script",
                    name: "chk_nginx".into(),
                    state: "ok".into(),
                },
                TrackerStatus {
                    kind: "process",
                    name: "nginx".into(),
                    state: "2 running".into(),
                },
            ],
            unknown_vrid_adverts: 11,
        },
        sockets,
        instances: vec![view1, InstanceView::default()],
        scripts_running: vec!["chk_nginx".into()],
        lvs: sample_lvs(),
    }
}

/// One virtual server with a live real server and one its checker took down.
#[cfg(test)]
fn sample_lvs() -> LvsSnapshot {
    use crate::runtime::lvs_status::{CheckView, RealServerView};

    let check = |keyword, target: &str, state, probes, failures| CheckView {
        keyword,
        target: target.into(),
        state,
        weight: None,
        reason: (state == "down").then(|| "connection refused".into()),
        since_ms: Some(4_000),
        probes,
        failures,
        last_probe: None,
    };
    let rs = |addr: &str, alive, went_down, checkers| RealServerView {
        name: format!("[{addr}]:tcp:8080"),
        address: format!("{addr}:8080"),
        alive,
        weight: 3,
        configured_weight: 3,
        effective_weight: 3,
        forwarding: "NAT",
        failed_checkers: usize::from(!alive),
        went_down,
        came_up: 0,
        since_change_ms: (went_down > 0).then_some(4_000),
        checkers,
    };
    LvsSnapshot {
        virtual_servers: vec![VirtualServerView {
            name: "[192.168.5.10]:tcp:80".into(),
            protocol: Some("TCP"),
            scheduler: "rr".into(),
            forwarding: "NAT",
            persistence_timeout_s: None,
            quorum_up: true,
            live_weight: 3,
            quorum: 1,
            hysteresis: 0,
            sorry_server: Some("[10.0.0.99]:tcp:8080".into()),
            sorry_server_in_use: false,
            checkers_suspended: false,
            programmed: true,
            real_servers: vec![
                rs(
                    "10.0.0.21",
                    true,
                    0,
                    vec![check("TCP_CHECK", "[10.0.0.21]:8080", "up", 30, 0)],
                ),
                rs(
                    "10.0.0.22",
                    false,
                    1,
                    vec![check("HTTP_GET", "[10.0.0.22]:8080", "down", 30, 4)],
                ),
            ],
        }],
        dataplane: Some(DataplaneStatus {
            table: "baton_lvs".into(),
            open: true,
            programmed: 2,
            submitted: 2,
            ..DataplaneStatus::default()
        }),
        verdicts: 3,
    }
}
