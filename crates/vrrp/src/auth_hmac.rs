//! keepalived's `auth_hmac` (2.4.2+ wire format, 2.4.3 rules): signing adverts and checking
//! the trailer of received ones, with the sequence and replay rules of keepalived 2.4.3.
//!
//! Sender: the sequence is taken from the realtime clock when that is ahead of the last one
//! sent, else the last one plus one; in `anti_replay time` a clock stepped back by more than
//! the window restarts from the clock. One advert is signed once: every unicast copy carries
//! the same trailer.
//!
//! Receiver, in keepalived's order: no trailer (dropped only in `enforce`); a unicast
//! instance only hears its configured peers; MALFORMED (type, reserved); STALE (time mode,
//! before any hashing, changes no state); UNKNOWN_KEY; BAD_HMAC (compared in constant time);
//! REPLAY (per unicast peer, or in 4 least-recently-used slots by source for multicast,
//! created only after the HMAC passed). The realtime clock is an input: the core reads no
//! clock.

use std::net::IpAddr;
use std::time::Duration;

use baton_conf::{AntiReplay, AuthHmac, HmacMode, UnicastPeer};
use baton_wire::Version;
use baton_wire::auth_ext::{self, EXT_HMAC_SHA256_128, HMAC_LEN, Sequence, TrailerRepr};
use hmac::{Mac, SimpleHmac};
use serde::Serialize;
use sha2::Sha256;

/// Multicast replay slots per instance (keepalived's table size).
const MULTICAST_SLOTS: usize = 4;

/// Why a received advert failed authentication; each has a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AuthFailure {
    /// `enforce` and the advert carries no trailer.
    Missing,
    /// An Ext Type other than 1, or a non-zero reserved field.
    Malformed,
    /// `anti_replay time`: the trailer's seconds are further than the window from ours.
    Stale,
    /// A key id none of our keys has.
    UnknownKey,
    /// The HMAC does not verify.
    BadHmac,
    /// A sequence not after the last one accepted from this sender.
    Replay,
    /// A unicast instance heard an address that is not one of its peers.
    NotAPeer,
}

impl core::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AuthFailure::Missing => "no authentication trailer",
            AuthFailure::Malformed => "malformed authentication trailer",
            AuthFailure::Stale => "stale authentication trailer (clock skew or replay)",
            AuthFailure::UnknownKey => "unknown key id",
            AuthFailure::BadHmac => "invalid HMAC",
            AuthFailure::Replay => "replayed sequence number",
            AuthFailure::NotAPeer => "source is not a unicast peer",
        })
    }
}

/// keepalived's "Authentication Extension Errors" (JSON names `auth_ext_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthCounters {
    pub missing: u64,
    pub malformed: u64,
    pub unknown_key: u64,
    pub invalid_hmac: u64,
    pub stale: u64,
    pub replay: u64,
    /// Adverts that carried a trailer that verified.
    pub verified: u64,
}

impl AuthCounters {
    /// Count one failure of kind `f`; returns how many of that kind so far (0 for
    /// `NotAPeer`, counted with the other dropped adverts of unknown sources).
    pub fn count(&mut self, f: AuthFailure) -> u64 {
        let slot = match f {
            AuthFailure::Missing => &mut self.missing,
            AuthFailure::Malformed => &mut self.malformed,
            AuthFailure::Stale => &mut self.stale,
            AuthFailure::UnknownKey => &mut self.unknown_key,
            AuthFailure::BadHmac => &mut self.invalid_hmac,
            AuthFailure::Replay => &mut self.replay,
            AuthFailure::NotAPeer => return 0,
        };
        *slot += 1;
        *slot
    }
}

/// An advert as the HMAC sees it: sent (no trailer yet) or received.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub version: Version,
    pub vrid: u8,
    pub src: IpAddr,
    /// The VRRP message (checksum included; it is read as zero).
    pub message: &'a [u8],
    /// The trailer received; ignored when signing.
    pub trailer: Option<&'a TrailerRepr>,
    /// Realtime at sending or receipt: time since the Unix epoch.
    pub unix_time: Duration,
}

/// The sequence and replay state of one instance.
#[derive(Debug, Clone, Default)]
pub struct HmacState {
    last_sent: Sequence,
    /// The sequence of the advert being sent to several unicast peers.
    signing: Option<Sequence>,
    /// Unicast: one mark per peer, keyed by the peer's address.
    peer_marks: Vec<(IpAddr, Sequence)>,
    /// Multicast: the most recently used first.
    slots: Vec<(IpAddr, Sequence)>,
}

/// HMAC-SHA256 truncated to 128 bits over the input [`auth_ext::hmac_input`] describes.
pub fn compute(
    key: &[u8],
    version: Version,
    vrid: u8,
    src: IpAddr,
    message: &[u8],
    head: &[u8; auth_ext::HEAD_LEN],
) -> [u8; HMAC_LEN] {
    let mut mac = new_mac(key);
    auth_ext::hmac_input(version, vrid, src, message, head, |b| mac.update(b));
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; HMAC_LEN];
    out.copy_from_slice(&full[..HMAC_LEN]);
    out
}

fn new_mac(key: &[u8]) -> SimpleHmac<Sha256> {
    match <SimpleHmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm never runs.
        Err(_) => unreachable_key(),
    }
}

#[cold]
fn unreachable_key() -> SimpleHmac<Sha256> {
    // An empty key is as valid as any for HMAC, so this too cannot fail; it only keeps the
    // code free of unwrap.
    match <SimpleHmac<Sha256> as Mac>::new_from_slice(&[]) {
        Ok(m) => m,
        Err(_) => panic!("HMAC refused an empty key"),
    }
}

/// The realtime clock as a sequence.
pub fn clock_sequence(unix_time: Duration) -> Sequence {
    Sequence::from_clock(unix_time.as_secs(), unix_time.subsec_nanos())
}

/// keepalived 2.4.3's next sequence after `last` for a clock reading `clock`.
pub fn next_sequence(
    last: Sequence,
    clock: Sequence,
    anti_replay: AntiReplay,
    window: u32,
) -> Sequence {
    if clock.is_after(last) {
        return clock;
    }
    if anti_replay == AntiReplay::Time
        && (last.seconds().wrapping_sub(clock.seconds()) as i32) > window as i32
    {
        return clock;
    }
    last.successor()
}

/// Whether trailer seconds `sec` lie within `window` of `now_sec` (inclusive), comparing
/// modulo 2^32 as keepalived does; the signed difference `now - sec`.
pub fn freshness(now_sec: u32, sec: u32, window: u32) -> (bool, i32) {
    let delta = now_sec.wrapping_sub(sec) as i32;
    (delta.unsigned_abs() <= window, delta)
}

impl HmacState {
    /// The trailer for one advert. `first_copy` is false for the second and later unicast
    /// copies of the same advert, which carry the same sequence (keepalived 2.4.3).
    pub fn sign(
        &mut self,
        cfg: &AuthHmac,
        m: &Message<'_>,
        first_copy: bool,
    ) -> Option<TrailerRepr> {
        let key = cfg.key(cfg.active_key)?;
        let sequence = match self.signing {
            Some(s) if !first_copy => s,
            _ => {
                let s = next_sequence(
                    self.last_sent,
                    clock_sequence(m.unix_time),
                    cfg.anti_replay,
                    cfg.time_window,
                );
                self.last_sent = s;
                self.signing = Some(s);
                s
            }
        };
        let mut t = TrailerRepr {
            ext_type: EXT_HMAC_SHA256_128,
            key_id: key.id,
            reserved: 0,
            sequence,
            hmac: [0; HMAC_LEN],
        };
        t.hmac = compute(&key.secret, m.version, m.vrid, m.src, m.message, &t.head());
        Some(t)
    }

    /// Check a received advert. `peers` are the unicast peers (none for multicast).
    /// `Ok(Some(delta))` when a trailer verified in time mode and the sender's clock is
    /// more than half the window away (keepalived's skew warning).
    pub fn verify(
        &mut self,
        cfg: &AuthHmac,
        peers: &[UnicastPeer],
        rx: &Message<'_>,
    ) -> Result<Option<i32>, AuthFailure> {
        let Some(t) = rx.trailer else {
            return match cfg.mode {
                HmacMode::Enforce => Err(AuthFailure::Missing),
                HmacMode::Permissive | HmacMode::ReceiveOnly => Ok(None),
            };
        };
        let unicast = !peers.is_empty();
        if unicast && !peers.iter().any(|p| p.addr == rx.src) {
            return Err(AuthFailure::NotAPeer);
        }
        if !t.well_formed() {
            return Err(AuthFailure::Malformed);
        }
        let now = clock_sequence(rx.unix_time).seconds();
        let time = cfg.anti_replay == AntiReplay::Time;
        let (fresh, delta) = freshness(now, t.sequence.seconds(), cfg.time_window);
        if time && !fresh {
            return Err(AuthFailure::Stale);
        }
        let key = cfg.key(t.key_id).ok_or(AuthFailure::UnknownKey)?;
        let mut mac = new_mac(&key.secret);
        auth_ext::hmac_input(rx.version, rx.vrid, rx.src, rx.message, &t.head(), |b| {
            mac.update(b)
        });
        // Constant time, on the first 16 bytes.
        mac.verify_truncated_left(&t.hmac)
            .map_err(|_| AuthFailure::BadHmac)?;
        let table = if unicast {
            &mut self.peer_marks
        } else {
            &mut self.slots
        };
        let pos = table.iter().position(|(a, _)| *a == rx.src);
        if let Some(i) = pos {
            let mark = table[i].1;
            let expired = time && !freshness(now, mark.seconds(), cfg.time_window).0;
            if !expired && !t.sequence.is_after(mark) {
                return Err(AuthFailure::Replay);
            }
            table.remove(i);
        } else if !unicast && table.len() >= MULTICAST_SLOTS {
            table.pop();
        }
        table.insert(0, (rx.src, t.sequence));
        let skewed = time && delta.unsigned_abs() > cfg.time_window / 2;
        Ok(skewed.then_some(delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_is_inclusive_and_modular() {
        assert_eq!(freshness(0x6800_0005, 0x6800_0000, 5), (true, 5));
        assert_eq!(freshness(0x6800_0006, 0x6800_0000, 5), (false, 6));
        assert_eq!(freshness(0x67ff_fffb, 0x6800_0000, 5), (true, -5));
        assert_eq!(freshness(0x67ff_fffa, 0x6800_0000, 5), (false, -6));
        assert_eq!(freshness(2, 0xffff_fffe, 5), (true, 4));
    }
}
