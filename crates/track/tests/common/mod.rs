//! Helpers shared by the integration tests: configurations built in code, captured logs,
//! waiting for events with a deadline, and real processes to track.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_conf::{Command, Config, RunAs, Span, TrackRef, VrrpInstance, VrrpScript};
use baton_track::{TrackEvent, TrackOptions};
use baton_wire::Family;
use tokio::sync::mpsc;

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Return early from a test that needs root, saying why.
#[macro_export]
macro_rules! require_root {
    ($why:expr) => {
        if !common::is_root() {
            eprintln!("skipped: needs root ({})", $why);
            return;
        }
    };
}

/// Options with short timers, for fast tests.
pub fn fast_options() -> TrackOptions {
    TrackOptions {
        process_scan_interval: Duration::from_millis(20),
        process_young_window: Duration::from_millis(200),
        process_full_rescan: Duration::from_millis(500),
        kill_grace: Duration::from_millis(300),
        notify_stall_limit: Duration::from_secs(2),
        ..TrackOptions::default()
    }
}

pub fn command(argv: &[&str], user: Option<&str>) -> Command {
    Command {
        text: argv.join(" "),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        run_as: user.map(|u| RunAs {
            user: u.to_string(),
            group: None,
        }),
        span: Span::default(),
    }
}

pub fn track_ref(name: &str) -> TrackRef {
    TrackRef {
        name: name.to_string(),
        weight: None,
        reverse: false,
        span: Span::default(),
    }
}

pub fn vrrp_script(name: &str, argv: &[&str], interval_ms: u64, timeout_ms: u64) -> VrrpScript {
    VrrpScript {
        name: name.to_string(),
        span: Span::default(),
        command: command(argv, None),
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        weight: 0,
        reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
    }
}

/// A configuration with one instance `VI_1` following every script given.
pub fn config_with_scripts(scripts: Vec<VrrpScript>) -> Config {
    let mut config = Config::build(|_| {});
    let mut instance = VrrpInstance::new("VI_1", 51, Family::Ipv4);
    std::sync::Arc::make_mut(&mut instance.tracking).scripts =
        scripts.iter().map(|s| track_ref(&s.name)).collect();
    config.scripts = scripts;
    config.instances.push(instance);
    config
}

/// Write an executable shell script.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = fs::File::create(&path).unwrap();
    writeln!(f, "#!/bin/sh").unwrap();
    f.write_all(body.as_bytes()).unwrap();
    drop(f);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The next event, or a panic naming what was awaited.
pub async fn next_event(
    rx: &mut mpsc::Receiver<TrackEvent>,
    within: Duration,
    what: &str,
) -> TrackEvent {
    match tokio::time::timeout(within, rx.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("event channel closed while waiting for {what}"),
        Err(_) => panic!("no event within {within:?} while waiting for {what}"),
    }
}

/// Wait for the first event satisfying `want`, skipping others.
pub async fn wait_for(
    rx: &mut mpsc::Receiver<TrackEvent>,
    within: Duration,
    what: &str,
    want: impl Fn(&TrackEvent) -> bool,
) -> TrackEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = next_event(rx, left, what).await;
        if want(&event) {
            return event;
        }
    }
}

/// Log lines captured for the current thread (the tests run current-thread runtimes, so
/// every tracker task logs here).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    pub fn lines_with(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Live (not zombie) processes whose process group is `pgid`, as /proc shows them.
pub fn live_members_of_group(pgid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // fields[0] = state, fields[2] = pgrp
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
            members.push(pid);
        }
    }
    members
}

/// Poll `check` until it holds or `within` passes.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
pub mod procs;
