//! `UDP_CHECK`: a datagram is sent; the server is down when the network answers "port
//! unreachable" (or any destination-unreachable) within `connect_timeout`, and up when it
//! does not. With `require_reply` only a reply (of the right length and content) counts.

use crate::net::{ConnectError, udp_connect};
use baton_conf::{Connection, ReplyPattern, UdpCheck};

/// keepalived sends this pattern (32 bytes) when no `payload` is configured.
pub fn default_payload() -> Vec<u8> {
    filler(32)
}

/// keepalived's `set_buf`: "keepalived check - " repeated to `len` bytes.
pub fn filler(len: usize) -> Vec<u8> {
    b"keepalived check - "
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

/// What one probe found.
#[derive(Debug)]
pub enum UdpResult {
    Passed,
    /// Failed; what was seen.
    Failed(String),
    /// A reply that does not match `require_reply` (keepalived's "reply data mismatch").
    Mismatch(String),
    /// Our socket could not be set up: no verdict.
    Local(String),
}

pub async fn probe(conn: &Connection, udp: &UdpCheck) -> UdpResult {
    let socket = match udp_connect(conn) {
        Ok(s) => s,
        Err(ConnectError::Local(e)) => return UdpResult::Local(e),
        Err(e) => return UdpResult::Failed(e.to_string()),
    };
    let default;
    let payload = match &udp.payload {
        Some(p) => p.as_slice(),
        None => {
            default = default_payload();
            &default
        }
    };
    match tokio::time::timeout(conn.timeout, socket.send(payload)).await {
        Ok(Ok(n)) if n == payload.len() => {}
        Ok(Ok(n)) => return UdpResult::Failed(format!("sent {n} of {} bytes", payload.len())),
        Ok(Err(e)) => return UdpResult::Failed(format!("send: {e}")),
        Err(_) => return UdpResult::Failed("send timed out".into()),
    }
    let mut buf = vec![0u8; usize::from(udp.max_reply_length) + 1];
    match tokio::time::timeout(conn.timeout, socket.recv(&mut buf)).await {
        // Silence: nothing refused the datagram.
        Err(_) if !udp.require_reply => UdpResult::Passed,
        Err(_) => UdpResult::Failed(format!("no reply within {:?}", conn.timeout)),
        Ok(Err(e)) => UdpResult::Failed(e.to_string()),
        Ok(Ok(n)) => {
            if !udp.require_reply {
                return UdpResult::Passed;
            }
            match check_reply(&buf[..n], udp) {
                Ok(()) => UdpResult::Passed,
                Err(why) => UdpResult::Mismatch(why),
            }
        }
    }
}

/// keepalived's `check_udp_reply`: the length within bounds, and the bytes compared up
/// to the shorter of reply and pattern, masked bits ignored.
pub fn check_reply(reply: &[u8], udp: &UdpCheck) -> Result<(), String> {
    let len = reply.len();
    if len < usize::from(udp.min_reply_length) || len > usize::from(udp.max_reply_length) {
        return Err(format!(
            "reply of {len} bytes, expected {}..={}",
            udp.min_reply_length, udp.max_reply_length
        ));
    }
    if let Some(ReplyPattern { data, mask }) = &udp.reply {
        for (i, (got, want)) in reply.iter().zip(data).enumerate() {
            let care = !mask.get(i).copied().unwrap_or(0);
            if (got ^ want) & care != 0 {
                return Err(format!(
                    "reply byte {i} is {got:#04x}, expected {want:#04x}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_with(reply: Option<ReplyPattern>, min: u16, max: u16) -> UdpCheck {
        UdpCheck {
            payload: None,
            require_reply: true,
            reply,
            min_reply_length: min,
            max_reply_length: max,
        }
    }

    #[test]
    fn default_payload_is_keepalived_s() {
        assert_eq!(
            default_payload(),
            b"keepalived check - keepalived ch".to_vec()
        );
    }

    #[test]
    fn reply_matching() {
        let p = probe_with(
            Some(ReplyPattern {
                data: vec![0xab, 0xc0],
                mask: vec![0x00, 0x0f],
            }),
            0,
            255,
        );
        assert!(check_reply(&[0xab, 0xc7, 0x99], &p).is_ok());
        assert!(
            check_reply(&[0xab], &p).is_ok(),
            "only the shorter length is compared"
        );
        assert!(check_reply(&[0xac, 0xc0], &p).is_err());
        assert!(check_reply(&[0xab, 0xd0], &p).is_err());
        let p = probe_with(None, 2, 4);
        assert!(check_reply(&[1], &p).is_err());
        assert!(check_reply(&[1, 2, 3, 4, 5], &p).is_err());
        assert!(check_reply(&[1, 2, 3], &p).is_ok());
    }
}
