//! `real_server IP [PORT] { … }` inside a virtual server.

use std::net::SocketAddr;

use super::checkers::{self, RawChecker};
use super::{RawTimings, WEIGHT_MAX, set_command, socket, timing};
use crate::lvs::Forwarding;
use crate::model::{Command, Span};
use crate::parse::cx::Cx;
use crate::syntax::Stmt;

/// A `real_server` block as written.
#[derive(Debug, Clone)]
pub(crate) struct RawRealServer {
    pub span: Span,
    pub name_len: u32,
    pub address: SocketAddr,
    pub weight: Option<u32>,
    /// The virtual server's method when the block was read (keepalived copies it then).
    pub inherited: Option<Forwarding>,
    pub forwarding: Option<Forwarding>,
    pub inhibit_on_failure: Option<bool>,
    pub alpha: Option<bool>,
    pub notify_up: Option<Command>,
    pub notify_down: Option<Command>,
    pub uthreshold: Option<(u32, Span)>,
    pub lthreshold: Option<(u32, Span)>,
    pub virtualhost: Option<String>,
    pub timings: RawTimings,
    pub checkers: Vec<RawChecker>,
}

/// Real server keywords keepalived has that baton records nowhere.
const RS_NOT_IMPLEMENTED: &[&str] = &["smtp_alert", "snmp_name"];

pub(crate) fn real_server(
    cx: &mut Cx<'_>,
    stmt: &Stmt,
    inherited: Option<Forwarding>,
) -> Option<RawRealServer> {
    let ip = cx.arg(stmt, 0)?;
    cx.at_most(stmt, 2);
    let address = socket(cx, ip, stmt.args().get(1), "real_server")?;
    let last = stmt.args().last().unwrap_or(ip);
    let mut rs = RawRealServer {
        span: ip.span.clone(),
        name_len: (last.span.col + last.len).saturating_sub(ip.span.col),
        address,
        weight: None,
        inherited,
        forwarding: None,
        inhibit_on_failure: None,
        alpha: None,
        notify_up: None,
        notify_down: None,
        uthreshold: None,
        lthreshold: None,
        virtualhost: None,
        timings: RawTimings::default(),
        checkers: Vec::new(),
    };
    // keepalived accepts a real server without a block (it has no checkers then).
    let Some(block) = &stmt.block else {
        return Some(rs);
    };
    for line in &block.stmts {
        let kw = line.keyword();
        match kw.text.as_str() {
            "weight" => {
                if let Some(w) = cx.int_arg(line, 0, WEIGHT_MAX) {
                    rs.weight = Some(w as u32);
                }
            }
            "lvs_method" => {
                if let Some(f) = super::forwarding(cx, line) {
                    rs.forwarding = Some(f);
                }
            }
            "uthreshold" | "lthreshold" => {
                if let Some(v) = cx.int_arg(line, 0, i64::from(u32::MAX)) {
                    let slot = if kw.text == "uthreshold" {
                        &mut rs.uthreshold
                    } else {
                        &mut rs.lthreshold
                    };
                    *slot = Some((v as u32, kw.span.clone()));
                }
            }
            "inhibit_on_failure" => {
                if let Some(b) = cx.bool_arg(line) {
                    rs.inhibit_on_failure = Some(b);
                }
            }
            "alpha" => {
                if let Some(b) = cx.bool_arg(line) {
                    rs.alpha = Some(b);
                }
            }
            "notify_up" => set_command(cx, line, &mut rs.notify_up),
            "notify_down" => set_command(cx, line, &mut rs.notify_down),
            "virtualhost" => rs.virtualhost = cx.string_arg(line).map(|s| s.v),
            k if timing(cx, line, k, &mut rs.timings, 1) => {}
            k if checkers::is_checker(k) => {
                if let Some(c) = checkers::checker(cx, line) {
                    rs.checkers.extend(c);
                }
            }
            k if RS_NOT_IMPLEMENTED.contains(&k) => cx.not_implemented(line),
            _ => cx.unknown(line, "real_server"),
        }
    }
    Some(rs)
}
