//! `lvs_sync_daemon INTERFACE INSTANCE` on nftables: connection state follows the VRRP
//! master through conntrackd (Debian's conntrack-tools).
//!
//! With IPVS, keepalived starts the kernel's IPVS sync daemon, which copies connection
//! entries from the master director to the backups. baton's data plane is nftables NAT, whose
//! connections live in conntrack, and conntrackd is the existing engine that copies
//! conntrack entries between Linux routers. baton writes a conntrackd configuration (FTFW
//! mode, multicast on INTERFACE), runs conntrackd as its child for as long as the setting
//! stands, and on each state change of INSTANCE runs exactly what conntrack-tools'
//! `primary-backup.sh` prescribes for keepalived's notify scripts:
//!
//! | INSTANCE becomes | conntrackd client commands |
//! |---|---|
//! | MASTER | `-c` commit the external cache into the kernel, `-f` flush the caches, `-R` resync the internal cache with the kernel, `-B` bulk-send to the backups |
//! | BACKUP | `-t` shorten the kernel's timers (old entries purge), `-n` ask the master for a resync |
//! | FAULT  | `-t` |
//!
//! On becoming MASTER the adverts go out first, then the commit runs before the virtual
//! addresses come up (bounded by [`MASTER_WAIT`]): the first packet of a synced connection
//! that reaches this director finds its state, with its NAT mapping, already in the kernel.
//!
//! The configuration, lock file and control socket live beside baton's pid file
//! (`<pidfile>.conntrackd.conf`, …), so several daemons on one host (or in network
//! namespaces) never share them. IPVS's sync options map as: `group` (default 224.0.0.81,
//! IPVS's) is conntrackd's multicast address, `port` (default 8848, IPVS's) its `Group`
//! number; `id`, `ttl` and `maxlen` have no conntrackd counterpart and are not used.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use baton_conf::LvsSyncDaemon;
use serde::Serialize;
use tokio::process::{Child, Command};

/// conntrackd as Debian installs it.
pub const CONNTRACKD: &str = "/usr/sbin/conntrackd";
/// IPVS's sync multicast group and port, keepalived's defaults for `lvs_sync_daemon`.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
pub const DEFAULT_PORT: u16 = 8848;
/// How long becoming MASTER waits for the commit before the VIPs come up regardless (the
/// adverts have gone out already; the loop waits, so the bound is short).
pub const MASTER_WAIT: Duration = Duration::from_millis(500);
/// How long one client command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long conntrackd gets to open its control socket after starting.
const STARTUP_WAIT: Duration = Duration::from_secs(3);

/// The VRRP state the sync follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    Master,
    Backup,
    Fault,
}

impl Role {
    /// primary-backup.sh's commands for this transition.
    pub fn commands(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Role::Master => &[
                ("-c", "commit the external cache into the kernel"),
                ("-f", "flush the internal and external caches"),
                ("-R", "resync the internal cache with the kernel"),
                ("-B", "send a bulk update to the backups"),
            ],
            Role::Backup => &[
                ("-t", "shorten the kernel's conntrack timers"),
                ("-n", "request a resync from the master"),
            ],
            Role::Fault => &[("-t", "shorten the kernel's conntrack timers")],
        }
    }
}

/// Where baton keeps conntrackd's files for one daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config: PathBuf,
    pub lock: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    /// Beside the pid file: `/run/keepalived.pid` → `/run/keepalived.conntrackd.conf`, ….
    pub fn beside(pidfile: &Path) -> Paths {
        let stem = pidfile
            .file_stem()
            .map_or_else(|| "baton".into(), |s| s.to_string_lossy().into_owned());
        let dir = pidfile.parent().unwrap_or(Path::new("/run"));
        let f = |ext: &str| dir.join(format!("{stem}.conntrackd.{ext}"));
        Paths {
            config: f("conf"),
            lock: f("lock"),
            socket: f("ctl"),
            log: f("log"),
        }
    }
}

/// conntrackd's configuration for `sync`, sending from `local` (INTERFACE's IPv4
/// address).
pub fn config_text(sync: &LvsSyncDaemon, local: Ipv4Addr, paths: &Paths) -> String {
    let group = match sync.group {
        Some(IpAddr::V4(g)) => g,
        _ => DEFAULT_GROUP,
    };
    let port = sync.port.unwrap_or(DEFAULT_PORT);
    format!(
        "# Written by baton for `lvs_sync_daemon {iface} {instance}` ({span}); rewritten at each start.\n\
         # conntrackd copies the connection tracking entries of baton's nftables NAT to the\n\
         # other directors; baton runs conntrack-tools' primary-backup.sh steps on each\n\
         # VRRP transition of {instance}.\n\
         Sync {{\n\
         \tMode FTFW {{\n\
         \t\tDisableExternalCache Off\n\
         \t\tPurgeTimeout 5\n\
         \t}}\n\
         \tMulticast {{\n\
         \t\tIPv4_address {group}\n\
         \t\tGroup {port}\n\
         \t\tIPv4_interface {local}\n\
         \t\tInterface {iface}\n\
         \t\tSndSocketBuffer 1249280\n\
         \t\tRcvSocketBuffer 1249280\n\
         \t\tChecksum on\n\
         \t}}\n\
         }}\n\
         General {{\n\
         \tHashSize 32768\n\
         \tHashLimit 131072\n\
         \tLogFile {log}\n\
         \tSyslog off\n\
         \tLockFile {lock}\n\
         \tUNIX {{\n\
         \t\tPath {socket}\n\
         \t}}\n\
         \tNetlinkBufferSize 2097152\n\
         \tNetlinkBufferSizeMaxGrowth 8388608\n\
         \tNetlinkEventsReliable On\n\
         \tFilter From Userspace {{\n\
         \t\tProtocol Accept {{\n\
         \t\t\tTCP\n\
         \t\t\tUDP\n\
         \t\t\tSCTP\n\
         \t\t}}\n\
         \t\tAddress Ignore {{\n\
         \t\t\tIPv4_address 127.0.0.1\n\
         \t\t\tIPv6_address ::1\n\
         \t\t\tIPv4_address {local}\n\
         \t\t}}\n\
         \t}}\n\
         }}\n",
        iface = sync.interface,
        instance = sync.instance.as_deref().unwrap_or("-"),
        span = sync.span,
        log = paths.log.display(),
        lock = paths.lock.display(),
        socket = paths.socket.display(),
    )
}

/// What `baton status` shows of the sync.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncStatus {
    pub interface: String,
    pub instance: Option<String>,
    pub config: String,
    /// conntrackd's pid while it runs.
    pub pid: Option<u32>,
    pub starts: u64,
    /// The last transition carried out, and how each command went.
    pub role: Option<Role>,
    pub transitions: u64,
    pub failed_commands: u64,
    pub last_error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// conntrackd, run and driven for one `lvs_sync_daemon`.
#[derive(Debug)]
pub struct ConntrackSync {
    pub setting: LvsSyncDaemon,
    paths: Paths,
    program: PathBuf,
    child: Option<Child>,
    /// Client commands of one transition run as a whole, one transition after another.
    serial: Arc<tokio::sync::Mutex<()>>,
    status: Arc<Mutex<SyncStatus>>,
}

impl ConntrackSync {
    /// Write the configuration and start conntrackd. `local` is INTERFACE's IPv4 address.
    pub fn start(
        setting: LvsSyncDaemon,
        local: Ipv4Addr,
        pidfile: &Path,
        program: &Path,
    ) -> Result<ConntrackSync, String> {
        let paths = Paths::beside(pidfile);
        let text = config_text(&setting, local, &paths);
        write_fresh(&paths.config, &text)
            .map_err(|e| format!("cannot write {}: {e}", paths.config.display()))?;
        let status = SyncStatus {
            interface: setting.interface.clone(),
            instance: setting.instance.clone(),
            config: paths.config.display().to_string(),
            ..SyncStatus::default()
        };
        let mut sync = ConntrackSync {
            setting,
            paths,
            program: program.to_path_buf(),
            child: None,
            serial: Arc::default(),
            status: Arc::new(Mutex::new(status)),
        };
        sync.spawn()?;
        Ok(sync)
    }

    fn spawn(&mut self) -> Result<(), String> {
        // The lock file is ours alone (beside our pid file): one left behind is from a
        // conntrackd of ours that did not stop cleanly, and would keep the next from
        // starting.
        let _ = std::fs::remove_file(&self.paths.lock);
        let _ = std::fs::remove_file(&self.paths.socket);
        let child = Command::new(&self.program)
            .arg("-C")
            .arg(&self.paths.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        let mut st = lock(&self.status);
        st.pid = child.id();
        st.starts += 1;
        drop(st);
        tracing::info!(
            "lvs_sync_daemon: conntrackd started (pid {}) with {}",
            child.id().unwrap_or(0),
            self.paths.config.display()
        );
        self.child = Some(child);
        Ok(())
    }

    /// Start conntrackd again if it died.
    fn ensure_running(&mut self) {
        let dead = match &mut self.child {
            Some(c) => match c.try_wait() {
                Ok(Some(status)) => {
                    tracing::warn!(
                        "lvs_sync_daemon: conntrackd exited ({status}); see {}; starting it again",
                        self.paths.log.display()
                    );
                    true
                }
                Ok(None) => false,
                Err(_) => true,
            },
            None => true,
        };
        if dead {
            lock(&self.status).pid = None;
            if let Err(e) = self.spawn() {
                tracing::error!("lvs_sync_daemon: {e}");
                lock(&self.status).last_error = Some(e);
            }
        }
    }

    pub fn status(&self) -> SyncStatus {
        lock(&self.status).clone()
    }

    /// The followed instance became `role`. MASTER is awaited (bounded by
    /// [`MASTER_WAIT`]) so the commit comes before the VIPs; the others run in the
    /// background.
    pub async fn transition(&mut self, role: Role) {
        self.ensure_running();
        let job = run_transition(
            self.program.clone(),
            self.paths.clone(),
            role,
            self.serial.clone(),
            self.status.clone(),
        );
        if role == Role::Master {
            if tokio::time::timeout(MASTER_WAIT, job).await.is_err() {
                tracing::warn!(
                    "lvs_sync_daemon: the commit took over {MASTER_WAIT:?}; the VIPs come up without waiting for it"
                );
            }
        } else {
            tokio::spawn(job);
        }
    }

    /// Stop conntrackd (SIGTERM, then SIGKILL after a second) and remove its files.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            if tokio::time::timeout(Duration::from_secs(1), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
            tracing::info!("lvs_sync_daemon: conntrackd stopped");
        }
        for p in [&self.paths.lock, &self.paths.socket] {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Write `text` to a new file at `path`, replacing what was there: the old file (or a link
/// someone put in its place) is removed, and the new one is created exclusively, so root
/// never writes through a link.
fn write_fresh(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    f.write_all(text.as_bytes())
}

async fn run_transition(
    program: PathBuf,
    paths: Paths,
    role: Role,
    serial: Arc<tokio::sync::Mutex<()>>,
    status: Arc<Mutex<SyncStatus>>,
) {
    let _one_at_a_time = serial.lock().await;
    // A conntrackd just started needs a moment before it answers.
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    while !paths.socket.exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut failed = 0;
    let mut last_error = None;
    for (flag, what) in role.commands() {
        let run = Command::new(&program)
            .arg("-C")
            .arg(&paths.config)
            .arg(flag)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        let outcome = match tokio::time::timeout(COMMAND_TIMEOUT, run).await {
            Ok(Ok(out)) if out.status.success() => Ok(()),
            Ok(Ok(out)) => Err(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {COMMAND_TIMEOUT:?}")),
        };
        match outcome {
            Ok(()) => tracing::debug!("lvs_sync_daemon: conntrackd {flag} ({what}) done"),
            Err(e) => {
                let line = format!("conntrackd {flag} ({what}) failed: {e}");
                tracing::warn!("lvs_sync_daemon: {line}");
                failed += 1;
                last_error = Some(line);
            }
        }
    }
    tracing::info!(
        "lvs_sync_daemon: connection sync now {} ({} of {} conntrackd commands done)",
        match role {
            Role::Master => "MASTER",
            Role::Backup => "BACKUP",
            Role::Fault => "FAULT",
        },
        role.commands().len() - failed,
        role.commands().len()
    );
    let mut st = lock(&status);
    st.role = Some(role);
    st.transitions += 1;
    st.failed_commands += failed as u64;
    if last_error.is_some() {
        st.last_error = last_error;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting() -> LvsSyncDaemon {
        LvsSyncDaemon {
            interface: "eth2".into(),
            instance: Some("VI_INT".into()),
            sync_id: None,
            max_len: None,
            port: None,
            ttl: None,
            group: None,
            span: baton_conf::Span::default(),
        }
    }

    #[test]
    fn files_sit_beside_the_pid_file() {
        let p = Paths::beside(Path::new("/run/lb/keepalived.pid"));
        assert_eq!(p.config, Path::new("/run/lb/keepalived.conntrackd.conf"));
        assert_eq!(p.lock, Path::new("/run/lb/keepalived.conntrackd.lock"));
        assert_eq!(p.socket, Path::new("/run/lb/keepalived.conntrackd.ctl"));
    }

    #[test]
    fn the_configuration_uses_ipvs_defaults_and_our_paths() {
        let p = Paths::beside(Path::new("/run/lb/b.pid"));
        let text = config_text(&setting(), Ipv4Addr::new(10, 9, 0, 1), &p);
        assert!(text.contains("IPv4_address 224.0.0.81"), "{text}");
        assert!(text.contains("Group 8848"), "{text}");
        assert!(text.contains("IPv4_interface 10.9.0.1"), "{text}");
        assert!(text.contains("Interface eth2"), "{text}");
        assert!(text.contains("Mode FTFW"), "{text}");
        assert!(text.contains("Path /run/lb/b.conntrackd.ctl"), "{text}");
        assert!(
            text.contains("LockFile /run/lb/b.conntrackd.lock"),
            "{text}"
        );
        let mut s = setting();
        s.group = Some("239.1.2.3".parse().unwrap());
        s.port = Some(4000);
        let text = config_text(&s, Ipv4Addr::new(10, 9, 0, 1), &p);
        assert!(text.contains("IPv4_address 239.1.2.3") && text.contains("Group 4000"));
    }

    #[test]
    fn the_configuration_replaces_a_link_rather_than_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let path = dir.path().join("b.conntrackd.conf");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_fresh(&path, "Sync {}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "Sync {}\n");
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
    }

    #[test]
    fn transitions_run_primary_backup_sh_steps() {
        let flags = |r: Role| r.commands().iter().map(|(f, _)| *f).collect::<Vec<_>>();
        assert_eq!(flags(Role::Master), ["-c", "-f", "-R", "-B"]);
        assert_eq!(flags(Role::Backup), ["-t", "-n"]);
        assert_eq!(flags(Role::Fault), ["-t"]);
    }
}
