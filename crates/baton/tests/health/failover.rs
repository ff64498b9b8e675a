//! nginx dies on the master; the VIP must answer on the backup in milliseconds. The seed's
//! pair with nginx on both load balancers, tracked once with `vrrp_track_process` and once
//! with a seed-style `vrrp_script` (interval 2, weight −150). Each round kills nginx on lb1
//! (SIGKILL to master and worker), times how long until lb2's MAC answers an ARP request for
//! the VIP (the client asks every millisecond), checks that lb2's nginx serves the VIP, then
//! starts nginx again and waits for lb1 to take the VIP back (preemption).

use std::time::{Duration, Instant};

use baton_lab::Host;

use crate::common::*;
use crate::health::nginx::who_serves_the_vip;
use crate::health::pair::*;

/// The seed-style script's interval.
const SCRIPT_INTERVAL: Duration = Duration::from_secs(2);
/// The process tracker's bound: kill to the VIP answering on the backup.
const PROCESS_BOUND: Duration = Duration::from_millis(50);
/// How often the process tracker lists /proc for new processes (baton's default): the
/// delay before a restarted nginx is seen.
const PROCESS_SCAN: Duration = Duration::from_millis(100);

/// The seed's configuration with `vrrp_track_process` on nginx (weight 0: without nginx the
/// instance is in FAULT).
fn process_tracked(seed: &str, _: &Host) -> String {
    with_tracker(
        seed,
        "vrrp_track_process chk_nginx {\n    process nginx\n}",
        "track_process {\n    chk_nginx\n}",
    )
}

/// The seed's check, reduced to the check: fail when no process is called nginx.
const CHECK_NGINX: &str = "#!/bin/sh\n\
    A=`ps -C nginx --no-header | wc -l`\n\
    [ $A -gt 0 ]\n";

/// The seed's configuration with its `vrrp_script` block (interval 2) weighted −150, so a
/// failing check takes the master (200) below the backup (100).
fn script_tracked(seed: &str, host: &Host) -> String {
    let script = write_script(host, "check_nginx.sh", CHECK_NGINX);
    with_tracker(
        seed,
        &format!(
            "vrrp_script chk_nginx {{\nscript \"{}\"\ninterval 2\nweight -150\n}}",
            script.display()
        ),
        "track_script {\nchk_nginx\n}",
    )
}

/// A fraction of a period for round `n`: the golden-ratio sequence, which spreads any number
/// of rounds evenly over [0, 1).
fn phase(n: usize) -> f64 {
    (n as f64 * 0.618_033_988_75).fract()
}

/// What a failover test measured.
struct Measured {
    handovers: Vec<Duration>,
    comebacks: Vec<Duration>,
}

/// Kill nginx on lb1 and start it again, `rounds` times. `handover_bound`: kill to lb2
/// answering for the VIP; `comeback_bound`: nginx running again to lb1 answering alone.
/// `after_kill` checks lb1's state once lb2 has the VIP. `period` is the cycle the timing
/// may depend on (the script's interval, the adverts'): each round waits a different
/// fraction of it before the kill, so the kills fall evenly over that cycle instead of
/// always at the phase the previous round ended on.
fn kill_and_restart_nginx(
    p: &NginxPair,
    rounds: usize,
    period: Duration,
    handover_bound: Duration,
    comeback_bound: Duration,
    after_kill: impl Fn(&NginxPair),
) -> Measured {
    let (mac1, mac2) = (mac(&p.lb1), mac(&p.lb2));
    let probe = p.probe();
    let mut m = Measured {
        handovers: Vec::new(),
        comebacks: Vec::new(),
    };
    for round in 1..=rounds {
        answered_only_by(
            &probe,
            &mac1,
            Instant::now(),
            Duration::from_secs(1),
            "lb1 alone to answer for the VIP",
        );
        std::thread::sleep(period.mul_f64(phase(round)));
        let killed = p.nginx1.kill();
        let answer = answered_by(
            &probe,
            &mac2,
            killed,
            handover_bound + Duration::from_secs(3),
            "lb2 to answer for the VIP",
        );
        let handover = until_answer(killed, &answer);
        eprintln!(
            "round {round}: nginx killed on lb1, lb2 answered for the VIP {handover:?} later"
        );
        assert!(
            handover < handover_bound,
            "round {round}: lb2 answered {handover:?} after nginx died, bound {handover_bound:?}\n{}",
            p.b1.logs()
        );
        m.handovers.push(handover);
        // The timing is the probe's; the states follow within an advert interval at most.
        p.b2.wait_state("Master", ADVERT_INT);
        after_kill(p);
        assert_eq!(who_serves_the_vip(&p.client, Duration::from_secs(1)), "lb2");

        p.nginx1.start();
        let restarted = Instant::now();
        let back = answered_only_by(
            &probe,
            &mac1,
            restarted,
            comeback_bound + Duration::from_secs(3),
            "lb1 to take the VIP back",
        );
        let comeback = until_answer(restarted, &back);
        eprintln!("round {round}: nginx running on lb1, lb1 alone answered {comeback:?} later");
        assert!(
            comeback < comeback_bound,
            "round {round}: lb1 took the VIP back {comeback:?} after nginx ran again, bound {comeback_bound:?}"
        );
        m.comebacks.push(comeback);
        p.b1.wait_state("Master", ADVERT_INT);
        p.b2.wait_state("Backup", ADVERT_INT);
        assert_eq!(who_serves_the_vip(&p.client, Duration::from_secs(1)), "lb1");
    }
    // The backup's nginx was never touched, and no round left a stray process behind.
    assert_eq!(p.nginx2.pids().len(), 2);
    assert_eq!(p.nginx1.pids().len(), 2);
    m
}

#[test]
fn nginx_killed_on_the_master_moves_the_vip_within_50ms_with_track_process() {
    let Some(p) = NginxPair::start("hp-proc", process_tracked) else {
        return;
    };
    let tracker = p.b1.status().unwrap()["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "chk_nginx")
        .cloned()
        .unwrap();
    assert_eq!(tracker["kind"], "process", "{tracker}");
    // Restarted nginx is seen on the next scan of /proc; lb1 leaves FAULT and preempts when
    // it hears lb2's next advert.
    let m = kill_and_restart_nginx(
        &p,
        runs(3),
        ADVERT_INT,
        PROCESS_BOUND,
        PROCESS_SCAN + ADVERT_INT + SLACK,
        |p| {
            assert_eq!(p.b1.state(), "Fault");
            assert_eq!(
                p.b1.instance("VI_1")["faults"],
                serde_json::json!(["process chk_nginx failed"])
            );
            assert!(!holds(&p.lb1, VIP));
        },
    );
    report(
        "track_process: nginx killed to VIP answering on the backup",
        &m.handovers,
    );
    report(
        "track_process: nginx running again to VIP back on the master",
        &m.comebacks,
    );
}

#[test]
fn nginx_killed_on_the_master_moves_the_vip_within_one_interval_with_a_script() {
    let Some(p) = NginxPair::start("hp-script", script_tracked) else {
        return;
    };
    assert_eq!(p.b1.instance("VI_1")["effective_priority"], 200);
    // A restarted nginx is seen on the script's next run; lb1 is then back at 200 and
    // preempts when it hears lb2's next advert.
    let m = kill_and_restart_nginx(
        &p,
        runs(2),
        SCRIPT_INTERVAL,
        SCRIPT_INTERVAL + SLACK,
        SCRIPT_INTERVAL + ADVERT_INT + SLACK,
        |p| {
            // Below the backup, not in FAULT: the weight took it to 50 and it yielded.
            let i = p.b1.instance("VI_1");
            assert_eq!(i["effective_priority"], 50, "{i}");
            p.b1.wait_state("Backup", ADVERT_INT);
        },
    );
    report(
        "vrrp_script (interval 2): nginx killed to VIP answering on the backup",
        &m.handovers,
    );
    report(
        "vrrp_script (interval 2): nginx running again to VIP back on the master",
        &m.comebacks,
    );
}
