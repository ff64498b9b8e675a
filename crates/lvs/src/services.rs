//! The core: keepalived's ipwrapper.c as a state machine. Checker verdicts move real
//! servers up and down, weights change, quorum is gained and lost with hysteresis, the
//! sorry server stands in, and the desired table follows from the state alone.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use baton_conf::{
    CheckKind, CheckerId, Config, FlushOnStop, Lvs, RealServerId, VirtualServer, VirtualServerId,
};

use crate::action::{Action, Level, LogLine};
use crate::input::{Input, Verdict};
use crate::state::{VirtualServerState, file_status, real_weight};
use crate::table::{Destination, Role, Service, Table};
use crate::time::Instant;

/// Where the core is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Configured, not started: nothing in the table.
    Idle,
    Running,
    /// Shut down: nothing in the table, inputs ignored.
    Stopped,
}

/// How long keepalived lets a notify script run while stopping.
pub(crate) const STOPPING_SCRIPT_TIMEOUT: Duration = Duration::from_secs(1);

/// The virtual services of one configuration and their state.
#[derive(Debug, Clone)]
pub struct Services {
    pub(crate) lvs: Lvs,
    /// VIPs (and excluded VIPs) of each VRRP instance, for `ha_suspend`.
    pub(crate) vips: HashMap<String, Vec<IpAddr>>,
    pub(crate) masters: BTreeSet<String>,
    pub(crate) local: BTreeSet<IpAddr>,
    pub(crate) state: Vec<VirtualServerState>,
    /// The last value read from each track_file by a FILE_CHECK.
    pub(crate) files: HashMap<String, i64>,
    pub(crate) phase: Phase,
    /// The table as last handed out in `Action::Apply`.
    pub(crate) applied: Table,
    /// Actions of the current `handle` other than the table change.
    pub(crate) pending: Vec<Action>,
}

/// Each instance's addresses, for `ha_suspend`: nothing when no virtual server asks for it,
/// which is most daemons, some with tens of thousands of instances. A pure function of the
/// configuration, made again on every reload.
pub(crate) fn vips_of(config: &Config) -> HashMap<String, Vec<IpAddr>> {
    if !config.lvs.virtual_servers.iter().any(|vs| vs.ha_suspend) {
        return HashMap::new();
    }
    config
        .instances
        .iter()
        .map(|i| {
            (
                i.name.to_string(),
                i.vips
                    .iter()
                    .chain(&i.excluded_vips)
                    .map(|v| v.addr)
                    .collect(),
            )
        })
        .collect()
}

impl Services {
    /// The services of `config`, not started.
    pub fn new(config: &Config) -> Services {
        let lvs = config.lvs.clone();
        let state = lvs
            .virtual_servers
            .iter()
            .map(|vs| VirtualServerState::initial(vs, |_| 0))
            .collect();
        Services {
            lvs,
            vips: vips_of(config),
            masters: BTreeSet::new(),
            local: BTreeSet::new(),
            state,
            files: HashMap::new(),
            phase: Phase::Idle,
            applied: Table::default(),
            pending: Vec::new(),
        }
    }

    /// The configuration the core runs.
    pub fn config(&self) -> &Lvs {
        &self.lvs
    }

    /// The table as last handed out: what the data plane holds once every
    /// `Action::Apply` has been applied.
    pub fn table(&self) -> &Table {
        &self.applied
    }

    /// The state of a virtual server.
    pub fn state(&self, vs: VirtualServerId) -> Option<&VirtualServerState> {
        self.state.get(vs.0 as usize)
    }

    /// Whether the checkers of `vs` should run (`ha_suspend` pauses them).
    pub fn checkers_enabled(&self, vs: VirtualServerId) -> bool {
        self.state(vs).is_some_and(|s| !s.suspended)
    }

    /// The core has no timers of its own: every decision of keepalived's virtual-server
    /// half follows an event (the checkers own delay_loop, retries and warmup). The
    /// runtime drives it like the other cores all the same.
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }

    /// Process one input; what to do is appended to `out`, the table change first (so
    /// notify scripts see the new table). `now` is taken as every core takes it; no
    /// decision of this one depends on it today.
    pub fn handle(&mut self, now: Instant, input: Input<'_>, out: &mut Vec<Action>) {
        let _ = now;
        match input {
            Input::Start => self.start(),
            Input::Verdict {
                checker,
                verdict,
                reason,
            } => self.verdict(checker, verdict, reason),
            Input::Reload(config) => self.reload(config),
            Input::VrrpState { instance, master } => {
                let changed = if master {
                    self.masters.insert(instance.to_string())
                } else {
                    self.masters.remove(instance)
                };
                if changed {
                    self.refresh_suspension();
                }
            }
            Input::LocalAddress { address, present } => {
                let changed = if present {
                    self.local.insert(address)
                } else {
                    self.local.remove(&address)
                };
                if changed {
                    self.refresh_suspension();
                }
            }
            Input::Shutdown => self.shutdown(),
        }
        self.finish(out);
    }

    /// Hand out the table change and the actions gathered.
    fn finish(&mut self, out: &mut Vec<Action>) {
        let desired = self.desired();
        let changes = self.applied.diff(&desired);
        if !changes.is_empty() {
            out.push(Action::Apply(changes));
            self.applied = desired;
        }
        out.append(&mut self.pending);
    }

    pub(crate) fn log(&mut self, text: String) {
        self.pending.push(Action::Log(LogLine {
            level: Level::Info,
            text,
        }));
    }

    pub(crate) fn warn(&mut self, text: String) {
        self.pending.push(Action::Log(LogLine {
            level: Level::Warning,
            text,
        }));
    }

    pub(crate) fn vs(&self, i: usize) -> &VirtualServer {
        &self.lvs.virtual_servers[i]
    }

    /// keepalived's name of real server `r` of virtual server `v`.
    pub(crate) fn rs_name(&self, v: usize, r: usize) -> String {
        let vs = self.vs(v);
        vs.service_name(&vs.real_servers[r].address)
    }

    // ---- the table -------------------------------------------------------------------

    /// The table the state asks for. A real server is in it while alive, with its
    /// weight; a failed one only with `inhibit_on_failure`, at weight 0. While the sorry
    /// server stands in (quorum lost), only inhibited real servers stay, at weight 0.
    pub fn desired(&self) -> Table {
        let mut t = Table::default();
        if self.phase != Phase::Running {
            return t;
        }
        for (v, vs) in self.lvs.virtual_servers.iter().enumerate() {
            let st = &self.state[v];
            let mut svc = Service::of(vs, &self.lvs);
            let sorry_in_use = vs.sorry_server.is_some() && st.sorry_alive;
            for (r, rs) in vs.real_servers.iter().enumerate() {
                let rst = &st.real_servers[r];
                let weight = if sorry_in_use || !rst.alive {
                    rs.inhibit_on_failure.then_some(0)
                } else {
                    Some(real_weight(rst.effective_weight))
                };
                if let Some(weight) = weight {
                    svc.destinations.push(Destination {
                        address: rs.address,
                        weight,
                        forwarding: rs.forwarding,
                        role: Role::Real(RealServerId {
                            vs: vs.id,
                            index: r as u32,
                        }),
                    });
                }
            }
            if let Some(s) = &vs.sorry_server {
                let weight = if sorry_in_use {
                    Some(1)
                } else {
                    s.inhibit.then_some(0)
                };
                if let Some(weight) = weight {
                    // A sorry server that is also a real server shares its entry: in use
                    // it takes the traffic, otherwise the real server's state decides.
                    let existing = svc.destinations.iter().position(|d| d.address == s.address);
                    match existing {
                        Some(i) if sorry_in_use => {
                            svc.destinations[i].weight = svc.destinations[i].weight.max(weight);
                            svc.destinations[i].role = Role::Sorry;
                        }
                        Some(_) => {}
                        None => svc.destinations.push(Destination {
                            address: s.address,
                            weight,
                            forwarding: s.forwarding,
                            role: Role::Sorry,
                        }),
                    }
                }
            }
            svc.destinations.sort_by_key(|d| d.address);
            t.services.insert(svc.key.clone(), svc);
        }
        t
    }

    // ---- start -----------------------------------------------------------------------

    fn start(&mut self) {
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::Running;
        for v in 0..self.state.len() {
            self.init_virtual_server(v, true);
        }
        self.refresh_suspension_quiet();
        for v in 0..self.state.len() {
            let enabled = !self.state[v].suspended;
            for r in 0..self.vs(v).real_servers.len() {
                for c in 0..self.vs(v).real_servers[r].checkers.len() {
                    if matches!(
                        self.vs(v).real_servers[r].checkers[c].kind,
                        CheckKind::File(_)
                    ) {
                        continue;
                    }
                    let line = format!(
                        "{}ctivating healthchecker for service {} for VS {}",
                        if enabled { "A" } else { "Dea" },
                        self.rs_name(v, r),
                        self.vs(v)
                    );
                    self.log(line);
                }
            }
            if !enabled {
                let id = self.vs(v).id;
                self.pending
                    .push(Action::CheckersEnabled { vs: id, enabled });
            }
        }
    }

    /// A virtual server coming into the table, at start (`fresh`: its state is new) or
    /// reload: real servers without failed checkers go up (check_data.c and ipwrapper.c
    /// `init_service_rs`), quorum is decided without a notify, then the start-up case of
    /// `update_quorum_state` (the sorry server goes in if quorum is down).
    pub(crate) fn init_virtual_server(&mut self, v: usize, fresh: bool) {
        if fresh {
            let files = &self.files;
            self.state[v] = VirtualServerState::initial(&self.lvs.virtual_servers[v], |f| {
                files.get(f).copied().unwrap_or(0)
            });
        }
        let init_notifies = self.lvs.global.rs_init_notifies;
        for r in 0..self.state[v].real_servers.len() {
            let rst = &mut self.state[v].real_servers[r];
            if rst.failed_checkers() == 0 && !rst.alive {
                rst.alive = true;
                if init_notifies {
                    self.rs_notifies(v, r, false);
                }
            }
        }
        if fresh {
            let vs = self.vs(v);
            let up = self.state[v].live_weight() >= u64::from(vs.quorum) + u64::from(vs.hysteresis);
            self.state[v].quorum_up = up;
        }
        self.update_quorum(v, true);
    }

    // ---- verdicts --------------------------------------------------------------------

    fn verdict(&mut self, id: CheckerId, verdict: Verdict, reason: Option<&str>) {
        let (v, r, c) = (id.rs.vs.0 as usize, id.rs.index as usize, id.index as usize);
        let Some(check) = self
            .lvs
            .virtual_servers
            .get(v)
            .and_then(|vs| vs.real_servers.get(r))
            .and_then(|rs| rs.checkers.get(c))
            .cloned()
        else {
            self.warn(format!("verdict for unknown checker {id} ignored"));
            return;
        };
        if let (CheckKind::File(f), Verdict::FileValue(value)) = (&check.kind, verdict) {
            self.files.insert(f.track_file.clone(), value);
        }
        if self.phase != Phase::Running {
            return;
        }
        match (&check.kind, verdict) {
            (CheckKind::File(f), Verdict::FileValue(value)) => {
                let new = file_status(f, value);
                self.file_verdict(v, r, c, new);
            }
            (CheckKind::File(_), _) | (_, Verdict::FileValue(_)) => {
                let line = format!(
                    "verdict {verdict:?} does not fit the {} of service {} for VS {}; ignored",
                    check.kind.keyword(),
                    self.rs_name(v, r),
                    self.vs(v)
                );
                self.warn(line);
            }
            (CheckKind::Misc(m), Verdict::Up | Verdict::Weight(_)) if m.dynamic => {
                let status = match verdict {
                    Verdict::Weight(w) => w.saturating_add(2),
                    _ => 0,
                };
                self.misc_dynamic_up(v, r, c, status);
                self.checker_state(v, r, c, true, reason);
            }
            (CheckKind::Misc(m), Verdict::Down) if m.dynamic => {
                // check_misc.c: a failed dynamic script gives its weight back.
                let cur = self.state[v].real_servers[r].checkers[c].cur_weight;
                let rst = &mut self.state[v].real_servers[r];
                rst.effective_weight -= cur;
                rst.checkers[c].cur_weight = 0;
                rst.checkers[c].last_status = None;
                self.checker_state(v, r, c, false, reason);
            }
            (_, Verdict::Up | Verdict::Weight(_)) => self.checker_state(v, r, c, true, reason),
            (_, Verdict::Down) => self.checker_state(v, r, c, false, reason),
        }
    }

    /// check_misc.c: exit status 0 or 2..=255 of a misc_dynamic script sets the weight
    /// to status - 2 (0: the configured weight).
    fn misc_dynamic_up(&mut self, v: usize, r: usize, c: usize, status: u32) {
        let iweight = i64::from(self.vs(v).real_servers[r].weight);
        let cs = &self.state[v].real_servers[r].checkers[c];
        if cs.last_status == Some(status) {
            return;
        }
        let old_cur = cs.cur_weight;
        let new_cur = if status == 0 {
            0
        } else {
            i64::from(status) - 2 - iweight
        };
        let eff = self.state[v].real_servers[r].effective_weight - old_cur + new_cur;
        let cs = &mut self.state[v].real_servers[r].checkers[c];
        cs.cur_weight = new_cur;
        cs.last_status = Some(status);
        self.update_weight(v, r, eff, true);
    }

    /// track_file.c `process_update_checker_track_file_status`.
    fn file_verdict(&mut self, v: usize, r: usize, c: usize, new: Option<i64>) {
        let cs = &self.state[v].real_servers[r].checkers[c];
        let previous = if cs.is_up { Some(cs.cur_weight) } else { None };
        if previous == new && cs.has_run {
            return;
        }
        match (previous, new) {
            (_, None) => {
                self.checker_state(v, r, c, false, Some("tracked file now in FAULT state"));
                let rst = &mut self.state[v].real_servers[r];
                rst.effective_weight -= rst.checkers[c].cur_weight;
                rst.checkers[c].cur_weight = 0;
            }
            (None, Some(w)) => {
                let rst = &mut self.state[v].real_servers[r];
                rst.checkers[c].cur_weight = w;
                rst.effective_weight += w;
                self.checker_state(v, r, c, true, Some("tracked file left FAULT state"));
            }
            (Some(old), Some(w)) => {
                let eff = self.state[v].real_servers[r].effective_weight + w - old;
                self.update_weight(v, r, eff, true);
                self.state[v].real_servers[r].checkers[c].cur_weight = w;
                self.state[v].real_servers[r].checkers[c].has_run = true;
            }
        }
    }

    /// ipwrapper.c `update_svr_checker_state`: a checker's new state; the real server
    /// goes up when its last failed checker recovers and down when its first fails.
    fn checker_state(&mut self, v: usize, r: usize, c: usize, alive: bool, reason: Option<&str>) {
        let cs = &self.state[v].real_servers[r].checkers[c];
        if cs.is_up == alive {
            if !cs.has_run {
                let alpha = self.vs(v).real_servers[r].checkers[c].alpha;
                self.state[v].real_servers[r].checkers[c].has_run = true;
                if alpha || !alive {
                    self.rs_notifies(v, r, false);
                }
            }
            return;
        }
        self.state[v].real_servers[r].checkers[c].has_run = true;
        if let Some(reason) = reason {
            let line = format!(
                "{} {} for service {} of VS {}: {reason}",
                self.vs(v).real_servers[r].checkers[c].kind.keyword(),
                if alive { "succeeded" } else { "failed" },
                self.rs_name(v, r),
                self.vs(v)
            );
            self.log(line);
        }
        let failed = self.state[v].real_servers[r].failed_checkers();
        if alive && failed <= 1 {
            self.real_server_state(v, r, true);
        } else if !alive && failed == 0 {
            self.real_server_state(v, r, false);
        }
        self.state[v].real_servers[r].checkers[c].is_up = alive;
    }

    /// ipwrapper.c `perform_svr_state`.
    pub(crate) fn real_server_state(&mut self, v: usize, r: usize, alive: bool) {
        if self.state[v].real_servers[r].alive == alive {
            return;
        }
        let inhibit = self.vs(v).real_servers[r].inhibit_on_failure;
        let line = format!(
            "{}ing service {} {} VS {}",
            match (alive, inhibit) {
                (true, true) => "Enabl",
                (true, false) => "Add",
                (false, true) => "Disabl",
                (false, false) => "Remov",
            },
            self.rs_name(v, r),
            if inhibit {
                "of"
            } else if alive {
                "to"
            } else {
                "from"
            },
            self.vs(v)
        );
        self.log(line);
        self.state[v].real_servers[r].alive = alive;
        self.rs_notifies(v, r, false);
        self.update_quorum(v, false);
    }

    /// ipwrapper.c `update_svr_wgt`.
    pub(crate) fn update_weight(&mut self, v: usize, r: usize, weight: i64, update_quorum: bool) {
        let rst = &self.state[v].real_servers[r];
        let (old, new) = (real_weight(rst.effective_weight), real_weight(weight));
        let alive = rst.alive;
        self.state[v].real_servers[r].effective_weight = weight;
        if old != new {
            let line = format!(
                "Changing weight from {old} to {new} for {}active service {} of VS {}",
                if alive { "" } else { "in" },
                self.rs_name(v, r),
                self.vs(v)
            );
            self.log(line);
            if update_quorum {
                self.update_quorum(v, false);
            }
        }
    }

    // ---- shutdown --------------------------------------------------------------------

    /// ipwrapper.c `clear_services`: every service leaves the table; with `omega` the
    /// real servers that were in it run notify_down and the services quorum_down.
    fn shutdown(&mut self) {
        if self.phase != Phase::Running {
            self.phase = Phase::Stopped;
            return;
        }
        let in_table = self.desired();
        let flush = self.lvs.global.flush_on_stop;
        for v in 0..self.state.len() {
            if flush == FlushOnStop::No {
                let key = self.vs(v).key();
                for r in 0..self.vs(v).real_servers.len() {
                    let rs = &self.vs(v).real_servers[r];
                    let set = in_table
                        .service(&key)
                        .and_then(|s| s.destination(&rs.address))
                        .is_some_and(|d| matches!(d.role, Role::Real(_)));
                    let alive = self.state[v].real_servers[r].alive;
                    let line = format!(
                        "Shutting down {}service {} from VS {}",
                        if rs.inhibit_on_failure && !alive {
                            "(inhibited) "
                        } else {
                            ""
                        },
                        self.rs_name(v, r),
                        self.vs(v)
                    );
                    self.log(line);
                    if !set || !alive {
                        continue;
                    }
                    self.state[v].real_servers[r].alive = false;
                    if self.vs(v).omega {
                        self.rs_notifies(v, r, true);
                    }
                }
            }
            self.quorum_after_removal(v, true);
        }
        self.phase = Phase::Stopped;
    }
}
