//! Routed VIPs through BGP: the lab of baton's `routed` test (`baton_lab::routed`: two load
//! balancers in different subnets, each announcing routing table 100 through FRR or BIRD 2
//! to an upstream FRR router, a client behind it). Every time is read off netlink
//! notifications stamped in the load balancer's and the router's namespaces, from the kill
//! (or from just before `ip link set dev eth0 down` runs):
//!
//! * service death (nginx SIGKILLed on the master of a primary/backup pair): → the route
//!   gone from the master's kernel (the daemon's part), → withdrawn at the router, → the
//!   client's first HTTP answer from the survivor; FRR with BFD off and on, and BIRD; baton
//!   and keepalived (same `virtual_routes`) one after the other in the same lab;
//! * a load balancer cut off whole (its uplink down), anycast: → withdrawn at the router,
//!   with FRR's BFD (100 ms × 3) and without it (the BGP hold time, 3 s, decides).

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use baton_lab::routed::{LB, MAIN, RouteWatch, Routed, Setup, Speaker, TABLE, VIP, baton_conf};
use baton_lab::{ms, secs, wait_until};

use crate::daemon::{Daemon, Kind};
use crate::progress;
use crate::report::{Report, Row, target};
use crate::stats::{Sample, human};
use crate::topo::tail;

/// The targets.
const DAEMON_TARGET: Duration = Duration::from_millis(5);
const ROUTER_TARGET: Duration = Duration::from_millis(300);
/// FRR's BFD detection time as configured (`BFDD`: 100 ms × 3), and the allowance on it.
const BFD_DETECT: Duration = Duration::from_millis(300);
const BFD_SLACK: Duration = Duration::from_millis(100);
/// The BGP hold time both ends are configured with (`timers 1 3`).
const HOLD_TIME: Duration = Duration::from_secs(3);
const V4: IpAddr = IpAddr::V4(VIP);

/// One service death, from the kill.
#[derive(Debug, Default)]
struct Deaths {
    /// → the route gone from the master's kernel.
    daemon: Sample,
    /// → the route through the master gone from the router's kernel.
    router: Sample,
    /// → the client's first answer from the survivor.
    answer: Sample,
    /// baton only, from its log: → its process tracker reported nginx gone.
    tracker: Sample,
    /// baton only, from its log: → "Entering FAULT STATE", logged after the route delete's
    /// acknowledgement.
    fault: Sample,
    /// baton only: how long its threads waited for a CPU (runnable, not running) from the
    /// kill until the survivor answered.
    queued: Sample,
    errors: Vec<String>,
}

/// One death's figures, from the kill.
#[derive(Debug)]
struct Death {
    daemon: Duration,
    router: Duration,
    answer: Duration,
    tracker: Option<Duration>,
    fault: Option<Duration>,
    queued: Option<Duration>,
}

/// Time the threads of process `pid` have spent runnable but waiting for a CPU, summed
/// (the second field of each thread's /proc schedstat, in nanoseconds).
fn run_queue_wait(pid: u32) -> Option<Duration> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let text = std::fs::read_to_string(entry.ok()?.path().join("schedstat")).ok()?;
        total += text.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// 0..max, spread without a random-number crate: the clock's nanoseconds.
fn pseudo_random_ms(max: u64) -> u64 {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(n) % max.max(1)
}

/// A console log line's timestamp (tracing's `2026-12-05T11:04:46.123456Z`, UTC).
fn log_time(line: &str) -> Option<SystemTime> {
    let stamp = line.split_whitespace().next()?;
    let (date, time) = stamp.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(str::parse::<i64>);
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(str::parse::<u64>);
    let (h, mi, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    // Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let nanos: u32 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + s;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// When the first line after `since` containing `needle` was logged, from `since`.
fn logged_after(log: &str, since: SystemTime, needle: &str) -> Option<Duration> {
    log.lines()
        .filter(|l| l.contains(needle))
        .filter_map(log_time)
        .find_map(|at| at.duration_since(since).ok())
}

impl Deaths {
    fn cell(&self, s: &Sample) -> String {
        let mut text = s.describe();
        if !self.errors.is_empty() {
            text.push_str(&format!(" ({} failed runs)", self.errors.len()));
        }
        text
    }
}

/// keepalived 2.2.7's version of the test's primary/backup configuration: the same instance
/// and `virtual_routes`; nginx watched by `pgrep` every second (its own track_process needs
/// the proc connector, which a network namespace refuses); and one address in place of
/// baton's `no_virtual_ipaddress`, which 2.2.7 does not know (it wants at least one VIP):
/// 192.0.2.1 on `lo`, outside the prefixes the speakers announce.
fn keepalived_conf(i: usize) -> String {
    baton_conf(i, false, &[V4])
        .replace(
            "    router_id lb",
            "    enable_script_security\n    script_user root\n    router_id lb",
        )
        .replace(
            "vrrp_track_process chk_nginx {\n    process nginx\n}",
            "vrrp_script chk_nginx {\n    script \"/usr/bin/pgrep -x nginx\"\n    interval 1\n    weight 0\n}",
        )
        .replace("    track_process {", "    track_script {")
        .replace(
            "    no_virtual_ipaddress\n",
            "    virtual_ipaddress {\n        192.0.2.1/32 dev lo\n    }\n",
        )
}

/// The router's route points at lb1 and the client is answered by it.
fn converge(t: &Routed) -> Result<()> {
    t.wait_next_hops(&[LB[0]], secs(30))?;
    wait_until("the client answered by lb1", secs(10), ms(10), || {
        Ok::<bool, std::convert::Infallible>(t.get().is_ok_and(|b| b == "lb1"))
    })?;
    Ok(())
}

/// Kill lb1's nginx and time the takeover; nginx is started again afterwards and the pair
/// left converged on lb1. `log` reads lb1's daemon's log (baton's splits its part).
fn death_run(t: &mut Routed, log: impl Fn() -> String, pid: Option<u32>) -> Result<Death> {
    converge(t)?;
    let lb_watch = RouteWatch::start(&t.lbs[0])?;
    let r_watch = RouteWatch::start(&t.r)?;
    // At a random point of keepalived's 1 s script cycle (the same wait for baton, which
    // has no cycle).
    std::thread::sleep(ms(50 + pseudo_random_ms(1000)));
    let nginx = t.nginx[0].as_ref().context("lb1 runs no nginx")?;
    let queued0 = pid.and_then(run_queue_wait);
    let wall0 = SystemTime::now();
    let t0 = Instant::now();
    nginx.kill()?;
    // Reaped at once: `pgrep`, keepalived's check, counts a zombie as running.
    nginx.wait_timeout(secs(5))?;
    let mut answer = None;
    wait_until("an answer from lb2", secs(10), ms(1), || {
        let ok = t.get().is_ok_and(|b| b == "lb2");
        if ok {
            answer = Some(t0.elapsed());
        }
        Ok::<bool, std::convert::Infallible>(ok)
    })?;
    let queued = match (queued0, pid.and_then(run_queue_wait)) {
        (Some(a), Some(b)) => b.checked_sub(a),
        _ => None,
    };
    t.wait_next_hops(&[LB[1]], secs(10))?;
    // The master's own deletion came long before; give the watcher a moment to file it.
    let daemon = wait_until("lb1's deletion on record", secs(2), ms(5), || {
        Ok::<bool, std::convert::Infallible>(
            lb_watch.withdrawn_after(t0, V4, TABLE, None).is_some(),
        )
    })
    .ok()
    .and(lb_watch.withdrawn_after(t0, V4, TABLE, None))
    .map(|w| w - t0)
    .with_context(|| format!("lb1 never removed its route: {:?}", lb_watch.events()))?;
    // The router's change that follows lb1's own deletion (nothing before it can be its
    // withdrawal).
    let router = r_watch
        .withdrawn_after(t0 + daemon, V4, MAIN, Some(IpAddr::V4(LB[0])))
        .with_context(|| format!("no withdrawal at the router: {:?}", r_watch.events()))?
        - t0;
    let answer = answer.context("the answer vanished")?;
    let text = log();
    let tracker = logged_after(&text, wall0, "Tracked process chk_nginx: 0 running");
    let fault = logged_after(&text, wall0, "Entering FAULT STATE");
    t.start_nginx(0)?;
    converge(t)?;
    Ok(Death {
        daemon,
        router,
        answer,
        tracker,
        fault,
        queued,
    })
}

/// `runs` service deaths with `kind` on both load balancers.
fn deaths(t: &mut Routed, kind: Kind, baton: &Path, case: &str, runs: usize) -> Result<Deaths> {
    let mut d = Deaths::default();
    let mut daemons = Vec::new();
    for i in 0..2 {
        let conf = match kind {
            Kind::Baton => baton_conf(i, false, &[V4]),
            Kind::Keepalived => keepalived_conf(i),
        };
        daemons.push(Daemon::start(kind, baton, &t.lbs[i], "routed", &conf)?);
    }
    let converged = || {
        converge(t).map_err(|e| {
            anyhow!(
                "{e:#}; lb1's log: {}",
                tail(&daemons[0].log().unwrap_or_default())
            )
        })
    };
    converged()?;
    // Past the start: both daemons settled (lb2 may be master for a moment before it hears
    // lb1), and the router's route with them.
    std::thread::sleep(secs(3));
    converged()?;
    for n in 1..=runs {
        let label = format!("routed {case} {kind:?} run {n}/{runs}");
        let pid = (kind == Kind::Baton).then(|| daemons[0].proc.pid());
        match death_run(t, || daemons[0].log().unwrap_or_default(), pid) {
            Ok(r) => {
                let split = match (kind, r.tracker, r.fault, r.queued) {
                    (Kind::Baton, Some(tr), Some(f), Some(q)) => {
                        d.tracker.push(tr);
                        d.fault.push(f);
                        d.queued.push(q);
                        format!(
                            " (logged: tracker {}, FAULT {}; waited for a CPU {})",
                            human(tr),
                            human(f),
                            human(q)
                        )
                    }
                    _ => String::new(),
                };
                progress(&format!(
                    "{label}: route gone from lb1 {}{split} withdrawn at the router {} \
                     answer from lb2 {}",
                    human(r.daemon),
                    human(r.router),
                    human(r.answer)
                ));
                d.daemon.push(r.daemon);
                d.router.push(r.router);
                d.answer.push(r.answer);
            }
            Err(e) => {
                let e = format!("{e:#}; lb1's log: {}", tail(&daemons[0].log()?));
                progress(&format!("{label}: FAILED: {e}"));
                d.errors.push(e);
                if t.nginx[0]
                    .as_ref()
                    .is_none_or(|p| !p.is_running().unwrap_or(false))
                {
                    t.start_nginx(0)?;
                }
            }
        }
    }
    for daemon in daemons.iter().rev() {
        daemon.stop()?;
    }
    for i in 0..2 {
        let left = t.baton_routes(i)?;
        if !left.is_empty() {
            d.errors.push(format!(
                "{kind:?} left a route on lb{} after stopping: {left}",
                i + 1
            ));
        }
    }
    Ok(d)
}

/// Both daemons' service deaths in one lab; rows for the three measures.
fn service_case(
    baton: &Path,
    speaker: Speaker,
    bfd: bool,
    runs: usize,
    report: &mut Report,
) -> Result<()> {
    let case = match (speaker, bfd) {
        (Speaker::Frr, false) => "FRR, BFD off",
        (Speaker::Frr, true) => "FRR, BFD on",
        (Speaker::Bird, _) => "BIRD",
    };
    let setup = Setup {
        speaker,
        bfd,
        ipv6: false,
    };
    let mut t = Routed::new("bench-routed", baton, setup)?;
    t.start_nginx(0)?;
    t.start_nginx(1)?;
    let b = deaths(&mut t, Kind::Baton, baton, case, runs)?;
    let k = deaths(&mut t, Kind::Keepalived, baton, case, runs)?;
    t.teardown()?;
    let what = format!(
        "service death (nginx SIGKILLed on the master), primary/backup, {case} [baton: \
         track_process; keepalived: vrrp_script `pgrep -x nginx` every 1 s]"
    );
    // (what is timed, bound, baton's and keepalived's samples, baton's target)
    let rows = [
        (
            "kill → route gone from the master's kernel (the daemon's part)",
            "keepalived: the script interval, 1 s",
            (&b.daemon, &k.daemon),
            target(b.daemon.median().map(|m| m < DAEMON_TARGET), "< 5 ms"),
        ),
        (
            "kill → route withdrawn at the router",
            "–",
            (&b.router, &k.router),
            target(b.router.median().map(|m| m < ROUTER_TARGET), "< 300 ms"),
        ),
        (
            "kill → first HTTP answer from the survivor through the VIP",
            "–",
            (&b.answer, &k.answer),
            String::new(),
        ),
    ];
    for (timed, bound, (bs, ks), target) in rows {
        report.rows.push(Row {
            section: "routed",
            measure: format!("{what}: {timed}"),
            bound: bound.into(),
            baton: b.cell(bs),
            keepalived: k.cell(ks),
            target,
        });
    }
    if !b.tracker.values.is_empty() {
        report.notes.push(format!(
            "routed {case}, baton's part split by its own log (wall-clock, µs): kill → \
             \"Tracked process chk_nginx: 0 running\" {}; kill → \"Entering FAULT STATE\" \
             (logged after the route delete's acknowledgement) {}; baton's threads runnable \
             but waiting for a CPU between the kill and the survivor's answer {}",
            b.tracker.describe(),
            b.fault.describe(),
            b.queued.describe()
        ));
    }
    for (kind, d) in [(Kind::Baton, &b), (Kind::Keepalived, &k)] {
        for e in &d.errors {
            report
                .notes
                .push(format!("{kind:?}, routed {case}: a failed run: {e}"));
        }
    }
    Ok(())
}

/// lb2 cut off: its uplink down, in an anycast pair; → withdrawn at the router, timed from
/// just before `ip link set dev eth0 down` runs (so it includes starting `ip`, a millisecond
/// or two). lb2's baton must take its own route away too (its instance faults); the link
/// comes back up afterwards and the next run waits for the session and both next hops.
fn cut_off_run(t: &Routed, lb2: &Daemon) -> Result<Duration> {
    // After a cut the BGP session comes back on FRR's connect-retry timer.
    t.wait_next_hops(&LB, secs(60))?;
    let r_watch = RouteWatch::start(&t.r)?;
    std::thread::sleep(ms(50));
    let t0 = Instant::now();
    t.lbs[1].link_down("eth0")?;
    t.wait_next_hops(&[LB[0]], HOLD_TIME + secs(5))?;
    let router = r_watch
        .withdrawn_after(t0, V4, MAIN, Some(IpAddr::V4(LB[1])))
        .with_context(|| format!("no withdrawal at the router: {:?}", r_watch.events()))?
        - t0;
    wait_until("lb2 to remove its route", secs(5), ms(5), || {
        t.baton_routes(1).map(|r| r.is_empty())
    })
    .with_context(|| {
        format!(
            "lb2 holds {:?}; its log: {}",
            t.baton_routes(1).unwrap_or_default(),
            tail(&lb2.log().unwrap_or_default())
        )
    })?;
    t.relink(1)?;
    Ok(router)
}

fn cut_off_case(baton: &Path, bfd: bool, runs: usize, report: &mut Report) -> Result<()> {
    let setup = Setup {
        speaker: Speaker::Frr,
        bfd,
        ipv6: false,
    };
    let mut t = Routed::new("bench-routed-cut", baton, setup)?;
    let mut daemons = Vec::new();
    for i in 0..2 {
        t.start_nginx(i)?;
        daemons.push(Daemon::start(
            Kind::Baton,
            baton,
            &t.lbs[i],
            "routed",
            &baton_conf(i, true, &[V4]),
        )?);
    }
    let (mut router, mut errors) = (Sample::default(), Vec::new());
    let word = if bfd { "BFD on" } else { "BFD off" };
    for n in 1..=runs {
        let label = format!("routed lb2 cut off, FRR, {word}, run {n}/{runs}");
        match cut_off_run(&t, &daemons[1]) {
            Ok(r) => {
                progress(&format!("{label}: withdrawn at the router {}", human(r)));
                router.push(r);
            }
            Err(e) => {
                progress(&format!("{label}: FAILED: {e:#}"));
                errors.push(format!("{e:#}"));
                let _ = t.relink(1);
            }
        }
    }
    for d in daemons.iter().rev() {
        d.stop()?;
    }
    t.teardown()?;
    let failed = |s: String| {
        if errors.is_empty() {
            s
        } else {
            format!("{s} ({} failed runs)", errors.len())
        }
    };
    let nobody = "– (no daemon takes part: the router's BFD or hold timer decides)";
    report.rows.push(Row {
        section: "routed",
        measure: format!(
            "a load balancer cut off whole (lb2's uplink down), anycast, FRR, {word}: \
             link down → route withdrawn at the router"
        ),
        bound: if bfd {
            format!("BFD detection {} (100 ms × 3)", human(BFD_DETECT))
        } else {
            format!("BGP hold time {}", human(HOLD_TIME))
        },
        baton: failed(router.describe()),
        keepalived: nobody.into(),
        target: if bfd {
            target(
                router.median().map(|m| m < BFD_DETECT + BFD_SLACK),
                "< BFD detection + 100 ms = 400 ms",
            )
        } else {
            "– (no target: bounded by the hold time)".into()
        },
    });
    for e in errors {
        report.notes.push(format!(
            "Baton, routed lb2 cut off ({word}): a failed run: {e}"
        ));
    }
    Ok(())
}

/// The routed section: service deaths (FRR with BFD off and on, BIRD), then the cut-off load
/// balancer (BFD on and off).
pub fn run(baton: &Path, runs: usize, report: &mut Report) -> Result<()> {
    baton_lab::require_tools(&["vtysh", "bird", "birdc"])?;
    for (speaker, bfd) in [
        (Speaker::Frr, false),
        (Speaker::Frr, true),
        (Speaker::Bird, false),
    ] {
        service_case(baton, speaker, bfd, runs, report)?;
    }
    for bfd in [true, false] {
        cut_off_case(baton, bfd, runs, report)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_stamps_are_read_as_utc() {
        let at = log_time("2026-12-05T11:04:46.123456Z  INFO Entering FAULT STATE").unwrap();
        let d = at.duration_since(UNIX_EPOCH).unwrap();
        // date -u -d 2026-12-05T11:04:46Z +%s
        assert_eq!(d.as_secs(), 1_796_468_686);
        assert_eq!(d.subsec_micros(), 123_456);
        assert_eq!(log_time("no stamp here"), None);
        let log = "2026-12-05T11:04:46.000100Z  INFO a\n2026-12-05T11:04:46.002600Z  INFO b\n";
        let since = log_time("2026-12-05T11:04:46.000000Z").unwrap();
        assert_eq!(
            logged_after(log, since, "b"),
            Some(Duration::from_micros(2600))
        );
        assert_eq!(logged_after(log, since, "c"), None);
    }

    #[test]
    fn keepalived_runs_the_same_routes() {
        let k = keepalived_conf(0);
        let b = baton_conf(0, false, &[V4]);
        let routes = |c: &str| c[c.find("    virtual_routes").unwrap()..].to_string();
        assert_eq!(routes(&k), routes(&b));
        assert!(k.contains("track_script") && !k.contains("track_process"));
        assert!(!k.contains("no_virtual_ipaddress") && k.contains("192.0.2.1/32 dev lo"));
    }
}
