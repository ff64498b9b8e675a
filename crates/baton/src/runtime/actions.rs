//! Carrying out the core's actions, in order and as asked: adverts onto the VRRP sockets,
//! addresses, routes and rules through netlink, announcements onto the GARP/NA queues,
//! notifications to the notifier, log lines to tracing. A failure is logged with what was
//! being done and where, and the next action runs.

use std::net::IpAddr;
use std::sync::Arc;

use baton_conf::{VirtualAddress, VirtualRoute, VirtualRule};
use baton_vrrp::{Action, Input, InstanceId, Level, LogLine, LogText};

use super::Daemon;
use crate::south::netlink::{RouteOifs, within_deadline};

/// The action capacity kept between batches: a steady-state batch (an advert or two, a
/// timer's worth) fits many times over.
const KEPT_ACTIONS: usize = 64;

impl Daemon {
    /// Carry out every pending action, then send the GARP/NA frames that are due.
    pub(super) async fn execute(&mut self) {
        self.take_core_actions().await;
        while let Some(a) = self.waiting.pop_front() {
            self.act(a).await;
            // Adverts go first across batches too. When a thousand instances take over at
            // once their down timers expire over a few milliseconds, and each VIP costs the
            // kernel a round trip: a timer that came due while the kernel was busy with
            // earlier instances' VIPs sends its advert now, not after all of them.
            if self
                .node
                .next_deadline()
                .is_some_and(|d| d <= self.clock.now())
            {
                // Adverts already waiting are read first, as before any deadline.
                self.read_before_deadline();
                let now = self.clock.now();
                self.node.handle(now, Input::Deadline, &mut self.actions);
                self.take_core_actions().await;
            }
        }
        // Keep the allocations for the next batch, but not a burst's: when thousands of
        // instances change state at once (start, a link coming up) a batch holds thousands
        // of actions, and that capacity would stay resident for the daemon's life. A master's
        // steady batch (an advert per instance every interval) is kept: shrunk and trimmed
        // each time, it came back as fresh pages, and the page faults cost a master of
        // thousands of instances a twelfth of its CPU.
        let keep = KEPT_ACTIONS.max(self.node.instances().len());
        if self.actions.capacity() > keep || self.waiting.capacity() > KEPT_ACTIONS {
            self.actions.shrink_to(keep);
            self.waiting.shrink_to(KEPT_ACTIONS);
        }
        self.trim.now_and_then();
        let now = self.clock.now();
        self.announce.flush(now, &self.ifaces);
        for (level, text) in self.peer_log.close_windows(now) {
            log(&LogLine {
                level,
                scope: None,
                text: LogText::Owned(text),
                peer: None,
            });
        }
        if std::mem::take(&mut self.states_changed) && self.ready {
            crate::north::notify_systemd::status(&self.summary());
        }
        let transitions = std::mem::take(&mut self.vrrp_transitions);
        if !transitions.is_empty() {
            self.lvs_follow_vrrp(transitions).await;
        }
    }

    /// Take what the core asked for: its adverts out at once (one `sendmmsg` per socket),
    /// the rest queued behind what is already waiting, in order. The core puts an instance's
    /// advert before its addresses, routes and notifications, so each instance's order is
    /// kept; what changes is that when hundreds of instances take over at once, the last
    /// one's advert does not wait for the kernel to confirm the VIPs of all the others.
    async fn take_core_actions(&mut self) {
        self.sync_before_batch().await;
        let mut actions = std::mem::take(&mut self.actions);
        for a in &actions {
            if let Action::SendAdvert(s) = a {
                self.queue_advert(*s).await;
            }
        }
        self.flush_adverts().await;
        self.waiting.extend(
            actions
                .drain(..)
                .filter(|a| !matches!(a, Action::SendAdvert(_))),
        );
        self.actions = actions;
    }

    async fn act(&mut self, a: Action) {
        match a {
            Action::SendAdvert(s) => {
                self.queue_advert(s).await;
                self.flush_adverts().await;
            }
            Action::AddAddress {
                interface, address, ..
            } => self.add_address(&interface, &address).await,
            Action::RemoveAddress {
                interface, address, ..
            } => self.remove_address(&interface, &address).await,
            Action::AddRoute { route, .. } => self.route(&route, true).await,
            Action::RemoveRoute { route, .. } => self.route(&route, false).await,
            Action::AddRule { rule, .. } => self.rule(&rule, true).await,
            Action::RemoveRule { rule, .. } => self.rule(&rule, false).await,
            Action::BlockVipTraffic { instance, block } => self.no_accept(instance, block),
            Action::Announce {
                instance,
                repeat,
                spacing_arp,
                spacing_na,
            } => {
                let addrs: Vec<(Arc<str>, IpAddr)> = self
                    .node
                    .announce_addresses(instance)
                    .map(|(i, a)| (i, a.addr))
                    .collect();
                self.announce
                    .enqueue(&addrs, repeat, spacing_arp, spacing_na);
            }
            Action::RunNotify {
                target,
                command,
                args,
            } => self.tracking.run_notify(&target, &command, args.as_ref()),
            Action::WriteFifo(line) => self.tracking.write_fifo(&line),
            Action::Log(line) => {
                let admitted = match line.peer {
                    Some(p) => {
                        let now = self.clock.now();
                        self.peer_log.admit(now, p.kind, p.source, line.level)
                    }
                    None => true,
                };
                if admitted {
                    log(&line);
                }
            }
            Action::StateChanged { instance, from, to } => {
                self.states_changed = true;
                self.record_change(instance, from, to);
                if let Some(i) = self.node.instance(instance) {
                    self.vrrp_transitions.push((i.name().to_string(), to));
                }
            }
        }
    }

    async fn add_address(&mut self, interface: &str, vip: &VirtualAddress) {
        let Some(link) = self.ifaces.by_name(interface) else {
            tracing::warn!(
                "cannot add {}/{}: no interface {interface}",
                vip.addr,
                vip.prefix_len
            );
            return;
        };
        let what = format!("adding {}/{} on {interface}", vip.addr, vip.prefix_len);
        let Some(r) = within_deadline(&what, self.netlink.add_address(link.index, vip)).await
        else {
            return;
        };
        match r {
            Ok(()) => {}
            Err(e) if e.is_exists() => {
                tracing::debug!("{}/{} already on {interface}", vip.addr, vip.prefix_len)
            }
            Err(e) => tracing::warn!("{e} on {interface}"),
        }
    }

    async fn remove_address(&mut self, interface: &str, vip: &VirtualAddress) {
        // An interface that does not exist holds nothing to remove.
        let Some(link) = self.ifaces.by_name(interface) else {
            return;
        };
        let what = format!("removing {}/{} from {interface}", vip.addr, vip.prefix_len);
        if let Some(Err(e)) =
            within_deadline(&what, self.netlink.del_address_if_present(link.index, vip)).await
        {
            tracing::warn!("{e} on {interface}");
        }
    }

    /// The indexes of a route's `dev`s from the interface table the monitor keeps, or
    /// `None` when it does not know one of them.
    fn known_oifs(&self, route: &VirtualRoute) -> Option<RouteOifs> {
        let index = |dev: &Option<String>| match dev {
            Some(d) => self.ifaces.by_name(d).map(|l| Some(l.index)),
            None => Some(None),
        };
        let oif = index(&route.dev)?;
        let hops = route
            .nexthops
            .iter()
            .map(|h| index(&h.dev))
            .collect::<Option<Vec<_>>>()?;
        Some((oif, hops))
    }

    /// Add or remove a route. On leaving MASTER this runs right after the priority-0 advert
    /// and must cost one netlink round trip: the `dev` indexes come from the interface table,
    /// and only a `dev` it does not know (yet) is looked up in the kernel, with a link dump.
    async fn route(&mut self, route: &VirtualRoute, add: bool) {
        let oifs = match self.known_oifs(route) {
            Some(o) => o,
            None => match within_deadline(
                "finding a route's interfaces",
                self.netlink.route_oifs(route),
            )
            .await
            {
                Some(Ok(o)) => o,
                Some(Err(e)) => {
                    tracing::warn!("route {}/{}: {e}", route.dst, route.dst_len);
                    return;
                }
                None => return,
            },
        };
        let r = if add {
            within_deadline("adding a route", self.netlink.add_route_with(route, &oifs)).await
        } else {
            within_deadline(
                "removing a route",
                self.netlink.del_route_with(route, &oifs),
            )
            .await
        };
        let Some(r) = r else { return };
        match r {
            Ok(()) => {}
            Err(e) if add && e.is_exists() => tracing::debug!("{e}"),
            Err(e) if !add && e.is_not_found() => tracing::debug!("{e}"),
            Err(e) => tracing::warn!("{e}"),
        }
    }

    async fn rule(&mut self, rule: &VirtualRule, add: bool) {
        let r = if add {
            within_deadline("adding a rule", self.netlink.add_rule(rule)).await
        } else {
            within_deadline("removing a rule", self.netlink.del_rule(rule)).await
        };
        let Some(r) = r else { return };
        match r {
            Ok(()) => {}
            Err(e) if add && e.is_exists() => tracing::debug!("{e}"),
            Err(e) if !add && e.is_not_found() => tracing::debug!("{e}"),
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// `no_accept`: while the instance is master (and not the owner), traffic to and from
    /// its addresses is dropped, as keepalived's nftables rules do.
    fn no_accept(&mut self, instance: InstanceId, block: bool) {
        let Some(inst) = self.node.instance(instance) else {
            return;
        };
        let name = inst.name().to_string();
        let addrs: Vec<IpAddr> = self
            .node
            .announce_addresses(instance)
            .map(|(_, a)| a.addr)
            .collect();
        self.accept_mode.set(&name, &addrs, block);
    }
}

impl Daemon {
    /// keepalived's `static_ipaddress`, `static_routes` and `static_rules`: put in place at
    /// start whatever the instances do, taken away at exit.
    pub(super) async fn static_config(&mut self, c: &baton_conf::Config, add: bool) {
        for a in &c.static_addresses {
            let dev = a.dev.as_deref().unwrap_or_default();
            if add {
                self.add_address(dev, a).await;
            } else {
                self.remove_address(dev, a).await;
            }
        }
        for r in &c.static_routes {
            self.route(r, add).await;
        }
        for r in &c.static_rules {
            self.rule(r, add).await;
        }
    }

    /// On reload: remove the static addresses, routes and rules that went, add the new.
    pub(super) async fn static_reload(&mut self, new: &baton_conf::Config) {
        let old: &baton_conf::Config = &self.config;
        let gone = |o: &baton_conf::VirtualAddress| !new.static_addresses.contains(o);
        let mut before = old.clone();
        before.static_addresses.retain(gone);
        before
            .static_routes
            .retain(|r| !new.static_routes.contains(r));
        before
            .static_rules
            .retain(|r| !new.static_rules.contains(r));
        let mut after = new.clone();
        after
            .static_addresses
            .retain(|a| !old.static_addresses.contains(a));
        after
            .static_routes
            .retain(|r| !old.static_routes.contains(r));
        after.static_rules.retain(|r| !old.static_rules.contains(r));
        self.static_config(&before, false).await;
        self.static_config(&after, true).await;
    }
}

/// A core log line, at its level, worded as the core (and keepalived) words it.
fn log(line: &LogLine) {
    match line.level {
        Level::Debug => tracing::debug!("{line}"),
        Level::Info => tracing::info!("{line}"),
        Level::Warn => tracing::warn!("{line}"),
        Level::Error => tracing::error!("{line}"),
    }
}
