//! The runner's command line: what to measure and for how long.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Which parts of the benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    /// Crash and graceful stop.
    pub takeover: bool,
    /// nginx killed on the master.
    pub service: bool,
    pub footprint: bool,
    pub scale: bool,
    /// baton's CPU per advert with `--metrics` off, listening, scraped.
    pub metrics: bool,
    /// Virtual servers: NAT beside an nginx proxy, real-server deaths, checkers.
    pub lvs: bool,
    /// Routed VIPs: service death and a cut-off load balancer through FRR and BIRD.
    pub routed: bool,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Smoke mode: fewer runs, shorter windows, fewer scale steps.
    pub quick: bool,
    /// Runs per failover case (the table quotes their median).
    pub runs: usize,
    /// The idle window of the footprint measurement.
    pub idle: Duration,
    /// How long each scale step must hold without a transition.
    pub scale_window: Duration,
    /// Instance counts tried by the scale test, smallest first.
    pub scale_steps: Vec<usize>,
    /// The advert interval of the scale steps (VRRPv3).
    pub scale_interval: Duration,
    /// Run the scale steps' daemons SCHED_RR at this priority (`chrt -r`).
    pub scale_rt: Option<u8>,
    /// End every scale step with the master SIGKILLed and each takeover timed.
    pub scale_crash: bool,
    /// After the steps, the fast run: 1,000 instances at 10 ms, then the master SIGKILLed.
    /// Off when `--interval` or `--steps` choose the steps by hand.
    pub scale_fast: bool,
    pub sections: Sections,
    /// The baton binary to measure (a release build).
    pub baton: PathBuf,
    /// Where the markdown report goes; `None` prints only.
    pub doc: Option<PathBuf>,
    /// The command line as given, for the report.
    pub command: String,
}

pub const USAGE: &str = "\
bench: baton against keepalived in one lab: failover on the wire, footprint, scale,
virtual servers.

usage: bench/run [--quick] [--runs N] [--idle SECS] [--window SECS] [--steps N,N,...]
                 [--interval SECS] [--rt PRIO] [--crash] [--only SECTIONS] [--baton PATH]
                 [--doc PATH | --no-doc]

  --quick    smoke run: 3 runs per case, 10 s idle, 30 s scale windows, steps 200,2000
  --runs     runs per failover case (default 5)
  --idle     footprint idle window in seconds (default 60)
  --window   scale window in seconds (default 60)
  --steps    scale instance counts (default 200,2000,8000,20000); the CPU rows compare
             at 2000 when both daemons held it
  --interval the scale steps' advert interval in seconds, VRRPv3 (default 0.1)
             (--steps or --interval given: only those steps, without the fast run of
             1,000 instances at 0.01 s that ends with the master SIGKILLed)
  --rt       run the scale steps' daemons SCHED_RR at this priority (chrt -r), as the
             fast run always does
  --crash    end every scale step with the master SIGKILLed and each instance's
             takeover timed, as the fast run always does
  --only     run only these sections, comma-separated: takeover (crash, graceful stop),
             service (nginx killed), failover (both), footprint, scale, metrics (baton's
             CPU per advert with --metrics off, listening and scraped; 1,000 instances,
             the scale window per run), lvs (virtual servers: NAT beside an nginx proxy,
             real-server deaths, checkers' CPU), routed (VIPs as host routes announced by
             FRR or BIRD: service death and a cut-off load balancer, BFD on and off)
  --baton    the baton binary (default: target/release/baton)
  --doc      write the markdown report here (default docs/PERFORMANCE.md for a full run,
             target/bench/PERFORMANCE.quick.md for --quick)
";

/// The repository root (this program lives in crates/bench).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

impl Options {
    pub fn parse(args: Vec<String>) -> Result<Option<Options>> {
        // bench/run says how it was called; run directly, the runner's own arguments.
        let command = std::env::var("BENCH_COMMAND").unwrap_or_else(|_| {
            std::iter::once("target/release/baton-bench".to_string())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ")
        });
        let quick = args.iter().any(|a| a == "--quick");
        let mut o = Options {
            quick,
            runs: if quick { 3 } else { 5 },
            idle: Duration::from_secs(if quick { 10 } else { 60 }),
            scale_window: Duration::from_secs(if quick { 30 } else { 60 }),
            scale_steps: if quick {
                vec![200, 2000]
            } else {
                vec![200, 2000, 8000, 20000]
            },
            scale_interval: Duration::from_millis(100),
            scale_rt: None,
            scale_crash: false,
            scale_fast: true,
            sections: Sections {
                takeover: true,
                service: true,
                footprint: true,
                scale: true,
                metrics: true,
                lvs: true,
                routed: true,
            },
            baton: target_dir().join("release/baton"),
            doc: Some(if quick {
                target_dir().join("bench/PERFORMANCE.quick.md")
            } else {
                repo_root().join("docs/PERFORMANCE.md")
            }),
            command,
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .with_context(|| format!("{name} needs a value (see --help)"))
            };
            match arg.as_str() {
                "--quick" => {}
                "-h" | "--help" => return Ok(None),
                "--runs" => o.runs = value("--runs")?.parse().context("--runs")?,
                "--idle" => o.idle = seconds(&value("--idle")?)?,
                "--window" => o.scale_window = seconds(&value("--window")?)?,
                "--interval" => {
                    o.scale_interval = seconds(&value("--interval")?)?;
                    o.scale_fast = false;
                    let centis = o.scale_interval.as_secs_f64() * 100.0;
                    if (centis - centis.round()).abs() > 1e-6 || centis > 4095.0 {
                        bail!("--interval: VRRPv3 counts whole centiseconds up to 40.95 s");
                    }
                }
                "--crash" => o.scale_crash = true,
                "--rt" => {
                    let p: u8 = value("--rt")?.parse().context("--rt: a priority 1-99")?;
                    if !(1..=99).contains(&p) {
                        bail!("--rt: a priority 1-99");
                    }
                    o.scale_rt = Some(p);
                }
                "--steps" => {
                    o.scale_fast = false;
                    o.scale_steps = value("--steps")?
                        .split(',')
                        .map(|s| s.trim().parse::<usize>())
                        .collect::<Result<_, _>>()
                        .context("--steps: a comma-separated list of instance counts")?;
                    o.scale_steps.sort_unstable();
                }
                "--only" => {
                    let list = value("--only")?;
                    o.sections = Sections {
                        takeover: false,
                        service: false,
                        footprint: false,
                        scale: false,
                        metrics: false,
                        lvs: false,
                        routed: false,
                    };
                    for s in list.split(',') {
                        match s.trim() {
                            "takeover" => o.sections.takeover = true,
                            "service" => o.sections.service = true,
                            "failover" => {
                                o.sections.takeover = true;
                                o.sections.service = true;
                            }
                            "footprint" => o.sections.footprint = true,
                            "scale" => o.sections.scale = true,
                            "metrics" => o.sections.metrics = true,
                            "lvs" => o.sections.lvs = true,
                            "routed" => o.sections.routed = true,
                            other => bail!("--only: unknown section {other:?}"),
                        }
                    }
                }
                "--baton" => o.baton = PathBuf::from(value("--baton")?),
                "--doc" => o.doc = Some(PathBuf::from(value("--doc")?)),
                "--no-doc" => o.doc = None,
                other => bail!("unknown argument {other:?} (see --help)"),
            }
        }
        if o.runs == 0 {
            bail!("--runs must be at least 1");
        }
        Ok(Some(o))
    }
}

fn seconds(s: &str) -> Result<Duration> {
    let v: f64 = s
        .parse()
        .with_context(|| format!("{s:?} is not a number of seconds"))?;
    if !(v.is_finite() && v > 0.0) {
        bail!("{s:?}: a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::parse(args.iter().map(|s| s.to_string()).collect())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn quick_shortens_everything() {
        let full = parse(&[]);
        let quick = parse(&["--quick"]);
        assert!(quick.runs < full.runs && quick.idle < full.idle);
        assert!(quick.scale_window < full.scale_window);
        assert_eq!(full.runs, 5);
        assert_eq!(full.scale_window, Duration::from_secs(60));
        assert_eq!(quick.scale_window, Duration::from_secs(30));
        assert_ne!(quick.doc, full.doc);
    }

    #[test]
    fn flags_override_the_mode() {
        let o = parse(&[
            "--quick", "--runs", "7", "--steps", "300,100", "--only", "scale",
        ]);
        assert_eq!(o.runs, 7);
        assert_eq!(o.scale_steps, vec![100, 300]);
        assert!(!o.scale_fast && parse(&[]).scale_fast);
        let i = parse(&["--interval", "0.01", "--steps", "1000"]);
        assert_eq!(i.scale_interval, Duration::from_millis(10));
        assert_eq!(i.scale_steps, vec![1000]);
        assert!(Options::parse(vec!["--interval".into(), "0.015".into()]).is_err());
        assert!(o.sections.scale && !o.sections.takeover && !o.sections.footprint);
        assert!(!o.sections.lvs && parse(&["--only", "lvs"]).sections.lvs);
        let r = parse(&["--only", "routed"]).sections;
        assert!(r.routed && !r.lvs && !r.takeover && !o.sections.routed);
        let f = parse(&["--only", "failover"]);
        assert!(f.sections.takeover && f.sections.service && !f.sections.scale);
        assert!(Options::parse(vec!["--only".into(), "nope".into()]).is_err());
        assert!(Options::parse(vec!["--runs".into(), "0".into()]).is_err());
    }
}
