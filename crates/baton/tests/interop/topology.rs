//! The segment every interop case runs on: two routers on one bridge, with the seed's
//! addresses (192.168.5.11 and .12, VIP .10, VRID 51) and their IPv6 twins. Each case builds
//! its own lab, so cases share addresses without sharing a wire.

use std::time::Duration;

use anyhow::{Context, Result};
use baton_lab::{Host, HostSpec, Lab};

/// The interface every router advertises on.
pub const IFNAME: &str = "eth0";
/// The virtual router of every case (the seed's).
pub const VRID: u8 = 51;

/// Address family of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// VRRP version of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The advertisement interval the cases use: VRRPv2 only knows whole seconds; v3 runs
    /// five times faster so the suite stays short, slow enough that a loaded two-core
    /// machine does not miss three adverts in a row.
    pub fn interval(self) -> Duration {
        match self {
            Version::V2 => Duration::from_secs(1),
            Version::V3 => Duration::from_millis(200),
        }
    }
}

/// RFC 5798 §6.1 Master_Down_Interval for a backup of `priority` (keepalived's
/// down_timer_adverts of 3): how long a crash takes to notice.
pub fn master_down_interval(version: Version, priority: u8) -> Duration {
    let interval = version.interval();
    let skew = match version {
        // RFC 3768: (256 - Priority) / 256 seconds, whatever the interval.
        Version::V2 => Duration::from_secs_f64(f64::from(256 - u32::from(priority)) / 256.0),
        Version::V3 => interval * (256 - u32::from(priority)) / 256,
    };
    interval * 3 + skew
}

/// The two routers' and the VIP's addresses in one family.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    pub r1: &'static str,
    pub r2: &'static str,
    pub vip: &'static str,
    /// A second VIP, for the "different VIP list" mismatch.
    pub other_vip: &'static str,
    pub prefix: u8,
}

pub const V4: Addresses = Addresses {
    r1: "192.168.5.11",
    r2: "192.168.5.12",
    vip: "192.168.5.10",
    other_vip: "192.168.5.20",
    prefix: 24,
};

pub const V6: Addresses = Addresses {
    r1: "fd00:5::11",
    r2: "fd00:5::12",
    vip: "fd00:5::10",
    other_vip: "fd00:5::20",
    prefix: 64,
};

impl Family {
    pub fn addresses(self) -> Addresses {
        match self {
            Family::Ipv4 => V4,
            Family::Ipv6 => V6,
        }
    }
}

/// A lab with two routers, `r1` (192.168.5.11, fd00:5::11) and `r2` (.12, ::12), both
/// families on `eth0`.
#[derive(Debug)]
pub struct Pair {
    pub lab: Lab,
    pub r1: Host,
    pub r2: Host,
}

impl Pair {
    pub fn new(name: &str) -> Result<Pair> {
        let lab = Lab::new(name).with_context(|| format!("building lab {name}"))?;
        let host = |n: &str, a4: &str, a6: &str| {
            lab.add_host(
                HostSpec::new(n)
                    .ifname(IFNAME)
                    .addr(format!("{a4}/{}", V4.prefix))
                    .addr(format!("{a6}/{}", V6.prefix)),
            )
            .with_context(|| format!("adding host {n}"))
        };
        let r1 = host("r1", V4.r1, V6.r1)?;
        let r2 = host("r2", V4.r2, V6.r2)?;
        Ok(Pair { lab, r1, r2 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_down_interval_follows_the_rfcs() {
        // RFC 3768's example: v2, 1 s, priority 100 → 3 + 156/256 s.
        let v2 = master_down_interval(Version::V2, 100);
        assert_eq!(v2.as_micros(), 3_609_375);
        // RFC 5798: v3 skew scales with the interval: 0.6 s + 156/256 × 0.2 s.
        let v3 = master_down_interval(Version::V3, 100);
        assert_eq!(v3.as_micros(), 721_875);
    }
}
