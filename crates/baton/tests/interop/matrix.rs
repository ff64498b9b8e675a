//! The interop matrix, written by the run that proves it. Each case leaves its row in
//! `target/tmp/interop/<case>.json`; whenever a row arrives the markdown is rebuilt from the
//! rows of this run, sorted, into `target/tmp/interop/INTEROP.md`, and once every case of
//! the suite has its row, into `docs/INTEROP.md` and onto the terminal (past the test
//! harness's capture, so CI's log shows it). Rows left by earlier runs are never used.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Which table a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Table {
    Failover,
    Mismatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Pass,
    Fail,
    NotSupportedByPeer,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "**FAIL**",
            Outcome::NotSupportedByPeer => "not supported by peer",
        }
    }
}

/// One case's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The test process that produced it.
    pub run: String,
    /// The case (its test's name).
    pub id: String,
    pub table: Table,
    pub peer: String,
    pub peer_version: String,
    pub vrrp: u8,
    pub family: String,
    /// Failover: transport and options. Mismatch: the field and both settings.
    pub mode: String,
    /// Failover: the role sequence played. Mismatch: what baton reported.
    pub detail: String,
    pub outcome: Outcome,
    /// Why, when not a pass.
    pub reason: String,
}

/// This test process's identity: rows carry it, and only its rows make the matrix.
pub fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    })
}

fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop")
}

fn docs_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/INTEROP.md")
}

/// Record a row, rebuild the matrix, and publish it once complete. `all_cases` names every
/// case of the suite.
pub fn record(row: &Row, all_cases: &[&str]) -> Result<()> {
    static LOCK: Mutex<bool> = Mutex::new(false);
    let mut published = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = results_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}.json", row.id));
    std::fs::write(&path, serde_json::to_vec_pretty(row)?)
        .with_context(|| format!("writing {}", path.display()))?;

    let rows = load(&dir)?;
    let missing: Vec<&str> = all_cases
        .iter()
        .filter(|id| !rows.iter().any(|r| r.id == **id))
        .copied()
        .collect();
    let text = render(&rows, &missing);
    std::fs::write(dir.join("INTEROP.md"), &text)?;
    if missing.is_empty() && !*published {
        *published = true;
        let docs = docs_file();
        std::fs::write(&docs, &text).with_context(|| format!("writing {}", docs.display()))?;
        // Straight to the terminal: the harness captures println! of passing tests.
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "\n{text}\n(written to {})", docs.display());
    }
    Ok(())
}

/// This run's rows in `dir`.
fn load(dir: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        // Rows of older layouts or other runs are simply not this run's.
        if let Ok(row) = serde_json::from_slice::<Row>(&text)
            && row.run == run_id()
        {
            rows.push(row);
        }
    }
    Ok(rows)
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The markdown: deterministic for the same results (sorted, no timestamps).
pub fn render(rows: &[Row], missing: &[&str]) -> String {
    let mut rows: Vec<&Row> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (
            a.table, &a.peer, a.vrrp, &a.family, &a.mode, &a.detail, &a.id,
        )
            .cmp(&(
                b.table, &b.peer, b.vrrp, &b.family, &b.mode, &b.detail, &b.id,
            ))
    });
    let mut versions: Vec<String> = rows
        .iter()
        .filter(|r| r.peer != "baton")
        .map(|r| format!("{} {}", r.peer, r.peer_version))
        .collect();
    versions.sort();
    versions.dedup();
    let pass = rows.iter().filter(|r| r.outcome == Outcome::Pass).count();
    let fail = rows.iter().filter(|r| r.outcome == Outcome::Fail).count();
    let unsupported = rows.len() - pass - fail;

    let mut out = String::from(
        "# Interoperability matrix\n\n\
         Generated by the interop suite (`cargo test -p baton --test interop`, sources in \
         `crates/baton/tests/interop/`), which runs baton beside the peers installed on the \
         machine, inside network namespaces: do not edit by hand. Each row is one test; a \
         case the installed peer cannot run is listed as *not supported by peer* with the \
         reason, never as a pass.\n\n",
    );
    out.push_str(&format!(
        "Peers: {}. Results: {pass} pass, {fail} fail, {unsupported} not supported by peer{}.\n\n",
        if versions.is_empty() {
            "none".to_string()
        } else {
            versions.join(", ")
        },
        if missing.is_empty() {
            String::new()
        } else {
            format!(", {} not run in this run", missing.len())
        }
    ));
    out.push_str(
        "Every failover row: both routers start and the higher priority becomes MASTER \
         (checked from each router's own report — `baton status --json`, keepalived's log, \
         FRR's `show vrrp json` — and from `ip addr`); the master is killed with SIGKILL and \
         the other takes over; it restarts and preempts back; it is stopped with SIGTERM and \
         its priority-0 advert hands over faster than Master_Down_Interval (timed on the \
         captured wire); it restarts and preempts back. The peer's log must hold no complaint \
         about baton's adverts, baton must report no mismatch, and tshark must decode every \
         frame baton sent without a malformed or bad-checksum mark.\n\n",
    );
    out.push_str("## Failover beside the peer\n\n");
    out.push_str(
        "| Peer | Peer version | VRRP | Family | Mode | Role sequence | Result | Reason |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows.iter().filter(|r| r.table == Table::Failover) {
        out.push_str(&format!(
            "| {} | {} | v{} | {} | {} | {} | {} | {} |\n",
            cell(&r.peer),
            cell(&r.peer_version),
            r.vrrp,
            cell(&r.family),
            cell(&r.mode),
            cell(&r.detail),
            r.outcome.label(),
            cell(&r.reason)
        ));
    }
    out.push_str(
        "\n## Configuration mismatches found by baton\n\n\
         keepalived drops adverts whose VIP list, interval, authentication or version differ \
         from its own and both routers become MASTER. Beside a peer configured differently in \
         one field, baton must log exactly one line naming the peer and the field, and show \
         the same in `baton status --json`. Then keepalived's log must show it dropping \
         baton's adverts for the same reason. keepalived hears baton only from that second \
         step on (its VRRP input dropped by nftables until then): keepalived 2.2.7 as MASTER \
         re-arms its advert timer on every advert it receives, rejected ones included, so a \
         peer it rejects advertising as often silences it (one advert in 25 s on the captured \
         wire).\n\n\
         | Field | Peer | Peer version | VRRP | Family | baton's line | Result | Reason |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows.iter().filter(|r| r.table == Table::Mismatch) {
        out.push_str(&format!(
            "| {} | {} | {} | v{} | {} | {} | {} | {} |\n",
            cell(&r.mode),
            cell(&r.peer),
            cell(&r.peer_version),
            r.vrrp,
            cell(&r.family),
            cell(&r.detail),
            r.outcome.label(),
            cell(&r.reason)
        ));
    }
    if !missing.is_empty() {
        out.push_str(&format!("\nNot run in this run: {}.\n", missing.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, table: Table, peer: &str, vrrp: u8, outcome: Outcome) -> Row {
        Row {
            run: run_id().to_string(),
            id: id.into(),
            table,
            peer: peer.into(),
            peer_version: "1.0".into(),
            vrrp,
            family: "IPv4".into(),
            mode: "multicast".into(),
            detail: "a | b".into(),
            outcome,
            reason: String::new(),
        }
    }

    #[test]
    fn render_is_sorted_and_escapes_cells() {
        let rows = [
            row("z", Table::Failover, "keepalived", 3, Outcome::Pass),
            row("m", Table::Mismatch, "keepalived", 2, Outcome::Fail),
            row(
                "a",
                Table::Failover,
                "keepalived",
                2,
                Outcome::NotSupportedByPeer,
            ),
        ];
        let text = render(&rows, &[]);
        let reversed: Vec<Row> = rows.iter().rev().cloned().collect();
        assert_eq!(
            text,
            render(&reversed, &[]),
            "order of arrival must not matter"
        );
        let v2 = text.find("| keepalived | 1.0 | v2 |").unwrap();
        let v3 = text.find("| keepalived | 1.0 | v3 |").unwrap();
        assert!(v2 < v3);
        assert!(text.contains("a \\| b"));
        assert!(text.contains("1 pass, 1 fail, 1 not supported by peer."));
        assert!(render(&rows, &["x"]).contains("Not run in this run: x."));
    }
}
