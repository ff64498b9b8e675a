//! What the checkers tell the virtual-server core: one [`Verdict`] each time keepalived
//! would call `update_svr_checker_state` or change a checker's weight.

use std::time::Instant;

pub use baton_conf::{CheckerId, RealServerId};

/// How a healthy checker changes the real server's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightEffect {
    /// The configured weight stands (every checker but the two below, and a
    /// `misc_dynamic` script exiting 0).
    Configured,
    /// `MISC_CHECK` with `misc_dynamic`: the script's exit status minus 2 replaces the
    /// configured weight (exit 2..=255 gives 0..=253).
    Set(u32),
    /// `FILE_CHECK`: the file's value times the check's weight is added to the weight.
    Offset(i64),
}

/// The checker's judgement of its real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    Up(WeightEffect),
    Down,
    /// The checker can never run (its script is missing, not executable or insecure, its
    /// file cannot be watched). keepalived removes such a checker, so the real server is
    /// judged by its other checkers as if this one had never been configured.
    Removed,
}

impl CheckState {
    pub fn is_up(&self) -> bool {
        matches!(self, CheckState::Up(_))
    }
}

/// One judgement, sent on the channel given to [`crate::Checkers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub checker: CheckerId,
    pub state: CheckState,
    /// The log line, in keepalived's words, followed by what was seen when keepalived
    /// says nothing more (`TCP_CHECK on service [10.0.0.21]:tcp:8080 failed. (connection
    /// refused)`).
    pub reason: String,
    /// When the result that decided it arrived.
    pub at: Instant,
    /// FILE_CHECK: the number read from the file, which the virtual-server core keeps per
    /// `track_file` (a reloaded check of the same file starts from it).
    pub file_value: Option<i64>,
}
