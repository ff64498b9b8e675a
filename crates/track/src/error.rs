//! Why a tracker or a notify command could not be set up. Each message is the log line the
//! daemon prints, worded like keepalived's so existing grep habits still find it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Failure to start the tracking machinery as a whole.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// Trackers and notifiers spawn tasks on the caller's tokio runtime.
    #[error("health tracking must be started from inside a tokio runtime")]
    NoRuntime,
}

/// Why a configured command (a `vrrp_script`, a notify script, a FIFO script) will not be run.
/// keepalived disables such a script and carries on; so do we. Cloneable, so a check made
/// ahead of time can be handed out as often as the command is asked for.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    #[error("empty command")]
    Empty,
    #[error("cannot find script {name} in PATH")]
    NotInPath { name: String },
    #[error(
        "permissions failure for script {name} in PATH: found but not executable by uid:gid {uid}:{gid}"
    )]
    PathPermission { name: String, uid: u32, gid: u32 },
    #[error("script {path} cannot be accessed: {source}", path = path.display())]
    Inaccessible {
        path: PathBuf,
        source: Arc<io::Error>,
    },
    #[error("script '{path}' is not a regular file", path = path.display())]
    NotAFile { path: PathBuf },
    #[error("script '{path}' is not executable for uid:gid {uid}:{gid}", path = path.display())]
    NotExecutable { path: PathBuf, uid: u32, gid: u32 },
    #[error(transparent)]
    Insecure(#[from] Insecurity),
    #[error("script user '{0}' does not exist")]
    NoSuchUser(String),
    #[error("script group '{0}' does not exist")]
    NoSuchGroup(String),
    #[error("unable to look up script user or group '{name}': {source}")]
    Lookup { name: String, source: nix::Error },
}

/// A script that would run as root (or set-uid/set-gid root) while some part of its path can
/// be changed by a non-root user: whoever can write there can run anything as root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsafe permissions found for script '{script}': {offender} {why}", script = script.display(), offender = offender.display())]
pub struct Insecurity {
    /// The script as configured.
    pub script: PathBuf,
    /// The file or directory at fault.
    pub offender: PathBuf,
    pub why: InsecureReason,
}

/// What is wrong with one path component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsecureReason {
    /// Owned by a user other than root.
    NotOwnedByRoot { uid: u32 },
    /// Writable by a non-root group.
    GroupWritable { gid: u32 },
    /// Writable by everyone (a directory only escapes this with the sticky bit).
    WorldWritable,
    /// A directory expected but something else found (or the script is not a file).
    WrongType,
}

impl std::fmt::Display for InsecureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InsecureReason::NotOwnedByRoot { uid } => {
                write!(f, "is owned by uid {uid}, not root")
            }
            InsecureReason::GroupWritable { gid } => {
                write!(f, "is writable by group {gid}, which is not root")
            }
            InsecureReason::WorldWritable => write!(f, "is writable by every user"),
            InsecureReason::WrongType => write!(f, "is not a directory or regular file"),
        }
    }
}
