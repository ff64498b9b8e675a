//! Notifications on real processes and FIFOs: order, keepalived's arguments and FIFO lines,
//! never blocking, users, and bad inputs.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use baton_conf::{Config, NotifyFifo, Span, SyncGroup, VrrpInstance};
use baton_track::{Notifier, NotifyTarget, ScriptPolicy, TrackOptions};
use baton_vrrp::{Action, NotifyState};
use baton_wire::Family;
use common::*;

const SECOND: Duration = Duration::from_secs(1);

fn base_config() -> Config {
    let mut config = Config::build(|_| {});
    config
        .instances
        .push(VrrpInstance::new("VI_1", 51, Family::Ipv4));
    config
        .instances
        .push(VrrpInstance::new("VI_2", 52, Family::Ipv4));
    config.sync_groups.push(SyncGroup {
        name: "G1".into(),
        span: Span::default(),
        members: vec!["VI_1".into(), "VI_2".into()],
        tracking: Default::default(),
        notify: Default::default(),
        tracking_weight: false,
    });
    config
}

fn notifier(config: &Config, options: &TrackOptions) -> Notifier {
    let policy = ScriptPolicy::new(&config.global, options);
    let notifier = Notifier::new(config, &policy, options).unwrap();
    policy.log_summary();
    notifier
}

/// Do what the protocol core asks for when `who` (an instance, or with `group` a sync
/// group) enters `state`: the commands it names, then its FIFO line, as the daemon does.
fn notify(n: &mut Notifier, config: &Config, who: &str, group: bool, state: NotifyState, prio: u8) {
    let block = if group {
        &config
            .sync_groups
            .iter()
            .find(|g| g.name == who)
            .unwrap()
            .notify
    } else {
        &config.instance(who).unwrap().notify
    };
    let target = baton_vrrp::NotifyTarget {
        group,
        name: who.into(),
    };
    let mut actions = Vec::new();
    baton_vrrp::notify_actions(&mut actions, block, &target, state, prio);
    for a in actions {
        match a {
            Action::RunNotify {
                target,
                command,
                args,
            } => {
                let t = if target.group {
                    NotifyTarget::Group(target.name)
                } else {
                    NotifyTarget::Instance(target.name)
                };
                let args = args.map(|a| a.words().to_vec()).unwrap_or_default();
                n.run(t, &command, args);
            }
            Action::WriteFifo(line) => n.write_fifo(&line.to_string()),
            other => panic!("not a notification: {other:?}"),
        }
    }
}

/// A script appending one line per call: its tag and its arguments separated by `|`.
fn recorder(dir: &Path, tag: &str, log: &Path, delay: &str) -> String {
    let body = format!(
        "sleep {delay}\nline='{tag}'\nfor a in \"$@\"; do line=\"$line|$a\"; done\necho \"$line\" >> {log}\n",
        log = log.display()
    );
    write_script(dir, &format!("{tag}.sh"), &body)
        .to_str()
        .unwrap()
        .to_string()
}

fn fifo(path: &Path) -> Option<NotifyFifo> {
    Some(NotifyFifo {
        path: path.to_path_buf(),
        script: None,
        span: Span::default(),
    })
}

/// Open a FIFO for reading without blocking, and read what is in it.
struct FifoReader(fs::File);

impl FifoReader {
    fn open(path: &Path) -> FifoReader {
        FifoReader(
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
                .unwrap(),
        )
    }

    fn read_all(&mut self) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        String::from_utf8(out).unwrap()
    }
}

#[tokio::test]
async fn scripts_run_in_order_with_keepalived_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut config = base_config();
    // The state scripts are slow: a notifier that did not wait would interleave them.
    let vi = std::sync::Arc::make_mut(&mut config.instances[0].notify);
    vi.master = Some(command(&[&recorder(dir.path(), "master", &log, "0.1")], None).into());
    vi.backup = Some(command(&[&recorder(dir.path(), "backup", &log, "0.05")], None).into());
    vi.any = Some(
        command(
            &[&recorder(dir.path(), "any", &log, "0"), "fixed arg"],
            None,
        )
        .into(),
    );
    config.sync_groups[0].notify.any =
        Some(command(&[&recorder(dir.path(), "group", &log, "0")], None).into());

    let mut n = notifier(&config, &fast_options());
    notify(&mut n, &config, "VI_1", false, NotifyState::Master, 200);
    notify(&mut n, &config, "VI_1", false, NotifyState::Backup, 100);
    notify(&mut n, &config, "VI_1", false, NotifyState::Fault, 100);
    notify(&mut n, &config, "VI_1", false, NotifyState::Stop, 100);
    notify(&mut n, &config, "VI_1", false, NotifyState::Deleted, 100);
    n.shutdown(10 * SECOND).await;
    let lines: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "master",
            "any|fixed arg|INSTANCE|VI_1|MASTER|200",
            "backup",
            "any|fixed arg|INSTANCE|VI_1|BACKUP|100",
            "any|fixed arg|INSTANCE|VI_1|FAULT|100",
            "any|fixed arg|INSTANCE|VI_1|STOP|100",
            "any|fixed arg|INSTANCE|VI_1|DELETED|100",
        ]
    );

    // A group's priority is always 0.
    fs::remove_file(&log).unwrap();
    let mut n = notifier(&config, &fast_options());
    notify(&mut n, &config, "G1", true, NotifyState::Master, 150);
    n.shutdown(10 * SECOND).await;
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "group|GROUP|G1|MASTER|0\n"
    );
}

#[tokio::test]
async fn notify_never_waits_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config();
    let slow = write_script(dir.path(), "slow.sh", "sleep 1\n");
    std::sync::Arc::make_mut(&mut config.instances[0].notify).master =
        Some(command(&[slow.to_str().unwrap()], None).into());
    let mut n = notifier(&config, &fast_options());
    let started = Instant::now();
    for _ in 0..20 {
        notify(&mut n, &config, "VI_1", false, NotifyState::Master, 100);
    }
    // Twenty one-second scripts were queued, not run, by the time notify returned.
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    n.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn fifos_receive_keepalived_lines() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("notify.fifo");
    let vrrp = dir.path().join("vrrp.fifo");
    let mut config = base_config();
    config.global.notify_fifo = fifo(&main);
    config.global.vrrp_notify_fifo = fifo(&vrrp);
    std::sync::Arc::make_mut(&mut config.instances[1].notify).priority_changes = Some(true);

    let mut n = notifier(&config, &fast_options());
    // Both were created (they did not exist).
    let mut main_reader = FifoReader::open(&main);
    let mut vrrp_reader = FifoReader::open(&vrrp);
    notify(&mut n, &config, "VI_1", false, NotifyState::Master, 200);
    notify(&mut n, &config, "G1", true, NotifyState::Backup, 0);
    notify(
        &mut n,
        &config,
        "VI_1",
        false,
        NotifyState::MasterRxLowerPri,
        200,
    );
    // Priority changes (the core sends them only where notify_priority_changes is on).
    notify(
        &mut n,
        &config,
        "VI_2",
        false,
        NotifyState::BackupPriority,
        90,
    );
    notify(&mut n, &config, "VI_2", false, NotifyState::Stop, 90);
    let expected = "INSTANCE \"VI_1\" MASTER 200\n\
                    GROUP \"G1\" BACKUP 0\n\
                    INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 200\n\
                    INSTANCE \"VI_2\" BACKUP_PRIORITY 90\n\
                    INSTANCE \"VI_2\" STOP 90\n";
    assert_eq!(main_reader.read_all(), expected);
    assert_eq!(vrrp_reader.read_all(), expected);
    n.shutdown(SECOND).await;
    // We made them, so we removed them.
    assert!(!main.exists() && !vrrp.exists());
}

#[tokio::test]
async fn a_fifo_nobody_reads_never_blocks_and_recovers() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.fifo");
    let mut config = base_config();
    config.global.notify_fifo = fifo(&path);
    let mut n = notifier(&config, &fast_options());
    let started = Instant::now();
    // Far more than a pipe holds (64 KiB is about 2500 of these lines).
    for i in 0..10_000u32 {
        notify(
            &mut n,
            &config,
            "VI_1",
            false,
            NotifyState::Master,
            (i % 250) as u8,
        );
    }
    assert!(started.elapsed() < 2 * SECOND, "{:?}", started.elapsed());
    assert_eq!(logs.lines_with("is full"), 1, "{}", logs.text());
    // A reader drains it; events flow again and the loss is reported.
    let mut reader = FifoReader::open(&path);
    let backlog = reader.read_all();
    assert!(
        backlog.lines().count() > 1000,
        "{} lines buffered",
        backlog.lines().count()
    );
    assert!(
        backlog
            .lines()
            .all(|l| l.starts_with("INSTANCE \"VI_1\" MASTER "))
    );
    notify(&mut n, &config, "VI_1", false, NotifyState::Backup, 7);
    assert_eq!(reader.read_all(), "INSTANCE \"VI_1\" BACKUP 7\n");
    assert!(logs.contains("event(s) were dropped"), "{}", logs.text());
    n.shutdown(SECOND).await;
}

#[tokio::test]
async fn unusable_fifo_paths_are_reported_and_scripts_still_run() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let no_dir = dir.path().join("no-such-dir").join("notify.fifo");
    let plain = dir.path().join("plain-file");
    fs::write(&plain, "").unwrap();
    let log = dir.path().join("log");
    let mut config = base_config();
    config.global.notify_fifo = fifo(&no_dir);
    config.global.vrrp_notify_fifo = fifo(&plain);
    std::sync::Arc::make_mut(&mut config.instances[0].notify).master =
        Some(command(&[&recorder(dir.path(), "master", &log, "0")], None).into());
    let mut n = notifier(&config, &fast_options());
    notify(&mut n, &config, "VI_1", false, NotifyState::Master, 100);
    n.shutdown(5 * SECOND).await;
    let text = logs.text();
    assert!(
        text.contains(&format!(
            "Unable to create notify fifo {}",
            no_dir.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "vrrp notify fifo {} is not a fifo we own",
            plain.display()
        )),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&log).unwrap(), "master\n");
    // Nothing was written into the regular file.
    assert_eq!(fs::read_to_string(&plain).unwrap(), "");
}

#[tokio::test]
async fn the_fifo_script_reads_the_fifo_and_is_stopped_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.fifo");
    let out = dir.path().join("out");
    let pgid_file = dir.path().join("pgid");
    let reader = write_script(
        dir.path(),
        "reader.sh",
        &format!(
            "echo $$ > {}\nexec cat \"$1\" > {}\n",
            pgid_file.display(),
            out.display()
        ),
    );
    let mut config = base_config();
    config.global.notify_fifo = Some(NotifyFifo {
        path: path.clone(),
        script: Some(command(&[reader.to_str().unwrap()], None)),
        span: Span::default(),
    });
    let mut n = notifier(&config, &fast_options());
    notify(&mut n, &config, "VI_2", false, NotifyState::Fault, 0);
    assert!(
        eventually(5 * SECOND, || fs::read_to_string(&out)
            .is_ok_and(|s| s == "INSTANCE \"VI_2\" FAULT 0\n"))
        .await,
        "reader saw {:?}",
        fs::read_to_string(&out)
    );
    let pgid: i32 = fs::read_to_string(&pgid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    n.shutdown(SECOND).await;
    assert!(
        eventually(2 * SECOND, || live_members_of_group(pgid).is_empty()).await,
        "reader survived shutdown"
    );
}

#[tokio::test]
async fn a_hung_notify_script_holds_back_nothing_and_dies_at_shutdown() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let pgid_file = dir.path().join("pgid");
    let hang = write_script(
        dir.path(),
        "hang.sh",
        &format!("echo $$ > {}\nsleep 30\n", pgid_file.display()),
    );
    let mut config = base_config();
    std::sync::Arc::make_mut(&mut config.instances[0].notify).master =
        Some(command(&[hang.to_str().unwrap()], None).into());
    std::sync::Arc::make_mut(&mut config.instances[0].notify).backup =
        Some(command(&[&recorder(dir.path(), "backup", &log, "0")], None).into());
    let options = TrackOptions {
        notify_stall_limit: Duration::from_millis(300),
        ..fast_options()
    };
    let mut n = notifier(&config, &options);
    let started = Instant::now();
    notify(&mut n, &config, "VI_1", false, NotifyState::Master, 100);
    notify(&mut n, &config, "VI_1", false, NotifyState::Backup, 100);
    assert!(
        eventually(5 * SECOND, || log.exists()).await,
        "backup never ran"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(280) && waited < 3 * SECOND,
        "{waited:?}"
    );
    assert!(
        logs.contains("still running after 300ms"),
        "{}",
        logs.text()
    );
    let pgid: i32 = fs::read_to_string(&pgid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!live_members_of_group(pgid).is_empty());
    n.shutdown(Duration::from_millis(200)).await;
    assert!(
        eventually(2 * SECOND, || live_members_of_group(pgid).is_empty()).await,
        "hung notify script survived shutdown"
    );
}

#[tokio::test]
async fn notify_scripts_run_as_their_user_and_insecure_ones_are_dropped() {
    require_root!("changing user and root-owned files");
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let id_file = out.join("id");
    let whoami = write_script(
        dir.path(),
        "whoami.sh",
        &format!("id -u > {}\n", id_file.display()),
    );
    let insecure = write_script(dir.path(), "insecure.sh", "exit 0\n");
    fs::set_permissions(&insecure, fs::Permissions::from_mode(0o777)).unwrap();

    let mut config = base_config();
    config.global.enable_script_security = true;
    config.global.script_user = Some(baton_conf::RunAs {
        user: "root".into(),
        group: None,
    });
    std::sync::Arc::make_mut(&mut config.instances[0].notify).master =
        Some(command(&[whoami.to_str().unwrap()], Some("nobody")).into());
    std::sync::Arc::make_mut(&mut config.instances[0].notify).backup =
        Some(command(&[insecure.to_str().unwrap()], None).into());
    let mut n = notifier(&config, &fast_options());
    assert!(
        logs.contains("(VI_1) notify_backup: unsafe permissions found"),
        "{}",
        logs.text()
    );
    notify(&mut n, &config, "VI_1", false, NotifyState::Backup, 100);
    notify(&mut n, &config, "VI_1", false, NotifyState::Master, 100);
    n.shutdown(5 * SECOND).await;
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert_eq!(
        fs::read_to_string(&id_file).unwrap().trim(),
        nobody.uid.to_string()
    );
}
