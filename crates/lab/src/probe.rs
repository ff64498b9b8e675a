//! Probe loops for failover timings: a thread inside a host asks "who answers for this
//! address?" every interval (1 ms is fine) and records every answer, so a test can read off when
//! the VIP stopped answering, when it came back, from which MAC, and whether two hosts
//! answered at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::addr::AsIp;
use crate::arp::{Arper, ipv4};
use crate::icmp::Pinger;
use crate::ns::Depth;
use crate::{Error, Host, Result};

/// What a probe asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// An ARP request on an interface; answers are the MACs that reply.
    Arp {
        /// The interface of the probing host.
        ifname: String,
        /// The address asked for.
        target: Ipv4Addr,
    },
    /// An ICMP echo; the answer is the address itself.
    Ping(IpAddr),
    /// A TCP connection (the service answers, not just the address); the answer is the address.
    Tcp(SocketAddr),
}

impl Probe {
    /// ARP for `target` on `ifname`.
    pub fn arp(ifname: &str, target: impl AsIp) -> Result<Probe> {
        Ok(Probe::Arp {
            ifname: ifname.to_string(),
            target: ipv4(target.as_ip()?)?,
        })
    }

    /// Ping `target`.
    pub fn ping(target: impl AsIp) -> Result<Probe> {
        Ok(Probe::Ping(target.as_ip()?))
    }

    /// Connect to `target:port`.
    pub fn tcp(target: impl AsIp, port: u16) -> Result<Probe> {
        Ok(Probe::Tcp(SocketAddr::new(target.as_ip()?, port)))
    }
}

/// One round of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// When the round started.
    pub at: Instant,
    /// Who answered: MACs for ARP, the address for ping and TCP. Empty: no answer.
    pub responders: Vec<String>,
}

impl Sample {
    /// Whether anyone answered.
    pub fn answered(&self) -> bool {
        !self.responders.is_empty()
    }
}

/// A stretch without answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// The first unanswered round.
    pub start: Instant,
    /// The first answered round after it, if any came before the probe stopped.
    pub end: Option<Instant>,
}

impl Outage {
    /// From the first unanswered round to the first answered one.
    pub fn duration(&self) -> Option<Duration> {
        Some(self.end? - self.start)
    }
}

/// The record of a stopped probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeLog {
    /// Every round, in order.
    pub samples: Vec<Sample>,
}

impl ProbeLog {
    /// The first answered round at or after `t`.
    pub fn first_answer_after(&self, t: Instant) -> Option<&Sample> {
        self.samples.iter().find(|s| s.at >= t && s.answered())
    }

    /// Every stretch of unanswered rounds.
    pub fn outages(&self) -> Vec<Outage> {
        let mut out: Vec<Outage> = Vec::new();
        let mut open: Option<Instant> = None;
        for s in &self.samples {
            match (s.answered(), open) {
                (false, None) => open = Some(s.at),
                (true, Some(start)) => {
                    out.push(Outage {
                        start,
                        end: Some(s.at),
                    });
                    open = None;
                }
                _ => {}
            }
        }
        out.extend(open.map(|start| Outage { start, end: None }));
        out
    }

    /// Stretches without answers lasting at least `min`. A reply that arrives after its round
    /// ended is counted in the next round, so under load a 1 ms probe shows single silent
    /// rounds that are not outages; this filters them out.
    pub fn outages_over(&self, min: Duration) -> Vec<Outage> {
        let last = self.samples.last().map(|s| s.at);
        self.outages()
            .into_iter()
            .filter(|o| o.end.or(last).is_some_and(|end| end - o.start >= min))
            .collect()
    }

    /// The first round answered by more than one responder (two MACs for one VIP: split
    /// brain).
    pub fn first_split(&self) -> Option<&Sample> {
        self.samples.iter().find(|s| s.responders.len() > 1)
    }
}

/// A probe running in the background; see [`Host::start_probe`].
#[derive(Debug)]
pub struct Prober {
    shared: Arc<ProberShared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct ProberShared {
    stop: Arc<AtomicBool>,
    samples: Mutex<Vec<Sample>>,
    error: Mutex<Option<String>>,
}

impl Host {
    /// Start probing from this host every `interval`; each round waits for answers up to
    /// `interval`.
    ///
    /// ```no_run
    /// # fn f(client: &baton_lab::Host, master: &baton_lab::Proc) -> baton_lab::Result<()> {
    /// use baton_lab::{Probe, ms, secs};
    /// let prober = client.start_probe(Probe::arp("eth0", "192.168.5.10")?, ms(1))?;
    /// let killed = std::time::Instant::now();
    /// master.kill()?;
    /// let back = prober.wait_for("the VIP to answer again", secs(5), |s| s.at > killed && s.answered())?;
    /// println!("VIP answered again {:?} after the kill", back.at - killed);
    /// # Ok(()) }
    /// ```
    pub fn start_probe(&self, probe: Probe, interval: Duration) -> Result<Prober> {
        if interval.is_zero() {
            return Err(Error::invalid("probe interval", "must be more than zero"));
        }
        let ns = self.node.namespaces()?;
        let shared = Arc::new(ProberShared {
            stop: Arc::new(AtomicBool::new(false)),
            samples: Mutex::new(Vec::new()),
            error: Mutex::new(None),
        });
        self.lab.register_prober(Arc::downgrade(&shared.stop))?;
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let worker = shared.clone();
        let name = self.name().to_string();
        let thread = std::thread::Builder::new()
            .name(format!("probe-{name}"))
            .spawn(move || {
                let opened = ns.enter(Depth::Net).and_then(|()| Round::open(&probe));
                drop(ns);
                match opened {
                    Ok(round) => {
                        let _ = ready_tx.send(Ok(()));
                        if let Err(e) = worker.run(round, interval)
                            && let Ok(mut slot) = worker.error.lock()
                        {
                            *slot = Some(format!("probe from {name}: {e}"));
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| Error::io("starting a probe thread", e))?;
        let prober = Prober {
            shared,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(prober),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::invalid(
                "probe",
                "probe thread ended before it started",
            )),
        }
    }
}

/// The socket state of one probe.
enum Round {
    Arp(Arper),
    Ping(Pinger),
    Tcp(SocketAddr),
}

impl Round {
    fn open(probe: &Probe) -> Result<Round> {
        let what = || format!("opening the socket of {probe:?}");
        Ok(match probe {
            Probe::Arp { ifname, target } => {
                Round::Arp(Arper::open(ifname, *target).map_err(|e| Error::io(what(), e))?)
            }
            Probe::Ping(target) => {
                Round::Ping(Pinger::open(*target).map_err(|e| Error::io(what(), e))?)
            }
            Probe::Tcp(addr) => Round::Tcp(*addr),
        })
    }

    fn ask(&mut self, wait: Duration) -> std::io::Result<Vec<String>> {
        match self {
            Round::Arp(arper) => Ok(arper.ask(wait)?.iter().map(|m| m.to_string()).collect()),
            Round::Ping(pinger) => Ok(pinger
                .ping(wait)?
                .map(|_| pinger.target().to_string())
                .into_iter()
                .collect()),
            // Refused or unreachable means "not answering" here: the service is the question.
            Round::Tcp(addr) => Ok(TcpStream::connect_timeout(addr, wait)
                .ok()
                .map(|_| addr.ip().to_string())
                .into_iter()
                .collect()),
        }
    }
}

impl ProberShared {
    fn run(&self, mut round: Round, interval: Duration) -> Result<()> {
        let start = Instant::now();
        let mut n: u32 = 0;
        while !self.stop.load(Ordering::SeqCst) {
            let at = Instant::now();
            let responders = round
                .ask(interval)
                .map_err(|e| Error::io("probe round", e))?;
            self.samples
                .lock()
                .map_err(|_| Error::invalid("probe", "lock poisoned"))?
                .push(Sample { at, responders });
            n = n.wrapping_add(1);
            // Rounds start on a fixed grid; a slow round is followed at once by the next.
            let next = start + interval * n;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            } else if next + interval * 100 < Instant::now() {
                n = ((Instant::now() - start).as_nanos() / interval.as_nanos().max(1)) as u32;
            }
        }
        Ok(())
    }
}

impl Prober {
    /// A copy of the rounds so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.shared
            .samples
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Wait until a round satisfies `pred` (looking at every round, including those before
    /// the call); that round. Fails after `timeout`, naming `what`, or if the probe failed.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Sample) -> bool,
    ) -> Result<Sample> {
        let mut seen = 0;
        let found = crate::wait_for(
            what,
            timeout,
            Duration::from_millis(1),
            || -> Result<Option<Sample>> {
                if let Some(e) = self.shared.error.lock().ok().and_then(|e| e.clone()) {
                    return Err(Error::invalid("probe", e));
                }
                let samples = self
                    .shared
                    .samples
                    .lock()
                    .map_err(|_| Error::invalid("probe", "lock poisoned"))?;
                let hit = samples[seen..].iter().find(|s| pred(s)).cloned();
                seen = samples.len();
                Ok(hit)
            },
        );
        found.map(|(s, _)| s)
    }

    /// Stop probing; every round recorded.
    pub fn stop(mut self) -> Result<ProbeLog> {
        self.halt();
        if let Some(e) = self.shared.error.lock().ok().and_then(|e| e.clone()) {
            return Err(Error::invalid("probe", e));
        }
        let samples = std::mem::take(
            &mut *self
                .shared
                .samples
                .lock()
                .map_err(|_| Error::invalid("probe", "lock poisoned"))?,
        );
        Ok(ProbeLog { samples })
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(pattern: &str) -> (Instant, ProbeLog) {
        let t0 = Instant::now();
        let samples = pattern
            .chars()
            .enumerate()
            .map(|(i, c)| Sample {
                at: t0 + Duration::from_millis(i as u64),
                responders: match c {
                    'a' => vec!["02:ba:00:00:00:01".into()],
                    'b' => vec!["02:ba:00:00:00:02".into()],
                    '2' => vec!["02:ba:00:00:00:01".into(), "02:ba:00:00:00:02".into()],
                    _ => vec![],
                },
            })
            .collect();
        (t0, ProbeLog { samples })
    }

    #[test]
    fn outages_run_from_first_silent_round_to_first_answer() {
        let (t0, log) = log("aa...bb..");
        let outages = log.outages();
        assert_eq!(outages.len(), 2);
        assert_eq!(outages[0].start, t0 + Duration::from_millis(2));
        assert_eq!(outages[0].duration(), Some(Duration::from_millis(3)));
        assert_eq!(outages[1].end, None);
        assert_eq!(outages[1].duration(), None);
        let back = log
            .first_answer_after(t0 + Duration::from_millis(2))
            .unwrap();
        assert_eq!(back.responders, ["02:ba:00:00:00:02"]);
    }

    #[test]
    fn short_silences_are_not_outages() {
        let (t0, log) = log("aa.aa....a.");
        assert_eq!(log.outages().len(), 3);
        let long = log.outages_over(Duration::from_millis(3));
        assert_eq!(long.len(), 1);
        assert_eq!(long[0].start, t0 + Duration::from_millis(5));
        assert_eq!(long[0].duration(), Some(Duration::from_millis(4)));
    }

    #[test]
    fn split_brain_is_two_responders() {
        assert!(log("aab").1.first_split().is_none());
        let (t0, l) = log("a.2b");
        assert_eq!(l.first_split().unwrap().at, t0 + Duration::from_millis(2));
    }
}
