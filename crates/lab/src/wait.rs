//! Waiting for something to become true, with an error that says what was awaited.
//!
//! Lab tests wait for real kernels and real daemons, so every wait has a deadline and a poll
//! interval chosen by the test, and a timeout names the condition and the last error seen:
//! "timed out after 5s waiting for lb2 to hold 192.168.5.10 (last error: ...)".

use std::fmt::Display;
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// A condition's answer: `bool`, or `Result<bool, E>` whose errors count as "not yet" and are
/// quoted in the timeout message.
pub trait Condition {
    /// `Ok(true)` when satisfied; `Err` describes why the check could not tell.
    fn holds(self) -> std::result::Result<bool, String>;
}

impl Condition for bool {
    fn holds(self) -> std::result::Result<bool, String> {
        Ok(self)
    }
}

impl<E: Display> Condition for std::result::Result<bool, E> {
    fn holds(self) -> std::result::Result<bool, String> {
        self.map_err(|e| e.to_string())
    }
}

/// A probe's answer: `Option<T>`, or `Result<Option<T>, E>` (errors count as "not yet").
pub trait Found<T> {
    /// `Ok(Some(value))` when found.
    fn found(self) -> std::result::Result<Option<T>, String>;
}

impl<T> Found<T> for Option<T> {
    fn found(self) -> std::result::Result<Option<T>, String> {
        Ok(self)
    }
}

impl<T, E: Display> Found<T> for std::result::Result<Option<T>, E> {
    fn found(self) -> std::result::Result<Option<T>, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Poll `condition` every `poll` until it holds; how long that took. Fails after `timeout`
/// with an error naming `what`.
///
/// ```no_run
/// # fn f(lb2: &baton_lab::Host) -> baton_lab::Result<()> {
/// use baton_lab::{ms, secs, wait_until};
/// wait_until("lb2 to hold the VIP", secs(5), ms(10), || lb2.has_addr("192.168.5.10"))?;
/// # Ok(()) }
/// ```
pub fn wait_until<C: Condition>(
    what: impl Display,
    timeout: Duration,
    poll: Duration,
    mut condition: impl FnMut() -> C,
) -> Result<Duration> {
    wait_for(what, timeout, poll, || {
        condition().holds().map(|ok| ok.then_some(()))
    })
    .map(|((), elapsed)| elapsed)
}

/// Poll `probe` every `poll` until it finds something; the value and how long that took.
/// Fails after `timeout` with an error naming `what`.
pub fn wait_for<T, F: Found<T>>(
    what: impl Display,
    timeout: Duration,
    poll: Duration,
    mut probe: impl FnMut() -> F,
) -> Result<(T, Duration)> {
    let start = Instant::now();
    let mut last = None;
    loop {
        match probe().found() {
            Ok(Some(v)) => return Ok((v, start.elapsed())),
            Ok(None) => {}
            Err(e) => last = Some(e),
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                after: timeout,
                last,
            });
        }
        std::thread::sleep(poll.min(timeout - elapsed));
    }
}

/// `Duration::from_millis`, short enough for one-line waits.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `Duration::from_secs`, short enough for one-line waits.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_once_the_condition_holds() {
        let mut n = 0;
        let took = wait_until("n to reach 3", secs(5), ms(1), || {
            n += 1;
            n >= 3
        })
        .unwrap();
        assert_eq!(n, 3);
        assert!(took < secs(5));
    }

    #[test]
    fn timeout_names_the_condition_and_last_error() {
        let err = wait_until("the moon", ms(20), ms(5), || -> Result<bool> {
            Err(Error::invalid("moon", "not found"))
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("timed out after 20ms waiting for the moon"),
            "{msg}"
        );
        assert!(msg.contains("invalid moon: not found"), "{msg}");
    }

    #[test]
    fn errors_count_as_not_yet() {
        let mut n = 0;
        let (v, _) = wait_for("the third try", secs(5), ms(1), || {
            n += 1;
            if n < 3 { Err("not yet") } else { Ok(Some(n)) }
        })
        .unwrap();
        assert_eq!(v, 3);
    }

    #[test]
    fn waits_roughly_the_timeout() {
        let start = Instant::now();
        assert!(wait_until("never", ms(30), ms(10), || false).is_err());
        let took = start.elapsed();
        assert!(took >= ms(30) && took < secs(2), "{took:?}");
    }
}
