//! Which processes a `vrrp_track_process` counts, matched exactly as keepalived does: the
//! process name (`comm`, at most 15 characters) by default; the first word of the command
//! line with `full_command`, or whenever parameters are given; parameters compared on the
//! raw NUL-separated command line, exactly, as leading words (`partial`) or with the last
//! word allowed to be longer (`initial`).

use baton_conf::{ParamMatch, TrackProcess};

/// The kernel keeps 15 characters of a process name (TASK_COMM_LEN - 1).
pub(crate) const COMM_MAX: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessPattern {
    name: String,
    /// The parameters as they appear in /proc/PID/cmdline: each followed by a NUL.
    params: Option<Vec<u8>>,
    mode: ParamMatch,
    full_command: bool,
}

impl ProcessPattern {
    pub(crate) fn new(tp: &TrackProcess) -> ProcessPattern {
        let params = tp.params.as_ref().map(|words| {
            let mut joined = Vec::new();
            for word in words {
                joined.extend_from_slice(word.as_bytes());
                joined.push(0);
            }
            joined
        });
        ProcessPattern {
            name: tp.process.clone(),
            // keepalived: giving parameters implies matching the command line.
            full_command: tp.full_command || params.is_some(),
            params,
            mode: tp.param_match,
        }
    }

    pub(crate) fn needs_cmdline(&self) -> bool {
        self.full_command
    }

    /// A name that can never equal a kernel process name.
    pub(crate) fn comm_too_long(&self) -> bool {
        !self.full_command && self.name.len() > COMM_MAX
    }

    /// How many bytes of the command line decide a match: the name, its NUL, the
    /// parameters, and one byte more to tell "exactly these" from "these and more".
    pub(crate) fn cmdline_bytes(&self) -> usize {
        self.name.len() + 1 + self.params.as_ref().map_or(0, Vec::len) + 1
    }

    /// Does a process with this `comm` and (possibly truncated) `cmdline` match?
    pub(crate) fn matches(&self, comm: &str, cmdline: &[u8]) -> bool {
        if !self.full_command {
            return comm == self.name;
        }
        let (argv0, rest) = match cmdline.iter().position(|&b| b == 0) {
            Some(nul) => (&cmdline[..nul], &cmdline[nul + 1..]),
            None => (cmdline, &cmdline[cmdline.len()..]),
        };
        if argv0 != self.name.as_bytes() {
            return false;
        }
        match &self.params {
            None => true,
            Some(params) => self.params_match(params, rest),
        }
    }

    fn params_match(&self, params: &[u8], rest: &[u8]) -> bool {
        if params.is_empty() {
            // `param_match` with no parameters: exact means "no parameters at all".
            return self.mode != ParamMatch::Exact || rest.is_empty();
        }
        if rest.len() < params.len() {
            return false;
        }
        match self.mode {
            ParamMatch::Exact => rest == params,
            ParamMatch::Partial => rest.starts_with(params),
            // The last configured word without its NUL: the process's word may go on.
            ParamMatch::Initial => rest.starts_with(&params[..params.len() - 1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_conf::Span;
    use std::time::Duration;

    fn tp(process: &str, params: Option<&[&str]>, mode: ParamMatch, full: bool) -> TrackProcess {
        TrackProcess {
            name: "t".into(),
            span: Span::default(),
            process: process.into(),
            params: params.map(|p| p.iter().map(|s| s.to_string()).collect()),
            param_match: mode,
            full_command: full,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }

    fn cmdline(words: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in words {
            v.extend_from_slice(w.as_bytes());
            v.push(0);
        }
        v
    }

    #[test]
    fn comm_is_matched_exactly_not_as_a_pattern() {
        let p = ProcessPattern::new(&tp("ssh", None, ParamMatch::Exact, false));
        assert!(p.matches("ssh", b""));
        assert!(!p.matches("sshd", b""));
        assert!(!p.needs_cmdline());
    }

    #[test]
    fn full_command_compares_argv0() {
        let p = ProcessPattern::new(&tp("/usr/sbin/nginx", None, ParamMatch::Exact, true));
        assert!(p.matches("nginx", &cmdline(&["/usr/sbin/nginx", "-g", "daemon off;"])));
        assert!(!p.matches("nginx", &cmdline(&["nginx", "-g", "daemon off;"])));
        assert!(!p.matches("nginx", b""));
    }

    #[test]
    fn exact_parameters() {
        let p = ProcessPattern::new(&tp("sleep", Some(&["100"]), ParamMatch::Exact, false));
        assert!(p.needs_cmdline());
        assert!(p.matches("x", &cmdline(&["sleep", "100"])));
        assert!(!p.matches("x", &cmdline(&["sleep", "1000"])));
        assert!(!p.matches("x", &cmdline(&["sleep", "100", "5"])));
        assert!(!p.matches("x", &cmdline(&["sleep"])));
    }

    #[test]
    fn partial_parameters_are_leading_whole_words() {
        let p = ProcessPattern::new(&tp("sleep", Some(&["100"]), ParamMatch::Partial, false));
        assert!(p.matches("x", &cmdline(&["sleep", "100", "5"])));
        assert!(!p.matches("x", &cmdline(&["sleep", "1000"])));
        assert!(!p.matches("x", &cmdline(&["sleep", "5", "100"])));
    }

    #[test]
    fn initial_parameters_let_the_last_word_run_on() {
        let p = ProcessPattern::new(&tp("sleep", Some(&["10"]), ParamMatch::Initial, false));
        assert!(p.matches("x", &cmdline(&["sleep", "100"])));
        assert!(p.matches("x", &cmdline(&["sleep", "10", "x"])));
        assert!(!p.matches("x", &cmdline(&["sleep", "2"])));
    }

    #[test]
    fn param_match_without_parameters_means_none_allowed() {
        let p = ProcessPattern::new(&tp("sleep", Some(&[]), ParamMatch::Exact, false));
        assert!(p.matches("x", &cmdline(&["sleep"])));
        assert!(!p.matches("x", &cmdline(&["sleep", "1"])));
    }

    #[test]
    fn truncated_command_line_still_decides() {
        let p = ProcessPattern::new(&tp("sleep", Some(&["100"]), ParamMatch::Exact, false));
        let full = cmdline(&["sleep", "100", "and", "more"]);
        assert!(!p.matches("x", &full[..p.cmdline_bytes().min(full.len())]));
    }

    #[test]
    fn long_names_cannot_match_comm() {
        let p = ProcessPattern::new(&tp(
            "a-very-long-process-name",
            None,
            ParamMatch::Exact,
            false,
        ));
        assert!(p.comm_too_long());
    }
}
