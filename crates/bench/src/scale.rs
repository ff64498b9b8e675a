//! Scale: the most instances each daemon keeps on one interface (VRRPv3, the interval
//! chosen), master and backup of the same daemon, without a transition over the window; the
//! master's CPU per advert sent beside the cost of a bare raw-socket send of the same advert
//! measured in the same run; the backup's CPU per advert received; memory per instance; and
//! a fast run (1,000 instances at 10 ms) that ends with the master SIGKILLed and every
//! instance's takeover timed on the wire.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use baton_lab::{Host, HostSpec, Lab, ms, wait_until};

use crate::conf::{self, Advert};
use crate::daemon::{Daemon, Kind};
use crate::procfs;
use crate::report::{Report, Row, target};
use crate::stats::human;
use crate::topo::tail;
use crate::{LB1, LB2, SETTLE, progress};

/// The instance count the CPU rows compare at, when it is among the steps.
pub const CPU_AT: usize = 2000;
/// The fast run: this many instances at [`FAST_INTERVAL`].
pub const FAST_INSTANCES: usize = 1000;
pub const FAST_INTERVAL: Duration = Duration::from_millis(10);
/// The backup's priority in every scale lab (the master's is 200).
const BACKUP_PRIORITY: u8 = 100;
/// Memory per instance beyond the idle daemon, at most.
const BYTES_PER_INSTANCE: u64 = 2048;

/// What the scale section runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<usize>,
    pub window: Duration,
    pub interval: Duration,
    /// Run the steps' daemons SCHED_RR at this priority.
    pub rt_priority: Option<u8>,
    /// End every step with the master SIGKILLed and each takeover timed.
    pub crash: bool,
    /// Run the fast crash run ([`FAST_INSTANCES`] at [`FAST_INTERVAL`]) after the steps.
    pub fast: bool,
}

/// Every instance's takeover after the master was SIGKILLed: its last advert on the wire to
/// the backup's first, per instance (VRID and group).
#[derive(Debug, Clone, Default)]
pub struct Takeovers {
    pub times: Vec<Duration>,
    /// Instances the backup never advertised for within the wait.
    pub missing: usize,
    pub bound: Duration,
    /// tcpdump's word on packets it lost, when it lost any.
    pub capture_loss: Option<String>,
}

impl Takeovers {
    fn sorted(&self) -> Vec<Duration> {
        let mut t = self.times.clone();
        t.sort();
        t
    }

    fn quantile(&self, q: f64) -> Option<Duration> {
        let t = self.sorted();
        let last = t.len().checked_sub(1)?;
        t.get(((last as f64) * q).round() as usize).copied()
    }

    fn within(&self) -> usize {
        let limit = self.bound + Duration::from_millis(2);
        self.times.iter().filter(|t| **t <= limit).count()
    }

    pub(crate) fn all_within(&self) -> bool {
        self.missing == 0 && !self.times.is_empty() && self.within() == self.times.len()
    }

    pub(crate) fn describe(&self) -> String {
        let n = self.times.len() + self.missing;
        let q = |x: f64| self.quantile(x).map_or("–".into(), human);
        format!(
            "median {} (min {}, p90 {}, p99 {}, max {}); {}/{n} within bound + 2 ms{}",
            q(0.5),
            q(0.0),
            q(0.9),
            q(0.99),
            q(1.0),
            self.within(),
            if self.missing > 0 {
                format!(", {} never taken over", self.missing)
            } else {
                String::new()
            }
        ) + &self
            .capture_loss
            .as_ref()
            .map_or(String::new(), |l| format!(" (capture: {l})"))
    }

    /// Counts per millisecond bucket, for the notes.
    fn histogram(&self) -> String {
        let mut buckets: std::collections::BTreeMap<u128, usize> = Default::default();
        for t in &self.times {
            *buckets.entry(t.as_millis()).or_default() += 1;
        }
        buckets
            .iter()
            .map(|(ms, n)| format!("{ms} ms: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One step of one daemon.
#[derive(Debug, Clone)]
pub struct Step {
    pub instances: usize,
    pub interval: Duration,
    /// Why the step failed, if it did.
    pub failure: Option<String>,
    pub window: Duration,
    /// The master's adverts on the wire over the window.
    pub adverts: u64,
    pub master_cpu: Duration,
    pub backup_cpu: Duration,
    /// Datagrams the kernel dropped at the backup's VRRP sockets (full receive buffer),
    /// over the daemon's life.
    pub backup_drops: u64,
    /// Of those, the ones dropped during the window.
    pub window_drops: u64,
    /// The master's resident memory (all its processes) after the window.
    pub master_rss_kb: u64,
    /// CPU per send of the same advert through a bare raw socket from the master's host,
    /// measured after the window with both daemons still running.
    pub floor: Option<Duration>,
    /// The crash at the end of the fast run.
    pub takeovers: Option<Takeovers>,
}

impl Step {
    pub(crate) fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// The master's CPU per advert it sent.
    pub(crate) fn cpu_per_advert(&self) -> Option<Duration> {
        (self.adverts > 0).then(|| self.master_cpu / self.adverts as u32)
    }

    /// The backup's CPU per advert the kernel handed it (sent, less those dropped at its
    /// full socket).
    pub(crate) fn cpu_per_received(&self) -> Option<Duration> {
        let received = self.adverts.saturating_sub(self.window_drops);
        (received > 0).then(|| self.backup_cpu / received as u32)
    }

    fn failed(instances: usize, interval: Duration, e: String) -> Step {
        Step {
            instances,
            interval,
            failure: Some(e),
            window: Duration::ZERO,
            adverts: 0,
            master_cpu: Duration::ZERO,
            backup_cpu: Duration::ZERO,
            backup_drops: 0,
            window_drops: 0,
            master_rss_kb: 0,
            floor: None,
            takeovers: None,
        }
    }

    pub(crate) fn describe(&self) -> String {
        if self.window.is_zero() {
            return format!(
                "{} instances: FAILED before the window: {}",
                self.instances,
                self.failure.as_deref().unwrap_or("?")
            );
        }
        let secs = self.window.as_secs_f64();
        let expected = self.instances as f64 / self.interval.as_secs_f64();
        let mut s = format!(
            "{} instances at {} s: {:.0} adverts/s from the master ({:.1} % of the {:.0} configured), master CPU {:.1} % of a core, backup CPU {:.1} %",
            self.instances,
            self.interval.as_secs_f64(),
            self.adverts as f64 / secs,
            self.adverts as f64 / secs / expected * 100.0,
            expected,
            self.master_cpu.as_secs_f64() / secs * 100.0,
            self.backup_cpu.as_secs_f64() / secs * 100.0,
        );
        if let Some(c) = self.cpu_per_advert() {
            s.push_str(&format!(", {:.2} µs CPU per advert", c.as_secs_f64() * 1e6));
        }
        if let Some(c) = self.cpu_per_received() {
            s.push_str(&format!(
                ", backup {:.2} µs CPU per advert received",
                c.as_secs_f64() * 1e6
            ));
        }
        if let Some(f) = self.floor {
            s.push_str(&format!(", raw-send floor {:.2} µs", f.as_secs_f64() * 1e6));
        }
        s.push_str(&format!(", master VmRSS {} kB", self.master_rss_kb));
        if self.backup_drops > 0 {
            s.push_str(&format!(
                ", {} adverts dropped by the kernel at the backup's full socket",
                self.backup_drops
            ));
        }
        match &self.failure {
            None => s.push_str(": held"),
            Some(f) => s.push_str(&format!(": FAILED: {f}")),
        }
        if let Some(t) = &self.takeovers {
            s.push_str(&format!(
                "; master SIGKILLed, takeovers (bound {}): {}; per ms: {}",
                human(t.bound),
                t.describe(),
                t.histogram()
            ));
        }
        s
    }
}

/// Adverts per source address counted on the bridge by nftables (no capture, no cost to the
/// daemons).
struct WireCounter {
    switch: Host,
}

const COUNTER_RULES: &str = "table bridge bench_count {
    chain prerouting {
        type filter hook prerouting priority 0; policy accept;
        ip saddr 192.168.5.11 ip protocol 112 counter
        ip saddr 192.168.5.12 ip protocol 112 counter
    }
}
";

impl WireCounter {
    fn install(lab: &Lab) -> Result<WireCounter> {
        let switch = lab.switch()?;
        let rules = switch.write_file("count.nft", COUNTER_RULES)?;
        switch.cmd(["nft".as_ref(), "-f".as_ref(), rules.as_os_str()])?;
        Ok(WireCounter { switch })
    }

    /// (adverts from the master, adverts from the backup) so far.
    fn read(&self) -> Result<(u64, u64)> {
        let text = self
            .switch
            .cmd(["nft", "list", "table", "bridge", "bench_count"])?;
        Ok((packets(&text, LB1)?, packets(&text, LB2)?))
    }
}

/// The packet count of the rule matching `source` in `nft list` output.
fn packets(listing: &str, source: &str) -> Result<u64> {
    let needle = format!("ip saddr {source} ");
    let line = listing
        .lines()
        .find(|l| l.contains(&needle))
        .with_context(|| format!("no counter for {source}"))?;
    let mut words = line.split_whitespace();
    words
        .find(|w| *w == "packets")
        .and_then(|_| words.next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no packet count in {line:?}"))
}

/// Datagrams dropped at the host's raw sockets for IP protocol 112, from its
/// /proc/net/raw ("local_address" ends in the protocol, the last column counts drops).
fn vrrp_socket_drops(host: &Host) -> Result<u64> {
    Ok(raw_drops(&host.cmd(["cat", "/proc/net/raw"])?))
}

fn raw_drops(table: &str) -> u64 {
    table
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(":0070"))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

fn vips_held(host: &Host) -> Result<usize> {
    Ok(host
        .addresses()?
        .iter()
        .filter(|a| a.ifname == "ens33" && a.cidr.addr.to_string().starts_with("10.200."))
        .count())
}

/// Whether the backup has settled, judged the same way for both daemons: every instance
/// has started (both log keepalived's "(VI_n) Entering BACKUP STATE (init)"), and it holds
/// no VIP and has sent no advert for two seconds (a backup that took an instance over at
/// start-up advertises it until it hears the master).
fn backup_settled(d: &Daemon, n: usize, counter: &WireCounter, host: &Host) -> Result<bool> {
    if d.log()?.matches("Entering BACKUP STATE").count() < n {
        return Ok(false);
    }
    let (_, before) = counter.read()?;
    std::thread::sleep(Duration::from_secs(2));
    let (_, after) = counter.read()?;
    Ok(after == before && vips_held(host)? == 0)
}

/// baton's `--metrics` during a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// No listener (the default).
    Off,
    /// The master listens, nobody asks.
    Listening,
    /// The master listens and a client on the backup's host asks for /metrics every second,
    /// as a Prometheus would.
    Scraped,
}

/// Where the master listens with `--metrics`.
const METRICS_AT: &str = "192.168.5.11:9165";

fn step(kind: Kind, baton: &Path, n: usize, window: Duration, at: Timing) -> Result<Step> {
    step_with(kind, baton, n, window, Metrics::Off, at)
}

/// A step's advert interval, whether it ends with the master SIGKILLed, and whether both
/// daemons run under the real-time policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub interval: Duration,
    pub crash: bool,
    pub rt_priority: Option<u8>,
}

impl Timing {
    pub(crate) const DEFAULT: Timing = Timing {
        interval: Duration::from_millis(100),
        crash: false,
        rt_priority: None,
    };
}

/// The fast run's daemons run SCHED_RR at this priority (`chrt -r`), both of them: at
/// 10 ms a daemon that waits behind the machine's other work for a few tens of
/// milliseconds loses its instances, which is why keepalived has `vrrp_rt_priority`.
pub const FAST_RT_PRIORITY: u8 = 20;

/// GET /metrics from inside `host` every second until `stop`; how many answers came.
fn scrape(host: Host, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<u64> {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    host.in_netns(move || {
        let mut answers = 0;
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let got = (|| -> std::io::Result<bool> {
                let mut s = std::net::TcpStream::connect_timeout(
                    &METRICS_AT.parse().expect("a socket address"),
                    Duration::from_secs(1),
                )?;
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: lb1\r\nConnection: close\r\n\r\n")?;
                let mut body = Vec::new();
                s.read_to_end(&mut body)?;
                Ok(body.starts_with(b"HTTP/1.1 200"))
            })();
            if matches!(got, Ok(true)) {
                answers += 1;
            }
            std::thread::sleep(Duration::from_secs(1).saturating_sub(t.elapsed()));
        }
        answers
    })
    .map_err(Into::into)
}

pub(crate) fn step_with(
    kind: Kind,
    baton: &Path,
    n: usize,
    window: Duration,
    metrics: Metrics,
    at: Timing,
) -> Result<Step> {
    let lab = Lab::new("bench-scale")?;
    let master_host = lab.add_host(HostSpec::new("sm").ifname("ens33").addr("192.168.5.11/24"))?;
    let backup_host = lab.add_host(HostSpec::new("sb").ifname("ens33").addr("192.168.5.12/24"))?;
    for h in [&master_host, &backup_host] {
        // One multicast group per 255 instances (79 for 20,000); baton joins them all on
        // one socket.
        h.sh("sysctl -qw net.ipv4.igmp_max_memberships=256")?;
    }
    let counter = WireCounter::install(&lab)?;
    let startup = Duration::from_secs(30) + Duration::from_millis(10) * n as u32;
    let extra: Vec<String> = match metrics {
        Metrics::Off => Vec::new(),
        Metrics::Listening | Metrics::Scraped => {
            vec!["--metrics".into(), METRICS_AT.into()]
        }
    };
    let master = Daemon::start_scheduled(
        kind,
        baton,
        &master_host,
        "scale",
        &conf::many_at(n, LB1, 200, true, Advert::V3Every(at.interval)).render(),
        &extra,
        at.rt_priority,
    )?;
    wait_until(
        format!("{kind:?} master to hold {n} VIPs"),
        startup,
        ms(200),
        || -> Result<bool> {
            if !master.running()? {
                bail!("the master exited: {}", tail(&master.log()?));
            }
            Ok(vips_held(&master_host)? == n)
        },
    )?;
    let backup = Daemon::start_scheduled(
        kind,
        baton,
        &backup_host,
        "scale",
        &conf::many_at(n, LB2, BACKUP_PRIORITY, false, Advert::V3Every(at.interval)).render(),
        &[],
        at.rt_priority,
    )?;
    wait_until(
        format!("{kind:?} backup to settle"),
        startup,
        ms(200),
        || -> Result<bool> {
            if !backup.running()? {
                bail!("the backup exited: {}", tail(&backup.log()?));
            }
            backup_settled(&backup, n, &counter, &backup_host)
        },
    )?;
    std::thread::sleep(SETTLE);
    let mut failure = None;
    let (on_master, on_backup) = (vips_held(&master_host)?, vips_held(&backup_host)?);
    if on_master != n || on_backup != 0 {
        failure = Some(format!(
            "did not converge: {on_master} VIPs on the master, {on_backup} on the backup"
        ));
    }
    let pids = |d: &Daemon| -> Result<Vec<u32>> {
        Ok(d.processes()?.iter().map(|p| p.outer_pid).collect())
    };
    let (mp, bp) = (pids(&master)?, pids(&backup)?);
    let transitions0 = (master.transitions()?, backup.transitions()?);
    let drops0 = vrrp_socket_drops(&backup_host)?;
    let (sent0, backup_sent0) = counter.read()?;
    let (mcpu0, bcpu0) = (procfs::cpu_of(&mp)?, procfs::cpu_of(&bp)?);
    if let Some(f) = failure {
        master.stop()?;
        backup.stop()?;
        lab.teardown()?;
        bail!(f);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = (metrics == Metrics::Scraped).then(|| {
        let (host, stop) = (backup_host.clone(), stop.clone());
        std::thread::spawn(move || scrape(host, stop))
    });
    let start = Instant::now();
    while failure.is_none() && start.elapsed() < window {
        std::thread::sleep(Duration::from_secs(1).min(window.saturating_sub(start.elapsed())));
        if counter.read()?.1 > backup_sent0 {
            failure = Some("the backup advertised (it became MASTER)".into());
        } else if !master.running()? || !backup.running()? {
            failure = Some("a daemon exited".into());
        }
    }
    let elapsed = start.elapsed();
    let (mcpu1, bcpu1) = (procfs::cpu_of(&mp)?, procfs::cpu_of(&bp)?);
    let (sent1, _) = counter.read()?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(scraper) = scraper {
        let answers = scraper
            .join()
            .map_err(|_| anyhow::anyhow!("the scraper panicked"))??;
        let expected = elapsed.as_secs().saturating_sub(1);
        if failure.is_none() && answers < expected {
            failure = Some(format!(
                "/metrics answered {answers} times in {} s",
                elapsed.as_secs()
            ));
        }
    }
    let backup_drops = vrrp_socket_drops(&backup_host)?;
    let master_rss_kb = procfs::memory_of(&mp)?.rss_kb;
    let transitions1 = (master.transitions()?, backup.transitions()?);
    if failure.is_none() && transitions1 != transitions0 {
        failure = Some(format!(
            "{} transitions on the master, {} on the backup",
            transitions1.0 - transitions0.0,
            transitions1.1 - transitions0.1
        ));
    }
    // Both daemons still running, so the floor's packets take the very path the master's do.
    let floor = match raw_send_floor(&master_host, at.interval) {
        Ok(f) => Some(f),
        Err(e) => {
            progress(&format!(
                "scale: the raw-send floor could not be measured: {e:#}"
            ));
            None
        }
    };
    let takeovers = if at.crash && failure.is_none() {
        Some(crash_master(
            &master,
            &backup,
            &backup_host,
            n,
            at.interval,
        )?)
    } else {
        None
    };
    master.stop()?;
    backup.stop()?;
    lab.teardown()?;
    Ok(Step {
        instances: n,
        interval: at.interval,
        failure,
        window: elapsed,
        adverts: sent1 - sent0,
        master_cpu: mcpu1.saturating_sub(mcpu0),
        backup_cpu: bcpu1.saturating_sub(bcpu0),
        backup_drops,
        window_drops: backup_drops.saturating_sub(drops0),
        master_rss_kb,
        floor,
        takeovers,
    })
}

/// Sends in the floor measurement: bursts like a master's, paced so the backup keeps up.
const FLOOR_BURST: usize = 100;
const FLOOR_BURSTS: usize = 200;

/// CPU per send of one advert (VI_1's, as the master sends it: VRID 1, priority 200, its
/// VIP, from the master's address to 224.0.0.18) through a plain raw socket bound to the
/// master's interface, one `sendto` per packet: what the kernel's path costs and nothing
/// else. Thread CPU time from the scheduler (/proc/thread-self/schedstat, nanoseconds),
/// which counts the softirq work done on the sender's behalf as the daemon's CPU time does.
fn raw_send_floor(host: &Host, interval: Duration) -> Result<Duration> {
    use baton_wire::advert::encode_addresses;
    use baton_wire::{Addresses, AdvertRepr, Auth, ChecksumForm, Family, Version};
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};

    let src: Ipv4Addr = LB1.parse()?;
    let group = Ipv4Addr::new(224, 0, 0, 18);
    let vip = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 1));
    let bytes = encode_addresses(Family::Ipv4, &[vip]);
    let advert = AdvertRepr {
        version: Version::V3,
        vrid: 1,
        priority: 200,
        interval: (interval.as_millis() / 10).clamp(1, 0x0fff) as u16,
        auth: Auth::None,
        addresses: Addresses::new(Family::Ipv4, &bytes).context("the VIP")?,
    };
    let mut buf = [0u8; 64];
    let n = advert.emit(
        &mut buf,
        IpAddr::V4(src),
        IpAddr::V4(group),
        ChecksumForm::PseudoHeader,
    )?;
    host.in_netns(move || -> Result<Duration> {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))?;
        s.bind_device(Some(b"ens33"))?;
        s.bind(&SockAddr::from(SocketAddrV4::new(src, 0)))?;
        s.set_tos_v4(0xc0)?;
        s.set_multicast_ttl_v4(255)?;
        s.set_multicast_loop_v4(false)?;
        let to = SockAddr::from(SocketAddrV4::new(group, 0));
        let before = thread_cpu()?;
        for _ in 0..FLOOR_BURSTS {
            for _ in 0..FLOOR_BURST {
                s.send_to(&buf[..n], &to)?;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let spent = thread_cpu()?.saturating_sub(before);
        Ok(spent / (FLOOR_BURSTS * FLOOR_BURST) as u32)
    })?
}

/// This thread's CPU time so far.
fn thread_cpu() -> Result<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let ns: u64 = text
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .context("no run time in /proc/thread-self/schedstat")?;
    Ok(Duration::from_nanos(ns))
}

/// SIGKILL the master with every instance held, and time each instance's takeover on the
/// wire: the master's last advert for it (VRID and group) to the backup's first.
fn crash_master(
    master: &Daemon,
    backup: &Daemon,
    backup_host: &Host,
    n: usize,
    interval: Duration,
) -> Result<Takeovers> {
    let bound = Advert::V3Every(interval).master_down(BACKUP_PRIORITY);
    // On the backup's interface (its own adverts as they leave, the master's as they
    // arrive), headers only, into a large buffer written out in blocks: at 100,000 adverts a
    // second tcpdump's usual per-packet wake-ups would fall behind and drop the very adverts
    // that are timed.
    let path = backup_host.path("crash.pcap");
    let mut cmd = std::process::Command::new("tcpdump");
    cmd.args([
        "-i", "ens33", "-n", "-s", "96", "-B", "131072", "-Z", "root", "-w",
    ])
    .arg(&path)
    .arg("ip proto 112");
    let dump = backup_host.spawn(&mut cmd)?;
    wait_until("tcpdump to listen", Duration::from_secs(10), ms(10), || {
        Ok::<bool, anyhow::Error>(dump.stderr()?.contains("listening on"))
    })?;
    std::thread::sleep(Duration::from_millis(300));
    let killed = master.crash()?;
    let waited = wait_until(
        "the backup to hold every VIP",
        bound + Duration::from_secs(10),
        ms(20),
        || -> Result<bool> {
            if !backup.running()? {
                bail!("the backup exited: {}", tail(&backup.log()?));
            }
            Ok(vips_held(backup_host)? == n)
        },
    );
    // Adverts still in flight reach the capture.
    std::thread::sleep(Duration::from_millis(200));
    dump.signal(baton_lab::Signal::SIGINT)?;
    if dump.wait_timeout(Duration::from_secs(10))?.is_none() {
        dump.kill()?;
        bail!("tcpdump ignored SIGINT");
    }
    let said = dump.stderr()?;
    let capture_loss = said
        .lines()
        .find(|l| l.contains("dropped by kernel") && !l.trim_start().starts_with("0 "))
        .map(|l| l.trim().to_string());
    let pcap = baton_lab::Pcap::read(&path)?;
    if let Err(e) = waited {
        progress(&format!("scale: {e:#}"));
    }
    let (master_ip, backup_ip): (IpAddr, IpAddr) = (LB1.parse()?, LB2.parse()?);
    let mut last: HashMap<(IpAddr, u8), SystemTime> = HashMap::new();
    let mut first: HashMap<(IpAddr, u8), SystemTime> = HashMap::new();
    for r in &pcap.records {
        let Some(ip) = r.ip() else { continue };
        if ip.protocol != 112 || ip.payload.len() < 8 {
            continue;
        }
        let key = (ip.dst, ip.payload[1]);
        if ip.src == master_ip {
            last.insert(key, r.ts);
        } else if ip.src == backup_ip && r.ts >= killed {
            first.entry(key).or_insert(r.ts);
        }
    }
    let mut t = Takeovers {
        bound,
        capture_loss,
        ..Takeovers::default()
    };
    for (key, took_at) in &first {
        match last.get(key).and_then(|l| took_at.duration_since(*l).ok()) {
            Some(d) => t.times.push(d),
            None => t.missing += 1,
        }
    }
    t.missing += n.saturating_sub(first.len());
    Ok(t)
}

pub fn run(baton: &Path, plan: &Plan, report: &mut Report) -> Result<()> {
    let timing = Timing {
        interval: plan.interval,
        crash: plan.crash,
        rt_priority: plan.rt_priority,
    };
    let label = Advert::V3Every(plan.interval).label();
    let mut all: Vec<Vec<Step>> = Vec::new();
    for kind in Kind::BOTH {
        let mut done = Vec::new();
        for &n in &plan.steps {
            let s = step(kind, baton, n, plan.window, timing)
                .unwrap_or_else(|e| Step::failed(n, plan.interval, format!("{e:#}")));
            progress(&format!("scale {kind:?}: {}", s.describe()));
            report
                .notes
                .push(format!("scale, {kind:?}: {}", s.describe()));
            let passed = s.passed();
            done.push(s);
            if !passed {
                break;
            }
        }
        all.push(done);
    }
    let best = |steps: &[Step]| {
        steps
            .iter()
            .filter(|s| s.passed())
            .map(|s| s.instances)
            .max()
    };
    let (b, k) = (best(&all[0]), best(&all[1]));
    let held = |best: Option<usize>, steps: &[Step]| {
        let failed = steps.iter().find(|s| !s.passed());
        let mut s = best.map_or("none of the steps".to_string(), |n| n.to_string());
        match failed {
            Some(f) => s.push_str(&format!(" (failed at {})", f.instances)),
            None => s.push_str(" (every step passed)"),
        }
        s
    };
    let steps_text = plan
        .steps
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let largest = plan.steps.iter().copied().max().unwrap_or(0);
    report.rows.push(Row {
        section: "scale",
        measure: format!(
            "most instances held for {} s at {label}, master + backup, one interface, no transition",
            plan.window.as_secs()
        ),
        bound: format!("steps {steps_text}"),
        baton: held(b, &all[0]),
        keepalived: held(k, &all[1]),
        target: target(
            Some(b == Some(largest)),
            &format!("every step, {largest} instances included"),
        ),
    });
    cpu_rows(&all, &label, report);
    memory_row(&all, &label, report);
    if plan.fast {
        fast_run(baton, plan.window, report)?;
    }
    Ok(())
}

/// The step both daemons held that the CPU rows compare at: [`CPU_AT`] if both held it,
/// else the largest count both held.
fn comparable(all: &[Vec<Step>]) -> Option<usize> {
    let held = |steps: &[Step], n: usize| steps.iter().any(|s| s.instances == n && s.passed());
    if held(&all[0], CPU_AT) && held(&all[1], CPU_AT) {
        return Some(CPU_AT);
    }
    all[0]
        .iter()
        .filter(|s| s.passed() && held(&all[1], s.instances))
        .map(|s| s.instances)
        .max()
}

fn micros(d: Option<Duration>) -> String {
    d.map_or("–".into(), |d| format!("{:.2} µs", d.as_secs_f64() * 1e6))
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.0} %", a.as_secs_f64() / b.as_secs_f64() * 100.0)
}

/// The master's CPU per advert sent (beside keepalived's and the raw-send floor) and the
/// backup's per advert received, at the comparable step.
fn cpu_rows(all: &[Vec<Step>], label: &str, report: &mut Report) {
    let Some(n) = comparable(all) else {
        report
            .notes
            .push("scale: no step both daemons held; no CPU rows".into());
        return;
    };
    let at = |steps: &[Step]| steps.iter().find(|s| s.instances == n).cloned();
    let (Some(bs), Some(ks)) = (at(&all[0]), at(&all[1])) else {
        return;
    };
    let (bc, kc) = (bs.cpu_per_advert(), ks.cpu_per_advert());
    let floor = bs.floor;
    let mut baton = micros(bc);
    if let (Some(b), Some(k)) = (bc, kc) {
        baton.push_str(&format!(" ({} of keepalived's", ratio(b, k)));
        if let Some(f) = floor {
            baton.push_str(&format!(
                ", {:.1}× the floor",
                b.as_secs_f64() / f.as_secs_f64()
            ));
        }
        baton.push(')');
    }
    report.rows.push(Row {
        section: "scale",
        measure: format!("master's CPU time per advert sent, {n} instances at {label}"),
        bound: format!(
            "raw-send floor {} (a bare sendto of the same advert, same host, same run)",
            micros(floor)
        ),
        baton,
        keepalived: micros(kc),
        target: target(
            match (bc, kc, floor) {
                (Some(b), Some(k), Some(f)) => Some(b * 3 <= k && b <= f * 2),
                _ => None,
            },
            "≤ 1/3 of keepalived's and ≤ 2× the floor",
        ),
    });
    let (br, kr) = (bs.cpu_per_received(), ks.cpu_per_received());
    let mut baton = micros(br);
    if let (Some(b), Some(k)) = (br, kr) {
        baton.push_str(&format!(" ({} of keepalived's)", ratio(b, k)));
    }
    report.rows.push(Row {
        section: "scale",
        measure: format!(
            "backup's CPU time per advert received (sent less dropped at its full socket), {n} instances at {label}"
        ),
        bound: "–".into(),
        baton,
        keepalived: micros(kr),
        target: target(
            match (br, kr) {
                (Some(b), Some(k)) => Some(b * 3 <= k),
                _ => None,
            },
            "≤ 1/3 of keepalived's",
        ),
    });
}

/// The master's resident memory per instance beyond the idle daemon: the slope between the
/// smallest and the largest step each daemon held.
fn memory_row(all: &[Vec<Step>], label: &str, report: &mut Report) {
    let slope = |steps: &[Step]| -> Option<(u64, usize, usize)> {
        let held: Vec<&Step> = steps.iter().filter(|s| s.passed()).collect();
        let (lo, hi) = (held.first()?, held.last()?);
        let extra = hi.instances.checked_sub(lo.instances).filter(|d| *d > 0)?;
        let bytes = hi.master_rss_kb.saturating_sub(lo.master_rss_kb) * 1024;
        Some((bytes / extra as u64, lo.instances, hi.instances))
    };
    let text = |s: Option<(u64, usize, usize)>| {
        s.map_or("–".into(), |(b, lo, hi)| {
            format!("{b} bytes (VmRSS, {lo} → {hi} instances)")
        })
    };
    let (b, k) = (slope(&all[0]), slope(&all[1]));
    report.rows.push(Row {
        section: "scale",
        measure: format!("master's memory per instance beyond the idle daemon, {label}"),
        bound: "–".into(),
        baton: text(b),
        keepalived: text(k),
        target: target(
            b.map(|(bytes, _, _)| bytes <= BYTES_PER_INSTANCE),
            "≤ 2 KB per instance",
        ),
    });
}

/// [`FAST_INSTANCES`] at [`FAST_INTERVAL`] for the window, then the master SIGKILLed: held
/// without a transition, and every instance taken over within its bound + 2 ms.
fn fast_run(baton: &Path, window: Duration, report: &mut Report) -> Result<()> {
    let timing = Timing {
        interval: FAST_INTERVAL,
        crash: true,
        rt_priority: Some(FAST_RT_PRIORITY),
    };
    let label = Advert::V3Every(FAST_INTERVAL).label();
    let mut runs = Vec::new();
    for kind in Kind::BOTH {
        let s = step(kind, baton, FAST_INSTANCES, window, timing)
            .unwrap_or_else(|e| Step::failed(FAST_INSTANCES, FAST_INTERVAL, format!("{e:#}")));
        progress(&format!("scale fast {kind:?}: {}", s.describe()));
        report
            .notes
            .push(format!("scale, fast, {kind:?}: {}", s.describe()));
        runs.push(s);
    }
    let held = |s: &Step| match &s.failure {
        None => format!(
            "held ({:.0} adverts/s, master CPU {:.1} % of a core)",
            s.adverts as f64 / s.window.as_secs_f64(),
            s.master_cpu.as_secs_f64() / s.window.as_secs_f64() * 100.0
        ),
        Some(f) => format!("FAILED: {f}"),
    };
    report.rows.push(Row {
        section: "scale",
        measure: format!(
            "{FAST_INSTANCES} instances at {label} ({:.0} adverts/s) held for {} s, master + backup, no transition (both daemons SCHED_RR {FAST_RT_PRIORITY}, `chrt -r`)",
            FAST_INSTANCES as f64 / FAST_INTERVAL.as_secs_f64(),
            window.as_secs()
        ),
        bound: "–".into(),
        baton: held(&runs[0]),
        keepalived: held(&runs[1]),
        target: target(Some(runs[0].passed()), "held"),
    });
    let bound = Advert::V3Every(FAST_INTERVAL).master_down(BACKUP_PRIORITY);
    let taken = |s: &Step| match (&s.takeovers, &s.failure) {
        (Some(t), _) => t.describe(),
        (None, Some(_)) => "not measured (the hold failed)".into(),
        (None, None) => "not measured".into(),
    };
    report.rows.push(Row {
        section: "scale",
        measure: "then the master SIGKILLed: every instance's takeover, its last advert → the backup's first".into(),
        bound: format!("{} (3×{} + skew)", human(bound), human(FAST_INTERVAL)),
        baton: taken(&runs[0]),
        keepalived: taken(&runs[1]),
        target: target(
            runs[0].takeovers.as_ref().map(Takeovers::all_within),
            "every instance ≤ bound + 2 ms",
        ),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_per_source() {
        let listing = "table bridge bench_count {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n\t\tip saddr 192.168.5.11 ip protocol vrrp counter packets 1234 bytes 74040\n\t\tip saddr 192.168.5.12 ip protocol vrrp counter packets 0 bytes 0\n\t}\n}\n";
        assert_eq!(packets(listing, LB1).unwrap(), 1234);
        assert_eq!(packets(listing, LB2).unwrap(), 0);
        assert!(packets(listing, "10.0.0.1").is_err());
    }

    #[test]
    fn raw_socket_drops_of_vrrp_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   112: 00000000:0070 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12345 2 0000000000000000 730
   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12346 2 0000000000000000 9
   112: 00000000:0070 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12347 2 0000000000000000 2
";
        assert_eq!(raw_drops(table), 732);
    }
}
