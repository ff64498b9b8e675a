//! Failover on the wire: crash (SIGKILL), graceful stop (SIGTERM) and service death (nginx
//! killed) on the master, timed from the switch's capture the same way for both daemons.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use baton_lab::{ms, wait_for, wait_until};

use crate::conf::Advert;
use crate::daemon::Kind;
use crate::http::{self, HttpProbe};
use crate::report::{Report, Row, target};
use crate::stats::{Sample, human};
use crate::topo::{Pair, SeedLab, Tracking, tail};
use crate::wire::{Wire, between};
use crate::{LB1, LB2, VIP, progress};

/// The backup's priority, which sets Skew_Time.
const BACKUP_PRIORITY: u8 = 100;
/// baton's fast-handover delay for the backup (`(256 − 100) × 20 ms / 256`): how long it
/// waits after a priority-0 advert, and so its design bound for a graceful stop and a
/// service death.
const FAST_TAKEOVER: Duration = Duration::from_nanos(156 * 78_125);
/// "Within 2 ms of the RFC bound".
const SLACK: Duration = Duration::from_millis(2);
/// "Service-death failover under 50 ms".
const SERVICE_DEATH_TARGET: Duration = Duration::from_millis(50);

/// What a case measured over its runs.
#[derive(Debug, Default)]
pub struct Timings {
    /// Reference → the new master's first advert.
    pub to_advert: Sample,
    /// Reference → the new master's first gratuitous ARP for the VIP (the VIP is up).
    pub to_garp: Sample,
    /// Kill → the first HTTP answer from lb2 through the VIP (service death only).
    pub to_http: Sample,
    /// Kill → the old master's priority-0 advert (service death only): how long the master
    /// took to notice and step down.
    pub to_zero: Sample,
    /// Runs that failed, and why.
    pub errors: Vec<String>,
}

impl Timings {
    fn cell(&self, s: &Sample) -> String {
        let mut text = s.describe();
        if !self.errors.is_empty() {
            text.push_str(&format!(" ({} failed runs)", self.errors.len()));
        }
        text
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Crash,
    Graceful,
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn vip4() -> Ipv4Addr {
    VIP.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// Crash and graceful stop of the master, both timings, both daemons.
pub fn takeovers(seed: &SeedLab, runs: usize, report: &mut Report) -> Result<()> {
    for advert in [Advert::V2OneSecond, Advert::V3Fast] {
        let mut results = Vec::new();
        for kind in Kind::BOTH {
            let mut crash = Timings::default();
            let mut graceful = Timings::default();
            let mut pair = seed.start_pair(kind, advert, Tracking::None)?;
            for (stop, timings) in [(Stop::Crash, &mut crash), (Stop::Graceful, &mut graceful)] {
                for n in 1..=runs {
                    let label = format!("{} {stop:?} {kind:?} run {n}/{runs}", advert.label());
                    match takeover(seed, &mut pair, stop) {
                        Ok((a, g)) => {
                            progress(&format!("{label}: advert {} GARP {}", human(a), human(g)));
                            timings.to_advert.push(a);
                            timings.to_garp.push(g);
                        }
                        Err(e) => {
                            progress(&format!("{label}: FAILED: {e:#}"));
                            timings.errors.push(format!("{e:#}"));
                            pair = reset(seed, pair)?;
                        }
                    }
                }
            }
            seed.stop_pair(pair)?;
            results.push((kind, crash, graceful));
        }
        let [(_, bc, bg), (_, kc, kg)] =
            <[_; 2]>::try_from(results).map_err(|_| anyhow!("one result per daemon expected"))?;
        let mdi = advert.master_down(BACKUP_PRIORITY);
        let skew = advert.skew(BACKUP_PRIORITY);
        let crash_bound = format!("{} (3×{} + skew)", human(mdi), human(advert.interval()));
        for (what, b, k) in [
            ("new master's first advert", &bc.to_advert, &kc.to_advert),
            ("VIP up (its first GARP)", &bc.to_garp, &kc.to_garp),
        ] {
            report.rows.push(Row {
                section: "failover",
                measure: format!(
                    "crash (SIGKILL), {}: old master's last advert → {what}",
                    advert.label()
                ),
                bound: crash_bound.clone(),
                baton: bc.cell(b),
                keepalived: kc.cell(k),
                target: target(b.median().map(|m| m <= mdi + SLACK), "≤ bound + 2 ms"),
            });
        }
        for (what, b, k) in [
            ("new master's first advert", &bg.to_advert, &kg.to_advert),
            ("VIP up (its first GARP)", &bg.to_garp, &kg.to_garp),
        ] {
            report.rows.push(Row {
                section: "failover",
                measure: format!(
                    "graceful (SIGTERM), {}: priority-0 advert → {what}",
                    advert.label()
                ),
                bound: format!(
                    "{} (skew); baton's fast handover {}",
                    human(skew),
                    human(FAST_TAKEOVER)
                ),
                baton: bg.cell(b),
                keepalived: kg.cell(k),
                target: target(b.median().map(|m| m <= skew + SLACK), "≤ bound + 2 ms"),
            });
        }
        for (kind, t) in [
            (Kind::Baton, &bc),
            (Kind::Baton, &bg),
            (Kind::Keepalived, &kc),
            (Kind::Keepalived, &kg),
        ] {
            for e in &t.errors {
                report
                    .notes
                    .push(format!("{kind:?}, {}: a failed run: {e}", advert.label()));
            }
        }
    }
    Ok(())
}

/// Stop whatever is left of a pair and start it again, after a failed run.
fn reset(seed: &SeedLab, pair: Pair) -> Result<Pair> {
    let (kind, advert, tracking) = (pair.kind, pair.advert, pair.tracking);
    let _ = pair.master.stop();
    let _ = pair.backup.stop();
    for h in [&seed.lb1, &seed.lb2] {
        if h.pidof("nginx")?.is_empty() {
            seed.break_nginx(h, false)?;
            seed.start_nginx(h)?;
        }
    }
    seed.start_pair(kind, advert, tracking)
}

/// Wait until the capture holds an advert from lb1 sent after `since`, so the old master's
/// last advert before the stop is on record.
fn await_master_advert(cap: &baton_lab::Capture, advert: Advert, since: SystemTime) -> Result<()> {
    wait_until(
        "an advert from lb1 on the wire",
        advert.interval() * 2 + Duration::from_secs(2),
        ms(5),
        || -> Result<bool> {
            Ok(Wire::from_pcap(&cap.packets()?)
                .first_advert(addr(LB1), since)
                .is_some())
        },
    )?;
    Ok(())
}

/// One crash or graceful stop of lb1: (reference → lb2's first advert, reference → lb2's
/// first GARP), the reference being lb1's last advert for a crash and its priority-0 advert
/// for a graceful stop. lb1 is started again afterwards.
fn takeover(seed: &SeedLab, pair: &mut Pair, stop: Stop) -> Result<(Duration, Duration)> {
    seed.converge(pair)?;
    let cap = seed.lab.capture_segment("lan", "vrrp or arp")?;
    await_master_advert(&cap, pair.advert, SystemTime::now())?;
    let t = match stop {
        Stop::Crash => pair.master.crash()?,
        Stop::Graceful => pair.master.terminate()?,
    };
    let mac2 = seed.mac(&seed.lb2)?;
    let (wire, _) = wait_for(
        "lb2's first advert and GARP",
        pair.advert.master_down(BACKUP_PRIORITY) + Duration::from_secs(5),
        ms(5),
        || -> Result<Option<Wire>> {
            let w = Wire::from_pcap(&cap.packets()?);
            let done =
                w.first_advert(addr(LB2), t).is_some() && w.first_garp(mac2, vip4(), t).is_some();
            Ok(done.then_some(w))
        },
    )?;
    cap.stop()?;
    let first = wire
        .first_advert(addr(LB2), t)
        .context("lb2's first advert vanished")?;
    let garp = wire
        .first_garp(mac2, vip4(), t)
        .context("lb2's GARP vanished")?;
    let reference = match stop {
        Stop::Crash => wire
            .last_advert_before(addr(LB1), first.at)
            .context("no advert from lb1 before lb2 took over")?,
        Stop::Graceful => wire
            .first_zero(addr(LB1), t)
            .context("lb1 sent no priority-0 advert on SIGTERM")?,
    };
    let to_advert = between(reference.at, first.at).context("lb2 advertised before lb1 stopped")?;
    let to_garp = between(reference.at, garp.at).context("lb2's GARP came before lb1 stopped")?;
    seed.restart_master(pair)?;
    Ok((to_advert, to_garp))
}

/// What one service death measured, from the kill.
#[derive(Debug, Clone, Copy)]
struct ServiceDeath {
    to_advert: Duration,
    to_garp: Duration,
    to_http: Duration,
    to_zero: Option<Duration>,
}

/// One service death: every nginx process on lb1 SIGKILLed; (kill → lb2's first advert,
/// kill → lb2's first GARP, kill → first HTTP answer from lb2 through the VIP). nginx and, if
/// it stopped, lb1's daemon are started again afterwards.
fn service_death_run(seed: &SeedLab, pair: &mut Pair) -> Result<ServiceDeath> {
    seed.converge(pair)?;
    let vip = seed.vip_http();
    wait_until(
        "lb1 to answer through the VIP",
        Duration::from_secs(10),
        ms(10),
        || http::get_from(&seed.client, vip).map(|a| a.as_deref() == Some("lb1")),
    )?;
    let cap = seed.lab.capture_segment("lan", "vrrp or arp")?;
    await_master_advert(&cap, pair.advert, SystemTime::now())?;
    let probe = HttpProbe::start(&seed.client, vip, Duration::from_millis(1));
    let since = SystemTime::now();
    wait_until(
        "the HTTP probe to hear lb1",
        Duration::from_secs(5),
        ms(2),
        || probe.first_from("lb1", since).is_some(),
    )?;
    if pair.tracking == Tracking::SeedScript {
        seed.break_nginx(&seed.lb1, true)?;
    }
    let t = seed.kill_nginx(&seed.lb1)?;
    let mac2 = seed.mac(&seed.lb2)?;
    let bound = match pair.tracking {
        Tracking::SeedScript => Duration::from_secs(2) + pair.advert.skew(BACKUP_PRIORITY),
        Tracking::BestScript => Duration::from_secs(1) + pair.advert.skew(BACKUP_PRIORITY),
        _ => pair.advert.master_down(BACKUP_PRIORITY),
    };
    let (wire, _) = wait_for(
        "lb2 to take over and answer HTTP",
        bound + Duration::from_secs(5),
        ms(5),
        || -> Result<Option<Wire>> {
            let w = Wire::from_pcap(&cap.packets()?);
            let done = w.first_advert(addr(LB2), t).is_some()
                && w.first_garp(mac2, vip4(), t).is_some()
                && probe.first_from("lb2", t).is_some();
            Ok(done.then_some(w))
        },
    )
    .map_err(|e| {
        anyhow!(
            "{e}; lb1's log: {}",
            tail(&pair.master.log().unwrap_or_default())
        )
    })?;
    let answer = probe
        .first_from("lb2", t)
        .context("lb2's answer vanished")?;
    probe.stop()?;
    cap.stop()?;
    let first = wire
        .first_advert(addr(LB2), t)
        .context("lb2's advert vanished")?;
    let garp = wire
        .first_garp(mac2, vip4(), t)
        .context("lb2's GARP vanished")?;
    let result = ServiceDeath {
        to_advert: between(t, first.at).context("advert before the kill")?,
        to_garp: between(t, garp.at).context("GARP before the kill")?,
        to_http: between(t, answer.at).context("answer before the kill")?,
        to_zero: wire.first_zero(addr(LB1), t).and_then(|z| between(t, z.at)),
    };
    // Put lb1 back: nginx first (a tracker sees it and the instance leaves FAULT), then the
    // daemon if the seed's script stopped it.
    seed.break_nginx(&seed.lb1, false)?;
    seed.start_nginx(&seed.lb1)?;
    // The seed's script has sent keepalived SIGTERM, which takes it a moment to finish.
    if pair.tracking == Tracking::SeedScript || !pair.master.running()? {
        seed.restart_master(pair)?;
    }
    Ok(result)
}

/// nginx killed on the master, each daemon with its tracking.
pub fn service_deaths(seed: &SeedLab, runs: usize, report: &mut Report) -> Result<()> {
    let cases = [
        (Kind::Baton, Advert::V2OneSecond, Tracking::Process),
        (Kind::Keepalived, Advert::V2OneSecond, Tracking::SeedScript),
        (Kind::Baton, Advert::V3Fast, Tracking::Process),
        (Kind::Keepalived, Advert::V3Fast, Tracking::BestScript),
    ];
    let mut results = Vec::new();
    for (kind, advert, tracking) in cases {
        let mut timings = Timings::default();
        let mut pair = seed.start_pair(kind, advert, tracking)?;
        for n in 1..=runs {
            let label = format!(
                "{} service death {kind:?} {tracking:?} run {n}/{runs}",
                advert.label()
            );
            match service_death_run(seed, &mut pair) {
                Ok(r) => {
                    progress(&format!(
                        "{label}: lb1's priority 0 {} lb2's advert {} GARP {} HTTP {}",
                        r.to_zero.map_or("none".into(), human),
                        human(r.to_advert),
                        human(r.to_garp),
                        human(r.to_http)
                    ));
                    timings.to_advert.push(r.to_advert);
                    timings.to_garp.push(r.to_garp);
                    timings.to_http.push(r.to_http);
                    if let Some(z) = r.to_zero {
                        timings.to_zero.push(z);
                    }
                }
                Err(e) => {
                    progress(&format!("{label}: FAILED: {e:#}"));
                    timings.errors.push(format!("{e:#}"));
                    pair = reset(seed, pair)?;
                }
            }
        }
        seed.stop_pair(pair)?;
        for e in &timings.errors {
            report.notes.push(format!(
                "{kind:?}, {}, service death: a failed run: {e}",
                advert.label()
            ));
        }
        results.push(timings);
    }
    let [bv2, kv2, bv3, kv3] =
        <[_; 4]>::try_from(results).map_err(|_| anyhow!("four service-death cases expected"))?;
    let v2_seed = Duration::from_secs(2) + Advert::V2OneSecond.skew(BACKUP_PRIORITY);
    let v3_best = Duration::from_secs(1) + Advert::V3Fast.skew(BACKUP_PRIORITY);
    for (advert, b, k, k_setting, k_bound) in [
        (
            Advert::V2OneSecond,
            &bv2,
            &kv2,
            "keepalived: the seed's vrrp_script (2 s, restart nginx, else killall keepalived)",
            v2_seed,
        ),
        (
            Advert::V3Fast,
            &bv3,
            &kv3,
            "keepalived: vrrp_script `pgrep -x nginx` every 1 s, weight 0",
            v3_best,
        ),
    ] {
        for (what, bs, ks, judged) in [
            (
                "lb1's priority-0 advert (the master noticed)",
                &b.to_zero,
                &k.to_zero,
                false,
            ),
            (
                "VIP up on lb2 (its first GARP)",
                &b.to_garp,
                &k.to_garp,
                true,
            ),
            (
                "first HTTP answer from lb2 through the VIP",
                &b.to_http,
                &k.to_http,
                true,
            ),
        ] {
            report.rows.push(Row {
                section: "failover",
                measure: format!(
                    "service death (nginx SIGKILLed), {}: kill → {what} [baton: track_process; {k_setting}]",
                    advert.label()
                ),
                bound: format!(
                    "baton {} (fast handover); keepalived {} (script interval + skew)",
                    human(FAST_TAKEOVER),
                    human(k_bound)
                ),
                baton: b.cell(bs),
                keepalived: k.cell(ks),
                target: if judged {
                    target(bs.median().map(|m| m < SERVICE_DEATH_TARGET), "< 50 ms")
                } else {
                    String::new()
                },
            });
        }
    }
    keepalived_track_process(seed, report)
}

/// keepalived's own process tracker, tried in the lab as configured for baton: it listens on
/// the kernel's proc connector, which a network namespace refuses. Report what happens.
fn keepalived_track_process(seed: &SeedLab, report: &mut Report) -> Result<()> {
    let advert = Advert::V3Fast;
    let pair = seed.start_pair(Kind::Keepalived, advert, Tracking::Process)?;
    // Long enough for either node to settle: several Master_Down_Intervals.
    std::thread::sleep(advert.master_down(BACKUP_PRIORITY) * 4 + Duration::from_secs(1));
    let log = pair.master.log()?;
    let lb1_holds = seed.lb1.has_addr(VIP)?;
    let lb2_holds = seed.lb2.has_addr(VIP)?;
    seed.stop_pair(pair)?;
    let quote = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.split_once(": ").map_or(l, |(_, m)| m).trim().to_string())
    };
    let connector = quote("process event listen");
    let fault = quote("quorum not achieved");
    let outcome = if lb1_holds {
        "lb1 became MASTER: tracking ran".to_string()
    } else {
        format!(
            "not measurable: lb1 never became MASTER (VIP on lb2: {}); lb1 logged {}{}",
            if lb2_holds { "yes" } else { "no" },
            connector
                .map(|c| format!("\"{c}\""))
                .unwrap_or_else(|| "no proc-connector error".into()),
            fault.map(|f| format!(", \"{f}\"")).unwrap_or_default()
        )
    };
    progress(&format!(
        "keepalived track_process in a namespace: {outcome}"
    ));
    report.rows.push(Row {
        section: "failover",
        measure: format!(
            "service death, {}: keepalived's own vrrp_track_process (proc connector) in a network namespace",
            advert.label()
        ),
        bound: "–".into(),
        baton: "track_process works (rows above)".into(),
        keepalived: outcome,
        target: String::new(),
    });
    Ok(())
}
