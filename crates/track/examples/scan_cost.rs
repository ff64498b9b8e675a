//! What process tracking costs while nothing happens: CPU time and resident memory of a
//! process tracker with the daemon's default options (a /proc scan every 100 ms), measured
//! over 10 s on whatever this machine runs.
//!
//! cargo run --release -p baton-track --example scan_cost

use std::time::Duration;

use baton_conf::{Config, ParamMatch, Span, TrackProcess, TrackRef, VrrpInstance};
use baton_track::{ScriptPolicy, TrackOptions, Trackers};

fn cpu_micros() -> f64 {
    // SAFETY: getrusage only writes the struct we hand it, which is zero-initialised POD.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let mut config = Config::build(|_| {});
    config.track_processes.push(TrackProcess {
        name: "nginx".into(),
        span: Span::default(),
        process: "nginx".into(),
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
    let mut instance = VrrpInstance::new("VI_1", 1, baton_wire::Family::Ipv4);
    std::sync::Arc::make_mut(&mut instance.tracking)
        .processes
        .push(TrackRef {
            name: "nginx".into(),
            weight: None,
            reverse: false,
            span: Span::default(),
        });
    config.instances.push(instance);

    let before = rss();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let options = TrackOptions::default();
        let policy = ScriptPolicy::new(&config.global, &options);
        let (_trackers, mut events) =
            Trackers::start(&config, &policy, &options).expect("trackers");
        let _first_count = events.recv().await;
        let start = cpu_micros();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let spent = cpu_micros() - start;
        let processes = std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
                    .count()
            })
            .unwrap_or(0);
        println!(
            "{processes} processes in /proc; tracker CPU over 10 s: {:.1} ms ({:.2}% of a core); \
             RSS {before} before the runtime, {} tracking",
            spent / 1000.0,
            spent / 1e5,
            rss()
        );
    });
}
