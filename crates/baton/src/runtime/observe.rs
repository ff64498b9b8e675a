//! The loop's side of the operator views ([`crate::north::observe`]): it answers a snapshot
//! request, writes a dump on a signal, and records each state change for the history. All
//! of it runs when asked or when a state changes, never per advert.

use baton_vrrp::{InstanceId, State};

use super::Daemon;
use crate::north::dump::Dump;
use crate::north::history::History;
use crate::north::observe::Request;
use crate::north::snapshot::{InstanceView, LvsSnapshot, Snapshot};

/// What the loop keeps for the views.
#[derive(Debug)]
pub struct Views {
    pub history: History,
    /// The wall clock at the core's time zero.
    pub started_wall: std::time::SystemTime,
    /// `vrrp_script`s with a run in progress.
    pub scripts_running: Vec<std::sync::Arc<str>>,
}

impl Views {
    /// Views of a daemon that starts with `instances` instances.
    pub fn new(instances: usize) -> Views {
        Views {
            history: History::with_instances(instances),
            started_wall: std::time::SystemTime::now(),
            scripts_running: Vec::new(),
        }
    }
}

impl Views {
    pub fn script_started(&mut self, name: &std::sync::Arc<str>) {
        if !self.scripts_running.contains(name) {
            self.scripts_running.push(name.clone());
        }
    }

    pub fn script_ended(&mut self, name: &str) {
        self.scripts_running.retain(|n| &**n != name);
    }
}

impl Daemon {
    /// One look at everything, for the views.
    pub fn snapshot(&self) -> Snapshot {
        let node = self.node.status();
        let sockets = self.sockets.status();
        let instances = InstanceView::all(&self.config, &self.views.history, &node, &sockets);
        Snapshot {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION"),
            config: self.info.config().to_path_buf(),
            uptime: self.info.uptime(),
            started_wall: self.views.started_wall,
            now: self.clock.now(),
            reloads: self.info.reloads,
            reloads_refused: self.info.reloads_refused,
            node,
            sockets,
            instances,
            scripts_running: self
                .views
                .scripts_running
                .iter()
                .map(|n| n.to_string())
                .collect(),
            lvs: self.lvs_snapshot(),
        }
    }

    /// The virtual servers for the views; nothing to gather without any.
    fn lvs_snapshot(&self) -> LvsSnapshot {
        let dataplane = self.lvs.dataplane_status();
        if self.config.lvs.virtual_servers.is_empty() && dataplane.is_none() {
            return LvsSnapshot::default();
        }
        LvsSnapshot {
            virtual_servers: super::lvs_status::virtual_servers(&self.lvs, dataplane.as_ref()),
            dataplane,
            verdicts: self.lvs.counters.verdicts,
        }
    }

    /// Answer one request of the views.
    pub(super) fn answer(&mut self, r: Request, dump_dir: &std::path::Path) {
        match r {
            Request::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Request::Dump(what) => {
                if what == Dump::StatsClear {
                    tracing::info!(
                        "Statistics dump requested with clearing: written, counters kept (baton's counters only grow)"
                    );
                }
                let s = self.snapshot();
                let dir = dump_dir.to_path_buf();
                // The file system may be slow: the writing is not the loop's.
                tokio::task::spawn_blocking(move || {
                    match crate::north::dump::write(what, &s, &dir) {
                        Ok(p) => tracing::debug!("dump written to {}", p.display()),
                        Err(e) => tracing::warn!("Can't write dump file: {e}"),
                    }
                });
            }
        }
    }

    /// A state change the core reported: into the history.
    pub(super) fn record_change(&mut self, id: InstanceId, from: State, to: State) {
        let Some(i) = self.node.instance(id) else {
            return;
        };
        // The core's record of this change (the last one it made for the instance).
        let (at, cause) = match i.last_transition() {
            Some(t) if t.from == from && t.to == to => (t.at, t.reason.clone()),
            _ => (self.clock.now(), "".into()),
        };
        self.views
            .history
            .record(id.0 as usize, at, from, to, cause, i.master_heard_at());
    }
}
