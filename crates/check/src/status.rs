//! What `baton status` shows of each checker, and the reporting every checker task does:
//! keepalived's log line, the verdict on the channel, the status kept up to date.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::retry::Names;
use crate::verdict::{CheckState, CheckerId, Verdict};

/// One checker as it stands.
#[derive(Debug, Clone)]
pub struct CheckerStatus {
    pub id: CheckerId,
    /// keepalived's keyword: `TCP_CHECK`, `HTTP_GET`, ...
    pub keyword: &'static str,
    /// The real server, `[10.0.0.21]:tcp:8080`.
    pub server: Arc<str>,
    /// The virtual server, `[10.0.0.10]:tcp:80`.
    pub virtual_server: Arc<str>,
    /// What is probed: `[10.0.0.21]:8080`, a script, a file.
    pub target: String,
    /// The last verdict; `None` before the first.
    pub state: Option<CheckState>,
    /// When that verdict was given.
    pub since: Option<Instant>,
    /// Its reason.
    pub reason: Option<String>,
    /// The last probe.
    pub last_probe: Option<Probed>,
    pub probes: u64,
    pub failures: u64,
}

/// One probe's result.
#[derive(Debug, Clone)]
pub struct Probed {
    /// When it finished.
    pub at: Instant,
    pub took: Duration,
    pub ok: bool,
    /// What was seen ("connected", "status 500, expected 200-299", "exit 1", ...).
    pub detail: String,
}

/// Locks that survive a panicking holder: status is informational.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything a checker task needs to report.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    pub id: Arc<Mutex<CheckerId>>,
    pub status: Arc<Mutex<CheckerStatus>>,
    pub verdicts: mpsc::Sender<Verdict>,
    pub server: Arc<str>,
    pub virtual_server: Arc<str>,
    /// The last local error logged, so a broken socket setup is logged once, not every
    /// `delay_loop`.
    last_local: Arc<Mutex<Option<String>>>,
}

impl Reporter {
    pub fn new(
        status: CheckerStatus,
        verdicts: mpsc::Sender<Verdict>,
    ) -> (Reporter, Arc<Mutex<CheckerId>>, Arc<Mutex<CheckerStatus>>) {
        let id = Arc::new(Mutex::new(status.id));
        let server = status.server.clone();
        let virtual_server = status.virtual_server.clone();
        let status = Arc::new(Mutex::new(status));
        (
            Reporter {
                id: id.clone(),
                status: status.clone(),
                verdicts,
                server,
                virtual_server,
                last_local: Arc::new(Mutex::new(None)),
            },
            id,
            status,
        )
    }

    pub fn names(&self) -> Names<'_> {
        Names {
            rs: &self.server,
            vs: &self.virtual_server,
        }
    }

    /// Give a verdict: log keepalived's line (with what was seen, when keepalived says
    /// nothing of it), send it. False when nobody listens any more.
    pub async fn verdict(&self, state: CheckState, line: String, cause: Option<&str>) -> bool {
        self.send(state, line, cause, None).await
    }

    /// A FILE_CHECK's verdict, with the number read from the file.
    pub async fn file_verdict(&self, state: CheckState, line: String, value: i64) -> bool {
        self.send(state, line, None, Some(value)).await
    }

    async fn send(
        &self,
        state: CheckState,
        line: String,
        cause: Option<&str>,
        file_value: Option<i64>,
    ) -> bool {
        let reason = match cause {
            Some(c) if !c.is_empty() => format!("{line} ({c})"),
            _ => line,
        };
        if matches!(state, CheckState::Up(_)) {
            info!("{reason}");
        } else {
            warn!("{reason}");
        }
        let at = Instant::now();
        let id = *lock(&self.id);
        {
            let mut s = lock(&self.status);
            s.state = Some(state);
            s.since = Some(at);
            s.reason = Some(reason.clone());
        }
        self.verdicts
            .send(Verdict {
                checker: id,
                state,
                reason,
                at,
                file_value,
            })
            .await
            .is_ok()
    }

    /// A line keepalived logs without a verdict.
    pub fn note(&self, line: &str) {
        info!("{line}");
    }

    /// Record a probe's result for status.
    pub fn probed(&self, ok: bool, detail: impl Into<String>, took: Duration) {
        let mut s = lock(&self.status);
        s.probes += 1;
        if !ok {
            s.failures += 1;
        }
        s.last_probe = Some(Probed {
            at: Instant::now(),
            took,
            ok,
            detail: detail.into(),
        });
        drop(s);
        *lock(&self.last_local) = None;
    }

    /// Our side failed (socket setup): logged when it first happens or changes.
    pub fn local_error(&self, what: &str, error: &str) {
        let mut last = lock(&self.last_local);
        if last.as_deref() != Some(error) {
            warn!("{what} {}: {error}. Rescheduling.", self.server);
            *last = Some(error.to_string());
        }
    }
}
