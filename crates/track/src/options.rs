//! Knobs of the runtime side of tracking that keepalived.conf does not express: where /proc
//! is, how often to look for new processes, how long a killed script gets to go away.

use std::path::PathBuf;
use std::time::Duration;

/// Host-side options. `Default` is what the daemon uses; tests shorten the timers.
#[derive(Debug, Clone)]
pub struct TrackOptions {
    /// The procfs of the PID namespace baton runs in. Processes are counted as this /proc
    /// shows them, which inside a container or a lab host is that namespace's view.
    pub proc_root: PathBuf,
    /// How often /proc is listed for new processes. Deaths do not wait for this: each
    /// tracked process has a pidfd that wakes the tracker the moment it exits.
    pub process_scan_interval: Duration,
    /// A process seen for the first time not matching is read again on every scan while it
    /// is younger than this, because a fork is usually followed by an exec that renames it.
    pub process_young_window: Duration,
    /// Every tracked and untracked process is read again this often, to notice a late exec
    /// or a `prctl(PR_SET_NAME)`.
    pub process_full_rescan: Duration,
    /// After SIGTERM to a timed-out script's process group, how long before SIGKILL
    /// (keepalived waits 2 s).
    pub kill_grace: Duration,
    /// The user scripts run as when neither `user` nor `script_user` is given, if it
    /// exists (keepalived's `keepalived_script`).
    pub default_script_user: String,
    /// Notify commands of one instance or group run one after the other; if one is still
    /// running after this long the next starts anyway (the slow one keeps running and is
    /// reaped when it ends), so one hung script cannot hold back later notifications.
    pub notify_stall_limit: Duration,
    /// Capacity of the event channel to the daemon.
    pub event_capacity: usize,
}

impl Default for TrackOptions {
    fn default() -> Self {
        TrackOptions {
            proc_root: PathBuf::from("/proc"),
            process_scan_interval: Duration::from_millis(100),
            process_young_window: Duration::from_secs(1),
            process_full_rescan: Duration::from_secs(5),
            kill_grace: Duration::from_secs(2),
            default_script_user: "keepalived_script".to_string(),
            notify_stall_limit: Duration::from_secs(10),
            event_capacity: 256,
        }
    }
}
