//! The protocol's timer formulas (RFC 3768 §6.1, RFC 5798 §6.1, keepalived's vrrp.h), and the
//! fast-handover takeover delay.
//!
//! | timer | VRRPv2 | VRRPv3 |
//! |---|---|---|
//! | Skew_Time | `(256 − prio) / 256` s | `(256 − prio) × Master_Adver_Interval / 256` |
//! | Master_Down_Interval | `down_timer_adverts × Advertisement_Interval + Skew_Time` | `down_timer_adverts × Master_Adver_Interval + Skew_Time` |
//!
//! `prio` is the effective priority, 255 for an address owner. `down_timer_adverts` is 3 in
//! the RFCs and keepalived's default; `vrrp_strict` forces 3.
//!
//! **Fast handover** (baton's extension): where keepalived waits Skew_Time after a priority-0
//! advert (0.61 s at priority 100 in v2) or a whole Master_Down_Interval before preempting a
//! master that advertises a lower priority, baton waits [`fast_takeover_delay`]: Skew_Time's
//! shape scaled to a 20 ms base, `(256 − prio) × 20 ms / 256`. Higher priorities still go
//! first (priority 200 waits 4.4 ms, priority 100 waits 12.2 ms), so with several backups the
//! best one usually claims the VIP before the others' timers fire. The trade-off: two backups
//! whose priorities differ by `d` are only `d × 78 µs` apart, so if the segment's latency is
//! larger than that both may enter MASTER for the time an advert takes to cross; the lower
//! one yields on the first advert it hears (a flap of one one-way delay, resolved without a
//! timer). keepalived's and the RFC's longer skew avoids that overlap at the price of a
//! slower takeover; `vrrp_strict` or `fast_handover off` restores it exactly.

use std::time::Duration;

use baton_wire::Version;

/// The base of the fast-handover takeover delay.
pub const FAST_SKEW_BASE: Duration = Duration::from_millis(20);

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Skew_Time for `priority` (effective, or 255 for the owner).
pub fn skew_time(version: Version, priority: u8, master_adver_interval: Duration) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        // RFC 3768 §6.1: ((256 - Priority) / 256), independent of the interval.
        Version::V2 => Duration::from_nanos(weight * NANOS_PER_SEC / 256),
        // RFC 5798 §6.1: (((256 - priority) * Master_Adver_Interval) / 256).
        Version::V3 => {
            let interval = u64::try_from(master_adver_interval.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(weight.saturating_mul(interval) / 256)
        }
    }
}

/// Master_Down_Interval: `down_timer_adverts × Master_Adver_Interval + Skew_Time`.
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval: Duration,
    down_timer_adverts: u8,
) -> Duration {
    master_adver_interval * u32::from(down_timer_adverts.max(1))
        + skew_time(version, priority, master_adver_interval)
}

/// The fast-handover takeover delay: Skew_Time's shape on a 20 ms base.
pub fn fast_takeover_delay(priority: u8) -> Duration {
    let weight = 256 - u64::from(priority);
    let base = u64::try_from(FAST_SKEW_BASE.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(weight * base / 256)
}

/// The advertisement interval as it travels: whole seconds for v2 (keepalived rounds and
/// refuses zero), centiseconds in 12 bits for v3. Returns the field and the interval it
/// really means.
pub fn advert_interval_field(version: Version, configured: Duration) -> (u16, Duration) {
    let field = match version {
        Version::V2 => ((configured.as_millis() + 500) / 1000).clamp(1, 255) as u16,
        Version::V3 => ((configured.as_millis() + 5) / 10).clamp(1, 0x0fff) as u16,
    };
    (field, baton_wire::advert::interval_duration(version, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived-semantics §3: "Example: v2, advert_int 1, prio 100 → 3 + 156/256 ≈ 3.61 s."
    #[test]
    fn v2_master_down_interval_at_priority_100_is_3_61_s() {
        let mdi = master_down_interval(Version::V2, 100, Duration::from_secs(1), 3);
        assert_eq!(mdi, Duration::from_nanos(3_609_375_000));
    }

    /// RFC 3768 §6.1: "Skew_Time ... ((256 - Priority) / 256)" — independent of the interval.
    #[test]
    fn v2_skew_ignores_the_interval() {
        let a = skew_time(Version::V2, 200, Duration::from_secs(1));
        let b = skew_time(Version::V2, 200, Duration::from_secs(5));
        assert_eq!(a, b);
        assert_eq!(a, Duration::from_nanos(56 * 3_906_250));
    }

    /// RFC 5798 §6.1: "Skew_Time ... (((256 - priority) * Master_Adver_Interval) / 256)".
    #[test]
    fn v3_skew_scales_with_the_master_interval() {
        let s = skew_time(Version::V3, 100, Duration::from_millis(100));
        assert_eq!(s, Duration::from_nanos(156 * 100_000_000 / 256));
        let owner = skew_time(Version::V3, 255, Duration::from_secs(1));
        assert_eq!(owner, Duration::from_nanos(1_000_000_000 / 256));
    }

    /// keepalived's vrrp_down_timer_adverts replaces the RFC's 3.
    #[test]
    fn down_timer_adverts_multiplies_the_interval() {
        let five = master_down_interval(Version::V3, 255, Duration::from_millis(100), 5);
        assert_eq!(
            five,
            Duration::from_millis(500) + Duration::from_nanos(100_000_000 / 256)
        );
    }

    #[test]
    fn fast_takeover_is_priority_ordered_and_under_20_ms() {
        assert!(fast_takeover_delay(200) < fast_takeover_delay(100));
        assert!(fast_takeover_delay(1) < FAST_SKEW_BASE);
        assert_eq!(fast_takeover_delay(100), Duration::from_nanos(156 * 78_125));
    }

    /// keepalived: v2 advert_int is whole seconds (fractions rounded); v3 is 10 ms units.
    #[test]
    fn interval_field_rounds_like_keepalived() {
        assert_eq!(
            advert_interval_field(Version::V2, Duration::from_millis(1400)).0,
            1
        );
        assert_eq!(
            advert_interval_field(Version::V2, Duration::from_millis(100)).0,
            1
        );
        assert_eq!(
            advert_interval_field(Version::V3, Duration::from_millis(100)).0,
            10
        );
        assert_eq!(
            advert_interval_field(Version::V3, Duration::from_secs(100)),
            (4095, Duration::from_millis(40_950))
        );
    }
}
