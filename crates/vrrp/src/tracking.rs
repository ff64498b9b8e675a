//! Tracking arithmetic: how trackers (scripts, interfaces, processes, files) move an
//! instance's effective priority or put it in FAULT, exactly as keepalived computes it.
//! Running scripts, watching processes and reading files is the daemon's job; the results
//! come in as inputs and the arithmetic lives here.
//!
//! keepalived's weight table (keepalived-semantics §2), for trackers that are up or down:
//!
//! | weight | reverse | tracked OK/up | tracked KO/down |
//! |---|---|---|---|
//! | 0 | no | — | FAULT |
//! | 0 | yes | FAULT | — |
//! | W>0 | no | +W | 0 |
//! | W<0 | no | 0 | −abs(W) |
//! | W>0 | yes | −W | 0 |
//! | W<0 | yes | 0 | +abs(W) |
//!
//! The effective priority is the base priority plus every delta, clamped to 1..=254; an
//! address owner (255) is never moved by weights, only faulted. FAULT sources are ORed.

use serde::Serialize;

/// What one tracker does to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contribution {
    /// Add this much to the base priority (may be negative or zero).
    Delta(i32),
    /// The instance must be in FAULT.
    Fault,
}

/// keepalived's weight table for a tracker that is `ok` (script succeeded, interface up,
/// process quorum met).
pub fn weighted(ok: bool, weight: i32, reverse: bool) -> Contribution {
    match (weight, reverse, ok) {
        (0, false, false) | (0, true, true) => Contribution::Fault,
        (0, _, _) => Contribution::Delta(0),
        (w, false, true) if w > 0 => Contribution::Delta(w),
        (w, false, false) if w < 0 => Contribution::Delta(w),
        (w, true, true) if w > 0 => Contribution::Delta(-w),
        (w, true, false) if w < 0 => Contribution::Delta(-w),
        _ => Contribution::Delta(0),
    }
}

/// A tracked file's contribution: `value × weight` (negated by `reverse`); with weight 0 any
/// non-zero value is a FAULT, and a result of −254 or less is a FAULT too (keepalived).
pub fn file_contribution(value: i64, weight: i32, reverse: bool) -> Contribution {
    if weight == 0 {
        return if value != 0 {
            Contribution::Fault
        } else {
            Contribution::Delta(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let delta = value.saturating_mul(i64::from(weight)).saturating_mul(sign);
    if delta <= -254 {
        Contribution::Fault
    } else {
        Contribution::Delta(delta.min(254) as i32)
    }
}

/// keepalived's vrrp_track_process quorum: OK iff `quorum ≤ count ≤ quorum_max`.
pub fn process_ok(count: u32, quorum: u32, quorum_max: Option<u32>) -> bool {
    count >= quorum && quorum_max.is_none_or(|max| count <= max)
}

/// The effective priority from a base and the sum of deltas: clamped to 1..=254 (a
/// non-owner can never reach 255 through weights); the owner stays at its base.
pub fn effective_priority(base: u8, owner: bool, deltas: i32) -> u8 {
    if owner {
        return base;
    }
    (i32::from(base) + deltas).clamp(1, 254) as u8
}

/// How one run of a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScriptResult {
    /// Exit status 0.
    Success,
    /// Non-zero exit status or killed by a signal.
    Failure,
    /// Still running at `timeout`: killed, and counted as a failure.
    TimedOut,
}

/// What a script's state says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScriptState {
    /// No result yet (keepalived's "init" state): tracking instances wait in FAULT without
    /// notifying until the first result.
    Init,
    Ok,
    Ko,
}

/// keepalived's rise/fall counter for a vrrp_script (vrrp_scheduler.c): a `result` in
/// `0..=rise+fall-1`; OK once it reaches `rise`. It starts at `rise-1` ("one success is
/// enough, one failure is enough") or at 0 with `init_fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    result: u32,
    state: ScriptState,
}

/// A change of a script's state, for keepalived's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptTransition {
    Succeeded,
    Failed,
    TimedOut,
}

impl RiseFall {
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> RiseFall {
        let rise = rise.max(1);
        let fall = fall.max(1);
        if init_fail {
            RiseFall {
                rise,
                fall,
                result: 0,
                state: ScriptState::Ko,
            }
        } else {
            RiseFall {
                rise,
                fall,
                result: rise - 1,
                state: ScriptState::Init,
            }
        }
    }

    pub fn state(&self) -> ScriptState {
        self.state
    }

    pub fn result(&self) -> u32 {
        self.result
    }

    /// Count one run. Returns the transition when the state changed.
    pub fn record(&mut self, outcome: ScriptResult) -> Option<ScriptTransition> {
        let before = self.state;
        let top = self.rise + self.fall - 1;
        match outcome {
            ScriptResult::Success => {
                // "if result < rise-1 increment; else jump to rise+fall-1".
                if self.result < self.rise - 1 {
                    self.result += 1;
                } else {
                    self.result = top;
                }
            }
            ScriptResult::Failure | ScriptResult::TimedOut => {
                // "if result > rise decrement; else set 0".
                if self.result > self.rise {
                    self.result -= 1;
                } else {
                    self.result = 0;
                }
            }
        }
        // OK ⇔ result ≥ rise; once counted, Init is over either way.
        self.state = if self.result >= self.rise {
            ScriptState::Ok
        } else {
            ScriptState::Ko
        };
        if self.state == before {
            return None;
        }
        Some(match (self.state, outcome) {
            (ScriptState::Ok, _) => ScriptTransition::Succeeded,
            (_, ScriptResult::TimedOut) => ScriptTransition::TimedOut,
            _ => ScriptTransition::Failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScriptResult::*;

    /// keepalived-semantics §2, the weight table row by row.
    #[test]
    fn weight_table_matches_keepalived() {
        use Contribution::*;
        assert_eq!(weighted(true, 0, false), Delta(0));
        assert_eq!(weighted(false, 0, false), Fault);
        assert_eq!(weighted(true, 0, true), Fault);
        assert_eq!(weighted(false, 0, true), Delta(0));
        assert_eq!(weighted(true, 10, false), Delta(10));
        assert_eq!(weighted(false, 10, false), Delta(0));
        assert_eq!(weighted(true, -10, false), Delta(0));
        assert_eq!(weighted(false, -10, false), Delta(-10));
        assert_eq!(weighted(true, 10, true), Delta(-10));
        assert_eq!(weighted(false, 10, true), Delta(0));
        assert_eq!(weighted(true, -10, true), Delta(0));
        assert_eq!(weighted(false, -10, true), Delta(10));
    }

    /// keepalived: "Effective priority = base priority + Σ(weights), then clamped to
    /// [1, 254] ... A non-owner can never reach 255 via weights"; the owner is untouched.
    #[test]
    fn effective_priority_is_clamped_and_owner_untouched() {
        assert_eq!(effective_priority(200, false, 100), 254);
        assert_eq!(effective_priority(10, false, -50), 1);
        assert_eq!(effective_priority(100, false, -50), 50);
        assert_eq!(effective_priority(255, true, -100), 255);
    }

    /// keepalived track_file: value × weight; weight 0 ⇒ non-zero = FAULT; ≤ −254 ⇒ FAULT.
    #[test]
    fn file_value_times_weight() {
        use Contribution::*;
        assert_eq!(file_contribution(5, 2, false), Delta(10));
        assert_eq!(file_contribution(5, 2, true), Delta(-10));
        assert_eq!(file_contribution(3, 0, false), Fault);
        assert_eq!(file_contribution(0, 0, false), Delta(0));
        assert_eq!(file_contribution(-127, 2, false), Fault);
        assert_eq!(file_contribution(-126, 2, false), Delta(-252));
    }

    #[test]
    fn process_quorum_bounds() {
        assert!(!process_ok(0, 1, None));
        assert!(process_ok(1, 1, None));
        assert!(process_ok(3, 2, Some(3)));
        assert!(!process_ok(4, 2, Some(3)));
    }

    /// keepalived: "Initial (not init_fail) = rise-1 ('one success is enough'; first failure
    /// ⇒ KO immediately)".
    #[test]
    fn script_first_result_decides_from_init() {
        let mut s = RiseFall::new(3, 2, false);
        assert_eq!(s.state(), ScriptState::Init);
        assert_eq!(s.record(Success), Some(ScriptTransition::Succeeded));
        assert_eq!(s.result(), 4);
        let mut s = RiseFall::new(3, 2, false);
        assert_eq!(s.record(Failure), Some(ScriptTransition::Failed));
        assert_eq!(s.state(), ScriptState::Ko);
    }

    /// keepalived: "from fully-OK it takes `fall` failures to go KO; from KO it takes `rise`
    /// successes"; a timeout counts as a failure.
    #[test]
    fn script_rise_and_fall_counts() {
        let mut s = RiseFall::new(3, 2, false);
        s.record(Success);
        assert_eq!(s.record(Failure), None);
        assert_eq!(s.state(), ScriptState::Ok);
        assert_eq!(s.record(TimedOut), Some(ScriptTransition::TimedOut));
        assert_eq!(s.state(), ScriptState::Ko);
        assert_eq!(s.record(Success), None);
        assert_eq!(s.record(Success), None);
        assert_eq!(s.record(Success), Some(ScriptTransition::Succeeded));
        assert_eq!(s.result(), 4);
    }

    /// keepalived `init_fail`: start at 0 in KO, needing `rise` successes.
    #[test]
    fn script_init_fail_starts_ko() {
        let mut s = RiseFall::new(2, 1, true);
        assert_eq!(s.state(), ScriptState::Ko);
        assert_eq!(s.record(Success), None);
        assert_eq!(s.record(Success), Some(ScriptTransition::Succeeded));
        assert_eq!(s.record(Failure), Some(ScriptTransition::Failed));
    }
}
