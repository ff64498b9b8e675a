//! keepalived's retry rules, one per family of checkers, as pure functions of a checker's
//! standing and one result. keepalived has four slightly different ones (and HTTP's, in
//! `http::rules`); each is followed exactly, since the number of probes before a server is
//! called down, and the gaps between them, are what a configuration's timing means.
//!
//! Every checker starts with `retry_it = retry` (keepalived sets it so at load): the very
//! first failure calls a server down without retries, later ones only after `retry` more.

use std::time::Duration;

use baton_conf::Checker;

/// A checker's standing, as keepalived keeps it in `checker_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// `is_up`: the checker's last verdict (alpha checkers start down).
    pub is_up: bool,
    /// `has_run`: a verdict has been given at least once.
    pub has_run: bool,
    /// `retry_it`: failures counted towards `retry`.
    pub retry_it: u32,
}

impl Standing {
    pub fn new(timing: &Checker) -> Standing {
        Standing {
            is_up: !timing.alpha,
            has_run: false,
            retry_it: timing.retry,
        }
    }

    /// keepalived's `update_svr_checker_state`: the verdict is given (and logged by the
    /// core) even when it repeats the state, the first time.
    fn set(&mut self, up: bool) {
        self.is_up = up;
        self.has_run = true;
    }
}

/// What one result leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// A verdict to give: up or down, with keepalived's log line.
    pub verdict: Option<(bool, String)>,
    /// A line to log without a verdict (`log_all_failures`, retries).
    pub note: Option<String>,
    /// When to probe next, counted from now.
    pub delay: Duration,
}

/// How the TCP, UDP and ICMP checkers word their lines.
#[derive(Debug, Clone, Copy)]
pub struct Layer4Words {
    /// `TCP connection to %s success.`
    pub success: &'static str,
    /// `TCP_CHECK on service %s failed.`
    pub failed: &'static str,
    /// `TCP_CHECK on service %s failed after %u retries.`
    pub failed_retries: &'static str,
}

pub const TCP_WORDS: Layer4Words = Layer4Words {
    success: "TCP connection to {rs} success.",
    failed: "TCP_CHECK on service {rs} failed.",
    failed_retries: "TCP_CHECK on service {rs} failed after {n} retries.",
};
pub const UDP_WORDS: Layer4Words = Layer4Words {
    success: "UDP connection to {rs} success.",
    failed: "UDP_CHECK on service {rs} failed.",
    failed_retries: "UDP_CHECK on service {rs} failed after {n} retries.",
};
pub const ICMP_WORDS: Layer4Words = Layer4Words {
    success: "ICMP connection to {rs} success.",
    failed: "ICMP CHECK on service {rs} failed.",
    failed_retries: "ICMP CHECK on service {rs} of {vs} failed after {n} retries.",
};

/// Names substituted into log lines.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    /// The real server, `[10.0.0.21]:tcp:8080`.
    pub rs: &'a str,
    /// The virtual server, `[10.0.0.10]:tcp:80`.
    pub vs: &'a str,
}

impl Names<'_> {
    pub fn fill(&self, template: &str) -> String {
        template.replace("{rs}", self.rs).replace("{vs}", self.vs)
    }
}

/// `tcp_epilog`, `udp_epilog`, `icmp_epilog`: a success is up at once; a failure of a
/// healthy server is retried `retry` times, `delay_before_retry` apart, before the server
/// is called down; a server already down is probed every `delay_loop`.
pub fn layer4(
    st: &mut Standing,
    timing: &Checker,
    success: bool,
    words: Layer4Words,
    names: Names<'_>,
) -> Step {
    let mut step = Step {
        verdict: None,
        note: None,
        delay: timing.delay_loop,
    };
    if success || ((st.is_up || !st.has_run) && st.retry_it >= timing.retry) {
        st.retry_it = 0;
        if success && (!st.is_up || !st.has_run) {
            st.set(true);
            step.verdict = Some((true, names.fill(words.success)));
        } else if !success && (st.is_up || !st.has_run) {
            let line = if timing.retry > 0 && st.has_run {
                names
                    .fill(words.failed_retries)
                    .replace("{n}", &timing.retry.to_string())
            } else {
                names.fill(words.failed)
            };
            st.set(false);
            step.verdict = Some((false, line));
        }
    } else if st.is_up {
        step.delay = timing.delay_before_retry;
        st.retry_it += 1;
    }
    st.has_run = true;
    step
}

/// `dns_final`. The failure line is logged when it is the last try (or with
/// `log_all_failures`); success says nothing in keepalived, so the line here is ours.
pub fn dns(
    st: &mut Standing,
    timing: &Checker,
    error: Option<&str>,
    log_all: bool,
    names: Names<'_>,
) -> Step {
    let mut step = Step {
        verdict: None,
        note: None,
        delay: timing.delay_loop,
    };
    match error {
        Some(what) => {
            if st.is_up || !st.has_run {
                let last_try = st.retry_it >= timing.retry;
                let line = if st.has_run && last_try {
                    format!(
                        "DNS_CHECK ({}) {what} after {} retries",
                        names.rs, timing.retry
                    )
                } else {
                    format!("DNS_CHECK ({}) {what}", names.rs)
                };
                if st.retry_it < timing.retry {
                    st.retry_it += 1;
                    st.has_run = true;
                    step.delay = timing.delay_before_retry;
                    step.note = log_all.then_some(line);
                    return step;
                }
                st.set(false);
                step.verdict = Some((false, line));
            }
        }
        None => {
            if !st.is_up || !st.has_run {
                st.set(true);
                step.verdict = Some((true, format!("DNS_CHECK ({}) succeeded.", names.rs)));
            }
        }
    }
    st.retry_it = 0;
    step
}

/// `smtp_final`. Unlike the others, each round starts with `retry_it = 0` (the caller
/// resets it), and a server already down is retried too.
pub fn smtp(
    st: &mut Standing,
    timing: &Checker,
    error: Option<&str>,
    log_all: bool,
    names: Names<'_>,
) -> Step {
    let mut step = Step {
        verdict: None,
        note: None,
        delay: timing.delay_loop,
    };
    match error {
        Some(what) => {
            let line = format!("SMTP_CHECK {what}");
            let loud = (st.is_up || !st.has_run) && (log_all || st.retry_it >= timing.retry);
            st.retry_it += 1;
            if st.retry_it <= timing.retry {
                step.delay = timing.delay_before_retry;
                step.note = loud.then_some(line);
                return step;
            }
            if st.is_up || !st.has_run {
                st.set(false);
                step.verdict = Some((false, line));
            } else {
                step.note = loud.then_some(line);
            }
        }
        None => {
            st.retry_it = 0;
            if !st.is_up || !st.has_run {
                st.set(true);
                step.verdict = Some((
                    true,
                    format!("Remote SMTP server {} succeed on service.", names.rs),
                ));
            }
            st.has_run = true;
        }
    }
    step
}

/// A checker with the timing the rule tests need (TCP, no connection).
#[cfg(test)]
pub(crate) fn test_checker(
    retry: u32,
    alpha: bool,
    delay_loop: Duration,
    delay_before_retry: Duration,
) -> Checker {
    Checker {
        id: baton_conf::CheckerId {
            rs: baton_conf::RealServerId {
                vs: baton_conf::VirtualServerId(0),
                index: 0,
            },
            index: 0,
        },
        span: baton_conf::Span::default(),
        alpha,
        delay_loop,
        warmup: Duration::ZERO,
        retry,
        delay_before_retry,
        log_all_failures: false,
        connection: None,
        kind: baton_conf::CheckKind::Tcp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(retry: u32, alpha: bool) -> Checker {
        test_checker(
            retry,
            alpha,
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
    }

    const N: Names<'static> = Names {
        rs: "[10.0.0.21]:tcp:8080",
        vs: "[10.0.0.10]:tcp:80",
    };

    fn run(st: &mut Standing, t: &Checker, results: &[bool]) -> Vec<Step> {
        results
            .iter()
            .map(|&ok| layer4(st, t, ok, TCP_WORDS, N))
            .collect()
    }

    #[test]
    fn first_failure_is_down_at_once() {
        let t = timing(3, false);
        let mut st = Standing::new(&t);
        let steps = run(&mut st, &t, &[false]);
        assert_eq!(
            steps[0].verdict,
            Some((
                false,
                "TCP_CHECK on service [10.0.0.21]:tcp:8080 failed.".into()
            ))
        );
        assert_eq!(steps[0].delay, t.delay_loop);
        assert!(!st.is_up);
    }

    #[test]
    fn first_success_is_reported_even_though_up() {
        let t = timing(1, false);
        let mut st = Standing::new(&t);
        let steps = run(&mut st, &t, &[true, true]);
        assert_eq!(
            steps[0].verdict,
            Some((
                true,
                "TCP connection to [10.0.0.21]:tcp:8080 success.".into()
            ))
        );
        assert_eq!(steps[1].verdict, None);
    }

    #[test]
    fn a_healthy_server_gets_retry_more_tries_before_down() {
        let t = timing(2, false);
        let mut st = Standing::new(&t);
        run(&mut st, &t, &[true]);
        let steps = run(&mut st, &t, &[false, false, false]);
        assert_eq!(steps[0].verdict, None);
        assert_eq!(steps[0].delay, t.delay_before_retry);
        assert_eq!(steps[1].verdict, None);
        assert_eq!(steps[1].delay, t.delay_before_retry);
        assert_eq!(
            steps[2].verdict.as_ref().map(|v| v.1.as_str()),
            Some("TCP_CHECK on service [10.0.0.21]:tcp:8080 failed after 2 retries.")
        );
        assert_eq!(steps[2].delay, t.delay_loop);
        // Down: probed every delay_loop, nothing more said until it answers.
        let steps = run(&mut st, &t, &[false, false, true]);
        assert_eq!(steps[0].verdict, None);
        assert_eq!(steps[0].delay, t.delay_loop);
        assert_eq!(steps[1].verdict, None);
        assert!(steps[2].verdict.as_ref().is_some_and(|v| v.0));
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let t = timing(1, false);
        let mut st = Standing::new(&t);
        let steps = run(&mut st, &t, &[true, false, true, false, false]);
        assert!(steps[1].verdict.is_none());
        assert!(steps[2].verdict.is_none());
        assert!(steps[3].verdict.is_none());
        assert!(steps[4].verdict.as_ref().is_some_and(|v| !v.0));
    }

    #[test]
    fn alpha_starts_down_and_a_first_failure_says_so() {
        let t = timing(3, true);
        let mut st = Standing::new(&t);
        assert!(!st.is_up);
        let steps = run(&mut st, &t, &[false, false, true]);
        assert!(steps[0].verdict.as_ref().is_some_and(|v| !v.0));
        assert!(steps[1].verdict.is_none());
        assert_eq!(steps[1].delay, t.delay_loop);
        assert!(steps[2].verdict.as_ref().is_some_and(|v| v.0));
    }

    #[test]
    fn icmp_names_the_virtual_server_when_counting_retries() {
        let t = timing(1, false);
        let mut st = Standing::new(&t);
        layer4(&mut st, &t, true, ICMP_WORDS, N);
        layer4(&mut st, &t, false, ICMP_WORDS, N);
        let step = layer4(&mut st, &t, false, ICMP_WORDS, N);
        assert_eq!(
            step.verdict.unwrap().1,
            "ICMP CHECK on service [10.0.0.21]:tcp:8080 of [10.0.0.10]:tcp:80 failed after 1 retries."
        );
    }

    #[test]
    fn dns_retries_a_healthy_server_delay_before_retry_apart() {
        let t = timing(3, false);
        let mut st = Standing::new(&t);
        assert!(dns(&mut st, &t, None, false, N).verdict.is_some());
        for _ in 0..3 {
            let s = dns(&mut st, &t, Some("read timeout from socket"), false, N);
            assert!(s.verdict.is_none());
            assert!(s.note.is_none());
            assert_eq!(s.delay, t.delay_before_retry);
        }
        let s = dns(&mut st, &t, Some("read timeout from socket"), false, N);
        assert_eq!(
            s.verdict.unwrap().1,
            "DNS_CHECK ([10.0.0.21]:tcp:8080) read timeout from socket after 3 retries"
        );
        assert_eq!(s.delay, t.delay_loop);
        // Down: no retries, no lines.
        let s = dns(&mut st, &t, Some("read timeout from socket"), false, N);
        assert!(s.verdict.is_none() && s.note.is_none());
        assert_eq!(s.delay, t.delay_loop);
    }

    #[test]
    fn smtp_retries_within_each_round_even_when_down() {
        let t = timing(1, false);
        let mut st = Standing::new(&t);
        st.retry_it = 0; // a round starts
        let s = smtp(
            &mut st,
            &t,
            Some("Bad greeting banner from server [10.0.0.21]:25"),
            false,
            N,
        );
        assert!(s.verdict.is_none());
        assert_eq!(s.delay, t.delay_before_retry);
        let s = smtp(
            &mut st,
            &t,
            Some("Bad greeting banner from server [10.0.0.21]:25"),
            false,
            N,
        );
        assert_eq!(
            s.verdict.unwrap(),
            (
                false,
                "SMTP_CHECK Bad greeting banner from server [10.0.0.21]:25".into()
            )
        );
        assert_eq!(s.delay, t.delay_loop);
        st.retry_it = 0;
        let s = smtp(
            &mut st,
            &t,
            Some("Read timeout from server [10.0.0.21]:25"),
            false,
            N,
        );
        assert!(s.verdict.is_none());
        assert_eq!(
            s.delay, t.delay_before_retry,
            "down servers are retried too"
        );
        let s = smtp(&mut st, &t, None, false, N);
        assert_eq!(
            s.verdict.unwrap().1,
            "Remote SMTP server [10.0.0.21]:tcp:8080 succeed on service."
        );
    }
}
