//! Leaving nothing behind. The lab's `Drop` removes every namespace, process and file; this
//! module makes sure it runs however the demo ends: normally, on `q` or Ctrl-C, on SIGTERM,
//! SIGINT or SIGHUP, and on a panic (the release profile aborts on panic, so unwinding cannot
//! be relied on: a panic hook tears the lab down before the abort). The terminal is restored
//! first in every case.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::{Context, Result};
use baton_lab::Lab;
use nix::sys::signal::{SigSet, Signal};

use super::terminal;

/// The running lab, where the panic hook can reach it.
static LAB: Mutex<Option<Lab>> = Mutex::new(None);
/// Set by the signal thread.
static STOP: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Take charge of SIGINT, SIGTERM and SIGHUP: they are blocked in every thread (call this
/// before starting any) and a thread of their own waits for them and raises the stop flag,
/// which every wait of the demo checks. Programs the demo starts get a clean signal mask
/// from the standard library.
pub fn catch_signals() -> Result<()> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block().context("blocking signals")?;
    std::thread::Builder::new()
        .name("demo-signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                SIGNAL.store(sig as i32, Ordering::SeqCst);
                STOP.store(true, Ordering::SeqCst);
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// Whether a signal asked the demo to end.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The signal that asked, if one did.
pub fn signal_received() -> Option<Signal> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// Ask the demo to end (the `q` key).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// On a panic: restore the terminal, print the panic as usual, then remove the lab.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        terminal::restore();
        previous(info);
        if let Some(lab) = take_lab() {
            eprintln!("baton demo: removing lab {} after the panic", lab.id());
            drop(lab);
        }
    }));
}

/// Hand the lab over; from now on a panic tears it down.
pub fn keep_lab(lab: Lab) {
    let mut slot = LAB.lock().unwrap_or_else(|p| p.into_inner());
    *slot = Some(lab);
}

/// Use the lab (to add hosts); `None` once it is gone.
pub fn with_lab<T>(f: impl FnOnce(&Lab) -> T) -> Option<T> {
    let slot = LAB.lock().unwrap_or_else(|p| p.into_inner());
    slot.as_ref().map(f)
}

/// Take the lab back, to tear it down. `None` if a panic already did.
pub fn take_lab() -> Option<Lab> {
    // try_lock: a panic while the slot is held (only ever for a moment) must not deadlock.
    match LAB.try_lock() {
        Ok(mut slot) => slot.take(),
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().take(),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}
