//! `vrrp_track_process` without the proc connector: a /proc scan finds new processes, and
//! every matching process is held by a pidfd whose readiness wakes the tracker the instant
//! the process exits. This works in network namespaces and containers, where keepalived's
//! connector fails ("Failed to set/clear process event listen - errno 111"), and counts
//! processes as the PID namespace of the daemon sees them.

mod delay;
mod pattern;
mod procfs;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_conf::TrackProcess;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use crate::event::{TrackEvent, TrackerKind};
use crate::options::TrackOptions;
use crate::pidfd::{self, PidFd};
use delay::{Cause, CountReporter};
use pattern::{COMM_MAX, ProcessPattern};
use procfs::ProcStat;

/// One `vrrp_track_process` and its current count.
#[derive(Debug)]
struct Watch {
    name: Arc<str>,
    pattern: ProcessPattern,
    reporter: CountReporter,
    count: u32,
}

/// A running process that matches at least one watch.
#[derive(Debug)]
struct Tracked {
    watches: Vec<usize>,
    starttime: u64,
    waiter: AbortHandle,
}

/// A process seen not to match anything.
#[derive(Debug)]
struct Unmatched {
    first_seen: Instant,
    generation: u64,
}

struct ProcessTracker {
    proc_root: PathBuf,
    options: TrackOptions,
    watches: Vec<Watch>,
    /// Bytes of command line to read, 0 when no watch looks at command lines.
    cmdline_bytes: usize,
    tracked: HashMap<i32, Tracked>,
    unmatched: HashMap<i32, Unmatched>,
    /// One task per tracked process, each finishing with its pid when the process exits.
    waiters: JoinSet<i32>,
    generation: u64,
    initialised: bool,
    pids: Vec<i32>,
    stat_buf: Vec<u8>,
    cmdline_buf: Vec<u8>,
    /// Counts to send, in the order they became due.
    outbox: Vec<(usize, u32)>,
}

/// [`run`] on a thread of its own, with a runtime of its own. A scan reads /proc once per
/// process on the host every 100 ms (and reading a process whose memory map is locked waits
/// for it), while a death must be seen the moment it happens: on its own thread the scans
/// never hold up the VRRP event loop, and deaths are never held up behind a scan. Ends when
/// this future is dropped (the trackers stop) or the receiver of `events` is gone.
pub(crate) async fn run_on_own_thread(
    configured: Vec<TrackProcess>,
    options: TrackOptions,
    events: mpsc::Sender<TrackEvent>,
    span: tracing::Span,
) {
    use tracing::Instrument;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("baton-process".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    error!("process tracking not started: {e}");
                    return;
                }
            };
            rt.block_on(
                async {
                    tokio::select! {
                        () = run(configured, options, events) => {}
                        _ = stopped => {}
                    }
                }
                .instrument(span),
            );
            let _ = done.send(());
        });
    if let Err(e) = spawned {
        error!("process tracking not started: {e}");
        return;
    }
    // Dropped with this future: the thread's loop ends.
    let _stop = stop;
    let _ = finished.await;
}

/// Track every `vrrp_track_process` in `configured` until the receiver of `events` is gone.
pub(crate) async fn run(
    configured: Vec<TrackProcess>,
    options: TrackOptions,
    events: mpsc::Sender<TrackEvent>,
) {
    if let Err(reason) = procfs::check_own_namespace(&options.proc_root) {
        error!("process tracking disabled: {reason}");
        for tp in configured {
            let event = TrackEvent::Disabled {
                kind: TrackerKind::Process,
                name: tp.name.as_str().into(),
                reason: reason.clone(),
            };
            if events.send(event).await.is_err() {
                return;
            }
        }
        return;
    }
    let mut tracker = ProcessTracker::new(configured, options);
    tracker.scan(true);
    if !tracker.flush(&events).await {
        return;
    }

    let mut scan = tokio::time::interval(tracker.options.process_scan_interval);
    scan.set_missed_tick_behavior(MissedTickBehavior::Delay);
    scan.tick().await;
    let mut next_full = Instant::now() + tracker.options.process_full_rescan;
    loop {
        let deadline = tracker
            .watches
            .iter()
            .filter_map(|w| w.reporter.deadline())
            .min();
        tokio::select! {
            // Deaths first: they are what the VIP is waiting for.
            biased;
            Some(done) = tracker.waiters.join_next() => {
                match done {
                    Ok(pid) => tracker.died(pid),
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => error!("process exit watcher failed: {e}"),
                }
            }
            _ = sleep_until(deadline), if deadline.is_some() => tracker.expire(),
            _ = scan.tick() => {
                let full = Instant::now() >= next_full;
                if full {
                    next_full = Instant::now() + tracker.options.process_full_rescan;
                }
                tracker.scan(full);
            }
        }
        if !tracker.flush(&events).await {
            return;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl ProcessTracker {
    fn new(configured: Vec<TrackProcess>, options: TrackOptions) -> ProcessTracker {
        let watches: Vec<Watch> = configured
            .iter()
            .map(|tp| {
                let pattern = ProcessPattern::new(tp);
                if pattern.comm_too_long() {
                    warn!(
                        "vrrp_track_process {}: process name '{}' is longer than {COMM_MAX} \
                         characters and can never match; use full_command",
                        tp.name, tp.process
                    );
                }
                Watch {
                    name: tp.name.as_str().into(),
                    reporter: CountReporter::new(
                        tp.quorum,
                        tp.quorum_max,
                        tp.fork_delay,
                        tp.terminate_delay,
                    ),
                    pattern,
                    count: 0,
                }
            })
            .collect();
        let cmdline_bytes = watches
            .iter()
            .filter(|w| w.pattern.needs_cmdline())
            .map(|w| w.pattern.cmdline_bytes())
            .max()
            .unwrap_or(0);
        ProcessTracker {
            proc_root: options.proc_root.clone(),
            options,
            watches,
            cmdline_bytes,
            tracked: HashMap::new(),
            unmatched: HashMap::new(),
            waiters: JoinSet::new(),
            generation: 0,
            initialised: false,
            pids: Vec::new(),
            stat_buf: Vec::with_capacity(512),
            cmdline_buf: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// List /proc and look at every pid not known yet (all of them when `full`).
    fn scan(&mut self, full: bool) {
        self.generation += 1;
        let generation = self.generation;
        let now = Instant::now();
        let mut pids = std::mem::take(&mut self.pids);
        if let Err(e) = procfs::list_pids(&self.proc_root, &mut pids) {
            error!("cannot list {}: {e}", self.proc_root.display());
            self.pids = pids;
            return;
        }
        for &pid in &pids {
            if self.tracked.contains_key(&pid) {
                if full {
                    self.recheck_tracked(pid);
                }
                continue;
            }
            if let Some(seen) = self.unmatched.get_mut(&pid) {
                seen.generation = generation;
                let young = now.duration_since(seen.first_seen) < self.options.process_young_window;
                if !young && !full {
                    continue;
                }
            }
            self.examine(pid, now, generation);
        }
        self.unmatched
            .retain(|_, seen| seen.generation == generation);
        self.pids = pids;
        if !self.initialised {
            self.initialised = true;
            // Every watch reports its first count, zero included.
            for (index, watch) in self.watches.iter_mut().enumerate() {
                if let Some(count) = watch.reporter.changed(now, watch.count, Cause::Other) {
                    self.outbox.push((index, count));
                }
            }
        }
    }

    /// Read one process; start tracking it if it matches.
    fn examine(&mut self, pid: i32, now: Instant, generation: u64) {
        let Some((stat, matching)) = self.read_and_match(pid) else {
            return;
        };
        if matching.is_empty() {
            self.unmatched.entry(pid).or_insert(Unmatched {
                first_seen: now,
                generation,
            });
            return;
        }
        self.unmatched.remove(&pid);
        // Open the pidfd, then make sure it is the process we read and not a successor
        // that reused the pid in between.
        let pidfd = match PidFd::open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                debug!("pid {pid} gone before it could be watched: {e}");
                return;
            }
        };
        match procfs::read_stat(&self.proc_root, pid, &mut self.stat_buf) {
            Ok(Some(again)) if again.starttime == stat.starttime && !again.is_dead() => {}
            _ => return,
        }
        let pidfd = match pidfd.into_async() {
            Ok(fd) => fd,
            Err(e) => {
                error!("cannot watch pid {pid} for exit: {e}");
                return;
            }
        };
        let waiter = self.waiters.spawn(async move {
            // An error polling a pidfd cannot be waited out: treat it as the exit.
            let _ = pidfd::exited(&pidfd).await;
            pid
        });
        let forked_from = self.tracked.get(&stat.ppid).map(|t| t.watches.clone());
        for &index in &matching {
            let cause = match &forked_from {
                Some(parent) if parent.contains(&index) => Cause::Fork,
                _ => Cause::Other,
            };
            self.count_changed(index, 1, cause, now);
        }
        self.tracked.insert(
            pid,
            Tracked {
                watches: matching,
                starttime: stat.starttime,
                waiter,
            },
        );
    }

    /// Read stat (and the command line if needed) and list the watches that match.
    fn read_and_match(&mut self, pid: i32) -> Option<(ProcStat, Vec<usize>)> {
        let stat = procfs::read_stat(&self.proc_root, pid, &mut self.stat_buf).ok()??;
        if stat.is_dead() {
            return None;
        }
        if self.cmdline_bytes > 0
            && procfs::read_cmdline(
                &self.proc_root,
                pid,
                self.cmdline_bytes,
                &mut self.cmdline_buf,
            )
            .is_err()
        {
            return None;
        }
        let matching = self
            .watches
            .iter()
            .enumerate()
            .filter(|(_, w)| w.pattern.matches(&stat.comm, &self.cmdline_buf))
            .map(|(i, _)| i)
            .collect();
        Some((stat, matching))
    }

    /// A tracked process may have exec'd into something else (same pid, new name).
    fn recheck_tracked(&mut self, pid: i32) {
        let now = Instant::now();
        let Some((stat, matching)) = self.read_and_match(pid) else {
            return; // exiting: its pidfd will say so
        };
        let Some(tracked) = self.tracked.get(&pid) else {
            return;
        };
        if stat.starttime != tracked.starttime || matching == tracked.watches {
            return;
        }
        let before = tracked.watches.clone();
        for &index in before.iter().filter(|i| !matching.contains(i)) {
            self.count_changed(index, -1, Cause::Other, now);
        }
        for &index in matching.iter().filter(|i| !before.contains(i)) {
            self.count_changed(index, 1, Cause::Other, now);
        }
        if matching.is_empty() {
            if let Some(gone) = self.tracked.remove(&pid) {
                gone.waiter.abort();
            }
            self.unmatched.insert(
                pid,
                Unmatched {
                    first_seen: now,
                    generation: self.generation,
                },
            );
        } else if let Some(tracked) = self.tracked.get_mut(&pid) {
            tracked.watches = matching;
        }
    }

    /// A tracked process exited.
    fn died(&mut self, pid: i32) {
        let now = Instant::now();
        if let Some(gone) = self.tracked.remove(&pid) {
            for index in gone.watches {
                self.count_changed(index, -1, Cause::Death, now);
            }
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        for (index, watch) in self.watches.iter_mut().enumerate() {
            if let Some(count) = watch.reporter.expired(now, watch.count) {
                self.outbox.push((index, count));
            }
        }
    }

    fn count_changed(&mut self, index: usize, delta: i32, cause: Cause, now: Instant) {
        let watch = &mut self.watches[index];
        watch.count = watch.count.saturating_add_signed(delta);
        // The first scan reports every count once, at its end.
        if !self.initialised {
            return;
        }
        if let Some(count) = watch.reporter.changed(now, watch.count, cause) {
            self.outbox.push((index, count));
        }
    }

    /// Send what is due; false once nobody listens.
    async fn flush(&mut self, events: &mpsc::Sender<TrackEvent>) -> bool {
        for (index, count) in self.outbox.drain(..) {
            let name = self.watches[index].name.clone();
            info!("Tracked process {name}: {count} running");
            if events
                .send(TrackEvent::ProcessCount { name, count })
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }
}
