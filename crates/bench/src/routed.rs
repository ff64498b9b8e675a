//! Routed VIPs through BGP: the lab of baton's `routed` test (`baton_lab::routed`: two load
//! balancers in different subnets, each announcing routing table 100 through FRR or BIRD 2
//! to an upstream FRR router, a client behind it). Every time is read off netlink
//! notifications stamped in the load balancer's and the router's namespaces, from the kill
//! (or the link going down):
//!
//! * service death (nginx SIGKILLed on the master of a primary/backup pair): → the route
//!   gone from the master's kernel (the daemon's part), → withdrawn at the router, → the
//!   client's first HTTP answer from the survivor; FRR with BFD off and on, and BIRD; baton
//!   and keepalived (same `virtual_routes`) one after the other in the same lab;
//! * a load balancer cut off whole (its uplink down), anycast: → withdrawn at the router,
//!   with FRR's BFD (100 ms × 3) and without it (the BGP hold time, 3 s, decides).

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

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
    errors: Vec<String>,
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
/// left converged on lb1.
fn death_run(t: &mut Routed) -> Result<(Duration, Duration, Duration)> {
    converge(t)?;
    let lb_watch = RouteWatch::start(&t.lbs[0])?;
    let r_watch = RouteWatch::start(&t.r)?;
    std::thread::sleep(ms(50));
    let nginx = t.nginx[0].as_ref().context("lb1 runs no nginx")?;
    let t0 = Instant::now();
    nginx.kill()?;
    let mut answer = None;
    wait_until("an answer from lb2", secs(10), ms(1), || {
        let ok = t.get().is_ok_and(|b| b == "lb2");
        if ok {
            answer = Some(t0.elapsed());
        }
        Ok::<bool, std::convert::Infallible>(ok)
    })?;
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
    let router = r_watch
        .withdrawn_after(t0, V4, MAIN, Some(IpAddr::V4(LB[0])))
        .with_context(|| format!("no withdrawal at the router: {:?}", r_watch.events()))?
        - t0;
    let answer = answer.context("the answer vanished")?;
    t.start_nginx(0)?;
    converge(t)?;
    Ok((daemon, router, answer))
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
    converge(t).map_err(|e| {
        anyhow!(
            "{e:#}; lb1's log: {}",
            tail(&daemons[0].log().unwrap_or_default())
        )
    })?;
    for n in 1..=runs {
        let label = format!("routed {case} {kind:?} run {n}/{runs}");
        match death_run(t) {
            Ok((daemon, router, answer)) => {
                progress(&format!(
                    "{label}: route gone from lb1 {} withdrawn at the router {} answer from lb2 {}",
                    human(daemon),
                    human(router),
                    human(answer)
                ));
                d.daemon.push(daemon);
                d.router.push(router);
                d.answer.push(answer);
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
    report.rows.push(Row {
        section: "routed",
        measure: format!("{what}: kill → route gone from the master's kernel (the daemon's part)"),
        bound: "keepalived: the script interval, 1 s".into(),
        baton: b.cell(&b.daemon),
        keepalived: k.cell(&k.daemon),
        target: target(b.daemon.median().map(|m| m < DAEMON_TARGET), "< 5 ms"),
    });
    report.rows.push(Row {
        section: "routed",
        measure: format!("{what}: kill → route withdrawn at the router"),
        bound: "–".into(),
        baton: b.cell(&b.router),
        keepalived: k.cell(&k.router),
        target: target(b.router.median().map(|m| m < ROUTER_TARGET), "< 300 ms"),
    });
    report.rows.push(Row {
        section: "routed",
        measure: format!("{what}: kill → first HTTP answer from the survivor through the VIP"),
        bound: "–".into(),
        baton: b.cell(&b.answer),
        keepalived: k.cell(&k.answer),
        target: String::new(),
    });
    for (kind, d) in [(Kind::Baton, &b), (Kind::Keepalived, &k)] {
        for e in &d.errors {
            report
                .notes
                .push(format!("{kind:?}, routed {case}: a failed run: {e}"));
        }
    }
    Ok(())
}

/// lb2 cut off: its uplink down, in an anycast pair; (→ withdrawn at the router, → the route
/// gone from lb2's own kernel). The link comes back up afterwards and both next hops return.
fn cut_off_run(t: &Routed) -> Result<(Duration, Duration)> {
    // After a cut the BGP session comes back on FRR's connect-retry timer.
    t.wait_next_hops(&LB, secs(60))?;
    let r_watch = RouteWatch::start(&t.r)?;
    let lb_watch = RouteWatch::start(&t.lbs[1])?;
    std::thread::sleep(ms(50));
    let t0 = Instant::now();
    t.lbs[1].link_down("eth0")?;
    t.wait_next_hops(&[LB[0]], HOLD_TIME + secs(5))?;
    let router = r_watch
        .withdrawn_after(t0, V4, MAIN, Some(IpAddr::V4(LB[1])))
        .with_context(|| format!("no withdrawal at the router: {:?}", r_watch.events()))?
        - t0;
    wait_until("lb2 to remove its route", secs(5), ms(5), || {
        Ok::<bool, std::convert::Infallible>(
            lb_watch.withdrawn_after(t0, V4, TABLE, None).is_some(),
        )
    })?;
    let own = lb_watch
        .withdrawn_after(t0, V4, TABLE, None)
        .context("lb2's deletion vanished")?
        - t0;
    t.relink(1)?;
    Ok((router, own))
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
    let (mut router, mut own, mut errors) = (Sample::default(), Sample::default(), Vec::new());
    let word = if bfd { "BFD on" } else { "BFD off" };
    for n in 1..=runs {
        let label = format!("routed lb2 cut off, FRR, {word}, run {n}/{runs}");
        match cut_off_run(&t) {
            Ok((r, o)) => {
                progress(&format!(
                    "{label}: withdrawn at the router {} route gone from lb2 {}",
                    human(r),
                    human(o)
                ));
                router.push(r);
                own.push(o);
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
    report.rows.push(Row {
        section: "routed",
        measure: format!(
            "lb2 cut off, FRR, {word}: link down → route gone from lb2's own kernel (FAULT)"
        ),
        bound: "–".into(),
        baton: failed(own.describe()),
        keepalived: "not run (the daemon's own part on a link loss; not a row the issue asks for)"
            .into(),
        target: String::new(),
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
