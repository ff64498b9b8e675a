//! `MISC_CHECK`: a script's exit status judges the server. 0 is up; with `misc_dynamic`,
//! 2..=255 is up with weight status - 2; anything else (1, a signal, the timeout) is a
//! failure. Scripts run through baton-track's runner (own process group, no shell unless
//! asked, `user`/`script_user`, output discarded, killed at `misc_timeout`) and pass its
//! security checks (`enable_script_security`) before they ever run.

use std::time::Duration;

use baton_track::ScriptOutcome;

use crate::retry::{Names, Standing};
use crate::verdict::{CheckState, WeightEffect};
use baton_conf::Checker;

/// A MISC_CHECK's standing: keepalived's, plus the last exit status (which decides when the
/// weight changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiscStanding {
    pub st: Standing,
    last_exit: i32,
    weight: WeightEffect,
}

/// What one run leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscStep {
    pub verdict: Option<(CheckState, String)>,
    pub note: Option<String>,
    /// When to run next, counted from the *start* of this run (keepalived's `last_ran`).
    pub delay: Duration,
}

fn weight_of(status: i32) -> WeightEffect {
    match u32::try_from(status) {
        Ok(s @ 2..=255) => WeightEffect::Set(s - 2),
        _ => WeightEffect::Configured,
    }
}

impl MiscStanding {
    pub fn new(timing: &Checker) -> MiscStanding {
        MiscStanding {
            st: Standing::new(timing),
            last_exit: 0,
            weight: WeightEffect::Configured,
        }
    }

    /// The weight the script's last good exit status asks for.
    pub fn weight(&self) -> WeightEffect {
        self.weight
    }

    /// keepalived's `misc_check_child_thread` for one finished run. `script` is the
    /// command's first word.
    pub fn result(
        &mut self,
        timing: &Checker,
        dynamic: bool,
        outcome: &ScriptOutcome,
        names: Names<'_>,
        script: &str,
    ) -> MiscStep {
        let st = &mut self.st;
        let mut exit_type: Option<&str> = None;
        let mut success = false;
        let mut reason: Option<(String, String)> = None;
        let mut message_only = false;
        let mut weight_changed = false;

        let status = match outcome {
            ScriptOutcome::Success => Some(0),
            ScriptOutcome::Failed(code) => Some(*code),
            _ => None,
        };
        match status {
            Some(s) if s == 0 || (dynamic && (2..=255).contains(&s)) => {
                if s != self.last_exit {
                    self.last_exit = s;
                    let w = weight_of(s);
                    weight_changed = w != self.weight;
                    self.weight = w;
                }
                if !st.is_up || !st.has_run {
                    exit_type = Some("succeeded");
                    success = true;
                }
                st.retry_it = 0;
            }
            Some(s) => {
                if st.is_up || !st.has_run {
                    exit_type = Some("failed");
                    reason = Some(("exited with status".into(), s.to_string()));
                    if st.retry_it < timing.retry {
                        st.retry_it += 1;
                        message_only = true;
                    } else {
                        st.retry_it = 0;
                        self.last_exit = s;
                        self.weight = WeightEffect::Configured;
                    }
                } else {
                    self.last_exit = s;
                }
            }
            None => {
                if st.is_up || !st.has_run {
                    match outcome {
                        ScriptOutcome::TimedOut => exit_type = Some("timed out"),
                        ScriptOutcome::Signalled(sig) => {
                            exit_type = Some("failed");
                            reason = Some(("due to signal".into(), sig.to_string()));
                        }
                        ScriptOutcome::CouldNotRun(why) => {
                            exit_type = Some("failed");
                            reason = Some(("could not be run:".into(), why.clone()));
                        }
                        ScriptOutcome::Success | ScriptOutcome::Failed(_) => {}
                    }
                    if st.retry_it < timing.retry {
                        st.retry_it += 1;
                        message_only = true;
                    } else {
                        st.retry_it = 0;
                        self.weight = WeightEffect::Configured;
                    }
                }
            }
        }

        let mut step = MiscStep {
            verdict: None,
            note: None,
            delay: if st.retry_it > 0 {
                timing.delay_before_retry
            } else {
                timing.delay_loop
            },
        };
        if let Some(exit_type) = exit_type {
            let suffix = if success {
                String::new()
            } else if timing.retry == 0 {
                " with retry disabled".into()
            } else {
                let retries = if timing.retry == 1 {
                    "retry"
                } else {
                    "retries"
                };
                match st.retry_it {
                    1 => format!(", will do {} {retries}", timing.retry),
                    n if n > 1 => format!(" on retry {}/{}", n - 1, timing.retry),
                    _ => format!(" after {} {retries}", timing.retry),
                }
            };
            let line = match &reason {
                Some((why, code)) => format!(
                    "Misc check for [{} VS {}] by [{script}] {exit_type}{suffix} ({why} {code}).",
                    names.rs, names.vs
                ),
                None => format!(
                    "Misc check for [{} VS {}] by [{script}] {exit_type}{suffix}.",
                    names.rs, names.vs
                ),
            };
            if message_only {
                if timing.log_all_failures {
                    step.note = Some(line);
                }
            } else {
                st.is_up = success;
                st.has_run = true;
                let state = if success {
                    CheckState::Up(self.weight)
                } else {
                    CheckState::Down
                };
                step.verdict = Some((state, line));
            }
        } else if weight_changed && st.is_up {
            step.verdict = Some((
                CheckState::Up(self.weight),
                format!(
                    "Misc check for [{} VS {}] by [{script}] exited with status {}: weight {}.",
                    names.rs,
                    names.vs,
                    self.last_exit,
                    match self.weight {
                        WeightEffect::Set(w) => w.to_string(),
                        _ => "as configured".into(),
                    }
                ),
            ));
        }
        st.has_run = true;
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Names<'static> = Names {
        rs: "[10.0.0.21]:tcp:80",
        vs: "[10.0.0.10]:tcp:80",
    };

    fn timing(retry: u32) -> Checker {
        crate::retry::test_checker(retry, false, Duration::from_secs(5), Duration::from_secs(1))
    }

    fn run(m: &mut MiscStanding, t: &Checker, dynamic: bool, o: ScriptOutcome) -> MiscStep {
        m.result(t, dynamic, &o, N, "/bin/check")
    }

    #[test]
    fn exit_zero_is_up_one_is_down() {
        let t = timing(0);
        let mut m = MiscStanding::new(&t);
        let s = run(&mut m, &t, false, ScriptOutcome::Success);
        assert_eq!(
            s.verdict,
            Some((
                CheckState::Up(WeightEffect::Configured),
                "Misc check for [[10.0.0.21]:tcp:80 VS [10.0.0.10]:tcp:80] by [/bin/check] succeeded."
                    .into()
            ))
        );
        assert_eq!(run(&mut m, &t, false, ScriptOutcome::Success).verdict, None);
        let s = run(&mut m, &t, false, ScriptOutcome::Failed(1));
        assert_eq!(
            s.verdict.unwrap(),
            (
                CheckState::Down,
                "Misc check for [[10.0.0.21]:tcp:80 VS [10.0.0.10]:tcp:80] by [/bin/check] failed with retry disabled (exited with status 1)."
                    .into()
            )
        );
        assert_eq!(s.delay, t.delay_loop);
    }

    #[test]
    fn dynamic_exit_codes_set_the_weight() {
        let t = timing(0);
        let mut m = MiscStanding::new(&t);
        let s = run(&mut m, &t, true, ScriptOutcome::Failed(12));
        assert_eq!(s.verdict.unwrap().0, CheckState::Up(WeightEffect::Set(10)));
        // Same status: nothing new.
        assert_eq!(
            run(&mut m, &t, true, ScriptOutcome::Failed(12)).verdict,
            None
        );
        // Another weight while up: a weight verdict.
        let s = run(&mut m, &t, true, ScriptOutcome::Failed(2));
        assert_eq!(s.verdict.unwrap().0, CheckState::Up(WeightEffect::Set(0)));
        let s = run(&mut m, &t, true, ScriptOutcome::Success);
        assert_eq!(
            s.verdict.unwrap().0,
            CheckState::Up(WeightEffect::Configured)
        );
        // 1 is still a failure; without misc_dynamic 2.. are failures too.
        assert_eq!(
            run(&mut m, &t, true, ScriptOutcome::Failed(1))
                .verdict
                .unwrap()
                .0,
            CheckState::Down
        );
        let mut plain = MiscStanding::new(&t);
        run(&mut plain, &t, false, ScriptOutcome::Success);
        assert_eq!(
            run(&mut plain, &t, false, ScriptOutcome::Failed(12))
                .verdict
                .unwrap()
                .0,
            CheckState::Down
        );
    }

    #[test]
    fn retries_are_counted_and_worded_like_keepalived() {
        let t = timing(2);
        let mut m = MiscStanding::new(&t);
        run(&mut m, &t, false, ScriptOutcome::Success);
        let s = run(&mut m, &t, false, ScriptOutcome::TimedOut);
        assert_eq!((s.verdict.clone(), s.delay), (None, t.delay_before_retry));
        let s = run(&mut m, &t, false, ScriptOutcome::Signalled(9));
        assert_eq!((s.verdict.clone(), s.delay), (None, t.delay_before_retry));
        let s = run(&mut m, &t, false, ScriptOutcome::Failed(1));
        assert_eq!(
            s.verdict.unwrap().1,
            "Misc check for [[10.0.0.21]:tcp:80 VS [10.0.0.10]:tcp:80] by [/bin/check] failed after 2 retries (exited with status 1)."
        );
        assert_eq!(s.delay, t.delay_loop);
        let mut loud = timing(2);
        loud.log_all_failures = true;
        let mut m = MiscStanding::new(&loud);
        run(&mut m, &loud, false, ScriptOutcome::Success);
        let s = run(&mut m, &loud, false, ScriptOutcome::TimedOut);
        assert_eq!(
            s.note.unwrap(),
            "Misc check for [[10.0.0.21]:tcp:80 VS [10.0.0.10]:tcp:80] by [/bin/check] timed out, will do 2 retries."
        );
        let s = run(&mut m, &loud, false, ScriptOutcome::TimedOut);
        assert!(s.note.unwrap().ends_with("timed out on retry 1/2."));
    }
}
