//! The operator side: what people and their tools see of the daemon and give it.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | loading keepalived.conf at start and on SIGHUP |
//! | [`check`] | `baton check` and `-t`: the configuration report and keepalived's exit codes |
//! | [`explain`] | `baton check --explain`: the firewall rules that keep a pair hearing each other |
//! | [`control`], [`status`] | the control socket and `baton status` |
//! | [`logging`] | syslog, journald or the console, keepalived's wording |
//! | [`peer_log`] | log lines about what peers sent, limited per kind with a summary |
//! | [`pidfile`], [`notify_systemd`] | what a keepalived unit file expects |
//! | [`files`] | opening files written as root without following what others planted |
//! | [`process_name`] | the name `killall keepalived` finds |
//! | [`snapshot`], [`history`] | one look at the daemon for the views below; the last state changes of each instance |
//! | [`metrics`], [`page`] | `--metrics`: Prometheus text with the keepalived exporter's names, the status page, `/healthz` |
//! | [`dump`] | keepalived's dump files on SIGUSR1, SIGUSR2 and the JSON signal; `--signum` |
//! | [`observe`] | what asks the event loop to be looked at (the listener, the dump signals), and systemd's watchdog |
//! | [`watch`] | `baton status --watch` |

pub mod check;
pub mod config;
pub mod control;
pub mod dump;
pub mod explain;
pub mod files;
pub mod history;
pub mod logging;
pub mod metrics;
pub mod notify_systemd;
pub mod observe;
pub mod page;
pub mod peer_log;
pub mod pidfile;
pub mod process_name;
pub mod snapshot;
pub mod status;
pub mod watch;
