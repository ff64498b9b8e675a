//! `SMTP_CHECK`: the server greets with 220, answers `HELO` with 250 and `QUIT` with
//! anything. Replies are read whole, multi-line ones included (RFC 5321 §4.2.1; keepalived
//! reads one line and so calls a server with a multi-line greeting down).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::{ConnectError, pair, tcp_connect};
use baton_conf::Connection;

/// A reply longer than this is not an SMTP server talking.
pub const MAX_REPLY: usize = 4096;

/// One reply, once complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, `None` when a line does not start with three digits and a
    /// separator.
    pub code: Option<u16>,
    /// The first line, for log lines.
    pub first_line: String,
}

/// Parse a reply from the start of `buf`: `Some((reply, bytes used))` once its last line
/// (`NNN text` or `NNN`) is complete, `None` while more is needed.
pub fn parse_reply(buf: &[u8]) -> Option<(Reply, usize)> {
    let mut at = 0;
    let mut first_line = None;
    loop {
        let nl = buf[at..].iter().position(|&b| b == b'\n')?;
        let line = &buf[at..at + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at += nl + 1;
        let text = String::from_utf8_lossy(line).into_owned();
        let first = first_line.get_or_insert(text).clone();
        let code = line
            .get(..3)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|d| d.iter().fold(0u16, |acc, x| acc * 10 + u16::from(x - b'0')));
        match (code, line.get(3)) {
            (Some(_), Some(b'-')) => continue,
            (Some(code), None | Some(b' ')) => {
                return Some((
                    Reply {
                        code: Some(code),
                        first_line: first,
                    },
                    at,
                ));
            }
            _ => {
                return Some((
                    Reply {
                        code: None,
                        first_line: first,
                    },
                    at,
                ));
            }
        }
    }
}

/// What one conversation found: `Ok` when it went through to QUIT, else keepalived's line
/// (without its `SMTP_CHECK ` prefix).
#[derive(Debug)]
pub enum SmtpResult {
    Passed,
    Failed(String),
    /// Our socket could not be set up: no verdict.
    Local(String),
}

/// Run the conversation with `conn.dst`, saying `HELO helo_name`. `server` is the real
/// server's name for log lines.
pub async fn probe(conn: &Connection, helo_name: &str, server: &str) -> SmtpResult {
    let host = pair(conn.dst);
    let timeout = conn.timeout;
    let mut stream = match tcp_connect(conn).await {
        Ok(s) => s,
        Err(ConnectError::Local(e)) => return SmtpResult::Local(e),
        Err(ConnectError::Timeout(_)) => {
            return SmtpResult::Failed(format!("Connection timeout to server {host}"));
        }
        Err(ConnectError::Failed(e)) => {
            return SmtpResult::Failed(match e.raw_os_error() {
                Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN) => format!(
                    "Network unreachable for server {} - real server {server}",
                    conn.dst.ip()
                ),
                _ => format!("Could not connect to server {host} ({e})"),
            });
        }
    };
    let mut conv = Conversation {
        stream: &mut stream,
        buf: Vec::new(),
        timeout,
        host: &host,
    };
    let greeting = match conv.reply().await {
        Ok(r) => r,
        Err(e) => return SmtpResult::Failed(e),
    };
    if greeting.code != Some(220) {
        return SmtpResult::Failed(format!(
            "Bad greeting banner from server {host} ('{}')",
            greeting.first_line
        ));
    }
    if let Err(e) = conv.send(&format!("HELO {helo_name}\r\n")).await {
        return SmtpResult::Failed(e);
    }
    let helo = match conv.reply().await {
        Ok(r) => r,
        Err(e) => return SmtpResult::Failed(e),
    };
    if helo.code != Some(250) {
        return SmtpResult::Failed(format!(
            "Bad HELO response from server {host} ('{}')",
            helo.first_line
        ));
    }
    if let Err(e) = conv.send("QUIT\r\n").await {
        return SmtpResult::Failed(e);
    }
    match conv.reply().await {
        Ok(_) => SmtpResult::Passed,
        Err(e) => SmtpResult::Failed(e),
    }
}

struct Conversation<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
    host: &'a str,
}

impl Conversation<'_> {
    async fn reply(&mut self) -> Result<Reply, String> {
        let mut chunk = [0u8; 512];
        loop {
            if let Some((reply, used)) = parse_reply(&self.buf) {
                self.buf.drain(..used);
                return Ok(reply);
            }
            if self.buf.len() > MAX_REPLY {
                return Err(format!(
                    "Read failure from server {} (reply longer than {MAX_REPLY} bytes)",
                    self.host
                ));
            }
            match tokio::time::timeout(self.timeout, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(format!("Read timeout from server {}", self.host)),
                Ok(Ok(0)) => {
                    return Err(format!(
                        "Read failure from server {} (connection closed)",
                        self.host
                    ));
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(format!("Read failure from server {} ({e})", self.host)),
            }
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.stream.write_all(line.as_bytes())).await {
            Err(_) => Err(format!("Write timeout to server {}", self.host)),
            Ok(Err(e)) => Err(format!("Write failure to server {} ({e})", self.host)),
            Ok(Ok(())) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(buf: &[u8]) -> Option<Option<u16>> {
        parse_reply(buf).map(|(r, _)| r.code)
    }

    #[test]
    fn single_and_multi_line_replies() {
        assert_eq!(code(b"220 mail.example ESMTP\r\n"), Some(Some(220)));
        assert_eq!(code(b"250\r\n"), Some(Some(250)));
        assert_eq!(
            code(b"220-first\r\n220-second\r\n220 last\r\n"),
            Some(Some(220))
        );
        assert_eq!(code(b"220-first\r\n220-sec"), None, "incomplete");
        assert_eq!(code(b"220 partial"), None);
        assert_eq!(code(b"hello\r\n"), Some(None));
        assert_eq!(code(b"22 x\r\n"), Some(None));
        assert_eq!(code(b"2200 x\r\n"), Some(None));
        let (r, used) = parse_reply(b"221 bye\r\nextra").unwrap();
        assert_eq!(used, 9);
        assert_eq!(r.first_line, "221 bye");
    }
}
