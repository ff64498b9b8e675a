//! Adverts in: datagrams read from the VRRP sockets in batches (`recvmmsg`), parsed
//! (baton-wire) and handed to the core as `Input::Advert`, each at the time the kernel took
//! it in.
//!
//! Interrupt moderation, as a network card does it. A backup of thousands of instances hears
//! their masters' adverts in bursts (a master sends all of its instances' adverts together),
//! and woken by the first datagram of a burst it used to read the few that had arrived, sleep,
//! and be woken again for the next few: a hundred wake-ups per burst, each a context switch
//! costing more than the adverts it read, and each one taking the CPU from the sender on a
//! shared host. So a wake-up that finds more than one datagram *parks* the sockets: their
//! reading leaves the loop's epoll set, and the loop comes back on its own after
//! [`RX_HOLDOFF`] to read everything that arrived meanwhile in one go, staying parked while
//! adverts keep coming and watching the sockets again as soon as a look finds none. A daemon
//! that hears a few adverts a second never parks.
//!
//! Reading later never moves a timer: every datagram carries the kernel's arrival time, and
//! the core takes the advert in as of then. And before any deadline is acted on, every
//! datagram waiting is read first (as before parking existed), so a down timer never expires
//! on a master whose adverts sit unread.

use std::io;
use std::time::Duration;

use baton_vrrp::{Input, Level, PeerLogKind, ReceivedAdvert};
use baton_wire::advert::Packet;
use baton_wire::{AdvertRepr, ChecksumPolicy, auth_ext};

use super::{Daemon, clock};
use crate::south::vrrp_socket::RecvBatch;

/// How long parked sockets wait before they are read: the most an advert's effect (a
/// preemption, a higher-priority master heard) is delayed, 5 % of the shortest advert
/// interval VRRPv3 allows.
pub(super) const RX_HOLDOFF: Duration = Duration::from_micros(500);
/// Datagrams one wake-up must find to park the sockets.
const PARK_AT: usize = 2;
/// Most datagrams taken from the sockets before the actions they led to are carried out and
/// the loop looks at its other sources again.
const RECV_LIMIT: usize = 64;
/// The oldest an arrival time is believed: older means the realtime clock was stepped
/// between the datagram's arrival and its reading (or the loop stalled), and the advert is
/// taken in as of a little earlier than it was read — never earlier than this, so a clock
/// stepped forward cannot make a live master look silent.
const MAX_AGE: Duration = Duration::from_millis(5);
/// The source of a datagram that could not be read far enough to know it.
const UNKNOWN_SOURCE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// The receive side's state: the batch buffers and whether the sockets are parked.
#[derive(Debug, Default)]
pub(super) struct Receiver {
    pub(super) batch: RecvBatch,
    /// When parked sockets are next read.
    parked_until: Option<baton_vrrp::Instant>,
}

impl Receiver {
    pub(super) fn next_due(&self) -> Option<baton_vrrp::Instant> {
        self.parked_until
    }
}

impl Daemon {
    /// Endpoint `i` was readable and `r` is what was read from it into the batch: take it and
    /// everything else waiting (up to [`RECV_LIMIT`]), park the sockets if that was more than
    /// one datagram, then carry out what the core asked.
    pub(super) async fn on_datagrams(&mut self, i: usize, r: io::Result<usize>) {
        let mut n = self.take_batch(i, r);
        n += self.take_waiting_datagrams(RECV_LIMIT.saturating_sub(n));
        if n >= PARK_AT && self.rx.parked_until.is_none() {
            self.sockets.park();
            self.rx.parked_until = Some(self.clock.now() + RX_HOLDOFF);
        }
        self.execute().await;
    }

    /// Before a deadline is acted on: hand the core every datagram already waiting. After a
    /// stall (a paused VM, a starved CPU) a backup's down timer has expired while its master's
    /// adverts sit unread in the socket; reading them first keeps it from taking over from a
    /// master that is alive, as keepalived does. Bounded, so a flood cannot hold the timers
    /// off for long. When the parked sockets are due, they stay parked if adverts came
    /// meanwhile and are watched again if none did.
    pub(super) async fn drain_datagrams(&mut self) {
        let n = self.read_before_deadline();
        if let Some(until) = self.rx.parked_until {
            let now = self.clock.now();
            if now >= until {
                if n == 0 {
                    self.sockets.unpark();
                }
                self.rx.parked_until = self.sockets.parked().then(|| now + RX_HOLDOFF);
            }
        }
        self.execute().await;
    }

    /// Read every datagram waiting (bounded), leaving the core's actions queued. Returns how
    /// many were read.
    pub(super) fn read_before_deadline(&mut self) -> usize {
        let limit = 4 * self.node.instances().len() + 16;
        self.take_waiting_datagrams(limit)
    }

    /// Hand the core up to `limit` datagrams already waiting in the sockets, reading none
    /// that has not arrived. Returns how many were read.
    fn take_waiting_datagrams(&mut self, limit: usize) -> usize {
        let mut total = 0;
        for i in 0..self.sockets.len() {
            while total < limit {
                let r = self.sockets.recv_waiting(i, &mut self.rx.batch);
                let n = self.take_batch(i, r);
                total += n;
                if n == 0 {
                    break;
                }
            }
        }
        total
    }

    /// Parse every datagram of the batch read from socket `i` and hand each to the core, or
    /// count why not. The actions they lead to wait in `self.actions` for
    /// [`Daemon::execute`]. Returns how many were read.
    fn take_batch(&mut self, i: usize, r: io::Result<usize>) -> usize {
        let n = match r {
            Ok(n) => n,
            Err(e) => {
                self.receive_failed(i, e);
                return 0;
            }
        };
        // Both clocks once per batch: an arrival time is realtime, the core's is monotonic.
        let read_at = (self.clock.now(), clock::unix_time());
        for k in 0..n {
            self.take_datagram(i, k, read_at);
        }
        n
    }

    fn receive_failed(&mut self, i: usize, e: io::Error) {
        let Some(ep) = self.sockets.get_mut(i) else {
            return;
        };
        ep.stats.wire_errors.other += 1;
        if matches!(
            e.raw_os_error(),
            Some(libc::ENODEV | libc::ENXIO | libc::ENETDOWN)
        ) {
            // The device went away under the socket: a socket that fails every read would
            // spin the loop. It is opened again when the interface comes back.
            tracing::warn!(
                "{} ({}): receive: {e}; closing the VRRP socket until the interface is back",
                ep.ifname,
                ep.family
            );
            ep.socket = None;
        } else {
            tracing::debug!("{} ({}): receive: {e}", ep.ifname, ep.family);
        }
    }

    /// Datagram `k` of the batch read from socket `i`, read at `read_at` (monotonic,
    /// realtime).
    fn take_datagram(&mut self, i: usize, k: usize, read_at: (baton_vrrp::Instant, Duration)) {
        let Some(ep) = self.sockets.get_mut(i) else {
            return;
        };
        ep.stats.received += 1;
        let rx = match self.rx.batch.received(k, ep.family) {
            Ok(rx) => rx,
            Err(e) => {
                ep.stats.wire_errors.count_recv(&e);
                if tracing::enabled!(tracing::Level::DEBUG)
                    && self.peer_log.admit(
                        read_at.0,
                        PeerLogKind::Malformed,
                        UNKNOWN_SOURCE,
                        Level::Debug,
                    )
                {
                    tracing::debug!("{} ({}): dropped datagram: {e}", ep.ifname, ep.family);
                }
                return;
            }
        };
        let now = arrival(rx.arrived, read_at);
        // keepalived's auth_hmac trailer is found by length alone.
        let (message, trailer) = auth_ext::split(rx.payload, ep.family);
        let parsed = Packet::new_checked(message, ep.family).and_then(|p| match trailer {
            Some(t) => AdvertRepr::parse_with_trailer(
                &p,
                t,
                ep.family,
                rx.src,
                rx.dst,
                ChecksumPolicy::Either,
            ),
            None => AdvertRepr::parse(&p, ep.family, rx.src, rx.dst, ChecksumPolicy::Either),
        });
        let (advert, checksum) = match parsed {
            Ok(a) => a,
            Err(e) => {
                ep.stats.wire_errors.count_parse(&e);
                if tracing::enabled!(tracing::Level::DEBUG)
                    && self
                        .peer_log
                        .admit(now, PeerLogKind::Malformed, rx.src, Level::Debug)
                {
                    tracing::debug!(
                        "{} ({}): dropped packet from {}: {e}",
                        ep.ifname,
                        ep.family,
                        rx.src
                    );
                }
                return;
            }
        };
        let input = Input::Advert(ReceivedAdvert {
            interface: &ep.ifname,
            family: ep.family,
            advert,
            src: rx.src,
            dst: rx.dst,
            ttl: rx.ttl,
            checksum,
            message,
            trailer: trailer.and_then(|t| auth_ext::TrailerRepr::parse(t).ok()),
            // Only an auth_hmac trailer's freshness needs the realtime clock.
            unix_time: if trailer.is_some() {
                read_at.1
            } else {
                Duration::ZERO
            },
        });
        self.node.handle(now, input, &mut self.actions);
    }
}

/// The core's time at which a datagram arrived: the kernel's realtime stamp carried over to
/// the monotonic clock through the pair of readings taken when the batch was read. Without
/// a stamp, or with one that is in the future or older than [`MAX_AGE`] (the realtime clock
/// was stepped), the advert is taken in as of when it was read, less at most `MAX_AGE`.
fn arrival(
    arrived: Option<Duration>,
    (mono, real): (baton_vrrp::Instant, Duration),
) -> baton_vrrp::Instant {
    match arrived.and_then(|a| real.checked_sub(a)) {
        Some(age) => mono - age.min(MAX_AGE),
        None => mono,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> baton_vrrp::Instant {
        baton_vrrp::Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn an_advert_read_late_counts_from_its_arrival() {
        let read = (at(1_000), Duration::from_secs(5_000));
        let stamp = Duration::from_secs(5_000) - Duration::from_micros(400);
        assert_eq!(
            arrival(Some(stamp), read),
            at(1_000) - Duration::from_micros(400)
        );
    }

    #[test]
    fn a_stamp_from_a_stepped_clock_is_not_believed_far() {
        let read = (at(1_000), Duration::from_secs(5_000));
        // Stamped in the future (the clock went back): as of the read.
        assert_eq!(arrival(Some(Duration::from_secs(5_001)), read), at(1_000));
        // Stamped an hour ago (the clock went forward): at most MAX_AGE earlier.
        assert_eq!(
            arrival(Some(Duration::from_secs(1_400)), read),
            at(1_000) - MAX_AGE
        );
        assert_eq!(arrival(None, read), at(1_000));
    }
}
