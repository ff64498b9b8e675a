//! MISC_CHECK (exit codes, misc_dynamic weights, a script that hangs, one that prints
//! megabytes, an insecure one) and FILE_CHECK (inotify), run by the real checker thread.
//! Nothing here needs the network: the checks are local.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use baton_check::{CheckState, Verdict, WeightEffect};
use baton_conf::{LoadOptions, RealHost};
use common::{RS, Run, load};

fn case(v: &Verdict) -> u32 {
    v.checker.rs.vs.0
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn vs(i: usize, check: &str) -> String {
    format!(
        "virtual_server 10.0.9.{} 80 {{\n delay_loop 1\n warmup 0\n protocol TCP\n real_server {RS} 80 {{\n{check}\n }}\n}}\n",
        100 + i
    )
}

fn wait_case(
    run: &mut Run,
    c: u32,
    within: Duration,
    state: impl Fn(&CheckState) -> bool,
) -> Verdict {
    run.wait_for(&format!("case {c}"), within, |v| {
        case(v) == c && state(&v.state)
    })
}

#[test]
fn misc_check_exit_codes_and_dynamic_weights() {
    let dir = tempfile::tempdir().unwrap();
    // The scripts exit with the number in their state file.
    let plain_state = dir.path().join("plain");
    let dyn_state = dir.path().join("dynamic");
    fs::write(&plain_state, "0").unwrap();
    fs::write(&dyn_state, "7").unwrap();
    let plain = script(
        dir.path(),
        "plain.sh",
        &format!("exit $(cat {})", plain_state.display()),
    );
    let dynamic = script(
        dir.path(),
        "dyn.sh",
        &format!("exit $(cat {})", dyn_state.display()),
    );
    let text = vs(
        0,
        &format!("MISC_CHECK {{\n misc_path {plain}\n misc_timeout 2\n}}"),
    ) + &vs(
        1,
        &format!("MISC_CHECK {{\n misc_path {dynamic}\n misc_dynamic\n}}"),
    );
    let mut run = Run::start_here(&load(&text));

    let up = wait_case(&mut run, 0, Duration::from_secs(3), CheckState::is_up);
    assert_eq!(
        up.reason,
        format!(
            "Misc check for [[10.0.9.21]:tcp:80 VS [10.0.9.100]:tcp:80] by [{plain}] succeeded."
        )
    );
    let w = wait_case(&mut run, 1, Duration::from_secs(3), CheckState::is_up);
    assert_eq!(
        w.state,
        CheckState::Up(WeightEffect::Set(5)),
        "exit 7 is weight 5"
    );

    fs::write(&plain_state, "1").unwrap();
    fs::write(&dyn_state, "12").unwrap();
    let down = wait_case(&mut run, 0, Duration::from_secs(3), |s| {
        *s == CheckState::Down
    });
    assert!(
        down.reason
            .ends_with("failed with retry disabled (exited with status 1)."),
        "{}",
        down.reason
    );
    let w = wait_case(&mut run, 1, Duration::from_secs(3), |s| {
        *s == CheckState::Up(WeightEffect::Set(10))
    });
    assert!(w.reason.contains("weight 10"), "{}", w.reason);

    // 1 is down even with misc_dynamic; 0 is up with the configured weight.
    fs::write(&dyn_state, "1").unwrap();
    wait_case(&mut run, 1, Duration::from_secs(3), |s| {
        *s == CheckState::Down
    });
    fs::write(&dyn_state, "0").unwrap();
    wait_case(&mut run, 1, Duration::from_secs(3), |s| {
        *s == CheckState::Up(WeightEffect::Configured)
    });
    run.stop();
}

/// A script that hangs is killed at misc_timeout with everything it started, and counts as
/// a failure; one that prints megabytes is judged by its exit status alone; the other
/// checkers carry on meanwhile.
#[test]
fn hung_and_chatty_scripts_cost_only_their_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // Each run notes its pid and starts a child carrying it, then hangs.
    let pids = dir.path().join("pids");
    let hang = script(
        dir.path(),
        "hang.sh",
        &format!(
            "echo $$ >> {}\nsh -c \"sleep 60; echo baton-hang-$$\" &\nsleep 60",
            pids.display()
        ),
    );
    let chatty = script(
        dir.path(),
        "chatty.sh",
        "head -c 20000000 /dev/zero\nexit 0",
    );
    let flip_state = dir.path().join("flip");
    fs::write(&flip_state, "0").unwrap();
    let flip = script(
        dir.path(),
        "flip.sh",
        &format!("exit $(cat {})", flip_state.display()),
    );
    let text = vs(
        0,
        &format!("MISC_CHECK {{\n misc_path {hang}\n misc_timeout 1\n}}"),
    ) + &vs(
        1,
        &format!("MISC_CHECK {{\n misc_path {chatty}\n misc_timeout 5\n}}"),
    ) + &vs(2, &format!("MISC_CHECK {{\n misc_path {flip}\n}}"));
    let started = Instant::now();
    let mut run = Run::start_here(&load(&text));
    wait_case(&mut run, 1, Duration::from_secs(5), CheckState::is_up);
    wait_case(&mut run, 2, Duration::from_secs(2), CheckState::is_up);
    // The other checkers answer while the hung one is being waited for.
    fs::write(&flip_state, "1").unwrap();
    let flipped = wait_case(&mut run, 2, Duration::from_secs(3), |s| {
        *s == CheckState::Down
    });
    let down = wait_case(&mut run, 0, Duration::from_secs(4), |s| {
        *s == CheckState::Down
    });
    assert!(
        down.reason.ends_with("timed out with retry disabled."),
        "{}",
        down.reason
    );
    eprintln!(
        "hung script judged after {:?}; flip judged after {:?}",
        down.at - started,
        flipped.at - started
    );
    // Killed with the process group: nothing the first run started survives (kill grace
    // is 0.3 s in these tests; a second run has started by now).
    std::thread::sleep(Duration::from_millis(500));
    let first: String = fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .into();
    assert!(
        !Path::new(&format!("/proc/{first}")).exists(),
        "the hung script itself survived"
    );
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("baton-hang-{first}")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "the hung script's children survived: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    run.stop();
}

/// With enable_script_security, a script that would run as root from a path anyone can
/// change is never run: the checker is removed, with the reason; the others run.
#[test]
fn insecure_misc_script_is_refused_and_the_rest_runs() {
    if !baton_lab::require_root() {
        eprintln!("skipped: needs root (the script's owner and directory are judged as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let bad = script(dir.path(), "bad.sh", "exit 0");
    let good_dir = tempfile::tempdir().unwrap();
    let good = script(good_dir.path(), "good.sh", "exit 0");
    let text = "global_defs {\n enable_script_security\n script_user root\n}\n".to_string()
        + &vs(0, &format!("MISC_CHECK {{\n misc_path {bad}\n}}"))
        + &vs(1, &format!("MISC_CHECK {{\n misc_path {good}\n}}"));
    // The configuration says so where the script is named ...
    let loaded = baton_conf::load_str("keepalived.conf", &text, &LoadOptions::default(), &RealHost);
    let said: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    eprintln!("diagnostics: {said:#?}");
    let config = loaded.config.unwrap();
    let mut run = Run::start_here(&config);
    // ... and the checker, if the configuration kept it, refuses to run it.
    let mut verdicts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Some(v) = run.next(Duration::from_millis(200)) {
            verdicts.push(v);
        }
    }
    let good_up = verdicts
        .iter()
        .any(|v| v.state.is_up() && v.reason.contains("good.sh"));
    assert!(good_up, "the secure script runs: {verdicts:#?}");
    assert!(
        !verdicts
            .iter()
            .any(|v| v.state.is_up() && v.reason.contains("bad.sh")),
        "the insecure script never judged a server up: {verdicts:#?}"
    );
    let refused_here = verdicts
        .iter()
        .any(|v| v.state == CheckState::Removed && v.reason.contains("unsafe permissions"));
    let refused_by_conf = said.iter().any(|d| d.contains("bad.sh"));
    assert!(
        refused_here || refused_by_conf,
        "the insecure script is refused with a reason"
    );
    run.stop();
}

#[test]
fn file_check_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let weight_file = dir.path().join("weight");
    let fault_file = dir.path().join("fault");
    fs::write(&weight_file, "3\n").unwrap();
    let text = format!(
        "track_file weights {{\n file {}\n weight 2\n}}\n\
         track_file faults {{\n file {}\n init_file 0\n}}\n",
        weight_file.display(),
        fault_file.display()
    ) + &vs(0, "FILE_CHECK {\n track_file weights\n}")
        + &vs(1, "FILE_CHECK {\n track_file faults\n weight 0\n}");
    let mut run = Run::start_here(&load(&text));
    let w = wait_case(&mut run, 0, Duration::from_secs(2), CheckState::is_up);
    assert_eq!(w.state, CheckState::Up(WeightEffect::Offset(6)));
    assert_eq!(w.file_value, Some(3), "the number read, for the core");
    wait_case(&mut run, 1, Duration::from_secs(2), |s| {
        *s == CheckState::Up(WeightEffect::Offset(0))
    });
    assert_eq!(
        fs::read_to_string(&fault_file).unwrap().trim(),
        "0",
        "init_file"
    );

    let t = Instant::now();
    fs::write(&weight_file, "-5\n").unwrap();
    let w = wait_case(&mut run, 0, Duration::from_secs(2), |s| {
        *s == CheckState::Up(WeightEffect::Offset(-10))
    });
    eprintln!("weight change seen after {:?}", w.at - t);
    assert_eq!(w.file_value, Some(-5));
    fs::write(&fault_file, "1\n").unwrap();
    let d = wait_case(&mut run, 1, Duration::from_secs(2), |s| {
        *s == CheckState::Down
    });
    assert_eq!(d.file_value, Some(1));
    assert!(d.reason.contains("now FAULT state"), "{}", d.reason);
    // Replaced by rename, as editors and config tools do.
    let tmp = dir.path().join("fault.tmp");
    fs::write(&tmp, "0\n").unwrap();
    fs::rename(&tmp, &fault_file).unwrap();
    wait_case(&mut run, 1, Duration::from_secs(2), CheckState::is_up);
    // Removed: value 0.
    fs::remove_file(&weight_file).unwrap();
    wait_case(&mut run, 0, Duration::from_secs(2), |s| {
        *s == CheckState::Up(WeightEffect::Offset(0))
    });
    run.stop();
}

/// A reload keeps checkers that compare equal (no new verdict), restarts one whose timing
/// changed from the state it had (no new verdict either), stops removed ones and starts
/// new ones.
#[test]
fn reload_keeps_what_compares_equal() {
    let dir = tempfile::tempdir().unwrap();
    let ok = script(dir.path(), "ok.sh", "exit 0");
    let other = script(dir.path(), "other.sh", "exit 0");
    let a = vs(0, &format!("MISC_CHECK {{\n misc_path {ok}\n}}"));
    let b = vs(1, &format!("MISC_CHECK {{\n misc_path {other}\n}}"));
    let mut run = Run::start_here(&load(&(a.clone() + &b)));
    wait_case(&mut run, 0, Duration::from_secs(3), CheckState::is_up);
    wait_case(&mut run, 1, Duration::from_secs(3), CheckState::is_up);
    let options = common::options();
    let checkers = run.checkers.as_ref().unwrap();

    // The same configuration, moved down a line: nothing is said again.
    let moved = format!("\n{a}{b}");
    checkers.reload_config(&load(&moved), &options).unwrap();
    run.quiet_for(Duration::from_millis(2500));

    // The first checker's timing changes and the second goes: still nothing said, one
    // checker left.
    let slower = a.replace("delay_loop 1", "delay_loop 2");
    let checkers = run.checkers.as_ref().unwrap();
    checkers.reload_config(&load(&slower), &options).unwrap();
    run.quiet_for(Duration::from_millis(2500));
    let status = run.checkers.as_ref().unwrap().status();
    assert_eq!(status.len(), 1, "{status:#?}");
    assert!(status[0].state.is_some_and(|s| s.is_up()));

    // A new checker is started and judged.
    let third = vs(
        1,
        &format!("MISC_CHECK {{\n misc_path {other}\n misc_dynamic\n}}"),
    );
    let checkers = run.checkers.as_ref().unwrap();
    checkers
        .reload_config(&load(&(slower + &third)), &options)
        .unwrap();
    wait_case(&mut run, 1, Duration::from_secs(3), CheckState::is_up);
    run.stop();
}

/// `ha_suspend`: a paused virtual server's checkers judge nothing until resumed, and then
/// carry on from the state they had.
#[test]
fn paused_checkers_judge_nothing_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::write(&state, "0").unwrap();
    let flip = script(
        dir.path(),
        "flip.sh",
        &format!("exit $(cat {})", state.display()),
    );
    let text = vs(0, &format!("MISC_CHECK {{\n misc_path {flip}\n}}"));
    let mut run = Run::start_here(&load(&text));
    wait_case(&mut run, 0, Duration::from_secs(3), CheckState::is_up);
    let checkers = run.checkers.as_ref().unwrap();
    checkers
        .set_enabled(baton_conf::VirtualServerId(0), false)
        .unwrap();
    fs::write(&state, "1").unwrap();
    run.quiet_for(Duration::from_millis(2500));
    let status = run.checkers.as_ref().unwrap().status();
    assert!(status[0].state.is_some_and(|s| s.is_up()), "{status:#?}");
    let checkers = run.checkers.as_ref().unwrap();
    checkers
        .set_enabled(baton_conf::VirtualServerId(0), true)
        .unwrap();
    wait_case(&mut run, 0, Duration::from_secs(3), |s| {
        *s == CheckState::Down
    });
    run.stop();
}
