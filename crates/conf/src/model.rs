//! The typed configuration: what a keepalived.conf means once parsed, defaults applied and
//! cross-references resolved. Field names follow keepalived's keywords; every default is
//! keepalived's unless a comment says otherwise.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_wire::{Family, Version};
use serde::Serialize;

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// Serialise a wire type (which has no serde dependency) by its display form.
fn as_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Durations appear in dumps as seconds, the unit keepalived.conf uses.
fn as_secs<S: serde::Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(v.as_secs_f64())
}

fn as_opt_secs<S: serde::Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// A whole configuration, keepalived's rules applied. Only [`crate::load`] (and its
/// siblings) and [`Config::build`], which checks the same promises, make one: the protocol
/// core trusts what it is given and decides nothing this crate has decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub global: GlobalDefs,
    pub scripts: Vec<VrrpScript>,
    pub track_processes: Vec<TrackProcess>,
    pub track_files: Vec<TrackFile>,
    pub sync_groups: Vec<SyncGroup>,
    pub instances: Vec<VrrpInstance>,
    pub static_addresses: Vec<VirtualAddress>,
    pub static_routes: Vec<VirtualRoute>,
    pub static_rules: Vec<VirtualRule>,
    /// `garp_group { … }`: GARP/NA spacing per interface (already folded into each
    /// instance's `garp`; kept for the interfaces no instance uses).
    pub garp_groups: Vec<GarpGroup>,
    /// `track_group NAME { group { … } }`: instances that go to FAULT when a static
    /// address, route or rule naming the group disappears.
    pub track_groups: Vec<TrackGroup>,
    /// `linkbeat_interfaces { IF [MII|ETHTOOL|IOCTL] }`.
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
    /// `interface_up_down_delays { IF down [up] }`.
    pub interface_delays: Vec<InterfaceDelay>,
    /// The virtual-server half: `virtual_server`, `virtual_server_group`, their checkers
    /// and the LVS keywords of `global_defs`.
    pub lvs: crate::lvs::Lvs,
    /// Made by this crate: no struct literal or `Default` elsewhere.
    #[serde(skip)]
    pub(crate) sealed: Sealed,
}

/// What keeps [`Config`] from being written out by hand outside this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Sealed;

impl Config {
    /// Nothing configured yet.
    pub(crate) fn empty() -> Config {
        Config {
            global: GlobalDefs::default(),
            scripts: Vec::new(),
            track_processes: Vec::new(),
            track_files: Vec::new(),
            sync_groups: Vec::new(),
            instances: Vec::new(),
            static_addresses: Vec::new(),
            static_routes: Vec::new(),
            static_rules: Vec::new(),
            garp_groups: Vec::new(),
            track_groups: Vec::new(),
            linkbeat_interfaces: Vec::new(),
            interface_delays: Vec::new(),
            lvs: crate::lvs::Lvs::default(),
            sealed: Sealed,
        }
    }

    /// Whether this configuration keeps every promise a loaded one keeps (keepalived's
    /// rules applied, references resolved); the broken one otherwise. Consumers check it in
    /// debug builds instead of applying the rules again.
    pub fn keeps_promises(&self) -> Result<(), String> {
        crate::invariants::check(self)
    }

    /// A configuration made in code, for tests, benchmarks and the simulator: `fill` sets
    /// what a keepalived.conf would (instances from [`VrrpInstance::new`], scripts, groups),
    /// then every promise a loaded configuration keeps is checked. Settings that keepalived
    /// would have changed (`vrrp_strict` with `fast_handover` still on, an owner with
    /// `nopreempt`, an instance without interface or peers) are refused: this builder
    /// applies no rule, it only refuses what `load` would never return.
    ///
    /// # Panics
    ///
    /// When the configuration breaks a promise; the message names it.
    pub fn build(fill: impl FnOnce(&mut Config)) -> Config {
        let mut c = Config::empty();
        fill(&mut c);
        if let Err(e) = crate::invariants::check(&c) {
            panic!("Config::build: {e}");
        }
        c
    }

    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| *i.name == *name)
    }

    /// Every command this configuration may run: vrrp_scripts, notify commands of instances,
    /// groups, virtual and real servers, the FIFO scripts and MISC_CHECK programs. The daemon
    /// checks them all (user lookup, path checks) before a reload reaches its event loop.
    pub fn commands(&self) -> Vec<&Command> {
        let mut out: Vec<&Command> = self.scripts.iter().map(|s| &s.command).collect();
        for n in self
            .instances
            .iter()
            .map(|i| &*i.notify)
            .chain(self.sync_groups.iter().map(|g| &g.notify))
        {
            out.extend(n.commands());
        }
        let fifos = [
            &self.global.notify_fifo,
            &self.global.vrrp_notify_fifo,
            &self.lvs.global.notify_fifo,
        ];
        out.extend(
            fifos
                .into_iter()
                .flatten()
                .filter_map(|f| f.script.as_ref()),
        );
        for vs in &self.lvs.virtual_servers {
            out.extend(vs.quorum_up.iter().chain(&vs.quorum_down));
            for rs in &vs.real_servers {
                out.extend(rs.notify_up.iter().chain(&rs.notify_down));
                out.extend(rs.checkers.iter().filter_map(|ch| match &ch.kind {
                    crate::lvs::CheckKind::Misc(m) => Some(&m.command),
                    _ => None,
                }));
            }
        }
        out
    }
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }
    pub fn track_process(&self, name: &str) -> Option<&TrackProcess> {
        self.track_processes.iter().find(|s| s.name == name)
    }
    pub fn track_file(&self, name: &str) -> Option<&TrackFile> {
        self.track_files.iter().find(|s| s.name == name)
    }
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
    }
    pub fn track_group(&self, name: &str) -> Option<&TrackGroup> {
        self.track_groups.iter().find(|g| g.name == name)
    }
}

/// `garp_group { garp_interval S; gna_interval S; interface IF | interfaces { … } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GarpGroup {
    #[serde(serialize_with = "as_opt_secs")]
    pub garp_interval: Option<Duration>,
    #[serde(serialize_with = "as_opt_secs")]
    pub gna_interval: Option<Duration>,
    pub interfaces: Vec<String>,
    pub span: Span,
}

/// `track_group NAME { group { VI_1 … } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackGroup {
    pub name: String,
    pub members: Vec<String>,
    pub span: Span,
}

/// How link state of a `linkbeat_interfaces` entry is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum LinkbeatKind {
    #[default]
    Mii,
    Ethtool,
    Ioctl,
}

/// One line of `linkbeat_interfaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkbeatInterface {
    pub interface: String,
    pub kind: LinkbeatKind,
    pub span: Span,
}

/// One line of `interface_up_down_delays`: debounce of link changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceDelay {
    pub interface: String,
    #[serde(serialize_with = "as_secs")]
    pub down: Duration,
    /// Defaults to `down`.
    #[serde(serialize_with = "as_secs")]
    pub up: Duration,
    pub span: Span,
}

/// A user and optional group to run a script as (`user USER [[:]GROUP]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
}

/// A command line to run: the text as written and keepalived's word splitting of it
/// (unquoted spaces split, quotes group, no shell unless the command names one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub text: String,
    pub argv: Vec<String>,
    pub run_as: Option<RunAs>,
    pub span: Span,
}

impl Command {
    /// keepalived's rule for a "system" command, run through `/bin/sh -c` instead of
    /// exec'd: the first word begins with `<`, then optional spaces or tabs, then `/` (a
    /// test that a file can be opened: `</dev/tcp/127.0.0.1/80`, `</run/ok`). There is no
    /// script file to check, so neither the file checks nor `enable_script_security`'s
    /// apply to it (keepalived 2.4.3 `check_script_secure`, `SC_SYSTEM`).
    pub fn runs_through_shell(&self) -> bool {
        self.argv.first().is_some_and(|first| {
            first
                .strip_prefix('<')
                .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with('/'))
        })
    }

    /// The file a "system" command opens (`/dev/tcp/…` of `</dev/tcp/…`).
    pub fn shell_redirection_target(&self) -> Option<&str> {
        if !self.runs_through_shell() {
            return None;
        }
        let first = self.argv.first()?;
        Some(first[1..].trim_start_matches([' ', '\t']))
    }
}

/// Gratuitous ARP / unsolicited NA timing, global `vrrp_garp_*` or per-instance `garp_*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GarpSettings {
    /// Messages per burst on becoming master.
    pub master_repeat: u32,
    /// Delay of the second burst after becoming master; zero = no second burst.
    #[serde(serialize_with = "as_secs")]
    pub master_delay: Duration,
    /// Burst when a master hears a lower-priority advert.
    pub lower_prio_repeat: u32,
    #[serde(serialize_with = "as_secs")]
    pub lower_prio_delay: Duration,
    /// Periodic refresh while master; `None` = off.
    #[serde(serialize_with = "as_opt_secs")]
    pub master_refresh: Option<Duration>,
    pub master_refresh_repeat: u32,
    /// Minimum spacing between messages on one interface.
    #[serde(serialize_with = "as_secs")]
    pub interval: Duration,
    #[serde(serialize_with = "as_secs")]
    pub na_interval: Duration,
    /// `garp_extra_if [all] SECS`: periodic GARP/NA on the interfaces of VIPs that are not
    /// the instance's own (only VMAC ones unless `all`); `None` = off.
    pub extra_if: Option<GarpExtraIf>,
}

/// `garp_extra_if [all] SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpExtraIf {
    #[serde(serialize_with = "as_secs")]
    pub interval: Duration,
    pub all: bool,
}

impl Default for GarpSettings {
    fn default() -> Self {
        GarpSettings {
            master_repeat: 5,
            master_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
            master_refresh: None,
            master_refresh_repeat: 1,
            interval: Duration::ZERO,
            na_interval: Duration::ZERO,
            extra_if: None,
        }
    }
}

/// A notify FIFO (`notify_fifo FIFO [user [group]]`) and the optional script that reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyFifo {
    pub path: PathBuf,
    pub script: Option<Command>,
    pub span: Span,
}

/// `global_defs`, the VRRP side of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub mcast_group4: Ipv4Addr,
    pub mcast_group6: Ipv6Addr,
    pub default_interface: Option<String>,
    #[serde(serialize_with = "as_display")]
    pub vrrp_version: Version,
    pub garp: GarpSettings,
    pub down_timer_adverts: u8,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub owner_ignore_adverts: bool,
    pub v3_checksum_as_v2: bool,
    pub check_unicast_src: bool,
    pub skip_check_adv_addr: bool,
    pub strict: bool,
    pub notify_priority_changes: bool,
    pub script_user: Option<RunAs>,
    pub enable_script_security: bool,
    pub notify_fifo: Option<NotifyFifo>,
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    /// `fifo_write_vrrp_states_on_reload`.
    pub fifo_write_states_on_reload: bool,
    #[serde(serialize_with = "as_secs")]
    pub startup_delay: Duration,
    /// `vrrp_delay_after_boot`: VRRP starts no earlier than this long after boot.
    #[serde(serialize_with = "as_secs")]
    pub delay_after_boot: Duration,
    pub dynamic_interfaces: bool,
    pub log_unknown_vrids: bool,
    /// `vmac_prefix`: prefix of generated VMAC interface names.
    pub vmac_prefix: String,
    /// baton extension (`fast_handover <BOOL>`): on by default, forced off by `vrrp_strict`.
    pub fast_handover: bool,
    /// `process_name NAME`: keepalived's name for its parent process. baton is one process
    /// and takes this name (else `vrrp_process_name`, else `keepalived` with
    /// `process_names`), so `killall NAME` in a health script reaches it.
    pub process_name: Option<String>,
    /// `vrrp_process_name NAME`: keepalived's name for its VRRP process.
    pub vrrp_process_name: Option<String>,
    /// `process_names`: keepalived names its processes (the parent `keepalived`).
    pub process_names: bool,
    /// `net_namespace NAME`: run in the network namespace `ip netns` made as NAME
    /// (`/run/netns/NAME`), as keepalived does.
    pub net_namespace: Option<String>,
    /// baton extension (`baton_metrics ADDR:PORT`): where to serve `/metrics`, the status
    /// page and `/healthz`, as `--metrics` does (which wins over it). keepalived does not
    /// know the keyword: it logs "Unknown keyword" and `keepalived -t` exits 5.
    pub metrics: Option<std::net::SocketAddr>,
    /// `vrrp_priority`, `vrrp_rt_priority`, `vrrp_rlimit_rttime`, `vrrp_no_swap`,
    /// `vrrp_cpu_affinity`: how keepalived schedules its VRRP process, which in baton is
    /// the daemon.
    pub scheduling: Scheduling,
}

/// How the daemon is scheduled: keepalived's settings for its VRRP process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scheduling {
    /// `vrrp_priority` (-20..=19): the nice value; 0 leaves it as started. keepalived
    /// uses it only without a realtime priority, and so does baton.
    pub nice: i8,
    /// `vrrp_rt_priority` (1..=99): SCHED_RR at this priority for the thread that sends and
    /// receives adverts. Scripts and the daemon's other threads start as normal tasks
    /// (`SCHED_RESET_ON_FORK`), as keepalived's scripts do.
    pub rt_priority: Option<u8>,
    /// `vrrp_rlimit_rttime` (µs, default 10,000): the CPU time that realtime thread may
    /// take without blocking; SIGXCPU (logged) at half of it, SIGKILL at it.
    pub rlimit_rttime_us: u32,
    /// `vrrp_no_swap`: lock the daemon's memory (`mlockall`, pages locked as they are
    /// touched).
    pub no_swap: bool,
    /// `vrrp_cpu_affinity CPU…`: the CPUs the daemon's threads run on; empty: any.
    pub cpu_affinity: Vec<u16>,
}

/// keepalived's default `vrrp_rlimit_rttime`, µs.
pub const DEFAULT_RLIMIT_RTTIME_US: u32 = 10_000;

impl Default for Scheduling {
    fn default() -> Self {
        Scheduling {
            nice: 0,
            rt_priority: None,
            rlimit_rttime_us: DEFAULT_RLIMIT_RTTIME_US,
            no_swap: false,
            cpu_affinity: Vec::new(),
        }
    }
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            mcast_group4: baton_wire::MCAST_GROUP_V4,
            mcast_group6: baton_wire::MCAST_GROUP_V6,
            default_interface: None,
            vrrp_version: Version::V2,
            garp: GarpSettings::default(),
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            owner_ignore_adverts: false,
            v3_checksum_as_v2: false,
            check_unicast_src: false,
            skip_check_adv_addr: false,
            strict: false,
            notify_priority_changes: false,
            script_user: None,
            enable_script_security: false,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            fifo_write_states_on_reload: false,
            startup_delay: Duration::ZERO,
            delay_after_boot: Duration::ZERO,
            dynamic_interfaces: false,
            log_unknown_vrids: false,
            vmac_prefix: "vrrp".to_string(),
            fast_handover: true,
            process_name: None,
            vrrp_process_name: None,
            process_names: false,
            net_namespace: None,
            metrics: None,
            scheduling: Scheduling::default(),
        }
    }
}

/// `vrrp_script NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub span: Span,
    pub command: Command,
    #[serde(serialize_with = "as_secs")]
    pub interval: Duration,
    /// Defaults to `interval`.
    #[serde(serialize_with = "as_secs")]
    pub timeout: Duration,
    pub weight: i32,
    pub reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}

/// `param_match` of a tracked process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum ParamMatch {
    /// The parameters must equal the process's arguments.
    #[default]
    Exact,
    /// The process's arguments start with the parameters.
    Initial,
    /// The parameters appear anywhere in the process's arguments.
    Partial,
}

/// `vrrp_track_process NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackProcess {
    pub name: String,
    pub span: Span,
    /// The process name (comm, or the executable path with `full_command`).
    pub process: String,
    /// Parameters to match, if any were given after the name.
    pub params: Option<Vec<String>>,
    pub param_match: ParamMatch,
    pub full_command: bool,
    pub weight: i32,
    pub reverse: bool,
    pub quorum: u32,
    pub quorum_max: Option<u32>,
    /// Delay before reporting a change (`delay` sets both).
    #[serde(serialize_with = "as_secs")]
    pub fork_delay: Duration,
    #[serde(serialize_with = "as_secs")]
    pub terminate_delay: Duration,
}

/// `track_file NAME { … }` (alias `vrrp_track_file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    pub name: String,
    pub span: Span,
    pub path: PathBuf,
    pub weight: i32,
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: create the file with VALUE (default 0) if missing,
    /// or always with `overwrite`.
    pub init_file: Option<(i64, bool)>,
}

/// A reference from an instance or sync group to a tracker.
///
/// As loaded from a configuration, `weight` and `reverse` are the effective ones: for
/// scripts, files and processes the tracker's own unless the reference overrides them (so
/// `Some`, where 0 means "failure is FAULT"); for interfaces `None` means unweighted.
/// Weighted references the address owner or a sync group member may not have are already
/// dropped or made unweighted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    pub name: String,
    pub weight: Option<i32>,
    pub reverse: bool,
    pub span: Span,
}

/// Notify commands of an instance or sync group. Each command is boxed: most instances set
/// none or one of them, and seven commands inline were more than half of an instance's
/// configuration (a daemon with tens of thousands of instances keeps one per instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Notify {
    pub master: Option<Box<Command>>,
    pub backup: Option<Box<Command>>,
    pub fault: Option<Box<Command>>,
    pub stop: Option<Box<Command>>,
    /// `notify CMD`: called with `INSTANCE|GROUP name STATE priority` appended.
    pub any: Option<Box<Command>>,
    pub master_rx_lower_pri: Option<Box<Command>>,
    /// `notify_deleted`: report DELETED instead of FAULT for an instance removed on reload.
    pub deleted: bool,
    /// `notify_deleted CMD`: also run this command then.
    pub deleted_script: Option<Box<Command>>,
    /// `notify_priority_changes`; instances loaded from a configuration carry the global
    /// default here when they do not set it.
    pub priority_changes: Option<bool>,
}

impl Notify {
    /// The commands set, in keyword order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.any,
            &self.master_rx_lower_pri,
            &self.deleted_script,
        ]
        .into_iter()
        .flatten()
        .map(|c| &**c)
    }
}

/// The trackers an instance or group follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Tracking {
    pub interfaces: Vec<TrackRef>,
    pub scripts: Vec<TrackRef>,
    pub files: Vec<TrackRef>,
    pub processes: Vec<TrackRef>,
}

/// `vrrp_sync_group NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub span: Span,
    pub members: Vec<String>,
    pub tracking: Tracking,
    pub notify: Notify,
    pub tracking_weight: bool,
}

/// `state` as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InitialState {
    Master,
    Backup,
}

/// `authentication { auth_type …; auth_pass … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Authentication {
    /// Only the first 8 bytes are sent and compared.
    Pass(String),
    /// Recognised and refused (IPsec AH is not implemented).
    Ah(String),
}

/// `auth_hmac { … }`: keepalived's HMAC-SHA256 authentication trailer (2.4.2+ wire format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthHmac {
    /// Every configured key; a receiver accepts any of them (key rotation).
    pub keys: Vec<HmacKey>,
    /// The key that signs; always one of `keys`.
    pub active_key: u8,
    pub anti_replay: AntiReplay,
    /// Freshness window of `anti_replay time`, in seconds (1..=300).
    pub time_window: u32,
    pub mode: HmacMode,
}

impl AuthHmac {
    /// The key with this id.
    pub fn key(&self, id: u8) -> Option<&HmacKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// One `key ID VALUE` of `auth_hmac`: 32 to 64 bytes.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct HmacKey {
    pub id: u8,
    /// Never dumped.
    #[serde(skip)]
    pub secret: Vec<u8>,
    pub span: Span,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HmacKey {{ id: {}, {} bytes }}",
            self.id,
            self.secret.len()
        )
    }
}

/// `anti_replay time|monotonic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AntiReplay {
    /// Sequence from the realtime clock, a freshness window and growth per sender.
    Time,
    /// Growth per sender only.
    Monotonic,
}

/// `mode enforce|permissive|receive-only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HmacMode {
    /// Sign, and require a valid trailer.
    Enforce,
    /// Sign; accept adverts without a trailer too.
    Permissive,
    /// Do not sign; verify a trailer that is present, accept adverts without one.
    ReceiveOnly,
}

impl HmacMode {
    /// Whether adverts are sent with a trailer.
    pub fn signs(self) -> bool {
        self != HmacMode::ReceiveOnly
    }
}

/// One `unicast_peer` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

/// Address scope (`scope site|link|host|nowhere|global` or a number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Scope {
    #[default]
    Global,
    Site,
    Link,
    Host,
    Nowhere,
    Other(u8),
}

/// `brd` of a virtual address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Broadcast {
    Addr(Ipv4Addr),
    /// `brd +`: host bits set.
    Set,
    /// `brd -`: host bits clear.
    Clear,
}

/// One line of `virtual_ipaddress`, `virtual_ipaddress_excluded` or `static_ipaddress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    /// /32 or /128 when not given.
    pub prefix_len: u8,
    pub brd: Option<Broadcast>,
    /// `dev`; `None` means the instance's interface.
    pub dev: Option<String>,
    pub scope: Scope,
    pub label: Option<String>,
    pub peer: Option<IpAddr>,
    /// IPv6: added with NODAD unless `-nodad` was given.
    pub nodad: bool,
    pub home: bool,
    pub noprefixroute: bool,
    pub mngtmpaddr: bool,
    pub autojoin: bool,
    pub no_track: bool,
    /// IPv6 /128 VIPs are deprecated (preferred_lft 0) unless `preferred_lft forever`.
    pub preferred_forever: bool,
    /// `use_vmac` on the address line: put it on a VMAC of its `dev`.
    pub use_vmac: bool,
    /// `track_group G` (static addresses only).
    pub track_group: Option<String>,
    pub span: Span,
}

/// Kind of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum RouteKind {
    #[default]
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// One `nexthop` of a multipath route (or an `or GATEWAY` alternative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nexthop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// 1..=256.
    pub weight: Option<u16>,
    pub onlink: bool,
}

/// One line of `virtual_routes` or `static_routes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualRoute {
    pub dst: IpAddr,
    pub dst_len: u8,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub scope: Option<Scope>,
    pub table: Option<u32>,
    pub metric: Option<u32>,
    pub kind: RouteKind,
    pub onlink: bool,
    pub no_track: bool,
    /// Further gateways: `or GATEWAY` alternatives and `nexthop …` groups.
    pub nexthops: Vec<Nexthop>,
    /// `protocol`/`proto` as a number (names resolved: kernel 2, boot 3, static 4 …).
    pub protocol: Option<u8>,
    pub tos: Option<u8>,
    pub mtu: Option<u32>,
    /// `append` (after matching routes) instead of the default prepend.
    pub append: bool,
    /// `track_group G` (static routes only).
    pub track_group: Option<String>,
    pub span: Span,
}

/// One line of `virtual_rules` or `static_rules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualRule {
    #[serde(serialize_with = "as_display")]
    pub family: Family,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub table: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub fwmark: Option<(u32, Option<u32>)>,
    pub tos: Option<u8>,
    pub preference: Option<u32>,
    /// `goto N`: jump to the rule with that preference.
    pub goto: Option<u32>,
    pub l3mdev: bool,
    /// `ip_proto` as a number.
    pub ip_proto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub uidrange: Option<(u32, u32)>,
    pub suppress_prefixlength: Option<u32>,
    /// `blackhole`, `unreachable`, `prohibit` instead of a table lookup.
    pub action: Option<RouteKind>,
    pub no_track: bool,
    /// `track_group G` (static rules only).
    pub track_group: Option<String>,
    pub span: Span,
}

/// A VRRP virtual MAC interface: a macvlan in private mode on `base` with the virtual
/// router's MAC (keepalived's `use_vmac`, on the instance or on one address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vmac {
    /// `vrrp.<VRID>` unless named (keepalived's `create_vmac_name`).
    pub name: String,
    /// The interface it sits on.
    pub base: String,
    /// 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID) unless given.
    pub mac: [u8; 6],
    /// The family of the addresses it carries: IPv6 gets a link-local address and no
    /// automatic one.
    #[serde(serialize_with = "as_display")]
    pub family: Family,
}

impl Vmac {
    /// RFC 5798 §7.3's virtual router MAC of `vrid` for `family`.
    pub fn default_mac(vrid: u8, family: Family) -> [u8; 6] {
        let kind = match family {
            Family::Ipv4 => 1,
            Family::Ipv6 => 2,
        };
        [0x00, 0x00, 0x5e, 0x00, kind, vrid]
    }
}

/// `vrrp_instance NAME { … }` with keepalived's defaults and the global settings already
/// folded in, so consumers never look at `global_defs` for an instance's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstance {
    pub name: Arc<str>,
    pub span: Span,
    pub state: InitialState,
    pub interface: Option<String>,
    pub vrid: u8,
    /// 1..=255; 255 is the address owner.
    pub priority: u8,
    #[serde(serialize_with = "as_secs")]
    pub advert_int: Duration,
    #[serde(serialize_with = "as_display")]
    pub version: Version,
    #[serde(serialize_with = "as_display")]
    pub family: Family,
    /// Boxed like `auth_hmac`: most instances set neither, and a daemon may run tens of
    /// thousands of instances.
    pub auth: Option<Box<Authentication>>,
    /// `auth_hmac`; when set, `auth` is `None` (keepalived drops the legacy block).
    pub auth_hmac: Option<Box<AuthHmac>>,
    pub nopreempt: bool,
    #[serde(serialize_with = "as_secs")]
    pub preempt_delay: Duration,
    /// `unicast_src_ip` / `mcast_src_ip`.
    pub src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeer>,
    pub unicast_ttl: Option<u8>,
    pub unicast_fault_no_peer: bool,
    pub check_unicast_src: bool,
    /// `mcast_dst_ip`, else the global group of the family.
    pub mcast_group: IpAddr,
    pub track_src_ip: bool,
    pub dont_track_primary: bool,
    /// Shared by the instances that track the same (usually none), as loaded.
    pub tracking: Arc<Tracking>,
    pub vips: Vec<VirtualAddress>,
    pub excluded_vips: Vec<VirtualAddress>,
    pub no_virtual_ipaddress: bool,
    pub virtual_routes: Vec<VirtualRoute>,
    pub virtual_rules: Vec<VirtualRule>,
    pub accept: bool,
    pub promote_secondaries: bool,
    pub strict: bool,
    pub use_vmac: bool,
    /// `use_vmac NAME`; `None` means `<vmac_prefix>.<VRID>` (keepalived's `vrrp.<VRID>`).
    pub vmac_name: Option<String>,
    /// `use_vmac … MAC`; `None` means 00:00:5e:00:01:VRID (IPv6: …:02:VRID).
    pub vmac_mac: Option<[u8; 6]>,
    /// `vmac_xmit_base`: adverts on the base interface instead of the VMAC.
    pub vmac_xmit_base: bool,
    /// The VMACs this instance needs: its own first (`use_vmac`), then those of addresses
    /// marked `use_vmac`. Addresses that go on a VMAC have it as their `dev`.
    pub vmacs: Vec<Vmac>,
    /// Shared by the instances with the same settings (usually all of them), as loaded.
    pub garp: Arc<GarpSettings>,
    pub down_timer_adverts: u8,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub owner_ignore_adverts: bool,
    pub skip_check_adv_addr: bool,
    pub v3_checksum_as_v2: bool,
    pub fast_handover: bool,
    /// Shared by the instances with the same commands (usually none), as loaded.
    pub notify: Arc<Notify>,
}

impl VrrpInstance {
    /// The address owner (priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority == 255
    }

    /// Where adverts are sent and received: the instance's VMAC (keepalived sends and
    /// receives on the macvlan), unless `vmac_xmit_base` or no VMAC.
    pub fn advert_interface(&self) -> Option<&str> {
        match (self.use_vmac, self.vmac_xmit_base, &self.vmac_name) {
            (true, false, Some(name)) => Some(name),
            _ => self.interface.as_deref(),
        }
    }

    /// An instance with keepalived's defaults, for building configurations in code (tests,
    /// the simulator, the demo).
    pub fn new(name: &str, vrid: u8, family: Family) -> VrrpInstance {
        let global = GlobalDefs::default();
        VrrpInstance {
            name: name.into(),
            span: Span::default(),
            state: InitialState::Backup,
            interface: None,
            vrid,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: match family {
                Family::Ipv4 => Version::V2,
                Family::Ipv6 => Version::V3,
            },
            family,
            auth: None,
            auth_hmac: None,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            src_ip: None,
            unicast_peers: Vec::new(),
            unicast_ttl: None,
            unicast_fault_no_peer: false,
            check_unicast_src: false,
            mcast_group: match family {
                Family::Ipv4 => IpAddr::V4(global.mcast_group4),
                Family::Ipv6 => IpAddr::V6(global.mcast_group6),
            },
            track_src_ip: false,
            dont_track_primary: false,
            tracking: Arc::default(),
            vips: Vec::new(),
            excluded_vips: Vec::new(),
            no_virtual_ipaddress: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            accept: true,
            promote_secondaries: false,
            strict: false,
            use_vmac: false,
            vmac_name: None,
            vmac_mac: None,
            vmac_xmit_base: false,
            vmacs: Vec::new(),
            garp: Arc::new(global.garp),
            down_timer_adverts: global.down_timer_adverts,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            owner_ignore_adverts: false,
            skip_check_adv_addr: false,
            v3_checksum_as_v2: false,
            fast_handover: true,
            notify: Arc::new(Notify {
                priority_changes: Some(global.notify_priority_changes),
                ..Notify::default()
            }),
        }
    }
}

impl VirtualAddress {
    /// A plain address with default options (/32 or /128, global scope, NODAD for IPv6).
    pub fn new(addr: IpAddr) -> VirtualAddress {
        VirtualAddress {
            addr,
            prefix_len: match addr {
                IpAddr::V4(_) => 32,
                IpAddr::V6(_) => 128,
            },
            brd: None,
            dev: None,
            scope: Scope::Global,
            label: None,
            peer: None,
            nodad: true,
            home: false,
            noprefixroute: false,
            mngtmpaddr: false,
            autojoin: false,
            no_track: false,
            preferred_forever: false,
            use_vmac: false,
            track_group: None,
            span: Span::default(),
        }
    }
}

impl VirtualRoute {
    /// A plain unicast route to `dst/dst_len` in the main table, as `virtual_routes` writes
    /// `DST/LEN` alone.
    pub fn new(dst: IpAddr, dst_len: u8) -> VirtualRoute {
        VirtualRoute {
            dst,
            dst_len,
            src: None,
            via: None,
            dev: None,
            scope: None,
            table: None,
            metric: None,
            kind: RouteKind::Unicast,
            onlink: false,
            no_track: false,
            nexthops: Vec::new(),
            protocol: None,
            tos: None,
            mtu: None,
            append: false,
            track_group: None,
            span: Span::default(),
        }
    }
}

impl VirtualRule {
    /// A rule of `family` that looks up `table`.
    pub fn new(family: Family, table: u32) -> VirtualRule {
        VirtualRule {
            family,
            from: None,
            to: None,
            table: Some(table),
            iif: None,
            oif: None,
            fwmark: None,
            tos: None,
            preference: None,
            goto: None,
            l3mdev: false,
            ip_proto: None,
            sport: None,
            dport: None,
            uidrange: None,
            suppress_prefixlength: None,
            action: None,
            no_track: false,
            track_group: None,
            span: Span::default(),
        }
    }
}
