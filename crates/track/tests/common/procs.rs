//! Real processes for the process-tracking tests, and re-running one test inside fresh
//! namespaces (`unshare`), the inner half selected by name and an environment variable.
#![allow(dead_code, clippy::unwrap_used)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton_conf::{Config, ParamMatch, Span, TrackProcess, VrrpInstance};
use baton_track::{ScriptPolicy, TrackEvent, TrackOptions, Trackers};
use baton_wire::Family;
use tokio::sync::mpsc::Receiver;

use super::{track_ref, wait_for};

pub const INNER: &str = "BATON_TRACK_INNER";

pub fn track_process(name: &str, process: &str) -> TrackProcess {
    TrackProcess {
        name: name.to_string(),
        span: Span::default(),
        process: process.to_string(),
        params: None,
        param_match: ParamMatch::Exact,
        full_command: false,
        weight: 0,
        reverse: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::ZERO,
    }
}

pub fn config_with(processes: Vec<TrackProcess>) -> Config {
    let mut config = Config::build(|_| {});
    let mut instance = VrrpInstance::new("VI_1", 51, Family::Ipv4);
    std::sync::Arc::make_mut(&mut instance.tracking).processes =
        processes.iter().map(|p| track_ref(&p.name)).collect();
    config.track_processes = processes;
    config.instances.push(instance);
    config
}

pub fn start(config: &Config, options: &TrackOptions) -> (Trackers, Receiver<TrackEvent>) {
    let policy = ScriptPolicy::new(&config.global, options);
    Trackers::start(config, &policy, options).unwrap()
}

/// A `sleep` whose process name is the name of the link it is started through.
pub fn named_sleep(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    if !link.exists() {
        symlink(std::fs::canonicalize("/bin/sleep").unwrap(), &link).unwrap();
    }
    link
}

/// A child that is killed and reaped when dropped.
pub struct Proc(pub Child);

impl Proc {
    pub fn start(path: &Path, args: &[&str]) -> Proc {
        Proc(
            Command::new(path)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn count_of(rx: &mut Receiver<TrackEvent>, name: &str, want: u32) {
    wait_for(rx, 5 * Duration::from_secs(1), &format!("{name} = {want}"), |e| {
        matches!(e, TrackEvent::ProcessCount { name: n, count } if &**n == name && *count == want)
    })
    .await;
}

pub fn unique(tag: &str) -> String {
    // Process names are 15 characters at most.
    format!("bt{}{tag}", std::process::id() % 1_000_000)
}

/// Run `test` again inside new namespaces; returns its combined output.
pub fn run_inner(test: &str, unshare: &[&str]) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("unshare")
        .args(unshare)
        .arg("--kill-child")
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER, test)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained while it runs, so a chatty inner test cannot fill a pipe and stall.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            // unshare --kill-child takes the whole namespace with it.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = format!("{}{}", out.join().unwrap(), err.join().unwrap());
    match status {
        Some(status) => (status.success(), text),
        None => (false, format!("{text}\n(timed out after 60 s)")),
    }
}

pub fn is_inner(test: &str) -> bool {
    std::env::var(INNER).as_deref() == Ok(test)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
