//! The script policy of one configuration: who each command runs as, whether insecure
//! scripts are refused (`enable_script_security`), and keepalived's single warning when
//! scripts run without that setting.

use std::sync::atomic::{AtomicBool, Ordering};

use baton_conf::{Command, GlobalDefs};
use tracing::{info, warn};

use crate::error::CommandError;
use crate::options::TrackOptions;
use crate::program::Program;
use crate::user::UserResolver;

#[derive(Debug)]
pub struct ScriptPolicy {
    users: UserResolver,
    security: bool,
    saw_script: AtomicBool,
    saw_insecure: AtomicBool,
    summarised: AtomicBool,
}

impl ScriptPolicy {
    pub fn new(global: &GlobalDefs, options: &TrackOptions) -> ScriptPolicy {
        ScriptPolicy {
            users: UserResolver::new(global.script_user.clone(), &options.default_script_user),
            security: global.enable_script_security,
            saw_script: AtomicBool::new(false),
            saw_insecure: AtomicBool::new(false),
            summarised: AtomicBool::new(false),
        }
    }

    /// Check `command` (described by `what` in log lines, e.g. `vrrp_script chk_nginx`).
    /// A refusal is logged here; the caller only drops the command.
    pub fn prepare(&self, what: &str, command: &Command) -> Result<Program, CommandError> {
        match Program::prepare(command, &self.users, self.security) {
            Ok((program, insecurity)) => {
                self.saw_script.store(true, Ordering::Relaxed);
                if let Some(insecurity) = insecurity {
                    self.saw_insecure.store(true, Ordering::Relaxed);
                    info!("{what}: {insecurity}");
                }
                Ok(program)
            }
            Err(e) => {
                if matches!(e, CommandError::Insecure(_)) {
                    self.saw_script.store(true, Ordering::Relaxed);
                }
                warn!("{what}: {e} - disabling ({})", command.span);
                Err(e)
            }
        }
    }

    /// keepalived's one line about scripts running without `enable_script_security`.
    /// Logged at most once per policy, after every command has been prepared.
    pub fn log_summary(&self) {
        if self.security
            || !self.saw_script.load(Ordering::Relaxed)
            || self.summarised.swap(true, Ordering::Relaxed)
        {
            return;
        }
        let insecure = if self.saw_insecure.load(Ordering::Relaxed) {
            " There are insecure scripts."
        } else {
            ""
        };
        warn!(
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.{insecure}"
        );
    }
}
