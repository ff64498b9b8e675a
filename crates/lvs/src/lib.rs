//! keepalived's virtual-server (LVS) half as a sans-IO core: checker verdicts, weights,
//! quorum with hysteresis, the sorry server, alpha and omega, `inhibit_on_failure` and
//! `ha_suspend` in; the desired forwarding table and notify actions out.
//!
//! It knows neither nftables nor IPVS: a [`Backend`] makes the data plane match the
//! [`Table`], applying only the [`Change`]s the core hands out.
//!
//! # Driving it
//!
//! ```
//! use baton_conf::{FakeHost, LoadOptions, load_str};
//! use baton_lvs::{Action, Input, Instant, Services, Verdict};
//!
//! let text = "virtual_server 192.168.5.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n \
//!             real_server 10.0.0.21 8080 {\n  TCP_CHECK {\n  }\n }\n}\n";
//! let loaded = load_str("k.conf", text, &LoadOptions::default(), &FakeHost::new());
//! let config = loaded.config.unwrap();
//! let mut services = Services::new(&config);
//! let mut actions = Vec::new();
//! services.handle(Instant::ZERO, Input::Start, &mut actions);
//! assert!(matches!(actions[0], Action::Apply(_)));
//!
//! // The TCP_CHECK of the real server fails: it leaves the table.
//! actions.clear();
//! let checker = config.lvs.virtual_servers[0].real_servers[0].checkers[0].id;
//! let verdict = Input::Verdict { checker, verdict: Verdict::Down, reason: None };
//! services.handle(Instant::ZERO, verdict, &mut actions);
//! let logs: Vec<String> = actions
//!     .iter()
//!     .filter_map(|a| match a { Action::Log(l) => Some(l.text.clone()), _ => None })
//!     .collect();
//! assert_eq!(logs[0], "Removing service [10.0.0.21]:tcp:8080 from VS [192.168.5.10]:tcp:80");
//! ```
//!
//! * Real servers are up when all their checkers are up; `alpha` checkers start failed
//!   until their first success; a real server without checkers is always up.
//! * The table holds live real servers with their effective weight (configured weight
//!   plus what `misc_dynamic` and FILE_CHECK add), failed ones only with
//!   `inhibit_on_failure` (weight 0).
//! * Quorum (the live weight) is gained at `quorum + hysteresis` and lost below
//!   `quorum - hysteresis`; while it is lost a sorry server takes the real servers'
//!   place. quorum_up / quorum_down run on the changes.
//! * `Action::Apply` comes first in a batch: notify scripts see the new table.
//! * Checker ids index the configuration: after [`Input::Reload`] use the new config's.
//!
//! Where baton differs from keepalived (each also said at the code):
//! * a reloaded real server takes its new configured weight (keepalived keeps the old
//!   effective weight until the next dynamic change);
//! * a reload keeps an unchanged checker's state even before its first verdict
//!   (keepalived's `migrate_checkers` takes such a checker as up, so a reload brings up a
//!   server whose `alpha` checker has not passed yet);
//! * a service whose real servers all weigh 0 (quorum 0) does not gain quorum with no
//!   live weight, so it does not flap at every event;
//! * SMTP_CHECK `host` blocks are separate checkers (see baton-conf).

#![forbid(unsafe_code)]

mod action;
mod backend;
mod input;
mod quorum;
mod reload;
mod services;
mod state;
mod status;
mod suspend;
mod table;
mod time;

pub use action::{Action, Level, LogLine, NotifyKind};
pub use backend::Backend;
pub use input::{Input, Verdict};
pub use reload::same_check;
pub use services::Services;
pub use state::{CheckerState, RealServerState, VirtualServerState, file_status, real_weight};
pub use status::{RealServerStatus, Status, VirtualServerStatus};
pub use table::{Change, Destination, Frontend, Role, Service, Table};
pub use time::Instant;
