//! SIGHUP: apply a new configuration without dropping the VIP of an instance that stays
//! MASTER. keepalived matches old and new instances by VRID + family + interface (+ the
//! unicast source for unicast instances), not by name; a matched MASTER stays MASTER and
//! keeps its addresses, and only the difference of VIPs, routes and rules is applied.
//! Trackers that survive keep their state, so priorities do not flap.
//!
//! Differences from keepalived: instances that disappear release what they held (the
//! daemon gets the removals; the ids in those actions are the old ones and must not be
//! looked up); a matched master advertises at once with its new settings.

use std::net::IpAddr;

use baton_conf::{Config, Span, VirtualAddress, VirtualRoute, VirtualRule};
use baton_wire::Family;

use crate::action::{Action, AddressKind, Level, LogText};
use crate::instance::{Params, State};
use crate::node::Node;
use crate::node::trackers::Trackers;
use crate::time::Instant;

/// keepalived's vrrp_exist key.
#[derive(Debug, PartialEq, Eq)]
struct Key<'a> {
    vrid: u8,
    family: Family,
    interface: &'a str,
    unicast_src: Option<Option<IpAddr>>,
}

fn key(p: &Params) -> Key<'_> {
    Key {
        vrid: p.vrid,
        family: p.family,
        interface: &p.interface,
        unicast_src: p.unicast().then_some(p.src_ip),
    }
}

/// Items of `old` not in `new` and of `new` not in `old`, compared by `norm`.
fn diff<'a, T, K: PartialEq>(
    old: &'a [T],
    new: &'a [T],
    norm: impl Fn(&T) -> K,
) -> (Vec<&'a T>, Vec<&'a T>) {
    let old_k: Vec<K> = old.iter().map(&norm).collect();
    let new_k: Vec<K> = new.iter().map(&norm).collect();
    let removed = old
        .iter()
        .zip(&old_k)
        .filter(|(_, k)| !new_k.contains(k))
        .map(|(t, _)| t)
        .collect();
    let added = new
        .iter()
        .zip(&new_k)
        .filter(|(_, k)| !old_k.contains(k))
        .map(|(t, _)| t)
        .collect();
    (removed, added)
}

fn address_key(p: &Params, a: &VirtualAddress) -> VirtualAddress {
    let mut a = a.clone();
    a.span = Span::default();
    a.dev = Some(p.dev_of(&a.dev).to_string());
    a
}

fn route_key(p: &Params, r: &VirtualRoute) -> VirtualRoute {
    let mut r = r.clone();
    r.span = Span::default();
    r.dev = Some(p.dev_of(&r.dev).to_string());
    r
}

fn rule_key(r: &VirtualRule) -> VirtualRule {
    let mut r = r.clone();
    r.span = Span::default();
    r
}

impl Node {
    /// [`Input::Reload`] with a configuration the caller keeps too (see
    /// [`Node::with_config`]).
    pub fn reload(&mut self, now: Instant, config: std::sync::Arc<Config>, out: &mut Vec<Action>) {
        if !self.started {
            // Nothing runs yet: the new configuration simply replaces the old one.
            let trackers = Trackers::new(&config);
            self.trackers = trackers;
            let mut logs = Vec::new();
            self.install(&config, &mut logs);
            out.append(&mut logs);
            return;
        }
        let old = std::mem::take(&mut self.instances);
        let old_groups = std::mem::take(&mut self.groups);
        let mut trackers = Trackers::new(&config);
        trackers.carry_over(&self.trackers);
        self.trackers = trackers;
        let mut logs = Vec::new();
        self.install(&config, &mut logs);
        out.append(&mut logs);
        for g in &mut self.groups {
            g.notified = old_groups
                .iter()
                .find(|o| o.name == g.name)
                .and_then(|o| o.notified);
        }
        let mut taken = vec![false; old.len()];
        for i in 0..self.instances.len() {
            let Some(j) =
                (0..old.len()).find(|j| !taken[*j] && key(&old[*j].p) == key(&self.instances[i].p))
            else {
                continue;
            };
            taken[j] = true;
            let o = &old[j];
            let n = &mut self.instances[i];
            n.counters = o.counters.clone();
            n.mismatches = o.mismatches.clone();
            n.last = o.last.clone();
            n.heard = o.heard;
            n.hmac = o.hmac.clone();
            n.src = o.src;
            n.prio = o.prio;
            if o.state != State::Master {
                continue;
            }
            n.state = State::Master;
            n.master = o.master;
            n.demoted = o.demoted;
            // Advertise at once with the new settings (keepalived's reload_master).
            n.timer = Some(now);
            n.garp_refresh =
                n.p.garp
                    .master_refresh
                    .filter(|d| !d.is_zero())
                    .map(|d| now + d);
            n.garp_changed();
            n.log(out, Level::Info, LogText::Static("reload: staying MASTER"));
            let (op, np) = (&o.p, &n.p);
            let id = n.id;
            for (kind, ol, nl) in [
                (AddressKind::Virtual, op.vips(), np.vips()),
                (AddressKind::Excluded, op.excluded(), np.excluded()),
            ] {
                // Matched instances share their interface, so one key serves both sides.
                let (gone, added) = diff(ol, nl, |a| address_key(np, a));
                for a in gone {
                    out.push(Action::RemoveAddress {
                        instance: id,
                        interface: op.dev_of(&a.dev),
                        kind,
                        address: Box::new(a.clone()),
                    });
                }
                for a in &added {
                    out.push(Action::AddAddress {
                        instance: id,
                        interface: np.dev_of(&a.dev),
                        kind,
                        address: Box::new((*a).clone()),
                    });
                }
                if !added.is_empty() {
                    n.announce(out, n.p.garp.master_repeat);
                }
            }
            let (gone, added) = diff(op.routes(), np.routes(), |r| route_key(np, r));
            for r in gone {
                out.push(Action::RemoveRoute {
                    instance: id,
                    interface: op.dev_of(&r.dev),
                    route: Box::new(r.clone()),
                });
            }
            for r in added {
                out.push(Action::AddRoute {
                    instance: id,
                    interface: np.dev_of(&r.dev),
                    route: Box::new(r.clone()),
                });
            }
            let (gone, added) = diff(op.rules(), np.rules(), rule_key);
            for r in gone {
                out.push(Action::RemoveRule {
                    instance: id,
                    rule: Box::new(r.clone()),
                });
            }
            for r in added {
                out.push(Action::AddRule {
                    instance: id,
                    rule: Box::new(r.clone()),
                });
            }
            if op.accept != np.accept {
                out.push(Action::BlockVipTraffic {
                    instance: id,
                    block: !np.accept,
                });
            }
        }
        // Instances that are gone release what they held.
        for (j, o) in old.iter().enumerate() {
            if taken[j] || o.state != State::Master {
                continue;
            }
            // No priority-0 advert: the id no longer names this instance, so the daemon could
            // not build it; backups take over after Master_Down_Interval.
            let mut gone = o.clone();
            gone.delete(now, out);
        }
        // Everything else starts afresh; health decides FAULT.
        self.refresh_all(now, out);
        for i in 0..self.instances.len() {
            if self.instances[i].state == State::Initialize {
                let (prio, faults, src) = self.health(i);
                let inst = &mut self.instances[i];
                inst.src = src;
                inst.prio = prio;
                inst.faults = faults;
                inst.start_after_reload(now, out);
            }
            self.schedule(i);
        }
        for g in 0..self.groups.len() {
            self.group_notify(g, out);
        }
        if config.global.fifo_write_states_on_reload {
            self.write_states_to_fifo(out);
        }
    }

    /// keepalived's `fifo_write_vrrp_states_on_reload`: every instance's and group's state
    /// on the notify FIFOs again, so a FIFO reader that restarted with the reload catches up.
    fn write_states_to_fifo(&self, out: &mut Vec<Action>) {
        use crate::action::{FifoLine, NotifyState};
        let word = |s: State| match s {
            State::Master => Some(NotifyState::Master),
            State::Backup => Some(NotifyState::Backup),
            State::Fault => Some(NotifyState::Fault),
            State::Initialize | State::Stopped => None,
        };
        for i in &self.instances {
            if let Some(state) = word(i.state) {
                out.push(Action::WriteFifo(FifoLine {
                    group: false,
                    name: i.p.name_arc(),
                    state,
                    priority: i.prio,
                }));
            }
        }
        for g in &self.groups {
            if let Some(state) = g.notified.and_then(word) {
                out.push(Action::WriteFifo(FifoLine {
                    group: true,
                    name: g.name.clone(),
                    state,
                    priority: 0,
                }));
            }
        }
    }
}
