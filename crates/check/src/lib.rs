//! Real-server health checkers with keepalived's semantics: `TCP_CHECK`, `HTTP_GET`,
//! `SSL_GET`, `MISC_CHECK`, `DNS_CHECK`, `SMTP_CHECK`, `UDP_CHECK`, `PING_CHECK` and
//! `FILE_CHECK`, each one async task, all on a thread of their own so that no check can
//! delay the VRRP core. They report [`Verdict`]s (a real server's checker is up, down, up
//! with a weight, or removed) to the virtual-server core; they never touch the forwarding
//! table.
//!
//! Wiring in the daemon is one call, and one per reload:
//!
//! ```no_run
//! # async fn demo(config: baton_conf::Config, options: baton_track::TrackOptions) -> Result<(), baton_check::CheckError> {
//! let (tx, mut verdicts) = tokio::sync::mpsc::channel(1024);
//! let checkers = baton_check::Checkers::for_config(&config, &options, tx)?;
//! // SIGHUP: checkers that compare equal keep running, with their state.
//! checkers.reload_config(&config, &options)?;
//! while let Some(verdict) = verdicts.recv().await {
//!     // feed the virtual-server core: verdict.checker (a baton_conf::CheckerId),
//!     // verdict.state, verdict.reason (keepalived's log line), verdict.at
//! #   let _ = verdict;
//! }
//! let for_status = checkers.status(); // baton status
//! # let _ = for_status;
//! checkers.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The checkers log their lines themselves (tracing, keepalived's words); the daemon only
//! maps verdicts. [`genhash`] is keepalived's `genhash`: the digest of a page to put in
//! `HTTP_GET`'s `digest`.

mod checkers;
pub mod dns;
mod env;
pub mod file;
#[doc(hidden)]
pub mod fuzz;
pub mod genhash;
pub mod http;
pub mod misc;
pub mod net;
pub mod ping;
pub mod retry;
mod runner;
pub mod smtp;
pub mod spec;
mod status;
pub mod tcp;
pub mod tls;
pub mod udp;
mod verdict;

pub use checkers::{CheckError, Checkers, Plan};
pub use spec::*;
pub use status::{CheckerStatus, Probed};
pub use verdict::{CheckState, CheckerId, RealServerId, Verdict, WeightEffect};
