//! `--metrics ADDR:PORT`: Prometheus text with the keepalived exporter's metric names and
//! baton's own beside them ([`encode`]; the virtual servers' in `lvs`), on a small HTTP listener that also serves the
//! status page and `/healthz` ([`server`]). Off unless asked for: without the flag no
//! listener exists and nothing is counted or built for it.

pub mod encode;
mod lvs;
pub mod server;

pub use server::{Ask, MetricsServer};
