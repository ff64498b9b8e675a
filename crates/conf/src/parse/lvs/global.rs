//! The LVS keywords of `global_defs` (keepalived's global_parser.c).

use std::net::IpAddr;
use std::path::PathBuf;

use super::LVS_MAX_TIMEOUT;
use crate::diag::Code;
use crate::lvs::{FlushOnStop, LvsGlobal, LvsSyncDaemon};
use crate::model::{Command, NotifyFifo};
use crate::parse::cx::{At, Cx};
use crate::syntax::Stmt;

/// The LVS side of `global_defs` as written.
#[derive(Debug, Default)]
pub(crate) struct RawLvsGlobal {
    pub defs: LvsGlobal,
    pub notify_fifo_script: Option<Command>,
    /// `lvs_sync_daemon_interface IF` of instances, with the instance's name.
    pub legacy_sync: Vec<(String, At<String>)>,
}

/// Handle `line` if it is an LVS keyword of `global_defs`; whether it was.
pub(crate) fn keyword(cx: &mut Cx<'_>, line: &Stmt, g: &mut RawLvsGlobal) -> bool {
    let kw = line.keyword();
    match kw.text.as_str() {
        "lvs_sync_daemon" => sync_daemon(cx, line, &mut g.defs),
        "lvs_timeouts" => timeouts(cx, line, &mut g.defs),
        "lvs_flush" => {
            cx.flag(line);
            g.defs.flush = true;
        }
        "lvs_flush_on_stop" | "lvs_flush_onstop" => {
            if kw.text == "lvs_flush_onstop" {
                cx.report(
                    Code::Deprecated,
                    kw,
                    "lvs_flush_onstop is a deprecated name of lvs_flush_on_stop",
                );
            }
            cx.no_block(line);
            cx.at_most(line, 1);
            match line.args().first() {
                None => g.defs.flush_on_stop = FlushOnStop::Full,
                Some(a) if a.text == "VS" => g.defs.flush_on_stop = FlushOnStop::VirtualServers,
                Some(a) => cx.report(
                    Code::InvalidValue,
                    a,
                    format!(
                        "'{}' is not a lvs_flush_on_stop type (VS or nothing)",
                        a.text
                    ),
                ),
            }
        }
        "lvs_notify_fifo" => {
            cx.no_block(line);
            cx.at_most(line, 3);
            if let Some(p) = cx.arg(line, 0) {
                g.defs.notify_fifo = Some(NotifyFifo {
                    path: PathBuf::from(&p.text),
                    script: None,
                    span: p.span.clone(),
                });
            }
        }
        "lvs_notify_fifo_script" => g.notify_fifo_script = cx.command(line),
        "rs_init_notifies" => {
            if let Some(b) = cx.bool_arg(line) {
                g.defs.rs_init_notifies = b;
            }
        }
        "checker_log_all_failures" => {
            if let Some(b) = cx.bool_arg(line) {
                g.defs.checker_log_all_failures = b;
            }
        }
        _ => return false,
    }
    true
}

/// `lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]`; the old
/// form `lvs_sync_daemon IF VI [SYNCID]` too.
fn sync_daemon(cx: &mut Cx<'_>, line: &Stmt, g: &mut LvsGlobal) {
    cx.no_block(line);
    let kw = line.keyword();
    if let Some(prev) = &g.sync_daemon {
        cx.report(
            Code::Duplicate,
            kw,
            format!(
                "lvs_sync_daemon is already set to {}; this one is ignored",
                prev.interface
            ),
        );
        return;
    }
    let Some(ifname) = cx.arg(line, 0) else {
        return;
    };
    if ifname.text.len() > 15 {
        cx.report(
            Code::InvalidValue,
            ifname,
            format!(
                "lvs_sync_daemon interface '{}' is longer than 15 characters; ignored",
                ifname.text
            ),
        );
        return;
    }
    let mut s = LvsSyncDaemon {
        interface: ifname.text.clone(),
        instance: None,
        sync_id: None,
        max_len: None,
        port: None,
        ttl: None,
        group: None,
        span: ifname.span.clone(),
    };
    let args = line.args();
    let mut i = 1;
    while i < args.len() {
        let w = &args[i];
        let value = args.get(i + 1);
        let option = matches!(
            w.text.as_str(),
            "inst" | "id" | "maxlen" | "port" | "ttl" | "group"
        );
        if option {
            let Some(v) = value else {
                cx.report(
                    Code::MissingArgument,
                    w,
                    format!("lvs_sync_daemon '{}' needs a value", w.text),
                );
                break;
            };
            match w.text.as_str() {
                "inst" => {
                    if let Some(prev) = &s.instance {
                        cx.report(
                            Code::Duplicate,
                            w,
                            format!("lvs_sync_daemon instance is already {prev}; ignored"),
                        );
                    } else {
                        s.instance = Some(v.text.clone());
                    }
                }
                "id" => s.sync_id = cx.int(v, 0, 255, "lvs_sync_daemon id").map(|n| n as u8),
                "maxlen" => {
                    s.max_len = cx
                        .int(v, 1, 65_535 - 20 - 8, "lvs_sync_daemon maxlen")
                        .map(|n| n as u16)
                }
                "port" => {
                    s.port = cx
                        .int(v, 1, 65_535, "lvs_sync_daemon port")
                        .map(|n| n as u16)
                }
                "ttl" => s.ttl = cx.int(v, 1, 255, "lvs_sync_daemon ttl").map(|n| n as u8),
                _ => match v.text.parse::<IpAddr>() {
                    Ok(a) if a.is_multicast() => s.group = Some(a),
                    _ => cx.report(
                        Code::InvalidValue,
                        v,
                        format!(
                            "lvs_sync_daemon group '{}' is not a multicast address",
                            v.text
                        ),
                    ),
                },
            }
            i += 2;
            continue;
        }
        // The old positional form: IF INSTANCE [SYNCID].
        match i {
            1 if s.instance.is_none() => s.instance = Some(w.text.clone()),
            2 => {
                cx.report(
                    Code::Deprecated,
                    w,
                    "write 'id' before the lvs_sync_daemon sync id",
                );
                s.sync_id = cx.int(w, 0, 255, "lvs_sync_daemon id").map(|n| n as u8);
            }
            _ => cx.report(
                Code::InvalidValue,
                w,
                format!("'{}' is not an lvs_sync_daemon option", w.text),
            ),
        }
        i += 1;
    }
    g.sync_daemon = Some(s);
}

/// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]`.
fn timeouts(cx: &mut Cx<'_>, line: &Stmt, g: &mut LvsGlobal) {
    cx.no_block(line);
    let args = line.args();
    if args.len() < 2 {
        cx.report(
            Code::MissingArgument,
            line.keyword(),
            "lvs_timeouts needs at least one of tcp, tcpfin, udp with a value",
        );
        return;
    }
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        let slot = match w.text.as_str() {
            "tcp" => &mut g.timeouts.tcp,
            "tcpfin" => &mut g.timeouts.tcp_fin,
            "udp" => &mut g.timeouts.udp,
            _ => {
                cx.report(
                    Code::InvalidValue,
                    w,
                    format!(
                        "'{}' is not an lvs_timeouts option (tcp, tcpfin, udp)",
                        w.text
                    ),
                );
                i += 1;
                continue;
            }
        };
        let Some(v) = args.get(i + 1) else {
            cx.report(
                Code::MissingArgument,
                w,
                format!("lvs_timeouts {} needs a value", w.text),
            );
            break;
        };
        if let Some(n) = cx.int(v, 0, LVS_MAX_TIMEOUT, &format!("lvs_timeouts {}", w.text)) {
            *slot = Some(n as u32);
        }
        i += 2;
    }
}
