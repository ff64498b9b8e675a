//! keepalived's `HTTP_GET`/`SSL_GET` retry rules (`epilog` and `timeout_epilog` in
//! check_http.c). The urls are checked one per probe, `delay_loop` apart; the server is up
//! once every url has passed in a row. A failing url is retried `retry` times,
//! `delay_before_retry` apart; then the server is down and that url is the one probed
//! (every `max(delay_before_retry, delay_loop)`) until it passes, after which all urls are
//! checked again from the first.

use std::time::Duration;

use crate::retry::{Names, Standing, Step};
use baton_conf::Checker;

/// A checker's place among its urls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlStanding {
    pub st: Standing,
    /// The url to probe next (`url_it`).
    url_it: usize,
    /// The url that made the server fail (`failed_url`).
    failed_url: Option<usize>,
    urls: usize,
}

impl UrlStanding {
    pub fn new(timing: &Checker, urls: usize) -> UrlStanding {
        UrlStanding {
            st: Standing::new(timing),
            url_it: 0,
            failed_url: None,
            urls: urls.max(1),
        }
    }

    /// The url to probe now.
    pub fn current(&self) -> usize {
        self.url_it
    }

    /// The url being probed passed. `what` is keepalived's name for the last test it
    /// passed ("HTTP status code", "MD5 digest", "Regex match").
    pub fn passed(
        &mut self,
        timing: &Checker,
        fast_recovery: bool,
        names: Names<'_>,
        what: &str,
        path: &str,
    ) -> Step {
        let mut step = Step {
            verdict: None,
            note: None,
            delay: timing.delay_loop,
        };
        if !self.st.is_up {
            step.note = Some(format!("{what} success to {} url({path})", names.rs));
        }
        // epilog(REGISTER_CHECKER_NEW)
        let next = self.url_it + 1;
        let finished = next >= self.urls;
        self.url_it = if finished { 0 } else { next };
        self.st.retry_it = 0;
        if finished && self.failed_url.is_none() {
            if !self.st.is_up || !self.st.has_run {
                self.st.is_up = true;
                self.st.has_run = true;
                step.verdict = Some((
                    true,
                    format!("Remote Web server {} succeed on service.", names.rs),
                ));
            }
        } else if self.failed_url.is_some() {
            // The failing url passes again: check all of them from the first.
            self.failed_url = None;
            self.url_it = 0;
        }
        if !self.st.has_run {
            self.st.retry_it = timing.retry;
        }
        self.fast(fast_recovery, &mut step);
        step
    }

    /// The url being probed failed; `cause` is keepalived's phrase ("HTTP status code error
    /// to", "Timeout connecting", ...), `keyword` HTTP or SSL.
    pub fn failed(
        &mut self,
        timing: &Checker,
        fast_recovery: bool,
        names: Names<'_>,
        keyword: &str,
        cause: &str,
    ) -> Step {
        let mut step = Step {
            verdict: None,
            note: None,
            delay: timing.delay_before_retry,
        };
        if self.st.is_up || !self.st.has_run {
            if timing.log_all_failures {
                step.note = Some(format!("{cause} server {}.", names.rs));
            }
            self.st.has_run = true;
            // epilog(REGISTER_CHECKER_RETRY)
            self.st.retry_it += 1;
            if self.st.retry_it > timing.retry {
                if self.st.is_up {
                    let line = if timing.retry > 0 {
                        format!(
                            "{keyword}_CHECK on service {} failed after {} retries.",
                            names.rs,
                            self.st.retry_it - 1
                        )
                    } else {
                        format!("{keyword}_CHECK on service {} failed.", names.rs)
                    };
                    self.st.is_up = false;
                    step.verdict = Some((false, line));
                }
                self.failed_url = Some(self.url_it);
            }
        }
        // else epilog(REGISTER_CHECKER_FAILED): already down, nothing changes.
        if self.failed_url.is_some() {
            step.delay = timing.delay_before_retry.max(timing.delay_loop);
        }
        self.fast(fast_recovery, &mut step);
        step
    }

    /// `fast_recovery`: no wait while the server is down and no url is known to fail.
    fn fast(&self, fast_recovery: bool, step: &mut Step) {
        if fast_recovery && (!self.st.has_run || (!self.st.is_up && self.failed_url.is_none())) {
            step.delay = Duration::ZERO;
        }
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
        crate::retry::test_checker(retry, false, Duration::from_secs(6), Duration::from_secs(3))
    }

    fn pass(u: &mut UrlStanding, t: &Checker) -> Step {
        u.passed(t, false, N, "HTTP status code", "/")
    }

    fn fail(u: &mut UrlStanding, t: &Checker) -> Step {
        u.failed(t, false, N, "HTTP", "HTTP status code error to")
    }

    #[test]
    fn urls_are_probed_one_per_delay_loop_and_up_after_the_last() {
        let t = timing(1);
        let mut u = UrlStanding::new(&t, 3);
        let s = pass(&mut u, &t);
        assert_eq!(
            (s.verdict.clone(), s.delay, u.current()),
            (None, t.delay_loop, 1)
        );
        let s = pass(&mut u, &t);
        assert_eq!((s.verdict.clone(), u.current()), (None, 2));
        let s = pass(&mut u, &t);
        assert_eq!(
            s.verdict.unwrap().1,
            "Remote Web server [10.0.0.21]:tcp:80 succeed on service."
        );
        assert_eq!(u.current(), 0);
        assert!(pass(&mut u, &t).verdict.is_none());
    }

    #[test]
    fn first_failure_before_any_verdict_is_down_at_once() {
        let t = timing(2);
        let mut u = UrlStanding::new(&t, 1);
        let s = fail(&mut u, &t);
        // keepalived counts the initial retry_it as retries done.
        assert_eq!(
            s.verdict.unwrap().1,
            "HTTP_CHECK on service [10.0.0.21]:tcp:80 failed after 2 retries."
        );
        assert_eq!(s.delay, t.delay_loop.max(t.delay_before_retry));
    }

    #[test]
    fn a_healthy_server_is_retried_then_down_then_recovers_through_all_urls() {
        let t = timing(2);
        let mut u = UrlStanding::new(&t, 2);
        pass(&mut u, &t);
        pass(&mut u, &t); // up
        pass(&mut u, &t); // url 1 next
        assert_eq!(u.current(), 1);
        let s = fail(&mut u, &t);
        assert_eq!((s.verdict.clone(), s.delay), (None, t.delay_before_retry));
        let s = fail(&mut u, &t);
        assert_eq!((s.verdict.clone(), s.delay), (None, t.delay_before_retry));
        let s = fail(&mut u, &t);
        assert_eq!(
            s.verdict.unwrap(),
            (
                false,
                "HTTP_CHECK on service [10.0.0.21]:tcp:80 failed after 2 retries.".into()
            )
        );
        assert_eq!(s.delay, t.delay_loop);
        assert_eq!(u.current(), 1, "the failed url is probed");
        let s = fail(&mut u, &t);
        assert_eq!((s.verdict.clone(), s.delay), (None, t.delay_loop));
        // It passes: a note, not yet up; then every url from the first.
        let s = pass(&mut u, &t);
        assert_eq!(
            s.note.as_deref(),
            Some("HTTP status code success to [10.0.0.21]:tcp:80 url(/)")
        );
        assert!(s.verdict.is_none());
        assert_eq!(u.current(), 0);
        assert!(pass(&mut u, &t).verdict.is_none());
        assert!(pass(&mut u, &t).verdict.is_some_and(|v| v.0));
    }

    #[test]
    fn fast_recovery_probes_again_at_once_while_nothing_is_known_to_fail() {
        let t = timing(0);
        let mut u = UrlStanding::new(&t, 2);
        let s = u.passed(&t, true, N, "HTTP status code", "/a");
        assert_eq!(s.delay, Duration::ZERO, "not yet judged");
        let s = u.passed(&t, true, N, "HTTP status code", "/b");
        assert!(s.verdict.is_some());
        assert_eq!(s.delay, t.delay_loop);
        let s = u.failed(&t, true, N, "HTTP", "Timeout connecting");
        assert_eq!(
            s.verdict.unwrap().1,
            "HTTP_CHECK on service [10.0.0.21]:tcp:80 failed."
        );
        assert_eq!(s.delay, t.delay_loop, "a failing url is known");
        let s = u.passed(&t, true, N, "HTTP status code", "/a");
        assert_eq!(s.delay, Duration::ZERO, "down, nothing failing: at once");
    }
}
