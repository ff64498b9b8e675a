//! Log lines about peers, limited. Anyone on a segment can send adverts under any source
//! address, and each kind of line about what a peer sent (a lower priority, a configuration
//! mismatch, an address conflict, an unknown VRID, a malformed datagram) could otherwise be
//! written once per forged packet. Of each kind, the first [`BURST`] lines of a
//! [`WINDOW`] are written; the rest are counted, and when the window closes one line says
//! how many were left out:
//!
//! ```text
//! … and 4,312 more lower priority advert lines from other sources in the last 10 s
//! ```
//!
//! Two peers that say something every second stay within the burst and are logged as
//! keepalived logs them; a peer at ten adverts a second is summarised "from the same
//! sources".

use std::net::IpAddr;
use std::time::Duration;

use baton_vrrp::{Instant, Level, PeerLogKind};
use serde::Serialize;

/// How long one window lasts.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Lines of one kind written per window: two peers saying something every second (the
/// default `advert_int`) are written in full.
pub const BURST: usize = 20;

#[derive(Debug, Default, Clone)]
struct Kind {
    /// When the current window closes; `None` between windows.
    closes: Option<Instant>,
    written: usize,
    /// Sources of the lines written this window.
    sources: [Option<IpAddr>; BURST],
    left_out: u64,
    /// Of those, from a source none of the written lines named.
    from_others: u64,
    level: Option<Level>,
}

/// Lines left out so far, per kind, for status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub lower_priority: u64,
    pub mismatch: u64,
    pub conflict: u64,
    pub unknown_vrid: u64,
    pub malformed: u64,
}

impl LeftOut {
    fn slot(&mut self, kind: PeerLogKind) -> &mut u64 {
        match kind {
            PeerLogKind::LowerPriority => &mut self.lower_priority,
            PeerLogKind::Mismatch => &mut self.mismatch,
            PeerLogKind::Conflict => &mut self.conflict,
            PeerLogKind::UnknownVrid => &mut self.unknown_vrid,
            PeerLogKind::Malformed => &mut self.malformed,
        }
    }
}

/// The limiter, one window per kind.
#[derive(Debug, Default)]
pub struct PeerLogLimit {
    kinds: [Kind; PeerLogKind::ALL.len()],
    pub left_out: LeftOut,
}

fn index(kind: PeerLogKind) -> usize {
    PeerLogKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

impl PeerLogLimit {
    /// Whether a line of `kind` about `source` may be written now; if not, it is counted.
    pub fn admit(&mut self, now: Instant, kind: PeerLogKind, source: IpAddr, level: Level) -> bool {
        let k = &mut self.kinds[index(kind)];
        if k.closes.is_none() {
            k.closes = Some(now + WINDOW);
        }
        if k.written < BURST {
            k.sources[k.written] = Some(source);
            k.written += 1;
            return true;
        }
        k.left_out += 1;
        if !k.sources.contains(&Some(source)) {
            k.from_others += 1;
        }
        k.level = k.level.max(Some(level));
        *self.left_out.slot(kind) += 1;
        false
    }

    /// When a window with lines left out closes (a summary is due then).
    pub fn next_due(&self) -> Option<Instant> {
        self.kinds
            .iter()
            .filter(|k| k.left_out > 0)
            .filter_map(|k| k.closes)
            .min()
    }

    /// Close the windows that are over; the summary lines of those that left lines out.
    pub fn close_windows(&mut self, now: Instant) -> Vec<(Level, String)> {
        let mut out = Vec::new();
        for (kind, k) in PeerLogKind::ALL.iter().zip(self.kinds.iter_mut()) {
            if k.closes.is_none_or(|t| t > now) {
                continue;
            }
            if k.left_out > 0 {
                out.push((k.level.unwrap_or(Level::Info), summary(*kind, k)));
            }
            *k = Kind::default();
        }
        out
    }
}

fn summary(kind: PeerLogKind, k: &Kind) -> String {
    let what = kind.describe();
    let n = thousands(k.left_out);
    let secs = WINDOW.as_secs();
    if k.from_others == k.left_out {
        format!("… and {n} more {what} lines from other sources in the last {secs} s")
    } else if k.from_others == 0 {
        format!("… and {n} more {what} lines from the same sources in the last {secs} s")
    } else {
        format!(
            "… and {n} more {what} lines ({} from other sources) in the last {secs} s",
            thousands(k.from_others)
        )
    }
}

/// 4312 as "4,312".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn src(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
    }

    #[test]
    fn a_flood_from_forged_sources_writes_a_burst_and_one_summary() {
        let mut l = PeerLogLimit::default();
        let t0 = Instant::ZERO;
        let written = (0..(4_312 + BURST as u32))
            .filter(|i| {
                l.admit(
                    t0 + Duration::from_micros(u64::from(*i)),
                    PeerLogKind::LowerPriority,
                    src(*i),
                    Level::Info,
                )
            })
            .count();
        assert_eq!(written, BURST);
        assert_eq!(l.next_due(), Some(t0 + WINDOW));
        assert!(l.close_windows(t0 + Duration::from_secs(9)).is_empty());
        let lines = l.close_windows(t0 + WINDOW);
        assert_eq!(
            lines,
            [(
                Level::Info,
                "… and 4,312 more lower priority advert lines from other sources in the last 10 s"
                    .to_string()
            )]
        );
        assert_eq!(l.left_out.lower_priority, 4_312);
        assert_eq!(l.next_due(), None);
        // The next window starts afresh.
        assert!(l.admit(
            t0 + WINDOW * 2,
            PeerLogKind::LowerPriority,
            src(1),
            Level::Info
        ));
    }

    #[test]
    fn two_real_peers_every_second_are_always_written() {
        let mut l = PeerLogLimit::default();
        for s in 0..60u64 {
            let now = Instant::ZERO + Duration::from_secs(s);
            assert_eq!(l.close_windows(now), []);
            assert!(l.admit(now, PeerLogKind::Mismatch, src(7), Level::Warn));
            assert!(l.admit(now, PeerLogKind::Mismatch, src(9), Level::Warn));
            assert!(l.admit(now, PeerLogKind::LowerPriority, src(8), Level::Info));
        }
    }

    #[test]
    fn kinds_are_limited_apart_and_repeats_are_told_from_others() {
        let mut l = PeerLogLimit::default();
        let t = Instant::ZERO;
        for _ in 0..(BURST + 3) {
            l.admit(t, PeerLogKind::Mismatch, src(1), Level::Warn);
        }
        for i in 0..(BURST as u32 + 2) {
            l.admit(
                t,
                PeerLogKind::Conflict,
                src(i % (BURST as u32 + 1)),
                Level::Error,
            );
        }
        assert!(l.admit(t, PeerLogKind::UnknownVrid, src(1), Level::Info));
        let lines = l.close_windows(t + WINDOW);
        assert_eq!(
            lines,
            [
                (
                    Level::Warn,
                    "… and 3 more configuration mismatch lines from the same sources in the last 10 s"
                        .to_string()
                ),
                (
                    Level::Error,
                    "… and 2 more address conflict lines (1 from other sources) in the last 10 s"
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
