//! The cost of one update transaction of the LVS data plane, on the real kernel: a wrr
//! service of N real servers (1, 10, 100) where one real server leaves and comes back, one
//! `Dataplane::apply` (render, diff, encode, one netlink batch, the kernel's commit) per
//! iteration. Root only (a throw-away namespace from baton-lab); without root it says so and
//! measures nothing.
//!
//! `cargo bench -p baton-nft --bench update`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use baton_lab::{HostSpec, Lab};
use baton_nft::lvs::{ForwardingTable, Frontend, Protocol, RealServer, Scheduler, VirtualService};
use baton_nft::{Dataplane, Options};
use criterion::{Criterion, criterion_group, criterion_main};

fn table(n: usize, drop_last: bool) -> ForwardingTable {
    let mut vs = VirtualService::new(Frontend::Address {
        addr: SocketAddr::from(([10, 1, 0, 100], 80)),
        protocol: Protocol::Tcp,
    });
    vs.scheduler = Scheduler::Wrr;
    let keep = if drop_last { n - 1 } else { n };
    vs.real_servers = (0..keep)
        .map(|i| RealServer {
            addr: SocketAddr::from(([10, 2, (i / 250) as u8, (i % 250) as u8 + 1], 8080)),
            weight: 1 + (i % 3) as u32,
        })
        .collect();
    ForwardingTable { services: vec![vs] }
}

fn bench(c: &mut Criterion) {
    if !baton_lab::require_root() {
        return;
    }
    let lab = match Lab::new("nft-bench") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("update bench: no lab: {e}");
            return;
        }
    };
    let Ok(director) = lab.add_host(HostSpec::new("director")) else {
        return;
    };
    let dp = match director.in_netns(|| Dataplane::new(Options::default())) {
        Ok(Ok(dp)) => dp,
        other => {
            eprintln!("update bench: no data plane: {other:?}");
            return;
        }
    };
    let mut dp = dp;
    let mut group = c.benchmark_group("apply_one_server_leaves_or_returns");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    for n in [1usize, 10, 100] {
        let full = table(n, false);
        let less = table(n, true);
        if dp.apply(&full).is_err() {
            eprintln!("update bench: apply failed");
            return;
        }
        let mut flip = false;
        group.bench_function(format!("{n}_real_servers"), |b| {
            b.iter(|| {
                flip = !flip;
                let t = if flip { &less } else { &full };
                black_box(dp.apply(t).map(|r| r.messages).unwrap_or(0))
            })
        });
        let _ = dp.apply(&ForwardingTable::default());
    }
    group.finish();
    drop(dp);
    drop(lab);
}

criterion_group!(benches, bench);
criterion_main!(benches);
