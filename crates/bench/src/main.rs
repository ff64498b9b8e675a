//! The benchmark runner: baton beside Debian's keepalived, in one lab and one run — failover
//! on the wire, footprint, scale, virtual servers, routed VIPs — printed as one table and
//! written to docs/PERFORMANCE.md.
//!
//! ```text
//! bench/run [--quick]        # as root; builds baton in release mode first
//! ```
//!
//! Root only (network namespaces). Every packet stays inside the lab's namespaces.
#![forbid(unsafe_code)]

mod conf;
mod daemon;
mod failover;
mod footprint;
mod http;
mod load;
mod lvs;
mod machine;
mod metrics_cost;
mod opts;
mod procfs;
mod report;
mod routed;
mod scale;
mod stats;
mod topo;
mod wire;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::machine::Machine;
use crate::opts::{Options, USAGE};
use crate::report::Report;

/// The seed's addresses.
pub const VIP: &str = "192.168.5.10";
pub const LB1: &str = "192.168.5.11";
pub const LB2: &str = "192.168.5.12";
/// Time left to a freshly converged daemon before it is measured: past keepalived's second
/// GARP burst (garp_master_delay, 5 s), so "idle" means idle.
pub const SETTLE: Duration = Duration::from_secs(6);

/// Instances in the `--metrics` cost runs: 10,000 adverts a second from the master.
const METRICS_INSTANCES: usize = 1000;

/// A progress line on stderr (the table goes to stdout).
pub fn progress(line: &str) {
    eprintln!("bench: {line}");
}

fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1).collect()) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &Options) -> Result<()> {
    if !baton_lab::require_root() {
        bail!("the benchmark builds network namespaces: run it as root");
    }
    baton_lab::require_tools(&["keepalived", "tcpdump", "nft", "nginx"])?;
    if !opts.baton.is_file() {
        bail!(
            "no baton binary at {} (bench/run builds it: cargo build --release -p baton)",
            opts.baton.display()
        );
    }
    // Daemons start in their host's directory: the path must not be relative.
    let baton = opts
        .baton
        .canonicalize()
        .with_context(|| format!("resolving {}", opts.baton.display()))?;
    let opts = &Options {
        baton,
        ..opts.clone()
    };
    let machine = Machine::probe(&opts.baton);
    let started = Instant::now();
    let mut report = Report::default();
    if opts.sections.takeover || opts.sections.service {
        let seed = topo::SeedLab::new(opts.baton.clone())?;
        if opts.sections.takeover {
            failover::takeovers(&seed, opts.runs, &mut report)?;
        }
        if opts.sections.service {
            failover::service_deaths(&seed, opts.runs, &mut report)?;
        }
        seed.lab.teardown()?;
    }
    if opts.sections.footprint {
        footprint::run(&opts.baton, opts.idle, &mut report)?;
    }
    if opts.sections.scale {
        let plan = scale::Plan {
            steps: opts.scale_steps.clone(),
            window: opts.scale_window,
            interval: opts.scale_interval,
            rt_priority: opts.scale_rt,
            crash: opts.scale_crash,
            fast: opts.scale_fast,
        };
        scale::run(&opts.baton, &plan, &mut report)?;
    }
    if opts.sections.metrics {
        metrics_cost::run(
            &opts.baton,
            METRICS_INSTANCES,
            opts.scale_window,
            &mut report,
        )?;
    }
    if opts.sections.lvs {
        let windows = lvs::Windows {
            load: Duration::from_secs(if opts.quick { 3 } else { 10 }),
            cpu: Duration::from_secs(if opts.quick { 10 } else { 30 }),
            runs: opts.runs,
        };
        lvs::run(&opts.baton, windows, &mut report)?;
    }
    if opts.sections.routed {
        routed::run(&opts.baton, opts.runs, &mut report)?;
    }
    let elapsed = started.elapsed();
    println!("{}", report.table());
    if !report.notes.is_empty() {
        println!("{}", report.notes_text());
    }
    if let Some(doc) = &opts.doc {
        if let Some(dir) = doc.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(
            doc,
            report.markdown(&opts.command, opts.quick, &machine, elapsed),
        )
        .with_context(|| format!("writing {}", doc.display()))?;
        progress(&format!("wrote {}", doc.display()));
    }
    Ok(())
}
