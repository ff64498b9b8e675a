//! keepalived's "system" commands and its script-user rule, on the real kernel: a
//! `script "</path"` check runs through /bin/sh as keepalived runs it and moves the
//! priority; `</dev/tcp/…` behaves as /bin/sh makes it behave (under Debian's dash it always
//! fails, under keepalived too); and with `enable_script_security` but no
//! `keepalived_script` user, `baton check` and the daemon drop the same scripts. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::*;

fn conf(scripts: &str, tracks: &str, extra_global: &str) -> String {
    format!(
        "global_defs {{\n    router_id lb1\n{extra_global}}}\n\n{scripts}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface ens33\n    virtual_router_id 71\n    priority 100\n    track_script {{\n{tracks}    }}\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    )
}

fn priority(b: &Baton) -> u64 {
    b.instance("VI_1")["effective_priority"].as_u64().unwrap()
}

fn wait_priority(b: &Baton, want: u64) {
    baton_lab::wait_until(
        format!("effective priority {want}"),
        Duration::from_secs(5),
        POLL,
        || priority(b) == want,
    )
    .unwrap_or_else(|e| panic!("{e}: now {}\n{}", priority(b), b.logs()));
}

fn tracker_state(b: &Baton, name: &str) -> String {
    b.status().unwrap()["trackers"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == name))
        .and_then(|t| t["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Whether this host's /bin/sh is bash (the only shell with /dev/tcp).
fn sh_is_bash() -> bool {
    std::fs::canonicalize("/bin/sh")
        .ok()
        .and_then(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().starts_with("bash"))
        })
        .unwrap_or(false)
}

#[test]
fn a_redirection_script_runs_through_the_shell_and_moves_the_priority() {
    let Some((_lab, lb1, _lb2)) = seed_lab("sysscript") else {
        return;
    };
    let flag = lb1.path("ok");
    // A port on loopback inside lb1's namespace, listening while the test runs.
    let listener = lb1
        .in_netns(|| TcpListener::bind("127.0.0.1:0"))
        .unwrap()
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let scripts = format!(
        "vrrp_script chk_flag {{\n    script \"<{}\"\n    interval 0.2\n    weight 20\n}}\n\nvrrp_script chk_port {{\n    script \"</dev/tcp/127.0.0.1/{port}\"\n    interval 0.2\n    weight 5\n}}\n",
        flag.display()
    );
    let b = Baton::start(
        &lb1,
        &conf(&scripts, "        chk_flag\n        chk_port\n", ""),
    );
    // The port listens: bash would connect (+5); dash has no /dev/tcp and fails, as it does
    // for keepalived, which hands the same line to system().
    let port_bonus = if sh_is_bash() { 5 } else { 0 };
    let port_state = if sh_is_bash() { "ok" } else { "failed" };
    // Both scripts have reported (neither is still "init"): the port check ran and its
    // verdict is the shell's.
    baton_lab::wait_until(
        "both scripts to report",
        Duration::from_secs(5),
        POLL,
        || tracker_state(&b, "chk_port") == port_state && tracker_state(&b, "chk_flag") == "failed",
    )
    .unwrap_or_else(|e| panic!("{e}: {}", b.status().unwrap()["trackers"]));
    wait_priority(&b, 100 + port_bonus);
    std::fs::write(&flag, "").unwrap();
    wait_priority(&b, 120 + port_bonus);
    std::fs::remove_file(&flag).unwrap();
    wait_priority(&b, 100 + port_bonus);
    drop(listener);
    wait_priority(&b, 100);
    baton_lab::wait_until(
        "the port check to fail",
        Duration::from_secs(5),
        POLL,
        || tracker_state(&b, "chk_port") == "failed",
    )
    .unwrap();
    // Nothing was disabled as a missing file.
    let logs = b.logs();
    assert!(!logs.contains("disabl"), "{logs}");
    let trackers = b.status().unwrap()["trackers"].clone();
    assert_eq!(trackers.as_array().map(|t| t.len()), Some(2), "{trackers}");
}

#[test]
fn check_and_daemon_drop_the_same_scripts_without_the_default_user() {
    let Some((_lab, lb1, _lb2)) = seed_lab("scriptuser") else {
        return;
    };
    if Command::new("id")
        .arg("keepalived_script")
        .output()
        .unwrap()
        .status
        .success()
    {
        eprintln!("skipped: this host has a keepalived_script user");
        return;
    }
    let ok = lb1.write_file("ok.sh", "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&ok, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let scripts = format!(
        "vrrp_script chk_default {{\n    script \"{0}\"\n    interval 0.2\n    weight 20\n}}\n\nvrrp_script chk_own_user {{\n    script \"{0}\"\n    user root\n    interval 0.2\n    weight 7\n}}\n",
        ok.display()
    );
    let text = conf(
        &scripts,
        "        chk_default\n        chk_own_user\n",
        "    enable_script_security\n",
    );
    let path = lb1.write_file("check.conf", &text).unwrap();
    let out = Command::new(BATON)
        .args(["check", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr).into_owned();
    // An error (keepalived: "Unable to set default user for vrrp script … - removing").
    assert_eq!(out.status.code(), Some(5), "{report}");
    assert!(
        report.contains("vrrp_script chk_default: enable_script_security is set but the default script user 'keepalived_script' does not exist"),
        "{report}"
    );
    assert!(!report.contains("chk_own_user:"), "{report}");

    // The daemon runs what check said would run: the script with its own user alone.
    let b = Baton::start(&lb1, &text);
    wait_priority(&b, 107);
    let trackers = b.status().unwrap()["trackers"].clone();
    let names: Vec<&str> = trackers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, vec!["chk_own_user"], "{trackers}");
}
