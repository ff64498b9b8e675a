//! The daemon's process name, so the tools keepalived users point at it keep working.
//!
//! Health scripts written for keepalived stop it by name: the seed's own check script ends in
//! `killall keepalived` when nginx cannot be restarted, so that the backup takes over. baton
//! answers to that name when one of these says so, first match wins:
//!
//! 1. `process_name NAME` in `global_defs` (keepalived's name for its parent process), else
//!    `vrrp_process_name NAME` (its VRRP process), else `process_names` (keepalived's default
//!    names: the process that `killall keepalived` stops is called `keepalived`);
//! 2. started from a systemd unit named `keepalived.service` (the binary swapped in the
//!    distribution's unit): `keepalived`;
//! 3. otherwise the name it was started under: `baton`, or `keepalived` when the binary is
//!    installed or linked under that name, where nothing needs changing.
//!
//! The name is the kernel's `comm` (`prctl(PR_SET_NAME)`, at most 15 bytes), which is what
//! `killall`, `pidof`, `pgrep` and `ps -C` match. `killall` sends SIGTERM: baton stops as
//! keepalived does, every master sending a priority-0 advert, so the backup takes over within
//! Skew_Time instead of Master_Down_Interval.

use std::ffi::CString;
use std::path::Path;

use baton_conf::GlobalDefs;

/// keepalived's unit, as systemd names it in the cgroup path.
const KEEPALIVED_UNIT: &str = "/keepalived.service";
/// The kernel keeps this many bytes of a process name.
pub const COMM_MAX: usize = 15;

/// The name to take, if it differs from the one the kernel gave us.
/// `argv0` is how we were started, `cgroup` the text of /proc/self/cgroup.
pub fn wanted(global: &GlobalDefs, argv0: &str, cgroup: &str) -> Option<String> {
    let configured = global
        .process_name
        .clone()
        .or_else(|| global.vrrp_process_name.clone())
        .or_else(|| global.process_names.then(|| "keepalived".to_string()));
    if configured.is_some() {
        return configured;
    }
    let started_as = Path::new(argv0).file_name().and_then(|n| n.to_str());
    if started_as == Some("keepalived") {
        return None;
    }
    let from_keepalived_unit = cgroup
        .lines()
        .filter_map(|l| l.rsplit(':').next())
        .any(|path| path.ends_with(KEEPALIVED_UNIT) || path.contains("/keepalived.service/"));
    from_keepalived_unit.then(|| "keepalived".to_string())
}

/// Take `name` as this process's name (truncated to what the kernel keeps).
pub fn set(name: &str) -> Result<(), String> {
    let mut bytes = name.as_bytes();
    if bytes.len() > COMM_MAX {
        bytes = &bytes[..COMM_MAX];
    }
    let c = CString::new(bytes).map_err(|_| format!("process name {name:?} contains a NUL"))?;
    nix::sys::prctl::set_name(&c).map_err(|e| format!("cannot set the process name: {e}"))
}

/// The current process name.
pub fn current() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// Apply the rules above for `global`, logging what was done.
pub fn apply(global: &GlobalDefs) {
    let argv0 = std::env::args().next().unwrap_or_default();
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if let Some(name) = wanted(global, &argv0, &cgroup) {
        match set(&name) {
            Ok(()) => tracing::info!("process name set to '{}'", current()),
            Err(e) => tracing::warn!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_names_win_in_keepalived_order() {
        let mut g = GlobalDefs::default();
        assert_eq!(wanted(&g, "/usr/sbin/baton", "0::/user.slice\n"), None);
        g.process_names = true;
        assert_eq!(wanted(&g, "baton", "").as_deref(), Some("keepalived"));
        g.vrrp_process_name = Some("ka_vrrp".into());
        assert_eq!(wanted(&g, "baton", "").as_deref(), Some("ka_vrrp"));
        g.process_name = Some("lb-ha".into());
        assert_eq!(wanted(&g, "baton", "").as_deref(), Some("lb-ha"));
    }

    #[test]
    fn a_keepalived_unit_gives_the_keepalived_name() {
        let g = GlobalDefs::default();
        let unit = "0::/system.slice/keepalived.service\n";
        assert_eq!(
            wanted(&g, "/usr/sbin/baton", unit).as_deref(),
            Some("keepalived")
        );
        // cgroup v1 lists one line per hierarchy.
        let v1 = "12:pids:/system.slice/keepalived.service\n1:name=systemd:/system.slice/keepalived.service\n";
        assert_eq!(wanted(&g, "baton", v1).as_deref(), Some("keepalived"));
        // Other units, and keepalived-like names that are not the unit, do not count.
        assert_eq!(
            wanted(&g, "baton", "0::/system.slice/baton.service\n"),
            None
        );
        assert_eq!(
            wanted(&g, "baton", "0::/system.slice/my-keepalived.service\n"),
            None
        );
        // Installed as keepalived: the kernel already calls us that.
        assert_eq!(wanted(&g, "/usr/sbin/keepalived", unit), None);
    }

    #[test]
    fn setting_the_name_changes_comm_and_truncates_to_fifteen_bytes() {
        // On a thread of its own: the name is per thread, and the test harness's main thread
        // keeps its own.
        std::thread::spawn(|| {
            set("keepalived-with-a-long-name").unwrap();
            let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
            assert_eq!(comm.trim_end(), "keepalived-with");
            assert!(set("bad\0name").is_err());
        })
        .join()
        .unwrap();
    }
}
