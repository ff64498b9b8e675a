//! The scripted demo's summary: one row per step (what baton took, what keepalived would
//! take with the seed's settings, the requests answered and failed, the verdict), a line of
//! detail per step, and the totals. Rows are `|`-separated with a stable first column, so
//! scripts (and the end-to-end test) can read them.

use std::fmt::Write as _;

use super::client::Tally;
use super::script::StepResult;
use super::timers::secs;

/// The whole summary as text.
pub fn render(steps: &[StepResult], totals: &Tally, rate: u32) -> String {
    let header = [
        "step",
        "what happened",
        "baton took",
        "keepalived would take (seed's settings)",
        "requests ok",
        "failed",
        "verdict",
    ];
    let mut rows: Vec<[String; 7]> = vec![header.map(str::to_string)];
    for s in steps {
        let counted = s.requests.total() > 0;
        rows.push([
            s.key.to_string(),
            s.title.clone(),
            s.took.map_or("-".into(), secs),
            s.keepalived.as_ref().map_or("-".into(), |k| k.describe()),
            if counted {
                s.requests.ok.to_string()
            } else {
                "-".into()
            },
            if counted {
                s.requests.failed.to_string()
            } else {
                "-".into()
            },
            if s.ok() { "ok".into() } else { "FAILED".into() },
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "summary: the seed's system on baton, {rate} requests/s through the VIP, times from each action"
    );
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(c, (text, w))| {
                let pad = w.saturating_sub(text.chars().count());
                // Numbers right-aligned, words left-aligned.
                if (4..=5).contains(&c) && i > 0 {
                    format!("{}{text}", " ".repeat(pad))
                } else {
                    format!("{text}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "  {}", cells.join(" | ").trim_end());
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "  {}", rule.join("-|-"));
        }
    }
    out.push('\n');
    for s in steps {
        let _ = writeln!(out, "  {}: {}", s.key, s.outcome);
        let _ = writeln!(
            out,
            "  {}  expected: {}",
            " ".repeat(s.key.len()),
            s.expected
        );
        if s.requests.failed > 0 {
            let _ = writeln!(
                out,
                "  {}  failed requests: {}",
                " ".repeat(s.key.len()),
                s.requests.failure_kinds()
            );
        }
        if let Some(p) = &s.problem {
            let _ = writeln!(out, "  {}  FAILED: {p}", " ".repeat(s.key.len()));
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "requests: {} sent, {} ok (lb1 {}, lb2 {}; backend 1 {}, backend 2 {}), {} failed{}",
        totals.total(),
        totals.ok,
        totals.by_lb[0],
        totals.by_lb[1],
        totals.by_backend[0],
        totals.by_backend[1],
        totals.failed,
        if totals.failed > 0 {
            format!(" ({})", totals.failure_kinds())
        } else {
            String::new()
        }
    );
    let bad: Vec<&str> = steps.iter().filter(|s| !s.ok()).map(|s| s.key).collect();
    if bad.is_empty() && steps.len() == 7 {
        let _ = writeln!(out, "all {} steps behaved", steps.len());
    } else if bad.is_empty() {
        let _ = writeln!(out, "only {} of 7 steps ran", steps.len());
    } else {
        let _ = writeln!(
            out,
            "{} of {} steps misbehaved: {}",
            bad.len(),
            steps.len(),
            bad.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Failure, Outcome, Served};
    use crate::timers::Estimate;
    use std::time::{Duration, Instant};

    fn step(
        key: &'static str,
        took_ms: u64,
        ok: u64,
        failed: u64,
        problem: Option<&str>,
    ) -> StepResult {
        let mut requests = Tally::default();
        for _ in 0..ok {
            requests.add(Outcome::Ok {
                lb: Served::Lb2,
                backend: 1,
            });
        }
        for _ in 0..failed {
            requests.add(Outcome::Failed(Failure::Refused));
        }
        StepResult {
            key,
            title: format!("do {key}"),
            expected: "something ≤ 1 s".into(),
            outcome: format!("{key} happened"),
            took: Some(Duration::from_millis(took_ms)),
            keepalived: Some(Estimate {
                time: Duration::from_millis(3609),
                at_most: true,
                why: "Master_Down_Interval".into(),
            }),
            start: Instant::now(),
            requests,
            problem: problem.map(str::to_string),
        }
    }

    #[test]
    fn rows_are_pipe_separated_with_the_key_first() {
        let steps = vec![
            step("kill-nginx", 14, 400, 3, None),
            step("kill-baton", 3100, 700, 0, Some("too slow")),
        ];
        let mut totals = Tally::default();
        totals.add(Outcome::Failed(Failure::Reset));
        let text = render(&steps, &totals, 200);
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with("kill-nginx "))
            .unwrap();
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(
            cells,
            [
                "kill-nginx",
                "do kill-nginx",
                "14 ms",
                "≤ 3.61 s (Master_Down_Interval)",
                "400",
                "3",
                "ok"
            ]
        );
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with("kill-baton "))
            .unwrap();
        assert!(row.trim_end().ends_with("| FAILED"), "{row}");
        assert!(text.contains("FAILED: too slow"));
        assert!(text.contains("failed requests: 3 refused"));
        assert!(text.contains("requests: 1 sent, 0 ok"));
        assert!(text.contains("1 of 2 steps misbehaved: kill-baton"));
    }
}
