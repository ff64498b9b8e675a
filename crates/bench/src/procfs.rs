//! CPU time and memory of a set of processes, from /proc.

use std::time::Duration;

use anyhow::{Context, Result};

/// utime + stime of one process (`/proc/<pid>/stat` fields 14 and 15).
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu(&stat, ticks_per_second()).with_context(|| format!("parsing /proc/{pid}/stat"))
}

fn ticks_per_second() -> u64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        // Linux's USER_HZ on every architecture it runs on.
        _ => 100,
    }
}

fn parse_cpu(stat: &str, hz: u64) -> Option<Duration> {
    // The command name may hold spaces and parentheses; the fields follow the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_nanos((utime + stime) * 1_000_000_000 / hz))
}

/// Sum of CPU times.
pub fn cpu_of(pids: &[u32]) -> Result<Duration> {
    pids.iter().map(|p| cpu_time(*p)).sum()
}

/// Resident, proportional and anonymous set sizes, kB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss_kb: u64,
    pub pss_kb: u64,
    /// Heap, stacks and other private memory the daemon wrote: what it costs whatever
    /// else runs on the machine.
    pub anon_kb: u64,
}

impl std::ops::Add for Memory {
    type Output = Memory;
    fn add(self, o: Memory) -> Memory {
        Memory {
            rss_kb: self.rss_kb + o.rss_kb,
            pss_kb: self.pss_kb + o.pss_kb,
            anon_kb: self.anon_kb + o.anon_kb,
        }
    }
}

pub fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    Ok(Memory {
        rss_kb: kb(&status, "VmRSS:").context("no VmRSS")?,
        pss_kb: kb(&rollup, "Pss:").context("no Pss")?,
        anon_kb: kb(&rollup, "Anonymous:").context("no Anonymous")?,
    })
}

pub fn memory_of(pids: &[u32]) -> Result<Memory> {
    pids.iter()
        .map(|p| memory(*p))
        .try_fold(Memory::default(), |acc, m| Ok(acc + m?))
}

fn kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_tricky_name() {
        let stat =
            "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 1000 200";
        assert_eq!(parse_cpu(stat, 100), Some(Duration::from_secs(3)));
        assert_eq!(parse_cpu("garbage", 100), None);
    }

    #[test]
    fn memory_fields() {
        assert_eq!(kb("Name:\tx\nVmRSS:\t  5120 kB\n", "VmRSS:"), Some(5120));
        assert_eq!(
            kb("Rss: 10 kB\nPss:  7 kB\nPss_Anon: 3 kB\n", "Pss:"),
            Some(7)
        );
        let me = std::process::id();
        let m = memory(me).unwrap();
        assert!(m.rss_kb > 0 && m.pss_kb > 0 && m.pss_kb <= m.rss_kb);
        assert!(m.anon_kb > 0 && m.anon_kb <= m.rss_kb);
        assert!(cpu_time(me).is_ok());
    }
}
