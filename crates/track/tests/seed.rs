//! The seed's own health script, run as a vrrp_script by baton inside a fresh PID namespace:
//! it counts nginx with `ps -C nginx`, restarts it when none runs, and when the restart fails
//! runs `killall keepalived` so that the VIP moves. Both branches are exercised; the second
//! shows that a process named `keepalived` (how baton is meant to be reachable by that
//! command) receives the signal.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use baton_track::{ScriptOutcome, TrackEvent};
use common::procs::*;
use common::*;

const TEST: &str = "the_seed_health_script_restarts_nginx_or_kills_keepalived";

/// The blog post's chk_nginx_pid.sh, with its nginx command line as the only change.
fn seed_script(nginx: &str) -> String {
    format!(
        "#!/bin/bash\n\
         \n\
         A=`ps -C nginx --no-header |wc -l`\n\
         if [ $A -eq 0 ];then\n\
         {nginx}\n\
         if [ `ps -C nginx --no-header |wc -l` -eq 0 ];then\n\
         killall keepalived\n\
         fi\n\
         fi\n"
    )
}

#[test]
fn the_seed_health_script_restarts_nginx_or_kills_keepalived() {
    if is_inner(TEST) {
        return runtime().block_on(inner());
    }
    require_root!("creating a PID namespace");
    if !Path::new("/usr/sbin/nginx").exists() || !Path::new("/usr/bin/killall").exists() {
        eprintln!("skipped: needs nginx and psmisc (scripts/test installs them)");
        return;
    }
    let (ok, output) = run_inner(TEST, &["--pid", "--fork", "--mount-proc"]);
    eprintln!("{output}");
    assert!(ok, "inner test failed:\n{output}");
}

async fn inner() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "daemon on; master_process on; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 16; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{ listen unix:{d}/sock; return 200; }} }}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let good = format!("/usr/sbin/nginx -e {d}/error.log -p {d} -c {d}/nginx.conf");
    let broken = format!("/usr/sbin/nginx -e {d}/error.log -p {d} -c {d}/missing.conf");
    let check = write_script(dir.path(), "check_nginx.sh", "");
    let set_script = |nginx: &str| std::fs::write(&check, seed_script(nginx)).unwrap();
    set_script(&good);

    // A stand-in for the daemon under the name the script kills.
    let keepalived = named_sleep(dir.path(), "keepalived");
    let mut stand_in = Proc::start(&keepalived, &["60"]);

    let mut config = config_with(vec![
        track_process("nginx", "nginx"),
        track_process("keepalived", "keepalived"),
    ]);
    // The seed's settings, with a short interval: script, interval, weight 2.
    let mut chk = vrrp_script("check_nginx", &[check.to_str().unwrap()], 300, 3000);
    chk.weight = 2;
    std::sync::Arc::make_mut(&mut config.instances[0].tracking)
        .scripts
        .push(track_ref("check_nginx"));
    config.scripts.push(chk);
    let (_trackers, mut rx) = start(&config, &fast_options());

    // nginx is not running: the script starts it (master + 1 worker) and succeeds.
    count_of(&mut rx, "keepalived", 1).await;
    count_of(&mut rx, "nginx", 2).await;
    let result = wait_for(&mut rx, 10 * Duration::from_secs(1), "script result", |e| {
        matches!(e, TrackEvent::ScriptResult { .. })
    })
    .await;
    assert_eq!(
        result,
        TrackEvent::ScriptResult {
            name: "check_nginx".into(),
            outcome: ScriptOutcome::Success
        }
    );

    // nginx dies and cannot be restarted: the script runs `killall keepalived`.
    set_script(&broken);
    let _ = Command::new("killall").args(["-9", "nginx"]).status();
    count_of(&mut rx, "nginx", 0).await;
    // We are PID 1 here, so the killed nginx processes are our zombies until reaped, and
    // `ps -C nginx` counts zombies: reap them, as an init would.
    assert!(
        eventually(5 * Duration::from_secs(1), || {
            let zombies = nginx_zombies();
            for pid in &zombies {
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(*pid), None);
            }
            zombies.is_empty()
        })
        .await
    );
    count_of(&mut rx, "keepalived", 0).await;
    let status = stand_in.0.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGTERM),
        "killall sends SIGTERM"
    );
    stand_in.kill();
    println!("seed script: restarted nginx, then killed the process named keepalived");
}

fn nginx_zombies() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains("(nginx) Z "))
        })
        .collect()
}
