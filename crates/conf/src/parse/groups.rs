//! Blocks that group or list things: `vrrp_sync_group`, `track_group`, `garp_group`,
//! `linkbeat_interfaces`, `interface_up_down_delays`.

use std::time::Duration;

use super::cx::{At, Cx};
use super::trackers::{RawTracking, TrackKind, track_block};
use crate::diag::Code;
use crate::model::{GarpGroup, InterfaceDelay, LinkbeatInterface, LinkbeatKind, Notify, Span};
use crate::syntax::Stmt;

#[derive(Debug, Clone)]
pub(crate) struct RawSyncGroup {
    pub name: String,
    pub span: Span,
    pub name_len: u32,
    pub members: Vec<At<String>>,
    pub tracking: RawTracking,
    pub notify: Notify,
    pub tracking_weight: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RawTrackGroup {
    pub name: String,
    pub span: Span,
    pub members: Vec<At<String>>,
}

/// Every word of every line of a block: `group { VI_1 VI_2 }`.
fn names(cx: &mut Cx<'_>, stmt: &Stmt) -> Vec<At<String>> {
    cx.at_most(stmt, 0);
    let Some(lines) = cx.block(stmt) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in lines {
        cx.no_block(line);
        out.extend(line.words.iter().map(|w| At::new(w.text.clone(), w)));
    }
    out
}

pub(crate) fn sync_group(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<RawSyncGroup> {
    let name = cx.arg(stmt, 0)?.clone();
    cx.at_most(stmt, 1);
    let lines = cx.block(stmt)?;
    let mut g = RawSyncGroup {
        name: name.text.clone(),
        span: name.span.clone(),
        name_len: name.len,
        members: Vec::new(),
        tracking: RawTracking::default(),
        notify: Notify::default(),
        tracking_weight: false,
    };
    let mut group_given = false;
    for line in lines {
        let kw = line.keyword();
        match kw.text.as_str() {
            "group" => {
                if group_given {
                    cx.report(
                        Code::Duplicate,
                        kw,
                        format!(
                            "sync group {}: group list already given; ignored",
                            name.text
                        ),
                    );
                    continue;
                }
                group_given = true;
                g.members = names(cx, line);
            }
            "track_interface" => {
                track_block(cx, line, TrackKind::Interface, &mut g.tracking.interfaces)
            }
            "track_script" => track_block(cx, line, TrackKind::Script, &mut g.tracking.scripts),
            "track_file" => track_block(cx, line, TrackKind::File, &mut g.tracking.files),
            "track_process" => track_block(cx, line, TrackKind::Process, &mut g.tracking.processes),
            "notify_master" => g.notify.master = cx.command(line).map(Box::new),
            "notify_backup" => g.notify.backup = cx.command(line).map(Box::new),
            "notify_fault" => g.notify.fault = cx.command(line).map(Box::new),
            "notify_stop" => g.notify.stop = cx.command(line).map(Box::new),
            "notify" => g.notify.any = cx.command(line).map(Box::new),
            "notify_deleted" => {
                g.notify.deleted = true;
                if !line.args().is_empty() {
                    g.notify.deleted_script = cx.command(line).map(Box::new);
                } else {
                    cx.no_block(line);
                }
            }
            "notify_priority_changes" => g.notify.priority_changes = cx.bool_arg(line),
            "sync_group_tracking_weight" => {
                cx.flag(line);
                g.tracking_weight = true;
            }
            "global_tracking" => {
                cx.flag(line);
                cx.report(
                    Code::Deprecated,
                    kw,
                    "global_tracking is deprecated; it means sync_group_tracking_weight",
                );
                g.tracking_weight = true;
            }
            "smtp_alert" | "track_bfd" => cx.not_implemented(line),
            _ => cx.unknown(line, "vrrp_sync_group"),
        }
    }
    Some(g)
}

pub(crate) fn track_group(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<RawTrackGroup> {
    let name = cx.arg(stmt, 0)?.clone();
    cx.at_most(stmt, 1);
    let lines = cx.block(stmt)?;
    let mut g = RawTrackGroup {
        name: name.text.clone(),
        span: name.span.clone(),
        members: Vec::new(),
    };
    for line in lines {
        match line.keyword().text.as_str() {
            "group" => g.members = names(cx, line),
            _ => cx.unknown(line, "track_group"),
        }
    }
    Some(g)
}

pub(crate) fn garp_group(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<GarpGroup> {
    cx.at_most(stmt, 0);
    let lines = cx.block(stmt)?;
    let mut g = GarpGroup {
        garp_interval: None,
        gna_interval: None,
        interfaces: Vec::new(),
        span: stmt.keyword().span.clone(),
    };
    let max = Duration::from_secs(u32::MAX.into());
    for line in lines {
        match line.keyword().text.as_str() {
            "garp_interval" => g.garp_interval = cx.timer_arg(line, Duration::ZERO, max),
            "gna_interval" => g.gna_interval = cx.timer_arg(line, Duration::ZERO, max),
            "interface" => {
                if let Some(s) = cx.string_arg(line) {
                    g.interfaces.push(s.v);
                }
            }
            "interfaces" => g
                .interfaces
                .extend(names(cx, line).into_iter().map(|n| n.v)),
            _ => cx.unknown(line, "garp_group"),
        }
    }
    if g.interfaces.is_empty() {
        cx.report(
            Code::MissingArgument,
            stmt.keyword(),
            "garp_group names no interface; ignored",
        );
        return None;
    }
    Some(g)
}

pub(crate) fn linkbeat_interfaces(cx: &mut Cx<'_>, stmt: &Stmt, out: &mut Vec<LinkbeatInterface>) {
    cx.at_most(stmt, 0);
    let Some(lines) = cx.block(stmt) else {
        return;
    };
    for line in lines {
        cx.no_block(line);
        cx.at_most(line, 1);
        let kind = match line.args().first().map(|t| t.text.as_str()) {
            None | Some("MII") => LinkbeatKind::Mii,
            Some("ETHTOOL") => LinkbeatKind::Ethtool,
            Some("IOCTL") => LinkbeatKind::Ioctl,
            Some(t) => {
                cx.report(
                    Code::InvalidValue,
                    &line.args()[0],
                    format!("'{t}' is not MII, ETHTOOL or IOCTL"),
                );
                LinkbeatKind::Mii
            }
        };
        out.push(LinkbeatInterface {
            interface: line.keyword().text.clone(),
            kind,
            span: line.keyword().span.clone(),
        });
    }
}

pub(crate) fn interface_delays(cx: &mut Cx<'_>, stmt: &Stmt, out: &mut Vec<InterfaceDelay>) {
    cx.at_most(stmt, 0);
    let Some(lines) = cx.block(stmt) else {
        return;
    };
    let max = Duration::from_secs(255);
    for line in lines {
        cx.no_block(line);
        cx.at_most(line, 2);
        let Some(down_tok) = cx.arg(line, 0) else {
            continue;
        };
        let mut delay = |tok| -> Option<Duration> {
            let d = cx.timer(tok, "delay")?;
            if d > max {
                cx.report(
                    Code::OutOfRange,
                    tok,
                    format!("delay {} is over 255 seconds", tok.text),
                );
                return None;
            }
            Some(d)
        };
        let Some(down) = delay(down_tok) else {
            continue;
        };
        let up = match line.args().get(1) {
            Some(t) => match delay(t) {
                Some(u) => u,
                None => continue,
            },
            None => down,
        };
        out.push(InterfaceDelay {
            interface: line.keyword().text.clone(),
            down,
            up,
            span: line.keyword().span.clone(),
        });
    }
}
