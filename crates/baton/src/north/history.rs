//! The last few state changes of every instance, for the status page and the metrics: when,
//! from which state to which, why (the core's reason), how long the instance had held the
//! state it left, and for a change into MASTER how long the takeover took.
//!
//! A takeover is timed from the last sign of the previous master this node had (its last
//! advert accepted in BACKUP: a crashed master's last advert, or the priority-0 or
//! lower-priority advert that handed over), or from entering BACKUP when no master was
//! heard since, to entering MASTER. It is what this node can see: the time a health script
//! took to notice a dead service on the other node is not in it.
//!
//! Recorded only when a state changes, never per advert.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use baton_vrrp::{Instant, State};
use serde::Serialize;

/// Changes kept per instance.
pub const KEPT: usize = 8;

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransitionRecord {
    /// The core's time (since the daemon started).
    pub at: Instant,
    pub from: State,
    pub to: State,
    /// The core's reason, shared with it when it is one of its fixed ones.
    pub cause: Cow<'static, str>,
    /// How long the instance had been in `from` (none for the first change).
    pub held: Option<Duration>,
    /// Into MASTER: from the last sign of the previous master to now.
    pub takeover: Option<Duration>,
}

/// The history of one instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceHistory {
    pub changes: VecDeque<TransitionRecord>,
    /// The last takeover's duration (kept when older changes roll out of `changes`).
    pub last_takeover: Option<Duration>,
}

impl InstanceHistory {
    pub fn last(&self) -> Option<&TransitionRecord> {
        self.changes.back()
    }
}

/// Histories of every instance, in the core's order of instances (a reload keeps the
/// history of instances that stay, under their new places). With tens of thousands of
/// instances this is a few percent of the daemon: one entry per instance, no key, causes
/// the core's reasons (fixed ones borrowed), and queues kept at the size they hold.
#[derive(Debug, Clone, Default)]
pub struct History {
    instances: Vec<InstanceHistory>,
}

impl History {
    /// Histories for `n` instances, none with a change yet.
    pub fn with_instances(n: usize) -> History {
        History {
            instances: std::iter::repeat_with(InstanceHistory::default)
                .take(n)
                .collect(),
        }
    }

    /// Record a change at `at` of the instance at `index` in the core's order. `heard` is
    /// when the instance last accepted an advert from another router in BACKUP.
    pub fn record(
        &mut self,
        index: usize,
        at: Instant,
        from: State,
        to: State,
        cause: impl Into<Cow<'static, str>>,
        heard: Option<Instant>,
    ) {
        if index >= self.instances.len() {
            self.instances
                .resize_with(index + 1, InstanceHistory::default);
        }
        let h = &mut self.instances[index];
        let previous = h.changes.back().map(|p| p.at);
        let held = previous.map(|p| at.saturating_duration_since(p));
        let takeover = (to == State::Master).then(|| {
            // From the later of "entered BACKUP" and "last heard a master".
            let entered_backup = h
                .changes
                .back()
                .filter(|p| p.to == State::Backup)
                .map(|p| p.at);
            let since = match (heard, entered_backup) {
                (Some(a), Some(b)) => a.max(b),
                (a, b) => a.or(b).unwrap_or(at),
            };
            at.saturating_duration_since(since)
        });
        if takeover.is_some() {
            h.last_takeover = takeover;
        }
        if h.changes.len() == KEPT {
            h.changes.pop_front();
        } else if h.changes.len() == h.changes.capacity() {
            // One more slot at a time (a queue's growth would start at four): most
            // instances change state once or twice, and changes are rare.
            h.changes.reserve_exact(1);
        }
        h.changes.push_back(TransitionRecord {
            at,
            from,
            to,
            cause: cause.into(),
            held,
            takeover,
        });
    }

    /// A reload: the instances were `old` and are now `new` (names in the core's order).
    /// Those that stay keep their history at their new place; the others' is forgotten.
    pub fn reindex(&mut self, old: &[&str], new: &[&str]) {
        let mut kept: HashMap<&str, InstanceHistory> = old
            .iter()
            .zip(self.instances.drain(..))
            .map(|(name, h)| (*name, h))
            .collect();
        self.instances = new
            .iter()
            .map(|name| kept.remove(name).unwrap_or_default())
            .collect();
    }

    pub fn get(&self, index: usize) -> Option<&InstanceHistory> {
        self.instances.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    #[test]
    fn takeover_runs_from_the_last_advert_heard_and_held_from_the_last_change() {
        let mut h = History::default();
        h.record(0, ms(0), State::Initialize, State::Backup, "init", None);
        // The master's last advert at 5 s, the down timer fires at 8.6 s.
        h.record(
            0,
            ms(8_600),
            State::Backup,
            State::Master,
            "master down timer expired",
            Some(ms(5_000)),
        );
        let v = h.get(0).unwrap();
        let last = v.last().unwrap();
        assert_eq!(last.takeover, Some(Duration::from_millis(3_600)));
        assert_eq!(last.held, Some(Duration::from_millis(8_600)));
        assert_eq!(v.last_takeover, Some(Duration::from_millis(3_600)));
        assert_eq!(v.changes[0].held, None);
        assert_eq!(v.changes[0].takeover, None);
    }

    #[test]
    fn without_a_master_heard_since_backup_the_takeover_runs_from_backup() {
        let mut h = History::default();
        h.record(0, ms(0), State::Initialize, State::Backup, "init", None);
        h.record(0, ms(100), State::Backup, State::Master, "x", None);
        h.record(0, ms(200), State::Master, State::Backup, "y", None);
        // An advert heard before the instance went back to BACKUP does not count.
        h.record(
            0,
            ms(3_800),
            State::Backup,
            State::Master,
            "z",
            Some(ms(50)),
        );
        let v = h.get(0).unwrap();
        assert_eq!(v.changes[1].takeover, Some(Duration::from_millis(100)));
        assert_eq!(
            v.last().unwrap().takeover,
            Some(Duration::from_millis(3_600))
        );
    }

    #[test]
    fn only_the_last_few_changes_are_kept_and_removed_instances_forgotten() {
        let mut h = History::default();
        for i in 0..(KEPT as u64 + 5) {
            let (from, to) = if i % 2 == 0 {
                (State::Backup, State::Master)
            } else {
                (State::Master, State::Backup)
            };
            h.record(0, ms(i * 10), from, to, "flap", None);
        }
        h.record(1, ms(1), State::Initialize, State::Backup, "init", None);
        let v = h.get(0).unwrap();
        assert_eq!(v.changes.len(), KEPT);
        assert_eq!(v.changes.front().unwrap().at, ms(50));
        // A reload that drops VI_1 and adds VI_3 before VI_2.
        h.reindex(&["VI_1", "VI_2"], &["VI_3", "VI_2"]);
        assert!(h.get(0).unwrap().changes.is_empty());
        assert_eq!(h.get(1).unwrap().changes.len(), 1);
        assert!(h.get(2).is_none());
    }
}
