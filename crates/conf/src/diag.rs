//! Diagnostics: what is wrong with a configuration, where, and how bad.
//!
//! Every diagnostic carries a stable [`Code`] (used by `--format json` and by the golden
//! tests), a [`Severity`], the `file:line:col` where it was written and the source line, so it
//! renders both as one log line (`keepalived.conf:8:8: error: …`) and as a caret snippet.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::model::Span;

/// How bad a diagnostic is. Errors make `baton check` exit 4 (or 3 when nothing usable is
/// left) and make the daemon refuse a reload; warnings are advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $sev:ident; )*) => {
        /// The kind of a diagnostic: a stable name for machines and tests.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, for tests that want each one exercised.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable kebab-case name.
            pub const fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// The severity this kind of diagnostic normally has.
            pub const fn default_severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }
        }
    };
}

codes! {
    // --- files and preprocessing ---
    /// The main configuration file cannot be read.
    FileUnreadable = "file-unreadable", Error;
    /// An `include` matched no file or a file could not be read.
    IncludeMissing = "include-missing", Warning;
    /// A file includes itself, directly or not, or includes nest too deep.
    IncludeCycle = "include-cycle", Error;
    /// A `~SEQ(…)` or `~LST(…)` that cannot be understood.
    BadRepeat = "bad-repeat", Error;
    /// Parameter substitution that does not terminate, or expansion beyond the line limit.
    ExpansionLimit = "expansion-limit", Error;
    /// A quote that is never closed.
    UnterminatedQuote = "unterminated-quote", Warning;
    /// A conditional `@` with no config id after it.
    BadConditional = "bad-conditional", Warning;
    // --- structure ---
    /// A `}` with no block to close.
    UnmatchedBrace = "unmatched-brace", Error;
    /// A block that is never closed.
    UnclosedBlock = "unclosed-block", Error;
    /// A keyword that needs a `{ … }` block has none.
    MissingBlock = "missing-block", Error;
    /// A `{ … }` block after a keyword that takes none.
    UnexpectedBlock = "unexpected-block", Warning;
    // --- keywords and values ---
    /// A keyword keepalived does not know (skipped, as keepalived does).
    UnknownKeyword = "unknown-keyword", Warning;
    /// A keepalived keyword or block baton recognises but does not implement (skipped).
    NotImplemented = "not-implemented", Warning;
    /// A keyword's argument is missing.
    MissingArgument = "missing-argument", Error;
    /// Arguments after the last one a keyword takes.
    ExtraArgument = "extra-argument", Warning;
    /// A value that is not a number, address, boolean, timer… as required.
    InvalidValue = "invalid-value", Error;
    /// A number outside the range keepalived accepts.
    OutOfRange = "out-of-range", Error;
    /// A keyword given twice where only one counts.
    Duplicate = "duplicate", Warning;
    /// Two blocks of the same kind with the same name.
    DuplicateName = "duplicate-name", Error;
    /// A keyword keepalived keeps only for old configurations.
    Deprecated = "deprecated", Warning;
    // --- instances ---
    /// `state` other than MASTER or BACKUP (case matters, as in keepalived).
    InvalidState = "invalid-state", Error;
    /// An instance without `virtual_router_id`.
    VridMissing = "vrid-missing", Error;
    /// `virtual_router_id` outside 1..255.
    VridRange = "vrid-range", Error;
    /// Two instances with the same VRID on one interface and family.
    VridDuplicate = "vrid-duplicate", Error;
    /// `priority` outside 1..255.
    PriorityRange = "priority-range", Error;
    /// `state MASTER` without `priority` makes the instance the address owner (255).
    MasterOwner = "master-owner", Warning;
    /// `advert_int` that a VRRPv2 advert cannot carry (not whole seconds, or over 255 s).
    AdvertIntV2 = "advert-int-v2", Error;
    /// `advert_int` under 10 ms or beyond what VRRPv3 can carry (40.95 s).
    AdvertIntRange = "advert-int-range", Error;
    /// `version` other than 2 or 3.
    VersionInvalid = "version-invalid", Error;
    /// An IPv6 address in a VRRPv2 instance.
    Ipv6InV2 = "ipv6-in-v2", Error;
    /// VIPs of both families in one `virtual_ipaddress`.
    VipFamilyMix = "vip-family-mix", Error;
    /// The same VIP twice, in one instance or in two.
    VipDuplicate = "vip-duplicate", Warning;
    /// An instance without VIPs.
    NoVips = "no-vips", Warning;
    /// An instance without `interface` that cannot do without one.
    InterfaceRequired = "interface-required", Error;
    /// An interface this host does not have (it may appear later).
    InterfaceMissing = "interface-missing", Warning;
    /// `nopreempt` or `preempt_delay` with `state MASTER`, where they cannot work.
    PreemptWithMaster = "preempt-with-master", Error;
    /// A normalisation of the address owner (priority 255).
    OwnerAdjusted = "owner-adjusted", Warning;
    /// A unicast peer equal to our own address or a VIP, or of the wrong family.
    UnicastPeerInvalid = "unicast-peer-invalid", Error;
    /// The same unicast peer twice.
    UnicastPeerDuplicate = "unicast-peer-duplicate", Warning;
    /// `authentication` on VRRPv3, which has none.
    AuthV3 = "auth-v3", Error;
    /// `authentication` incomplete or not supported (AH).
    AuthInvalid = "auth-invalid", Error;
    /// `auth_pass` longer than the 8 bytes that are sent.
    AuthPassTruncated = "auth-pass-truncated", Warning;
    /// An `auth_hmac` block or key that cannot be used (bad key, unknown active key).
    AuthHmacInvalid = "auth-hmac-invalid", Error;
    /// An `auth_hmac` key file that group or other users may read.
    KeyFileInsecure = "key-file-insecure", Warning;
    /// A rule of strict mode (`vrrp_strict`/`strict_mode`) overrides what was written.
    StrictMode = "strict-mode", Error;
    /// `fast_handover` requested under strict mode, which forces it off.
    FastHandoverStrict = "fast-handover-strict", Warning;
    // --- trackers and groups ---
    /// `track_script`/`track_file`/`track_process` naming something not defined.
    TrackUndefined = "track-undefined", Error;
    /// Weighted trackers of a sync group member are ignored.
    SyncWeightIgnored = "sync-weight-ignored", Warning;
    /// A sync group member that is not an instance, or is in two groups.
    SyncMemberInvalid = "sync-member-invalid", Error;
    /// A sync group left with no members.
    SyncGroupEmpty = "sync-group-empty", Warning;
    /// A `vrrp_script` without `script`.
    ScriptMissingCommand = "script-missing-command", Error;
    /// A script file that does not exist.
    ScriptNotFound = "script-not-found", Error;
    /// A script file that is not executable.
    ScriptNotExecutable = "script-not-executable", Error;
    /// With `enable_script_security`, a root script writable by a non-root user.
    ScriptInsecure = "script-insecure", Error;
    /// A script user or group that does not exist.
    ScriptUserUnknown = "script-user-unknown", Error;
    /// A "system" command (`</dev/tcp/…`) that cannot work on this host's `/bin/sh`.
    ShellScript = "shell-script", Warning;
    /// Scripts configured without `enable_script_security` (`baton check` exits 5).
    ScriptSecurity = "script-security", Warning;
    /// A vrrp_script or tracker defined but used by no instance or group.
    Unused = "unused", Warning;
    // --- virtual servers and checkers ---
    /// A setting keepalived needs was not given, and its default is used (scheduler,
    /// forwarding method, protocol).
    LvsDefaulted = "lvs-defaulted", Warning;
    /// A value keepalived corrects as it loads (quorum above the total weight, hysteresis
    /// not below quorum, ports that cannot apply, settings that conflict).
    LvsAdjusted = "lvs-adjusted", Warning;
    /// Something baton's nftables data plane cannot do, and what it does instead.
    LvsUnsupported = "lvs-unsupported", Warning;
    /// Address families of a virtual server, its group and its servers that do not match.
    LvsFamilyMismatch = "lvs-family-mismatch", Error;
    /// A virtual server without real servers (ignored, as keepalived does).
    VsNoRealServers = "vs-no-real-servers", Error;
    /// `virtual_server group NAME` with no such virtual_server_group.
    VsGroupUndefined = "vs-group-undefined", Error;
    /// The same real server twice in one virtual server.
    RealServerDuplicate = "real-server-duplicate", Error;
    /// A checker that cannot run (no url, no misc_path, no track_file…); it is dropped.
    CheckerInvalid = "checker-invalid", Error;
    /// Nothing usable: no VRRP instance is left.
    NoInstances = "no-instances", Error;
    // --- limits ---
    /// A configuration file, or something an `include` names, is not a regular file.
    NotRegularFile = "not-regular-file", Error;
    /// A file, or all files together, larger than the loader reads; or too many files.
    FileTooLarge = "file-too-large", Error;
    /// More diagnostics than are kept: the rest are counted, not listed.
    TooManyDiagnostics = "too-many-diagnostics", Warning;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A secondary location that explains a diagnostic ("tracked here", "first defined here").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub span: Span,
    pub message: String,
}

/// One finding about the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// Where it was written; line 0 means the file as a whole.
    #[serde(flatten)]
    pub span: Span,
    /// Characters of the source the diagnostic points at (at least 1).
    #[serde(skip)]
    pub len: u32,
    pub notes: Vec<Note>,
    /// The source line, filled in once loading is done, for the caret form.
    #[serde(skip)]
    pub source_line: Option<Arc<str>>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: code.default_severity(),
            code,
            message: message.into(),
            span,
            len: 1,
            notes: Vec::new(),
            source_line: None,
        }
    }

    pub fn with_len(mut self, len: u32) -> Diagnostic {
        self.len = len.max(1);
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
    }

    pub fn with_note(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The one-line form for logs: `file:line:col: error: message`.
    pub fn log_line(&self) -> String {
        self.to_string()
    }

    /// The full form: the log line, then the source line with a caret under the place,
    /// then the notes.
    pub fn render(&self) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

        let mut out = self.to_string();
        out.push('\n');
        if let Some(line) = self.source_line.as_deref()
            && self.span.line > 0
        {
            let range = char_range(line, self.span.col, self.len);
            let level = match self.severity {
                Severity::Error => Level::ERROR,
                Severity::Warning => Level::WARNING,
            };
            let snippet = Snippet::source(line)
                .line_start(self.span.line as usize)
                .annotation(AnnotationKind::Primary.span(range));
            let report = [Group::with_level(level).element(snippet)];
            out.push_str(&Renderer::plain().render(&report));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!(
                "  = note: {}: {}\n",
                location(&note.span),
                note.message
            ));
        }
        out
    }
}

/// The byte range of `len` characters starting at 1-based character column `col`, clamped to
/// the line (a caret must never point outside it).
fn char_range(line: &str, col: u32, len: u32) -> std::ops::Range<usize> {
    let mut starts = line.char_indices().map(|(i, _)| i).chain([line.len()]);
    let skip = col.saturating_sub(1) as usize;
    let start = starts.nth(skip).unwrap_or(line.len());
    let end = line[start..]
        .char_indices()
        .map(|(i, _)| start + i)
        .chain([line.len()])
        .nth(len as usize)
        .unwrap_or(line.len());
    start..end
}

fn location(span: &Span) -> String {
    if span.line == 0 {
        span.file.to_string()
    } else {
        span.to_string()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            location(&self.span),
            self.severity,
            self.message
        )
    }
}

/// The diagnostics of one load, in the order they were found.
///
/// Bounded, because a configuration multiplies itself: a `~SEQ` over a line with a mistake
/// would otherwise report it once per repetition. At one place, diagnostics of one kind are
/// kept up to [`PER_PLACE`] different messages; the same message again, or any beyond those,
/// is counted on the first (and said so in a note). Past the limit, diagnostics are counted
/// and one last diagnostic says how many, errors among them, so a load with an error never
/// looks clean.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// Each (place, kind) reported: the diagnostics kept for it and the repeats folded in.
    seen: HashMap<(Arc<str>, u32, u32, Code), Place>,
    limit: usize,
    dropped: u64,
    dropped_errors: u64,
}

/// Different messages of one kind kept at one place (a block can have several defaults
/// reported at its name, say) before further ones are only counted.
pub const PER_PLACE: usize = 8;

#[derive(Debug, Clone, Default)]
struct Place {
    kept: Vec<usize>,
    repeats: u64,
}

impl Default for Diagnostics {
    fn default() -> Self {
        Diagnostics::with_limit(crate::Limits::default().diagnostics)
    }
}

impl Diagnostics {
    /// Keep at most `limit` diagnostics.
    pub fn with_limit(limit: usize) -> Diagnostics {
        Diagnostics {
            list: Vec::new(),
            seen: HashMap::new(),
            limit,
            dropped: 0,
            dropped_errors: 0,
        }
    }

    pub fn push(&mut self, d: Diagnostic) {
        if d.span.line > 0 {
            let key = (d.span.file.clone(), d.span.line, d.span.col, d.code);
            let place = self.seen.entry(key).or_default();
            let same = place
                .kept
                .iter()
                .copied()
                .find(|&i| self.list.get(i).is_some_and(|k| k.message == d.message));
            if let Some(first) = same.or_else(|| {
                (place.kept.len() >= PER_PLACE)
                    .then(|| place.kept.first().copied())
                    .flatten()
            }) {
                place.repeats += 1;
                if let Some(k) = self.list.get_mut(first) {
                    k.severity = k.severity.max(d.severity);
                }
                return;
            }
            if self.list.len() < self.limit {
                place.kept.push(self.list.len());
            }
        }
        if self.list.len() >= self.limit {
            self.dropped += 1;
            self.dropped_errors += u64::from(d.is_error());
            return;
        }
        self.list.push(d);
    }

    pub fn error(&mut self, code: Code, span: &Span, message: impl Into<String>) {
        self.push(Diagnostic::new(code, span.clone(), message).with_severity(Severity::Error));
    }

    pub fn warning(&mut self, code: Code, span: &Span, message: impl Into<String>) {
        self.push(Diagnostic::new(code, span.clone(), message).with_severity(Severity::Warning));
    }

    pub fn has_errors(&self) -> bool {
        self.dropped_errors > 0 || self.list.iter().any(Diagnostic::is_error)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.list.iter()
    }

    /// The diagnostics, each repeated one with a note saying how often, and the count of
    /// those past the limit as a last one.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        let mut list = self.list;
        for place in self.seen.into_values() {
            let (Some(&at), repeats @ 1..) = (place.kept.first(), place.repeats) else {
                continue;
            };
            if let Some(d) = list.get_mut(at) {
                let span = d.span.clone();
                d.notes.push(Note {
                    span,
                    message: format!(
                        "and {repeats} more like this here (the line is repeated by ~SEQ, ~LST, \
                         a parameter or an include)"
                    ),
                });
            }
        }
        if self.dropped > 0 {
            let file = list.last().map(|d| d.span.file.clone()).unwrap_or_default();
            let severity = if self.dropped_errors > 0 {
                Severity::Error
            } else {
                Severity::Warning
            };
            list.push(
                Diagnostic::new(
                    Code::TooManyDiagnostics,
                    Span {
                        file,
                        line: 0,
                        col: 0,
                    },
                    format!(
                        "{} more diagnostics ({} of them errors) not shown: only the first {} are kept",
                        self.dropped, self.dropped_errors, self.limit
                    ),
                )
                .with_severity(severity),
            );
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: u32, col: u32) -> Span {
        Span {
            file: "k.conf".into(),
            line,
            col,
        }
    }

    #[test]
    fn log_line_names_file_line_col_and_severity() {
        let d = Diagnostic::new(
            Code::PriorityRange,
            span(3, 5),
            "priority 300 is out of range",
        );
        assert_eq!(
            d.log_line(),
            "k.conf:3:5: error: priority 300 is out of range"
        );
        let d = Diagnostic::new(Code::NoVips, span(0, 0), "x");
        assert_eq!(d.log_line(), "k.conf: warning: x");
    }

    #[test]
    fn caret_sits_under_the_column_even_after_wide_characters() {
        let mut d = Diagnostic::new(Code::InvalidValue, span(7, 8), "bad").with_len(3);
        d.source_line = Some("# 中文 x abc".into());
        let text = d.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "k.conf:7:8: error: bad");
        let src = lines.iter().find(|l| l.contains("abc")).unwrap();
        let caret = lines.iter().find(|l| l.contains('^')).unwrap();
        // The caret is at the display column of "abc": two wide characters count double.
        let src_col = src.find("abc").unwrap();
        let prefix_width = src[..src_col].chars().count() + 2;
        assert_eq!(caret.find('^').unwrap(), prefix_width);
        assert_eq!(caret.matches('^').count(), 3);
    }

    #[test]
    fn char_range_clamps_to_the_line() {
        assert_eq!(char_range("abc", 2, 1), 1..2);
        assert_eq!(char_range("abc", 9, 4), 3..3);
        assert_eq!(char_range("aé", 2, 5), 1..3);
    }

    #[test]
    fn repeats_at_one_place_are_counted_on_the_first() {
        let mut ds = Diagnostics::with_limit(10);
        for i in 0..500 {
            ds.push(Diagnostic::new(
                Code::UnknownKeyword,
                span(1, 18),
                format!("unknown keyword 'foo_{i}'"),
            ));
        }
        ds.push(Diagnostic::new(
            Code::InvalidValue,
            span(1, 18),
            "other kind",
        ));
        ds.push(Diagnostic::new(
            Code::InvalidValue,
            span(1, 18),
            "other kind",
        ));
        let v = ds.into_vec();
        assert_eq!(v.len(), PER_PLACE + 1);
        assert_eq!(v[0].message, "unknown keyword 'foo_0'");
        assert_eq!(v[PER_PLACE - 1].message, "unknown keyword 'foo_7'");
        assert_eq!(v[0].notes.len(), 1);
        assert!(
            v[0].notes[0]
                .message
                .starts_with("and 492 more like this here")
        );
        assert_eq!(v[PER_PLACE].message, "other kind");
        assert!(v[PER_PLACE].notes[0].message.starts_with("and 1 more"));
    }

    #[test]
    fn past_the_limit_they_are_counted_and_an_error_among_them_stays_an_error() {
        let mut ds = Diagnostics::with_limit(3);
        for line in 1..=5 {
            ds.push(Diagnostic::new(Code::UnknownKeyword, span(line, 1), "w"));
        }
        assert!(!ds.has_errors());
        ds.push(Diagnostic::new(Code::PriorityRange, span(9, 1), "e"));
        assert!(
            ds.has_errors(),
            "a dropped error must still refuse a reload"
        );
        let v = ds.into_vec();
        assert_eq!(v.len(), 4);
        let last = v.last().unwrap();
        assert_eq!(last.code, Code::TooManyDiagnostics);
        assert!(last.is_error());
        assert_eq!(
            last.message,
            "3 more diagnostics (1 of them errors) not shown: only the first 3 are kept"
        );
    }

    #[test]
    fn every_code_has_a_unique_name() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
