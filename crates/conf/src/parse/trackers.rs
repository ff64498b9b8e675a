//! Tracker definitions (`vrrp_script`, `vrrp_track_process`, `track_file`) and the
//! `track_*` blocks of instances and sync groups that refer to them.

use std::path::PathBuf;
use std::time::Duration;

use super::cx::{Cx, command_of, split_command};
use crate::diag::Code;
use crate::model::{Command, ParamMatch, TrackFile, TrackProcess, VrrpScript};
use crate::syntax::Stmt;

/// A `track_*` entry as written; the weight and direction are resolved against the
/// tracker's own defaults later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawTrackRef {
    pub name: String,
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` if given.
    pub reverse: Option<bool>,
    pub span: crate::model::Span,
    pub len: u32,
}

/// The `track_*` blocks of an instance or group.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawTracking {
    pub interfaces: Vec<RawTrackRef>,
    pub scripts: Vec<RawTrackRef>,
    pub files: Vec<RawTrackRef>,
    pub processes: Vec<RawTrackRef>,
}

/// Which `track_*` block; the weight ranges differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackKind {
    Interface,
    Script,
    File,
    Process,
}

impl TrackKind {
    fn weight_range(self) -> i64 {
        match self {
            TrackKind::Interface | TrackKind::Script => 253,
            TrackKind::File | TrackKind::Process => 254,
        }
    }
}

/// The lines of a `track_interface|track_script|track_file|track_process` block.
pub(crate) fn track_block(
    cx: &mut Cx<'_>,
    stmt: &Stmt,
    kind: TrackKind,
    out: &mut Vec<RawTrackRef>,
) {
    cx.at_most(stmt, 0);
    let Some(lines) = cx.block(stmt) else {
        return;
    };
    for line in lines {
        cx.no_block(line);
        let name = line.keyword();
        let mut r = RawTrackRef {
            name: name.text.clone(),
            weight: None,
            reverse: None,
            span: name.span.clone(),
            len: name.len,
        };
        let args = line.args();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            match a.text.as_str() {
                "weight" => {
                    i += 1;
                    match args.get(i) {
                        Some(w) => {
                            let max = kind.weight_range();
                            r.weight = cx.int(w, -max, max, "weight").map(|w| w as i32);
                        }
                        None => cx.report(Code::MissingArgument, a, "'weight' needs a value"),
                    }
                }
                "reverse" => r.reverse = Some(true),
                "noreverse" | "no_reverse" => r.reverse = Some(false),
                t => cx.report(
                    Code::ExtraArgument,
                    a,
                    format!("unexpected '{t}' after '{}'; ignored", name.text),
                ),
            }
            i += 1;
        }
        out.push(r);
    }
}

/// `weight W [reverse]` of a tracker definition.
fn weight(cx: &mut Cx<'_>, stmt: &Stmt, max: i64) -> Option<(i32, bool)> {
    cx.no_block(stmt);
    let tok = cx.arg(stmt, 0)?;
    let w = cx.int(tok, -max, max, "weight")?;
    let mut reverse = false;
    if let Some(r) = stmt.args().get(1) {
        if r.text == "reverse" {
            reverse = true;
        } else {
            cx.report(
                Code::ExtraArgument,
                r,
                format!("unexpected '{}' after weight; ignored", r.text),
            );
        }
    }
    cx.at_most(stmt, 2);
    Some((w as i32, reverse))
}

/// `vrrp_script NAME { … }`.
pub(crate) fn vrrp_script(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<VrrpScript> {
    let name = cx.arg(stmt, 0)?.clone();
    cx.at_most(stmt, 1);
    let lines = cx.block(stmt)?;
    let mut command: Option<Command> = None;
    let mut interval = Duration::from_secs(1);
    let mut timeout = None;
    let mut weight_rev = (0, false);
    let mut rise = 1;
    let mut fall = 1;
    let mut init_fail = false;
    let mut user = None;
    for line in lines {
        match line.keyword().text.as_str() {
            "script" => {
                cx.no_block(line);
                let args = line.args();
                match args {
                    [] => {
                        cx.arg(line, 0);
                    }
                    [one] => command = Some(command_of(one, None)),
                    many => {
                        // Unquoted words: each is one argument.
                        command = Some(Command {
                            text: many
                                .iter()
                                .map(|t| t.text.as_str())
                                .collect::<Vec<_>>()
                                .join(" "),
                            argv: many.iter().map(|t| t.text.clone()).collect(),
                            run_as: None,
                            span: many[0].span.clone(),
                        });
                    }
                }
            }
            "interval" => {
                if let Some(d) =
                    cx.timer_arg(line, Duration::ZERO, Duration::from_secs(u32::MAX.into()))
                {
                    if d.is_zero() {
                        cx.report(
                            Code::OutOfRange,
                            &line.args()[0],
                            "interval 0 is not allowed; using 1 second",
                        );
                    } else {
                        interval = d;
                    }
                }
            }
            "timeout" => {
                timeout = cx.timer_arg(line, Duration::ZERO, Duration::from_secs(u32::MAX.into()));
            }
            "weight" => {
                if let Some(w) = weight(cx, line, 253) {
                    weight_rev = w;
                }
            }
            "rise" => {
                if let Some(v) = cx.int_arg(line, 1, u32::MAX.into()) {
                    rise = v as u32;
                }
            }
            "fall" => {
                if let Some(v) = cx.int_arg(line, 1, u32::MAX.into()) {
                    fall = v as u32;
                }
            }
            "user" => user = cx.run_as(line),
            "init_fail" => {
                cx.flag(line);
                init_fail = true;
            }
            _ => cx.unknown(line, "vrrp_script"),
        }
    }
    let Some(mut command) = command else {
        cx.report(
            Code::ScriptMissingCommand,
            &name,
            format!("vrrp_script {} has no 'script'; ignored", name.text),
        );
        return None;
    };
    command.run_as = user;
    if command.argv.is_empty() {
        command.argv = split_command(&command.text);
    }
    Some(VrrpScript {
        name: name.text.clone(),
        span: name.span.clone(),
        command,
        interval,
        timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(interval),
        weight: weight_rev.0,
        reverse: weight_rev.1,
        rise,
        fall,
        init_fail,
    })
}

/// `vrrp_track_process NAME { … }`.
pub(crate) fn track_process(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<TrackProcess> {
    let name = cx.arg(stmt, 0)?.clone();
    cx.at_most(stmt, 1);
    let lines = cx.block(stmt)?;
    let mut p = TrackProcess {
        name: name.text.clone(),
        span: name.span.clone(),
        process: String::new(),
        params: None,
        param_match: ParamMatch::Exact,
        full_command: false,
        weight: 0,
        reverse: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::ZERO,
    };
    let mut param_match_given = false;
    let max_delay = Duration::from_secs(u32::MAX.into());
    for line in lines {
        match line.keyword().text.as_str() {
            "process" => {
                cx.no_block(line);
                if let Some(tok) = cx.arg(line, 0) {
                    p.process = tok.text.clone();
                    let params: Vec<String> =
                        line.args()[1..].iter().map(|t| t.text.clone()).collect();
                    p.params = (!params.is_empty()).then_some(params);
                }
            }
            "param_match" => {
                cx.no_block(line);
                cx.at_most(line, 1);
                if let Some(tok) = cx.arg(line, 0) {
                    param_match_given = true;
                    match tok.text.as_str() {
                        "initial" => p.param_match = ParamMatch::Initial,
                        "partial" => p.param_match = ParamMatch::Partial,
                        t => cx.report(
                            Code::InvalidValue,
                            tok,
                            format!("param_match '{t}' is not initial or partial"),
                        ),
                    }
                }
            }
            "weight" => {
                if let Some((w, r)) = weight(cx, line, 254) {
                    p.weight = w;
                    p.reverse = r;
                }
            }
            "quorum" => {
                if let Some(v) = cx.int_arg(line, 1, u32::MAX.into()) {
                    p.quorum = v as u32;
                }
            }
            "quorum_max" => {
                if let Some(v) = cx.int_arg(line, 0, u32::MAX.into()) {
                    p.quorum_max = Some(v as u32);
                }
            }
            "fork_delay" => {
                if let Some(d) = cx.timer_arg(line, Duration::ZERO, max_delay) {
                    p.fork_delay = d;
                }
            }
            "terminate_delay" => {
                if let Some(d) = cx.timer_arg(line, Duration::ZERO, max_delay) {
                    p.terminate_delay = d;
                }
            }
            "delay" => {
                if let Some(d) = cx.timer_arg(line, Duration::ZERO, max_delay) {
                    p.fork_delay = d;
                    p.terminate_delay = d;
                }
            }
            "full_command" => {
                cx.flag(line);
                p.full_command = true;
            }
            _ => cx.unknown(line, "vrrp_track_process"),
        }
    }
    if p.process.is_empty() {
        cx.report(
            Code::MissingArgument,
            &name,
            format!("vrrp_track_process {} has no 'process'; ignored", name.text),
        );
        return None;
    }
    // "To specify that a command must have no parameters, don't specify any parameters,
    // but specify param_match."
    if param_match_given && p.params.is_none() {
        p.params = Some(Vec::new());
    }
    if let Some(max) = p.quorum_max
        && max < p.quorum
    {
        cx.report(
            Code::OutOfRange,
            &name,
            format!(
                "vrrp_track_process {}: quorum_max {max} is below quorum {}",
                name.text, p.quorum
            ),
        );
    }
    Some(p)
}

/// `track_file NAME { … }` (alias `vrrp_track_file`).
pub(crate) fn track_file(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<TrackFile> {
    let name = cx.arg(stmt, 0)?.clone();
    cx.at_most(stmt, 1);
    let lines = cx.block(stmt)?;
    let mut f = TrackFile {
        name: name.text.clone(),
        span: name.span.clone(),
        path: PathBuf::new(),
        weight: 1,
        reverse: false,
        init_file: None,
    };
    for line in lines {
        match line.keyword().text.as_str() {
            "file" => {
                if let Some(p) = cx.string_arg(line) {
                    f.path = PathBuf::from(p.v);
                }
            }
            "weight" => {
                if let Some((w, r)) = weight(cx, line, i64::from(i32::MAX)) {
                    f.weight = w;
                    f.reverse = r;
                }
            }
            "init_file" => {
                cx.no_block(line);
                cx.at_most(line, 2);
                let mut value = 0;
                let mut overwrite = false;
                for a in line.args() {
                    if a.text == "overwrite" {
                        overwrite = true;
                    } else if let Some(v) = cx.int(
                        a,
                        i64::from(i32::MIN),
                        i64::from(i32::MAX),
                        "init_file value",
                    ) {
                        value = v;
                    }
                }
                f.init_file = Some((value, overwrite));
            }
            _ => cx.unknown(line, "track_file"),
        }
    }
    if f.path.as_os_str().is_empty() {
        cx.report(
            Code::MissingArgument,
            &name,
            format!("track_file {} has no 'file'; ignored", name.text),
        );
        return None;
    }
    Some(f)
}
