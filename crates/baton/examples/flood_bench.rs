//! Floods of forged adverts against baton binaries side by side, in a network-namespace lab:
//! the resident memory each keeps and the CPU each advert costs, from one source and from a
//! new forged source per advert. `bench/flood` builds this and runs it on the current tree
//! and, with `--before REV`, on an older commit; run alone:
//!
//! ```text
//! flood_bench --baton now=target/release/baton [--baton before=PATH] [--adverts 100000]
//!             [--rate 20000] [--runs 3]
//! ```
//!
//! Each run starts the daemon with the two instances of `tests/faults/forge.rs` (VRRPv2
//! PASS and VRRPv3/IPv6), warms it up with 2,000 adverts from one source, takes the idle
//! RSS, then sends `--adverts` from one source and `--adverts` from as many forged sources,
//! IPv4 then IPv6. CPU is the daemon's schedstat time per advert it read. Medians over the
//! runs are printed as a markdown table. Root only; every packet stays in the lab.
#![allow(clippy::unwrap_used)]

#[path = "../tests/faults/forge.rs"]
#[allow(dead_code)]
mod forge;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use baton::north::control::{Request, request};
use baton_lab::{Host, HostSpec, Lab};
use baton_wire::Family;

struct Options {
    batons: Vec<(String, PathBuf)>,
    adverts: u32,
    rate: u32,
    runs: usize,
}

fn options() -> Options {
    let mut o = Options {
        batons: Vec::new(),
        adverts: 100_000,
        rate: 20_000,
        runs: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--baton" => {
                let v = value();
                let (label, path) = v.split_once('=').unwrap_or(("baton", v.as_str()));
                let path = std::path::absolute(path).unwrap();
                o.batons.push((label.to_string(), path));
            }
            "--adverts" => o.adverts = value().parse().unwrap(),
            "--rate" => o.rate = value().parse().unwrap(),
            "--runs" => o.runs = value().parse().unwrap(),
            other => panic!("unknown option {other}"),
        }
    }
    if o.batons.is_empty() {
        o.batons.push((
            "baton".into(),
            std::path::absolute("target/release/baton").unwrap(),
        ));
    }
    o
}

fn status(pidfile: &Path) -> Option<serde_json::Value> {
    let sock = baton::cli::control_socket_for(pidfile);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(request(&sock, &Request::Status)).ok()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// One flood's cost: adverts read and nanoseconds each.
fn flood(
    pid: u32,
    pidfile: &Path,
    mallory: &Host,
    family: Family,
    n: u32,
    rate: u32,
    source: impl Fn(u32) -> IpAddr,
) -> (u64, f64) {
    let read0 = forge::received(&status(pidfile).unwrap());
    let cpu0 = cpu_ns(pid);
    let mut inj = mallory.injector("eth0").unwrap();
    inj.send_paced((0..n).map(|i| forge::advert(family, source(i))), rate)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let read = forge::received(&status(pidfile).unwrap()) - read0;
    let cpu = cpu_ns(pid) - cpu0;
    (read, cpu as f64 / read.max(1) as f64)
}

#[derive(Debug, Clone, Copy, Default)]
struct Run {
    idle_kb: f64,
    after_kb: f64,
    single_ns: [f64; 2],
    forged_ns: [f64; 2],
    forged_read: [f64; 2],
}

fn one_run(baton: &Path, o: &Options) -> Run {
    let lab = Lab::new("floodbench").unwrap();
    let lb1 = lab
        .add_host(
            HostSpec::new("lb1")
                .ifname("ens33")
                .addr("192.168.5.11/24")
                .addr("fd00:5::11/64"),
        )
        .unwrap();
    let mallory = lab
        .add_host(
            HostSpec::new("mallory")
                .addr("192.168.5.66/24")
                .addr("fd00:5::66/64"),
        )
        .unwrap();
    let conf = lb1.write_file("keepalived.conf", forge::CONF).unwrap();
    let pidfile = lb1.path("baton.pid");
    let proc = lb1
        .spawn(
            Command::new(baton)
                .args(["-n", "-l", "-f"])
                .arg(&conf)
                .arg("-p")
                .arg(&pidfile),
        )
        .unwrap();
    let pid = proc.pid();
    let t = Instant::now();
    loop {
        let masters = status(&pidfile).map(|s| {
            s["instances"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["state"] == "Master")
                .count()
        });
        if masters == Some(2) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{baton:?} never became master"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut r = Run::default();
    for (k, family) in [Family::Ipv4, Family::Ipv6].into_iter().enumerate() {
        let own = forge::own(family);
        flood(pid, &pidfile, &mallory, family, 2_000, o.rate, |_| own);
        std::thread::sleep(Duration::from_millis(500));
        if k == 0 {
            r.idle_kb = rss_kb(pid) as f64;
        }
        r.single_ns[k] = flood(pid, &pidfile, &mallory, family, o.adverts, o.rate, |_| own).1;
        let (read, ns) = flood(pid, &pidfile, &mallory, family, o.adverts, o.rate, |i| {
            forge::forged(family, i)
        });
        r.forged_ns[k] = ns;
        r.forged_read[k] = read as f64;
    }
    r.after_kb = rss_kb(pid) as f64;
    drop(proc);
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    if !baton_lab::require_root() {
        return;
    }
    let o = options();
    println!(
        "{} adverts per flood at {} a second, median of {} run(s)\n",
        o.adverts, o.rate, o.runs
    );
    println!(
        "| baton | idle RSS | RSS after | growth | family | µs/advert, one source | \
         µs/advert, forged sources | ratio | forged read |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, path) in &o.batons {
        let runs: Vec<Run> = (0..o.runs).map(|_| one_run(path, &o)).collect();
        let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let idle = m(&|r| r.idle_kb);
        let after = m(&|r| r.after_kb);
        for (k, family) in ["IPv4", "IPv6"].iter().enumerate() {
            let single = m(&|r| r.single_ns[k]);
            let forged = m(&|r| r.forged_ns[k]);
            println!(
                "| {label} | {:.1} MB | {:.1} MB | {:+.1} MB | {family} | {:.2} | {:.2} | {:.2}× | {:.0} |",
                idle / 1024.0,
                after / 1024.0,
                (after - idle) / 1024.0,
                single / 1000.0,
                forged / 1000.0,
                forged / single,
                m(&|r| r.forged_read[k]),
            );
        }
    }
}
