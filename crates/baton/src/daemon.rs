//! The daemon's lifecycle around the VRRP engine: fork unless `-n`, logging, the pid file,
//! the process name, the configuration, and then the event loop ([`crate::runtime`]) until
//! SIGTERM or SIGINT (SIGHUP reloads).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::RunOptions;
use crate::north::config::ConfigSource;
use crate::north::logging::{self, LogOptions};
use crate::north::pidfile::PidFile;

/// keepalived's exit code for "could not initialise".
const EXIT_INIT_FAILED: u8 = 2;

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Run the daemon until SIGTERM or SIGINT.
pub fn run(mut opts: RunOptions) -> ExitCode {
    // Forking changes the working directory to /, so relative paths are resolved first.
    opts.config = absolute(&opts.config);
    opts.pidfile = absolute(&opts.pidfile);
    opts.control_socket = absolute(&opts.control_socket);

    if !opts.config.is_file() {
        eprintln!(
            "baton: configuration file '{}' is not a regular file",
            opts.config.display()
        );
        return ExitCode::from(EXIT_INIT_FAILED);
    }
    if !opts.dont_fork {
        // Before any thread or runtime exists, as fork requires.
        if let Err(e) = nix::unistd::daemon(false, false) {
            eprintln!("baton: cannot fork into the background: {e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    }
    logging::init(&LogOptions {
        console: opts.log_console,
        detail: opts.log_detail,
        facility: opts.log_facility,
        syslog_socket: logging::SYSLOG_SOCKET.into(),
    });
    let pidfile = match PidFile::acquire(&opts.pidfile) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            if opts.dont_fork && !opts.log_console {
                eprintln!("baton: {e}");
            }
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    let source = ConfigSource::new(opts.config.clone(), opts.config_id.clone(), opts.all_config);
    let Some(config) = source.initial() else {
        return ExitCode::from(EXIT_INIT_FAILED);
    };
    // On this, the main thread: its name is the process's name.
    crate::north::process_name::apply(&config.global);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    let code = rt.block_on(crate::runtime::run(&opts, &source, config));
    drop(pidfile);
    code
}
