//! `TCP_CHECK`: the server is up when a TCP connection to it opens.

use crate::net::{ConnectError, tcp_connect};
use baton_conf::Connection;

/// What one probe found.
#[derive(Debug)]
pub enum TcpResult {
    Open,
    Failed(ConnectError),
}

/// Connect and close at once, as keepalived does.
pub async fn probe(conn: &Connection) -> TcpResult {
    match tcp_connect(conn).await {
        Ok(stream) => {
            drop(stream);
            TcpResult::Open
        }
        Err(e) => TcpResult::Failed(e),
    }
}
