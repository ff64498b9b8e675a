//! Errors of the tables as a whole (one service's refusal is in its report instead).

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The netlink socket could not be opened, or failed mid-exchange.
    #[error("nf_tables netlink socket: {0}")]
    Socket(io::Error),
    /// The kernel refused a change to the tables themselves.
    #[error("the kernel refused to {object}: {error}")]
    Refused { object: String, error: io::Error },
    /// Another process owns a table of baton's name in this network namespace.
    #[error("table {table} belongs to another process (is another baton running here?)")]
    Owned { table: String },
}
