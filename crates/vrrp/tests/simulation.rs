//! Property tests over seeded schedules in the simulator: once faults stop, exactly one
//! master per VRID within Master_Down_Interval (+ preempt_delay) plus one interval; the
//! highest effective priority wins where preemption allows (a preemption is the only change
//! allowed after that point, and only by a better router); nothing changes afterwards
//! without a cause. Equal priorities: a BACKUP accepts an equal-priority master (RFC 5798
//! §6.4.2), so any router with the top priority may be the one; the address decides only
//! between two masters (see tests/takeover.rs).
//!
//! `BATON_SIM_SEEDS=N` runs N seeds (default 10000); `BATON_SIM_SEED=S` replays one seed
//! with its full trace.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_vrrp::State;
use common::scenario::Scenario;

/// Check one seed; `Err` carries what went wrong.
fn check_seed(seed: u64, trace: bool) -> Result<(), String> {
    let sc = Scenario::generate(seed);
    let mut sim = sc.build(trace);
    sc.run_faults(&mut sim);
    let t_end = sc.faults_end;
    let single = sc
        .vrids
        .iter()
        .map(|v| sc.single_master_bound(v))
        .max()
        .unwrap_or_default();
    let best = sc
        .vrids
        .iter()
        .map(|v| sc.best_master_bound(v))
        .max()
        .unwrap_or_default();
    sim.run_until(t_end + single);
    if let Some(t) = sim.storm() {
        return Err(format!(
            "event storm at {t}: routers kept answering each other"
        ));
    }
    for v in &sc.vrids {
        let name = format!("VI_{}", v.vrid);
        let masters = sim.masters(&name);
        if masters.len() != 1 {
            return Err(format!(
                "{name}: {} masters {masters:?} at {} (faults ended {t_end}, bound {single:?})",
                masters.len(),
                sim.now()
            ));
        }
    }
    // Between the two bounds only a preemption by a better router may happen.
    let before = sim.changes().len();
    sim.run_until(t_end + best);
    for c in &sim.changes()[before..] {
        let v = sc.vrids.iter().find(|v| v.vrid == c.vrid).unwrap();
        let prio = |r: usize| {
            sim.node(r)
                .unwrap()
                .instance_by_name(&c.instance)
                .unwrap()
                .effective_priority()
        };
        if c.to == State::Master
            && (v.nopreempt
                || (0..sc.routers).any(|r| {
                    r != c.router
                        && sim.masters(&c.instance).contains(&r)
                        && prio(r) >= prio(c.router)
                }))
        {
            return Err(format!(
                "r{} ({}) took over at {} without a better priority",
                c.router + 1,
                c.instance,
                c.at
            ));
        }
    }
    for v in &sc.vrids {
        let name = format!("VI_{}", v.vrid);
        let masters = sim.masters(&name);
        if masters.len() != 1 {
            return Err(format!(
                "{name}: {} masters {masters:?} at {}",
                masters.len(),
                sim.now()
            ));
        }
        let prio = |r: usize| {
            sim.node(r)
                .unwrap()
                .instance_by_name(&name)
                .unwrap()
                .effective_priority()
        };
        let top = (0..sc.routers).map(prio).max().unwrap();
        if !v.nopreempt && prio(masters[0]) != top {
            return Err(format!(
                "{name}: master r{} has priority {} but the highest is {top} at {} (faults ended {t_end}, bound {best:?})",
                masters[0] + 1,
                prio(masters[0]),
                sim.now()
            ));
        }
    }
    let settled = sim.now();
    sim.run_for(best * 2);
    if let Some(c) = sim.changes().iter().find(|c| c.at > settled) {
        return Err(format!(
            "r{} ({}) {} -> {} at {} after settling at {settled}, with no fault",
            c.router + 1,
            c.instance,
            c.from,
            c.to,
            c.at
        ));
    }
    // The simulated network really carried adverts.
    if sim.delivered == 0 {
        return Err("no advert was delivered".to_string());
    }
    Ok(())
}

fn report(seed: u64, why: &str) -> String {
    let sc = Scenario::generate(seed);
    let mut sim = sc.build(true);
    sc.run_faults(&mut sim);
    let bound = sc
        .vrids
        .iter()
        .map(|v| sc.best_master_bound(v))
        .max()
        .unwrap_or_default();
    sim.run_until(sc.faults_end + bound * 3);
    let trace = sim.trace();
    let lines: Vec<&str> = trace.lines().collect();
    let tail = &lines[lines.len().saturating_sub(400)..];
    format!(
        "seed {seed} failed: {why}\n{sc}\n--- trace (last {} lines) ---\n{}\n--- replay: BATON_SIM_SEED={seed} cargo test -p baton-vrrp --test simulation -- --nocapture",
        tail.len(),
        tail.join("\n")
    )
}

#[test]
fn one_master_per_vrid_after_faults_stop_and_the_best_wins() {
    if let Some(seed) = std::env::var("BATON_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        if let Err(why) = check_seed(seed, true) {
            panic!("{}", report(seed, &why));
        }
        println!("{}", report(seed, "replayed, no failure"));
        return;
    }
    let seeds: u64 = std::env::var("BATON_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut failures = Vec::new();
    for seed in 0..seeds {
        if let Err(why) = check_seed(seed, false) {
            failures.push((seed, why));
        }
    }
    if let Some((seed, why)) = failures.first() {
        let others: Vec<u64> = failures.iter().map(|f| f.0).collect();
        panic!(
            "{} of {seeds} seeds failed: {others:?}\n{}",
            failures.len(),
            report(*seed, why)
        );
    }
    println!("{seeds} seeds passed");
}

/// The same seed replays the same run exactly.
#[test]
fn a_seed_replays_identically() {
    let sc = Scenario::generate(4242);
    let run = || {
        let mut sim = sc.build(true);
        sc.run_faults(&mut sim);
        sim.run_for(Duration::from_secs(10));
        (sim.changes().to_vec(), sim.trace(), sim.delivered)
    };
    let (a, b) = (run(), run());
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    assert!(a.0.iter().any(|c| c.to == State::Master));
}
