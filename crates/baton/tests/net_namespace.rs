//! keepalived's `net_namespace NAME` on the real kernel: baton started in the root namespace
//! enters the named one (made by `ip netns add`, here a lab host's) and runs its instances
//! there: the VIP appears on that namespace's interface and nowhere else, the peer in the
//! lab hears it, `baton status` reaches it through its control socket, `baton check` checks
//! the interfaces there; a namespace that does not exist stops it at start. Root only.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn conf(ns: &str) -> String {
    format!(
        "net_namespace {ns}\n\nvrrp_instance VI_1 {{\n    state MASTER\n    interface ens33\n    virtual_router_id 91\n    priority 200\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    )
}

/// `baton status --json` for the daemon whose pid file is `pidfile`.
fn state(pidfile: &std::path::Path) -> Option<String> {
    let out = Command::new(BATON)
        .args(["status", "--json", "-p"])
        .arg(pidfile)
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["instances"][0]["state"].as_str().map(str::to_string)
}

#[test]
fn instances_run_in_the_named_namespace() {
    let Some((_lab, lb1, lb2)) = seed_lab("netns-conf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, conf(lb1.netns())).unwrap();

    // The check enters the namespace too: ens33 exists there, not here.
    let check = Command::new(BATON)
        .args(["check", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stderr).into_owned();
    assert_eq!(check.status.code(), Some(0), "{report}");
    assert!(!report.contains("interface-missing"), "{report}");

    let backup = SEED_BACKUP.replace("virtual_router_id 51", "virtual_router_id 91");
    let b2 = Baton::start(&lb2, &backup);
    let pidfile = dir.path().join("baton.pid");
    let mut child = Command::new(BATON)
        .args(["-n", "-l", "-f"])
        .arg(&path)
        .arg("-p")
        .arg(&pidfile)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while state(&pidfile).as_deref() != Some("Master") {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("baton exited: {st}");
        }
        assert!(t.elapsed() < Duration::from_secs(8), "never became MASTER");
        std::thread::sleep(POLL);
    }
    wait_addr(&lb1, VIP, true, Duration::from_secs(2));
    b2.wait_state("Backup", Duration::from_secs(2));
    let root = Command::new("ip").args(["-4", "addr"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&root.stdout).contains(&format!("{VIP}/")),
        "the VIP appeared in the root namespace"
    );
    // SIGTERM: priority 0 from inside the namespace; the peer takes over.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let st = child.wait().unwrap();
    assert!(st.success(), "{st}");
    b2.wait_state("Master", Duration::from_secs(2));
    wait_addr(&lb1, VIP, false, Duration::from_secs(1));
}

#[test]
fn a_namespace_that_does_not_exist_stops_it_at_start() {
    if !baton_lab::require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, conf("baton-no-such-ns-0")).unwrap();
    let out = Command::new(BATON)
        .args(["-n", "-f"])
        .arg(&path)
        .arg("-p")
        .arg(dir.path().join("baton.pid"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("unable to enter network namespace baton-no-such-ns-0"),
        "{err}"
    );
}
