//! What a lab costs, so test suites can budget for it: building and tearing down a two-host
//! lab, running a program inside a host, and one ping and one ARP round trip across the lab's
//! bridge. Root only (it prints why and exits otherwise).
//! `sudo cargo bench -p baton-lab --bench lab`; criterion prints the median as the middle
//! value of `time: [low median high]`.

use std::process::Command;
use std::time::Duration;

use baton_lab::{HostSpec, Lab, ms};
use criterion::Criterion;

fn two_hosts(name: &str) -> (Lab, baton_lab::Host, baton_lab::Host) {
    let lab = Lab::new(name).unwrap_or_else(|e| panic!("lab: {e}"));
    let add = |spec| lab.add_host(spec).unwrap_or_else(|e| panic!("host: {e}"));
    let a = add(HostSpec::new("a").addr("10.6.0.1/24").addr("fd00:6::1/64"));
    let b = add(HostSpec::new("b").addr("10.6.0.2/24").addr("fd00:6::2/64"));
    (lab, a, b)
}

fn lifecycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("lab");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("new_two_hosts_teardown", |bench| {
        bench.iter(|| {
            let (lab, a, b) = two_hosts("bench");
            drop((a, b));
            lab.teardown().unwrap_or_else(|e| panic!("teardown: {e}"));
        })
    });
    g.finish();
}

fn inside_a_host(c: &mut Criterion) {
    let (_lab, a, _b) = two_hosts("bench-run");
    let mut g = c.benchmark_group("host");
    g.sample_size(50);
    g.bench_function("run_true", |bench| {
        bench.iter(|| {
            a.run(&mut Command::new("true"))
                .unwrap_or_else(|e| panic!("run: {e}"))
        })
    });
    g.bench_function("spawn_wait_true", |bench| {
        bench.iter(|| {
            let p = a
                .spawn(&mut Command::new("true"))
                .unwrap_or_else(|e| panic!("spawn: {e}"));
            p.wait().unwrap_or_else(|e| panic!("wait: {e}"))
        })
    });
    g.bench_function("has_addr", |bench| {
        bench.iter(|| a.has_addr("10.6.0.1").unwrap_or_else(|e| panic!("ip: {e}")))
    });
    g.finish();
}

fn across_the_bridge(c: &mut Criterion) {
    let (_lab, a, _b) = two_hosts("bench-net");
    let mut g = c.benchmark_group("bridge");
    let answered = |r: baton_lab::Result<Option<Duration>>| match r {
        Ok(Some(rtt)) => rtt,
        other => panic!("no reply: {other:?}"),
    };
    g.bench_function("ping_v4", |bench| {
        bench.iter(|| answered(a.ping("10.6.0.2", ms(500))))
    });
    g.bench_function("ping_v6", |bench| {
        bench.iter(|| answered(a.ping("fd00:6::2", ms(500))))
    });
    g.bench_function("arping", |bench| {
        // One Host::arping: open a packet socket, one request and reply, wait out 1 ms for
        // other replies, close (the kernel waits for an RCU grace period there). A running
        // Probe pays the open and close once.
        bench.iter(|| {
            a.arping("eth0", "10.6.0.2", ms(1))
                .unwrap_or_else(|e| panic!("arp: {e}"))
        })
    });
    g.finish();
}

fn main() {
    if !baton_lab::require_root() {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    lifecycle(&mut c);
    inside_a_host(&mut c);
    across_the_bridge(&mut c);
    c.final_summary();
}
