//! Checkers deciding who gets traffic: a killed real server stops getting new connections
//! once its checker fails (and not later than one check cycle + 50 ms after its death), and
//! gets them again when it recovers; losing quorum hands the service to the sorry server;
//! notify_up/down and quorum_up/down run; the log says it in keepalived's words.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::Baton;
use crate::lvs::lab::{
    VIP, addr, count, nat_lab, real_server, wait_alive, wait_all_alive, wait_log, who,
};

/// The checker's timing: one check cycle is delay_loop + connect_timeout × (retry + 1) +
/// delay_before_retry × retry.
const DELAY_LOOP: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY: u32 = 0;
const DELAY_BEFORE_RETRY: Duration = Duration::from_secs(1);

fn cycle() -> Duration {
    DELAY_LOOP + CONNECT_TIMEOUT * (RETRY + 1) + DELAY_BEFORE_RETRY * RETRY
}

fn real(i: usize, notify: &str) -> String {
    format!(
        "  real_server 10.2.0.1{i} 8080 {{\n\
         \x20  notify_up \"{notify} up rs{i}\"\n\
         \x20  notify_down \"{notify} down rs{i}\"\n\
         \x20  TCP_CHECK {{\n\
         \x20    connect_timeout {}\n\
         \x20    retry {RETRY}\n\
         \x20    delay_before_retry {}\n\
         \x20  }}\n\
         \x20 }}\n",
        CONNECT_TIMEOUT.as_secs(),
        DELAY_BEFORE_RETRY.as_secs()
    )
}

#[test]
fn dead_real_server_leaves_and_returns_and_quorum_loss_calls_the_sorry_server() {
    let Some(mut l) = nat_lab("lvs-health", 3) else {
        return;
    };
    let events = l.director.path("events");
    let notify = l.director.path("notify.sh");
    std::fs::write(
        &notify,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", events.display()),
    )
    .unwrap();
    std::fs::set_permissions(&notify, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let n = notify.display().to_string();
    let conf = format!(
        "global_defs {{\n enable_script_security\n script_user root\n}}\n\
         virtual_server {VIP} 80 {{\n delay_loop {dl}\n lb_algo rr\n lb_kind NAT\n protocol TCP\n{r1}{r2}}}\n\
         virtual_server {VIP} 90 {{\n delay_loop {dl}\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         \x20quorum 2\n quorum_up \"{n} quorum_up 90\"\n quorum_down \"{n} quorum_down 90\"\n\
         \x20sorry_server 10.2.0.13 8080\n{r1}{r2}}}\n",
        dl = DELAY_LOOP.as_secs(),
        r1 = real(1, &n),
        r2 = real(2, &n),
    );
    let b = Baton::start(&l.director, &conf);
    wait_all_alive(&b, Duration::from_secs(10));
    let web = addr(&format!("{VIP}:80"));
    let quorate = addr(&format!("{VIP}:90"));
    assert_eq!(
        count(&l.client, None, quorate, 4)
            .keys()
            .collect::<Vec<_>>(),
        ["rs1", "rs2"],
        "quorum up: the real servers serve"
    );

    // rs2 dies. The client keeps connecting; connections rr sends to rs2 are refused
    // until its checker fails and it leaves the table.
    let died = Instant::now();
    l.servers[1].kill();
    let mut last_failure = None;
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    let mut down_at = None;
    while died.elapsed() < cycle() + Duration::from_secs(2) {
        match who(&l.client, None, web) {
            Ok(name) => *answers.entry(name).or_default() += 1,
            Err(_) => last_failure = Some(died.elapsed()),
        }
        if down_at.is_none()
            && real_server(&b, "[10.1.0.100]:tcp:80", "[10.2.0.12]:tcp:8080")["alive"] == false
        {
            down_at = Some(died.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let down_at = down_at.expect("rs2's checker never failed");
    let last_failure = last_failure.expect("no connection ever reached the dead rs2");
    println!(
        "rs2 killed: checker down after {down_at:?}, last failed request {last_failure:?} after \
         the death (one check cycle {:?} + 50 ms allowed); answers meanwhile {answers:?}",
        cycle()
    );
    assert!(
        last_failure <= cycle() + Duration::from_millis(50),
        "last failed request {last_failure:?} after the death"
    );
    let after = count(&l.client, None, web, 10);
    assert_eq!(
        after,
        BTreeMap::from([("rs1".into(), 10)]),
        "rs2 gets nothing"
    );
    wait_log(
        &b,
        "TCP_CHECK on service [10.2.0.12]:tcp:8080 failed.",
        Duration::from_secs(1),
    );
    wait_log(
        &b,
        "Removing service [10.2.0.12]:tcp:8080 from VS [10.1.0.100]:tcp:80",
        Duration::from_secs(1),
    );

    // Quorum 2 with one server of weight 1 left: the sorry server (rs3) takes the service.
    let sorry = count(&l.client, None, quorate, 4);
    println!("quorum lost on :90: {sorry:?}");
    assert_eq!(sorry, BTreeMap::from([("rs3".into(), 4)]));
    let vs90 = crate::lvs::lab::virtual_servers(&b)
        .into_iter()
        .find(|v| v["name"] == "[10.1.0.100]:tcp:90")
        .unwrap();
    assert_eq!(vs90["quorum_up"], false);
    assert_eq!(vs90["sorry_server_in_use"], true);

    // rs2 recovers: it comes back into both services.
    l.servers[1].start();
    let back = wait_alive(
        &b,
        "[10.1.0.100]:tcp:80",
        "[10.2.0.12]:tcp:8080",
        true,
        cycle() + Duration::from_secs(2),
    );
    println!("rs2 restarted: its checker passed after {back:?}");
    wait_alive(
        &b,
        "[10.1.0.100]:tcp:90",
        "[10.2.0.12]:tcp:8080",
        true,
        Duration::from_secs(2),
    );
    let rr = count(&l.client, None, web, 10);
    assert_eq!(rr.values().copied().collect::<Vec<_>>(), [5, 5], "{rr:?}");
    let again = count(&l.client, None, quorate, 4);
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        ["rs1", "rs2"],
        "{again:?}"
    );
    wait_log(
        &b,
        "TCP connection to [10.2.0.12]:tcp:8080 success.",
        Duration::from_secs(1),
    );
    let rs = real_server(&b, "[10.1.0.100]:tcp:80", "[10.2.0.12]:tcp:8080");
    assert_eq!(rs["went_down"], 1, "{rs:#}");
    assert_eq!(rs["came_up"], 1, "{rs:#}");
    assert!(
        rs["checkers"][0]["failures"].as_u64().unwrap() >= 1,
        "{rs:#}"
    );

    // The notify scripts ran, in order, through the notifier.
    let wanted = ["down rs2", "quorum_down 90", "up rs2", "quorum_up 90"];
    let t = Instant::now();
    loop {
        let got = std::fs::read_to_string(&events).unwrap_or_default();
        let ok = wanted.iter().all(|w| got.lines().any(|l| l == *w));
        if ok {
            println!("notify scripts ran: {:?}", got.lines().collect::<Vec<_>>());
            let pos = |w: &str| got.lines().position(|l| l == w).unwrap();
            assert!(pos("down rs2") < pos("up rs2"), "{got}");
            assert!(pos("quorum_down 90") < pos("quorum_up 90"), "{got}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "notify scripts: {got:?}\n{}",
            b.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
