//! vrrp_track_process on real processes: births and deaths by name, full command and
//! parameters, reporting delays, counting inside a fresh PID namespace, and how fast a
//! death (a killed nginx) is reported.
//!
//! The namespace tests re-run this test binary under `unshare --pid --fork --mount-proc`,
//! selecting one test by name and telling it through an environment variable that it is
//! the inner half. `--kill-child` ties the namespace's life to unshare's, so nothing
//! started inside survives a failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_conf::{ParamMatch, TrackProcess};
use baton_track::{TrackEvent, TrackerKind};
use common::procs::*;
use common::*;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn births_and_deaths_are_counted_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("n");
    let sleep = named_sleep(dir.path(), &name);
    let config = config_with(vec![track_process("web", &name)]);
    let (_trackers, mut rx) = start(&config, &fast_options());
    count_of(&mut rx, "web", 0).await;
    let mut first = Proc::start(&sleep, &["30"]);
    count_of(&mut rx, "web", 1).await;
    let mut second = Proc::start(&sleep, &["30"]);
    count_of(&mut rx, "web", 2).await;
    first.kill();
    count_of(&mut rx, "web", 1).await;
    second.kill();
    count_of(&mut rx, "web", 0).await;
}

#[tokio::test]
async fn full_command_and_parameters_select_processes() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("p");
    let sleep = named_sleep(dir.path(), &name);
    let path = sleep.to_str().unwrap();
    let with = |watch: &str, params: Option<&[&str]>, mode: ParamMatch| TrackProcess {
        params: params.map(|p| p.iter().map(|s| s.to_string()).collect()),
        param_match: mode,
        full_command: true,
        ..track_process(watch, path)
    };
    let config = config_with(vec![
        with("any", None, ParamMatch::Exact),
        with("exact", Some(&["100"]), ParamMatch::Exact),
        with("partial", Some(&["100"]), ParamMatch::Partial),
        with("initial", Some(&["10"]), ParamMatch::Initial),
        // comm is the link's name; its full path never equals a comm.
        track_process("by_comm", path),
    ]);
    let (_trackers, mut rx) = start(&config, &fast_options());
    let _a = Proc::start(&sleep, &["100"]);
    let _b = Proc::start(&sleep, &["1000"]);
    let _c = Proc::start(&sleep, &["100", "7"]);
    count_of(&mut rx, "any", 3).await;
    count_of(&mut rx, "exact", 1).await;
    count_of(&mut rx, "partial", 2).await;
    count_of(&mut rx, "initial", 3).await;
    // Let a few more scans pass: nothing may count the processes by their comm.
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(event) = rx.try_recv() {
        if let TrackEvent::ProcessCount { name, count } = event {
            assert!(
                !(&*name == "by_comm" && count > 0),
                "a full path matched a comm"
            );
        }
    }
}

#[tokio::test]
async fn terminate_delay_holds_back_a_lost_quorum_and_hides_a_quick_restart() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("d");
    let sleep = named_sleep(dir.path(), &name);
    let config = config_with(vec![TrackProcess {
        terminate_delay: Duration::from_millis(400),
        ..track_process("svc", &name)
    }]);
    let (_trackers, mut rx) = start(&config, &fast_options());
    count_of(&mut rx, "svc", 0).await;
    let mut p = Proc::start(&sleep, &["30"]);
    count_of(&mut rx, "svc", 1).await;

    // Dies and comes back within the delay: nothing is reported.
    p.kill();
    let _back = Proc::start(&sleep, &["30"]);
    let quiet = tokio::time::timeout(Duration::from_millis(600), rx.recv()).await;
    assert!(
        quiet.is_err(),
        "a restart within terminate_delay was reported: {quiet:?}"
    );

    // Dies for good: reported, but only after the delay.
    drop(_back);
    let died = Instant::now();
    count_of(&mut rx, "svc", 0).await;
    let waited = died.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "reported after {waited:?}"
    );
}

#[test]
fn counts_what_its_own_pid_namespace_sees_and_reports_deaths_in_microseconds() {
    const TEST: &str = "counts_what_its_own_pid_namespace_sees_and_reports_deaths_in_microseconds";
    if is_inner(TEST) {
        return runtime().block_on(inner_counts_and_latency());
    }
    require_root!("creating a PID namespace");
    // A decoy with the tracked name, outside the namespace: it must not be counted.
    let dir = tempfile::tempdir().unwrap();
    let _decoy = Proc::start(&named_sleep(dir.path(), &unique("ns")), &["60"]);
    let (ok, output) = run_inner(TEST, &["--pid", "--fork", "--mount-proc"]);
    eprintln!("{output}");
    assert!(ok, "inner test failed:\n{output}");
    assert!(output.contains("death-to-event latency"), "{output}");
}

async fn inner_counts_and_latency() {
    assert_eq!(
        std::process::id(),
        1,
        "should run as PID 1 of a fresh namespace"
    );
    let dir = tempfile::tempdir().unwrap();
    let name = unique("ns");
    let sleep = named_sleep(dir.path(), &name);
    let config = config_with(vec![track_process("svc", &name)]);
    let (_trackers, mut rx) = start(&config, &fast_options());
    // The decoy outside is not ours to count.
    let first = next_event(&mut rx, 5 * SECOND, "initial count").await;
    assert_eq!(
        first,
        TrackEvent::ProcessCount {
            name: Arc::from("svc"),
            count: 0
        }
    );

    let mut latencies = Vec::new();
    for _ in 0..25 {
        let mut p = Proc::start(&sleep, &["30"]);
        count_of(&mut rx, "svc", 1).await;
        let pid = nix::unistd::Pid::from_raw(p.0.id() as i32);
        let killed = Instant::now();
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        count_of(&mut rx, "svc", 0).await;
        latencies.push(killed.elapsed());
        p.kill();
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    println!(
        "death-to-event latency over {} kills: median {:?}, max {:?}",
        latencies.len(),
        median,
        latencies[latencies.len() - 1]
    );
    assert!(median < Duration::from_millis(10), "median {median:?}");
}

#[test]
fn a_proc_of_another_pid_namespace_is_refused() {
    const TEST: &str = "a_proc_of_another_pid_namespace_is_refused";
    if is_inner(TEST) {
        return runtime().block_on(async {
            let config = config_with(vec![track_process("svc", "whatever")]);
            let (_trackers, mut rx) = start(&config, &fast_options());
            let event = next_event(&mut rx, 5 * SECOND, "refusal").await;
            let TrackEvent::Disabled { kind, reason, .. } = event else {
                panic!("expected Disabled, got {event:?}");
            };
            assert_eq!(kind, TrackerKind::Process);
            assert!(reason.contains("another PID namespace"), "{reason}");
            println!("refused: {reason}");
        });
    }
    require_root!("creating a PID namespace");
    // --pid without --mount-proc: /proc still shows the parent namespace.
    let (ok, output) = run_inner(TEST, &["--pid", "--fork"]);
    assert!(ok, "inner test failed:\n{output}");
    assert!(output.contains("refused:"), "{output}");
}

#[test]
fn a_killed_nginx_is_reported_within_10ms() {
    const TEST: &str = "a_killed_nginx_is_reported_within_10ms";
    if is_inner(TEST) {
        return runtime().block_on(inner_nginx());
    }
    require_root!("creating a PID namespace");
    if !Path::new("/usr/sbin/nginx").exists() {
        eprintln!("skipped: nginx is not installed (scripts/test installs nginx-light)");
        return;
    }
    let (ok, output) = run_inner(TEST, &["--pid", "--fork", "--mount-proc"]);
    eprintln!("{output}");
    assert!(ok, "inner test failed:\n{output}");
}

async fn inner_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // No network at all: it listens on a unix socket in the test's directory.
    let conf = format!(
        "daemon on; master_process on; worker_processes 2; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 16; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{ listen unix:{d}/sock; return 200; }} }}\n"
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();

    let config = config_with(vec![track_process("nginx", "nginx")]);
    let (_trackers, mut rx) = start(&config, &fast_options());
    count_of(&mut rx, "nginx", 0).await;
    let mut latencies = Vec::new();
    for _ in 0..5 {
        // What a previous round's SIGKILL left behind would stop nginx from starting.
        let _ = std::fs::remove_file(dir.path().join("sock"));
        let _ = std::fs::remove_file(dir.path().join("nginx.pid"));
        let status = Command::new("/usr/sbin/nginx")
            .args(["-e", &format!("{d}/error.log"), "-p", &d.to_string(), "-c"])
            .arg(&conf_path)
            .status()
            .unwrap();
        assert!(status.success(), "nginx did not start");
        // Master and two workers.
        count_of(&mut rx, "nginx", 3).await;

        let pids: Vec<i32> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains("(nginx) ") && !s.contains(") Z "))
            })
            .collect();
        assert_eq!(pids.len(), 3, "nginx processes: {pids:?}");
        let mut killed = Instant::now();
        for pid in pids {
            killed = Instant::now();
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
        }
        count_of(&mut rx, "nginx", 0).await;
        latencies.push(killed.elapsed());
        // As PID 1 of the namespace we inherit the orphans: reap them.
        while let Ok(status) =
            nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
        {
            if status == nix::sys::wait::WaitStatus::StillAlive {
                break;
            }
        }
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    println!(
        "nginx killed 5 times; count 0 reported after the last kill: median {median:?}, all {latencies:?}"
    );
    assert!(median < Duration::from_millis(10), "{latencies:?}");
}
