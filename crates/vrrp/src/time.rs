//! Monotonic time as the protocol sees it: nanoseconds from an epoch the caller picks.
//!
//! The state machines never read a clock. The daemon maps tokio's `Instant` onto this type
//! (nanoseconds since it started); the simulator starts at zero. Arithmetic saturates, so a
//! far-future deadline can never wrap into the past.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, Sub};
use std::time::Duration;

use serde::Serialize;

/// A point in monotonic time, in nanoseconds from the caller's epoch, up to `u64::MAX - 1`
/// (five centuries; later saturates there).
///
/// Kept as nanoseconds plus one, so `Option<Instant>` is the size of an `Instant`: an
/// instance keeps seven optional deadlines and marks, and a daemon may run tens of
/// thousands of instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(NonZeroU64::MIN);

    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(NonZeroU64::MIN.saturating_add(nanos))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0.get() - 1
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.as_nanos())
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.get().saturating_sub(earlier.0.get()))
    }
}

impl Default for Instant {
    fn default() -> Instant {
        Instant::ZERO
    }
}

impl Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.as_nanos())
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos(rhs)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant::from_nanos(self.as_nanos().saturating_sub(nanos(rhs)))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.as_nanos() / 1_000_000_000,
            (self.as_nanos() % 1_000_000_000) / 1_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Instant::from_nanos(u64::MAX - 2);
        assert_eq!(t + Duration::from_secs(1), Instant::from_nanos(u64::MAX));
        assert_eq!(
            (t + Duration::from_secs(1)).as_nanos(),
            u64::MAX - 1,
            "the last instant"
        );
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(
            Instant::from_nanos(5).saturating_duration_since(Instant::from_nanos(9)),
            Duration::ZERO
        );
    }

    #[test]
    fn an_optional_instant_is_the_size_of_one_and_serialises_as_nanoseconds() {
        assert_eq!(
            std::mem::size_of::<Option<Instant>>(),
            std::mem::size_of::<u64>()
        );
        assert_eq!(Instant::default(), Instant::ZERO);
        assert_eq!(Instant::ZERO.as_nanos(), 0);
        let json = serde_json::to_string(&Instant::from_nanos(1_500)).unwrap();
        assert_eq!(json, "1500");
    }

    #[test]
    fn displays_seconds_with_microseconds() {
        assert_eq!(Instant::from_nanos(3_609_375_000).to_string(), "3.609375s");
    }
}
