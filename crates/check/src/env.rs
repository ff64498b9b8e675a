//! What every checker of one configuration shares.

use std::time::Duration;

use baton_track::ScriptPolicy;

/// The script policy (users, `enable_script_security`) and how long a timed-out script
/// gets between SIGTERM and SIGKILL.
#[derive(Debug)]
pub(crate) struct Env {
    pub policy: ScriptPolicy,
    pub kill_grace: Duration,
}
