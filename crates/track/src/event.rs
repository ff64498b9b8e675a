//! What the trackers report to the daemon: raw observations, named after the configured
//! tracker. The protocol core turns them into rise/fall, weights and effective priority.

use std::sync::Arc;

pub use crate::child::ScriptOutcome;

/// The kind of a tracker, for [`TrackEvent::Disabled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackerKind {
    /// `vrrp_script`
    Script,
    /// `vrrp_track_process`
    Process,
    /// `track_file`
    File,
}

impl std::fmt::Display for TrackerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrackerKind::Script => "vrrp_script",
            TrackerKind::Process => "vrrp_track_process",
            TrackerKind::File => "track_file",
        })
    }
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackEvent {
    /// A `vrrp_script` run began (for keepalived's script state, idle or running). Sent
    /// only when the channel has room: it informs, and must never hold a run back.
    ScriptStarted { name: Arc<str> },
    /// A `vrrp_script` run ended (one event per run).
    ScriptResult {
        name: Arc<str>,
        outcome: ScriptOutcome,
    },
    /// The number of running processes matching a `vrrp_track_process` changed (and once
    /// at start). Already held back by `fork_delay` / `terminate_delay` where they apply.
    ProcessCount { name: Arc<str>, count: u32 },
    /// The value of a `track_file` changed (and once at start), read as keepalived reads
    /// it: the leading integer, 0 for a missing or unreadable file or one holding no number,
    /// clamped to -254..=254.
    FileValue { name: Arc<str>, value: i64 },
    /// A tracker that will never report: its script is missing, not executable or insecure,
    /// its file's directory does not exist, /proc cannot be used. keepalived removes such a
    /// tracker from the instances that follow it. Sent once, at start.
    Disabled {
        kind: TrackerKind,
        name: Arc<str>,
        reason: String,
    },
}

impl TrackEvent {
    /// The configured name of the tracker this event is about.
    pub fn name(&self) -> &str {
        match self {
            TrackEvent::ScriptResult { name, .. }
            | TrackEvent::ScriptStarted { name }
            | TrackEvent::ProcessCount { name, .. }
            | TrackEvent::FileValue { name, .. }
            | TrackEvent::Disabled { name, .. } => name,
        }
    }
}
