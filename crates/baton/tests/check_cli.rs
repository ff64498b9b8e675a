//! `baton check` end to end: the binary on the seed's configurations, its exit codes and its
//! output formats.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conf/tests/fixtures/seed")
        .join(name)
}

fn baton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The seed's master configuration with its check script added, naming `script`.
fn with_check(dir: &Path, script: &str) -> PathBuf {
    let master = std::fs::read_to_string(fixture("master.conf")).unwrap();
    let snippet = std::fs::read_to_string(fixture("check_nginx.snippet"))
        .unwrap()
        .replace("/usr/local/keepalived/check_nginx.sh", script);
    let (block, track) = snippet.split_once("\n\n").unwrap();
    let at = master.find("vrrp_instance").unwrap();
    let end = master.trim_end().rfind('}').unwrap();
    let conf = format!(
        "{}{block}\n\n{}{track}{}",
        &master[..at],
        &master[at..end],
        &master[end..]
    );
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

#[test]
fn seed_configurations_are_accepted() {
    for name in ["master.conf", "backup.conf"] {
        let path = fixture(name);
        let out = baton(&["check", "-f", path.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {err}");
        assert!(err.contains("0 errors"), "{err}");
        assert!(err.trim_end().ends_with("configuration OK"), "{err}");
    }
}

#[test]
fn config_test_flag_gives_the_same_verdict() {
    let path = fixture("master.conf");
    let out = baton(&["-t", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_seeds_wrong_script_path_is_an_error_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    // The post made chk_nginx_pid.sh and pointed keepalived at check_nginx.sh.
    let made = dir.path().join("chk_nginx_pid.sh");
    std::fs::write(&made, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o755)).unwrap();
    let wrong = dir.path().join("check_nginx.sh");
    let conf = with_check(dir.path(), wrong.to_str().unwrap());
    let out = baton(&["check", "-f", conf.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    let line = format!(
        "{}:8:8: error: vrrp_script check_nginx: script '{}' does not exist; disabled (tracked by vrrp_instance VI_1)",
        conf.display(),
        wrong.display()
    );
    assert!(err.contains(&line), "{err}");
    assert!(err.contains("8 | script \""), "{err}");
    assert!(
        err.contains(&format!(
            "= note: {}:27:1: tracked by vrrp_instance VI_1 here",
            conf.display()
        )),
        "{err}"
    );
}

#[test]
fn scripts_without_script_security_exit_6() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("chk_nginx_pid.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = with_check(dir.path(), script.to_str().unwrap());
    let out = baton(&["check", "-f", conf.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("warning: scripts are configured but enable_script_security is not set"),
        "{err}"
    );
}

#[test]
fn json_report_and_dump() {
    let path = fixture("master.conf");
    let out = baton(&[
        "check",
        "--format",
        "json",
        "--dump",
        "-f",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], 0);
    assert_eq!(v["errors"], 0);
    let vi = &v["config"]["instances"][0];
    assert_eq!(vi["name"], "VI_1");
    assert_eq!(vi["priority"], 200);
    assert_eq!(vi["state"], "Master");
    assert_eq!(vi["vips"][0]["addr"], "192.168.5.10");
    assert_eq!(vi["auth"]["Pass"], "1111");
    // Diagnostics carry their code and place.
    for d in v["diagnostics"].as_array().unwrap() {
        assert!(
            d["code"].is_string() && d["line"].is_u64() && d["col"].is_u64(),
            "{d}"
        );
    }
}

#[test]
fn unusable_configurations_exit_4() {
    let out = baton(&["check", "-f", "/nonexistent/keepalived.conf"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr)
            .contains("/nonexistent/keepalived.conf: error: cannot read the configuration"),
        "{}",
        text(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("k.conf");
    std::fs::write(&conf, "global_defs {\n    router_id x\n}\n").unwrap();
    let out = baton(&["check", "-f", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

#[test]
fn explain_gives_the_seeds_firewall_fix_for_its_interface() {
    let path = fixture("master.conf");
    let out = baton(&["check", "--explain", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let explained = text(&out.stdout);
    assert!(
        explained.contains(
            "firewall-cmd --direct --permanent --add-rule ipv4 filter INPUT 0 --in-interface ens33 --destination 224.0.0.18 --protocol vrrp -j ACCEPT"
        ),
        "{explained}"
    );
    assert!(
        explained.contains("iifname \"ens33\" ip daddr 224.0.0.18 meta l4proto vrrp accept"),
        "{explained}"
    );
}
