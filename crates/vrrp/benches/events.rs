//! Event handling throughput of the protocol core, and the simulator at scale.
//!
//! `cargo bench -p baton-vrrp --bench events`

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use baton_conf::{Config, VirtualAddress, VrrpInstance};
use baton_vrrp::sim::Sim;
use baton_vrrp::{Environment, Input, Instant, Node, ReceivedAdvert, State};
use baton_wire::{Addresses, AdvertRepr, Auth, ChecksumForm, Family, Version};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const GROUP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(224, 0, 0, 18));

fn instance(
    vrid: u8,
    interface: &str,
    vip: IpAddr,
    priority: u8,
    version: Version,
    interval: Duration,
) -> VrrpInstance {
    let mut i = VrrpInstance::new(&format!("VI_{interface}_{vrid}"), vrid, Family::Ipv4);
    i.interface = Some(interface.to_string());
    i.priority = priority;
    i.version = version;
    i.advert_int = interval;
    i.vips = vec![VirtualAddress::new(vip)];
    i
}

/// `per_interface` VRIDs on each of `interfaces` interfaces.
fn many(
    interfaces: usize,
    per_interface: u8,
    priority: u8,
    version: Version,
    interval: Duration,
) -> Config {
    let mut cfg = Config::build(|_| {});
    for n in 0..interfaces {
        for v in 1..=per_interface {
            let vip = IpAddr::from([10, n as u8, 1, v]);
            cfg.instances.push(instance(
                v,
                &format!("eth{n}"),
                vip,
                priority,
                version,
                interval,
            ));
        }
    }
    cfg
}

fn env(interfaces: usize, host: u8) -> Environment {
    let mut env = Environment::new();
    for n in 0..interfaces {
        env = env.with_interface(
            &format!("eth{n}"),
            true,
            &[IpAddr::from([10, n as u8, 0, host])],
        );
    }
    env
}

/// A backup receiving its master's adverts: the path every backup runs once per interval
/// per instance, and the one an advert flood hits.
fn received_adverts(c: &mut Criterion) {
    let mut group = c.benchmark_group("received_advert");
    group.throughput(Throughput::Elements(1));
    for (label, interfaces, per) in [("1_instance", 1usize, 1u8), ("1000_instances", 4, 250)] {
        let cfg = many(interfaces, per, 100, Version::V2, Duration::from_secs(1));
        let mut node = Node::new(&cfg, env(interfaces, 2));
        let mut out = Vec::with_capacity(64);
        node.handle(Instant::ZERO, Input::Start, &mut out);
        let vips: Vec<Vec<u8>> = (0..interfaces)
            .flat_map(|n| {
                (1..=per).map(move |v| {
                    baton_wire::advert::encode_addresses(
                        Family::Ipv4,
                        &[IpAddr::from([10, n as u8, 1, v])],
                    )
                })
            })
            .collect();
        let names: Vec<String> = (0..interfaces).map(|n| format!("eth{n}")).collect();
        let mut now = Instant::ZERO;
        let mut k = 0usize;
        group.bench_function(label, |b| {
            b.iter(|| {
                k = (k + 1) % vips.len();
                let n = k / usize::from(per);
                let vrid = (k % usize::from(per)) as u8 + 1;
                now = now + Duration::from_micros(1);
                let advert = AdvertRepr {
                    version: Version::V2,
                    vrid,
                    priority: 200,
                    interval: 1,
                    auth: Auth::None,
                    addresses: Addresses::new(Family::Ipv4, &vips[k])
                        .unwrap_or(Addresses::empty(Family::Ipv4)),
                };
                let rx = ReceivedAdvert {
                    interface: &names[n],
                    family: Family::Ipv4,
                    advert,
                    src: IpAddr::from([10, n as u8, 0, 1]),
                    dst: GROUP,
                    ttl: 255,
                    checksum: ChecksumForm::Plain,
                    message: &[],
                    trailer: None,
                    unix_time: std::time::Duration::ZERO,
                };
                out.clear();
                node.handle(now, Input::Advert(rx), &mut out);
                black_box(out.len())
            })
        });
        assert!(node.instances().iter().all(|i| i.state() == State::Backup));
    }
    group.finish();
}

/// A master's advert timer: fire, build the advert, emit it into a buffer.
fn master_adverts(c: &mut Criterion) {
    let mut group = c.benchmark_group("master_advert");
    let cfg = many(4, 250, 200, Version::V3, Duration::from_millis(100));
    let mut node = Node::new(&cfg, env(4, 1));
    let mut out = Vec::with_capacity(64);
    node.handle(Instant::ZERO, Input::Start, &mut out);
    node.handle(
        Instant::ZERO + Duration::from_secs(1),
        Input::Deadline,
        &mut out,
    );
    let mut buf = [0u8; 64];
    // Every master entered MASTER at the same instant, so each deadline fires all 1,000.
    let due = node.next_deadline();
    let firing = node
        .instances()
        .iter()
        .filter(|i| i.next_deadline() == due)
        .count();
    assert_eq!(firing, 1000);
    group.throughput(Throughput::Elements(1000));
    group.bench_function("timer_and_emit_1000_instances", |b| {
        b.iter(|| {
            let Some(t) = node.next_deadline() else {
                return 0;
            };
            out.clear();
            node.handle(t, Input::Deadline, &mut out);
            let mut sent = 0;
            for a in &out {
                if let baton_vrrp::Action::SendAdvert(s) = a
                    && let Some(repr) = node.advert(s.instance, s.priority)
                    && repr.emit(&mut buf, s.src, s.dst.addr(), s.checksum).is_ok()
                {
                    sent += 1;
                }
            }
            black_box(sent)
        })
    });
    group.finish();
}

/// The kernel's echo of a mass change on one interface: 20,000 instances (VRIDs 1–255, a
/// multicast group for each further block of 255, as the scale bench runs them), their
/// VIPs reported added one by one, as after a mass takeover, then removed, as after a mass
/// release. The work per echo must not grow with the number of VIPs.
fn vip_echoes(c: &mut Criterion) {
    const N: usize = 20_000;
    let mut group = c.benchmark_group("vip_echoes");
    group.sample_size(10);
    let mut cfg = Config::build(|_| {});
    let vip = |k: usize| IpAddr::from([10, 1, (k >> 8) as u8, k as u8]);
    for k in 0..N {
        let mut i = instance(
            (k % 255) as u8 + 1,
            "eth0",
            vip(k),
            100,
            Version::V3,
            Duration::from_millis(100),
        );
        i.name = format!("VI_{k}").into();
        i.mcast_group = IpAddr::from([239, 0, 0, (k / 255) as u8]);
        cfg.instances.push(i);
    }
    let mut node = Node::new(&cfg, env(1, 2));
    let mut out = Vec::with_capacity(64);
    node.handle(Instant::ZERO, Input::Start, &mut out);
    group.throughput(Throughput::Elements(2 * N as u64));
    group.bench_function("20000_added_then_removed", |b| {
        b.iter(|| {
            for (k, added) in (0..N).map(|k| (k, true)).chain((0..N).map(|k| (k, false))) {
                out.clear();
                let input = if added {
                    Input::AddressAdded {
                        interface: "eth0",
                        addr: vip(k),
                    }
                } else {
                    Input::AddressRemoved {
                        interface: "eth0",
                        addr: vip(k),
                    }
                };
                node.handle(Instant::ZERO, input, &mut out);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

/// 1,000 instances at 100 ms between two routers for 60 virtual seconds.
fn simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulator");
    group.sample_size(10);
    group.bench_function("1000_instances_100ms_60s", |b| {
        b.iter(|| {
            let mut sim = Sim::new(1, false);
            let segments: Vec<usize> = (0..4)
                .map(|n| sim.add_segment(&format!("lan{n}")))
                .collect();
            for (host, prio) in [(1u8, 200u8), (2, 100)] {
                let cfg = many(4, 250, prio, Version::V3, Duration::from_millis(100));
                let ports: Vec<(usize, String, IpAddr)> = segments
                    .iter()
                    .enumerate()
                    .map(|(n, s)| (*s, format!("eth{n}"), IpAddr::from([10, n as u8, 0, host])))
                    .collect();
                let ports: Vec<(usize, &str, IpAddr)> =
                    ports.iter().map(|(s, i, a)| (*s, i.as_str(), *a)).collect();
                sim.add_router(&format!("r{host}"), cfg, &ports);
            }
            sim.start_all();
            sim.run_for(Duration::from_secs(60));
            assert_eq!(sim.masters("VI_eth3_250"), vec![0]);
            black_box(sim.delivered)
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    received_adverts,
    master_adverts,
    vip_echoes,
    simulate
);
criterion_main!(benches);
