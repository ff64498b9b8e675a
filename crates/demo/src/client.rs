//! The client host's request loop: `rate` requests a second to http://VIP/, each on a fresh
//! connection with a short timeout, every answer recorded with which load balancer served it
//! (`X-LB`) and which backend answered, every failure with its kind. The loop runs on a
//! thread inside the client's network namespace, so its clock is the demo's and a failover
//! can be measured from the moment the demo caused it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use baton_lab::Host;
use tokio::net::TcpStream;
use tokio::time::{MissedTickBehavior, timeout};

use super::http;

/// Records older than this are dropped (totals are kept): the screen and the steps only look
/// back a few seconds, and an interactive demo may run for hours.
const KEEP: Duration = Duration::from_secs(600);

/// Which load balancer served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    Lb1,
    Lb2,
    /// An answer without a recognised `X-LB`.
    Unknown,
}

impl Served {
    fn from_header(v: Option<&str>) -> Served {
        match v {
            Some("lb1") => Served::Lb1,
            Some("lb2") => Served::Lb2,
            _ => Served::Unknown,
        }
    }

    /// 0 for lb1, 1 for lb2.
    pub fn index(self) -> Option<usize> {
        match self {
            Served::Lb1 => Some(0),
            Served::Lb2 => Some(1),
            Served::Unknown => None,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Connection refused: the address answered, nothing listened (nginx dead).
    Refused,
    /// Connection reset or closed early: the server went away mid-request.
    Reset,
    /// No answer within the timeout.
    Timeout,
    /// No route or no ARP answer.
    Unreachable,
    /// An answer that was not `200 OK`.
    BadAnswer,
    Other,
}

impl Failure {
    pub const ALL: [Failure; 6] = [
        Failure::Refused,
        Failure::Reset,
        Failure::Timeout,
        Failure::Unreachable,
        Failure::BadAnswer,
        Failure::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::Reset => "reset",
            Failure::Timeout => "timeout",
            Failure::Unreachable => "unreachable",
            Failure::BadAnswer => "bad answer",
            Failure::Other => "other",
        }
    }

    fn of(e: &std::io::Error) -> Failure {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Failure::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                Failure::Reset
            }
            K::TimedOut => Failure::Timeout,
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                Failure::Unreachable
            }
            K::InvalidData => Failure::BadAnswer,
            _ => Failure::Other,
        }
    }
}

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `200 OK`, from this balancer and backend (1 or 2; 0 if the body named neither).
    Ok {
        lb: Served,
        backend: u8,
    },
    Failed(Failure),
}

/// One request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub start: Instant,
    pub end: Instant,
    pub outcome: Outcome,
}

/// Counts over some set of requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub ok: u64,
    /// Answers from lb1, lb2.
    pub by_lb: [u64; 2],
    /// Answers from backend 1, backend 2.
    pub by_backend: [u64; 2],
    pub failed: u64,
    /// Failures by kind, in [`Failure::ALL`] order.
    pub failures: [u64; 6],
}

impl Tally {
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Ok { lb, backend } => {
                self.ok += 1;
                if let Some(i) = lb.index() {
                    self.by_lb[i] += 1;
                }
                if let 1 | 2 = backend {
                    self.by_backend[usize::from(backend - 1)] += 1;
                }
            }
            Outcome::Failed(f) => {
                self.failed += 1;
                if let Some(i) = Failure::ALL.iter().position(|x| *x == f) {
                    self.failures[i] += 1;
                }
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.ok + self.failed
    }

    /// `2 refused, 1 reset`, or empty.
    pub fn failure_kinds(&self) -> String {
        Failure::ALL
            .iter()
            .zip(self.failures)
            .filter(|(_, n)| *n > 0)
            .map(|(f, n)| format!("{n} {}", f.label()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Default)]
struct Store {
    records: VecDeque<Record>,
    totals: Tally,
    error: Option<String>,
}

#[derive(Debug)]
struct Shared {
    store: Mutex<Store>,
    stop: AtomicBool,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the records inconsistent (each push
        // is one call), so a poisoned lock is still good to read.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running request loop.
#[derive(Debug)]
pub struct Client {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    pub target: SocketAddr,
    pub rate: u32,
    pub timeout: Duration,
}

impl Client {
    /// Start sending to `target` from `host`.
    pub fn start(host: &Host, target: SocketAddr, rate: u32, limit: Duration) -> Result<Client> {
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            stop: AtomicBool::new(false),
        });
        let (h, s) = (host.clone(), shared.clone());
        let thread = std::thread::Builder::new()
            .name("demo-client".into())
            .spawn(move || {
                let result = h.in_netns(|| request_loop(&s, target, rate, limit));
                let error = match result {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(format!("{e:#}")),
                    Err(e) => Some(e.to_string()),
                };
                if error.is_some() {
                    s.store().error = error;
                }
            })
            .context("starting the client thread")?;
        Ok(Client {
            shared,
            thread: Some(thread),
            target,
            rate,
            timeout: limit,
        })
    }

    /// Stop sending and wait for the requests in flight.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Why the loop stopped on its own, if it did.
    pub fn error(&self) -> Option<String> {
        self.shared.store().error.clone()
    }

    /// Every request since it started.
    pub fn totals(&self) -> Tally {
        self.shared.store().totals.clone()
    }

    /// Requests that started in `[from, to)`.
    pub fn started_between(&self, from: Instant, to: Instant) -> Tally {
        let mut t = Tally::default();
        for r in self.shared.store().records.iter() {
            if r.start >= from && r.start < to {
                t.add(r.outcome);
            }
        }
        t
    }

    /// Requests that ended in `[from, to)`.
    pub fn ended_between(&self, from: Instant, to: Instant) -> Tally {
        let mut t = Tally::default();
        for r in self.shared.store().records.iter() {
            if r.end >= from && r.end < to {
                t.add(r.outcome);
            }
        }
        t
    }

    /// When the first answer from `lb` after `after` arrived.
    pub fn first_served_by(&self, lb: Served, after: Instant) -> Option<Instant> {
        self.shared
            .store()
            .records
            .iter()
            .filter(|r| r.end > after && matches!(r.outcome, Outcome::Ok { lb: l, .. } if l == lb))
            .map(|r| r.end)
            .min()
    }

    /// The last `n` seconds, one tally per second (oldest first), for the screen's history.
    pub fn per_second(&self, now: Instant, n: u32) -> Vec<Tally> {
        let mut out = vec![Tally::default(); n as usize];
        let store = self.shared.store();
        for r in store.records.iter().rev() {
            let Some(age) = now.checked_duration_since(r.end) else {
                continue;
            };
            let sec = age.as_secs();
            if sec >= u64::from(n) {
                break;
            }
            let slot = n as usize - 1 - sec as usize;
            out[slot].add(r.outcome);
        }
        out
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs on a thread inside the client host's network namespace: every socket it opens is
/// the client's.
fn request_loop(
    shared: &Arc<Shared>,
    target: SocketAddr,
    rate: u32,
    limit: Duration,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the client's runtime")?;
    let host: Arc<str> = target.ip().to_string().into();
    rt.block_on(async {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
        // A stalled runtime sends late rather than in a burst: the rate stays the rate.
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while !shared.stop.load(Ordering::SeqCst) {
            tick.tick().await;
            let (shared, host, in_flight) = (shared.clone(), host.clone(), in_flight.clone());
            in_flight.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let start = Instant::now();
                let outcome = one_request(target, &host, limit).await;
                let record = Record {
                    start,
                    end: Instant::now(),
                    outcome,
                };
                {
                    let mut store = shared.store();
                    store.totals.add(outcome);
                    while store
                        .records
                        .front()
                        .is_some_and(|r| record.end.duration_since(r.end) > KEEP)
                    {
                        store.records.pop_front();
                    }
                    store.records.push_back(record);
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
        // Let the requests in flight finish (each ends within its timeout).
        let deadline = Instant::now() + limit + Duration::from_millis(200);
        while in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    Ok(())
}

/// One GET on a fresh connection, bounded by `limit` in all.
async fn one_request(target: SocketAddr, host: &str, limit: Duration) -> Outcome {
    let attempt = async {
        let conn = TcpStream::connect(target).await.map_err(http::Error::Io)?;
        http::get(conn, host).await
    };
    match timeout(limit, attempt).await {
        Err(_) => Outcome::Failed(Failure::Timeout),
        Ok(Err(http::Error::Io(e))) => Outcome::Failed(Failure::of(&e)),
        // Closed without a whole answer: the server died with the request.
        Ok(Err(http::Error::Closed)) => Outcome::Failed(Failure::Reset),
        Ok(Err(http::Error::Garbled(_))) => Outcome::Failed(Failure::BadAnswer),
        Ok(Ok(r)) if r.status == 200 => Outcome::Ok {
            lb: Served::from_header(r.lb.as_deref()),
            backend: match r.body.trim() {
                "backend 1" => 1,
                "backend 2" => 2,
                _ => 0,
            },
        },
        Ok(Ok(_)) => Outcome::Failed(Failure::BadAnswer),
    }
}

/// One GET from `host` to `target`, for checking the services before the demo starts.
pub fn get_once(host: &Host, target: SocketAddr, limit: Duration) -> Result<http::Response> {
    let answer = host.in_netns(|| -> Result<http::Response> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a runtime for the check")?;
        rt.block_on(async {
            let attempt = async {
                let conn = TcpStream::connect(target).await.map_err(http::Error::Io)?;
                http::get(conn, &target.ip().to_string()).await
            };
            match timeout(limit, attempt).await {
                Err(_) => anyhow::bail!("no answer from {target} within {limit:?}"),
                Ok(r) => r.with_context(|| format!("asking {target}")),
            }
        })
    })??;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_balancers_backends_and_failure_kinds() {
        let mut t = Tally::default();
        t.add(Outcome::Ok {
            lb: Served::Lb2,
            backend: 1,
        });
        t.add(Outcome::Ok {
            lb: Served::Unknown,
            backend: 0,
        });
        t.add(Outcome::Failed(Failure::Refused));
        t.add(Outcome::Failed(Failure::Refused));
        t.add(Outcome::Failed(Failure::Timeout));
        assert_eq!(t.ok, 2);
        assert_eq!(t.by_lb, [0, 1]);
        assert_eq!(t.by_backend, [1, 0]);
        assert_eq!(t.failed, 3);
        assert_eq!(t.total(), 5);
        assert_eq!(t.failure_kinds(), "2 refused, 1 timeout");
        assert_eq!(Tally::default().failure_kinds(), "");
    }

    #[test]
    fn io_errors_map_to_failure_kinds() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            Failure::of(&Error::from(ErrorKind::ConnectionRefused)),
            Failure::Refused
        );
        assert_eq!(
            Failure::of(&Error::from(ErrorKind::UnexpectedEof)),
            Failure::Reset
        );
        assert_eq!(
            Failure::of(&Error::from(ErrorKind::HostUnreachable)),
            Failure::Unreachable
        );
    }

    /// Against a loopback backend: answers are counted with their backend, a closed port
    /// as refused.
    #[tokio::test]
    async fn one_request_reads_the_answer_or_names_the_failure() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut c, _) = l.accept().await.unwrap();
            // Nothing listens on the port once this answer is on its way.
            drop(l);
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                c.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            c.write_all(
                b"HTTP/1.1 200 OK\r\nX-LB: lb1\r\nContent-Length: 10\r\nConnection: close\r\n\r\nbackend 2\n",
            )
            .await
            .unwrap();
        });
        let req = "vip";
        let o = one_request(addr, req, Duration::from_secs(2)).await;
        assert_eq!(
            o,
            Outcome::Ok {
                lb: Served::Lb1,
                backend: 2
            }
        );
        let o = one_request(addr, req, Duration::from_secs(2)).await;
        assert_eq!(o, Outcome::Failed(Failure::Refused));
    }
}
