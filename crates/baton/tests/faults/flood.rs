//! Floods of forged adverts: 100,000 adverts from 100,000 forged sources (IPv4, VRRPv2 with a
//! wrong password) and from forged IPv6 link-local sources (VRRPv3, another VIP list), each
//! against the same number from one source. Each forged source is a new entry for the
//! mismatch table and a new line for the log: memory must stay within 2 MB of idle and the
//! CPU an advert costs within twice what a single source's advert costs.

use std::net::IpAddr;
use std::time::Duration;

use baton_lab::Host;
use baton_wire::Family;

use crate::common::*;
use crate::forge::{self, CONF, advert, forged};
use crate::measure::{cpu_ns, mb, rss_kb};

/// Datagrams baton has read on its sockets.
fn received(b: &Baton) -> u64 {
    forge::received(&b.status().unwrap())
}

struct Flood {
    /// Adverts baton read.
    read: u64,
    /// CPU per advert read, in nanoseconds.
    ns_per_advert: f64,
    rss_after_kb: u64,
}

/// Send `n` adverts from `sources(i)` at `rate` a second and measure what they cost baton.
fn flood(
    b: &Baton,
    mallory: &Host,
    family: Family,
    n: u32,
    rate: u32,
    source: impl Fn(u32) -> IpAddr,
) -> Flood {
    let pid = b.proc.pid();
    let (read0, cpu0) = (received(b), cpu_ns(pid));
    let mut inj = mallory.injector("eth0").unwrap();
    let sent = inj
        .send_paced((0..n).map(|i| advert(family, source(i))), rate)
        .unwrap();
    assert_eq!(sent, u64::from(n));
    // Let the daemon finish what is queued.
    std::thread::sleep(Duration::from_millis(300));
    let (read1, cpu1) = (received(b), cpu_ns(pid));
    let read = read1 - read0;
    Flood {
        read,
        ns_per_advert: (cpu1 - cpu0) as f64 / read.max(1) as f64,
        rss_after_kb: rss_kb(pid),
    }
}

fn case(name: &str, family: Family, n: u32) {
    let Some((lab, lb1, _lb2)) = seed_lab(name) else {
        return;
    };
    let mallory = lab
        .add_host(
            baton_lab::HostSpec::new("mallory")
                .addr("192.168.5.66/24")
                .addr("fd00:5::66/64"),
        )
        .unwrap();
    let b = Baton::start(&lb1, CONF);
    b.wait_state_of("VI_1", "Master", Duration::from_secs(6));
    b.wait_state_of("VI_6", "Master", Duration::from_secs(6));
    let own = forge::own(family);
    // Warm up (first-use allocations, the log), then take idle.
    flood(&b, &mallory, family, 2_000, 20_000, |_| own);
    std::thread::sleep(Duration::from_millis(500));
    let idle_kb = rss_kb(b.proc.pid());
    let single = flood(&b, &mallory, family, n, 20_000, |_| own);
    let spoofed = flood(&b, &mallory, family, n, 20_000, |i| forged(family, i));
    let ratio = spoofed.ns_per_advert / single.ns_per_advert;
    let grew = spoofed.rss_after_kb.saturating_sub(idle_kb);
    figure!(
        "fault {name}: {n} adverts from {n} forged sources: peak RSS {} (idle {}, +{} kB), \
         {:.1} µs per advert against {:.1} µs from one source ({ratio:.2}×); read {} and {} \
         of {n}",
        mb(spoofed.rss_after_kb.max(single.rss_after_kb)),
        mb(idle_kb),
        grew,
        spoofed.ns_per_advert / 1000.0,
        single.ns_per_advert / 1000.0,
        spoofed.read,
        single.read,
    );
    // The adverts must have reached the daemon for the figures to mean anything.
    assert!(
        spoofed.read >= u64::from(n) * 8 / 10,
        "only {} read",
        spoofed.read
    );
    assert!(grew <= 2048, "RSS grew by {grew} kB under the forged flood");
    assert!(
        ratio <= 2.0,
        "a forged-source advert costs {ratio:.2}× a single-source one"
    );
    // The table kept its bound, counted what it dropped, and the log said so once.
    let inst = b.instance(if family == Family::Ipv4 {
        "VI_1"
    } else {
        "VI_6"
    });
    let listed = inst["mismatches"].as_array().unwrap().len();
    assert!(listed <= 32, "{listed} mismatches listed");
    assert!(inst["mismatches_evicted"].as_u64().unwrap() >= u64::from(n) * 8 / 10);
    assert_eq!(inst["state"], "Master");
    let status = b.status().unwrap();
    assert!(
        status["daemon"]["peer_log_left_out"]["mismatch"]
            .as_u64()
            .unwrap()
            > 0
    );
    b.proc.signal(baton_lab::Signal::SIGTERM).unwrap();
    b.wait_exit(Duration::from_secs(5));
    let logs = b.logs();
    let lines = logs.matches("adverts from").count();
    assert!(lines <= 60, "{lines} mismatch lines logged");
}

#[test]
fn a_flood_from_forged_ipv4_sources_costs_no_memory_and_little_cpu() {
    case("flood4", Family::Ipv4, 100_000);
}

#[test]
fn a_flood_from_forged_ipv6_sources_costs_no_memory_and_little_cpu() {
    case("flood6", Family::Ipv6, 20_000);
}
