//! Unique names for a lab's namespaces and directories, and the sweep of labs whose process died.
//!
//! A lab id is `baton-lab-<pid>-<start>-<n>`: the creating process's id, its start time (clock
//! ticks since boot, from /proc/self/stat) so a reused pid is not mistaken for the owner, and a
//! per-process counter. Network namespace names and the temp directory start with it. Interface
//! names never need it: every interface lives inside the lab's own namespaces, so `eth0` or
//! `ens33` can be used as is and the 15-character limit is the caller's alone.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Error, Result};

/// What every lab id starts with.
pub(crate) const ID_PREFIX: &str = "baton-lab-";

/// Where `ip netns` keeps named network namespaces.
pub(crate) const NETNS_DIR: &str = "/run/netns";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Serialises `ip netns add/del` and the sweep within this process: concurrent first uses of
/// /run/netns by iproute2 can race on its bind mount.
pub(crate) static NETNS_LOCK: Mutex<()> = Mutex::new(());

/// A fresh, unique lab id.
pub(crate) fn new_lab_id() -> String {
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{ID_PREFIX}{pid}-{start}-{n}")
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat).
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself;
    // fields are counted after the last ')'. Field 3 is the first after it, so field 22 is the
    // 20th.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The owner of a lab id: (pid, start time), if the name is one of ours.
pub(crate) fn owner_of(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix(ID_PREFIX)?;
    let mut fields = rest.splitn(3, '-');
    let pid = fields.next()?.parse().ok()?;
    let start = fields.next()?.parse().ok()?;
    Some((pid, start))
}

/// Whether the process that created a lab is still running (same pid and same start time).
pub(crate) fn owner_alive(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// Check a user-chosen name: lab, host or segment names become parts of namespace and
/// interface names, so they are short and plain.
pub(crate) fn check_name(what: &'static str, name: &str, max: usize) -> Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.is_empty() || name.len() > max || !ok_chars || name.starts_with('-') {
        return Err(Error::invalid(
            what,
            format!(
                "{name:?}: use 1 to {max} characters from [A-Za-z0-9_-], not starting with '-'"
            ),
        ));
    }
    Ok(())
}

/// Check an interface name the kernel will accept (at most 15 bytes, no '/', ':' or spaces).
pub(crate) fn check_ifname(name: &str) -> Result<()> {
    let bad = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
    if name.is_empty() || name.len() > 15 || name.contains(bad) || name == "." || name == ".." {
        return Err(Error::invalid(
            "interface name",
            format!("{name:?}: 1 to 15 bytes, no '/', ':' or whitespace"),
        ));
    }
    Ok(())
}

/// Remove what labs of dead processes left behind: processes, named network namespaces and temp
/// directories. Best effort: a failure is reported on stderr and the sweep goes on, since a
/// concurrent sweep in another process may have removed the same thing first.
pub(crate) fn sweep_dead_labs(temp_root: &Path) {
    let Ok(_guard) = NETNS_LOCK.lock() else {
        return;
    };
    for name in dead_entries(Path::new(NETNS_DIR)) {
        if let Err(e) = sweep_netns(&name) {
            eprintln!("baton-lab: sweeping leftover namespace {name}: {e}");
        }
    }
    for name in dead_entries(temp_root) {
        let dir = temp_root.join(&name);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            eprintln!(
                "baton-lab: sweeping leftover directory {}: {e}",
                dir.display()
            );
        }
    }
}

/// Entries of `dir` named by a lab id whose owner is gone.
fn dead_entries(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| owner_of(name).is_some_and(|(pid, start)| !owner_alive(pid, start)))
        .collect()
}

fn sweep_netns(name: &str) -> Result<()> {
    // Each host's processes sit in a PID namespace whose init died with the owner (parent-death
    // signal), so normally nothing is left; kill whatever still uses the namespace anyway.
    let out = crate::exec::run_tool(&["ip", "netns", "pids", name])?;
    for pid in out.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    crate::exec::run_tool(&["ip", "netns", "del", name]).map(drop)
}

/// The temp root labs live under. Never under /run: hosts get a /run of their own and would
/// not see the lab's files there.
pub(crate) fn temp_root() -> PathBuf {
    let dir = std::env::temp_dir();
    if dir.starts_with("/run") {
        PathBuf::from("/tmp")
    } else {
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_odd_command_names() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 100 18446744073709551615";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert!(start_time(std::process::id()).is_some());
    }

    #[test]
    fn ids_carry_their_owner_and_differ() {
        let a = new_lab_id();
        let b = new_lab_id();
        assert_ne!(a, b);
        let (pid, start) = owner_of(&a).unwrap();
        assert_eq!(pid, std::process::id());
        assert!(owner_alive(pid, start));
        assert_eq!(owner_of(&format!("{a}-seed-h-lb1")), Some((pid, start)));
        assert_eq!(owner_of("baton-lab-x-1-2"), None);
        assert_eq!(owner_of("other-1-2-3"), None);
        // Same pid, other start time: a reused pid, so the lab's owner is dead.
        assert!(!owner_alive(pid, start + 1));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("host name", "lb1", 16).is_ok());
        assert!(check_name("host name", "", 16).is_err());
        assert!(check_name("host name", "a/b", 16).is_err());
        assert!(check_name("host name", "-x", 16).is_err());
        assert!(check_name("host name", "abcdefghijklmnopq", 16).is_err());
        assert!(check_ifname("ens33").is_ok());
        assert!(check_ifname("eth0:1").is_err());
        assert!(check_ifname("a-very-long-name").is_err());
    }
}
