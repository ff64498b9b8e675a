//! What the checker tests share: a lab with a load balancer (where the checkers run) and a
//! real server, configurations loaded by baton-conf from keepalived.conf text, real servers
//! from Debian's packages started on the real-server host, and a verdict log to wait on.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod servers;

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use baton_check::{CheckState, Checkers, Verdict};
use baton_conf::{Config, LoadOptions, RealHost};
use baton_lab::{Host, HostSpec, Lab};
use baton_track::TrackOptions;
use tokio::sync::mpsc;

/// The load balancer's address (the checkers' source).
pub const LB: &str = "10.0.9.1";
/// The real server.
pub const RS: &str = "10.0.9.21";

/// A lab with a load balancer and a real server on one segment.
pub struct Net {
    pub lab: Lab,
    pub lb: Host,
    pub rs: Host,
}

/// The lab, or `None` (with the reason printed) when not root.
pub fn net(name: &str) -> Option<Net> {
    if !baton_lab::require_root() {
        eprintln!("skipped: needs root for network namespaces");
        return None;
    }
    let lab = Lab::new(name).unwrap();
    let lb = lab
        .add_host(HostSpec::new("lb").addr(format!("{LB}/24")))
        .unwrap();
    let rs = lab
        .add_host(HostSpec::new("rs").addr(format!("{RS}/24")))
        .unwrap();
    Some(Net { lab, lb, rs })
}

/// Load keepalived.conf text as the daemon would; panics with the diagnostics if it has
/// errors.
pub fn load(text: &str) -> Config {
    let loaded = baton_conf::load_str("keepalived.conf", text, &LoadOptions::default(), &RealHost);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    assert!(
        errors.is_empty(),
        "configuration errors:\n{}",
        errors.join("\n")
    );
    loaded.config.expect("a usable configuration")
}

/// A configuration with one virtual server and one real server (the lab's) on `port`,
/// holding `checker` (a checker block, verbatim).
pub fn one_checker(port: u16, checker: &str) -> String {
    format!(
        "virtual_server 10.0.9.100 {port} {{\n\
         \tdelay_loop 1\n\
         \tlb_algo rr\n\
         \tlb_kind NAT\n\
         \tprotocol TCP\n\
         \treal_server {RS} {port} {{\n\
         \t\tweight 1\n\
         {checker}\n\
         \t}}\n\
         }}\n"
    )
}

/// Options as the daemon's, with a short kill grace so timed-out scripts go quickly.
pub fn options() -> TrackOptions {
    TrackOptions {
        kill_grace: Duration::from_millis(300),
        ..TrackOptions::default()
    }
}

/// Running checkers and the verdicts they gave.
pub struct Run {
    rt: tokio::runtime::Runtime,
    rx: mpsc::Receiver<Verdict>,
    pub checkers: Option<Checkers>,
    pub seen: Vec<(Instant, Verdict)>,
    /// Verdicts received while waiting for another, not yet asked for.
    pending: std::collections::VecDeque<Verdict>,
}

impl Run {
    /// Start the checkers of `config` inside `host`'s network namespace (their thread
    /// inherits it).
    pub fn start(host: &Host, config: &Config) -> Run {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel(1024);
        let opts = options();
        let checkers = host
            .in_netns(|| Checkers::for_config(config, &opts, tx))
            .unwrap()
            .unwrap();
        Run {
            rt,
            rx,
            checkers: Some(checkers),
            seen: Vec::new(),
            pending: Default::default(),
        }
    }

    /// Start checkers in this process's own network namespace.
    pub fn start_here(config: &Config) -> Run {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel(1024);
        let checkers = Checkers::for_config(config, &options(), tx).unwrap();
        Run {
            rt,
            rx,
            checkers: Some(checkers),
            seen: Vec::new(),
            pending: Default::default(),
        }
    }

    /// The next verdict within `within`.
    pub fn next(&mut self, within: Duration) -> Option<Verdict> {
        let got = self
            .rt
            .block_on(async { tokio::time::timeout(within, self.rx.recv()).await });
        match got {
            Ok(Some(v)) => {
                eprintln!("verdict: {:?} {}", v.state, v.reason);
                self.seen.push((Instant::now(), v.clone()));
                Some(v)
            }
            _ => None,
        }
    }

    /// Wait up to `within` for a verdict matching `pred` (verdicts that came earlier and
    /// were not asked for count first); panics listing what came.
    pub fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        pred: impl Fn(&Verdict) -> bool,
    ) -> Verdict {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).unwrap();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(v) if pred(&v) => return v,
                Some(v) => self.pending.push_back(v),
                None => panic!(
                    "no verdict '{what}' within {within:?}; seen:\n{}",
                    self.seen
                        .iter()
                        .map(|(_, v)| format!("  {:?} {}", v.state, v.reason))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    pub fn wait_up(&mut self, within: Duration) -> Verdict {
        self.wait_for("up", within, |v| v.state.is_up())
    }

    pub fn wait_down(&mut self, within: Duration) -> Verdict {
        self.wait_for("down", within, |v| v.state == CheckState::Down)
    }

    /// Assert no verdict comes for `d`.
    pub fn quiet_for(&mut self, d: Duration) {
        if let Some(v) = self.next(d) {
            panic!("unexpected verdict {:?}: {}", v.state, v.reason);
        }
    }

    pub fn stop(mut self) {
        if let Some(c) = self.checkers.take() {
            self.rt.block_on(c.shutdown());
        }
    }
}

/// A UDP echo server on `host`, answering with `reply(request)` until dropped.
pub struct UdpEcho {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UdpEcho {
    pub fn start(
        host: &Host,
        addr: &str,
        reply: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
    ) -> UdpEcho {
        let socket = host.in_netns(|| UdpSocket::bind(addr)).unwrap().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(&reply(&buf[..n]), from);
                }
            }
        });
        UdpEcho {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// TCP SYNs (without ACK) from `src` to port `dport` in a capture: their times.
pub fn syns(pcap: &baton_lab::Pcap, dport: u16) -> Vec<std::time::SystemTime> {
    pcap.records
        .iter()
        .filter_map(|r| {
            let ip = r.ip()?;
            if ip.protocol != 6 || ip.payload.len() < 14 {
                return None;
            }
            let port = u16::from_be_bytes([ip.payload[2], ip.payload[3]]);
            let flags = ip.payload[13];
            (port == dport && flags & 0x02 != 0 && flags & 0x10 == 0).then_some(r.ts)
        })
        .collect()
}

/// Gaps between successive times, in milliseconds.
pub fn gaps_ms(times: &[std::time::SystemTime]) -> Vec<u128> {
    times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap_or_default().as_millis())
        .collect()
}
