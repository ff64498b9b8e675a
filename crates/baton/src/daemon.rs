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

/// Where `ip netns add NAME` puts a namespace (keepalived's `NETNS_RUN_DIR`).
const NETNS_RUN_DIR: &str = "/run/netns";

/// Move the calling thread into the named network namespace.
pub(crate) fn enter_net_namespace(name: &str) -> std::io::Result<()> {
    let path = Path::new(NETNS_RUN_DIR).join(name);
    let f = std::fs::File::open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
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
    // keepalived's net_namespace: enter it before any thread or socket exists, so every
    // thread the daemon starts, and every socket and netlink request, lives in it; and
    // before the configuration is checked against the interfaces it names.
    if let Some(ns) = source.net_namespace() {
        if let Err(e) = enter_net_namespace(&ns) {
            tracing::error!("Unable to set network namespace {ns} - exiting: {e}");
            if opts.dont_fork && !opts.log_console {
                eprintln!("baton: unable to enter network namespace {ns}: {e}");
            }
            return ExitCode::from(EXIT_INIT_FAILED);
        }
        tracing::info!("Running in network namespace {ns}");
    }
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
