//! vrrp_script on real processes: results, bad inputs, timeouts, process groups, users.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use baton_conf::RunAs;
use baton_track::{ScriptOutcome, ScriptPolicy, TrackEvent, TrackerKind, Trackers};
use common::*;

const SECOND: Duration = Duration::from_secs(1);

fn outcome_of(event: &TrackEvent) -> Option<(&str, &ScriptOutcome)> {
    match event {
        TrackEvent::ScriptResult { name, outcome } => Some((name, outcome)),
        _ => None,
    }
}

async fn first_result(
    rx: &mut tokio::sync::mpsc::Receiver<TrackEvent>,
    name: &str,
) -> ScriptOutcome {
    let event = wait_for(rx, 5 * SECOND, name, |e| {
        outcome_of(e).is_some_and(|(n, _)| n == name)
    })
    .await;
    outcome_of(&event).unwrap().1.clone()
}

fn start(config: &baton_conf::Config) -> (Trackers, tokio::sync::mpsc::Receiver<TrackEvent>) {
    let options = fast_options();
    let policy = ScriptPolicy::new(&config.global, &options);
    let started = Trackers::start(config, &policy, &options).unwrap();
    policy.log_summary();
    started
}

#[tokio::test]
async fn exit_status_and_signals_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write_script(dir.path(), "ok.sh", "exit 0\n");
    let fail = write_script(dir.path(), "fail.sh", "exit 3\n");
    let signal = write_script(dir.path(), "signal.sh", "kill -USR1 $$\nsleep 5\n");
    let config = config_with_scripts(vec![
        vrrp_script("ok", &[ok.to_str().unwrap()], 1000, 2000),
        vrrp_script("fail", &[fail.to_str().unwrap()], 1000, 2000),
        vrrp_script("signal", &[signal.to_str().unwrap()], 1000, 2000),
    ]);
    let (_trackers, mut rx) = start(&config);
    assert_eq!(first_result(&mut rx, "ok").await, ScriptOutcome::Success);
    assert_eq!(
        first_result(&mut rx, "fail").await,
        ScriptOutcome::Failed(3)
    );
    assert_eq!(
        first_result(&mut rx, "signal").await,
        ScriptOutcome::Signalled(libc::SIGUSR1)
    );
}

#[tokio::test]
async fn no_shell_unless_the_command_names_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let marker = dir.path().join("marker");
    let echo = write_script(
        dir.path(),
        "echo.sh",
        &format!("printf '%s' \"$1\" > {}\n", out.display()),
    );
    let injected = format!("$(touch {})", marker.display());
    let shell_line = "exit 4".to_string();
    let config = config_with_scripts(vec![
        vrrp_script("literal", &[echo.to_str().unwrap(), &injected], 1000, 2000),
        vrrp_script("shell", &["/bin/sh", "-c", &shell_line], 1000, 2000),
    ]);
    let (_trackers, mut rx) = start(&config);
    assert_eq!(
        first_result(&mut rx, "literal").await,
        ScriptOutcome::Success
    );
    // The argument arrived as written and nothing interpreted it.
    assert_eq!(fs::read_to_string(&out).unwrap(), injected);
    assert!(!marker.exists());
    assert_eq!(
        first_result(&mut rx, "shell").await,
        ScriptOutcome::Failed(4)
    );
}

#[tokio::test]
async fn redirection_tests_run_through_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let present = dir.path().join("present");
    fs::write(&present, "x").unwrap();
    let yes = format!("<{}", present.display());
    let no = format!("<{}", dir.path().join("absent").display());
    let config = config_with_scripts(vec![
        vrrp_script("present", &[&yes], 1000, 2000),
        vrrp_script("absent", &[&no], 1000, 2000),
    ]);
    let (_trackers, mut rx) = start(&config);
    assert_eq!(
        first_result(&mut rx, "present").await,
        ScriptOutcome::Success
    );
    assert!(matches!(
        first_result(&mut rx, "absent").await,
        ScriptOutcome::Failed(_)
    ));
}

#[tokio::test]
async fn missing_and_unexecutable_scripts_are_disabled_and_the_rest_keeps_running() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-check.sh");
    let plain = write_script(dir.path(), "plain.sh", "exit 0\n");
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
    let ok = write_script(dir.path(), "ok.sh", "exit 0\n");
    let config = config_with_scripts(vec![
        vrrp_script("missing", &[missing.to_str().unwrap()], 100, 1000),
        vrrp_script("plain", &[plain.to_str().unwrap()], 100, 1000),
        vrrp_script("ok", &[ok.to_str().unwrap()], 100, 1000),
    ]);
    let (_trackers, mut rx) = start(&config);
    let mut disabled = Vec::new();
    let mut ok_results = 0;
    let mut started = 0;
    while disabled.len() < 2 || ok_results < 3 {
        match next_event(&mut rx, 5 * SECOND, "disabled scripts and ok results").await {
            TrackEvent::Disabled { kind, name, reason } => {
                assert_eq!(kind, TrackerKind::Script);
                disabled.push((name.to_string(), reason));
            }
            TrackEvent::ScriptResult { name, outcome } => {
                assert_eq!(&*name, "ok", "only the good script runs");
                assert_eq!(outcome, ScriptOutcome::Success);
                assert_eq!(
                    started,
                    ok_results + 1,
                    "each run is announced before its result"
                );
                ok_results += 1;
            }
            TrackEvent::ScriptStarted { name } => {
                assert_eq!(&*name, "ok", "only the good script starts");
                started += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    disabled.sort();
    assert_eq!(disabled[0].0, "missing");
    assert!(
        disabled[0].1.contains(missing.to_str().unwrap()),
        "{}",
        disabled[0].1
    );
    assert!(disabled[0].1.contains("No such file"), "{}", disabled[0].1);
    assert_eq!(disabled[1].0, "plain");
    assert!(
        disabled[1].1.contains("is not executable"),
        "{}",
        disabled[1].1
    );
    // The log says which script and why, and that it is disabled.
    let text = logs.text();
    assert!(
        text.contains("vrrp_script missing") && text.contains("disabling"),
        "{text}"
    );
    assert!(text.contains(plain.to_str().unwrap()), "{text}");
}

#[tokio::test]
async fn insecure_script_is_refused_with_security_and_warned_about_once_without() {
    require_root!("ownership checks need root-owned files");
    let dir = tempfile::tempdir().unwrap();
    let check = write_script(dir.path(), "chk.sh", "exit 0\n");
    fs::set_permissions(&check, fs::Permissions::from_mode(0o777)).unwrap();
    let safe = write_script(dir.path(), "safe.sh", "exit 0\n");

    // With enable_script_security: refused, the offending path and the reason named.
    {
        let (logs, _guard) = Logs::capture();
        let mut config = config_with_scripts(vec![vrrp_script(
            "chk",
            &[check.to_str().unwrap()],
            100,
            1000,
        )]);
        config.global.enable_script_security = true;
        config.global.script_user = Some(RunAs {
            user: "root".into(),
            group: None,
        });
        let (_trackers, mut rx) = start(&config);
        let event = next_event(&mut rx, 5 * SECOND, "refusal").await;
        let TrackEvent::Disabled { reason, .. } = event else {
            panic!("expected the script to be disabled, got {event:?}");
        };
        assert!(reason.contains(check.to_str().unwrap()), "{reason}");
        assert!(reason.contains("writable by every user"), "{reason}");
        assert!(
            logs.contains("unsafe permissions found for script"),
            "{}",
            logs.text()
        );
        assert!(!logs.contains("SECURITY VIOLATION"));
    }

    // Without it: it runs, and keepalived's one warning is given once.
    let (logs, _guard) = Logs::capture();
    let mut config = config_with_scripts(vec![
        vrrp_script("chk", &[check.to_str().unwrap()], 100, 1000),
        vrrp_script("safe", &[safe.to_str().unwrap()], 100, 1000),
    ]);
    config.global.script_user = Some(RunAs {
        user: "root".into(),
        group: None,
    });
    let (_trackers, mut rx) = start(&config);
    assert_eq!(first_result(&mut rx, "chk").await, ScriptOutcome::Success);
    assert_eq!(logs.lines_with("SECURITY VIOLATION"), 1, "{}", logs.text());
    assert!(logs.contains("There are insecure scripts."));
}

#[tokio::test]
async fn hanging_script_is_killed_with_its_children_at_timeout() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let pgid_file = dir.path().join("pgid");
    // Leader and children ignore SIGTERM, so only the SIGKILL to the group ends them.
    let body = format!(
        "trap '' TERM\necho $$ > {}\nsleep 30 &\nsh -c 'sleep 30' &\nsleep 30\n",
        pgid_file.display()
    );
    let hang = write_script(dir.path(), "hang.sh", &body);
    let config = config_with_scripts(vec![vrrp_script(
        "hang",
        &[hang.to_str().unwrap()],
        10_000,
        200,
    )]);
    let (_trackers, mut rx) = start(&config);
    let started = tokio::time::Instant::now();
    assert_eq!(first_result(&mut rx, "hang").await, ScriptOutcome::TimedOut);
    // timeout 200 ms + grace 300 ms, and not much more.
    assert!(
        started.elapsed() < 2 * SECOND,
        "took {:?}",
        started.elapsed()
    );
    let pgid: i32 = fs::read_to_string(&pgid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually(2 * SECOND, || live_members_of_group(pgid).is_empty()).await,
        "processes of group {pgid} survived: {:?}",
        live_members_of_group(pgid)
    );
    assert!(
        logs.contains("failed to terminate after SIGTERM"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_megabyte_of_output_does_not_stall_anything() {
    let dir = tempfile::tempdir().unwrap();
    let chatty = write_script(
        dir.path(),
        "chatty.sh",
        "head -c 1048576 /dev/zero\nhead -c 1048576 /dev/zero >&2\nexit 0\n",
    );
    let config = config_with_scripts(vec![vrrp_script(
        "chatty",
        &[chatty.to_str().unwrap()],
        10_000,
        5000,
    )]);
    let (_trackers, mut rx) = start(&config);
    let started = tokio::time::Instant::now();
    assert_eq!(
        first_result(&mut rx, "chatty").await,
        ScriptOutcome::Success
    );
    assert!(
        started.elapsed() < 3 * SECOND,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn runs_never_overlap_and_skipped_runs_are_logged() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("lock");
    let overlap = dir.path().join("overlap");
    let starts = dir.path().join("starts");
    // mkdir is atomic: a second run while one is in progress would fail it.
    let body = format!(
        "echo start >> {starts}\nmkdir {lock} || {{ touch {overlap}; exit 9; }}\nsleep 0.18\nrmdir {lock}\n",
        starts = starts.display(),
        lock = lock.display(),
        overlap = overlap.display()
    );
    let slow = write_script(dir.path(), "slow.sh", &body);
    let config = config_with_scripts(vec![vrrp_script(
        "slow",
        &[slow.to_str().unwrap()],
        50,
        1000,
    )]);
    let (trackers, mut rx) = start(&config);
    for _ in 0..4 {
        assert_eq!(first_result(&mut rx, "slow").await, ScriptOutcome::Success);
    }
    trackers.stop().await;
    assert!(!overlap.exists(), "two runs overlapped");
    let runs = fs::read_to_string(&starts).unwrap().lines().count();
    assert!((4..=5).contains(&runs), "{runs} runs started for 4 results");
    assert!(
        logs.contains("Track script slow is already running, expect idle - skipping run"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn stopping_the_trackers_kills_a_running_script() {
    let dir = tempfile::tempdir().unwrap();
    let pgid_file = dir.path().join("pgid");
    let body = format!("echo $$ > {}\nsleep 30 &\nsleep 30\n", pgid_file.display());
    let long = write_script(dir.path(), "long.sh", &body);
    let config = config_with_scripts(vec![vrrp_script(
        "long",
        &[long.to_str().unwrap()],
        10_000,
        60_000,
    )]);
    let (trackers, _rx) = start(&config);
    assert!(
        eventually(5 * SECOND, || fs::read_to_string(&pgid_file)
            .is_ok_and(|s| s.ends_with('\n')))
        .await
    );
    let pgid: i32 = fs::read_to_string(&pgid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!live_members_of_group(pgid).is_empty());
    trackers.stop().await;
    assert!(
        eventually(2 * SECOND, || live_members_of_group(pgid).is_empty()).await,
        "survivors: {:?}",
        live_members_of_group(pgid)
    );
}

#[tokio::test]
async fn scripts_nobody_tracks_are_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let unused = write_script(
        dir.path(),
        "unused.sh",
        &format!("touch {}\n", marker.display()),
    );
    let ok = write_script(dir.path(), "ok.sh", "exit 0\n");
    let mut config =
        config_with_scripts(vec![vrrp_script("ok", &[ok.to_str().unwrap()], 50, 1000)]);
    config
        .scripts
        .push(vrrp_script("unused", &[unused.to_str().unwrap()], 50, 1000));
    let (_trackers, mut rx) = start(&config);
    for _ in 0..3 {
        assert_eq!(first_result(&mut rx, "ok").await, ScriptOutcome::Success);
    }
    assert!(!marker.exists());
}

/// A system user made for one test and removed after it, even on panic.
struct TempUser(String);

impl TempUser {
    fn create() -> TempUser {
        let name = format!("btrk{}", std::process::id());
        let status = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "useradd {name} failed");
        TempUser(name)
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel").arg(&self.0).status();
    }
}

#[tokio::test]
async fn scripts_run_as_their_user_the_script_user_or_the_default_user() {
    require_root!("changing user needs root");
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let whoami = write_script(
        dir.path(),
        "whoami.sh",
        "id -u > \"$1\"\nid -g >> \"$1\"\nid -G >> \"$1\"\n",
    );
    let whoami = whoami.to_str().unwrap();
    let ids = |file: &str| fs::read_to_string(out.join(file)).unwrap();

    // `user nobody` on the script.
    let mut own = vrrp_script(
        "own",
        &[whoami, out.join("own").to_str().unwrap()],
        10_000,
        2000,
    );
    own.command.run_as = Some(RunAs {
        user: "nobody".into(),
        group: None,
    });
    let config = config_with_scripts(vec![own]);
    let (_t, mut rx) = start(&config);
    assert_eq!(first_result(&mut rx, "own").await, ScriptOutcome::Success);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let lines: Vec<String> = ids("own").lines().map(str::to_string).collect();
    assert_eq!(lines[0], nobody.uid.to_string());
    assert_eq!(lines[1], nobody.gid.to_string());
    // Root's supplementary groups were dropped.
    assert_eq!(lines[2], nobody.gid.to_string());

    // Global script_user when the script names none.
    let mut config = config_with_scripts(vec![vrrp_script(
        "global",
        &[whoami, out.join("global").to_str().unwrap()],
        10_000,
        2000,
    )]);
    config.global.script_user = Some(RunAs {
        user: "nobody".into(),
        group: None,
    });
    let (_t, mut rx) = start(&config);
    assert_eq!(
        first_result(&mut rx, "global").await,
        ScriptOutcome::Success
    );
    assert!(ids("global").starts_with(&format!("{}\n", nobody.uid)));

    // Neither: the default user when it exists (keepalived_script; a temporary one here,
    // so that no other test on this machine starts running its scripts as someone else).
    let user = TempUser::create();
    let uid = nix::unistd::User::from_name(&user.0).unwrap().unwrap().uid;
    let config = config_with_scripts(vec![vrrp_script(
        "default",
        &[whoami, out.join("default").to_str().unwrap()],
        10_000,
        2000,
    )]);
    let options = baton_track::TrackOptions {
        default_script_user: user.0.clone(),
        ..fast_options()
    };
    let policy = ScriptPolicy::new(&config.global, &options);
    let (_t, mut rx) = Trackers::start(&config, &policy, &options).unwrap();
    assert_eq!(
        first_result(&mut rx, "default").await,
        ScriptOutcome::Success
    );
    assert!(ids("default").starts_with(&format!("{uid}\n")));
}

/// A reload checks its commands on its reading task; the event loop then asks the policy
/// again and must get the answer found then, without a second look at the file system
/// (which could be a hung mount) or the name service.
#[tokio::test]
async fn commands_checked_ahead_are_not_looked_at_again() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write_script(dir.path(), "ok.sh", "exit 0\n");
    let missing = dir.path().join("missing.sh");
    let config = config_with_scripts(vec![
        vrrp_script("ok", &[ok.to_str().unwrap()], 1000, 2000),
        vrrp_script("missing", &[missing.to_str().unwrap()], 1000, 2000),
    ]);
    let options = fast_options();
    let policy = ScriptPolicy::new(&config.global, &options);
    policy.check_ahead(config.commands());
    // The file system changes after the check: the answers stay those of the check.
    fs::remove_file(&ok).unwrap();
    write_script(dir.path(), "missing.sh", "exit 0\n");
    let ok_cmd = &config.scripts[0].command;
    let missing_cmd = &config.scripts[1].command;
    assert!(policy.prepare("vrrp_script ok", ok_cmd).is_ok());
    let refused = policy
        .prepare("vrrp_script missing", missing_cmd)
        .unwrap_err();
    assert!(
        refused.to_string().contains("cannot be accessed"),
        "{refused}"
    );
    // A command the check did not see is looked at now, as before.
    let other = command(&[missing.to_str().unwrap(), "arg"], None);
    assert!(policy.prepare("vrrp_script other", &other).is_ok());
}
