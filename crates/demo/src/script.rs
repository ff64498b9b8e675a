//! `baton demo --script`: the seed's story, unattended, each step timed and judged.
//!
//! 1. converge: lb1 (priority 200) becomes MASTER and holds the VIP, lb2 BACKUP;
//! 2. kill nginx on lb1: baton's process tracker drops lb1 to 52, lb2 (102) takes the VIP in
//!    milliseconds; timed to the VIP on lb2 and to the first answer from lb2;
//! 3. the post's check_nginx restarts nginx on lb1 at its next run; lb1 preempts back;
//! 4. SIGKILL lb1's baton: lb2 takes over after Master_Down_Interval;
//! 5. restart lb1's baton: it takes the VIP back;
//! 6. drop VRRP on lb2 with a firewall rule (the post's bug): both become MASTER, and lb1's
//!    baton logs the other master's adverts;
//! 7. remove the rule: one master again.
//!
//! Every limit below is the step's own timer (from the configuration) plus [`SLACK`] for a
//! busy machine; what keepalived would take is computed beside it from the same timers.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use super::client::{Served, Tally};
use super::live::{Live, last_lower_priority_line};
use super::timers::{Estimate, secs};

/// Room for scheduling on a loaded machine, beyond the protocol's own timers.
pub const SLACK: Duration = Duration::from_millis(500);
/// How often conditions are polled during a measurement.
const POLL: Duration = Duration::from_millis(5);
/// Longer than one run of the check script (two `ps` calls).
const CHECK_RUN: Duration = Duration::from_millis(250);
/// Quiet time after each step, so its trailing requests are counted with it.
const SETTLE: Duration = Duration::from_millis(500);

/// A step: acts on the system and fills in its result.
type Step = fn(&mut Live, &mut StepResult) -> Result<()>;

/// One step's outcome.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// A stable name for the row (`kill-nginx`).
    pub key: &'static str,
    pub title: String,
    /// What was expected, with its limit.
    pub expected: String,
    /// What happened, with times.
    pub outcome: String,
    /// The time the step is judged by.
    pub took: Option<Duration>,
    pub keepalived: Option<Estimate>,
    /// From the step's action to the next step's.
    pub start: Instant,
    /// Requests that started in the step's window (filled in at the end).
    pub requests: Tally,
    /// Why the step misbehaved, if it did.
    pub problem: Option<String>,
}

impl StepResult {
    fn new(key: &'static str, title: &str, start: Instant) -> StepResult {
        StepResult {
            key,
            title: title.to_string(),
            expected: String::new(),
            outcome: String::new(),
            took: None,
            keepalived: None,
            start,
            requests: Tally::default(),
            problem: None,
        }
    }

    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }

    fn fail(&mut self, why: String) {
        if self.problem.is_none() {
            self.problem = Some(why);
        }
    }
}

/// Run the sequence. Stops early (returning what was done) if a step leaves the system in
/// a state the next one cannot start from. Errors only when the demo is interrupted or the
/// lab itself fails.
pub fn run(live: &mut Live, rate: u32, timeout: Duration) -> Result<Vec<StepResult>> {
    let mut steps = Vec::new();
    let sequence: [(&'static str, &str, Step); 7] = [
        ("converge", "start baton on lb1 and lb2", converge),
        ("kill-nginx", "kill nginx on lb1", kill_nginx),
        (
            "nginx-back",
            "check_nginx restarts nginx on lb1",
            nginx_back,
        ),
        ("kill-baton", "SIGKILL lb1's baton", kill_baton),
        ("baton-back", "restart lb1's baton", baton_back),
        ("drop-vrrp", "firewall drops VRRP on lb2", drop_vrrp),
        ("restore", "lift the firewall rule", restore),
    ];
    for (n, (key, title, step)) in sequence.into_iter().enumerate() {
        let title = format!("{}/7 {title}", n + 1);
        live.mode = format!("scripted: {title}");
        let mut r = StepResult::new(key, &title[4..], Instant::now());
        step(live, &mut r)?;
        let verdict = match &r.problem {
            None => "ok".to_string(),
            Some(p) => format!("FAILED: {p}"),
        };
        live.note(format!("step {title}: {} — {verdict}", r.outcome));
        let stop = !r.ok() && key == "converge";
        steps.push(r);
        if key == "converge" && live.client.is_none() && !stop {
            live.start_client(rate, timeout)?;
            first_answer_from(live, steps.last_mut(), Served::Lb1)?;
        }
        if stop {
            break;
        }
        let _ = live.pause(SETTLE)?;
    }
    // Let the last requests finish, then count each step's.
    if let Some(c) = live.client.as_mut() {
        c.stop();
    }
    if let Some(c) = &live.client {
        let end = Instant::now();
        for i in 0..steps.len() {
            let until = steps.get(i + 1).map_or(end, |s| s.start);
            steps[i].requests = c.started_between(steps[i].start, until);
        }
    }
    Ok(steps)
}

/// After convergence the client must be answered by lb1 before anything is broken.
fn first_answer_from(live: &mut Live, step: Option<&mut StepResult>, lb: Served) -> Result<()> {
    let since = Instant::now();
    let got = live.wait_for(Duration::from_secs(3), POLL, |l| {
        l.client.as_ref().and_then(|c| c.first_served_by(lb, since))
    })?;
    if got.is_none()
        && let Some(s) = step
    {
        s.fail("the client got no answer through the VIP".into());
    }
    Ok(())
}

/// How long after `t` the VIP was added on `lb`, waiting at most `timeout`.
fn vip_on(live: &mut Live, lb: usize, t: Instant, timeout: Duration) -> Result<Option<Duration>> {
    Ok(live
        .wait_for(timeout, POLL, |l| l.vip.added_on(lb, t))?
        .map(|at| at - t))
}

/// How long after `t` the first answer from `lb` came, waiting at most `timeout`.
fn served_by(
    live: &mut Live,
    lb: Served,
    t: Instant,
    timeout: Duration,
) -> Result<Option<Duration>> {
    Ok(live
        .wait_for(timeout, POLL, |l| {
            l.client.as_ref().and_then(|c| c.first_served_by(lb, t))
        })?
        .map(|at| at - t))
}

/// Wait until `lb` alone is MASTER (by its daemon) and alone holds the VIP (by the kernel),
/// the other daemon (if running) BACKUP.
fn sole_master(live: &mut Live, lb: usize, timeout: Duration) -> Result<Option<Instant>> {
    live.wait_for(timeout, Duration::from_millis(20), |l| {
        l.poll_nodes();
        let other_ok = !l.sys.baton_running(1 - lb)
            || l.node(1 - lb).and_then(|n| n.state()) == Some("Backup");
        (l.sole_master() == Some(lb) && other_ok).then(Instant::now)
    })
}

fn converge(live: &mut Live, r: &mut StepResult) -> Result<()> {
    let t = live.timers.clone();
    let ka = t.keepalived_startup();
    let limit = t.mdi(t.base[0]) + SLACK;
    r.expected = format!("lb1 MASTER with the VIP, lb2 BACKUP, ≤ {}", secs(limit));
    r.keepalived = Some(ka);
    // Timed from lb1's daemon's start.
    let started = live.sys.lbs[0].baton_started.unwrap_or(live.started);
    match sole_master(live, 0, limit + Duration::from_secs(3))? {
        Some(at) => {
            let took = at - started;
            r.took = Some(took);
            r.outcome = format!("lb1 MASTER with the VIP after {}", secs(took));
            if took > limit {
                r.fail(format!("took longer than {}", secs(limit)));
            }
        }
        None => {
            r.outcome = "no single master".into();
            r.fail("lb1 never became the only master".into());
        }
    }
    Ok(())
}

fn kill_nginx(live: &mut Live, r: &mut StepResult) -> Result<()> {
    let t = live.timers.clone();
    // Kill just after a check_nginx run, so its next run (which restarts nginx) is a whole
    // interval away and cannot race the failover being shown.
    let before = live.sys.check_ran(0);
    let fresh = live.wait_for(t.script_interval + SLACK, POLL, |l| {
        let now = l.sys.check_ran(0);
        (now.is_some() && now != before).then_some(())
    })?;
    if fresh.is_none() {
        r.fail("check_nginx does not run on lb1".into());
    }
    // The script touches its mark first: let this run finish (it takes milliseconds) so it
    // does not find nginx gone and restart it at once.
    let _ = live.pause(CHECK_RUN)?;
    let lb2_prio = t.priority(1, true);
    let limit = t.fast(lb2_prio) + SLACK;
    r.expected = format!("VIP on lb2 ≤ {}", secs(limit));
    r.keepalived = Some(t.keepalived_nginx_kill());
    r.start = live.act("kill nginx on lb1 (SIGKILL)".into());
    let killed = live.sys.kill_proxy(0)?;
    if killed == 0 {
        r.fail("there was no nginx on lb1 to kill".into());
    }
    let vip = vip_on(live, 1, r.start, limit + Duration::from_secs(2))?;
    let served = served_by(live, Served::Lb2, r.start, limit + Duration::from_secs(2))?;
    describe_move(r, "lb2", vip, served, limit);
    // The tracker, not a timer, moved it: lb1 says nginx is gone.
    live.poll_nodes();
    let lb1 = live
        .node(0)
        .and_then(|n| n.instance.clone())
        .map(|i| (i.state, i.priority));
    let low = u64::from(t.priority(0, false));
    match lb1 {
        Some((state, prio)) if state == "Backup" && prio == low => {}
        other => r.fail(format!("lb1 is {other:?}, expected BACKUP at {low}")),
    }
    Ok(())
}

/// `VIP on lb2 after 13 ms, first answer from lb2 after 15 ms`, judged against `limit`.
fn describe_move(
    r: &mut StepResult,
    to: &str,
    vip: Option<Duration>,
    served: Option<Duration>,
    limit: Duration,
) {
    match vip {
        Some(v) => {
            r.took = Some(v);
            r.outcome = format!("VIP on {to} after {}", secs(v));
            if v > limit {
                r.fail(format!("the VIP took longer than {}", secs(limit)));
            }
        }
        None => {
            r.outcome = format!("the VIP never reached {to}");
            r.fail(r.outcome.clone());
        }
    }
    match served {
        Some(s) => r
            .outcome
            .push_str(&format!(", first answer from {to} after {}", secs(s))),
        None => {
            r.outcome.push_str(&format!(", no answer from {to}"));
            r.fail(format!("the client was never answered by {to}"));
        }
    }
}

fn nginx_back(live: &mut Live, r: &mut StepResult) -> Result<()> {
    let t = live.timers.clone();
    let run_limit = t.script_interval + SLACK;
    let preempt_limit = t.advert_int + t.fast(t.priority(0, true)) + SLACK;
    r.expected = format!(
        "nginx back ≤ {}, then VIP on lb1 ≤ {}",
        secs(run_limit),
        secs(preempt_limit)
    );
    r.keepalived = Some(t.keepalived_preempt());
    let since = live.sys.check_ran(0).unwrap_or(SystemTime::UNIX_EPOCH);
    let killed = live.last_action_at().unwrap_or(r.start);
    let back = live.wait_for(
        run_limit + Duration::from_secs(1),
        Duration::from_millis(10),
        |l| l.sys.proxy_running(0).then(Instant::now),
    )?;
    let back = match back {
        Some(at) => {
            let by_script = live.sys.check_ran(0).is_some_and(|m| m > since);
            live.note(format!(
                "nginx running again on lb1{}",
                if by_script {
                    ", restarted by check_nginx"
                } else {
                    ""
                }
            ));
            if !by_script {
                r.fail("nginx came back without check_nginx running".into());
            }
            at
        }
        None => {
            r.fail(format!(
                "check_nginx did not restart nginx within {}",
                secs(run_limit)
            ));
            live.act("restart nginx on lb1 by hand".into());
            live.sys.start_proxy(0)?;
            Instant::now()
        }
    };
    let vip = vip_on(live, 0, back, preempt_limit + Duration::from_secs(3))?;
    let served = served_by(
        live,
        Served::Lb1,
        back,
        preempt_limit + Duration::from_secs(3),
    )?;
    describe_move(r, "lb1", vip, served, preempt_limit);
    r.outcome = format!(
        "nginx restarted by check_nginx {} after the kill; {}",
        secs(back - killed),
        r.outcome
    );
    Ok(())
}

fn kill_baton(live: &mut Live, r: &mut StepResult) -> Result<()> {
    let t = live.timers.clone();
    if sole_master(live, 0, Duration::from_secs(3))?.is_none() {
        r.fail("lb1 was not the only master before the kill".into());
    }
    let mdi = t.mdi(t.priority(1, true));
    let limit = mdi + SLACK;
    r.expected = format!("VIP on lb2 ≤ {} (Master_Down_Interval)", secs(limit));
    r.keepalived = Some(t.keepalived_crash());
    r.start = live.act("SIGKILL lb1's baton".into());
    if !live.sys.kill_baton(0)? {
        r.fail("lb1's baton was not running".into());
    }
    let vip = vip_on(live, 1, r.start, limit + Duration::from_secs(2))?;
    let served = served_by(live, Served::Lb2, r.start, limit + Duration::from_secs(2))?;
    describe_move(r, "lb2", vip, served, limit);
    // A backup may not take over before it has missed its adverts: the last one it heard
    // left at most one interval (plus whatever delayed it) before the kill.
    if let Some(v) = vip {
        let earliest = mdi.saturating_sub(t.advert_int + SLACK);
        if v < earliest {
            r.fail(format!(
                "lb2 took over after {}, before Master_Down_Interval allows ({})",
                secs(v),
                secs(earliest)
            ));
        }
    }
    Ok(())
}

fn baton_back(live: &mut Live, r: &mut StepResult) -> Result<()> {
    let t = live.timers.clone();
    let limit = t.keepalived_startup().time + SLACK;
    r.expected = format!("lb1 MASTER with the VIP ≤ {}", secs(limit));
    r.keepalived = Some(t.keepalived_preempt());
    r.start = live.act("restart lb1's baton".into());
    live.sys.start_baton(0)?;
    match sole_master(live, 0, limit + Duration::from_secs(3))? {
        Some(at) => {
            let took = at - r.start;
            r.took = Some(took);
            r.outcome = format!("lb1 MASTER with the VIP after {}", secs(took));
            if took > limit {
                r.fail(format!("took longer than {}", secs(limit)));
            }
        }
        None => {
            r.outcome = "lb1 did not take the VIP back".into();
            r.fail(r.outcome.clone());
        }
    }
    Ok(())
}

fn drop_vrrp(live: &mut Live, r: &mut StepResult) -> Result<()> {
    let t = live.timers.clone();
    let limit = t.mdi(t.priority(1, true)) + SLACK;
    r.expected = format!(
        "lb1 and lb2 both MASTER ≤ {}, and baton says so",
        secs(limit)
    );
    r.keepalived = Some(t.keepalived_split());
    let heard_before = lower_priority_lines(live);
    r.start = live.act("firewall on lb2 drops VRRP (IP protocol 112), as in the post".into());
    live.sys.drop_vrrp(1)?;
    let both = live.wait_for(
        limit + Duration::from_secs(2),
        Duration::from_millis(20),
        |l| {
            l.poll_nodes();
            (l.masters() == [0, 1] && l.vip.holders() == [true, true]).then(Instant::now)
        },
    )?;
    let Some(at) = both else {
        r.outcome = "no split brain".into();
        r.fail("lb2 did not become MASTER beside lb1".into());
        return Ok(());
    };
    let took = at - r.start;
    r.took = Some(took);
    r.outcome = format!("both MASTER, the VIP on both, after {}", secs(took));
    if took > limit {
        r.fail(format!("took longer than {}", secs(limit)));
    }
    // lb1 still hears lb2 (only lb2's input is filtered): its baton logs each advert of the
    // other master, as keepalived does.
    let said = live.wait_for(
        t.advert_int + SLACK + SLACK,
        Duration::from_millis(20),
        |l| {
            (lower_priority_lines(l) > heard_before)
                .then(|| last_lower_priority_line(&l.sys.baton_log(0)))
                .flatten()
        },
    )?;
    match said {
        Some(line) => r.outcome.push_str(&format!("; lb1's log: \"{line}\"")),
        None => r.fail("lb1's baton did not log the other master".into()),
    }
    Ok(())
}

/// How many "Received advert … with lower priority" lines lb1's baton has logged.
fn lower_priority_lines(live: &Live) -> usize {
    live.sys
        .baton_log(0)
        .lines()
        .filter(|l| l.contains("Received advert from") && l.contains("with lower priority"))
        .count()
}

fn restore(live: &mut Live, r: &mut StepResult) -> Result<()> {
    let t = live.timers.clone();
    let limit = t.advert_int + SLACK;
    r.expected = format!("one MASTER (lb1) ≤ {}", secs(limit));
    r.keepalived = Some(t.keepalived_heal());
    let dropped = live.sys.restore_vrrp()?.unwrap_or(0);
    r.start = live.act(format!(
        "firewall rule removed on lb2 ({dropped} adverts dropped)"
    ));
    if dropped == 0 {
        // The split brain before this step came from somewhere else than the post's bug.
        r.fail("the firewall rule dropped no adverts".into());
    }
    match sole_master(live, 0, limit + Duration::from_secs(3))? {
        Some(at) => {
            let took = at - r.start;
            r.took = Some(took);
            r.outcome = format!("lb2 BACKUP, VIP on lb1 only, after {}", secs(took));
            if took > limit {
                r.fail(format!("took longer than {}", secs(limit)));
            }
        }
        None => {
            r.outcome = "still two masters".into();
            r.fail(r.outcome.clone());
        }
    }
    Ok(())
}
