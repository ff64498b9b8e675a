//! Repetition blocks: `~SEQ(var, start, step, end)`, `~SEQx(…)` and
//! `~LST(var, v1, v2, …)` / `~LST({a, b}, {1, 2}, …)` repeat the rest of the line once per
//! value with the variables set.

/// One repetition of the rest of the line: the variables and their values.
pub(crate) type Binding = Vec<(String, String)>;

/// The kind of head at the start of `s`, and the offset of its arguments.
pub(crate) fn head(s: &str) -> Option<(&'static str, usize)> {
    for (name, kw) in [("SEQx", "~SEQx("), ("SEQ", "~SEQ("), ("LST", "~LST(")] {
        if s.starts_with(kw) {
            return Some((name, kw.len()));
        }
    }
    None
}

/// Where the argument list that starts at `from` closes (the `)` outside braces).
pub(crate) fn close_paren(s: &str, from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.get(from..)?.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ')' if depth == 0 => return Some(from + i),
            _ => {}
        }
    }
    None
}

/// Split on commas outside braces.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn number(s: &str) -> Result<i64, String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => digits.parse::<i64>(),
    }
    .map_err(|_| format!("'{s}' is not a number"))?;
    Ok(if neg { -v } else { v })
}

/// The values of a `~SEQ`, produced one at a time (a sequence may be long; the caller stops
/// when the configuration grows too big).
#[derive(Debug, Clone)]
pub(crate) struct Seq {
    var: String,
    next: Option<i64>,
    step: i64,
    end: i64,
    hex: bool,
}

impl Iterator for Seq {
    type Item = Binding;

    fn next(&mut self) -> Option<Binding> {
        let v = self.next?;
        if (self.step > 0 && v > self.end) || (self.step < 0 && v < self.end) {
            self.next = None;
            return None;
        }
        self.next = v.checked_add(self.step);
        let value = if self.hex {
            if v < 0 {
                format!("-{:x}", v.unsigned_abs())
            } else {
                format!("{v:x}")
            }
        } else {
            v.to_string()
        };
        Some(vec![(self.var.clone(), value)])
    }
}

/// Parse the arguments of a `~SEQ`/`~SEQx` (the text between the parentheses).
pub(crate) fn seq(args: &str, hex: bool) -> Result<Seq, String> {
    let parts = split_top(args);
    let var = parts[0];
    if !valid_name(var) {
        return Err(format!("'{var}' is not a variable name"));
    }
    let nums = parts[1..]
        .iter()
        .map(|p| number(p))
        .collect::<Result<Vec<i64>, String>>()?;
    let (start, step, end) = match nums.as_slice() {
        [end] => {
            let start = if *end >= 0 { 1 } else { -1 };
            (start, if *end >= start { 1 } else { -1 }, *end)
        }
        [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
        [start, step, end] => (*start, *step, *end),
        _ => return Err("expected (var, [start, [step,]] end)".to_string()),
    };
    if step == 0 {
        return Err("the step must not be 0".to_string());
    }
    Ok(Seq {
        var: var.to_string(),
        next: Some(start),
        step,
        end,
        hex,
    })
}

/// Parse the arguments of a `~LST`.
pub(crate) fn lst(args: &str) -> Result<Vec<Binding>, String> {
    let parts = split_top(args);
    let unbrace = |s: &str| -> Option<Vec<String>> {
        let inner = s.strip_prefix('{')?.strip_suffix('}')?;
        Some(inner.split(',').map(|v| v.trim().to_string()).collect())
    };
    let vars: Vec<String> = match unbrace(parts[0]) {
        Some(v) => v,
        None => vec![parts[0].to_string()],
    };
    if let Some(bad) = vars.iter().find(|v| !valid_name(v)) {
        return Err(format!("'{bad}' is not a variable name"));
    }
    if parts.len() < 2 {
        return Err("no values".to_string());
    }
    let mut out = Vec::new();
    for p in &parts[1..] {
        let values = if vars.len() == 1 && !p.starts_with('{') {
            vec![p.to_string()]
        } else {
            unbrace(p).ok_or_else(|| format!("expected {{…}} around '{p}'"))?
        };
        if values.len() != vars.len() {
            return Err(format!(
                "{} values in '{p}' for {} variables",
                values.len(),
                vars.len()
            ));
        }
        out.push(vars.iter().cloned().zip(values).collect());
    }
    Ok(out)
}

/// csh-style brace expansion for `include`: `{foo/{,cat,dog},bar}` gives `foo/`, `foo/cat`,
/// `foo/dog`, `bar`. At most `limit` results.
pub(crate) fn expand_braces(pattern: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(pattern, limit, &mut out);
    out
}

fn expand_into(pattern: &str, limit: usize, out: &mut Vec<String>) {
    if out.len() >= limit {
        return;
    }
    // The first `{` that has a matching `}` and a comma at its own level.
    let b = pattern.as_bytes();
    let mut open_at = None;
    for (i, &c) in b.iter().enumerate() {
        if c != b'{' {
            continue;
        }
        let mut depth = 0usize;
        let mut commas = Vec::new();
        for (j, &d) in b.iter().enumerate().skip(i) {
            match d {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if !commas.is_empty() {
                            open_at = Some((i, j, commas.clone()));
                        }
                        break;
                    }
                }
                b',' if depth == 1 => commas.push(j),
                _ => {}
            }
        }
        if open_at.is_some() {
            break;
        }
    }
    let Some((open, close, commas)) = open_at else {
        out.push(pattern.to_string());
        return;
    };
    let prefix = &pattern[..open];
    let suffix = &pattern[close + 1..];
    let mut start = open + 1;
    for end in commas.into_iter().chain([close]) {
        let alt = &pattern[start..end];
        expand_into(&format!("{prefix}{alt}{suffix}"), limit, out);
        start = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(b: impl IntoIterator<Item = Binding>) -> Vec<String> {
        let b: Vec<Binding> = b.into_iter().collect();
        b.iter()
            .map(|vs: &Binding| {
                vs.iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    #[test]
    fn seq_follows_the_manual() {
        assert_eq!(
            values(seq("SUBNET, 0, 3", false).unwrap()),
            ["0", "1", "2", "3"]
        );
        assert_eq!(
            values(seq("SUBNET, 144, 16, 192", true).unwrap()),
            ["90", "a0", "b0", "c0"]
        );
        assert_eq!(
            values(seq("SUBNET, 0x90, 0x10, 0xc0", true).unwrap()),
            ["90", "a0", "b0", "c0"]
        );
        assert_eq!(values(seq("AD1, 0x12, -1, 0x0c", true).unwrap()).len(), 7);
        assert_eq!(values(seq("N, 3", false).unwrap()), ["1", "2", "3"]);
        assert_eq!(values(seq("N, -2", false).unwrap()), ["-1", "-2"]);
    }

    #[test]
    fn seq_refuses_nonsense() {
        assert!(seq("N, 1, 0, 5", false).is_err());
        assert!(seq("9N, 1, 5", false).is_err());
        assert!(seq("N, x", false).is_err());
        assert!(seq("N", false).is_err());
    }

    #[test]
    fn lst_single_and_grouped() {
        assert_eq!(values(lst("IP, 1, 2, 3, 4").unwrap()), ["1", "2", "3", "4"]);
        let b = lst("{IP, IP1}, {10,1},{20,4},{5,6},{12,8}").unwrap();
        assert_eq!(values(b.clone()), ["10.1", "20.4", "5.6", "12.8"]);
        assert_eq!(b[0][1], ("IP1".to_string(), "1".to_string()));
        assert!(lst("{A,B}, {1}").is_err());
        assert!(lst("A").is_err());
    }

    #[test]
    fn heads_and_parentheses() {
        assert_eq!(head("~SEQx(A,1) x"), Some(("SEQx", 6)));
        assert_eq!(head("~LST(A,1) x"), Some(("LST", 5)));
        assert_eq!(head("~FOO(A)"), None);
        assert_eq!(close_paren("~LST({a,b},{1,2}) x", 5), Some(16));
    }

    #[test]
    fn braces_expand_like_csh() {
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}", 100),
            ["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(
            expand_braces("/etc/{a,b}.conf", 100),
            ["/etc/a.conf", "/etc/b.conf"]
        );
        assert_eq!(expand_braces("/etc/{a}.conf", 100), ["/etc/{a}.conf"]);
        assert_eq!(expand_braces("{a,b}{c,d}{e,f}", 3).len(), 3);
    }
}
