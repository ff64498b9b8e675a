//! The timers of the demo's configuration and what they promise: effective priorities with
//! and without nginx, and for each step of the demo what keepalived would take with the
//! seed's settings (the RFC formulas keepalived implements) and what baton must do.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_conf::Config;
use baton_vrrp::timers::{fast_takeover_delay, master_down_interval, skew_time};
use baton_wire::Version;

/// The numbers every estimate comes from, read from the two load balancers' configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    pub version: Version,
    pub advert_int: Duration,
    pub down_timer_adverts: u8,
    /// Configured priorities of lb1 and lb2.
    pub base: [u8; 2],
    /// `check_nginx`: how often it runs and what it adds while it passes (the post's +2).
    pub script_interval: Duration,
    pub script_weight: i32,
    /// baton's process tracker on nginx: what it takes away while nginx is down.
    pub process_weight: i32,
}

/// A duration with the formula behind it, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub time: Duration,
    /// Whether `time` is an upper bound (`≤`) rather than the expected value.
    pub at_most: bool,
    pub why: String,
}

impl Estimate {
    fn new(time: Duration, at_most: bool, why: String) -> Estimate {
        Estimate { time, at_most, why }
    }

    /// `≤ 3.61 s (Master_Down_Interval of lb2)`.
    pub fn describe(&self) -> String {
        format!(
            "{}{} ({})",
            if self.at_most { "≤ " } else { "" },
            secs(self.time),
            self.why
        )
    }
}

/// `3.61 s`, or `14 ms` below a second.
pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

impl Timers {
    pub fn from_configs(lb1: &Config, lb2: &Config) -> Result<Timers> {
        let (Some(i1), Some(i2)) = (lb1.instances.first(), lb2.instances.first()) else {
            bail!("each load balancer needs its vrrp_instance");
        };
        if i1.advert_int != i2.advert_int || i1.version != i2.version {
            bail!("lb1 and lb2 disagree on advert_int or version");
        }
        let script = lb1
            .scripts
            .first()
            .context("lb1 has no vrrp_script check_nginx")?;
        let process = lb1
            .track_processes
            .first()
            .context("lb1 has no vrrp_track_process")?;
        Ok(Timers {
            version: i1.version,
            advert_int: i1.advert_int,
            down_timer_adverts: i1.down_timer_adverts,
            base: [i1.priority, i2.priority],
            script_interval: script.interval,
            script_weight: script.weight,
            process_weight: process.weight,
        })
    }

    /// Effective priority of `lb` (0 or 1) with check_nginx passing, nginx up or down.
    pub fn priority(&self, lb: usize, nginx_up: bool) -> u8 {
        let mut p = i32::from(self.base[lb]);
        if self.script_weight > 0 {
            p += self.script_weight;
        }
        if !nginx_up && self.process_weight < 0 {
            p += self.process_weight;
        }
        p.clamp(1, 254) as u8
    }

    pub fn mdi(&self, prio: u8) -> Duration {
        master_down_interval(self.version, prio, self.advert_int, self.down_timer_adverts)
    }

    pub fn skew(&self, prio: u8) -> Duration {
        skew_time(self.version, prio, self.advert_int)
    }

    /// baton's fast-handover delay for a backup of priority `prio`.
    pub fn fast(&self, prio: u8) -> Duration {
        fast_takeover_delay(prio)
    }

    /// Start: a non-owner in state MASTER still waits a whole Master_Down_Interval.
    pub fn keepalived_startup(&self) -> Estimate {
        let p = self.priority(0, true);
        Estimate::new(
            self.mdi(p),
            false,
            format!("Master_Down_Interval of lb1 at {p}"),
        )
    }

    /// nginx killed on lb1: with the seed's check (weight +2, restart nginx, else `killall
    /// keepalived`) keepalived moves nothing until the script's next run; if nginx cannot be
    /// restarted, lb2 takes over Skew_Time after lb1's priority-0 advert.
    pub fn keepalived_nginx_kill(&self) -> Estimate {
        let skew = self.skew(self.priority(1, true));
        Estimate::new(
            self.script_interval + skew,
            true,
            format!(
                "next check_nginx run ≤ {}, killall, Skew_Time {}",
                secs(self.script_interval),
                secs(skew)
            ),
        )
    }

    /// lb1 better again: keepalived's backup discards lower-priority adverts and waits out
    /// its own Master_Down_Interval before it preempts.
    pub fn keepalived_preempt(&self) -> Estimate {
        let p = self.priority(0, true);
        Estimate::new(
            self.mdi(p),
            true,
            format!("Master_Down_Interval of lb1 at {p}"),
        )
    }

    /// The master's daemon crashes: the backup waits Master_Down_Interval from the last
    /// advert it heard.
    pub fn keepalived_crash(&self) -> Estimate {
        let p = self.priority(1, true);
        Estimate::new(
            self.mdi(p),
            true,
            format!("Master_Down_Interval of lb2 at {p}"),
        )
    }

    /// A backup that stops hearing the master (the seed's firewall) becomes master after
    /// Master_Down_Interval.
    pub fn keepalived_split(&self) -> Estimate {
        self.keepalived_crash()
    }

    /// Once adverts flow again, the lower master yields on the first advert it hears.
    pub fn keepalived_heal(&self) -> Estimate {
        Estimate::new(self.advert_int, true, "one advert_int".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;
    use std::path::Path;

    fn timers() -> Timers {
        let script = Path::new("/x/check_nginx.sh");
        let c1 = seed::parse(
            "lb1",
            &seed::keepalived_conf(seed::MASTER_CONF, script).unwrap(),
            script,
        )
        .unwrap();
        let c2 = seed::parse(
            "lb2",
            &seed::keepalived_conf(seed::BACKUP_CONF, script).unwrap(),
            script,
        )
        .unwrap();
        Timers::from_configs(&c1, &c2).unwrap()
    }

    #[test]
    fn the_seeds_priorities_with_and_without_nginx() {
        let t = timers();
        assert_eq!(t.base, [200, 100]);
        assert_eq!(t.priority(0, true), 202);
        assert_eq!(t.priority(1, true), 102);
        // Without nginx lb1 falls below lb2: that is what moves the VIP.
        assert_eq!(t.priority(0, false), 52);
        assert!(t.priority(0, false) < t.priority(1, true));
    }

    /// keepalived-semantics §3: v2, advert_int 1: Master_Down_Interval = 3 + (256 − p)/256 s.
    #[test]
    fn keepalived_estimates_follow_the_rfc_formulas() {
        let t = timers();
        let crash = t.keepalived_crash();
        assert_eq!(
            crash.time,
            Duration::from_secs(3) + Duration::from_secs(154) / 256
        );
        assert!(
            crash
                .describe()
                .starts_with("≤ 3.60 s (Master_Down_Interval of lb2 at 102")
        );
        assert_eq!(
            t.keepalived_startup().time,
            Duration::from_secs(3) + Duration::from_secs(54) / 256
        );
        assert_eq!(
            t.keepalived_nginx_kill().time,
            Duration::from_secs(2) + Duration::from_secs(154) / 256
        );
        assert_eq!(t.keepalived_heal().time, Duration::from_secs(1));
        // baton's fast handover: (256 − 102) × 20 ms / 256.
        assert_eq!(
            t.fast(102),
            Duration::from_micros(12_031) + Duration::from_nanos(250)
        );
    }

    #[test]
    fn durations_print_in_ms_below_a_second() {
        assert_eq!(secs(Duration::from_millis(14)), "14 ms");
        assert_eq!(secs(Duration::from_millis(3609)), "3.61 s");
    }
}
