//! The baton binary as systemd and an operator drive it: pid file, control socket, sd_notify,
//! signals, `-t`. Needs no root: everything lives in a temporary directory.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BATON: &str = env!("CARGO_BIN_EXE_baton");

/// The seed's master configuration, comments and all, but for its interface: these tests run
/// the daemon in the machine's own network namespace, so it names an interface no machine
/// has and the daemon sends nothing anywhere (the instance waits in FAULT for it).
const SEED_MASTER: &str = "! Configuration File for keepalived

global_defs {
router_id 192.168.5.11 # keepalived的唯一标识
}

vrrp_instance VI_1 {
state MASTER # 初始状态,MASTER 和 BACKUP
interface baton-absent0 # 系统使用的网卡接口名称,可以使用ip addr查看
virtual_router_id 51 # 组名,参与此虚拟机ip的机器配置一样的值,即一个集群内的机器都使用同一个值
priority 200 # 优先级,数值大的优先级高,组内最高的胜出
advert_int 1 # 心跳检测1秒一次
authentication { # 授权,无需改动
auth_type PASS
auth_pass 1111
}
virtual_ipaddress {
192.168.5.10 # 虚拟ip
}
}
";

struct Daemon {
    child: Child,
    notify: UnixDatagram,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(dir: &Path, pidfile: &Path) -> Daemon {
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, SEED_MASTER).unwrap();
        let sock = dir.join(format!(
            "notify-{}",
            pidfile.file_name().unwrap().to_string_lossy()
        ));
        let notify = UnixDatagram::bind(&sock).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let child = Command::new(BATON)
            .args(["--dont-fork", "--log-console", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(pidfile)
            .env("NOTIFY_SOCKET", &sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Daemon { child, notify }
    }

    /// The next sd_notify datagram.
    fn notified(&self) -> String {
        let mut buf = [0u8; 1024];
        let n = self
            .notify
            .recv(&mut buf)
            .expect("no sd_notify message within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn signal(&self, s: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), s).unwrap();
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "daemon did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn baton(args: &[&str]) -> Output {
    Command::new(BATON).args(args).output().unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn daemon_notifies_systemd_answers_status_refuses_a_twin_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("ns1.pid");
    let socket = dir.path().join("ns1.sock");
    let mut d = Daemon::start(dir.path(), &pidfile);
    let ready = d.notified();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    assert!(ready.lines().any(|l| l.starts_with("STATUS=")), "{ready}");

    let pid = d.child.id();
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{pid}\n")
    );
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "control socket mode {mode:o}");

    // `baton status` finds the socket from -p alone.
    let out = baton(&["status", "--json", "-p", path_str(&pidfile)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["daemon"]["pid"], pid);
    // The protocol core runs the instance: without its interface it waits in FAULT.
    let vi = &v["instances"][0];
    assert_eq!(vi["name"], "VI_1");
    assert_eq!(vi["state"], "Fault", "{vi}");
    assert_eq!(vi["faults"][0], "interface baton-absent0 down", "{vi}");
    assert_eq!(vi["vips_held"], serde_json::json!([]));
    let table = baton(&["status", "--control-socket", path_str(&socket)]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with(&format!("baton pid {pid} config ")),
        "{text}"
    );

    // A second daemon on the same pid file is refused, naming the file and the running pid.
    let twin = Command::new(BATON)
        .args([
            "-n",
            "-f",
            path_str(&dir.path().join("keepalived.conf")),
            "-p",
            path_str(&pidfile),
        ])
        .output()
        .unwrap();
    assert!(!twin.status.success());
    let err = String::from_utf8_lossy(&twin.stderr);
    assert!(
        err.contains(path_str(&pidfile)) && err.contains(&pid.to_string()),
        "{err}"
    );
    // … and left the running daemon's files alone.
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{pid}\n")
    );
    assert!(socket.exists());

    d.signal(Signal::SIGHUP);
    assert!(d.notified().lines().any(|l| l == "RELOADING=1"));
    assert!(d.notified().lines().any(|l| l == "READY=1"));

    d.signal(Signal::SIGTERM);
    assert!(d.notified().lines().any(|l| l == "STOPPING=1"));
    assert!(d.wait_exit().success());
    assert!(!pidfile.exists(), "pid file left behind");
    assert!(!socket.exists(), "control socket left behind");
}

fn status_json(pidfile: &Path) -> serde_json::Value {
    let out = baton(&["status", "--json", "-p", path_str(pidfile)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sighup_reloads_a_clean_file_and_refuses_one_with_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("r.pid");
    let conf = dir.path().join("keepalived.conf");
    let d = Daemon::start(dir.path(), &pidfile);
    assert!(d.notified().contains("READY=1"));
    let v = status_json(&pidfile);
    assert_eq!(
        v["daemon"]["configured_instances"],
        serde_json::json!(["VI_1"])
    );

    // An out-of-range priority is an error: the running configuration stays.
    std::fs::write(&conf, SEED_MASTER.replace("priority 200", "priority 900")).unwrap();
    d.signal(Signal::SIGHUP);
    assert!(d.notified().contains("RELOADING=1"));
    let ready = d.notified();
    assert!(
        ready.contains("READY=1") && ready.contains("reload refused"),
        "{ready}"
    );
    let v = status_json(&pidfile);
    assert_eq!(v["daemon"]["reloads_refused"], 1);
    assert_eq!(
        v["daemon"]["configured_instances"],
        serde_json::json!(["VI_1"])
    );

    std::fs::write(&conf, SEED_MASTER.replace("VI_1", "VI_2")).unwrap();
    d.signal(Signal::SIGHUP);
    assert!(d.notified().contains("RELOADING=1"));
    assert!(d.notified().contains("READY=1"));
    let v = status_json(&pidfile);
    assert_eq!(v["daemon"]["reloads"], 1);
    assert_eq!(
        v["daemon"]["configured_instances"],
        serde_json::json!(["VI_2"])
    );
}

#[test]
fn status_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("p.pid");
    let d = Daemon::start(dir.path(), &pidfile);
    assert!(d.notified().contains("READY=1"));
    for args in [&["status", "--json"][..], &["status"]] {
        // `baton status | grep -q MASTER`: the reader is gone before the answer is printed.
        let mut child = Command::new(BATON)
            .args(args)
            .arg("-p")
            .arg(&pidfile)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unusable_configuration_stops_the_start_and_leaves_no_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("empty.conf");
    std::fs::write(&conf, "global_defs {\n}\n").unwrap();
    let pidfile = dir.path().join("u.pid");
    let out = baton(&["-n", "-l", "-f", path_str(&conf), "-p", path_str(&pidfile)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unusable"));
    assert!(!pidfile.exists());
}

#[test]
fn daemons_with_different_pid_files_run_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let p1 = dir.path().join("a.pid");
    let p2 = dir.path().join("b.pid");
    let d1 = Daemon::start(dir.path(), &p1);
    let d2 = Daemon::start(dir.path(), &p2);
    assert!(d1.notified().contains("READY=1"));
    assert!(d2.notified().contains("READY=1"));
    for (p, d) in [(&p1, &d1), (&p2, &d2)] {
        let out = baton(&["status", "--json", "-p", path_str(p)]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["daemon"]["pid"], d.child.id());
    }
}

#[test]
fn status_without_a_daemon_fails_with_the_socket_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = baton(&["status", "-p", path_str(&dir.path().join("none.pid"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.sock"));
}

#[test]
fn missing_configuration_is_an_init_failure() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("x.pid");
    let out = baton(&[
        "-n",
        "-l",
        "-f",
        path_str(&dir.path().join("absent.conf")),
        "-p",
        path_str(&pidfile),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.conf"));
    assert!(!pidfile.exists());
}

fn seed_file(dir: &Path) -> PathBuf {
    let conf = dir.join("seed.conf");
    std::fs::write(&conf, SEED_MASTER).unwrap();
    conf
}

#[test]
fn config_test_flag_reaches_the_same_check_as_the_check_command() {
    let dir = tempfile::tempdir().unwrap();
    let conf = seed_file(dir.path());
    let by_flag = baton(&["-f", path_str(&conf), "-t"]);
    let flag_first = baton(&["-t", "-f", path_str(&conf)]);
    let by_command = baton(&["check", "-f", path_str(&conf)]);
    for o in [&by_flag, &flag_first] {
        assert_eq!(o.status.code(), by_command.status.code());
        assert_eq!(o.stdout, by_command.stdout);
        assert_eq!(o.stderr, by_command.stderr);
    }
    // `-t=LOGFILE` sends the report to the file instead of standard error.
    let log = dir.path().join("report.log");
    let to_file = baton(&[
        "-f",
        path_str(&conf),
        &format!("--config-test={}", path_str(&log)),
    ]);
    assert_eq!(to_file.status.code(), by_command.status.code());
    assert!(to_file.stderr.is_empty());
    assert_eq!(std::fs::read(&log).unwrap(), by_command.stderr);
}

#[test]
fn without_dont_fork_the_daemon_goes_to_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let conf = seed_file(dir.path());
    let pidfile = dir.path().join("bg.pid");
    let out = Command::new(BATON)
        .args(["-l", "-f", path_str(&conf), "-p", path_str(&pidfile)])
        .env_remove("NOTIFY_SOCKET")
        .output()
        .unwrap();
    assert!(out.status.success(), "the starting process returns at once");
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        if let Ok(t) = std::fs::read_to_string(&pidfile)
            && let Ok(pid) = t.trim().parse::<i32>()
        {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "no pid file from the background daemon"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Stop it even if an assertion below fails.
    struct Stop(i32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = kill(Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
    let _stop = Stop(pid);
    // The pid file comes before the control socket; wait for the latter too.
    let socket = dir.path().join("bg.sock");
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "no control socket from the background daemon"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let v = status_json(&pidfile);
    assert_eq!(v["daemon"]["pid"], pid);
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pidfile.exists() {
        assert!(Instant::now() < deadline, "background daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
