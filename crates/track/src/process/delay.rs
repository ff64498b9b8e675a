//! `fork_delay` and `terminate_delay`: when a change of the process count would move a
//! tracker in or out of quorum, keepalived waits before acting, so a reload that stops and
//! re-forks a daemon does not bounce the instance. Counts that keep quorum as it was are
//! reported at once; a change that flips it waits for the delay of its cause (a death:
//! `terminate_delay`, a fork of a counted process: `fork_delay`; a newly started or renamed
//! process: none) and is dropped if the count flips back meanwhile.

use std::time::Duration;

use tokio::time::Instant;

/// What changed the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A counted process exited.
    Death,
    /// A counted process forked a child that is counted too.
    Fork,
    /// A process started (or was renamed) into matching, or was renamed out of it.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct CountReporter {
    quorum: u32,
    quorum_max: u32,
    fork_delay: Duration,
    terminate_delay: Duration,
    reported: Option<u32>,
    deadline: Option<Instant>,
}

impl CountReporter {
    pub(crate) fn new(
        quorum: u32,
        quorum_max: Option<u32>,
        fork_delay: Duration,
        terminate_delay: Duration,
    ) -> CountReporter {
        CountReporter {
            quorum,
            quorum_max: quorum_max.unwrap_or(u32::MAX),
            fork_delay,
            terminate_delay,
            reported: None,
            deadline: None,
        }
    }

    fn in_quorum(&self, count: u32) -> bool {
        count >= self.quorum && count <= self.quorum_max
    }

    /// The count changed to `count`; returns the count to report now, if any.
    pub(crate) fn changed(&mut self, now: Instant, count: u32, cause: Cause) -> Option<u32> {
        let Some(reported) = self.reported else {
            return self.report(count);
        };
        if self.in_quorum(count) == self.in_quorum(reported) {
            // Quorum as reported: a pending flip (if any) is void.
            self.deadline = None;
            return (count != reported).then(|| self.report(count)).flatten();
        }
        if self.deadline.is_some() {
            // Already flipping: the first cause's delay runs on, as in keepalived.
            return None;
        }
        let delay = match cause {
            Cause::Death => self.terminate_delay,
            Cause::Fork => self.fork_delay,
            Cause::Other => Duration::ZERO,
        };
        if delay.is_zero() {
            return self.report(count);
        }
        self.deadline = Some(now + delay);
        None
    }

    /// When a held-back change is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The delay ran out with the count at `count`.
    pub(crate) fn expired(&mut self, now: Instant, count: u32) -> Option<u32> {
        match self.deadline {
            Some(due) if due <= now => {
                self.deadline = None;
                (Some(count) != self.reported)
                    .then(|| self.report(count))
                    .flatten()
            }
            _ => None,
        }
    }

    fn report(&mut self, count: u32) -> Option<u32> {
        self.reported = Some(count);
        Some(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn first_count_is_reported_at_once() {
        let mut r = CountReporter::new(1, None, S, S);
        assert_eq!(r.changed(Instant::now(), 0, Cause::Death), Some(0));
    }

    #[test]
    fn without_delays_every_change_is_reported() {
        let mut r = CountReporter::new(1, None, Duration::ZERO, Duration::ZERO);
        let t = Instant::now();
        assert_eq!(r.changed(t, 2, Cause::Other), Some(2));
        assert_eq!(r.changed(t, 1, Cause::Death), Some(1));
        assert_eq!(r.changed(t, 0, Cause::Death), Some(0));
        assert_eq!(r.changed(t, 1, Cause::Other), Some(1));
    }

    #[test]
    fn losing_quorum_by_death_waits_for_terminate_delay() {
        let mut r = CountReporter::new(1, None, Duration::ZERO, S);
        let t = Instant::now();
        assert_eq!(r.changed(t, 2, Cause::Other), Some(2));
        // 2 -> 1 keeps quorum: reported at once.
        assert_eq!(r.changed(t, 1, Cause::Death), Some(1));
        assert_eq!(r.changed(t, 0, Cause::Death), None);
        assert_eq!(r.deadline(), Some(t + S));
        assert_eq!(r.expired(t + S / 2, 0), None);
        assert_eq!(r.expired(t + S, 0), Some(0));
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn a_restart_within_terminate_delay_is_never_reported_as_down() {
        let mut r = CountReporter::new(1, None, Duration::ZERO, S);
        let t = Instant::now();
        assert_eq!(r.changed(t, 1, Cause::Other), Some(1));
        assert_eq!(r.changed(t, 0, Cause::Death), None);
        // The daemon is back before the delay ends: quorum never looked lost.
        assert_eq!(r.changed(t + S / 4, 1, Cause::Other), None);
        assert_eq!(r.deadline(), None);
        assert_eq!(r.expired(t + S, 1), None);
    }

    #[test]
    fn fork_over_quorum_max_waits_for_fork_delay() {
        let mut r = CountReporter::new(1, Some(1), S, Duration::ZERO);
        let t = Instant::now();
        assert_eq!(r.changed(t, 1, Cause::Other), Some(1));
        assert_eq!(r.changed(t, 2, Cause::Fork), None);
        // The child execs away in time: no report at all.
        assert_eq!(r.changed(t + S / 2, 1, Cause::Other), None);
        // A second process that is not a fork counts at once.
        assert_eq!(r.changed(t + S, 2, Cause::Other), Some(2));
    }

    #[test]
    fn expiry_reports_the_count_of_that_moment() {
        let mut r = CountReporter::new(2, None, Duration::ZERO, S);
        let t = Instant::now();
        assert_eq!(r.changed(t, 3, Cause::Other), Some(3));
        assert_eq!(r.changed(t, 2, Cause::Death), Some(2));
        assert_eq!(r.changed(t, 1, Cause::Death), None);
        assert_eq!(r.changed(t, 0, Cause::Death), None);
        assert_eq!(r.expired(t + S, 0), Some(0));
    }
}
