//! Real-server health checkers with keepalived's semantics: `TCP_CHECK`, `HTTP_GET`,
//! `SSL_GET`, `MISC_CHECK`, `DNS_CHECK`, `SMTP_CHECK`, `UDP_CHECK`, `PING_CHECK` and
//! `FILE_CHECK`, each one async task, all on a thread of their own so that no check can
//! delay the VRRP core. They report [`Verdict`]s (a real server's checker is up, down, or
//! up with a weight) to the virtual-server core; they never touch the forwarding table.
//!
//! ```no_run
//! # async fn demo(plan: baton_check::Plan) -> Result<(), baton_check::CheckError> {
//! let (tx, mut verdicts) = tokio::sync::mpsc::channel(256);
//! let checkers = baton_check::Checkers::spawn(plan, tx)?;
//! while let Some(verdict) = verdicts.recv().await {
//!     // feed the virtual-server core …
//! #   let _ = verdict;
//! }
//! checkers.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! [`genhash`] is keepalived's `genhash`: the digest of a page to put in `HTTP_GET`'s
//! `digest`.

mod checkers;
pub mod dns;
mod env;
pub mod file;
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
