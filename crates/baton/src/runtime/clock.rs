//! The protocol core's clock: nanoseconds since one epoch taken when the daemon starts, read
//! from tokio's monotonic clock. Every input gets `now()`, and the core's deadlines turn back
//! into tokio instants to sleep on.

use std::time::Duration;

use baton_vrrp::Instant;

/// How far ahead "no deadline" sleeps: long enough to never fire, short enough to stay far
/// from any overflow.
const FAR_AWAY: Duration = Duration::from_secs(86_400 * 365);

/// Maps tokio time onto the core's [`Instant`].
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: tokio::time::Instant,
}

impl Clock {
    /// Take the epoch now.
    pub fn start() -> Clock {
        Clock {
            epoch: tokio::time::Instant::now(),
        }
    }

    /// The core's time for a tokio instant (instants before the epoch are the epoch).
    pub fn at(&self, t: tokio::time::Instant) -> Instant {
        let nanos = t.saturating_duration_since(self.epoch).as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    pub fn now(&self) -> Instant {
        self.at(tokio::time::Instant::now())
    }

    /// The tokio instant to sleep until for a core deadline; `None` sleeps "forever".
    pub fn wake_at(&self, deadline: Option<Instant>) -> tokio::time::Instant {
        let far = || tokio::time::Instant::now() + FAR_AWAY;
        match deadline {
            Some(d) => self
                .epoch
                .checked_add(d.since_epoch())
                .filter(|t| *t < far())
                .unwrap_or_else(far),
            None => far(),
        }
    }
}

/// Time since the machine booted (`/proc/uptime`, suspended time included), for
/// `vrrp_delay_after_boot`; zero if it cannot be read, which waits the whole delay.
pub fn since_boot() -> Duration {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::ZERO, Duration::from_secs_f64)
}

/// The realtime clock, since the Unix epoch: only for `auth_hmac`, whose sequence numbers
/// and freshness window are wall-clock seconds. A clock before 1970 reads as the epoch.
pub fn unix_time() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_instants_and_tokio_instants_map_both_ways() {
        let clock = Clock::start();
        let later = clock.epoch + Duration::from_millis(1500);
        let core = clock.at(later);
        assert_eq!(core, Instant::from_nanos(1_500_000_000));
        assert_eq!(clock.wake_at(Some(core)), later);
        // Before the epoch clamps to zero rather than wrapping.
        let before = clock.epoch.checked_sub(Duration::from_millis(5));
        if let Some(b) = before {
            assert_eq!(clock.at(b), Instant::ZERO);
        }
    }

    #[test]
    fn no_deadline_and_absurd_deadlines_sleep_far_away_without_overflow() {
        let clock = Clock::start();
        let never = clock.wake_at(None);
        assert!(never > tokio::time::Instant::now() + Duration::from_secs(86_400));
        let absurd = clock.wake_at(Some(Instant::from_nanos(u64::MAX)));
        assert!(absurd > tokio::time::Instant::now() + Duration::from_secs(86_400));
    }
}
