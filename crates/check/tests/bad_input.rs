//! Bad checker configuration: the configuration names every problem where it was written
//! (file:line:col), a checker the engines cannot run is removed with the reason, and every
//! other checker runs. The real server is on loopback: nothing leaves the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use baton_check::CheckState;
use baton_conf::{LoadOptions, RealHost};
use common::Run;

#[test]
fn bad_checkers_are_named_and_the_rest_run() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.sh");
    fs::write(&ok, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&ok, fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!(
        "virtual_server 127.0.0.1 80 {{
    delay_loop 1
    warmup 0
    protocol TCP
    real_server 127.0.0.1 9 {{
        TCP_CHECK {{
            connect_port 70000
            colour blue
            retry -1
        }}
        HTTP_GET {{
            url {{
                path /
                regex \"(?<=a)b\"
            }}
        }}
        MISC_CHECK {{
            misc_path {}
        }}
    }}
}}
",
        ok.display()
    );
    let loaded = baton_conf::load_str("keepalived.conf", &text, &LoadOptions::default(), &RealHost);
    let said: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    eprintln!("{said:#?}");
    for (line, what) in [(7, "70000"), (8, "colour"), (9, "-1")] {
        assert!(
            said.iter()
                .any(|d| d.starts_with(&format!("keepalived.conf:{line}:")) && d.contains(what)),
            "a diagnostic at line {line} about {what}: {said:#?}"
        );
    }
    let config = loaded.config.expect("still usable");
    let mut run = Run::start_here(&config);
    let removed = run.wait_for("the regex checker removed", Duration::from_secs(3), |v| {
        v.state == CheckState::Removed
    });
    assert_eq!(removed.checker.index, 1);
    assert!(
        removed.reason.contains("regex '(?<=a)b' cannot be used"),
        "{}",
        removed.reason
    );
    run.wait_for("the script checker up", Duration::from_secs(3), |v| {
        v.checker.index == 2 && v.state.is_up()
    });
    // The checker thread is alive and answering.
    let t = Instant::now();
    let status = run.checkers.as_ref().unwrap().status();
    assert_eq!(status.len(), 3, "{status:#?}");
    assert!(t.elapsed() < Duration::from_millis(100));
    run.stop();
}
