//! What asks the event loop to be looked at, as one stream the loop polls beside its own
//! events: snapshots for the `--metrics` listener, keepalived's dump signals (SIGUSR1,
//! SIGUSR2, SIGRTMAX-1, SIGRTMIN+2), and systemd's watchdog.
//!
//! The watchdog is pinged from here, so from the event loop itself: a loop that stalls
//! (stopped, wedged in a syscall, spinning) stops pinging, and systemd restarts the daemon
//! after `WatchdogSec=`. Without `WATCHDOG_USEC` in the environment there is no ping.

use std::io;
use std::path::PathBuf;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

use crate::north::dump::Dump;
use crate::north::metrics::MetricsServer;
use crate::north::snapshot::Snapshot;

/// A request the loop answers.
#[derive(Debug)]
pub enum Request {
    /// The metrics listener wants a snapshot.
    Snapshot(oneshot::Sender<Snapshot>),
    /// A signal asked for a dump file.
    Dump(Dump),
}

/// The sources of [`Request`]s, and the watchdog.
#[derive(Debug)]
pub struct Observers {
    asked: Option<mpsc::Receiver<oneshot::Sender<Snapshot>>>,
    signals: Vec<(Signal, Dump)>,
    watchdog: Option<tokio::time::Interval>,
    /// Where dumps are written (keepalived's temporary directory).
    pub dump_dir: PathBuf,
}

impl Observers {
    /// Install the dump signals, bind the metrics listener when asked, and arm the watchdog
    /// when systemd asks for one. Must be called inside the runtime.
    pub fn start(metrics: Option<std::net::SocketAddr>) -> io::Result<Observers> {
        let mut signals = Vec::new();
        for (kind, dump) in [
            (libc::SIGUSR1, Dump::Data),
            (libc::SIGUSR2, Dump::Stats),
            (libc::SIGRTMAX() - 1, Dump::StatsClear),
            (libc::SIGRTMIN() + 2, Dump::Json),
        ] {
            signals.push((signal(SignalKind::from_raw(kind))?, dump));
        }
        let asked = match metrics {
            Some(addr) => {
                let server = MetricsServer::bind(addr).map_err(|e| {
                    io::Error::new(e.kind(), format!("metrics listener {addr}: {e}"))
                })?;
                let (tx, rx) = mpsc::channel(8);
                tracing::info!(
                    "Serving metrics, the status page and /healthz on http://{}",
                    server.local_addr().unwrap_or(addr)
                );
                server.spawn(tx);
                Some(rx)
            }
            None => None,
        };
        let watchdog = crate::north::notify_systemd::watchdog_period().map(|period| {
            tracing::info!("systemd watchdog: pinging every {period:?} from the event loop");
            let mut i = tokio::time::interval(period);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        Ok(Observers {
            asked,
            signals,
            watchdog,
            dump_dir: crate::north::dump::tmp_dir(),
        })
    }

    /// The next request; pings the watchdog on the way. Pending forever when nothing can
    /// ask.
    pub async fn next(&mut self) -> Request {
        loop {
            let signals = std::future::poll_fn(|cx| {
                for (s, dump) in &mut self.signals {
                    if let std::task::Poll::Ready(Some(())) = s.poll_recv(cx) {
                        return std::task::Poll::Ready(*dump);
                    }
                }
                std::task::Poll::Pending
            });
            let asked = async {
                match &mut self.asked {
                    // A listener that is gone never asks again.
                    Some(rx) => match rx.recv().await {
                        Some(reply) => reply,
                        None => std::future::pending().await,
                    },
                    None => std::future::pending().await,
                }
            };
            let tick = async {
                match &mut self.watchdog {
                    Some(i) => {
                        i.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                dump = signals => return Request::Dump(dump),
                reply = asked => return Request::Snapshot(reply),
                () = tick => crate::north::notify_systemd::watchdog_ping(),
            }
        }
    }
}
