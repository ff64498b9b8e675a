//! `-t` exit codes, baton beside keepalived 2.2.7 and 2.3.3, case by case as docs/CHECK.md
//! tabulates them: baton's codes are pinned, and each installed keepalived must still answer
//! what the table says. keepalived needs root and a namespace with the interface the files
//! name; without them only baton's column is checked.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const BATON: &str = env!("CARGO_BIN_EXE_baton");
const KEEPALIVED_233: &str = "/opt/baton-peers/keepalived-2.3.3/sbin/keepalived";

/// One row of docs/CHECK.md: the case's label and the three codes.
#[derive(Debug)]
struct Row {
    case: String,
    k227: i32,
    k233: i32,
    baton: i32,
}

fn table() -> Vec<Row> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CHECK.md"))
            .unwrap();
    doc.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| case"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            Row {
                case: cells[1].to_string(),
                k227: cells[2].parse().unwrap(),
                k233: cells[3].parse().unwrap(),
                baton: cells[4].parse().unwrap(),
            }
        })
        .collect()
}

const INSTANCE: &str = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        192.168.5.10\n    }\n}\n";

fn tracking(script: &str) -> String {
    format!(
        "vrrp_script chk {{\n    script \"{script}\"\n}}\nvrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    track_script {{\n        chk\n    }}\n    virtual_ipaddress {{\n        192.168.5.10\n    }}\n}}\n"
    )
}

/// The file of one case (inside `dir`), by the start of its label in the table.
fn case_file(dir: &Path, case: &str) -> PathBuf {
    let ok = dir.join("ok.sh");
    let open = dir.join("open.sh");
    let ok_s = ok.display().to_string();
    let text = if case.starts_with("clean") {
        INSTANCE.to_string()
    } else if case.starts_with("error") {
        INSTANCE.replace("priority 100", "priority 300")
    } else if case.starts_with("unknown keyword") {
        format!("global_defs {{\n    no_such_keyword\n}}\n{INSTANCE}")
    } else if case.starts_with("baton's own `baton_metrics") {
        format!("global_defs {{\n    baton_metrics 127.0.0.1:9650\n}}\n{INSTANCE}")
    } else if case.starts_with("script, no") {
        tracking(&ok_s)
    } else if case.starts_with("script with") {
        format!(
            "global_defs {{\n    enable_script_security\n    script_user root\n}}\n{}",
            tracking(&ok_s)
        )
    } else if case.starts_with("script writable") {
        format!(
            "global_defs {{\n    enable_script_security\n    script_user root\n}}\n{}",
            tracking(&open.display().to_string())
        )
    } else if case.starts_with("`enable_script_security`, no") {
        format!(
            "global_defs {{\n    enable_script_security\n}}\n{}",
            tracking(&ok_s)
        )
    } else if case.starts_with("script file missing") {
        tracking(&dir.join("missing.sh").display().to_string())
    } else if case.starts_with("\"system\"") {
        tracking("</dev/tcp/127.0.0.1/80")
    } else if case.starts_with("empty") {
        String::new()
    } else if case.starts_with("only `global_defs`") {
        "global_defs {\n    router_id x\n}\n".to_string()
    } else if case.starts_with("file does not exist") {
        return dir.join("does-not-exist.conf");
    } else {
        panic!("docs/CHECK.md has a case this test does not know: {case}");
    };
    let path = dir.join(format!("case-{}.conf", case.len()));
    std::fs::write(&path, text).unwrap();
    path
}

/// Scripts the cases name: one fine, one anyone may write.
fn scripts(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, mode) in [("ok.sh", 0o755), ("open.sh", 0o777)] {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn code(program: &str, file: &Path, netns: Option<&baton_lab::Host>) -> i32 {
    let mut cmd = Command::new(program);
    cmd.arg("-t").arg("-f").arg(file);
    let out = match netns {
        Some(h) => h.run(&mut cmd).unwrap(),
        None => cmd.output().unwrap(),
    };
    out.status.code().unwrap_or(-1)
}

#[test]
fn the_table_holds_for_baton() {
    let rows = table();
    assert_eq!(rows.len(), 13, "{rows:#?}");
    // A machine without root cannot tell the interface exists: run where eth0 is if we can.
    let lab = baton_lab::require_root().then(|| baton_lab::Lab::new("checkcodes").unwrap());
    let host = lab.as_ref().map(|l| {
        l.add_host(
            baton_lab::HostSpec::new("k")
                .ifname("eth0")
                .addr("192.168.5.11/24"),
        )
        .unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path());
    // Running as non-root, the ok script belongs to us: script security would refuse it.
    if host.is_none() {
        eprintln!("not root: baton's codes are checked without eth0 (warnings differ only)");
    }
    for r in &rows {
        let f = case_file(dir.path(), &r.case);
        assert_eq!(code(BATON, &f, host.as_ref()), r.baton, "baton: {}", r.case);
    }
}

#[test]
fn the_table_holds_for_each_installed_keepalived() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = baton_lab::Lab::new("checkcodes-ka").unwrap();
    let host = lab
        .add_host(
            baton_lab::HostSpec::new("k")
                .ifname("eth0")
                .addr("192.168.5.11/24"),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path());
    let mut ran = 0;
    for (program, version, column) in [
        ("keepalived", "2.2.7", 0usize),
        (KEEPALIVED_233, "2.3.3", 1usize),
    ] {
        let v = Command::new(program).arg("-v").output();
        let Ok(v) = v else {
            eprintln!("skipped keepalived {version}: {program} not installed");
            continue;
        };
        let text =
            String::from_utf8_lossy(&v.stdout).into_owned() + &String::from_utf8_lossy(&v.stderr);
        if !text.contains(&format!("v{version} ")) {
            eprintln!("skipped keepalived {version}: {program} is {text}");
            continue;
        }
        ran += 1;
        for r in table() {
            let f = case_file(dir.path(), &r.case);
            let want = if column == 0 { r.k227 } else { r.k233 };
            assert_eq!(
                code(program, &f, Some(&host)),
                want,
                "keepalived {version}: {}",
                r.case
            );
        }
    }
    eprintln!("{ran} keepalived version(s) checked against docs/CHECK.md");
}
