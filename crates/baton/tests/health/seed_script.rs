//! The seed's own health script, as the blog post writes it (only nginx's paths differ), run
//! by baton as the seed's `vrrp_script check_nginx` block (interval 2, weight 2, its Chinese
//! comments kept). The script counts nginx with `ps -C nginx`, restarts it when none runs,
//! and when the restart fails runs `killall keepalived` so that the VIP moves.
//!
//! How `killall keepalived` reaches baton: the kernel's process name (`comm`, which
//! `killall`, `pidof` and `ps -C` match). Here baton is installed under keepalived's name —
//! started through a link called `keepalived`, as a distribution's alias would install it —
//! so the seed's configuration needs no change at all. (`process_names` in `global_defs` and
//! a unit called `keepalived.service` give the same name; see crates/baton/src/process_name.rs
//! and the README.) Each lab host has its own PID namespace, so the script's `ps` and `killall`
//! see only that host's processes: killing lb1's keepalived leaves lb2's running.

use std::time::Duration;

use baton_lab::{Host, ProbeLog};

use crate::common::*;
use crate::health::nginx::{Nginx, who_serves_the_vip};
use crate::health::pair::*;

/// The seed's `interval 2`.
const INTERVAL: Duration = Duration::from_secs(2);
/// Silent probe rounds shorter than this are late replies, not outages (see
/// `ProbeLog::outages_over`).
const OUTAGE: Duration = Duration::from_millis(10);

/// chk_nginx_pid.sh from the blog post, verbatim but for the nginx command line.
fn seed_script(nginx: &str) -> String {
    format!(
        "#!/bin/bash\n\
         \n\
         A=`ps -C nginx --no-header |wc -l` # 统计nginx进程数,若为0,表明nginx被杀\n\
         if [ $A -eq 0 ];then\n\
         # 重启nginx,不是默认配置路径所以需要指定路径,因人而异\n\
         {nginx}\n\
         # nginx重启失败,则停掉keepalived服务,进行VIP转移\n\
         if [ `ps -C nginx --no-header |wc -l` -eq 0 ];then\n\
         # 杀掉,VIP就漫游到另一台机器\n\
         killall keepalived\n\
         fi\n\
         fi\n"
    )
}

/// The seed's configuration with the blog post's `vrrp_script` and `track_script` blocks,
/// verbatim but for the script's path, and the script itself in the host's directory.
fn seed_with_check(seed: &str, host: &Host, nginx_command: &str) -> String {
    let script = write_script(host, "chk_nginx_pid.sh", &seed_script(nginx_command));
    with_tracker(
        seed,
        &format!(
            "vrrp_script check_nginx {{\n\
             script \"{}\" # 心跳执行的脚本\n\
             interval 2 # 每2秒检测一次\n\
             weight 2 # 脚本结果导致的优先级变更:10表示优先级+10;-10则表示优先级-10\n\
             }}",
            script.display()
        ),
        "track_script {\ncheck_nginx # 调用检测脚本\n}",
    )
}

#[test]
fn the_seeds_script_restarts_nginx_and_when_it_cannot_stops_baton_so_the_vip_moves() {
    let Some(p) = NginxPair::start_with(
        "hp-seed",
        |seed, host| {
            // Each host's script restarts that host's nginx.
            seed_with_check(seed, host, &Nginx::command_line(host))
        },
        |host, conf| start_baton_as(host, "keepalived", conf),
    ) else {
        return;
    };
    for (b, host) in [(&p.b1, &p.lb1), (&p.b2, &p.lb2)] {
        assert_eq!(b.status().unwrap()["daemon"]["process_name"], "keepalived");
        assert_eq!(
            host.pidof("keepalived").unwrap().len(),
            1,
            "{}",
            host.name()
        );
    }
    // nginx runs, so the script succeeds and adds its weight.
    wait_priority(&p.b1, 202, INTERVAL + SLACK);
    let mac2 = mac(&p.lb2);
    let probe = p.probe();

    // nginx dies: the script's next run starts it again, and the VIP never moves.
    let before = p.nginx1.pids();
    let killed = p.nginx1.kill();
    let restarted = baton_lab::wait_until(
        "the seed's script to restart nginx on lb1",
        INTERVAL + Duration::from_secs(2),
        POLL,
        || {
            let now = p.nginx1.pids();
            now.len() == 2 && now.iter().all(|pid| !before.contains(pid))
        },
    )
    .unwrap();
    eprintln!("the seed's script restarted nginx {restarted:?} after it was killed");
    assert!(restarted <= INTERVAL + Duration::from_secs(1));
    assert_eq!(who_serves_the_vip(&p.client, Duration::from_secs(1)), "lb1");
    assert_eq!(p.b1.state(), "Master");
    assert_eq!(p.b1.instance("VI_1")["effective_priority"], 202);
    let seen = ProbeLog {
        samples: probe.samples(),
    };
    assert!(
        seen.samples
            .iter()
            .all(|s| s.at < killed || !s.responders.contains(&mac2)),
        "lb2 answered for the VIP while lb1 restarted nginx"
    );
    assert_eq!(seen.outages_over(OUTAGE), [], "the VIP stopped answering");

    // nginx dies and its configuration is broken: the restart fails, the script runs
    // `killall keepalived`, and baton stops as keepalived stops — a priority-0 advert, the
    // VIP released — so lb2 takes over within Skew_Time of it.
    p.nginx1.break_config();
    let cap = capture_vrrp(&p.lab);
    wait_advert_from(&cap, LB1, 2 * ADVERT_INT + SLACK);
    let killed_at = std::time::SystemTime::now();
    let killed = p.nginx1.kill();
    let status = p.b1.wait_exit(INTERVAL + Duration::from_secs(5));
    assert!(status.success(), "{status}\n{}", p.b1.logs());
    let answer = answered_by(
        &probe,
        &mac2,
        killed,
        Duration::from_secs(1),
        "lb2 to answer for the VIP",
    );
    let moved = until_answer(killed, &answer);
    eprintln!("nginx could not be restarted: lb2 answered for the VIP {moved:?} after the kill");
    assert!(
        moved <= INTERVAL + skew_v2(100) + SLACK,
        "the VIP moved {moved:?} after nginx died for good"
    );
    p.b2.wait_state("Master", ADVERT_INT);
    assert!(
        p.nginx1.pids().is_empty(),
        "nginx runs again despite its broken configuration"
    );
    let ads = adverts(&cap.stop().unwrap());
    let zero = ads
        .iter()
        .find(|a| a.src == ip(LB1) && a.priority == 0 && a.ts >= killed_at)
        .unwrap_or_else(|| panic!("no priority-0 advert from lb1: {ads:#?}"));
    let first_new = ads
        .iter()
        .find(|a| a.src == ip(LB2) && a.ts >= zero.ts)
        .expect("an advert from the new master");
    let gap = between(zero.ts, first_new.ts);
    assert!(
        gap <= skew_v2(100) + SLACK,
        "lb2 advertised {gap:?} after lb1's priority-0 advert"
    );
    assert!(!holds(&p.lb1, VIP), "the stopped master kept the VIP");
    assert_eq!(who_serves_the_vip(&p.client, Duration::from_secs(1)), "lb2");
    // lb2's keepalived, in its own PID namespace, was not reached by lb1's killall.
    assert_eq!(p.lb2.pidof("keepalived").unwrap().len(), 1);
    assert_eq!(p.b2.instance("VI_1")["effective_priority"], 102);
}

/// Wait until `VI_1`'s effective priority is `want`.
fn wait_priority(b: &Baton, want: u64, timeout: Duration) {
    baton_lab::wait_until(
        format!("effective priority {want} on {}", b.host.name()),
        timeout,
        POLL,
        || b.instance("VI_1")["effective_priority"] == want,
    )
    .unwrap();
}
