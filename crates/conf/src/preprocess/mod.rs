//! The preprocessor: from files to lines of words, each word knowing its file, line and
//! column. It does what keepalived's reader does before any keyword is looked at:
//! comments, `\` continuation, `include`, `@id` conditional lines, `$NAME=` parameters and
//! their substitution, `~SEQ`/`~LST` repetition, quotes.

mod params;
mod repeat;
pub(crate) mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use params::{Env, Params, Value};
use text::{Text, Word, comment_start, words};

use crate::Limits;
use crate::diag::{Code, Diagnostic, Diagnostics, Severity};
use crate::model::Span;
use crate::source::{ReadError, Sources, normalise};

/// One logical configuration line.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub file: Arc<str>,
    pub words: Vec<Word>,
}

/// The result of preprocessing.
#[derive(Debug, Default)]
pub(crate) struct Preprocessed {
    pub lines: Vec<Line>,
    /// Every file read, by the name spans use, with its text (for carets).
    pub files: Vec<(Arc<str>, Arc<str>)>,
    /// The main file could be read.
    pub readable: bool,
}

/// Settings of one preprocessing run.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub config_id: String,
    pub all_config: bool,
    pub limits: Limits,
}

/// How deep includes and expansions may nest.
const MAX_DEPTH: u32 = 32;
/// Alternatives one `include` brace pattern may expand to.
const MAX_BRACE_ALTERNATIVES: usize = 1024;

struct Pre<'a> {
    sources: &'a dyn Sources,
    settings: &'a Settings,
    params: Params,
    diags: &'a mut Diagnostics,
    out: Preprocessed,
    /// Files being read, outermost first, to catch include cycles.
    stack: Vec<PathBuf>,
    /// Directory of the file being read (`${_PWD}`).
    pwd: String,
    file: Arc<str>,
    expansion_reported: bool,
    /// Lines processed, produced or not: repetitions of lines that produce nothing (a
    /// definition, a false conditional) must be bounded too.
    work: usize,
    /// Bytes of words produced and parameter values defined.
    expanded: usize,
    /// Files read and their bytes, each read counted (an include may repeat a file).
    files_read: usize,
    bytes_read: u64,
}

/// Preprocess `path` and everything it includes.
pub(crate) fn run(
    path: &Path,
    sources: &dyn Sources,
    settings: &Settings,
    diags: &mut Diagnostics,
) -> Preprocessed {
    let mut pre = Pre {
        sources,
        settings,
        params: Params::default(),
        diags,
        out: Preprocessed::default(),
        stack: Vec::new(),
        pwd: String::new(),
        file: Arc::from(path.to_string_lossy().as_ref()),
        expansion_reported: false,
        work: 0,
        expanded: 0,
        files_read: 0,
        bytes_read: 0,
    };
    match pre.read_source(path) {
        Ok(text) => {
            pre.out.readable = true;
            pre.read_file(path, &text);
        }
        Err(e) => {
            let file: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
            let code = match e {
                ReadError::NotRegular { .. } => Code::NotRegularFile,
                ReadError::TooLarge { .. } | ReadError::Limit(_) => Code::FileTooLarge,
                ReadError::Io(_) => Code::FileUnreadable,
            };
            pre.diags.push(Diagnostic::new(
                code,
                Span {
                    file,
                    line: 0,
                    col: 0,
                },
                format!("cannot read the configuration: {e}"),
            ));
        }
    }
    pre.out
}

fn is_include(word: &str) -> bool {
    matches!(
        word,
        "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
    )
}

/// A comment-stripped, right-trimmed physical line.
fn physical(line: &str, number: u32) -> Text {
    let mut t = Text::source(line, number);
    if let Some(at) = comment_start(&t.s) {
        t.truncate(at);
    }
    t.trim_end();
    t
}

impl Pre<'_> {
    fn span(&self, line: u32, col: u32) -> Span {
        Span {
            file: self.file.clone(),
            line,
            col,
        }
    }

    fn read_file(&mut self, path: &Path, content: &str) {
        let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
        self.out.files.push((name.clone(), Arc::from(content)));
        let saved_file = std::mem::replace(&mut self.file, name);
        let dir = path
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let saved_pwd = std::mem::replace(&mut self.pwd, dir);
        self.stack.push(normalise(path));

        let lines: Vec<&str> = content.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let number = i as u32 + 1;
            let mut t = physical(lines[i], number);
            i += 1;
            if t.s.ends_with('\\') {
                if is_definition_head(&t.s) {
                    i = self.multiline_definition(t, &lines, i);
                    continue;
                }
                // A plain continuation: the next lines join this one.
                while t.s.ends_with('\\') {
                    t.s.pop();
                    t.trim_end();
                    let Some(next) = lines.get(i) else {
                        break;
                    };
                    let mut n = physical(next, i as u32 + 1);
                    i += 1;
                    n.trim_start();
                    t.join(n);
                }
            }
            let first = t.s.split_ascii_whitespace().next().unwrap_or("");
            if is_include(first) {
                self.include(&t);
                continue;
            }
            self.line(t, 0);
            if self.expansion_reported {
                break;
            }
        }

        self.stack.pop();
        self.pwd = saved_pwd;
        self.file = saved_file;
    }

    /// `$NAME= \` followed by lines ending in `\`: the value is those lines, kept apart so
    /// a use of the parameter expands to several configuration lines. Returns the index of
    /// the next unread line.
    fn multiline_definition(&mut self, head: Text, lines: &[&str], mut i: usize) -> usize {
        let mut head = head;
        head.s.pop();
        head.trim_end();
        head.trim_start();
        // A conditional prefix applies to the whole definition.
        let keep = match self.conditional(&mut head) {
            Some(keep) => keep,
            None => return i,
        };
        let Some((name, value_at)) = params::definition(&head.s) else {
            return i;
        };
        let name = name.to_string();
        let mut value = Vec::new();
        let mut first = head.slice(value_at..head.s.len());
        first.trim_start();
        if !first.s.is_empty() {
            value.push(first);
        }
        while let Some(raw) = lines.get(i) {
            let mut t = physical(raw, i as u32 + 1);
            i += 1;
            let more = t.s.ends_with('\\');
            if more {
                t.s.pop();
                t.trim_end();
            }
            t.trim_start();
            if !t.s.is_empty() {
                value.push(t);
            }
            if !more {
                break;
            }
        }
        if keep {
            self.expanded += name.len() + value.iter().map(|t| t.s.len()).sum::<usize>();
            self.params.define(&name, Value::Lines(value));
        }
        i
    }

    /// Apply an `@id` / `@^id` prefix: `Some(true)` keep (prefix removed), `Some(false)` drop,
    /// `None` malformed (reported, dropped). Lines without a prefix are kept.
    fn conditional(&mut self, t: &mut Text) -> Option<bool> {
        if !t.s.starts_with('@') {
            return Some(true);
        }
        let end =
            t.s.find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(t.s.len());
        let (negate, id) = match t.s[1..end].strip_prefix('^') {
            Some(id) => (true, id),
            None => (false, &t.s[1..end]),
        };
        if id.is_empty() {
            let (line, col) = t.pos(0);
            let d = Diagnostic::new(
                Code::BadConditional,
                self.span(line, col),
                "'@' must be followed by a config id; line ignored",
            );
            self.diags.push(d);
            return None;
        }
        let matches = id == self.settings.config_id;
        if matches == negate {
            return Some(false);
        }
        *t = t.slice(end..t.s.len());
        t.trim_start();
        Some(true)
    }

    fn env(&self) -> Env<'_> {
        Env {
            pwd: &self.pwd,
            instance: &self.settings.config_id,
            sources: self.sources,
        }
    }

    /// One file through the sources, within what is left of the file and byte budgets.
    fn read_source(&mut self, path: &Path) -> Result<String, ReadError> {
        let limits = &self.settings.limits;
        if self.files_read >= limits.files {
            return Err(ReadError::Limit(format!(
                "more than {} files would be read in all (the limit on files)",
                limits.files
            )));
        }
        self.files_read += 1;
        let left = limits.total_bytes.saturating_sub(self.bytes_read);
        let limit = limits.file_bytes.min(left);
        match self.sources.read(path, limit) {
            Ok(text) => {
                self.bytes_read += text.len() as u64;
                Ok(text)
            }
            Err(ReadError::TooLarge { .. }) if limit < limits.file_bytes => {
                Err(ReadError::Limit(format!(
                    "the files read in all would exceed the {}-byte limit",
                    limits.total_bytes
                )))
            }
            Err(e) => Err(e),
        }
    }

    fn too_many_lines(&mut self, line: u32, col: u32) -> bool {
        self.work += 1;
        let limits = self.settings.limits;
        let work_limit = limits.lines.saturating_mul(4).saturating_add(1000);
        if self.out.lines.len() < limits.lines
            && self.work <= work_limit
            && self.expanded <= limits.expanded_bytes
        {
            return false;
        }
        if !self.expansion_reported {
            self.expansion_reported = true;
            let what = if self.expanded > limits.expanded_bytes {
                format!(
                    "more than {} bytes of text (the limit on expansion)",
                    limits.expanded_bytes
                )
            } else {
                format!("more than {} lines (the limit on lines)", limits.lines)
            };
            let d = Diagnostic::new(
                Code::ExpansionLimit,
                self.span(line, col),
                format!("the configuration expands to {what}; the rest is ignored"),
            );
            self.diags.push(d);
        }
        true
    }

    /// One logical line: conditional, definition, repetition, substitution, then words.
    fn line(&mut self, mut t: Text, depth: u32) {
        t.trim_start();
        if t.s.is_empty() {
            return;
        }
        let (line, col) = t.pos(0);
        if depth > MAX_DEPTH {
            let d = Diagnostic::new(
                Code::ExpansionLimit,
                self.span(line, col),
                "parameters and repetitions nest too deep; line ignored",
            );
            self.diags.push(d);
            return;
        }
        if self.too_many_lines(line, col) {
            return;
        }
        match self.conditional(&mut t) {
            Some(true) if !t.s.is_empty() => {}
            _ => return,
        }
        if let Some((name, at)) = params::definition(&t.s) {
            let value = t.s[at..].trim().to_string();
            let name = name.to_string();
            self.expanded += name.len() + value.len();
            self.params.define(&name, Value::Line(value));
            return;
        }
        if let Some((kind, args_at)) = repeat::head(&t.s) {
            self.repeat(&t, kind, args_at, depth);
            return;
        }
        if let Some(lines) = self.params.multiline(&t.s).map(<[Text]>::to_vec) {
            for l in lines {
                self.line(l, depth + 1);
                if self.expansion_reported {
                    return;
                }
            }
            return;
        }
        let env = self.env();
        match self.params.substitute(&mut t, &env) {
            Ok(false) => {}
            Ok(true) => {
                // What substitution produced may itself be conditional, a definition, a
                // repetition or a multi-line parameter.
                let s = t.s.trim_start();
                if s.starts_with('@')
                    || s.starts_with('~')
                    || params::definition(s).is_some()
                    || self.params.multiline(s).is_some()
                {
                    self.line(t, depth + 1);
                    return;
                }
            }
            Err(_) => {
                let d = Diagnostic::new(
                    Code::ExpansionLimit,
                    self.span(line, col),
                    "parameter substitution does not terminate (a parameter refers to itself?); line ignored",
                );
                self.diags.push(d);
                return;
            }
        }
        self.emit(&t);
    }

    fn repeat(&mut self, t: &Text, kind: &str, args_at: usize, depth: u32) {
        let (line, col) = t.pos(0);
        let span = self.span(line, col);
        let Some(close) = repeat::close_paren(&t.s, args_at) else {
            self.diags.push(Diagnostic::new(
                Code::BadRepeat,
                span,
                format!("~{kind}( has no closing parenthesis; line ignored"),
            ));
            return;
        };
        let env = self.env();
        let args = match self.params.substitute_str(&t.s[args_at..close], &env) {
            Ok(a) => a,
            Err(_) => {
                self.diags.push(Diagnostic::new(
                    Code::ExpansionLimit,
                    span,
                    "parameter substitution does not terminate; line ignored",
                ));
                return;
            }
        };
        let bindings: Result<Box<dyn Iterator<Item = repeat::Binding>>, String> = match kind {
            "LST" => {
                repeat::lst(&args).map(|b| Box::new(b.into_iter()) as Box<dyn Iterator<Item = _>>)
            }
            _ => repeat::seq(&args, kind == "SEQx")
                .map(|s| Box::new(s) as Box<dyn Iterator<Item = _>>),
        };
        let bindings = match bindings {
            Ok(b) => b,
            Err(e) => {
                let len = close as u32 + 1;
                self.diags.push(
                    Diagnostic::new(Code::BadRepeat, span, format!("~{kind}: {e}; line ignored"))
                        .with_len(len),
                );
                return;
            }
        };
        let rest = t.slice(close + 1..t.s.len());
        for binding in bindings {
            for (name, value) in binding {
                self.expanded += name.len() + value.len();
                self.params.define(&name, Value::Line(value));
            }
            self.line(rest.clone(), depth + 1);
            if self.expansion_reported {
                return;
            }
        }
    }

    fn emit(&mut self, t: &Text) {
        let (ws, problem) = words(t);
        if let Some(q) = problem {
            let d = Diagnostic::new(
                Code::UnterminatedQuote,
                self.span(q.line, q.col),
                "quote not closed before the end of the line",
            );
            self.diags.push(d);
        }
        if !ws.is_empty() {
            self.expanded += ws.iter().map(|w| w.text.len() + 1).sum::<usize>();
            self.out.lines.push(Line {
                file: self.file.clone(),
                words: ws,
            });
        }
    }

    /// `include FILE`: relative to the including file, with globs and `{a,b}` braces.
    fn include(&mut self, t: &Text) {
        let (ws, _) = words(t);
        let Some(kw) = ws.first() else {
            return;
        };
        let span = self.span(kw.line, kw.col);
        let Some(arg) = ws.get(1) else {
            self.diags.push(
                Diagnostic::new(
                    Code::MissingArgument,
                    span,
                    format!("'{}' needs a file name", kw.text),
                )
                .with_len(kw.len),
            );
            return;
        };
        let arg_span = self.span(arg.line, arg.col);
        if let Some(extra) = ws.get(2) {
            self.diags.push(
                Diagnostic::new(
                    Code::ExtraArgument,
                    self.span(extra.line, extra.col),
                    format!(
                        "'{}' takes one file name; '{}' ignored",
                        kw.text, extra.text
                    ),
                )
                .with_len(extra.len),
            );
        }
        // Plain `include` only warns about missing files (keepalived keeps it lenient for
        // compatibility); its variants and `-e/--all-config` make that an error.
        let strict = self.settings.all_config || kw.text != "include";
        let severity = if strict {
            Severity::Error
        } else {
            Severity::Warning
        };
        let mut matched = Vec::new();
        for alt in repeat::expand_braces(&arg.text, MAX_BRACE_ALTERNATIVES) {
            let path = if Path::new(&alt).is_absolute() {
                PathBuf::from(&alt)
            } else {
                Path::new(&self.pwd).join(&alt)
            };
            let path = normalise(&path);
            let pattern = path.to_string_lossy().into_owned();
            if pattern.contains(['*', '?', '[']) {
                match self.sources.glob(&pattern) {
                    Ok(found) => matched.extend(found),
                    Err(e) => self.diags.push(
                        Diagnostic::new(
                            Code::IncludeMissing,
                            arg_span.clone(),
                            format!("bad include pattern '{pattern}': {e}"),
                        )
                        .with_severity(severity)
                        .with_len(arg.len),
                    ),
                }
            } else {
                matched.push(path);
            }
        }
        if matched.is_empty() {
            self.diags.push(
                Diagnostic::new(
                    Code::IncludeMissing,
                    arg_span.clone(),
                    format!("include '{}' matches no file", arg.text),
                )
                .with_severity(severity)
                .with_len(arg.len),
            );
        }
        for path in matched {
            if self.stack.contains(&path) {
                self.diags.push(
                    Diagnostic::new(
                        Code::IncludeCycle,
                        arg_span.clone(),
                        format!("'{}' includes itself; not read again", path.display()),
                    )
                    .with_len(arg.len),
                );
                continue;
            }
            if self.stack.len() as u32 > MAX_DEPTH {
                self.diags.push(
                    Diagnostic::new(
                        Code::IncludeCycle,
                        arg_span.clone(),
                        format!(
                            "includes nest deeper than {MAX_DEPTH}; '{}' not read",
                            path.display()
                        ),
                    )
                    .with_len(arg.len),
                );
                continue;
            }
            match self.read_source(&path) {
                Ok(content) => self.read_file(&path, &content),
                Err(e) => {
                    // A file that is there but not readable as configuration is refused
                    // whatever the include's leniency: lenient is for files that are absent.
                    let (code, severity) = match &e {
                        ReadError::NotRegular { .. } => (Code::NotRegularFile, Severity::Error),
                        ReadError::TooLarge { .. } | ReadError::Limit(_) => {
                            (Code::FileTooLarge, Severity::Error)
                        }
                        ReadError::Io(_) => (Code::IncludeMissing, severity),
                    };
                    self.diags.push(
                        Diagnostic::new(
                            code,
                            arg_span.clone(),
                            format!("cannot read included file '{}': {e}", path.display()),
                        )
                        .with_severity(severity)
                        .with_len(arg.len),
                    );
                }
            }
            if self.expansion_reported {
                return;
            }
        }
    }
}

/// `$NAME=` (after an optional `@id` prefix) at the start of a line.
fn is_definition_head(s: &str) -> bool {
    let s = s.trim_start();
    let s = if s.starts_with('@') {
        s.split_once(|c: char| c.is_ascii_whitespace())
            .map_or("", |(_, rest)| rest.trim_start())
    } else {
        s
    };
    params::definition(s).is_some()
}

#[cfg(test)]
mod tests;
