//! Random LAN scenarios for the simulator: routers on one segment running a few VRIDs, with
//! a seeded schedule of faults, then quiet.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use baton_conf::{Config, Span, TrackFile, TrackRef, VirtualAddress, VrrpInstance};
use baton_vrrp::Instant;
use baton_vrrp::sim::{Rng, Sim};
use baton_vrrp::timers::{advert_interval_field, master_down_interval};
use baton_wire::{Family, Version};

/// One VRID's settings, shared by every router.
#[derive(Debug, Clone)]
pub struct Vrid {
    pub vrid: u8,
    pub version: Version,
    pub interval: Duration,
    pub down_timer_adverts: u8,
    pub nopreempt: bool,
    /// Base priority per router.
    pub priorities: Vec<u8>,
    pub preempt_delay: Vec<Duration>,
}

#[derive(Debug, Clone)]
pub enum Fault {
    Crash(usize),
    Restart(usize),
    Shutdown(usize),
    Partition(Vec<u8>),
    Heal,
    Loss(f64),
    Delay(usize, Duration),
    /// Router, VRID, file value added to the base priority.
    Priority(usize, u8, i64),
    Link(usize, bool),
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub family: Family,
    pub routers: usize,
    pub strict: bool,
    pub fast: bool,
    /// Adverts to each peer instead of the group, optionally only accepted from peers.
    pub unicast: bool,
    pub check_unicast_src: bool,
    pub vrids: Vec<Vrid>,
    pub faults: Vec<(Instant, Fault)>,
    pub faults_end: Instant,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: {} routers, {}, strict {}, fast_handover {}, unicast {} check_unicast_src {}",
            self.seed,
            self.routers,
            self.family,
            self.strict,
            self.fast,
            self.unicast,
            self.check_unicast_src
        )?;
        for v in &self.vrids {
            writeln!(
                f,
                "  VRID {} {} interval {:?} down_timer_adverts {} nopreempt {} priorities {:?} preempt_delay {:?}",
                v.vrid,
                v.version,
                v.interval,
                v.down_timer_adverts,
                v.nopreempt,
                v.priorities,
                v.preempt_delay
            )?;
        }
        for (t, fault) in &self.faults {
            writeln!(f, "  {t}: {fault:?}")?;
        }
        write!(f, "  faults end at {}", self.faults_end)
    }
}

pub fn addr(family: Family, router: usize) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::from([10, 0, 0, router as u8 + 1]),
        Family::Ipv6 => IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, router as u16 + 1]),
    }
}

fn vip(family: Family, vrid: u8) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::from([10, 0, 1, vrid]),
        Family::Ipv6 => IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, u16::from(vrid)]),
    }
}

pub fn file_name(vrid: u8) -> String {
    format!("prio_{vrid}")
}

impl Scenario {
    pub fn generate(seed: u64) -> Scenario {
        let mut rng = Rng::new(seed);
        let family = if rng.chance(0.2) {
            Family::Ipv6
        } else {
            Family::Ipv4
        };
        let routers = rng.range(2, 4) as usize;
        let strict = rng.chance(0.15);
        let fast = !strict && rng.chance(0.7);
        let unicast = !strict && rng.chance(0.25);
        let check_unicast_src = unicast && rng.chance(0.5);
        let nvrids = rng.range(1, 3) as u8;
        let mut vrids = Vec::new();
        for k in 0..nvrids {
            let version = if family == Family::Ipv6 || rng.chance(0.5) {
                Version::V3
            } else {
                Version::V2
            };
            let interval = match version {
                Version::V2 => Duration::from_secs(1),
                Version::V3 => Duration::from_millis(rng.range(5, 30) * 10),
            };
            let down_timer_adverts = if strict || rng.chance(0.7) {
                3
            } else {
                rng.range(2, 5) as u8
            };
            let nopreempt = rng.chance(0.15);
            let mut priorities = Vec::new();
            for _ in 0..routers {
                // Ties happen on purpose.
                let p = if rng.chance(0.25) {
                    100
                } else {
                    rng.range(1, 254) as u8
                };
                priorities.push(p);
            }
            if !nopreempt && rng.chance(0.1) {
                let owner = rng.range(0, routers as u64 - 1) as usize;
                priorities[owner] = 255;
            }
            let preempt_delay = (0..routers)
                .map(|_| {
                    if !strict && !nopreempt && rng.chance(0.15) {
                        Duration::from_millis(rng.range(0, 20) * 100)
                    } else {
                        Duration::ZERO
                    }
                })
                .collect();
            vrids.push(Vrid {
                vrid: 10 + k,
                version,
                interval,
                down_timer_adverts,
                nopreempt,
                priorities,
                preempt_delay,
            });
        }
        let faults_end = Instant::ZERO + Duration::from_millis(rng.range(3_000, 15_000));
        let mut faults = Vec::new();
        let n = rng.range(0, 12);
        let mut crashed = vec![false; routers];
        let mut t = Instant::ZERO;
        for _ in 0..n {
            t = t + Duration::from_millis(rng.range(50, 2_000));
            if t >= faults_end {
                break;
            }
            let r = rng.range(0, routers as u64 - 1) as usize;
            let fault = match rng.range(0, 8) {
                0 if !crashed[r] => {
                    crashed[r] = true;
                    Fault::Crash(r)
                }
                1 if !crashed[r] => {
                    crashed[r] = true;
                    Fault::Shutdown(r)
                }
                0 | 1 => {
                    crashed[r] = false;
                    Fault::Restart(r)
                }
                2 => Fault::Partition((0..routers).map(|_| rng.range(0, 1) as u8).collect()),
                3 => Fault::Heal,
                4 => Fault::Loss(rng.range(10, 60) as f64 / 100.0),
                5 => Fault::Delay(r, Duration::from_micros(rng.range(0, 5_000))),
                6 => Fault::Link(r, rng.chance(0.5)),
                _ => {
                    let v = vrids[rng.range(0, vrids.len() as u64 - 1) as usize].vrid;
                    Fault::Priority(r, v, rng.range(0, 150) as i64 - 100)
                }
            };
            faults.push((t, fault));
        }
        Scenario {
            seed,
            family,
            routers,
            strict,
            fast,
            unicast,
            check_unicast_src,
            vrids,
            faults,
            faults_end,
        }
    }

    pub fn config(&self, router: usize) -> Config {
        let mut cfg = Config::build(|_| {});
        for v in &self.vrids {
            let mut i = VrrpInstance::new(&format!("VI_{}", v.vrid), v.vrid, self.family);
            i.interface = Some("eth0".to_string());
            i.version = v.version;
            i.advert_int = v.interval;
            i.priority = v.priorities[router];
            if i.priority == 255 {
                i.state = baton_conf::InitialState::Master;
            }
            i.down_timer_adverts = v.down_timer_adverts;
            i.nopreempt = v.nopreempt;
            i.preempt_delay = v.preempt_delay[router];
            if i.is_owner() {
                // As baton-conf loads an owner: it always preempts, at once.
                i.nopreempt = false;
                i.preempt_delay = Duration::ZERO;
            }
            i.fast_handover = self.fast;
            if self.strict {
                i = super::strict(i);
            }
            i.vips = vec![VirtualAddress::new(vip(self.family, v.vrid))];
            if self.unicast {
                i.unicast_peers = (0..self.routers)
                    .filter(|r| *r != router)
                    .map(|r| baton_conf::UnicastPeer {
                        addr: addr(self.family, r),
                        min_ttl: None,
                        max_ttl: None,
                    })
                    .collect();
                i.check_unicast_src = self.check_unicast_src;
            }
            std::sync::Arc::make_mut(&mut i.tracking).files = vec![TrackRef {
                name: file_name(v.vrid),
                weight: None,
                reverse: false,
                span: Span::default(),
            }];
            cfg.instances.push(i);
            cfg.track_files.push(TrackFile {
                name: file_name(v.vrid),
                span: Span::default(),
                path: format!("/run/prio_{}", v.vrid).into(),
                weight: 1,
                reverse: false,
                init_file: None,
            });
        }
        cfg
    }

    pub fn build(&self, trace: bool) -> Sim {
        let mut sim = Sim::new(self.seed, trace);
        let lan = sim.add_segment("lan");
        for r in 0..self.routers {
            sim.add_router(
                &format!("r{}", r + 1),
                self.config(r),
                &[(lan, "eth0", addr(self.family, r))],
            );
        }
        sim
    }

    /// Apply the fault schedule, then heal everything at `faults_end`.
    pub fn run_faults(&self, sim: &mut Sim) {
        sim.start_all();
        for (t, fault) in &self.faults {
            sim.run_until(*t);
            match fault {
                Fault::Crash(r) => sim.crash(*r),
                Fault::Restart(r) => {
                    if !sim.is_up(*r) {
                        sim.start(*r)
                    }
                }
                Fault::Shutdown(r) => sim.shutdown(*r),
                Fault::Partition(sides) => sim.partition(0, sides),
                Fault::Heal => sim.heal(0),
                Fault::Loss(p) => sim.set_loss(0, *p),
                Fault::Delay(r, d) => sim.set_delay(*r, 0, *d),
                Fault::Priority(r, v, value) => sim.set_file(*r, &file_name(*v), *value),
                Fault::Link(r, up) => sim.set_link(*r, 0, *up),
            }
        }
        sim.run_until(self.faults_end);
        sim.heal(0);
        for r in 0..self.routers {
            if !sim.is_up(r) {
                sim.start(r);
            }
            sim.set_link(r, 0, true);
        }
    }

    /// How long a VRID may need to have exactly one master once faults stop: the longest
    /// Master_Down_Interval plus the longest preempt_delay (a router that restarts waits
    /// both), plus one interval for two masters to hear each other, plus the wire.
    pub fn single_master_bound(&self, v: &Vrid) -> Duration {
        let (_, interval) = advert_interval_field(v.version, v.interval);
        self.slowest(v) + interval + Duration::from_millis(11)
    }

    /// How long until the best router is master: a lower router may only become master at
    /// the end of the bound above, and a preempting router then waits out its preempt_delay
    /// window and its own Master_Down_Interval (keepalived discards lower adverts only once
    /// the window has closed).
    pub fn best_master_bound(&self, v: &Vrid) -> Duration {
        self.single_master_bound(v) + self.slowest(v)
    }

    fn slowest(&self, v: &Vrid) -> Duration {
        let (_, interval) = advert_interval_field(v.version, v.interval);
        (0..self.routers)
            .map(|r| {
                master_down_interval(v.version, 1, interval, v.down_timer_adverts)
                    + v.preempt_delay[r]
            })
            .max()
            .unwrap_or_default()
    }
}
