//! The script policy of one configuration: who each command runs as, whether insecure
//! scripts are refused (`enable_script_security`), and keepalived's single warning when
//! scripts run without that setting.
//!
//! Checking a command asks the name service for its user (NSS: possibly a directory server)
//! and the file system for every directory of its path (possibly a hung mount): either may
//! wait. [`ScriptPolicy::check_ahead`] does that work where waiting is harmless (the reload's
//! reading task); [`ScriptPolicy::prepare`] on the event loop then only reads the result.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use baton_conf::{Command, GlobalDefs};
use tracing::{info, warn};

use crate::error::CommandError;
use crate::error::Insecurity;
use crate::options::TrackOptions;
use crate::program::Program;
use crate::user::UserResolver;

type Checked = Result<(Program, Option<Insecurity>), CommandError>;

/// What decides a check's outcome: the words and the user (the text and place may differ
/// between two spellings of one command).
#[derive(Debug, PartialEq, Eq, Hash)]
struct CommandKey {
    argv: Vec<String>,
    run_as: Option<(String, Option<String>)>,
}

impl CommandKey {
    fn of(command: &Command) -> CommandKey {
        CommandKey {
            argv: command.argv.clone(),
            run_as: command
                .run_as
                .as_ref()
                .map(|r| (r.user.clone(), r.group.clone())),
        }
    }
}

#[derive(Debug)]
pub struct ScriptPolicy {
    users: UserResolver,
    security: bool,
    /// Checks made by `check_ahead`.
    ahead: Mutex<HashMap<CommandKey, Checked>>,
    saw_script: AtomicBool,
    saw_insecure: AtomicBool,
    summarised: AtomicBool,
}

impl ScriptPolicy {
    pub fn new(global: &GlobalDefs, options: &TrackOptions) -> ScriptPolicy {
        ScriptPolicy {
            users: UserResolver::new(global.script_user.clone(), &options.default_script_user),
            security: global.enable_script_security,
            ahead: Mutex::new(HashMap::new()),
            saw_script: AtomicBool::new(false),
            saw_insecure: AtomicBool::new(false),
            summarised: AtomicBool::new(false),
        }
    }

    /// Check `command` (described by `what` in log lines, e.g. `vrrp_script chk_nginx`).
    /// A refusal is logged here; the caller only drops the command.
    pub fn prepare(&self, what: &str, command: &Command) -> Result<Program, CommandError> {
        let ahead = self
            .ahead
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&CommandKey::of(command))
            .cloned();
        let checked =
            ahead.unwrap_or_else(|| Program::prepare(command, &self.users, self.security));
        match checked {
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

    /// Check `commands` now, so that `prepare` later needs neither the name service nor the
    /// file system. Logs nothing: `prepare` says what it finds when the command is used.
    pub fn check_ahead<'a>(&self, commands: impl IntoIterator<Item = &'a Command>) {
        let mut checked = HashMap::new();
        for command in commands {
            checked
                .entry(CommandKey::of(command))
                .or_insert_with(|| Program::prepare(command, &self.users, self.security));
        }
        self.ahead
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(checked);
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
