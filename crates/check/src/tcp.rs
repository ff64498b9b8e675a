//! `TCP_CHECK`: the server is up when a TCP connection to it opens.

use crate::net::{ConnectError, tcp_connect};
use baton_conf::Connection;

/// What one probe found.
#[derive(Debug)]
pub enum TcpResult {
    Open,
    Failed(ConnectError),
}

/// Connect and close at once. The close is abortive (RST, as HAProxy's health checks do)
/// where keepalived's is orderly: with an orderly close every probe leaves a TIME_WAIT on
/// the checker's side for a minute, and a thousand checkers at `delay_loop 1` would hold
/// 60,000 of them, exhausting the ephemeral ports towards a busy real server.
pub async fn probe(conn: &Connection) -> TcpResult {
    match tcp_connect(conn).await {
        Ok(stream) => {
            let _ = stream.set_zero_linger();
            drop(stream);
            TcpResult::Open
        }
        Err(e) => TcpResult::Failed(e),
    }
}
