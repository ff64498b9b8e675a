//! systemd readiness notification (`Type=notify`). Debian's keepalived.service expects
//! READY=1 once the daemon runs, RELOADING=1 … READY=1 around a SIGHUP reload and STOPPING=1
//! on the way out. Without `NOTIFY_SOCKET` every call does nothing.
//!
//! The message goes out on a non-blocking socket: the loop pings the watchdog, and a
//! manager that stops reading (its queue full) must not stop the loop with it; the message is
//! dropped instead, and the next ping says the same.

use std::fmt::Write as _;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

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
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let mut msg = String::new();
    for s in states {
        let _ = writeln!(msg, "{s}");
    }
    // The manager being away or busy is not the daemon's problem; log and carry on.
    if let Err(e) = send_to(socket.as_bytes(), msg.as_bytes()) {
        tracing::debug!("sd_notify failed: {e}");
    }
}

/// One datagram to the manager's socket (`@name` is in the abstract namespace), never
/// waiting for room in its queue.
fn send_to(socket: &[u8], msg: &[u8]) -> io::Result<()> {
    let addr = match socket.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(socket))?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    let sent = sock.send_to_addr(msg, &addr)?;
    if sent != msg.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "incomplete write"));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_manager_that_stops_reading_never_makes_the_loop_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = UnixDatagram::bind(&path).unwrap();
        send_to(path.as_os_str().as_bytes(), b"READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
        // Nobody reads any more: the queue fills, and every further send returns at once.
        let start = std::time::Instant::now();
        let mut refused = 0;
        for _ in 0..10_000 {
            if send_to(path.as_os_str().as_bytes(), b"WATCHDOG=1\n").is_err() {
                refused += 1;
            }
        }
        assert!(refused > 0, "the manager's queue never filled");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn abstract_sockets_are_reached_by_their_at_sign() {
        let name = format!("baton-notify-test-{}", std::process::id());
        let manager =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        send_to(format!("@{name}").as_bytes(), b"STOPPING=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1\n");
    }
}
