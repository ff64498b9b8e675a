//! The node's trackers: one state per configured script, process and file, shared by every
//! instance that tracks it (each with its own weight), and the bindings that say which
//! instance follows which tracker with which weight.

use std::sync::Arc;

use baton_conf::{Config, SyncGroup, TrackRef, VrrpInstance};
use serde::Serialize;

use crate::action::{Action, Level, LogLine, LogText};
use crate::tracking::{RiseFall, ScriptState};

#[derive(Debug, Clone)]
pub(crate) struct ScriptTracker {
    pub name: Arc<str>,
    pub counter: RiseFall,
}

#[derive(Debug, Clone)]
pub(crate) struct ProcessTracker {
    pub name: Arc<str>,
    pub quorum: u32,
    pub quorum_max: Option<u32>,
    pub count: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct FileTracker {
    pub name: Arc<str>,
    pub value: i64,
}

/// What a binding points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tracked {
    Script(usize),
    Process(usize),
    File(usize),
    Interface(Arc<str>),
}

/// An instance following a tracker.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub tracked: Tracked,
    pub weight: i32,
    pub reverse: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Trackers {
    pub scripts: Vec<ScriptTracker>,
    pub processes: Vec<ProcessTracker>,
    pub files: Vec<FileTracker>,
}

/// A tracker's state for `baton status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackerStatus {
    pub kind: &'static str,
    pub name: String,
    pub state: String,
}

impl Trackers {
    pub fn new(config: &Config) -> Trackers {
        Trackers {
            scripts: config
                .scripts
                .iter()
                .map(|s| ScriptTracker {
                    name: Arc::from(s.name.as_str()),
                    counter: RiseFall::new(s.rise, s.fall, s.init_fail),
                })
                .collect(),
            processes: config
                .track_processes
                .iter()
                .map(|p| ProcessTracker {
                    name: Arc::from(p.name.as_str()),
                    quorum: p.quorum,
                    quorum_max: p.quorum_max,
                    count: 0,
                })
                .collect(),
            files: config
                .track_files
                .iter()
                .map(|f| FileTracker {
                    name: Arc::from(f.name.as_str()),
                    value: 0,
                })
                .collect(),
        }
    }

    /// Keep what the old trackers knew, for trackers that survive a reload (keepalived keeps
    /// scripts in an "init-reload" state so priorities do not flap).
    pub fn carry_over(&mut self, old: &Trackers) {
        for s in &mut self.scripts {
            if let Some(o) = old.scripts.iter().find(|o| o.name == s.name) {
                s.counter = o.counter;
            }
        }
        for p in &mut self.processes {
            if let Some(o) = old.processes.iter().find(|o| o.name == p.name) {
                p.count = o.count;
            }
        }
        for f in &mut self.files {
            if let Some(o) = old.files.iter().find(|o| o.name == f.name) {
                f.value = o.value;
            }
        }
    }

    pub fn status(&self) -> Vec<TrackerStatus> {
        let mut out = Vec::new();
        for s in &self.scripts {
            let state = match s.counter.state() {
                ScriptState::Init => "init",
                ScriptState::Ok => "ok",
                ScriptState::Ko => "failed",
            };
            out.push(TrackerStatus {
                kind: "script",
                name: s.name.to_string(),
                state: state.to_string(),
            });
        }
        for p in &self.processes {
            out.push(TrackerStatus {
                kind: "process",
                name: p.name.to_string(),
                state: format!("{} running", p.count),
            });
        }
        for f in &self.files {
            out.push(TrackerStatus {
                kind: "file",
                name: f.name.to_string(),
                state: f.value.to_string(),
            });
        }
        out
    }
}

/// Resolve an instance's trackers (and its sync group's) into bindings. In a sync group
/// without `sync_group_tracking_weight`, keepalived makes weighted interfaces unweighted and
/// drops weighted scripts, files and processes: members only fault together.
pub(crate) fn bindings(
    config: &Config,
    inst: &VrrpInstance,
    group: Option<&SyncGroup>,
    logs: &mut Vec<Action>,
) -> Vec<Binding> {
    let mut out = Vec::new();
    let weights_allowed = group.is_none_or(|g| g.tracking_weight);
    let sources = std::iter::once(&*inst.tracking).chain(group.map(|g| &g.tracking));
    for tracking in sources {
        for r in &tracking.interfaces {
            let weight = if weights_allowed {
                r.weight.unwrap_or(0)
            } else {
                0
            };
            out.push(Binding {
                tracked: Tracked::Interface(Arc::from(r.name.as_str())),
                weight,
                reverse: r.reverse && weight != 0,
            });
        }
        for r in &tracking.scripts {
            let Some(i) = config.scripts.iter().position(|s| s.name == r.name) else {
                unknown(logs, inst, "track_script", r);
                continue;
            };
            let s = &config.scripts[i];
            let (weight, reverse) = resolve(r, s.weight, s.reverse);
            if let Some(b) = member_rule(
                weights_allowed,
                Tracked::Script(i),
                weight,
                reverse,
                logs,
                inst,
                r,
            ) {
                out.push(b);
            }
        }
        for r in &tracking.processes {
            let Some(i) = config.track_processes.iter().position(|p| p.name == r.name) else {
                unknown(logs, inst, "track_process", r);
                continue;
            };
            let p = &config.track_processes[i];
            let (weight, reverse) = resolve(r, p.weight, p.reverse);
            if let Some(b) = member_rule(
                weights_allowed,
                Tracked::Process(i),
                weight,
                reverse,
                logs,
                inst,
                r,
            ) {
                out.push(b);
            }
        }
        for r in &tracking.files {
            let Some(i) = config.track_files.iter().position(|f| f.name == r.name) else {
                unknown(logs, inst, "track_file", r);
                continue;
            };
            let f = &config.track_files[i];
            let (weight, reverse) = resolve(r, f.weight, f.reverse);
            if let Some(b) = member_rule(
                weights_allowed,
                Tracked::File(i),
                weight,
                reverse,
                logs,
                inst,
                r,
            ) {
                out.push(b);
            }
        }
    }
    if inst.priority == 255 {
        // keepalived: weighted trackers on the owner are dropped; unweighted ones may still
        // fault it.
        out.retain(|b| b.weight == 0);
    }
    out
}

fn resolve(r: &TrackRef, weight: i32, reverse: bool) -> (i32, bool) {
    match r.weight {
        Some(w) => (w, r.reverse),
        None => (weight, reverse || r.reverse),
    }
}

fn member_rule(
    weights_allowed: bool,
    tracked: Tracked,
    weight: i32,
    reverse: bool,
    logs: &mut Vec<Action>,
    inst: &VrrpInstance,
    r: &TrackRef,
) -> Option<Binding> {
    if weight != 0 && !weights_allowed {
        logs.push(Action::Log(LogLine {
            level: Level::Warn,
            scope: Some(inst.name.clone()),
            text: LogText::Owned(format!(
                "{} weight ignored: sync group members track without weights unless sync_group_tracking_weight is set",
                r.name
            )),
            peer: None,
        }));
        return None;
    }
    Some(Binding {
        tracked,
        weight,
        reverse,
    })
}

fn unknown(logs: &mut Vec<Action>, inst: &VrrpInstance, what: &str, r: &TrackRef) {
    logs.push(Action::Log(LogLine {
        level: Level::Warn,
        scope: Some(inst.name.clone()),
        text: LogText::Owned(format!("{what} {} not found, ignoring", r.name)),
        peer: None,
    }));
}
