//! What the core remembers about each virtual server, real server and checker, with the
//! arithmetic keepalived applies to it (check_data.h `real_weight`, track_file.c's
//! FILE_CHECK status).

use baton_conf::{CheckKind, Checker, FileCheck, RealServer, VirtualServer};
use serde::Serialize;

/// The weight keepalived passes to IPVS for an effective weight: clamped to
/// 0..=2147483647 (check_data.h `real_weight`).
pub fn real_weight(effective: i64) -> u32 {
    effective.clamp(0, i64::from(i32::MAX)) as u32
}

/// IPVS_WEIGHT_FAULT: a FILE_CHECK status at or below this is a failure.
const WEIGHT_FAULT: i64 = i32::MIN as i64;

/// The status a FILE_CHECK derives from its file's value (track_file.c
/// `update_track_file_status`): with weight 0 a non-zero value (a zero one with
/// `reverse`) is a fault; otherwise value × weight (negated by `reverse`), clamped to i32.
/// `None` is a fault, `Some(w)` the weight to add to the real server.
pub fn file_status(check: &FileCheck, value: i64) -> Option<i64> {
    if check.weight == 0 {
        let fault = (value != 0) != check.reverse;
        return (!fault).then_some(0);
    }
    let mult: i64 = if check.reverse { -1 } else { 1 };
    let status = value
        .saturating_mul(i64::from(check.weight))
        .saturating_mul(mult)
        .clamp(WEIGHT_FAULT, i64::from(i32::MAX));
    (status > WEIGHT_FAULT).then_some(status)
}

/// A checker's part in its real server's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckerState {
    /// Not failed (an `alpha` checker starts failed until it first succeeds).
    pub is_up: bool,
    /// A verdict has come in.
    pub has_run: bool,
    /// What this checker adds to the real server's weight (misc_dynamic, FILE_CHECK).
    pub cur_weight: i64,
    /// MISC_CHECK with misc_dynamic: the last exit status taken (0 for plain success).
    pub last_status: Option<u32>,
}

impl CheckerState {
    /// keepalived's state of a checker before it has run.
    pub fn initial(c: &Checker) -> CheckerState {
        CheckerState {
            is_up: !c.alpha,
            has_run: false,
            cur_weight: 0,
            last_status: None,
        }
    }

    /// A FILE_CHECK's state from the last value of its file (0 if none was read).
    pub fn of_file(check: &FileCheck, value: i64) -> CheckerState {
        let status = file_status(check, value);
        CheckerState {
            is_up: status.is_some(),
            has_run: true,
            cur_weight: status.unwrap_or(0),
            last_status: None,
        }
    }
}

/// A real server's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealServerState {
    /// All checkers are up (keepalived's ISALIVE).
    pub alive: bool,
    /// Configured weight plus what dynamic checkers add; the table gets
    /// [`real_weight`] of it.
    pub effective_weight: i64,
    pub checkers: Vec<CheckerState>,
}

impl RealServerState {
    pub fn failed_checkers(&self) -> usize {
        self.checkers.iter().filter(|c| !c.is_up).count()
    }

    /// The state before start: no checker has run; alpha checkers count as failed and
    /// FILE_CHECKs take their file's value.
    pub fn initial(rs: &RealServer, file_value: impl Fn(&str) -> i64) -> RealServerState {
        let mut st = RealServerState {
            alive: false,
            effective_weight: i64::from(rs.weight),
            checkers: Vec::with_capacity(rs.checkers.len()),
        };
        for c in &rs.checkers {
            let cs = match &c.kind {
                CheckKind::File(f) => CheckerState::of_file(f, file_value(&f.track_file)),
                _ => CheckerState::initial(c),
            };
            st.effective_weight += cs.cur_weight;
            st.checkers.push(cs);
        }
        st
    }
}

/// A virtual server's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerState {
    /// Quorum as last decided (keepalived's quorum_state_up).
    pub quorum_up: bool,
    /// The sorry server is in use.
    pub sorry_alive: bool,
    /// `ha_suspend` and its address is not on this host: checkers paused.
    pub suspended: bool,
    pub real_servers: Vec<RealServerState>,
}

impl VirtualServerState {
    /// The total weight of live real servers, as quorum counts it.
    pub fn live_weight(&self) -> u64 {
        self.real_servers
            .iter()
            .filter(|r| r.alive)
            .map(|r| u64::from(real_weight(r.effective_weight)))
            .sum()
    }

    pub fn initial(vs: &VirtualServer, file_value: impl Fn(&str) -> i64) -> VirtualServerState {
        VirtualServerState {
            quorum_up: false,
            sorry_alive: false,
            suspended: false,
            real_servers: vs
                .real_servers
                .iter()
                .map(|rs| RealServerState::initial(rs, &file_value))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(weight: i32, reverse: bool) -> FileCheck {
        FileCheck {
            track_file: "f".to_string(),
            weight,
            reverse,
        }
    }

    #[test]
    fn real_weight_clamps_like_keepalived() {
        assert_eq!(real_weight(-5), 0);
        assert_eq!(real_weight(7), 7);
        assert_eq!(real_weight(i64::MAX), i32::MAX as u32);
    }

    #[test]
    fn file_check_weight_zero_is_a_flag() {
        // track_file.c: weight 0 → a non-zero value is a fault, reverse flips it.
        assert_eq!(file_status(&file(0, false), 0), Some(0));
        assert_eq!(file_status(&file(0, false), 3), None);
        assert_eq!(file_status(&file(0, true), 0), None);
        assert_eq!(file_status(&file(0, true), 3), Some(0));
    }

    #[test]
    fn file_check_weight_scales_the_value() {
        assert_eq!(file_status(&file(5, false), 3), Some(15));
        assert_eq!(file_status(&file(5, true), 3), Some(-15));
        // At or below IPVS_WEIGHT_FAULT (-2147483648) the checker fails.
        assert_eq!(file_status(&file(2, false), i64::from(i32::MIN)), None);
        assert_eq!(
            file_status(&file(1, false), i64::from(i32::MIN) + 1),
            Some(i64::from(i32::MIN) + 1)
        );
        assert_eq!(
            file_status(&file(i32::MAX, false), i64::MAX),
            Some(i64::from(i32::MAX))
        );
    }
}
