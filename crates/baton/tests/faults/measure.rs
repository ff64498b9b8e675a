//! What the fault cases measure: a process's resident memory and CPU time, and from a
//! capture of the segment, how long it went without a master and how long two masters
//! advertised at once.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::common::{Advert, between};

/// Resident memory of `pid`, in kB (VmRSS).
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// CPU time `pid` has used, all its threads, in nanoseconds (schedstat: exact, unlike the
/// 10 ms ticks of /proc/PID/stat).
pub fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("schedstat");
        // A thread of the blocking pool may end between the listing and the read.
        if let Ok(s) = std::fs::read_to_string(path) {
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// The adverts of `vrid` with a priority above 0 (a master's), sent at `from` or later.
pub fn masters_adverts(adverts: &[Advert], vrid: u8, from: SystemTime) -> Vec<Advert> {
    adverts
        .iter()
        .filter(|a| a.vrid == vrid && a.priority > 0 && a.ts >= from)
        .cloned()
        .collect()
}

/// The longest time between two master adverts of the list (and until `end`): how long the
/// segment went without a master.
pub fn longest_without_master(adverts: &[Advert], start: SystemTime, end: SystemTime) -> Duration {
    let mut last = start;
    let mut longest = Duration::ZERO;
    for a in adverts.iter().filter(|a| a.ts >= start && a.ts <= end) {
        longest = longest.max(between(last, a.ts));
        last = a.ts;
    }
    longest.max(end.duration_since(last).unwrap_or_default())
}

/// The longest stretch during which two sources advertised as master at once: each counts
/// as advertising for `hold` after each of its adverts.
pub fn longest_two_masters(adverts: &[Advert], hold: Duration) -> Duration {
    let mut last: Vec<(IpAddr, SystemTime)> = Vec::new();
    let mut since: Option<SystemTime> = None;
    let mut longest = Duration::ZERO;
    for a in adverts {
        last.retain(|(src, _)| *src != a.src);
        last.push((a.src, a.ts));
        let active = last
            .iter()
            .filter(|(_, t)| a.ts.duration_since(*t).unwrap_or_default() <= hold)
            .count();
        match (active >= 2, since) {
            (true, None) => since = Some(a.ts),
            (true, Some(s)) => longest = longest.max(between(s, a.ts)),
            (false, Some(_)) => since = None,
            (false, None) => {}
        }
    }
    longest
}

/// "5.7 MB"
pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}
