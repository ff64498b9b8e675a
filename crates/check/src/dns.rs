//! `DNS_CHECK`: one query over UDP; the server is up when an answer to it comes back with
//! RCODE 0 (NOERROR), whatever its records (keepalived looks no further).
//!
//! The codec is written here rather than taken from hickory-proto: the checker builds one
//! fixed query and reads a 12-byte header and the echoed question, which is a few dozen
//! lines, against a crate that would bring a full resolver's message model.

use tokio::time::Instant;

use crate::net::{ConnectError, pair, udp_connect};
use baton_conf::Connection;

/// keepalived's `DNS_BUFFER_SIZE`: answers are read into this much.
const BUFFER: usize = 768;
const HEADER: usize = 12;

/// A name that cannot be put in a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("DNS name '{0}' has an empty label")]
    EmptyLabel(String),
    #[error("DNS name '{0}' has a label longer than 63 bytes")]
    LongLabel(String),
    #[error("DNS name '{0}' is longer than 255 bytes")]
    LongName(String),
}

/// The wire form of `name` (keepalived's rules: `""` and `"."` are the root, a trailing
/// dot is allowed).
pub fn encode_name(name: &str) -> Result<Vec<u8>, NameError> {
    let mut out = Vec::with_capacity(name.len() + 2);
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel(name.to_string()));
            }
            if label.len() > 63 {
                return Err(NameError::LongLabel(name.to_string()));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() > 255 {
        return Err(NameError::LongName(name.to_string()));
    }
    Ok(out)
}

/// A query with recursion desired, as keepalived sends it.
pub fn query(id: u16, name: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(HEADER + name.len() + 4);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    q.extend_from_slice(&[0; 6]); // AN, NS, AR
    q.extend_from_slice(name);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    q
}

/// What a datagram received says about our query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Not an answer to our query (too short, other id, a query, another question):
    /// keepalived keeps waiting.
    NotOurs,
    /// An answer with RCODE 0.
    NoError,
    /// An answer with this RCODE.
    Error(u8),
}

/// Judge `datagram` as an answer to `query` (as built by [`query`]). Beyond keepalived's
/// checks (length, id, QR bit), an answer that echoes a different question is not ours.
pub fn check_reply(query: &[u8], datagram: &[u8]) -> Reply {
    if datagram.len() < HEADER || query.len() < HEADER || datagram[..2] != query[..2] {
        return Reply::NotOurs;
    }
    let flags = u16::from_be_bytes([datagram[2], datagram[3]]);
    if flags & 0x8000 == 0 {
        return Reply::NotOurs;
    }
    let qdcount = u16::from_be_bytes([datagram[4], datagram[5]]);
    // A question we cannot read: judge by the header alone, as keepalived.
    if qdcount >= 1
        && let Some((name, qtype, qclass)) = read_question(datagram, HEADER)
    {
        let asked = &query[HEADER..];
        let (asked_name, asked_rest) = asked.split_at(asked.len().saturating_sub(4));
        if !name.eq_ignore_ascii_case(asked_name)
            || asked_rest != [qtype.to_be_bytes(), qclass.to_be_bytes()].concat()
        {
            return Reply::NotOurs;
        }
    }
    match (flags & 0x000f) as u8 {
        0 => Reply::NoError,
        rcode => Reply::Error(rcode),
    }
}

/// The question at `at`: its name in wire form (uncompressed, labels as received), type
/// and class.
fn read_question(msg: &[u8], at: usize) -> Option<(Vec<u8>, u16, u16)> {
    let (name, end) = read_name(msg, at)?;
    let rest = msg.get(end..end + 4)?;
    Some((
        name,
        u16::from_be_bytes([rest[0], rest[1]]),
        u16::from_be_bytes([rest[2], rest[3]]),
    ))
}

/// A possibly compressed name at `at`: its uncompressed wire form and the offset just
/// past it in the message.
fn read_name(msg: &[u8], mut at: usize) -> Option<(Vec<u8>, usize)> {
    let mut name = Vec::new();
    let mut end = None;
    // Each pointer must go backwards, so this many jumps is more than any valid name has.
    for _ in 0..128 {
        let len = *msg.get(at)?;
        match len {
            0 => {
                name.push(0);
                return Some((name, end.unwrap_or(at + 1)));
            }
            1..=63 => {
                let label = msg.get(at + 1..at + 1 + usize::from(len))?;
                name.push(len);
                name.extend_from_slice(label);
                if name.len() > 255 {
                    return None;
                }
                at += 1 + usize::from(len);
            }
            _ if len & 0xc0 == 0xc0 => {
                let target = usize::from(u16::from_be_bytes([len & 0x3f, *msg.get(at + 1)?]));
                if target >= at {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return None,
        }
    }
    None
}

/// What one probe found: `None` for an answer with RCODE 0, else keepalived's words.
#[derive(Debug)]
pub enum DnsResult {
    Answered,
    Failed(String),
    /// Our socket could not be set up: no verdict.
    Local(String),
}

/// Send the query (`name` in wire form, see [`encode_name`]) and wait up to
/// `connect_timeout` for its answer.
pub async fn probe(conn: &Connection, qtype: u16, name: &[u8]) -> DnsResult {
    let socket = match udp_connect(conn) {
        Ok(s) => s,
        Err(ConnectError::Local(e)) => return DnsResult::Local(e),
        Err(e) => {
            return DnsResult::Failed(format!("network unreachable for {} ({e})", pair(conn.dst)));
        }
    };
    let id = fastrand::u16(..);
    let q = query(id, name, qtype);
    let deadline = Instant::now() + conn.timeout;
    match tokio::time::timeout_at(deadline, socket.send(&q)).await {
        Ok(Ok(n)) if n == q.len() => {}
        Ok(Ok(_)) => return DnsResult::Failed("failed to write all of the datagram.".into()),
        Ok(Err(e)) => return DnsResult::Failed(format!("failed to write socket. ({e})")),
        Err(_) => return DnsResult::Failed("write timeout to socket.".into()),
    }
    let mut buf = [0u8; BUFFER];
    loop {
        match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => return DnsResult::Failed("read timeout from socket".into()),
            Ok(Err(e)) => {
                return DnsResult::Failed(format!(
                    "failed to read socket; errno {} ({e})",
                    e.raw_os_error().unwrap_or(0)
                ));
            }
            Ok(Ok(n)) => match check_reply(&q, &buf[..n]) {
                Reply::NotOurs => continue,
                Reply::NoError => return DnsResult::Answered,
                Reply::Error(rcode) => {
                    return DnsResult::Failed(format!("read error occurred. (rcode = {rcode})"));
                }
            },
        }
    }
}

/// An answer to `query` with `rcode` and no records, as a test server would send it.
pub fn answer(query: &[u8], rcode: u8) -> Vec<u8> {
    let mut a = query.to_vec();
    if a.len() >= 4 {
        a[2] |= 0x80;
        a[3] = (a[3] & 0xf0) | (rcode & 0x0f);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_keepalived_encodes_them() {
        assert_eq!(encode_name("").unwrap(), vec![0]);
        assert_eq!(encode_name(".").unwrap(), vec![0]);
        assert_eq!(
            encode_name("example.com").unwrap(),
            b"\x07example\x03com\x00".to_vec()
        );
        assert_eq!(
            encode_name("example.com.").unwrap(),
            encode_name("example.com").unwrap()
        );
        assert!(matches!(encode_name("a..b"), Err(NameError::EmptyLabel(_))));
        assert!(matches!(encode_name(".a"), Err(NameError::EmptyLabel(_))));
        assert!(matches!(
            encode_name(&"x".repeat(64)),
            Err(NameError::LongLabel(_))
        ));
        let long = vec!["abcdefgh"; 40].join(".");
        assert!(matches!(encode_name(&long), Err(NameError::LongName(_))));
    }

    #[test]
    fn query_layout() {
        let q = query(0x1234, &encode_name("a.b").unwrap(), 6);
        assert_eq!(
            q,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x01b\x00\x00\x06\x00\x01"
        );
    }

    #[test]
    fn replies() {
        let q = query(7, &encode_name("example.com").unwrap(), 1);
        assert_eq!(check_reply(&q, &answer(&q, 0)), Reply::NoError);
        assert_eq!(check_reply(&q, &answer(&q, 3)), Reply::Error(3));
        assert_eq!(
            check_reply(&q, &q),
            Reply::NotOurs,
            "a query, not an answer"
        );
        assert_eq!(check_reply(&q, &answer(&q, 0)[..11]), Reply::NotOurs);
        let other = query(8, &encode_name("example.com").unwrap(), 1);
        assert_eq!(check_reply(&q, &answer(&other, 0)), Reply::NotOurs);
        let other_q = query(7, &encode_name("example.org").unwrap(), 1);
        assert_eq!(check_reply(&q, &answer(&other_q, 0)), Reply::NotOurs);
        let other_t = query(7, &encode_name("example.com").unwrap(), 28);
        assert_eq!(check_reply(&q, &answer(&other_t, 0)), Reply::NotOurs);
        // Case may differ (0x20 randomisation).
        let upper = query(7, &encode_name("EXAMPLE.com").unwrap(), 1);
        assert_eq!(check_reply(&q, &answer(&upper, 0)), Reply::NoError);
        // A header-only answer (no question echoed) is judged by its header.
        let mut bare = answer(&q, 0)[..HEADER].to_vec();
        bare[5] = 0;
        assert_eq!(check_reply(&q, &bare), Reply::NoError);
    }

    #[test]
    fn compressed_names_are_followed_but_never_forwards() {
        // Name "a" at 12, then a pointer to it at 15.
        let msg = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01a\x00\xc0\x0c";
        assert_eq!(read_name(msg, 15), Some((b"\x01a\x00".to_vec(), 17)));
        let looping = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0\x0c";
        assert_eq!(read_name(looping, 12), None);
    }
}
