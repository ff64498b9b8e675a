//! The daemon's lifecycle around the VRRP engine: fork unless `-n`, logging, the pid file,
//! the control socket, systemd notification and the signals keepalived answers to (SIGTERM
//! and SIGINT stop, SIGHUP reloads).
//!
//! The event loop's shape, once the protocol core is wired in (it is not in this build, and
//! the daemon says so at start):
//!
//! ```text
//! loop select! {
//!     advert on a VRRP socket  → parse (baton-wire) → node.handle(now, Input::Advert{..})
//!     netlink monitor event    → node.handle(now, Input::Link/Address{..})
//!     node.next_deadline()     → node.handle(now, Input::Deadline)
//!     tracker result           → node.handle(now, Input::Tracker{..})
//!     SIGHUP / SIGTERM         → Input::Reload / Input::Shutdown
//!     control request          → node.status()
//! }
//! after each handle(): carry out the actions in order (send advert, add/remove VIPs,
//! routes, rules through netlink, GARP/NA bursts, notify scripts, log lines) and nothing else.
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use baton_conf::Config;
use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::RunOptions;
use crate::config::{ConfigSource, Reload};
use crate::control::ControlServer;
use crate::logging::{self, LogOptions};
use crate::notify_systemd::{self, Lifecycle};
use crate::pidfile::PidFile;

/// keepalived's exit code for "could not initialise".
const EXIT_INIT_FAILED: u8 = 2;

/// What `baton status` receives while no protocol core runs: the daemon and the instances
/// its configuration names, and no instance state (there is none yet).
#[derive(Debug, Serialize)]
struct DaemonStatus<'a> {
    daemon: DaemonInfo<'a>,
    instances: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct DaemonInfo<'a> {
    pid: u32,
    version: &'static str,
    config: &'a Path,
    configured_instances: Vec<&'a str>,
    reloads: u32,
    reloads_refused: u32,
}

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
    let code = rt.block_on(main_loop(&opts, &source, config));
    drop(pidfile);
    code
}

async fn main_loop(opts: &RunOptions, source: &ConfigSource, config: Config) -> ExitCode {
    tracing::info!(
        "Starting baton v{} (keepalived-compatible VRRP), pid {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    let (mut term, mut int, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(i), Ok(h)) => (t, i, h),
        _ => {
            tracing::error!("cannot install signal handlers");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    let control = match ControlServer::bind(&opts.control_socket) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    tracing::warn!(
        "{} VRRP instance(s) configured, none run: the protocol core is not wired into this build",
        config.instances.len()
    );
    // The state the status closure reads and the signal arms update; both run on this one
    // task, so a RefCell is enough.
    let state = std::cell::RefCell::new((config, 0u32, 0u32));
    let serve = control.serve(|| {
        let st = state.borrow();
        let (config, reloads, refused) = &*st;
        serde_json::to_value(DaemonStatus {
            daemon: DaemonInfo {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION"),
                config: &opts.config,
                configured_instances: config.instances.iter().map(|i| i.name.as_str()).collect(),
                reloads: *reloads,
                reloads_refused: *refused,
            },
            instances: Vec::new(),
        })
        .unwrap_or_default()
    });
    tokio::pin!(serve);
    notify_systemd::notify(Lifecycle::Ready, "running");
    loop {
        tokio::select! {
            _ = &mut serve => {}
            _ = hup.recv() => {
                tracing::info!("Reloading");
                notify_systemd::notify(Lifecycle::Reloading, "reloading");
                let mut st = state.borrow_mut();
                match source.reload() {
                    Reload::Applied(new) => {
                        st.0 = *new;
                        st.1 += 1;
                        notify_systemd::notify(Lifecycle::Ready, "running, configuration reloaded");
                    }
                    Reload::Refused { errors } => {
                        st.2 += 1;
                        notify_systemd::notify(
                            Lifecycle::Ready,
                            &format!("running, reload refused: {errors} error(s) in the configuration"),
                        );
                    }
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    notify_systemd::notify(Lifecycle::Stopping, "stopping");
    tracing::info!("Stopped baton v{}", env!("CARGO_PKG_VERSION"));
    ExitCode::SUCCESS
}
