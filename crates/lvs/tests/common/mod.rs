//! Loading configurations and driving the core in tests.
#![allow(dead_code, clippy::unwrap_used)]

use baton_conf::{CheckerId, Config, FakeHost, FakeScript, LoadOptions, load_str};
use baton_lvs::{Action, Change, Input, Instant, NotifyKind, Services, Table, Verdict};

pub fn host() -> FakeHost {
    let mut h = FakeHost::new().hostname("lb1").interface("eth0");
    for s in [
        "/bin/up",
        "/bin/down",
        "/bin/qup",
        "/bin/qdown",
        "/bin/check",
    ] {
        h = h.script(s, FakeScript::Executable);
    }
    h
}

pub fn config(text: &str) -> Config {
    let loaded = load_str("k.conf", text, &LoadOptions::default(), &host());
    let errors: Vec<String> = loaded.errors().map(|d| d.log_line()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    loaded.config.unwrap()
}

/// A configuration that loads, whatever keepalived corrects on the way.
pub fn config_corrected(text: &str) -> Config {
    load_str("k.conf", text, &LoadOptions::default(), &host())
        .config
        .unwrap()
}

/// A driven core and everything it said.
pub struct Run {
    /// Refuse configurations with errors (the rule tests); properties take keepalived's
    /// corrections.
    pub strict: bool,
    pub config: Config,
    pub services: Services,
    pub actions: Vec<Action>,
    /// Every Apply so far, applied in order to an empty table.
    pub replayed: Table,
}

impl Run {
    pub fn new(text: &str) -> Run {
        Run::with(config(text), true)
    }

    pub fn corrected(text: &str) -> Run {
        let mut r = Run::with(config_corrected(text), false);
        r.input(Input::Start);
        r
    }

    fn with(config: Config, strict: bool) -> Run {
        let services = Services::new(&config);
        Run {
            strict,
            config,
            services,
            actions: Vec::new(),
            replayed: Table::default(),
        }
    }

    pub fn started(text: &str) -> Run {
        let mut r = Run::new(text);
        r.input(Input::Start);
        r
    }

    /// Feed one input; returns what it produced (also kept in `actions`).
    pub fn input(&mut self, input: Input<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        self.services.handle(Instant::ZERO, input, &mut out);
        for a in &out {
            if let Action::Apply(c) = a {
                self.replayed.apply(c);
            }
        }
        assert_eq!(&self.replayed, self.services.table());
        assert_eq!(self.services.table(), &self.services.desired());
        self.actions.extend(out.iter().cloned());
        out
    }

    pub fn checker(&self, vs: usize, rs: usize, c: usize) -> CheckerId {
        self.config.lvs.virtual_servers[vs].real_servers[rs].checkers[c].id
    }

    pub fn verdict(&mut self, vs: usize, rs: usize, c: usize, verdict: Verdict) -> Vec<Action> {
        let checker = self.checker(vs, rs, c);
        self.input(Input::Verdict {
            checker,
            verdict,
            reason: None,
        })
    }

    pub fn reload(&mut self, text: &str) -> Vec<Action> {
        let config = if self.strict {
            config(text)
        } else {
            config_corrected(text)
        };
        let out = {
            let mut out = Vec::new();
            self.services
                .handle(Instant::ZERO, Input::Reload(&config), &mut out);
            for a in &out {
                if let Action::Apply(c) = a {
                    self.replayed.apply(c);
                }
            }
            out
        };
        assert_eq!(&self.replayed, self.services.table());
        self.config = config;
        out
    }

    /// The weights of the first service's destinations, by address.
    pub fn weights(&self) -> Vec<(String, u32)> {
        self.services
            .table()
            .services
            .values()
            .next()
            .map(|s| {
                s.destinations
                    .iter()
                    .map(|d| (d.address.to_string(), d.weight))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(l) => Some(l.text.clone()),
            _ => None,
        })
        .collect()
}

pub fn fifo(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::WriteFifo(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

/// The notify commands run, as (kind, program).
pub fn notifies(actions: &[Action]) -> Vec<(NotifyKind, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::RunNotify { kind, command, .. } => Some((*kind, command.argv[0].clone())),
            _ => None,
        })
        .collect()
}

pub fn changes(actions: &[Action]) -> Vec<Change> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Apply(c) => Some(c.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}
