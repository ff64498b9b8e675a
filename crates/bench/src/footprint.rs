//! Footprint: memory and idle CPU of each daemon as master, for the seed's configuration and
//! for 200 instances at 0.1 s. The daemons run at once, each alone on a segment of its own,
//! so they are measured over the same window. The idle window is split over [`STARTS`]
//! starts of both daemons: most of a daemon's RSS is its program's pages, and which of them
//! are resident moves by a few hundred kB from one start of the same binary to the next
//! (the kernel maps a 64 kB window around each page of code a start happens to run), so one
//! start cannot tell a change in the program from that spread.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_lab::{Host, HostSpec, Lab, ms, wait_until};

use crate::conf::{self, Advert, Conf, Instance};
use crate::daemon::{Daemon, Kind};
use crate::procfs::{self, Memory};
use crate::report::{Report, Row, target};
use crate::{LB1, SETTLE, progress};

/// Starts of both daemons the idle window is split over.
const STARTS: u32 = 3;

/// What one daemon cost over one start's window.
#[derive(Debug, Clone, Copy)]
struct Cost {
    memory: Memory,
    cpu: Duration,
    processes: usize,
}

/// What one daemon cost over every start: memory per start, CPU summed.
#[derive(Debug, Clone, Default)]
struct Costs {
    memory: Vec<Memory>,
    cpu: Duration,
    processes: usize,
}

impl Costs {
    fn add(&mut self, c: Cost) {
        self.memory.push(c.memory);
        self.cpu += c.cpu;
        // The most any start ran: a start that lost a process shows in the count.
        self.processes = self.processes.max(c.processes);
    }

    /// The median, lowest and highest of one memory figure over the starts, kB.
    fn spread(&self, pick: Pick) -> (u64, u64, u64) {
        let mut v: Vec<u64> = self.memory.iter().map(pick).collect();
        v.sort_unstable();
        let lo = v.first().copied().unwrap_or(0);
        let hi = v.last().copied().unwrap_or(0);
        (v.get(v.len() / 2).copied().unwrap_or(0), lo, hi)
    }
}

/// One daemon under measurement: which, built how, on which host.
struct Subject<'a> {
    kind: Kind,
    binary: &'a Path,
    host: Host,
}

/// Which figure of a start's memory a row shows.
type Pick = fn(&Memory) -> u64;

/// How many addresses `host` holds on ens33 beyond the one the lab gave it.
fn vips_held(host: &Host) -> Result<usize> {
    Ok(host
        .addresses()?
        .iter()
        .filter(|a| a.ifname == "ens33" && a.cidr.addr.to_string() != LB1 && a.cidr.addr.is_ipv4())
        .count())
}

/// Run every subject on `conf` until it holds `vips`, let it settle, and measure it over
/// `idle`.
fn measure(
    subjects: &[Subject<'_>],
    label: &str,
    conf: &str,
    vips: usize,
    idle: Duration,
    report: &mut Report,
) -> Result<Vec<Cost>> {
    let daemons = subjects
        .iter()
        .map(|s| Daemon::start(s.kind, s.binary, &s.host, "fp", conf))
        .collect::<Result<Vec<_>>>()?;
    for d in &daemons {
        wait_until(
            format!("{:?} on {} to hold its {vips} VIPs", d.kind, d.host.name()),
            Duration::from_secs(30),
            ms(50),
            || vips_held(&d.host).map(|n| n == vips),
        )?;
    }
    // Past keepalived's second GARP burst (garp_master_delay, 5 s): idle means idle.
    std::thread::sleep(SETTLE);
    let pids: Vec<Vec<u32>> = daemons
        .iter()
        .map(|d| {
            let pids: Vec<u32> = d.processes()?.iter().map(|p| p.outer_pid).collect();
            // Found by process name: a binary under another name measures nothing, which
            // must not pass for a footprint of 0 MB.
            if pids.is_empty() {
                bail!(
                    "footprint, {label}: no {} process of {:?} on {} (is the binary named {0}?)",
                    d.kind.comm(),
                    d.kind,
                    d.host.name()
                );
            }
            Ok(pids)
        })
        .collect::<Result<_>>()?;
    let before = pids
        .iter()
        .map(|p| procfs::cpu_of(p))
        .collect::<Result<Vec<_>>>()?;
    progress(&format!("footprint, {label}: idle for {idle:?}"));
    std::thread::sleep(idle);
    let mut costs = Vec::new();
    for (i, d) in daemons.iter().enumerate() {
        let now = procfs::cpu_of(&pids[i])?;
        costs.push(Cost {
            memory: procfs::memory_of(&pids[i])?,
            cpu: now.saturating_sub(before[i]),
            processes: pids[i].len(),
        });
        if vips_held(&d.host)? != vips {
            report.notes.push(format!(
                "footprint, {label}: {:?} on {} lost a VIP during the window",
                d.kind,
                d.host.name()
            ));
        }
    }
    for d in &daemons {
        d.stop()
            .with_context(|| format!("stopping {:?} on {}", d.kind, d.host.name()))?;
    }
    Ok(costs)
}

fn megabytes(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

pub fn run(baton: &Path, idle: Duration, report: &mut Report) -> Result<()> {
    let lab = Lab::new("bench-fp")?;
    let host = |name: &str, segment: &str| -> Result<Host> {
        lab.add_segment(segment)?;
        Ok(lab.add_host(
            HostSpec::new(name)
                .segment(segment)
                .ifname("ens33")
                .addr("192.168.5.11/24"),
        )?)
    };
    let subjects = [
        Subject {
            kind: Kind::Baton,
            binary: baton,
            host: host("fp-baton", "fpb")?,
        },
        Subject {
            kind: Kind::Keepalived,
            binary: baton,
            host: host("fp-ka", "fpk")?,
        },
    ];
    let seed = Conf::new(LB1).instance(Instance::seed(200, true, Advert::V2OneSecond));
    let cases = [
        ("the seed's config (1 instance, v2 1 s)", seed, 1),
        (
            "200 instances on one interface, v3 0.1 s",
            conf::many(200, LB1, 200, true),
            200,
        ),
    ];
    for (label, conf, vips) in cases {
        let (mut b, mut k) = (Costs::default(), Costs::default());
        for start in 1..=STARTS {
            let costs = measure(
                &subjects,
                &format!("{label}, start {start} of {STARTS}"),
                &conf.render(),
                vips,
                idle / STARTS,
                report,
            )?;
            progress(&format!(
                "footprint, {label}, start {start}: baton {:?}, keepalived {:?}",
                costs[0], costs[1]
            ));
            b.add(costs[0]);
            k.add(costs[1]);
        }
        let count = |c: &Costs| {
            format!(
                "{} process{}",
                c.processes,
                if c.processes == 1 { "" } else { "es" }
            )
        };
        let half = |b: u64, k: u64| {
            let ratio = if k > 0 { b as f64 / k as f64 } else { f64::NAN };
            format!(
                "{} ({:.0} % of keepalived's)",
                target(Some(b * 2 <= k), "≤ half of keepalived's"),
                ratio * 100.0
            )
        };
        let memory_rows: [(&str, Pick, bool); 3] = [
            (
                "memory, VmRSS summed over the daemon's processes",
                |m| m.rss_kb,
                true,
            ),
            (
                "memory, Pss (smaps_rollup) summed over the daemon's processes",
                |m| m.pss_kb,
                false,
            ),
            (
                "memory, anonymous (heap, stacks; smaps_rollup) summed over the daemon's processes",
                |m| m.anon_kb,
                false,
            ),
        ];
        // "6.6 MB (1 process; 6.5–6.7 over 3 starts)": the median, and the spread it came from.
        let cell = |c: &Costs, pick: Pick| {
            let (median, lo, hi) = c.spread(pick);
            format!(
                "{} ({}; {:.1}–{:.1} over {STARTS} starts)",
                megabytes(median),
                count(c),
                lo as f64 / 1024.0,
                hi as f64 / 1024.0
            )
        };
        for (what, pick, judged) in memory_rows {
            report.rows.push(Row {
                section: "footprint",
                measure: format!("{label}: {what}"),
                bound: "–".into(),
                baton: cell(&b, pick),
                keepalived: cell(&k, pick),
                target: if judged {
                    half(b.spread(pick).0, k.spread(pick).0)
                } else {
                    String::new()
                },
            });
        }
        let cpu = |c: &Costs| {
            format!(
                "{:.2} s ({:.2} % of a core)",
                c.cpu.as_secs_f64(),
                c.cpu.as_secs_f64() / idle.as_secs_f64() * 100.0
            )
        };
        report.rows.push(Row {
            section: "footprint",
            measure: format!(
                "{label}: CPU time (utime + stime) over {} s idle as master ({STARTS} starts of {:.0} s)",
                idle.as_secs(),
                (idle / STARTS).as_secs_f64()
            ),
            bound: "–".into(),
            baton: cpu(&b),
            keepalived: cpu(&k),
            target: String::new(),
        });
    }
    lab.teardown()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_over_starts_is_the_median_with_its_spread() {
        let mut c = Costs::default();
        for (rss, cpu_ms, processes) in [(6700, 3, 1), (6500, 1, 1), (6600, 2, 2)] {
            c.add(Cost {
                memory: Memory {
                    rss_kb: rss,
                    pss_kb: rss / 2,
                    anon_kb: 600,
                },
                cpu: Duration::from_millis(cpu_ms),
                processes,
            });
        }
        assert_eq!(c.spread(|m| m.rss_kb), (6600, 6500, 6700));
        assert_eq!(c.spread(|m| m.pss_kb), (3300, 3250, 3350));
        assert_eq!(c.cpu, Duration::from_millis(6));
        assert_eq!(c.processes, 2);
    }
}
