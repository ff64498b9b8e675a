//! Reading /proc: the pids of a namespace, a process's name, state, parent and start time
//! from `/proc/PID/stat` (one read), and the head of its command line.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What one read of `/proc/PID/stat` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub comm: String,
    /// R, S, D, Z (zombie), X (dead) …
    pub state: u8,
    pub ppid: i32,
    /// Clock ticks after boot: with the pid, identifies a process across pid reuse.
    pub starttime: u64,
}

impl ProcStat {
    /// An exited process awaiting its parent: not running, not counted (keepalived too).
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Parse `PID (COMM) STATE PPID … STARTTIME …`. COMM may itself hold spaces and
/// parentheses, so it runs to the last `)`.
pub(crate) fn parse_stat(buf: &[u8]) -> Option<ProcStat> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let comm = String::from_utf8_lossy(&buf[open + 1..close]).into_owned();
    let rest = std::str::from_utf8(buf.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let ppid = fields.next()?.parse().ok()?;
    // starttime is field 22 of stat; STATE is field 3 and PPID field 4.
    let starttime = fields.nth(17)?.parse().ok()?;
    Some(ProcStat {
        comm,
        state,
        ppid,
        starttime,
    })
}

/// Read `/proc/PID/stat`; `Ok(None)` when it exists but cannot be parsed.
pub(crate) fn read_stat(
    proc_root: &Path,
    pid: i32,
    buf: &mut Vec<u8>,
) -> io::Result<Option<ProcStat>> {
    read_head(&proc_root.join(pid.to_string()).join("stat"), 1024, buf)?;
    Ok(parse_stat(buf))
}

/// Read at most `max` bytes of `/proc/PID/cmdline` (reading it touches the process's
/// memory, so only as much as a match needs).
pub(crate) fn read_cmdline(
    proc_root: &Path,
    pid: i32,
    max: usize,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    read_head(&proc_root.join(pid.to_string()).join("cmdline"), max, buf)
}

fn read_head(path: &Path, max: usize, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    File::open(path)?.take(max as u64).read_to_end(buf)?;
    Ok(())
}

/// The pids (thread-group leaders) /proc lists.
pub(crate) fn list_pids(proc_root: &Path, into: &mut Vec<i32>) -> io::Result<()> {
    into.clear();
    for entry in std::fs::read_dir(proc_root)? {
        let entry = entry?;
        if let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        {
            into.push(pid);
        }
    }
    Ok(())
}

/// /proc must belong to our own PID namespace: the pids it lists are the ones pidfd_open
/// and kill interpret. `unshare --pid` without `--mount-proc` leaves the parent's /proc.
pub(crate) fn check_own_namespace(proc_root: &Path) -> Result<(), String> {
    let link = proc_root.join("self");
    let target =
        std::fs::read_link(&link).map_err(|e| format!("cannot read {}: {e}", link.display()))?;
    let ours = std::process::id();
    match target.to_str().and_then(|t| t.parse::<u32>().ok()) {
        Some(pid) if pid == ours => Ok(()),
        Some(pid) => Err(format!(
            "{} belongs to another PID namespace (it calls us {pid}, we are {ours}); \
             mount the namespace's own procfs there (e.g. unshare --mount-proc)",
            proc_root.display()
        )),
        None => Err(format!("{} is not a procfs", proc_root.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_awkward_comm_parses() {
        let line =
            b"4242 (a) b (c) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2\n";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.comm, "a) b (c");
        assert_eq!(stat.state, b'S');
        assert_eq!(stat.ppid, 17);
        assert_eq!(stat.starttime, 987654);
        assert!(!stat.is_dead());
    }

    #[test]
    fn zombie_is_dead() {
        let line = b"7 (nginx) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n";
        assert!(parse_stat(line).unwrap().is_dead());
    }

    #[test]
    fn truncated_stat_is_rejected() {
        assert_eq!(parse_stat(b"7 (nginx) S 1 7"), None);
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn our_own_stat_and_namespace() {
        let mut buf = Vec::new();
        let me = std::process::id() as i32;
        let stat = read_stat(Path::new("/proc"), me, &mut buf)
            .unwrap()
            .unwrap();
        // The main thread may sleep while this test thread runs; it is alive either way.
        assert!(!stat.is_dead());
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw());
        check_own_namespace(Path::new("/proc")).unwrap();
        let mut pids = Vec::new();
        list_pids(Path::new("/proc"), &mut pids).unwrap();
        assert!(pids.contains(&me));
    }
}
