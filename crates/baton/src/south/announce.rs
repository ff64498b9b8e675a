//! Gratuitous ARP and unsolicited NA bursts. The core decides when a burst is due and how
//! many frames it holds ([`baton_vrrp::Action::Announce`]); this queue only spaces frames on
//! each interface by `vrrp_garp_interval` / `vrrp_gna_interval` (back to back when zero, as
//! keepalived sends them) and opens one AF_PACKET sender per interface when first needed.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use baton_vrrp::Instant;
use serde::Serialize;

use super::links::Interfaces;
use crate::south::garp::{Announcer, ipv6_forwarding};

/// Frames one interface may have waiting for one family. A burst is a few rounds over the
/// VIPs; what goes beyond this (a flood of lower-priority adverts asking for
/// `garp_lower_prio_repeat` bursts, with frames spaced apart) is dropped and counted.
pub const MAX_PENDING: usize = 4096;

/// Frames waiting on one interface for one family.
#[derive(Debug, Default)]
struct Queue {
    pending: VecDeque<IpAddr>,
    spacing: Duration,
    /// The earliest time the next frame may go.
    next: Instant,
}

impl Queue {
    fn due(&self) -> Option<Instant> {
        (!self.pending.is_empty()).then_some(self.next)
    }
}

/// Frames sent and lost, for status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnnounceStats {
    pub garp_sent: u64,
    pub na_sent: u64,
    pub errors: u64,
    /// Frames not queued because the interface's queue held [`MAX_PENDING`] already.
    pub dropped_queue_full: u64,
}

#[derive(Debug)]
struct Interface {
    ifname: Arc<str>,
    sender: Option<(u32, [u8; 6], Announcer)>,
    arp: Queue,
    na: Queue,
}

/// Every interface's announcement queue.
#[derive(Debug, Default)]
pub struct Announcements {
    interfaces: Vec<Interface>,
    pub stats: AnnounceStats,
}

impl Announcements {
    /// Queue `repeat` rounds of frames for `addrs` (each with the interface it lives on):
    /// round after round, every address once per round, as keepalived orders a burst.
    pub fn enqueue(
        &mut self,
        addrs: &[(Arc<str>, IpAddr)],
        repeat: u32,
        spacing_arp: Duration,
        spacing_na: Duration,
    ) {
        for _ in 0..repeat {
            for (ifname, addr) in addrs {
                let dropped = &mut self.stats.dropped_queue_full;
                let i = Self::interface_in(&mut self.interfaces, ifname);
                let q = match addr {
                    IpAddr::V4(_) => {
                        i.arp.spacing = spacing_arp;
                        &mut i.arp
                    }
                    IpAddr::V6(_) => {
                        i.na.spacing = spacing_na;
                        &mut i.na
                    }
                };
                if q.pending.len() >= MAX_PENDING {
                    *dropped += 1;
                    continue;
                }
                q.pending.push_back(*addr);
            }
        }
    }

    fn interface_in<'a>(
        interfaces: &'a mut Vec<Interface>,
        ifname: &Arc<str>,
    ) -> &'a mut Interface {
        let pos = match interfaces.iter().position(|i| i.ifname == *ifname) {
            Some(p) => p,
            None => {
                interfaces.push(Interface {
                    ifname: ifname.clone(),
                    sender: None,
                    arp: Queue::default(),
                    na: Queue::default(),
                });
                interfaces.len() - 1
            }
        };
        &mut interfaces[pos]
    }

    /// When a spaced frame is next due.
    pub fn next_due(&self) -> Option<Instant> {
        self.interfaces
            .iter()
            .flat_map(|i| [i.arp.due(), i.na.due()])
            .flatten()
            .min()
    }

    /// Send every frame that is due at `now`.
    pub fn flush(&mut self, now: Instant, ifaces: &Interfaces) {
        let stats = &mut self.stats;
        for i in &mut self.interfaces {
            if i.arp.due().is_none_or(|t| t > now) && i.na.due().is_none_or(|t| t > now) {
                continue;
            }
            let Some(link) = ifaces.by_name(&i.ifname) else {
                let lost = i.arp.pending.len() + i.na.pending.len();
                tracing::warn!(
                    "cannot announce {lost} address(es) on {}: no such interface",
                    i.ifname
                );
                stats.errors += lost as u64;
                i.arp.pending.clear();
                i.na.pending.clear();
                continue;
            };
            let Some(mac) = link.mac else {
                // No Ethernet address (e.g. a tunnel): nothing to tell neighbours.
                i.arp.pending.clear();
                i.na.pending.clear();
                continue;
            };
            // Reopen when the interface was recreated or changed its address.
            if i.sender
                .as_ref()
                .is_none_or(|(index, m, _)| *index != link.index || *m != mac)
            {
                match Announcer::open(&i.ifname, link.index, mac) {
                    Ok(a) => i.sender = Some((link.index, mac, a)),
                    Err(e) => {
                        tracing::warn!("{e}");
                        stats.errors += (i.arp.pending.len() + i.na.pending.len()) as u64;
                        i.arp.pending.clear();
                        i.na.pending.clear();
                        continue;
                    }
                }
            }
            let Some((_, _, sender)) = &i.sender else {
                continue;
            };
            let router = !i.na.pending.is_empty() && ipv6_forwarding(&i.ifname);
            for q in [&mut i.arp, &mut i.na] {
                while let Some(t) = q.due() {
                    if t > now {
                        break;
                    }
                    let Some(addr) = q.pending.pop_front() else {
                        break;
                    };
                    let sent = match addr {
                        IpAddr::V4(a) => sender.send_garp(a).map(|()| stats.garp_sent += 1),
                        IpAddr::V6(a) => sender.send_na(a, router).map(|()| stats.na_sent += 1),
                    };
                    if let Err(e) = sent {
                        stats.errors += 1;
                        tracing::warn!("{e}");
                    }
                    if !q.spacing.is_zero() {
                        q.next = now + q.spacing;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bursts_go_round_by_round_and_spacing_applies_per_family() {
        let mut an = Announcements::default();
        let ens: Arc<str> = Arc::from("ens33");
        an.enqueue(
            &[
                (ens.clone(), a("192.168.5.10")),
                (ens.clone(), a("192.168.5.20")),
                (ens.clone(), a("fd00::10")),
            ],
            2,
            Duration::ZERO,
            Duration::from_millis(10),
        );
        let i = &an.interfaces[0];
        assert_eq!(
            i.arp.pending.iter().copied().collect::<Vec<_>>(),
            vec![
                a("192.168.5.10"),
                a("192.168.5.20"),
                a("192.168.5.10"),
                a("192.168.5.20")
            ]
        );
        assert_eq!(i.na.pending.len(), 2);
        assert_eq!(i.na.spacing, Duration::from_millis(10));
        assert_eq!(an.next_due(), Some(Instant::ZERO));
    }

    #[test]
    fn a_queue_never_holds_more_than_its_bound() {
        let mut an = Announcements::default();
        let ens: Arc<str> = Arc::from("ens33");
        // A flood of lower-priority adverts, each asking for a burst while frames are spaced.
        for _ in 0..2_000 {
            an.enqueue(
                &[(ens.clone(), a("192.168.5.10"))],
                3,
                Duration::from_millis(10),
                Duration::ZERO,
            );
        }
        assert_eq!(an.interfaces[0].arp.pending.len(), MAX_PENDING);
        assert_eq!(an.stats.dropped_queue_full, 6_000 - MAX_PENDING as u64);
    }

    #[test]
    fn frames_for_a_missing_interface_are_dropped_and_counted() {
        let mut an = Announcements::default();
        an.enqueue(
            &[(Arc::from("nosuch0"), a("192.168.5.10"))],
            3,
            Duration::ZERO,
            Duration::ZERO,
        );
        an.flush(Instant::ZERO, &Interfaces::default());
        assert_eq!(an.stats.errors, 3);
        assert_eq!(an.next_due(), None);
    }
}
