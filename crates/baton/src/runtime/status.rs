//! What `baton status` gets: the daemon's own facts and counters, and the protocol core's
//! snapshot of every instance, group and tracker (`baton_vrrp::NodeStatus`, flattened in).

use std::path::PathBuf;
use std::time::Instant;

use baton_conf::Config;
use baton_vrrp::{NodeStatus, State};
use serde::Serialize;

use super::Daemon;
use crate::north::peer_log::LeftOut;
use crate::south::announce::AnnounceStats;
use crate::south::sockets::EndpointStatus;

/// Facts about the daemon that are not the core's.
#[derive(Debug)]
pub struct Info {
    config: PathBuf,
    started: Instant,
    /// `router_id`: which machine this is, in keepalived's words.
    router_id: Option<String>,
    pub reloads: u32,
    pub reloads_refused: u32,
    /// A reload is reading the configuration, since when.
    pub reloading_since: Option<Instant>,
}

impl Info {
    pub fn new(config: PathBuf, c: &Config) -> Info {
        Info {
            config,
            started: Instant::now(),
            router_id: c.global.router_id.clone(),
            reloads: 0,
            reloads_refused: 0,
            reloading_since: None,
        }
    }

    pub fn config(&self) -> &std::path::Path {
        &self.config
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub fn reloaded(&mut self, c: &Config) {
        self.reloads += 1;
        self.router_id = c.global.router_id.clone();
    }
}

#[derive(Debug, Serialize)]
struct DaemonView<'a> {
    pid: u32,
    version: &'static str,
    /// The kernel's name for the process (what `killall` and `pidof` match).
    process_name: String,
    config: &'a PathBuf,
    router_id: Option<&'a str>,
    uptime_ms: u64,
    /// Read from the configuration when asked rather than copied (a name per instance).
    #[serde(serialize_with = "instance_names")]
    configured_instances: &'a [baton_conf::VrrpInstance],
    reloads: u32,
    reloads_refused: u32,
    /// How long the configuration has been being read for a reload, if it is.
    reloading_ms: Option<u64>,
    /// Each VRRP socket: traffic, and datagrams that never became an advert.
    sockets: Vec<EndpointStatus>,
    announcements: &'a AnnounceStats,
    /// Log lines about peers left out by the limit, per kind.
    peer_log_left_out: &'a LeftOut,
}

fn instance_names<S: serde::Serializer>(
    instances: &&[baton_conf::VrrpInstance],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(instances.iter().map(|i| &i.name))
}

#[derive(Debug, Serialize)]
struct StatusView<'a> {
    daemon: DaemonView<'a>,
    #[serde(flatten)]
    node: NodeStatus,
    /// keepalived's virtual servers, their real servers and checkers.
    virtual_servers: Vec<super::lvs_status::VirtualServerView>,
    /// The LVS half's own facts: counters, the data plane, the connection sync.
    lvs: super::lvs_status::LvsView,
}

impl Daemon {
    /// The answer to a status request, encoded once, straight from the live state: with
    /// thousands of instances an intermediate `serde_json::Value` cost the loop several times
    /// the time and memory of the text itself.
    pub fn status_json(&self) -> Box<serde_json::value::RawValue> {
        let dataplane = self.lvs.dataplane_status();
        let view = StatusView {
            daemon: DaemonView {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION"),
                process_name: crate::north::process_name::current(),
                config: &self.info.config,
                router_id: self.info.router_id.as_deref(),
                uptime_ms: self.info.started.elapsed().as_millis() as u64,
                configured_instances: &self.config.instances,
                reloads: self.info.reloads,
                reloads_refused: self.info.reloads_refused,
                reloading_ms: self
                    .info
                    .reloading_since
                    .map(|t| t.elapsed().as_millis() as u64),
                sockets: self.sockets.status(),
                announcements: &self.announce.stats,
                peer_log_left_out: &self.peer_log.left_out,
            },
            node: self.node.status(),
            virtual_servers: super::lvs_status::virtual_servers(&self.lvs, dataplane.as_ref()),
            lvs: super::lvs_status::LvsView {
                counters: self.lvs.counters.clone(),
                dataplane,
                sync_daemon: self.sync.as_ref().map(|s| s.status()),
            },
        };
        serde_json::value::to_raw_value(&view).unwrap_or_else(|e| {
            let error = serde_json::json!({ "error": format!("cannot encode the status: {e}") });
            serde_json::value::to_raw_value(&error).unwrap_or_default()
        })
    }

    /// One line for systemd's STATUS=: how many instances are in which state.
    pub fn summary(&self) -> String {
        let mut counts = [0usize; 4];
        for i in self.node.instances() {
            let k = match i.state() {
                State::Master => 0,
                State::Backup => 1,
                State::Fault => 2,
                State::Initialize | State::Stopped => 3,
            };
            counts[k] += 1;
        }
        let n = self.node.instances().len();
        let mut parts = Vec::new();
        for (c, word) in counts.iter().zip(["MASTER", "BACKUP", "FAULT", "other"]) {
            if *c > 0 {
                parts.push(format!("{c} {word}"));
            }
        }
        if parts.is_empty() {
            format!("{n} VRRP instance(s)")
        } else {
            format!("{n} VRRP instance(s): {}", parts.join(", "))
        }
    }
}
