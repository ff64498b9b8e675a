//! What every keyword handler needs: reporting, and reading argument values the way
//! keepalived reads them (`<BOOL>`, `<TIMER>`, ranged integers, addresses).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use crate::diag::{Code, Diagnostic, Diagnostics, Severity};
use crate::model::{Command, RunAs, Span};
use crate::syntax::{Stmt, Token};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At<T> {
    pub v: T,
    pub span: Span,
}

impl<T> At<T> {
    pub fn new(v: T, tok: &Token) -> At<T> {
        At {
            v,
            span: tok.span.clone(),
        }
    }
}

pub(crate) struct Cx<'a> {
    pub diags: &'a mut Diagnostics,
    /// Names already reported as not implemented: each is said once.
    not_implemented: HashSet<String>,
}

impl<'a> Cx<'a> {
    pub fn new(diags: &'a mut Diagnostics) -> Cx<'a> {
        Cx {
            diags,
            not_implemented: HashSet::new(),
        }
    }

    pub fn report(&mut self, code: Code, tok: &Token, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(code, tok.span.clone(), message).with_len(tok.len));
    }

    pub fn report_sev(
        &mut self,
        code: Code,
        sev: Severity,
        tok: &Token,
        message: impl Into<String>,
    ) {
        self.diags.push(
            Diagnostic::new(code, tok.span.clone(), message)
                .with_len(tok.len)
                .with_severity(sev),
        );
    }

    pub fn unknown(&mut self, stmt: &Stmt, within: &str) {
        let kw = stmt.keyword();
        self.report(
            Code::UnknownKeyword,
            kw,
            format!("unknown keyword '{}' in {within}; skipped", kw.text),
        );
    }

    /// A keepalived keyword baton skips: said once per name.
    pub fn not_implemented(&mut self, stmt: &Stmt) {
        let kw = stmt.keyword();
        if self.not_implemented.insert(kw.text.clone()) {
            self.report(
                Code::NotImplemented,
                kw,
                format!("'{}' is not implemented by baton; ignored", kw.text),
            );
        }
    }

    /// Argument `i` (0 = first after the keyword), reporting it missing.
    pub fn arg<'s>(&mut self, stmt: &'s Stmt, i: usize) -> Option<&'s Token> {
        let got = stmt.args().get(i);
        if got.is_none() {
            let kw = stmt.keyword();
            self.report(
                Code::MissingArgument,
                kw,
                format!("'{}' needs a value", kw.text),
            );
        }
        got
    }

    /// Report arguments beyond the first `n`.
    pub fn at_most(&mut self, stmt: &Stmt, n: usize) {
        if let Some(extra) = stmt.args().get(n) {
            let kw = &stmt.keyword().text;
            self.report(
                Code::ExtraArgument,
                extra,
                format!("unexpected '{}' after '{kw}'; ignored", extra.text),
            );
        }
    }

    /// Report a block after a keyword that takes none.
    pub fn no_block(&mut self, stmt: &Stmt) {
        if let Some(b) = &stmt.block {
            let kw = &stmt.keyword().text;
            self.diags.push(Diagnostic::new(
                Code::UnexpectedBlock,
                b.open.clone(),
                format!("'{kw}' takes no block; block ignored"),
            ));
        }
    }

    /// The block a keyword needs.
    pub fn block<'s>(&mut self, stmt: &'s Stmt) -> Option<&'s [Stmt]> {
        match &stmt.block {
            Some(b) => Some(&b.stmts),
            None => {
                let kw = stmt.keyword();
                self.report(
                    Code::MissingBlock,
                    kw,
                    format!("'{}' needs a {{ … }} block", kw.text),
                );
                None
            }
        }
    }

    /// A keyword with no arguments and no block (a flag).
    pub fn flag(&mut self, stmt: &Stmt) {
        self.at_most(stmt, 0);
        self.no_block(stmt);
    }

    /// An integer in `lo..=hi` (decimal; `0x` hex accepted as keepalived's strtol does).
    pub fn int(&mut self, tok: &Token, lo: i64, hi: i64, what: &str) -> Option<i64> {
        let t = tok.text.as_str();
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => t.parse::<i64>().ok(),
        };
        match parsed {
            None => {
                self.report(
                    Code::InvalidValue,
                    tok,
                    format!("{what} '{t}' is not a number"),
                );
                None
            }
            Some(v) if v < lo || v > hi => {
                self.report(
                    Code::OutOfRange,
                    tok,
                    format!("{what} {v} is outside {lo}..{hi}"),
                );
                None
            }
            Some(v) => Some(v),
        }
    }

    pub fn int_arg(&mut self, stmt: &Stmt, lo: i64, hi: i64) -> Option<i64> {
        self.no_block(stmt);
        self.at_most(stmt, 1);
        let tok = self.arg(stmt, 0)?;
        let what = stmt.keyword().text.clone();
        self.int(tok, lo, hi, &what)
    }

    /// `<TIMER>`: seconds, fractions allowed, microsecond resolution.
    pub fn timer(&mut self, tok: &Token, what: &str) -> Option<Duration> {
        match parse_timer(&tok.text) {
            Some(d) => Some(d),
            None => {
                self.report(
                    Code::InvalidValue,
                    tok,
                    format!("{what} '{}' is not a time in seconds", tok.text),
                );
                None
            }
        }
    }

    /// A timer argument within `lo..=hi` seconds.
    pub fn timer_arg(&mut self, stmt: &Stmt, lo: Duration, hi: Duration) -> Option<Duration> {
        self.no_block(stmt);
        self.at_most(stmt, 1);
        let tok = self.arg(stmt, 0)?;
        let what = stmt.keyword().text.clone();
        let d = self.timer(tok, &what)?;
        if d < lo || d > hi {
            self.report(
                Code::OutOfRange,
                tok,
                format!(
                    "{what} {} is outside {}..{} seconds",
                    tok.text,
                    lo.as_secs_f64(),
                    hi.as_secs_f64()
                ),
            );
            return None;
        }
        Some(d)
    }

    /// `keyword [<BOOL>]`: alone it means true.
    pub fn bool_arg(&mut self, stmt: &Stmt) -> Option<bool> {
        self.no_block(stmt);
        self.at_most(stmt, 1);
        let Some(tok) = stmt.args().first() else {
            return Some(true);
        };
        match parse_bool(&tok.text) {
            Some(b) => Some(b),
            None => {
                self.report(
                    Code::InvalidValue,
                    tok,
                    format!("'{}' is not one of on|off|true|false|yes|no", tok.text),
                );
                None
            }
        }
    }

    pub fn ip(&mut self, tok: &Token, what: &str) -> Option<IpAddr> {
        match tok.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.report(
                    Code::InvalidValue,
                    tok,
                    format!("{what} '{}' is not an IP address", tok.text),
                );
                None
            }
        }
    }

    pub fn ip_arg(&mut self, stmt: &Stmt) -> Option<At<IpAddr>> {
        self.no_block(stmt);
        self.at_most(stmt, 1);
        let tok = self.arg(stmt, 0)?;
        let what = stmt.keyword().text.clone();
        self.ip(tok, &what).map(|a| At::new(a, tok))
    }

    pub fn string_arg(&mut self, stmt: &Stmt) -> Option<At<String>> {
        self.no_block(stmt);
        self.at_most(stmt, 1);
        let tok = self.arg(stmt, 0)?;
        Some(At::new(tok.text.clone(), tok))
    }

    /// `CMD [user [group]]`: a command and who runs it (notify scripts, FIFO scripts).
    pub fn command(&mut self, stmt: &Stmt) -> Option<Command> {
        self.no_block(stmt);
        self.at_most(stmt, 3);
        let tok = self.arg(stmt, 0)?;
        let run_as = stmt.args().get(1).map(|u| RunAs {
            user: u.text.clone(),
            group: stmt
                .args()
                .get(2)
                .map(|g| g.text.trim_start_matches(':').to_string())
                .filter(|g| !g.is_empty()),
        });
        Some(command_of(tok, run_as))
    }

    /// `user USER [[:]GROUP]`.
    pub fn run_as(&mut self, stmt: &Stmt) -> Option<RunAs> {
        self.no_block(stmt);
        self.at_most(stmt, 2);
        let user = self.arg(stmt, 0)?;
        Some(RunAs {
            user: user.text.clone(),
            group: stmt
                .args()
                .get(1)
                .map(|g| g.text.trim_start_matches(':').to_string())
                .filter(|g| !g.is_empty()),
        })
    }
}

/// A command from its configuration word, split the way keepalived splits script lines.
pub(crate) fn command_of(tok: &Token, run_as: Option<RunAs>) -> Command {
    Command {
        text: tok.text.clone(),
        argv: split_command(&tok.text),
        run_as,
        span: tok.span.clone(),
    }
}

/// Split a script line: unquoted whitespace separates arguments, single quotes group (and
/// are removed). No shell is involved.
pub(crate) fn split_command(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Seconds with an optional fraction, to the microsecond (digits beyond are dropped).
pub(crate) fn parse_timer(s: &str) -> Option<Duration> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros: u32 = 0;
    for (i, b) in frac.bytes().take(6).enumerate() {
        micros += u32::from(b - b'0') * 10u32.pow(5 - i as u32);
    }
    Duration::from_secs(secs).checked_add(Duration::from_micros(u64::from(micros)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_have_microsecond_resolution() {
        assert_eq!(parse_timer("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_timer("0.92"), Some(Duration::from_millis(920)));
        assert_eq!(
            parse_timer("2.71828"),
            Some(Duration::from_micros(2_718_280))
        );
        assert_eq!(parse_timer(".5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_timer("1.0000019"),
            Some(Duration::from_micros(1_000_001))
        );
        assert_eq!(parse_timer("-1"), None);
        assert_eq!(parse_timer("1s"), None);
        assert_eq!(parse_timer("."), None);
        assert_eq!(parse_timer("99999999999999999999"), None);
        // The largest whole number of seconds still fits.
        assert!(parse_timer("18446744073709551615.9").is_some());
    }

    #[test]
    fn script_lines_split_like_keepalived() {
        assert_eq!(split_command("killall -0 sshd"), ["killall", "-0", "sshd"]);
        assert_eq!(
            split_command("/x.sh ' spaces\\x20file ' '\"s p\"' SG1.low master"),
            ["/x.sh", " spaces\\x20file ", "\"s p\"", "SG1.low", "master"]
        );
        assert_eq!(split_command("a '' b"), ["a", "", "b"]);
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("On"), None);
    }
}
