//! Health tracking end to end, on the real kernel: the real `baton` binary on lab hosts
//! running Debian's nginx-light, its trackers (`vrrp_track_process`, `vrrp_script`,
//! `track_file`) and notifications (`notify*` scripts, `notify_fifo`) observed from outside —
//! the VIP answering from a client, `baton status --json`, the wire, the files the scripts
//! write — and, for the bad inputs, the daemon's log, since a clear log line is the feature
//! there. Root only.
//!
//! The failover tests run a few kill/restart rounds; for a measurement run at least five:
//!
//! ```text
//! BATON_HEALTH_RUNS=7 cargo test -p baton --test health -- failover --nocapture --test-threads 1
//! ```
//!
//! and read the `median` lines.
#![allow(clippy::unwrap_used)]

mod common;

mod health {
    pub mod bad_inputs;
    pub mod failover;
    pub mod files;
    pub mod nginx;
    pub mod notify;
    pub mod pair;
    pub mod seed_script;
}
