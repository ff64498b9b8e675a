//! vrrp_sync_group: members move together. A fault in one faults all; a member whose down
//! timer expires becomes MASTER only when every member wants to (or the group already is
//! MASTER), and then all do; a member that yields to a better master takes the others to
//! BACKUP. The group notifies on its own (`GROUP name STATE 0`).

use std::sync::Arc;

use baton_conf::{Config, Notify};

use crate::action::{Action, InstanceId, Level, LogLine, LogText, NotifyState, NotifyTarget};
use crate::instance::{FaultReason, Instance, State};
use crate::node::Node;
use crate::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub name: Arc<str>,
    pub members: Vec<InstanceId>,
    pub notify: Notify,
    /// The state last notified.
    pub notified: Option<State>,
}

pub(crate) fn build(config: &Config, instances: &[Instance]) -> Vec<Group> {
    config
        .sync_groups
        .iter()
        .filter_map(|g| {
            let members: Vec<InstanceId> = g
                .members
                .iter()
                .filter_map(|m| instances.iter().find(|i| i.name() == m).map(|i| i.id))
                .collect();
            // keepalived removes a group with no members.
            (!members.is_empty()).then(|| Group {
                name: Arc::from(g.name.as_str()),
                members,
                notify: g.notify.clone(),
                notified: None,
            })
        })
        .collect()
}

impl Node {
    /// The faults an instance inherits from the other members of its group.
    pub(crate) fn group_faults(&self, i: usize, faulty: &[bool]) -> Vec<FaultReason> {
        let Some(g) = self.group_of[i] else {
            return Vec::new();
        };
        self.groups[g]
            .members
            .iter()
            .filter(|m| m.index() != i && faulty[m.index()])
            .map(|m| FaultReason::SyncGroup(self.instances[m.index()].p.name_arc()))
            .collect()
    }

    pub(crate) fn wants_master(&mut self, now: Instant, i: usize, out: &mut Vec<Action>) {
        let Some(g) = self.group_of[i] else {
            self.instances[i].enter_master(now, out, "master down timer expired");
            self.schedule(i);
            return;
        };
        self.instances[i].want_master = true;
        let members = self.groups[g].members.clone();
        let states = || members.iter().map(|m| &self.instances[m.index()]);
        let group_master = states().any(|m| m.state == State::Master);
        let all_want = states().all(|m| m.want_master || m.state == State::Master);
        let any_fault = states().any(|m| m.state != State::Master && m.state != State::Backup);
        if any_fault || !(group_master || all_want) {
            self.instances[i].hold_in_backup(now);
            self.schedule(i);
            return;
        }
        for m in &members {
            let m = m.index();
            if self.instances[m].state == State::Backup {
                self.instances[m].enter_master(now, out, "sync group");
                self.schedule(m);
            }
        }
        self.group_notify(g, out);
    }

    pub(crate) fn left_master(&mut self, now: Instant, i: usize, out: &mut Vec<Action>) {
        let Some(g) = self.group_of[i] else {
            return;
        };
        for m in self.groups[g].members.clone() {
            let m = m.index();
            if m != i && self.instances[m].state == State::Master {
                self.instances[m].enter_backup(now, out, "sync group", None);
                self.schedule(m);
            }
        }
        self.group_notify(g, out);
    }

    /// keepalived: when a master of a group hears a lower priority, the group's other
    /// members send their lower-priority GARP bursts too.
    pub(crate) fn heard_lower_priority(&mut self, now: Instant, i: usize, out: &mut Vec<Action>) {
        let Some(g) = self.group_of[i] else {
            return;
        };
        for m in self.groups[g].members.clone() {
            let m = m.index();
            if m != i && self.instances[m].state == State::Master {
                self.instances[m].lower_priority_garp(now, out);
                self.schedule(m);
            }
        }
    }

    /// Notify the group's state when all members agree on a new one.
    pub(crate) fn group_notify(&mut self, g: usize, out: &mut Vec<Action>) {
        let group = &self.groups[g];
        let states: Vec<State> = group
            .members
            .iter()
            .map(|m| self.instances[m.index()].state)
            .collect();
        let state = if states.contains(&State::Fault) {
            State::Fault
        } else if let Some(first) = states
            .first()
            .copied()
            .filter(|f| states.iter().all(|s| s == f))
        {
            first
        } else {
            return;
        };
        if state == State::Initialize || group.notified == Some(state) {
            return;
        }
        let name = group.name.clone();
        out.push(Action::Log(LogLine {
            level: Level::Info,
            scope: None,
            text: LogText::Owned(format!(
                "VRRP_Group({name}) Syncing instances to {state} state"
            )),
            peer: None,
        }));
        let target = NotifyTarget { group: true, name };
        crate::instance::notify_actions(out, &group.notify, &target, NotifyState::of(state), 0);
        self.groups[g].notified = Some(state);
    }
}
