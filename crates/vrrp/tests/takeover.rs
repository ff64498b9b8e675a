//! Takeover times in the simulator equal the formulas, over many seeded parameter sets:
//! crash → last advert + 3 × interval + Skew_Time; priority 0 → Skew_Time (fast handover:
//! the short priority-ordered delay); a master's priority drop under fast handover → at
//! once (plus that delay); without it → Master_Down_Interval after the last accepted advert.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use baton_conf::{Config, Span, TrackFile, TrackRef, VirtualAddress, VrrpInstance};
use baton_vrrp::sim::{Rng, Sim};
use baton_vrrp::timers::{
    advert_interval_field, fast_takeover_delay, master_down_interval, skew_time,
};
use baton_vrrp::{Instant, State};
use baton_wire::{Family, Version};

const SEEDS: u64 = 200;

struct Pair {
    version: Version,
    interval: Duration,
    master_prio: u8,
    backup_prio: u8,
    fast: bool,
    delay_m: Duration,
    delay_b: Duration,
}

impl Pair {
    fn random(rng: &mut Rng, fast: bool) -> Pair {
        let version = if rng.chance(0.5) {
            Version::V2
        } else {
            Version::V3
        };
        let interval = match version {
            Version::V2 => Duration::from_secs(rng.range(1, 3)),
            Version::V3 => Duration::from_millis(rng.range(2, 100) * 10),
        };
        let backup_prio = rng.range(2, 200) as u8;
        Pair {
            version,
            interval,
            master_prio: rng.range(u64::from(backup_prio) + 1, 254) as u8,
            backup_prio,
            fast,
            delay_m: Duration::from_micros(rng.range(0, 3_000)),
            delay_b: Duration::from_micros(rng.range(0, 3_000)),
        }
    }

    fn config(&self, prio: u8) -> Config {
        let mut i = VrrpInstance::new("VI_1", 1, Family::Ipv4);
        i.interface = Some("eth0".to_string());
        i.version = self.version;
        i.advert_int = self.interval;
        i.priority = prio;
        i.fast_handover = self.fast;
        i.vips = vec![VirtualAddress::new("10.0.1.1".parse().unwrap())];
        std::sync::Arc::make_mut(&mut i.tracking).files = vec![TrackRef {
            name: "prio".to_string(),
            weight: None,
            reverse: false,
            span: Span::default(),
        }];
        Config::build(|c| {
            c.instances = vec![i];
            c.track_files = vec![TrackFile {
                name: "prio".to_string(),
                span: Span::default(),
                path: "/run/prio".into(),
                weight: 1,
                reverse: false,
                init_file: None,
            }];
        })
    }

    /// Master r0 and backup r1 on one LAN, settled: r0 MASTER, r1 BACKUP.
    fn settled(&self) -> (Sim, Instant) {
        let mut sim = Sim::new(0, false);
        let lan = sim.add_segment("lan");
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        sim.add_router("m", self.config(self.master_prio), &[(lan, "eth0", a)]);
        sim.add_router("b", self.config(self.backup_prio), &[(lan, "eth0", b)]);
        sim.set_delay(0, lan, self.delay_m);
        sim.set_delay(1, lan, self.delay_b);
        sim.start_all();
        sim.run_for(Duration::from_secs(20) + self.interval * 6);
        assert_eq!(sim.masters("VI_1"), vec![0]);
        let entered = sim
            .changes()
            .iter()
            .find(|c| c.router == 0 && c.to == State::Master)
            .unwrap()
            .at;
        (sim, entered)
    }

    fn interval_real(&self) -> Duration {
        advert_interval_field(self.version, self.interval).1
    }

    /// The master's last periodic advert at or before `t` (it advertises on entering
    /// MASTER and every interval after).
    fn last_advert(&self, entered: Instant, t: Instant) -> Instant {
        let i = self.interval_real().as_nanos() as u64;
        let k = (t.as_nanos() - entered.as_nanos()) / i;
        Instant::from_nanos(entered.as_nanos() + k * i)
    }

    fn backup_took_over(sim: &Sim, after: Instant) -> Instant {
        sim.changes()
            .iter()
            .find(|c| c.router == 1 && c.to == State::Master && c.at >= after)
            .unwrap()
            .at
    }
}

/// RFC 5798 §6.4.2: Master_Down_Timer "= Master_Down_Interval" after the last advert;
/// keepalived-semantics §3: "3 × Master_Adver_Interval + Skew_Time".
#[test]
fn crash_takeover_is_the_master_down_interval_after_the_last_advert() {
    let mut rng = Rng::new(1);
    for seed in 0..SEEDS {
        let fast = rng.chance(0.5);
        let p = Pair::random(&mut rng, fast);
        let (mut sim, entered) = p.settled();
        let crash = sim.now() + Duration::from_micros(rng.range(1, 5_000_000));
        sim.run_until(crash);
        sim.crash(0);
        sim.run_for(Duration::from_secs(30));
        let last_rx = p.last_advert(entered, crash) + p.delay_m + p.delay_b;
        let mdi = master_down_interval(p.version, p.backup_prio, p.interval_real(), 3);
        assert_eq!(
            Pair::backup_took_over(&sim, crash),
            last_rx + mdi,
            "seed {seed}"
        );
        // The backup knows when it last heard the master: the takeover's start.
        let heard = sim.node(1).unwrap().instances()[0].master_heard_at();
        assert_eq!(heard, Some(last_rx), "seed {seed}");
    }
}

/// RFC 5798 §6.4.2: on priority 0 "Set the Master_Down_Timer to Skew_Time"; fast handover
/// uses (256 − prio) × 20 ms / 256 instead.
#[test]
fn graceful_shutdown_takeover_is_skew_time_or_the_fast_delay() {
    let mut rng = Rng::new(2);
    for seed in 0..SEEDS {
        let fast = rng.chance(0.5);
        let p = Pair::random(&mut rng, fast);
        let (mut sim, _) = p.settled();
        let stop = sim.now() + Duration::from_micros(rng.range(1, 5_000_000));
        sim.run_until(stop);
        sim.shutdown(0);
        sim.run_for(Duration::from_secs(10));
        let wait = if fast {
            fast_takeover_delay(p.backup_prio)
        } else {
            skew_time(p.version, p.backup_prio, p.interval_real())
        };
        let expected = stop + p.delay_m + p.delay_b + wait;
        assert_eq!(
            Pair::backup_took_over(&sim, stop),
            expected,
            "seed {seed} fast {fast}"
        );
    }
}

/// A tracker puts the master in FAULT (file value ≤ −254): it sends priority 0, and the
/// backup takes over after Skew_Time, or within 20 ms under fast handover.
#[test]
fn master_fault_takeover_follows_the_priority_zero_advert() {
    let mut rng = Rng::new(3);
    for seed in 0..SEEDS {
        let fast = rng.chance(0.5);
        let p = Pair::random(&mut rng, fast);
        let (mut sim, _) = p.settled();
        let t = sim.now() + Duration::from_micros(rng.range(1, 5_000_000));
        sim.run_until(t);
        sim.set_file(0, "prio", -300);
        sim.run_for(Duration::from_secs(10));
        let wait = if fast {
            fast_takeover_delay(p.backup_prio)
        } else {
            skew_time(p.version, p.backup_prio, p.interval_real())
        };
        let took = Pair::backup_took_over(&sim, t);
        assert_eq!(took, t + p.delay_m + p.delay_b + wait, "seed {seed}");
        if fast {
            assert!(took.saturating_duration_since(t) < Duration::from_millis(27));
        }
    }
}

/// Fast handover: a master whose priority drops below a backup's advertises at once and the
/// backup takes over after the short delay; without it (keepalived) the backup discards the
/// lower adverts and takes over Master_Down_Interval after the last one it accepted.
#[test]
fn priority_drop_takeover_is_immediate_only_with_fast_handover() {
    let mut rng = Rng::new(4);
    for seed in 0..SEEDS {
        let fast = rng.chance(0.5);
        let p = Pair::random(&mut rng, fast);
        let (mut sim, entered) = p.settled();
        let t = sim.now() + Duration::from_micros(rng.range(1, 5_000_000));
        sim.run_until(t);
        // Below the backup, still above 0.
        let drop = -(i64::from(p.master_prio) - i64::from(p.backup_prio)) - 1;
        sim.set_file(0, "prio", drop);
        sim.run_for(Duration::from_secs(30));
        let took = Pair::backup_took_over(&sim, t);
        let expected = if fast {
            t + p.delay_m + p.delay_b + fast_takeover_delay(p.backup_prio)
        } else {
            // The last advert sent before the drop still carries the old priority, even if
            // it arrives after it.
            let last_rx = p.last_advert(entered, t) + p.delay_m + p.delay_b;
            last_rx + master_down_interval(p.version, p.backup_prio, p.interval_real(), 3)
        };
        assert_eq!(took, expected, "seed {seed} fast {fast}");
        assert_eq!(sim.masters("VI_1"), vec![1]);
    }
}

/// RFC 5798 §6.4.3: two masters with equal priority — "the primary IPvX Address of the
/// sender is greater than the local primary IPvX Address" → the lower one yields. Both start
/// together, both become MASTER after the same Master_Down_Interval, the higher stays.
#[test]
fn equal_priorities_started_together_leave_the_higher_address() {
    let mut rng = Rng::new(5);
    for seed in 0..50 {
        let fast = rng.chance(0.5);
        let p = Pair::random(&mut rng, fast);
        let mut sim = Sim::new(seed, false);
        let lan = sim.add_segment("lan");
        let n = rng.range(2, 4) as usize;
        for r in 0..n {
            let a: IpAddr = format!("10.0.0.{}", 10 - r).parse().unwrap();
            sim.add_router(&format!("r{r}"), p.config(150), &[(lan, "eth0", a)]);
            sim.set_delay(r, lan, Duration::from_micros(rng.range(0, 2_000)));
        }
        sim.start_all();
        sim.run_for(Duration::from_secs(30));
        assert_eq!(
            sim.masters("VI_1"),
            vec![0],
            "seed {seed}: 10.0.0.10 is the highest address"
        );
    }
}

/// keepalived sync group: "a fault in one → all FAULT"; with fast handover the backup
/// router takes every member over within the short delay of the priority-0 adverts.
#[test]
fn sync_group_fault_moves_every_member_to_the_backup_router() {
    let group_config = |prio: u8| {
        let mut cfg = Config::build(|_| {});
        for vrid in [1u8, 2] {
            let mut i = VrrpInstance::new(&format!("VI_{vrid}"), vrid, Family::Ipv4);
            i.interface = Some("eth0".to_string());
            i.priority = prio;
            i.vips = vec![VirtualAddress::new(
                format!("10.0.1.{vrid}").parse().unwrap(),
            )];
            cfg.instances.push(i);
        }
        cfg.track_files.push(TrackFile {
            name: "svc".to_string(),
            span: Span::default(),
            path: "/run/svc".into(),
            weight: 0,
            reverse: false,
            init_file: None,
        });
        cfg.sync_groups.push(baton_conf::SyncGroup {
            name: "G".to_string(),
            span: Span::default(),
            members: vec!["VI_1".to_string(), "VI_2".to_string()],
            tracking: baton_conf::Tracking {
                files: vec![TrackRef {
                    name: "svc".to_string(),
                    weight: None,
                    reverse: false,
                    span: Span::default(),
                }],
                ..Default::default()
            },
            notify: Default::default(),
            tracking_weight: false,
        });
        cfg
    };
    let mut sim = Sim::new(9, true);
    let lan = sim.add_segment("lan");
    sim.add_router(
        "a",
        group_config(200),
        &[(lan, "eth0", "10.0.0.1".parse().unwrap())],
    );
    sim.add_router(
        "b",
        group_config(100),
        &[(lan, "eth0", "10.0.0.2".parse().unwrap())],
    );
    sim.set_delay(0, lan, Duration::from_micros(200));
    sim.set_delay(1, lan, Duration::from_micros(200));
    sim.start_all();
    sim.run_for(Duration::from_secs(10));
    assert_eq!(
        (sim.masters("VI_1"), sim.masters("VI_2")),
        (vec![0], vec![0])
    );
    let t = sim.now();
    sim.set_file(0, "svc", 1);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        (sim.masters("VI_1"), sim.masters("VI_2")),
        (vec![1], vec![1]),
        "{}",
        sim.trace()
    );
    for c in sim
        .changes()
        .iter()
        .filter(|c| c.router == 1 && c.to == State::Master)
    {
        assert_eq!(
            c.at,
            t + Duration::from_micros(400) + fast_takeover_delay(100)
        );
    }
    let a = sim.node(0).unwrap();
    assert!(a.instances().iter().all(|i| i.state() == State::Fault));
}
