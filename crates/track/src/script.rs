//! `vrrp_script`: run a check every `interval`, never two runs of one script at once, and
//! report every result. The rise/fall counting and the weights are the protocol core's.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{info, warn};

use crate::child::{ScriptOutcome, run_with_timeout};
use crate::event::TrackEvent;
use crate::program::Program;

/// One `vrrp_script`, checked and ready.
#[derive(Debug, Clone)]
pub(crate) struct ScriptCheck {
    pub name: Arc<str>,
    pub program: Program,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Run `check` forever, sending each outcome on `events`. Ends when the receiver is gone.
pub(crate) async fn run(check: ScriptCheck, grace: Duration, events: mpsc::Sender<TrackEvent>) {
    // keepalived treats interval 0 as 1 s (with a config error); never spin.
    let interval = if check.interval.is_zero() {
        Duration::from_secs(1)
    } else {
        check.interval
    };
    let timeout = if check.timeout.is_zero() {
        interval
    } else {
        check.timeout
    };
    let mut ticker = tokio::time::interval(interval);
    // A run longer than the interval swallows the ticks it overlaps: they are skipped, not
    // queued, so the script is never started twice in a row to catch up.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);

    let mut last: Option<ScriptOutcome> = None;
    let mut started = Instant::now();
    let mut running = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if running.is_some() {
                    let state = if started.elapsed() >= timeout {
                        "being timed out"
                    } else {
                        "already running"
                    };
                    info!("Track script {} is {state}, expect idle - skipping run", check.name);
                    continue;
                }
                started = Instant::now();
                let _ = events.try_send(TrackEvent::ScriptStarted { name: check.name.clone() });
                let program = check.program.clone();
                running = Some(Box::pin(async move {
                    run_with_timeout(&program, &[], timeout, grace).await
                }));
            }
            outcome = async {
                match running.as_mut() {
                    Some(run) => run.await,
                    None => std::future::pending().await,
                }
            }, if running.is_some() =>
            {
                running = None;
                log_change(&check, last.as_ref(), &outcome, timeout);
                last = Some(outcome.clone());
                let event = TrackEvent::ScriptResult { name: check.name.clone(), outcome };
                if events.send(event).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Log like keepalived: a line when the result changes, not on every run.
fn log_change(
    check: &ScriptCheck,
    last: Option<&ScriptOutcome>,
    now: &ScriptOutcome,
    timeout: Duration,
) {
    if last == Some(now) {
        return;
    }
    match now {
        ScriptOutcome::Success => info!("Script `{}` now returning 0", check.name),
        ScriptOutcome::Failed(code) => info!("Script `{}` now returning {code}", check.name),
        ScriptOutcome::Signalled(_) => info!("Script `{}` {now}", check.name),
        ScriptOutcome::TimedOut => warn!(
            "Script `{}` timed out after {timeout:?}; its process group was killed",
            check.name
        ),
        ScriptOutcome::CouldNotRun(_) => warn!("Script `{}` {now}", check.name),
    }
}
