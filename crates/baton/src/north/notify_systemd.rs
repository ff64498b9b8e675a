//! systemd readiness notification (`Type=notify`). Debian's keepalived.service expects
//! READY=1 once the daemon runs, RELOADING=1 … READY=1 around a SIGHUP reload and STOPPING=1
//! on the way out. Without `NOTIFY_SOCKET` every call does nothing.

use sd_notify::NotifyState;

/// The daemon's lifecycle as systemd sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Ready,
    Reloading,
    Stopping,
}

/// Tell systemd about a lifecycle step, with a human-readable `STATUS=` line.
pub fn notify(step: Lifecycle, status: &str) {
    let state = match step {
        Lifecycle::Ready => NotifyState::Ready,
        Lifecycle::Reloading => NotifyState::Reloading,
        Lifecycle::Stopping => NotifyState::Stopping,
    };
    send(&[state, NotifyState::Status(status)]);
}

/// Update only the `STATUS=` line (e.g. "2 instances, 1 MASTER").
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

fn send(states: &[NotifyState<'_>]) {
    // The manager being away is not the daemon's problem; log and carry on.
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify failed: {e}");
    }
}

/// How often to ping systemd's watchdog: half of `WatchdogSec=` (sd_watchdog_enabled(3)'s
/// advice), or `None` when the unit asks for no watchdog (or it is meant for another pid).
pub fn watchdog_period() -> Option<std::time::Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// `WATCHDOG=1`: the event loop is alive.
pub fn watchdog_ping() {
    send(&[NotifyState::Watchdog]);
}
