//! How long after a tracked process is SIGKILLed its new count reaches the daemon: the
//! kill(2), the kernel tearing the process down, the pidfd waking the runtime, the tracker
//! recounting and the event crossing the channel. Processes are `sleep`s started through a
//! link with a name unique to this run, so nothing else on the machine is counted.
//!
//! cargo bench -p baton-track --bench death_latency

use std::os::unix::fs::symlink;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton_conf::{Config, ParamMatch, Span, TrackProcess, TrackRef, VrrpInstance};
use baton_track::{ScriptPolicy, TrackEvent, TrackOptions, Trackers};
use baton_wire::Family;
use criterion::{Criterion, criterion_group, criterion_main};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::mpsc::Receiver;

/// Processes started per round; each is killed and timed on its own.
const BATCH: u64 = 32;

fn config(name: &str) -> Config {
    let mut config = Config::build(|_| {});
    config.track_processes.push(TrackProcess {
        name: "svc".into(),
        span: Span::default(),
        process: name.into(),
        params: None,
        param_match: ParamMatch::Exact,
        full_command: false,
        weight: 0,
        reverse: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::ZERO,
    });
    let mut instance = VrrpInstance::new("VI_1", 1, Family::Ipv4);
    std::sync::Arc::make_mut(&mut instance.tracking)
        .processes
        .push(TrackRef {
            name: "svc".into(),
            weight: None,
            reverse: false,
            span: Span::default(),
        });
    config.instances.push(instance);
    config
}

async fn until_count(rx: &mut Receiver<TrackEvent>, want: u32) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(TrackEvent::ProcessCount { count, .. })) if count == want => return,
            Ok(Some(_)) => {}
            Ok(None) => panic!("tracker stopped"),
            Err(_) => panic!("count {want} never reported"),
        }
    }
}

fn death_to_event(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let name = format!("btbench{}", std::process::id() % 100_000);
    let sleep = dir.path().join(&name);
    symlink(
        std::fs::canonicalize("/bin/sleep").expect("/bin/sleep"),
        &sleep,
    )
    .expect("link");

    let options = TrackOptions {
        // Births only need to be seen quickly enough to keep the benchmark short.
        process_scan_interval: Duration::from_millis(2),
        ..TrackOptions::default()
    };
    let config = config(&name);
    let policy = ScriptPolicy::new(&config.global, &options);
    let (trackers, mut rx) =
        rt.block_on(async { Trackers::start(&config, &policy, &options).expect("trackers") });
    rt.block_on(until_count(&mut rx, 0));

    let mut group = c.benchmark_group("vrrp_track_process");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function("sigkill_to_count_event", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    left -= n;
                    let mut children: Vec<Child> = (0..n)
                        .map(|_| {
                            Command::new(&sleep)
                                .arg("60")
                                .stdout(Stdio::null())
                                .spawn()
                                .expect("spawn sleep")
                        })
                        .collect();
                    until_count(&mut rx, n as u32).await;
                    for (i, child) in children.iter_mut().enumerate() {
                        let pid = Pid::from_raw(child.id() as i32);
                        let killed = Instant::now();
                        kill(pid, Signal::SIGKILL).expect("kill");
                        until_count(&mut rx, n as u32 - 1 - i as u32).await;
                        total += killed.elapsed();
                        let _ = child.wait();
                    }
                }
                total
            })
        })
    });
    // The floor: the same kill observed by the parent's own waitpid(2), no tracker at all.
    // The difference to the benchmark above is what the tracker adds.
    group.bench_function("sigkill_to_waitpid_baseline", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut child = Command::new("/bin/sleep")
                    .arg("60")
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("spawn sleep");
                let pid = Pid::from_raw(child.id() as i32);
                let killed = Instant::now();
                kill(pid, Signal::SIGKILL).expect("kill");
                let _ = child.wait();
                total += killed.elapsed();
            }
            total
        })
    });
    group.finish();
    rt.block_on(trackers.stop());
}

criterion_group!(benches, death_to_event);
criterion_main!(benches);
