//! What `--metrics` costs the VRRP path: the scale step's master (v3 at 0.1 s, one
//! interface) run three times, without the listener, with it listening, and with it scraped
//! every second, and its CPU per advert sent compared. The scraped run's figure includes
//! building and encoding each answer (a snapshot of every instance), which is not on the
//! advert path but is CPU the master spends.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::daemon::Kind;
use crate::progress;
use crate::report::{Report, Row};
use crate::scale::{Metrics, Step, Timing, step_with};

/// The CPU per advert of one run, in µs, or why there is none.
fn per_advert(s: &Step) -> Result<f64, String> {
    match (&s.failure, s.cpu_per_advert()) {
        (None, Some(c)) => Ok(c.as_secs_f64() * 1e6),
        (Some(f), _) => Err(f.clone()),
        (None, None) => Err("no adverts".into()),
    }
}

pub fn run(baton: &Path, instances: usize, window: Duration, report: &mut Report) -> Result<()> {
    let mut runs = Vec::new();
    for m in [Metrics::Off, Metrics::Listening, Metrics::Scraped] {
        let s = match step_with(Kind::Baton, baton, instances, window, m, Timing::DEFAULT) {
            Ok(s) => s,
            Err(e) => {
                report
                    .notes
                    .push(format!("metrics cost, {m:?}: failed: {e:#}"));
                progress(&format!("metrics {m:?}: failed: {e:#}"));
                return Ok(());
            }
        };
        progress(&format!("metrics {m:?}: {}", s.describe()));
        report
            .notes
            .push(format!("metrics cost, {m:?}: {}", s.describe()));
        runs.push(per_advert(&s));
    }
    let cell = |r: &Result<f64, String>| match r {
        Ok(us) => format!("{us:.2} µs"),
        Err(e) => format!("failed: {e}"),
    };
    let ratio = |a: &Result<f64, String>| match (a, &runs[0]) {
        (Ok(on), Ok(off)) if *off > 0.0 => format!(" ({:+.1} %)", (on / off - 1.0) * 100.0),
        _ => String::new(),
    };
    report.rows.push(Row {
        section: "metrics",
        measure: format!(
            "master CPU per advert, {instances} instances at v3 0.1 s, `--metrics` off / listening / scraped every 1 s"
        ),
        bound: format!("{} s per run", window.as_secs()),
        baton: format!(
            "off {}; listening {}{}; scraped {}{}",
            cell(&runs[0]),
            cell(&runs[1]),
            ratio(&runs[1]),
            cell(&runs[2]),
            ratio(&runs[2])
        ),
        keepalived: "– (no built-in metrics)".into(),
        target: "nothing measurable on the advert path when on (compare off and listening)".into(),
    });
    Ok(())
}
