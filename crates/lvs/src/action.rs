//! What the core decides; the runtime carries it out without second-guessing.

use std::fmt;
use std::time::Duration;

use baton_conf::{Command, RealServerId, VirtualServerId};
use serde::Serialize;

use crate::table::Change;

/// Which hook a notify command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NotifyKind {
    /// `notify_up` of a real server.
    RealServerUp(RealServerId),
    /// `notify_down` of a real server.
    RealServerDown(RealServerId),
    /// `quorum_up` of a virtual server.
    QuorumUp(VirtualServerId),
    /// `quorum_down` of a virtual server.
    QuorumDown(VirtualServerId),
}

/// How loud a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    Info,
    Warning,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Change the data plane: apply these as one transaction, in order.
    Apply(Vec<Change>),
    /// Run a notify command (no arguments are appended for LVS hooks). `timeout` is set
    /// while stopping: keepalived gives such scripts one second.
    RunNotify {
        kind: NotifyKind,
        command: Command,
        timeout: Option<Duration>,
    },
    /// Write a line (without its newline) to `notify_fifo` and `lvs_notify_fifo`:
    /// `VS [192.168.201.15]:tcp:80 UP`, `RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 DOWN`.
    WriteFifo(String),
    /// Run (`true`) or pause the checkers of a virtual server (`ha_suspend`).
    CheckersEnabled {
        vs: VirtualServerId,
        enabled: bool,
    },
    Log(LogLine),
}

/// A log line in keepalived's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: Level,
    pub text: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
