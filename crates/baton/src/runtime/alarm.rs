//! The loop's alarm for the core's next deadline: a timerfd, so a Master_Down_Interval or a
//! fast-handover delay ends within the kernel's timer slack (50 µs) of when it is due.
//! tokio's own timer counts whole milliseconds and rounds every sleep up to the next one,
//! which made every takeover about a millisecond late, and up to two.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// A one-shot timer on CLOCK_MONOTONIC (the clock tokio's and std's `Instant` read).
#[derive(Debug)]
pub struct Alarm {
    fd: AsyncFd<OwnedFd>,
    /// The time it is set for, so setting the same time again costs no system call.
    set_for: Option<Instant>,
}

impl Alarm {
    /// Must be called inside a tokio runtime.
    pub fn new() -> io::Result<Alarm> {
        // SAFETY: timerfd_create takes no pointers; its result is checked before use.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor just opened and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the AsyncFd owns the descriptor, which nothing else closes or replaces.
        let fd = unsafe { AsyncFd::register(fd) }?;
        Ok(Alarm { fd, set_for: None })
    }

    /// Ring at `at` (or at once if that has passed), replacing any earlier setting.
    pub fn set(&mut self, at: Instant) -> io::Result<()> {
        if self.set_for == Some(at) {
            return Ok(());
        }
        // Relative to now, read before the timer starts counting: it never rings early.
        // A zero value would disarm the timer, so "now" is one nanosecond.
        let after = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(after.subsec_nanos()),
            },
        };
        // SAFETY: `spec` lives across the call; the old value is not asked for (null).
        let r =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        self.set_for = Some(at);
        Ok(())
    }

    /// Wait until the alarm rings. Cancel-safe: nothing is consumed until it has rung.
    pub async fn rung(&mut self) -> io::Result<()> {
        loop {
            let mut ready = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: the buffer is 8 writable bytes, the size a timerfd read needs.
            let n = unsafe {
                libc::read(
                    ready.get_inner().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if n == 8 {
                self.set_for = None;
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
            ready.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn rings_at_its_time_never_before() {
        runtime().block_on(async {
            let mut alarm = Alarm::new().unwrap();
            for micros in [0u64, 300, 2_500] {
                let at = Instant::now() + Duration::from_micros(micros);
                alarm.set(at).unwrap();
                alarm.rung().await.unwrap();
                let now = Instant::now();
                assert!(now >= at, "rang {:?} early", at - now);
                // Generous: a loaded CI machine may be slow to schedule us, but never
                // by tokio's whole-millisecond rounding every time.
                assert!(
                    now - at < Duration::from_millis(50),
                    "rang {:?} late",
                    now - at
                );
            }
        });
    }

    #[test]
    fn a_new_time_replaces_the_old_one() {
        runtime().block_on(async {
            let mut alarm = Alarm::new().unwrap();
            let start = Instant::now();
            alarm.set(start + Duration::from_secs(3600)).unwrap();
            alarm.set(start + Duration::from_millis(1)).unwrap();
            tokio::time::timeout(Duration::from_secs(5), alarm.rung())
                .await
                .expect("the later setting should have replaced the hour")
                .unwrap();
        });
    }
}
