//! Parameters: `$NAME=VALUE` definitions and `$NAME` / `${NAME}` substitution, with
//! keepalived's predefined `${_PWD}`, `${_INSTANCE}`, `${_ENV X}`, `${_RANDOM [MIN [MAX]]}`,
//! `${_HASH}` and `${_BANG}`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use super::text::Text;
use crate::source::Sources;

/// A parameter's value: one line, or the lines of a multi-line (`\`-continued) definition.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Line(String),
    Lines(Vec<Text>),
}

/// What substitution needs to know besides the parameters.
pub(crate) struct Env<'a> {
    /// Directory of the file being read.
    pub pwd: &'a str,
    /// The config id (`-i`, default the short host name).
    pub instance: &'a str,
    pub sources: &'a dyn Sources,
}

/// Substitution went round in circles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// Substitutions allowed on one line (nested values included).
const MAX_SUBSTITUTIONS: usize = 1_000;
/// Longest line substitution may build.
const MAX_LINE: usize = 1 << 16;

#[derive(Debug, Default)]
pub(crate) struct Params {
    map: HashMap<String, Value>,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `$NAME=…` at the start of `s`: the name and the byte offset of the value.
pub(crate) fn definition(s: &str) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'$') || !b.get(1).copied().is_some_and(is_name_start) {
        return None;
    }
    let end = 1 + b[1..].iter().take_while(|c| is_name_char(**c)).count();
    (b.get(end) == Some(&b'=')).then(|| (&s[1..end], end + 1))
}

/// A reference `$NAME` or `${NAME}` starting at `at` (a `$`): the byte range and the inside.
fn reference(s: &str, at: usize) -> Option<(usize, &str, bool)> {
    let b = s.as_bytes();
    match b.get(at + 1) {
        Some(b'{') => {
            let close = at + 2 + s[at + 2..].find('}')?;
            Some((close + 1, &s[at + 2..close], true))
        }
        Some(&c) if is_name_start(c) => {
            let end = at + 1 + b[at + 1..].iter().take_while(|c| is_name_char(**c)).count();
            // Unbraced names must be followed by whitespace or the end of the line.
            if end < b.len() && !b[end].is_ascii_whitespace() {
                return None;
            }
            Some((end, &s[at + 1..end], false))
        }
        _ => None,
    }
}

impl Params {
    pub fn define(&mut self, name: &str, value: Value) {
        self.map.insert(name.to_string(), value);
    }

    /// The lines of a multi-line parameter if `s` is exactly a reference to one.
    pub fn multiline(&self, s: &str) -> Option<&[Text]> {
        let s = s.trim();
        let (end, name, _) = reference(s, 0)?;
        if end != s.len() {
            return None;
        }
        match self.map.get(name.trim()) {
            Some(Value::Lines(lines)) => Some(lines),
            _ => None,
        }
    }

    fn lookup(&self, inside: &str, braced: bool, env: &Env<'_>) -> Option<String> {
        let inside = inside.trim();
        if braced {
            let mut parts = inside.split_ascii_whitespace();
            match parts.next()? {
                "_PWD" => return Some(env.pwd.to_string()),
                "_INSTANCE" => return Some(env.instance.to_string()),
                "_HASH" => return Some("#".to_string()),
                "_BANG" => return Some("!".to_string()),
                "_ENV" => return Some(env.sources.env(parts.next()?).unwrap_or_default()),
                "_RANDOM" => {
                    let min: u64 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
                    let max: u64 = parts.next().map_or(Some(32767), |p| p.parse().ok())?;
                    return Some(random_in(min, max).to_string());
                }
                _ => {}
            }
        }
        match self.map.get(inside)? {
            Value::Line(v) => Some(v.clone()),
            Value::Lines(lines) => Some(
                lines
                    .iter()
                    .map(|t| t.s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }

    /// Replace every defined reference in `text`, recursively (a value may refer to other
    /// parameters). Undefined references stay as written, as keepalived leaves them.
    /// Returns whether anything changed.
    pub fn substitute(&self, text: &mut Text, env: &Env<'_>) -> Result<bool, TooDeep> {
        if !text.s.contains('$') {
            return Ok(false);
        }
        let mut budget = MAX_SUBSTITUTIONS;
        let mut changed = false;
        let mut i = 0;
        while let Some(off) = text.s.get(i..).and_then(|s| s.find('$')) {
            let at = i + off;
            let Some((end, inside, braced)) = reference(&text.s, at) else {
                i = at + 1;
                continue;
            };
            let Some(value) = self.lookup(inside, braced, env) else {
                i = end;
                continue;
            };
            let mut stack = vec![inside.trim().to_string()];
            let mut expanded = String::new();
            self.expand_into(&value, env, &mut stack, &mut expanded, &mut budget)?;
            if text.s.len() + expanded.len() > MAX_LINE {
                return Err(TooDeep);
            }
            text.replace(at..end, &expanded);
            changed = true;
            i = at + expanded.len();
        }
        Ok(changed)
    }

    /// Append `value` to `out` with its references expanded. `stack` holds the parameters
    /// being expanded: meeting one of them again is a cycle.
    fn expand_into(
        &self,
        value: &str,
        env: &Env<'_>,
        stack: &mut Vec<String>,
        out: &mut String,
        budget: &mut usize,
    ) -> Result<(), TooDeep> {
        let mut i = 0;
        while let Some(off) = value.get(i..).and_then(|s| s.find('$')) {
            let at = i + off;
            out.push_str(&value[i..at]);
            let Some((end, inside, braced)) = reference(value, at) else {
                out.push('$');
                i = at + 1;
                continue;
            };
            let name = inside.trim();
            match self.lookup(inside, braced, env) {
                None => out.push_str(&value[at..end]),
                Some(v) => {
                    if stack.iter().any(|s| s == name) || *budget == 0 {
                        return Err(TooDeep);
                    }
                    *budget -= 1;
                    stack.push(name.to_string());
                    self.expand_into(&v, env, stack, out, budget)?;
                    stack.pop();
                }
            }
            if out.len() > MAX_LINE {
                return Err(TooDeep);
            }
            i = end;
        }
        out.push_str(&value[i..]);
        Ok(())
    }

    /// Substitution on plain text (the arguments of `~SEQ`/`~LST`).
    pub fn substitute_str(&self, s: &str, env: &Env<'_>) -> Result<String, TooDeep> {
        let mut t = Text::generated(s, 0, 0);
        self.substitute(&mut t, env)?;
        Ok(t.s)
    }
}

/// A random integer in `[min, max]` for `${_RANDOM}`.
fn random_in(min: u64, max: u64) -> u64 {
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    match (hi - lo).checked_add(1) {
        Some(span) => lo + r % span,
        None => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSources;

    fn env(src: &MemSources) -> Env<'_> {
        Env {
            pwd: "/etc/keepalived",
            instance: "lb1",
            sources: src,
        }
    }

    fn sub(p: &Params, s: &str) -> String {
        let src = MemSources::new().with_env("ROLE", "edge");
        let mut t = Text::source(s, 1);
        p.substitute(&mut t, &env(&src)).unwrap();
        t.s
    }

    #[test]
    fn definitions_are_recognised_only_at_the_start() {
        assert_eq!(definition("$A=1"), Some(("A", 3)));
        assert_eq!(definition("$_x9= v"), Some(("_x9", 5)));
        assert_eq!(definition("$A =1"), None);
        assert_eq!(definition("$9=1"), None);
        assert_eq!(definition("x $A=1"), None);
    }

    #[test]
    fn substitution_is_recursive_and_done_at_use_time() {
        // The example of keepalived.conf(5), "Parameter substitution".
        let mut p = Params::default();
        p.define(
            "ADDRESS_BASE",
            Value::Line("10.2.${ADDRESS_BASE_SUB}".into()),
        );
        p.define("ADDRESS_BASE_SUB", Value::Line("0".into()));
        assert_eq!(sub(&p, "${ADDRESS_BASE}.100/32"), "10.2.0.100/32");
        p.define("ADDRESS_BASE_SUB", Value::Line("10".into()));
        assert_eq!(sub(&p, "${ADDRESS_BASE}.100/32"), "10.2.10.100/32");
    }

    #[test]
    fn unbraced_names_need_whitespace_after_them() {
        let mut p = Params::default();
        p.define("P", Value::Line("240".into()));
        assert_eq!(sub(&p, "priority $P"), "priority 240");
        assert_eq!(sub(&p, "priority $P x"), "priority 240 x");
        assert_eq!(sub(&p, "priority $P.x"), "priority $P.x");
        assert_eq!(sub(&p, "${UNDEF} $UNDEF"), "${UNDEF} $UNDEF");
    }

    #[test]
    fn predefined_values() {
        let p = Params::default();
        assert_eq!(
            sub(
                &p,
                "${_PWD}/s.sh ${_INSTANCE} ${_HASH}${_BANG} ${_ENV ROLE}"
            ),
            "/etc/keepalived/s.sh lb1 #! edge"
        );
        let r: u64 = sub(&p, "${_RANDOM 5 7}").parse().unwrap();
        assert!((5..=7).contains(&r));
    }

    #[test]
    fn circular_parameters_are_caught() {
        let mut p = Params::default();
        p.define("A", Value::Line("x${A}".into()));
        p.define("B", Value::Line("${C}".into()));
        p.define("C", Value::Line("y $B".into()));
        let src = MemSources::new();
        for line in ["${A}", "$B", "ok ${C}"] {
            let mut t = Text::source(line, 1);
            assert_eq!(p.substitute(&mut t, &env(&src)), Err(TooDeep), "{line}");
        }
    }

    #[test]
    fn exponential_growth_is_cut_off() {
        let mut p = Params::default();
        let names = [
            "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q",
        ];
        for w in names.windows(2) {
            p.define(w[0], Value::Line(format!("${{{0}}}${{{0}}}", w[1])));
        }
        p.define("Q", Value::Line("0123456789".into()));
        let src = MemSources::new();
        let mut t = Text::source("${A}", 1);
        assert_eq!(p.substitute(&mut t, &env(&src)), Err(TooDeep));
        // The same parameter twice side by side is no cycle.
        let mut t = Text::source("${P} ${P}", 1);
        assert_eq!(p.substitute(&mut t, &env(&src)), Ok(true));
        assert_eq!(t.s, "01234567890123456789 01234567890123456789");
    }
}
