//! `baton check` and `baton -t`: load a configuration, print every diagnostic, exit with
//! keepalived's `-t` codes.

use std::path::PathBuf;
use std::process::ExitCode;

/// What `baton check` needs from the command line.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub config: PathBuf,
    /// `-i/--config-id`; `None` means the short hostname.
    pub config_id: Option<String>,
    /// `-e/--all-config`: a missing include is an error.
    pub all_config: bool,
    /// `--format json`.
    pub json: bool,
    /// `--dump`: print the effective configuration as JSON.
    pub dump: bool,
}

pub fn run(_opts: &CheckOptions) -> ExitCode {
    eprintln!("baton check: not built yet");
    ExitCode::from(3)
}
