//! State changes and what they do: adverts first, then addresses, routes, rules,
//! announcements and notifications, in keepalived's order.

use std::net::IpAddr;
use std::time::Duration;

use super::{FaultReason, Instance, Outcome, State};
use crate::action::{
    Action, AddressKind, Destination, FifoLine, Level, LogText, NotifyArgs, NotifyState,
    NotifyTarget, SendAdvert, Transition,
};
use crate::time::Instant;

impl Instance {
    /// Send an advert with `priority` to the group or to every unicast peer.
    pub(crate) fn send_advert(&mut self, out: &mut Vec<Action>, priority: u8) {
        let Some(src) = self.src else {
            return;
        };
        self.counters.adverts_sent += 1;
        if priority == 0 {
            self.counters.rare().priority_zero_sent += 1;
        }
        let checksum = self.p.send_checksum;
        if self.p.unicast() {
            for (i, peer) in self.p.unicast_peers().iter().enumerate() {
                out.push(Action::SendAdvert(SendAdvert {
                    instance: self.id,
                    priority,
                    src,
                    dst: Destination::Unicast(peer.addr),
                    ttl: self.p.unicast_ttl,
                    checksum,
                    first_copy: i == 0,
                }));
            }
        } else {
            out.push(Action::SendAdvert(SendAdvert {
                instance: self.id,
                priority,
                src,
                dst: Destination::Multicast(self.p.mcast_group),
                ttl: baton_wire::VRRP_TTL,
                checksum,
                first_copy: true,
            }));
        }
    }

    fn record(
        &mut self,
        now: Instant,
        to: State,
        reason: impl Into<std::borrow::Cow<'static, str>>,
        out: &mut Vec<Action>,
    ) {
        let from = self.state;
        out.push(Action::StateChanged {
            instance: self.id,
            from,
            to,
        });
        self.state = to;
        match to {
            State::Master => self.counters.transitions.master += 1,
            State::Backup => self.counters.transitions.backup += 1,
            State::Fault => self.counters.transitions.fault += 1,
            State::Stopped => self.counters.transitions.stop += 1,
            State::Initialize => {}
        }
        self.last = Some(Transition {
            at: now,
            from,
            to,
            reason: reason.into(),
        });
    }

    /// keepalived's send_instance_notifies: the state's script, the generic `notify` with
    /// `INSTANCE name STATE prio`, and the FIFO line.
    pub(crate) fn notify(&self, out: &mut Vec<Action>, state: NotifyState) {
        let target = NotifyTarget {
            group: false,
            name: self.p.name_arc(),
        };
        notify_actions(out, &self.p.notify, &target, state, self.prio);
    }

    /// Begin: keepalived removes whatever a previous run may have left, then enters BACKUP
    /// (or FAULT) with a full Master_Down_Interval; an owner with `state MASTER` goes at once.
    /// `delay` is `vrrp_startup_delay`: keepalived's backup timers run from the end of it.
    pub(crate) fn start(&mut self, now: Instant, delay: Duration, out: &mut Vec<Action>) {
        self.log(out, Level::Info, LogText::Static("removing VIPs."));
        self.remove_everything(out);
        if !self.faults.is_empty() {
            self.record(now, State::Fault, "init", out);
            self.log(
                out,
                Level::Info,
                LogText::Static("Entering FAULT STATE (init)"),
            );
            if !self.only_init_faults() {
                self.notify(out, NotifyState::Fault);
            }
            return;
        }
        self.enter_backup_init(now, out);
        if !delay.is_zero() {
            self.timer = self.timer.map(|t| t + delay);
            self.preempt_until = self.preempt_until.map(|t| t + delay);
        }
    }

    fn enter_backup_init(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.record(now, State::Backup, "init", out);
        self.log(
            out,
            Level::Info,
            LogText::Static("Entering BACKUP STATE (init)"),
        );
        self.master_adver_field = self.p.advert_field;
        self.master = None;
        self.want_master = false;
        if self.p.immediate_master {
            self.timer = Some(now);
        } else {
            let mut wait = self.master_down_interval();
            if !self.p.preempt_delay.is_zero() {
                // keepalived: "preempt_delay adds to this" at startup.
                self.preempt_until = Some(now + self.p.preempt_delay);
                wait += self.p.preempt_delay;
            }
            self.timer = Some(now + wait);
        }
        self.notify(out, NotifyState::Backup);
    }

    fn only_init_faults(&self) -> bool {
        self.faults
            .iter()
            .all(|f| matches!(f, FaultReason::ScriptInit(_)))
    }

    fn remove_everything(&self, out: &mut Vec<Action>) {
        for rule in self.p.rules() {
            out.push(Action::RemoveRule {
                instance: self.id,
                rule: Box::new(rule.clone()),
            });
        }
        for route in self.p.routes() {
            out.push(Action::RemoveRoute {
                instance: self.id,
                interface: self.p.dev_of(&route.dev),
                route: Box::new(route.clone()),
            });
        }
        if !self.p.accept {
            out.push(Action::BlockVipTraffic {
                instance: self.id,
                block: false,
            });
        }
        self.address_actions(out, false);
    }

    fn address_actions(&self, out: &mut Vec<Action>, add: bool) {
        let lists = [
            (self.p.vips(), AddressKind::Virtual),
            (self.p.excluded(), AddressKind::Excluded),
        ];
        for (list, kind) in lists {
            for a in list {
                let interface = self.p.dev_of(&a.dev);
                let address = a.clone();
                out.push(if add {
                    Action::AddAddress {
                        instance: self.id,
                        interface,
                        kind,
                        address: Box::new(address),
                    }
                } else {
                    Action::RemoveAddress {
                        instance: self.id,
                        interface,
                        kind,
                        address: Box::new(address),
                    }
                });
            }
        }
    }

    pub(crate) fn announce(&self, out: &mut Vec<Action>, repeat: u32) {
        if repeat == 0 || (self.p.vips().is_empty() && self.p.excluded().is_empty()) {
            return;
        }
        out.push(Action::Announce {
            instance: self.id,
            repeat,
            spacing_arp: self.p.garp.interval,
            spacing_na: self.p.garp.na_interval,
        });
    }

    /// BACKUP → MASTER (vrrp_state_master_tx + vrrp_state_become_master): advert first "so
    /// the old master removes the VIPs before we send the gratuitous ARPs", then VIPs,
    /// eVIPs, routes, rules, the GARP/NA burst, its delayed repeat, notifications.
    pub(crate) fn enter_master(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        reason: &'static str,
    ) {
        if self.state == State::Master {
            return;
        }
        if self.demoted {
            // The other owner has gone: we are the owner again.
            self.demoted = false;
            self.prio = 255;
        }
        self.send_advert(out, self.prio);
        self.log(out, Level::Info, LogText::Static("Entering MASTER STATE"));
        self.record(now, State::Master, reason, out);
        self.address_actions(out, true);
        for route in self.p.routes() {
            out.push(Action::AddRoute {
                instance: self.id,
                interface: self.p.dev_of(&route.dev),
                route: Box::new(route.clone()),
            });
        }
        for rule in self.p.rules() {
            out.push(Action::AddRule {
                instance: self.id,
                rule: Box::new(rule.clone()),
            });
        }
        if !self.p.accept {
            out.push(Action::BlockVipTraffic {
                instance: self.id,
                block: true,
            });
        }
        self.announce(out, self.p.garp.master_repeat);
        let g = &self.p.garp;
        self.garp_second =
            (!g.master_delay.is_zero() && g.master_repeat > 0).then(|| now + g.master_delay);
        self.garp_refresh = g.master_refresh.filter(|d| !d.is_zero()).map(|d| now + d);
        self.garp_changed();
        self.timer = Some(now + self.p.advert_int());
        self.master = self.src.map(|s| (s, self.prio));
        self.master_adver_field = self.p.advert_field;
        self.preempt_until = None;
        self.want_master = false;
        self.notify(out, NotifyState::Master);
    }

    /// Leaving MASTER (vrrp_restore_interface): optional priority-0 advert, then rules,
    /// routes, VIPs, eVIPs.
    fn leave_master(&mut self, out: &mut Vec<Action>, send_zero: bool) {
        if send_zero {
            self.send_advert(out, 0);
        }
        for rule in self.p.rules() {
            out.push(Action::RemoveRule {
                instance: self.id,
                rule: Box::new(rule.clone()),
            });
        }
        for route in self.p.routes() {
            out.push(Action::RemoveRoute {
                instance: self.id,
                interface: self.p.dev_of(&route.dev),
                route: Box::new(route.clone()),
            });
        }
        if !self.p.accept {
            out.push(Action::BlockVipTraffic {
                instance: self.id,
                block: false,
            });
        }
        self.address_actions(out, false);
        self.dual = None;
        self.garp_second = None;
        self.garp_lower_second = None;
        self.garp_refresh = None;
        self.garp_changed();
    }

    /// → BACKUP, with the master's interval when a v3 master told us one.
    pub(crate) fn enter_backup(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        reason: &'static str,
        master_interval: Option<u16>,
    ) {
        if self.state == State::Master {
            self.leave_master(out, false);
        }
        self.log(out, Level::Info, LogText::Static("Entering BACKUP STATE"));
        self.record(now, State::Backup, reason, out);
        self.master_adver_field = master_interval.unwrap_or(self.p.advert_field);
        self.preempt_until = None;
        self.want_master = false;
        self.timer = Some(now + self.master_down_interval());
        self.notify(out, NotifyState::Backup);
    }

    /// → FAULT. From MASTER: a priority-0 advert first so a backup takes over at once,
    /// then release.
    pub(crate) fn enter_fault(&mut self, now: Instant, out: &mut Vec<Action>) {
        let was_master = self.state == State::Master;
        if was_master {
            self.leave_master(out, true);
        }
        let reason = self
            .faults
            .first()
            .map(|f| f.to_string())
            .unwrap_or_default();
        self.log(out, Level::Info, LogText::Static("Entering FAULT STATE"));
        self.record(now, State::Fault, reason, out);
        self.timer = None;
        self.want_master = false;
        self.master = None;
        if !self.only_init_faults() {
            self.notify(out, NotifyState::Fault);
        }
    }

    /// Graceful stop: a master sends priority 0 and releases; every instance notifies STOP.
    pub(crate) fn stop(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state == State::Stopped {
            return;
        }
        if self.state == State::Master {
            self.leave_master(out, true);
        }
        self.record(now, State::Stopped, "shutdown", out);
        self.timer = None;
        self.preempt_until = None;
        self.notify(out, NotifyState::Stop);
    }

    /// Removed by a reload: release without an advert, notify DELETED (`notify_deleted`) or
    /// FAULT as keepalived does.
    pub(crate) fn delete(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.log(
            out,
            Level::Info,
            LogText::Static("removed by reload, releasing"),
        );
        if self.state == State::Master {
            self.leave_master(out, false);
        }
        self.record(now, State::Stopped, "removed by reload", out);
        self.timer = None;
        let state = if self.p.notify.deleted {
            NotifyState::Deleted
        } else {
            NotifyState::Fault
        };
        self.notify(out, state);
    }

    /// Start an instance that a reload created (no cleanup: its addresses may belong to a
    /// master that stays).
    pub(crate) fn start_after_reload(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.faults.is_empty() {
            self.record(now, State::Fault, "reload", out);
            self.log(out, Level::Info, LogText::Static("Entering FAULT STATE"));
            if !self.only_init_faults() {
                self.notify(out, NotifyState::Fault);
            }
            return;
        }
        self.enter_backup_init(now, out);
    }

    /// A new effective priority. Under fast handover a master whose priority drops
    /// advertises at once, so a better backup can take over without waiting for the next
    /// advert.
    pub(crate) fn set_priority(&mut self, now: Instant, new: u8, out: &mut Vec<Action>) {
        if new == self.prio {
            return;
        }
        let old = self.prio;
        self.prio = new;
        self.log(
            out,
            Level::Info,
            LogText::Owned(format!("Changing effective priority from {old} to {new}")),
        );
        if self.p.notify_priority_changes {
            let state = if self.state == State::Master {
                NotifyState::MasterPriority
            } else {
                NotifyState::BackupPriority
            };
            self.notify(out, state);
        }
        if self.state == State::Master {
            self.master = self.src.map(|s| (s, new));
            if self.p.fast && new < old {
                self.send_advert(out, new);
                self.timer = Some(now + self.p.advert_int());
            }
        }
    }

    /// New health from the node: effective priority and the fault list.
    pub(crate) fn apply_health(
        &mut self,
        now: Instant,
        prio: u8,
        faults: Vec<FaultReason>,
        out: &mut Vec<Action>,
    ) -> Outcome {
        let prio = if self.demoted { 254 } else { prio };
        if self.state == State::Initialize {
            self.prio = prio;
            self.faults = faults;
            return Outcome::Nothing;
        }
        self.set_priority(now, prio, out);
        self.faults = faults;
        match self.state {
            State::Fault if self.faults.is_empty() => {
                self.master_adver_field = self.p.advert_field;
                self.enter_backup(now, out, "fault cleared", None);
                Outcome::Nothing
            }
            State::Backup | State::Master if !self.faults.is_empty() => {
                // A sync group follows through the faults, not through LeftMaster, so that
                // every member sends its priority-0 advert.
                self.enter_fault(now, out);
                Outcome::Nothing
            }
            _ => Outcome::Nothing,
        }
    }

    /// Fire whatever timers are due.
    pub(crate) fn on_deadline(&mut self, now: Instant, out: &mut Vec<Action>) -> Outcome {
        if self.garp_next.is_some_and(|t| t <= now) {
            if self.garp_second.is_some_and(|t| t <= now) {
                self.garp_second = None;
                self.announce(out, self.p.garp.master_repeat);
            }
            if self.garp_lower_second.is_some_and(|t| t <= now) {
                self.garp_lower_second = None;
                self.announce(out, self.p.garp.lower_prio_repeat);
            }
            if let Some(t) = self.garp_refresh.filter(|t| *t <= now) {
                self.announce(out, self.p.garp.master_refresh_repeat);
                self.garp_refresh = self.p.garp.master_refresh.map(|d| t.max(now) + d);
            }
            self.garp_changed();
        }
        let Some(t) = self.timer.filter(|t| *t <= now) else {
            return Outcome::Nothing;
        };
        match self.state {
            State::Backup => {
                self.timer = None;
                Outcome::WantsMaster
            }
            State::Master => {
                self.check_dual_master(now, out);
                self.send_advert(out, self.prio);
                // From now, not from the due time: a late wake-up must not burst.
                self.timer = Some(t.max(now) + self.p.advert_int());
                Outcome::Nothing
            }
            _ => {
                self.timer = None;
                Outcome::Nothing
            }
        }
    }

    /// The sync group holds us in BACKUP although our down timer expired: keep watching.
    pub(crate) fn hold_in_backup(&mut self, now: Instant) {
        self.want_master = true;
        self.timer = Some(now + self.master_down_interval());
    }

    /// A VIP vanished from `interface` without us removing it. keepalived leaves MASTER
    /// (unless `no_track`) and the VIP is gone until some router takes over after
    /// Master_Down_Interval; baton puts it back at once and announces it, so the service
    /// never loses its address. `no_track` VIPs are left alone, as in keepalived.
    pub(crate) fn address_removed(
        &mut self,
        interface: &str,
        addr: &IpAddr,
        out: &mut Vec<Action>,
    ) -> bool {
        if self.state != State::Master {
            return false;
        }
        let lists = [
            (self.p.vips(), AddressKind::Virtual),
            (self.p.excluded(), AddressKind::Excluded),
        ];
        for (list, kind) in lists {
            for a in list {
                let dev = self.p.dev_of(&a.dev);
                if a.addr != *addr || &*dev != interface || a.no_track {
                    continue;
                }
                self.log(
                    out,
                    Level::Warn,
                    LogText::Owned(format!(
                        "VIP {addr} removed from {interface} externally - restoring"
                    )),
                );
                out.push(Action::AddAddress {
                    instance: self.id,
                    interface: dev,
                    kind,
                    address: Box::new(a.clone()),
                });
                self.counters.rare().vips_restored += 1;
                self.announce(out, self.p.garp.master_repeat.max(1));
                return true;
            }
        }
        false
    }
}

/// What one notification runs, in keepalived's order, then its FIFO line: the state's own
/// script (`notify_master`, …, `notify_deleted CMD`), then the generic `notify` with
/// `INSTANCE|GROUP name STATE priority` appended (not for the priority-change and
/// lower-priority notifications, which only the own script and the FIFO see). A group's
/// priority is always 0 (keepalived: "the prio will be indicated as zero for a group").
pub fn notify_actions(
    out: &mut Vec<Action>,
    n: &baton_conf::Notify,
    target: &NotifyTarget,
    state: NotifyState,
    priority: u8,
) {
    let priority = if target.group { 0 } else { priority };
    let own = match state {
        NotifyState::Master => n.master.as_ref(),
        NotifyState::Backup => n.backup.as_ref(),
        NotifyState::Fault => n.fault.as_ref(),
        NotifyState::Stop => n.stop.as_ref(),
        NotifyState::Deleted => n.deleted_script.as_ref(),
        NotifyState::MasterRxLowerPri => n.master_rx_lower_pri.as_ref(),
        NotifyState::MasterPriority | NotifyState::BackupPriority => None,
    };
    if let Some(cmd) = own {
        out.push(Action::RunNotify {
            target: target.clone(),
            command: Box::new(baton_conf::Command::clone(cmd)),
            args: None,
        });
    }
    let generic = !matches!(
        state,
        NotifyState::MasterRxLowerPri | NotifyState::MasterPriority | NotifyState::BackupPriority
    );
    if let (true, Some(cmd)) = (generic, n.any.as_ref()) {
        out.push(Action::RunNotify {
            target: target.clone(),
            command: Box::new(baton_conf::Command::clone(cmd)),
            args: Some(NotifyArgs {
                group: target.group,
                name: target.name.clone(),
                state,
                priority,
            }),
        });
    }
    out.push(Action::WriteFifo(FifoLine {
        group: target.group,
        name: target.name.clone(),
        state,
        priority,
    }));
}

#[cfg(test)]
mod notify_tests {
    use super::*;
    use baton_conf::{Command, Notify};

    fn cmd(text: &str) -> Option<Box<Command>> {
        Some(Box::new(Command {
            text: text.into(),
            argv: vec![text.into()],
            run_as: None,
            span: Default::default(),
        }))
    }

    /// What each notification runs: (command, appended words), then the FIFO line.
    fn runs(n: &Notify, group: bool, state: NotifyState) -> (Vec<(String, Vec<String>)>, String) {
        let target = NotifyTarget {
            group,
            name: "X".into(),
        };
        let mut out = Vec::new();
        notify_actions(&mut out, n, &target, state, 150);
        let mut commands = Vec::new();
        let mut fifo = String::new();
        for a in out {
            match a {
                Action::RunNotify { command, args, .. } => commands.push((
                    command.text,
                    args.map(|a| a.words().to_vec()).unwrap_or_default(),
                )),
                Action::WriteFifo(l) => fifo = l.to_string(),
                other => panic!("{other:?}"),
            }
        }
        (commands, fifo)
    }

    /// keepalived's send_instance_notifies / send_group_notifies: the state's own script,
    /// then the generic one with `INSTANCE|GROUP name STATE prio` (0 for a group); the
    /// priority-change and lower-priority notifications reach only their own script and
    /// the FIFOs; `notify_deleted CMD` runs when a reload deletes the instance.
    #[test]
    fn each_state_runs_its_own_script_then_the_generic_one() {
        let n = Notify {
            master: cmd("m"),
            backup: cmd("b"),
            fault: cmd("f"),
            stop: cmd("s"),
            any: cmd("any"),
            master_rx_lower_pri: cmd("rx"),
            deleted: true,
            deleted_script: cmd("d"),
            priority_changes: Some(true),
        };
        let words = |state: &str, prio: &str| -> Vec<String> {
            ["INSTANCE", "X", state, prio].map(String::from).to_vec()
        };
        for (state, own, word) in [
            (NotifyState::Master, "m", "MASTER"),
            (NotifyState::Backup, "b", "BACKUP"),
            (NotifyState::Fault, "f", "FAULT"),
            (NotifyState::Stop, "s", "STOP"),
            (NotifyState::Deleted, "d", "DELETED"),
        ] {
            let (c, fifo) = runs(&n, false, state);
            assert_eq!(
                c,
                [
                    (own.to_string(), vec![]),
                    ("any".into(), words(word, "150"))
                ]
            );
            assert_eq!(fifo, format!("INSTANCE \"X\" {word} 150"));
        }
        let (c, fifo) = runs(&n, false, NotifyState::MasterRxLowerPri);
        assert_eq!(c, [("rx".to_string(), vec![])]);
        assert_eq!(fifo, "INSTANCE \"X\" MASTER_RX_LOWER_PRI 150");
        let (c, fifo) = runs(&n, false, NotifyState::BackupPriority);
        assert!(c.is_empty());
        assert_eq!(fifo, "INSTANCE \"X\" BACKUP_PRIORITY 150");
        let (c, fifo) = runs(&n, true, NotifyState::Master);
        assert_eq!(
            c,
            [
                ("m".to_string(), vec![]),
                (
                    "any".into(),
                    ["GROUP", "X", "MASTER", "0"].map(String::from).to_vec()
                )
            ]
        );
        assert_eq!(fifo, "GROUP \"X\" MASTER 0");
        // Nothing configured: only the FIFO line.
        let (c, _) = runs(&Notify::default(), false, NotifyState::Master);
        assert!(c.is_empty());
    }
}
