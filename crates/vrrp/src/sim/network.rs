//! The simulated wire: frames through the real codec, delay, loss and partitions, and the
//! event loop that advances virtual time.

use std::cmp::Reverse;
use std::net::IpAddr;

use baton_wire::advert::Packet;
use baton_wire::{AdvertRepr, ChecksumPolicy, Family};

use super::{Event, RouterId, STORM_EVENTS, Sim};
use crate::action::{Destination, SendAdvert};
use crate::input::{Input, ReceivedAdvert};
use crate::time::Instant;

/// The realtime clock of every simulated router at virtual time zero (June 2025), for
/// `auth_hmac`'s time-based sequence.
const SIM_UNIX_EPOCH: std::time::Duration = std::time::Duration::from_secs(1_750_000_000);

impl Sim {
    pub(super) fn transmit(&mut self, r: RouterId, s: &SendAdvert) {
        let unix_time = SIM_UNIX_EPOCH + self.now.since_epoch();
        let Some(node) = self.routers[r].node.as_ref() else {
            return;
        };
        let Some(inst) = node.instance(s.instance) else {
            return;
        };
        let Some(port_idx) = self.routers[r]
            .ports
            .iter()
            .position(|p| *p.interface == *inst.interface())
        else {
            return;
        };
        let family = inst.family();
        let dst = s.dst.addr();
        let Some(node) = self.routers[r].node.as_mut() else {
            return;
        };
        let Ok(len) = node.emit_advert(s, unix_time, &mut self.buf) else {
            return;
        };
        let port = self.routers[r].ports[port_idx].clone();
        if !port.up {
            return;
        }
        self.sent += 1;
        let seg = port.segment;
        for to in 0..self.routers.len() {
            if to == r || self.routers[to].node.is_none() {
                continue;
            }
            let Some(to_port) = self.routers[to].ports.iter().position(|p| p.segment == seg) else {
                continue;
            };
            let tp = &self.routers[to].ports[to_port];
            if !tp.up || self.segments[seg].sides[to] != self.segments[seg].sides[r] {
                continue;
            }
            if let Destination::Unicast(a) = s.dst
                && tp.addr != a
            {
                continue;
            }
            let loss = self.segments[seg].loss;
            if loss > 0.0 && self.rng.chance(loss) {
                continue;
            }
            let at = self.now + port.delay + tp.delay;
            let event = Event::Deliver {
                to,
                port: to_port,
                family,
                bytes: {
                    let mut v = self.pool.pop().unwrap_or_default();
                    v.clear();
                    v.extend_from_slice(&self.buf[..len]);
                    v
                },
                src: s.src,
                dst,
                ttl: s.ttl,
                epoch: self.epochs[to],
            };
            self.push(at, event);
        }
    }

    /// Run every event up to and including `until`; the clock ends at `until`.
    pub fn run_until(&mut self, until: Instant) {
        let mut same_instant = 0u32;
        while let Some(&Reverse((at, _, slot))) = self.queue.peek() {
            if at > until || self.storm.is_some() {
                break;
            }
            self.queue.pop();
            let Some(event) = self.slab[slot as usize].take() else {
                continue;
            };
            self.free.push(slot);
            if at == self.now {
                same_instant += 1;
                if same_instant > STORM_EVENTS {
                    note!(self, "event storm: virtual time stopped");
                    self.storm = Some(self.now);
                    break;
                }
            } else {
                same_instant = 0;
            }
            self.now = at;
            match event {
                Event::Wake(r) => {
                    if self.routers[r].wake != Some(at) {
                        continue;
                    }
                    self.routers[r].wake = None;
                    self.input(r, Input::Deadline);
                    if self.routers[r].node.is_some() && self.routers[r].wake.is_none() {
                        self.after(r);
                    }
                }
                Event::Deliver {
                    to,
                    port,
                    family,
                    bytes,
                    src,
                    dst,
                    ttl,
                    epoch,
                } => {
                    if epoch != self.epochs[to] || self.routers[to].node.is_none() {
                        self.pool.push(bytes);
                        continue;
                    }
                    self.delivered += 1;
                    self.deliver(to, port, family, &bytes, src, dst, ttl);
                    self.pool.push(bytes);
                }
            }
        }
        if self.storm.is_none() {
            self.now = self.now.max(until);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        to: RouterId,
        port: usize,
        family: Family,
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
    ) {
        let (message, trailer) = baton_wire::auth_ext::split(bytes, family);
        let Ok(packet) = Packet::new_checked(message, family) else {
            return;
        };
        let parsed = match trailer {
            Some(t) => {
                AdvertRepr::parse_with_trailer(&packet, t, family, src, dst, ChecksumPolicy::Either)
            }
            None => AdvertRepr::parse(&packet, family, src, dst, ChecksumPolicy::Either),
        };
        let Ok((advert, checksum)) = parsed else {
            return;
        };
        let trailer = trailer.and_then(|t| baton_wire::auth_ext::TrailerRepr::parse(t).ok());
        let unix_time = SIM_UNIX_EPOCH + self.now.since_epoch();
        let interface = self.routers[to].ports[port].interface.clone();
        let rx = ReceivedAdvert {
            interface: &interface,
            family,
            advert,
            src,
            dst,
            ttl,
            checksum,
            message,
            trailer,
            unix_time,
        };
        self.input(to, Input::Advert(rx));
    }
}
