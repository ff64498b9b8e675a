//! What `baton status` shows of the LVS half: every virtual server with its state (the
//! core's), its scheduler and method (the configuration's), whether the data plane took it,
//! and every real server with its weight, its checkers' state and counters.

use std::collections::HashMap;
use std::time::Instant;

use baton_check::{CheckState, CheckerStatus, WeightEffect};
use baton_conf::{CheckerId, Forwarding, VirtualServer};
use serde::Serialize;

use super::lvs::{LvsCounters, LvsHalf, Transitions};
use crate::south::conntrackd::SyncStatus;
use crate::south::lvs::DataplaneStatus;

#[derive(Debug, Serialize)]
pub struct CheckView {
    pub keyword: &'static str,
    /// What is probed: `[10.0.0.21]:8080`, a script, a file.
    pub target: String,
    /// `up`, `down`, `removed`, or `unknown` before the first verdict.
    pub state: &'static str,
    /// What a healthy checker does to the weight: `set 5`, `+10`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,
    pub reason: Option<String>,
    /// How long ago the state was given.
    pub since_ms: Option<u64>,
    pub probes: u64,
    pub failures: u64,
    pub last_probe: Option<LastProbe>,
}

#[derive(Debug, Serialize)]
pub struct LastProbe {
    pub ok: bool,
    pub ago_ms: u64,
    pub took_ms: f64,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct RealServerView {
    pub name: String,
    pub address: String,
    pub alive: bool,
    /// The weight in the table while alive.
    pub weight: u32,
    pub configured_weight: u32,
    pub effective_weight: i64,
    pub forwarding: &'static str,
    pub failed_checkers: usize,
    pub went_down: u64,
    pub came_up: u64,
    /// How long ago it last went down or came back.
    pub since_change_ms: Option<u64>,
    pub checkers: Vec<CheckView>,
}

#[derive(Debug, Serialize)]
pub struct VirtualServerView {
    pub name: String,
    pub protocol: Option<&'static str>,
    pub scheduler: String,
    pub forwarding: &'static str,
    pub persistence_timeout_s: Option<u64>,
    pub quorum_up: bool,
    pub live_weight: u64,
    pub quorum: u32,
    pub hysteresis: u32,
    pub sorry_server: Option<String>,
    pub sorry_server_in_use: bool,
    pub checkers_suspended: bool,
    /// In the nftables data plane (not refused, not left out).
    pub programmed: bool,
    pub real_servers: Vec<RealServerView>,
}

#[derive(Debug, Serialize)]
pub struct LvsView {
    pub counters: LvsCounters,
    pub dataplane: Option<DataplaneStatus>,
    pub sync_daemon: Option<SyncStatus>,
}

fn state_word(s: Option<CheckState>) -> (&'static str, Option<String>) {
    match s {
        None => ("unknown", None),
        Some(CheckState::Up(WeightEffect::Configured)) => ("up", None),
        Some(CheckState::Up(WeightEffect::Set(w))) => ("up", Some(format!("set {w}"))),
        Some(CheckState::Up(WeightEffect::Offset(o))) => ("up", Some(format!("{o:+}"))),
        Some(CheckState::Down) => ("down", None),
        Some(CheckState::Removed) => ("removed", None),
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn check_view(c: &CheckerStatus, now: Instant) -> CheckView {
    let (state, weight) = state_word(c.state);
    CheckView {
        keyword: c.keyword,
        target: c.target.clone(),
        state,
        weight,
        reason: c.reason.clone(),
        since_ms: c.since.map(|t| ms(now.saturating_duration_since(t))),
        probes: c.probes,
        failures: c.failures,
        last_probe: c.last_probe.as_ref().map(|p| LastProbe {
            ok: p.ok,
            ago_ms: ms(now.saturating_duration_since(p.at)),
            took_ms: p.took.as_secs_f64() * 1000.0,
            detail: p.detail.clone(),
        }),
    }
}

fn method(f: Forwarding) -> &'static str {
    f.name()
}

/// Every virtual server as `baton status` shows it.
pub fn virtual_servers(
    half: &LvsHalf,
    dataplane: Option<&DataplaneStatus>,
) -> Vec<VirtualServerView> {
    let now = Instant::now();
    let mut checks: HashMap<CheckerId, CheckerStatus> = HashMap::new();
    if let Some(c) = &half.checkers {
        for s in c.status() {
            checks.insert(s.id, s);
        }
    }
    let refused: Vec<&str> = dataplane
        .map(|d| {
            d.refused
                .iter()
                .chain(&d.left_out)
                .map(|r| r.service.as_str())
                .collect()
        })
        .unwrap_or_default();
    let status = half.services.status();
    let config = half.services.config();
    config
        .virtual_servers
        .iter()
        .zip(status.virtual_servers)
        .map(|(vs, st)| {
            let in_table = half.services.table().services.contains_key(&vs.key());
            let programmed = in_table
                && dataplane.is_some_and(|d| d.open)
                && !refused.contains(&st.name.as_str());
            VirtualServerView {
                protocol: vs.protocol.map(|p| p.name()),
                scheduler: vs.scheduler.to_string(),
                forwarding: method(vs.forwarding),
                persistence_timeout_s: vs.persistence.as_ref().map(|p| p.timeout.as_secs()),
                quorum_up: st.quorum_up,
                live_weight: st.live_weight,
                quorum: st.quorum,
                hysteresis: st.hysteresis,
                sorry_server: vs
                    .sorry_server
                    .as_ref()
                    .map(|s| vs.service_name(&s.address)),
                sorry_server_in_use: st.sorry_server_in_use,
                checkers_suspended: st.checkers_suspended,
                programmed,
                real_servers: real_servers(vs, st.real_servers, &half.transitions, &checks, now),
                name: st.name,
            }
        })
        .collect()
}

fn real_servers(
    vs: &VirtualServer,
    states: Vec<baton_lvs::RealServerStatus>,
    transitions: &HashMap<baton_conf::RealServerId, Transitions>,
    checks: &HashMap<CheckerId, CheckerStatus>,
    now: Instant,
) -> Vec<RealServerView> {
    vs.real_servers
        .iter()
        .zip(states)
        .map(|(rs, st)| {
            let t = transitions.get(&rs.id).copied().unwrap_or_default();
            RealServerView {
                address: rs.address.to_string(),
                alive: st.alive,
                weight: st.weight,
                configured_weight: rs.weight,
                effective_weight: st.effective_weight,
                forwarding: method(rs.forwarding),
                failed_checkers: st.failed_checkers,
                went_down: t.went_down,
                came_up: t.came_up,
                since_change_ms: t
                    .last_change
                    .map(|at| ms(now.saturating_duration_since(at))),
                checkers: rs
                    .checkers
                    .iter()
                    .filter_map(|c| checks.get(&c.id))
                    .map(|c| check_view(c, now))
                    .collect(),
                name: st.name,
            }
        })
        .collect()
}
