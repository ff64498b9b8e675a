//! Scale: the most instances each daemon keeps at v3 0.1 s on one interface, master and
//! backup of the same daemon, without a transition over the window; and the master's CPU per
//! advert sent.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use baton_lab::{Host, HostSpec, Lab, ms, wait_until};

use crate::conf;
use crate::daemon::{Daemon, Kind};
use crate::procfs;
use crate::report::{Report, Row, target};
use crate::topo::tail;
use crate::{LB1, LB2, SETTLE, progress};

/// One step of one daemon.
#[derive(Debug, Clone)]
pub struct Step {
    pub instances: usize,
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
}

impl Step {
    pub(crate) fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// The master's CPU per advert it sent.
    pub(crate) fn cpu_per_advert(&self) -> Option<Duration> {
        (self.adverts > 0).then(|| self.master_cpu / self.adverts as u32)
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
        let expected = self.instances as f64 * 10.0;
        let mut s = format!(
            "{} instances: {:.0} adverts/s from the master ({:.1} % of the {:.0} configured), master CPU {:.1} % of a core, backup CPU {:.1} %",
            self.instances,
            self.adverts as f64 / secs,
            self.adverts as f64 / secs / expected * 100.0,
            expected,
            self.master_cpu.as_secs_f64() / secs * 100.0,
            self.backup_cpu.as_secs_f64() / secs * 100.0,
        );
        if let Some(c) = self.cpu_per_advert() {
            s.push_str(&format!(", {:.1} µs CPU per advert", c.as_secs_f64() * 1e6));
        }
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

fn step(kind: Kind, baton: &Path, n: usize, window: Duration) -> Result<Step> {
    step_with(kind, baton, n, window, Metrics::Off)
}

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
) -> Result<Step> {
    let lab = Lab::new("bench-scale")?;
    let master_host = lab.add_host(HostSpec::new("sm").ifname("ens33").addr("192.168.5.11/24"))?;
    let backup_host = lab.add_host(HostSpec::new("sb").ifname("ens33").addr("192.168.5.12/24"))?;
    for h in [&master_host, &backup_host] {
        // One multicast group per 255 instances; baton joins them all on one socket.
        h.sh("sysctl -qw net.ipv4.igmp_max_memberships=64")?;
    }
    let counter = WireCounter::install(&lab)?;
    let startup = Duration::from_secs(30) + Duration::from_millis(10) * n as u32;
    let extra: Vec<String> = match metrics {
        Metrics::Off => Vec::new(),
        Metrics::Listening | Metrics::Scraped => {
            vec!["--metrics".into(), METRICS_AT.into()]
        }
    };
    let master = Daemon::start_with(
        kind,
        baton,
        &master_host,
        "scale",
        &conf::many(n, LB1, 200, true).render(),
        &extra,
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
    let backup = Daemon::start(
        kind,
        baton,
        &backup_host,
        "scale",
        &conf::many(n, LB2, 100, false).render(),
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
    let transitions1 = (master.transitions()?, backup.transitions()?);
    let backup_drops = vrrp_socket_drops(&backup_host)?;
    if failure.is_none() && transitions1 != transitions0 {
        failure = Some(format!(
            "{} transitions on the master, {} on the backup",
            transitions1.0 - transitions0.0,
            transitions1.1 - transitions0.1
        ));
    }
    master.stop()?;
    backup.stop()?;
    lab.teardown()?;
    Ok(Step {
        instances: n,
        failure,
        window: elapsed,
        adverts: sent1 - sent0,
        master_cpu: mcpu1.saturating_sub(mcpu0),
        backup_cpu: bcpu1.saturating_sub(bcpu0),
        backup_drops,
    })
}

pub fn run(baton: &Path, steps: &[usize], window: Duration, report: &mut Report) -> Result<()> {
    let mut all: Vec<Vec<Step>> = Vec::new();
    for kind in Kind::BOTH {
        let mut done = Vec::new();
        for &n in steps {
            let s = match step(kind, baton, n, window) {
                Ok(s) => s,
                Err(e) => Step {
                    instances: n,
                    failure: Some(format!("{e:#}")),
                    window: Duration::ZERO,
                    adverts: 0,
                    master_cpu: Duration::ZERO,
                    backup_cpu: Duration::ZERO,
                    backup_drops: 0,
                },
            };
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
    let steps_text = steps
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    report.rows.push(Row {
        section: "scale",
        measure: format!(
            "most instances held for {} s at v3 0.1 s, master + backup, one interface, no transition",
            window.as_secs()
        ),
        bound: format!("steps {steps_text}"),
        baton: held(b, &all[0]),
        keepalived: held(k, &all[1]),
        target: target(
            match (b, k) {
                (Some(b), Some(k)) => Some(b >= k),
                (Some(_), None) => Some(true),
                (None, _) => None,
            },
            "≥ keepalived's",
        ),
    });
    // CPU per advert at the largest count both daemons held, so they are compared at the
    // same load.
    let common = match (b, k) {
        (Some(b), Some(k)) => Some(b.min(k)),
        _ => None,
    };
    if let Some(n) = common {
        let at = |steps: &[Step]| {
            steps
                .iter()
                .find(|s| s.instances == n)
                .and_then(Step::cpu_per_advert)
        };
        let (bc, kc) = (at(&all[0]), at(&all[1]));
        let text = |c: Option<Duration>| {
            c.map_or("–".into(), |c| format!("{:.1} µs", c.as_secs_f64() * 1e6))
        };
        report.rows.push(Row {
            section: "scale",
            measure: format!("master's CPU time per advert sent, {n} instances at v3 0.1 s"),
            bound: "–".into(),
            baton: text(bc),
            keepalived: text(kc),
            target: target(
                match (bc, kc) {
                    (Some(b), Some(k)) => Some(b <= k),
                    _ => None,
                },
                "≤ keepalived's",
            ),
        });
    }
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
