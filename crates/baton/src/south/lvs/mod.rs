//! The LVS data plane: baton-nft's [`Dataplane`] on a thread of its own, behind the LVS
//! core's [`Backend`] trait.
//!
//! Programming nftables is a blocking netlink exchange (microseconds to a few milliseconds,
//! more for large services), so it never runs on the event loop: the loop hands the whole
//! desired forwarding table to the data-plane thread and goes on. The thread programs the
//! latest table it has been given (tables that were overtaken before it got to them are
//! skipped: each is complete), logs what the kernel refused with the reason, and keeps the
//! rest serving. Its tables are owned by the process, so the kernel removes them if baton
//! dies; on a clean stop the thread deletes them itself.

pub mod translate;

use std::collections::BTreeSet;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use baton_lvs::{Backend, Change, Table};
use baton_nft::lvs::ForwardingTable;
use baton_nft::{Dataplane, Options};
use serde::Serialize;

pub use translate::DrInterfaces;

/// What `baton status` shows of the data plane.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataplaneStatus {
    /// `inet NAME` (and `netdev NAME` once a DR service exists).
    pub table: String,
    /// The tables exist and are baton's.
    pub open: bool,
    /// Why they are not, when they are not.
    pub error: Option<String>,
    /// Tables handed to the thread, and how many of them it programmed (the others were
    /// overtaken by a newer one before it got to them).
    pub submitted: u64,
    pub programmed: u64,
    /// Programmings that failed, whole (the kernel refused the transaction) or for some
    /// services (see `refused`).
    pub apply_errors: u64,
    /// Netlink messages of the last transaction that changed something.
    pub last_messages: usize,
    /// Services the kernel (or the data plane) refused in the last programming, with why.
    pub refused: Vec<Refusal>,
    /// Services the daemon could not express for the data plane, with why.
    pub left_out: Vec<Refusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub service: String,
    pub reason: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Job {
    Program(ForwardingTable),
    Close,
}

/// The data-plane thread.
#[derive(Debug)]
pub struct DataplaneThread {
    jobs: std_mpsc::Sender<Job>,
    thread: Option<JoinHandle<()>>,
    status: Arc<Mutex<DataplaneStatus>>,
}

/// The thread is gone (its tables could not be made): nothing can be programmed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the LVS data plane is not running")]
pub struct Stopped;

impl DataplaneThread {
    /// Start the thread, which opens baton's tables in this network namespace (replacing a
    /// stale copy a crashed baton left).
    pub fn start(options: Options) -> std::io::Result<DataplaneThread> {
        let (jobs, rx) = std_mpsc::channel();
        let status = Arc::new(Mutex::new(DataplaneStatus {
            table: options.table.clone(),
            ..DataplaneStatus::default()
        }));
        let shared = status.clone();
        let thread = std::thread::Builder::new()
            .name("baton-nft".into())
            .spawn(move || run(options, rx, shared))?;
        Ok(DataplaneThread {
            jobs,
            thread: Some(thread),
            status,
        })
    }

    /// Hand the thread a table to program; returns at once.
    pub fn submit(&self, table: ForwardingTable) -> Result<(), Stopped> {
        lock(&self.status).submitted += 1;
        self.jobs.send(Job::Program(table)).map_err(|_| Stopped)
    }

    pub fn status(&self) -> DataplaneStatus {
        lock(&self.status).clone()
    }

    pub fn set_left_out(&self, left_out: Vec<Refusal>) {
        lock(&self.status).left_out = left_out;
    }

    /// Delete baton's tables and stop the thread (off the event loop: the join waits for
    /// the table currently being programmed).
    pub async fn close(mut self) {
        let _ = self.jobs.send(Job::Close);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for DataplaneThread {
    fn drop(&mut self) {
        // Tables go with the thread's socket in any case; say so to the thread.
        let _ = self.jobs.send(Job::Close);
    }
}

fn run(options: Options, jobs: std_mpsc::Receiver<Job>, status: Arc<Mutex<DataplaneStatus>>) {
    let table = options.table.clone();
    let mut dp = match Dataplane::new(options) {
        Ok(dp) => {
            tracing::info!("LVS data plane: nftables table inet {table} created");
            lock(&status).open = true;
            dp
        }
        Err(e) => {
            tracing::error!(
                "LVS data plane: cannot create nftables table inet {table}: {e}; virtual servers are not forwarded"
            );
            lock(&status).error = Some(e.to_string());
            return;
        }
    };
    let mut said: BTreeSet<String> = BTreeSet::new();
    let mut refused_before: Vec<Refusal> = Vec::new();
    while let Ok(job) = jobs.recv() {
        // Only the newest table matters: each one is whole.
        let mut latest = job;
        while let Ok(next) = jobs.try_recv() {
            if matches!(latest, Job::Close) {
                break;
            }
            latest = next;
        }
        let wanted = match latest {
            Job::Close => break,
            Job::Program(t) => t,
        };
        match dp.apply(&wanted) {
            Ok(report) => {
                for (fe, l) in &report.limitations {
                    let line = format!("virtual server {fe}: {l}");
                    if said.insert(line.clone()) {
                        tracing::warn!("{line}");
                    }
                }
                let refused: Vec<Refusal> = report
                    .failed
                    .iter()
                    .map(|f| Refusal {
                        service: f.service.to_string(),
                        reason: f.to_string(),
                    })
                    .collect();
                for r in &refused {
                    if !refused_before.contains(r) {
                        tracing::error!(
                            "LVS data plane: {}; that service keeps what it had, the rest is programmed",
                            r.reason
                        );
                    }
                }
                let mut st = lock(&status);
                st.programmed += 1;
                if !refused.is_empty() {
                    st.apply_errors += 1;
                }
                if report.messages > 0 {
                    st.last_messages = report.messages;
                }
                st.refused = refused.clone();
                refused_before = refused;
            }
            Err(e) => {
                tracing::error!("LVS data plane: {e}; the forwarding table was not changed");
                let mut st = lock(&status);
                st.apply_errors += 1;
                st.refused = vec![Refusal {
                    service: "*".into(),
                    reason: e.to_string(),
                }];
            }
        }
    }
    match dp.close() {
        Ok(()) => tracing::info!("LVS data plane: nftables tables {table} removed"),
        Err(e) => tracing::warn!("LVS data plane: removing tables {table}: {e}"),
    }
    lock(&status).open = false;
}

/// The core's [`Backend`]: the table as the core handed it out, turned into baton-nft's
/// terms and handed to the data-plane thread. Built for one batch of actions (the DR
/// interfaces come from the daemon's view of the links at that moment).
#[allow(missing_debug_implementations)] // borrows the daemon's state for one batch
pub struct NftBackend<'a> {
    pub table: &'a mut Table,
    /// The configuration the core runs (each virtual server's own forwarding method).
    pub lvs: &'a baton_conf::Lvs,
    pub thread: &'a DataplaneThread,
    pub dr: &'a dyn DrInterfaces,
}

impl Backend for NftBackend<'_> {
    type Error = Stopped;

    fn apply(&mut self, changes: &[Change]) -> Result<(), Stopped> {
        self.table.apply(changes);
        self.program()
    }

    fn resync(&mut self, table: &Table) -> Result<(), Stopped> {
        // The data plane diffs against what it programmed: the whole table is enough.
        *self.table = table.clone();
        self.program()
    }
}

impl NftBackend<'_> {
    fn program(&mut self) -> Result<(), Stopped> {
        let (wanted, left_out) = translate::forwarding_table(self.table, self.lvs, self.dr);
        let left_out: Vec<Refusal> = left_out
            .into_iter()
            .map(|(service, reason)| Refusal { service, reason })
            .collect();
        let before = self.thread.status().left_out;
        for r in &left_out {
            if !before.contains(r) {
                tracing::error!(
                    "virtual server {}: {}; it is left out of the data plane",
                    r.service,
                    r.reason
                );
            }
        }
        self.thread.set_left_out(left_out);
        self.thread.submit(wanted)
    }
}
