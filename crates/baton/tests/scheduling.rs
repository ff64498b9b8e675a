//! keepalived's scheduling keywords for its VRRP process, on the real kernel: with
//! `vrrp_rt_priority`, `vrrp_rlimit_rttime`, `vrrp_no_swap` and `vrrp_cpu_affinity` the
//! daemon's advert loop runs SCHED_RR under the CPU-time limit, its memory is locked, every
//! thread runs on the CPUs named, and a script it starts runs as a normal task; a reload
//! without them takes each back, and one with `vrrp_priority` renices every thread. Root
//! only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use baton_lab::Signal;
use common::*;

/// SCHED_RR in /proc/<pid>/stat's policy field.
const SCHED_RR: u64 = 2;

/// Fields of /proc/<pid>/task/<tid>/stat, numbered as proc(5) numbers them (1 = pid),
/// read past the command name, which may hold spaces.
fn stat_field(path: &str, n: usize) -> i64 {
    let stat = std::fs::read_to_string(path).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    // Field 3 (state) is the first after the name.
    after.split(' ').nth(n - 3).unwrap().parse().unwrap()
}

/// The daemon's threads: (tid, its stat path, its status path).
fn threads(pid: u32) -> Vec<(u32, String, String)> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| {
            let tid: u32 = e.unwrap().file_name().to_str().unwrap().parse().unwrap();
            (
                tid,
                format!("/proc/{pid}/task/{tid}/stat"),
                format!("/proc/{pid}/task/{tid}/status"),
            )
        })
        .collect()
}

/// A `Key:\tvalue` line of a /proc status file.
fn status_line(path: &str, key: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {key} in {path}"))
}

/// "Max realtime timeout" of /proc/<pid>/limits: (soft, hard).
fn rttime_limit(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max realtime timeout"))
        .unwrap();
    let v: Vec<&str> = line["Max realtime timeout".len()..]
        .split_whitespace()
        .collect();
    (v[0].to_string(), v[1].to_string())
}

fn conf(global: &str, script: &str) -> String {
    format!(
        "global_defs {{\n    router_id lb1\n{global}}}\n\
         vrrp_script sched {{\n    script \"{script}\"\n    interval 1\n}}\n\
         vrrp_instance VI_1 {{\n    state MASTER\n    interface ens33\n    virtual_router_id 51\n    \
         priority 200\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}\n    }}\n    \
         track_script {{\n        sched\n    }}\n}}\n"
    )
}

fn wait_reloads(b: &Baton, n: u64) {
    baton_lab::wait_until(
        format!("{} to count {n} reloads", b.host.name()),
        Duration::from_secs(5),
        POLL,
        || b.status().map(|s| s["daemon"]["reloads"] == n),
    )
    .unwrap();
}

#[test]
fn scheduling_keywords_set_the_advert_loop_realtime_and_a_reload_takes_them_back() {
    let Some((_lab, lb1, _lb2)) = seed_lab("sched") else {
        return;
    };
    // The script writes its own scheduling policy and nice value where the test reads them.
    let seen = lb1.path("script-policy");
    let script = lb1
        .write_file(
            "sched.sh",
            format!(
                "#!/bin/sh\nset -- $(sed 's/.*) //' /proc/$$/stat)\necho \"${{39}} ${{17}}\" > {}\n",
                seen.display()
            ),
        )
        .unwrap();
    std::process::Command::new("chmod")
        .arg("755")
        .arg(&script)
        .status()
        .unwrap();
    let script = script.display().to_string();
    let realtime = "    vrrp_rt_priority 10\n    vrrp_rlimit_rttime 40000\n    vrrp_no_swap\n    \
                    vrrp_cpu_affinity 0\n";
    let b = Baton::start(&lb1, &conf(realtime, &script));
    b.wait_state("Master", Duration::from_secs(5));
    let pid = b.proc.pid();
    let main = format!("/proc/{pid}/task/{pid}/stat");

    // The advert loop (the main thread) is SCHED_RR 10 under the limit, warned at half.
    assert_eq!(stat_field(&main, 41) as u64, SCHED_RR, "{}", b.logs());
    assert_eq!(stat_field(&main, 40), 10);
    assert_eq!(
        rttime_limit(pid),
        ("20000".to_string(), "40000".to_string())
    );
    // Locked as touched: some of it, not the whole mapped program.
    let locked: u64 = status_line(&format!("/proc/{pid}/status"), "VmLck:")
        .trim_end_matches(" kB")
        .parse()
        .unwrap();
    assert!(locked > 0, "nothing locked with vrrp_no_swap");
    // Every thread on CPU 0; only the loop realtime.
    for (tid, stat, status) in threads(pid) {
        assert_eq!(
            status_line(&status, "Cpus_allowed_list:"),
            "0",
            "thread {tid}"
        );
        if tid != pid {
            assert_eq!(
                stat_field(&stat, 41),
                0,
                "thread {tid} is not a normal task"
            );
        }
    }
    // A script runs as a normal task (SCHED_RESET_ON_FORK), nice 0.
    baton_lab::wait_until(
        "the script to report its scheduling",
        Duration::from_secs(5),
        POLL,
        || Ok::<_, String>(std::fs::read_to_string(&seen).is_ok_and(|s| !s.is_empty())),
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "0 0");

    // Without them: back to how it started.
    b.rewrite(&conf("", &script));
    b.signal(Signal::SIGHUP);
    wait_reloads(&b, 1);
    assert_eq!(stat_field(&main, 41), 0, "{}", b.logs());
    // Raising the hard limit back needs CAP_SYS_RESOURCE, which a root without it (some
    // containers and VMs) lacks: then the limit stays, and the daemon says so.
    let cap_sys_resource =
        u64::from_str_radix(&status_line("/proc/self/status", "CapEff:"), 16).unwrap() & (1 << 24)
            != 0;
    if cap_sys_resource {
        assert_eq!(
            rttime_limit(pid),
            ("unlimited".to_string(), "unlimited".to_string())
        );
    } else {
        assert_eq!(
            rttime_limit(pid),
            ("20000".to_string(), "40000".to_string())
        );
        assert!(
            b.logs()
                .contains("The realtime CPU limit stays at 40000 µs"),
            "{}",
            b.logs()
        );
    }
    assert_eq!(
        status_line(&format!("/proc/{pid}/status"), "VmLck:"),
        "0 kB"
    );
    let all = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    for (tid, _, status) in threads(pid) {
        assert_eq!(
            status_line(&status, "Cpus_allowed_list:"),
            all.trim(),
            "thread {tid}"
        );
    }

    // vrrp_priority: every thread reniced.
    b.rewrite(&conf("    vrrp_priority 5\n", &script));
    b.signal(Signal::SIGHUP);
    wait_reloads(&b, 2);
    for (tid, stat, _) in threads(pid) {
        assert_eq!(stat_field(&stat, 19), 5, "thread {tid}: {}", b.logs());
    }
    assert_eq!(b.state(), "Master");
}
