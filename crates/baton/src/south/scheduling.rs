//! keepalived's scheduling of its VRRP process, applied to the daemon: `vrrp_priority`
//! (the nice value), `vrrp_rt_priority` (SCHED_RR) with `vrrp_rlimit_rttime`,
//! `vrrp_no_swap` (`mlockall`) and `vrrp_cpu_affinity`.
//!
//! The realtime priority goes only to the calling thread, the loop that sends and receives
//! adverts, with `SCHED_RESET_ON_FORK`: scripts and threads started later run as normal
//! tasks, as keepalived's scripts do. The nice value and the CPU set go to every thread of
//! the daemon. As in keepalived, the nice value is not used with a realtime priority.
//!
//! A reload applies the new settings and takes back the ones dropped, to what the daemon
//! started with. Nothing here is fatal: a setting the kernel refuses (no CAP_SYS_NICE, an
//! offline CPU) is logged with its keyword, and the daemon runs on as it was.

use std::io;

use baton_conf::Scheduling;

/// The scheduling the daemon has, and what it started with.
pub struct Scheduler {
    applied: Scheduling,
    /// The advert loop's realtime priority now: the applied one, or none during a reload.
    policy: Option<u8>,
    original: Original,
}

/// The daemon's scheduling before any setting of the configuration, to return to.
struct Original {
    nice: i32,
    affinity: Option<libc::cpu_set_t>,
    rttime: Option<libc::rlimit>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("applied", &self.applied)
            .field("original_nice", &self.original.nice)
            .finish_non_exhaustive()
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl Scheduler {
    /// Note the daemon's scheduling as started; nothing changes until [`Scheduler::apply`].
    pub fn new() -> Scheduler {
        Scheduler {
            applied: Scheduling::default(),
            policy: None,
            original: Original {
                nice: nice_of(0).unwrap_or(0),
                affinity: affinity_of(0).ok(),
                rttime: rttime_limit().ok(),
            },
        }
    }

    /// Make the daemon's scheduling `want`, changing only what differs from what was
    /// applied before. Call on the thread that runs the loop.
    pub fn apply(&mut self, want: &Scheduling) {
        let before = std::mem::replace(&mut self.applied, want.clone());
        self.realtime(&before, want);
        let nice = |s: &Scheduling| match s.rt_priority {
            None if s.nice != 0 => Some(s.nice),
            _ => None,
        };
        if want.rt_priority.is_some() && want.nice != 0 {
            tracing::info!(
                "vrrp_priority {} is not used with vrrp_rt_priority (as in keepalived)",
                want.nice
            );
        }
        if nice(&before) != nice(want) {
            let value = nice(want).map_or(self.original.nice, i32::from);
            for_each_thread("vrrp_priority", |tid| set_nice(tid, value));
            tracing::info!("Nice value {value} (vrrp_priority)");
        }
        if before.no_swap != want.no_swap {
            lock_memory(want.no_swap);
        }
        if before.cpu_affinity != want.cpu_affinity {
            self.affinity(want);
        }
    }

    /// Run as a normal task until the next [`Scheduler::apply`] (which sets the realtime
    /// priority again): for work too long to do without blocking, such as a reload.
    pub fn leave_realtime(&mut self) {
        if self.policy.is_none() {
            return;
        }
        match set_realtime(None) {
            Ok(()) => self.policy = None,
            Err(e) => tracing::warn!("cannot leave realtime scheduling for the reload: {e}"),
        }
    }

    fn realtime(&mut self, before: &Scheduling, want: &Scheduling) {
        if self.policy != want.rt_priority {
            if let Err(e) = set_realtime(want.rt_priority) {
                match want.rt_priority {
                    Some(prio) => tracing::warn!(
                        "vrrp_rt_priority {prio}: cannot use realtime scheduling ({e}); running as before"
                    ),
                    None => tracing::warn!("cannot leave realtime scheduling: {e}"),
                }
                return;
            }
            self.policy = want.rt_priority;
        }
        match want.rt_priority {
            Some(prio)
                if before.rt_priority.is_none()
                    || before.rlimit_rttime_us != want.rlimit_rttime_us =>
            {
                let limit = u64::from(want.rlimit_rttime_us);
                // SIGXCPU at half the limit, as keepalived sets it: a warning before the kill.
                let rlim = libc::rlimit {
                    rlim_cur: limit / 2,
                    rlim_max: limit,
                };
                match set_rttime_limit(&rlim) {
                    Ok(()) => tracing::info!(
                        "Realtime scheduling: SCHED_RR priority {prio} (vrrp_rt_priority) for the \
                         advert loop; at most {limit} µs of CPU without blocking (vrrp_rlimit_rttime)"
                    ),
                    Err(e) => tracing::warn!(
                        "Realtime scheduling: SCHED_RR priority {prio} (vrrp_rt_priority), but \
                         vrrp_rlimit_rttime {limit} was refused: {e}"
                    ),
                }
            }
            None if before.rt_priority.is_some() => {
                // Raising a hard limit needs CAP_SYS_RESOURCE. Without it the lowered limit
                // stays, which is harmless: it counts only for realtime tasks.
                if let Some(rlim) = &self.original.rttime
                    && let Err(e) = set_rttime_limit(rlim)
                {
                    tracing::info!(
                        "The realtime CPU limit stays at {} µs ({e}); it applies to realtime \
                         tasks only",
                        before.rlimit_rttime_us
                    );
                }
                tracing::info!("Realtime scheduling off (no vrrp_rt_priority)");
            }
            _ => {}
        }
    }

    fn affinity(&self, want: &Scheduling) {
        let set = if want.cpu_affinity.is_empty() {
            match self.original.affinity {
                Some(set) => set,
                None => return,
            }
        } else {
            cpu_set(&want.cpu_affinity)
        };
        let keyword = "vrrp_cpu_affinity";
        if for_each_thread(keyword, |tid| set_affinity(tid, &set)) {
            if want.cpu_affinity.is_empty() {
                tracing::info!("CPU affinity as started (no vrrp_cpu_affinity)");
            } else {
                tracing::info!("CPU affinity {:?} (vrrp_cpu_affinity)", want.cpu_affinity);
            }
        }
    }
}

/// Run `f` for every thread of the daemon (the calling thread alone if /proc cannot list
/// them); log the first refusal with `keyword`. Whether every thread took it.
fn for_each_thread(keyword: &str, f: impl Fn(libc::pid_t) -> io::Result<()>) -> bool {
    let tids: Vec<libc::pid_t> = match std::fs::read_dir("/proc/self/task") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(e) => {
            tracing::warn!("{keyword}: cannot list the daemon's threads ({e}); this thread only");
            vec![0]
        }
    };
    for tid in tids {
        // A thread that ended since the listing is no refusal.
        match f(tid) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => {
                tracing::warn!("{keyword}: refused by the kernel ({e}); running as before");
                return false;
            }
        }
    }
    true
}

fn cpu_set(cpus: &[u16]) -> libc::cpu_set_t {
    // SAFETY: all-zero is an empty cpu_set_t.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: the parser keeps ids under CPU_SETSIZE (1024), which CPU_SET asserts.
        unsafe { libc::CPU_SET(usize::from(c), &mut set) };
    }
    set
}

/// `errno`-style result of a libc call that returns -1 on failure.
fn check(r: libc::c_int) -> io::Result<()> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_realtime(prio: Option<u8>) -> io::Result<()> {
    let (policy, priority) = match prio {
        Some(p) => (
            libc::SCHED_RR | libc::SCHED_RESET_ON_FORK,
            libc::c_int::from(p),
        ),
        None => (libc::SCHED_OTHER, 0),
    };
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: plain syscall on the calling thread (0) with a valid sched_param.
    check(unsafe { libc::sched_setscheduler(0, policy, &param) })
}

fn rttime_limit() -> io::Result<libc::rlimit> {
    let mut rlim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the rlimit it is given.
    check(unsafe { libc::getrlimit(libc::RLIMIT_RTTIME, &mut rlim) })?;
    Ok(rlim)
}

fn set_rttime_limit(rlim: &libc::rlimit) -> io::Result<()> {
    // SAFETY: setrlimit reads the rlimit it is given.
    check(unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, rlim) })
}

fn nice_of(tid: libc::pid_t) -> io::Result<i32> {
    // getpriority may return -1 as a value: errno tells.
    nix::errno::Errno::clear();
    // SAFETY: plain syscall.
    let v = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) };
    match nix::errno::Errno::last_raw() {
        0 => Ok(v),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// On Linux a thread id names one thread here, not the process.
fn set_nice(tid: libc::pid_t, nice: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) })
}

fn affinity_of(tid: libc::pid_t) -> io::Result<libc::cpu_set_t> {
    // SAFETY: all-zero is an empty cpu_set_t, which sched_getaffinity fills.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the size given is the set's.
    check(unsafe {
        libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
    })?;
    Ok(set)
}

fn set_affinity(tid: libc::pid_t, set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: the size given is the set's.
    check(unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) })
}

/// `vrrp_no_swap`: lock the daemon's pages as they are touched (`MCL_ONFAULT`, as
/// keepalived does: locking every mapped page at once would make the whole program and
/// every thread's stack resident), or unlock them.
fn lock_memory(lock: bool) {
    if lock {
        // SAFETY: plain syscall.
        match check(unsafe {
            libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT)
        }) {
            Ok(()) => tracing::info!("Memory locked (vrrp_no_swap)"),
            Err(e) => tracing::warn!("vrrp_no_swap: cannot lock the daemon in memory: {e}"),
        }
    } else {
        // SAFETY: plain syscall.
        match check(unsafe { libc::munlockall() }) {
            Ok(()) => tracing::info!("Memory unlocked (no vrrp_no_swap)"),
            Err(e) => tracing::warn!("cannot unlock the daemon's memory: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs in `set`.
    fn cpus_of(set: &libc::cpu_set_t) -> Vec<usize> {
        // SAFETY: every index is under CPU_SETSIZE.
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
            .collect()
    }

    #[test]
    fn a_cpu_set_holds_exactly_the_cpus_named() {
        assert_eq!(cpus_of(&cpu_set(&[0, 3])), vec![0, 3]);
        assert_eq!(cpus_of(&cpu_set(&[])), Vec::<usize>::new());
    }
}
