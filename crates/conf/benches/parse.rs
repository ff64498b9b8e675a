//! How long loading takes: the seed's configuration, and a generated one with 1,000
//! instances (the target is under 50 ms for the latter).
//!
//! `cargo bench -p baton-conf --bench parse`

use std::hint::black_box;

use baton_conf::{FakeHost, FakeScript, LoadOptions, load_str};
use criterion::{Criterion, criterion_group, criterion_main};

/// 1,000 instances over 4 interfaces (VRIDs 1..250 on each), every one with the keywords
/// real configurations carry: comments, authentication, two VIPs, a tracked script, notify.
fn thousand_instances() -> String {
    let mut s = String::from(
        "! generated\nglobal_defs {\n    router_id bench # 标识\n    vrrp_garp_master_delay 1\n}\n\
         vrrp_script chk_nginx {\n    script \"/usr/local/bin/chk_nginx.sh\"\n    interval 2\n    weight -20\n}\n",
    );
    for n in 0..1000u32 {
        let ifname = n % 4;
        let vrid = n / 4 + 1;
        let (a, b) = (n / 250, n % 250);
        s.push_str(&format!(
            "vrrp_instance VI_{n} {{\n    state {state} # initial state\n    interface eth{ifname}\n    \
             virtual_router_id {vrid}\n    priority {prio}\n    advert_int 1\n    \
             authentication {{\n        auth_type PASS\n        auth_pass pw{vrid}\n    }}\n    \
             virtual_ipaddress {{\n        10.{a}.{b}.1/24 dev eth{ifname} label eth{ifname}:{vrid}\n        \
             10.{a}.{b}.2/24\n    }}\n    track_script {{\n        chk_nginx\n    }}\n    \
             notify_master \"/usr/local/bin/notify.sh {n} MASTER\"\n}}\n",
            state = if n % 2 == 0 { "MASTER" } else { "BACKUP" },
            prio = 100 + n % 100,
        ));
    }
    s
}

fn host() -> FakeHost {
    FakeHost::new()
        .interface("eth0")
        .interface("eth1")
        .interface("eth2")
        .interface("eth3")
        .interface("ens33")
        .script("/usr/local/bin/chk_nginx.sh", FakeScript::Executable)
        .script("/usr/local/bin/notify.sh", FakeScript::Executable)
}

fn bench(c: &mut Criterion) {
    let host = host();
    let opts = LoadOptions::default();

    let big = thousand_instances();
    let loaded = load_str("big.conf", &big, &opts, &host);
    assert_eq!(
        loaded.config.as_ref().map(|c| c.instances.len()),
        Some(1000)
    );
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    c.bench_function("load 1000 instances", |b| {
        b.iter(|| load_str("big.conf", black_box(&big), &opts, &host))
    });

    let seed = include_str!("../tests/fixtures/seed/master.conf");
    c.bench_function("load seed master.conf", |b| {
        b.iter(|| load_str("master.conf", black_box(seed), &opts, &host))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
