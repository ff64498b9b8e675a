//! `virtual_server_group`, `virtual_server` and `SSL` blocks (keepalived.conf(5) "LVS
//! CONFIGURATION"), into servers as written. Defaults that depend on other keywords and
//! keepalived's corrections are applied in `resolve::lvs`.

pub(crate) mod checkers;
pub(crate) mod global;
mod group;
pub(crate) mod http;
pub(crate) mod real_server;
mod ssl;
mod values;

use std::net::SocketAddr;
use std::time::Duration;

use baton_wire::Family;

use super::cx::{At, Cx};
use crate::diag::Code;
use crate::lvs::{Forwarding, Granularity, Protocol, Scheduler, SchedulerFlags};
use crate::model::{Command, Span};
use crate::syntax::Stmt;

pub(crate) use group::virtual_server_group;
pub(crate) use real_server::RawRealServer;
pub(crate) use ssl::ssl;
pub(crate) use values::{forwarding, set_command, socket, timing};

/// The longest timer keepalived accepts for checker timings.
pub(crate) const MAX_TIMER: Duration = Duration::from_secs(u32::MAX as u64);
/// keepalived's LVS_MAX_TIMEOUT: 31 days, for persistence and connection timeouts.
pub(crate) const LVS_MAX_TIMEOUT: i64 = 86_400 * 31;
/// IPVS weights are signed 32-bit.
pub(crate) const WEIGHT_MAX: i64 = i32::MAX as i64;

/// What a `virtual_server` line names, as written.
#[derive(Debug, Clone)]
pub(crate) enum RawAddress {
    Ip(SocketAddr),
    Fwmark(u32),
    Group(At<String>),
}

/// A `sorry_server` as written.
#[derive(Debug, Clone)]
pub(crate) struct RawSorry {
    pub address: SocketAddr,
    pub span: Span,
    /// The virtual server's method when the line was read (keepalived copies it then).
    pub inherited: Option<Forwarding>,
    pub forwarding: Option<Forwarding>,
    pub inhibit: bool,
}

/// Timings a virtual server or real server passes down to its checkers.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawTimings {
    pub connect_timeout: Option<Duration>,
    pub delay_loop: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
}

/// A `virtual_server` block as written.
#[derive(Debug, Clone)]
pub(crate) struct RawVirtualServer {
    /// The address words (after `virtual_server`).
    pub span: Span,
    pub name_len: u32,
    /// `virtual_server` and its arguments as written, for messages.
    pub written: String,
    pub address: RawAddress,
    pub family: Option<At<Family>>,
    pub protocol: Option<At<Protocol>>,
    pub scheduler: Option<At<Scheduler>>,
    pub flags: SchedulerFlags,
    pub ops: Option<Span>,
    pub forwarding: Option<At<Forwarding>>,
    pub persistence_timeout: Option<At<Duration>>,
    pub granularity: Option<At<Granularity>>,
    pub persistence_engine: Option<String>,
    pub quorum: Option<At<u32>>,
    pub hysteresis: Option<At<u32>>,
    pub quorum_up: Option<Command>,
    pub quorum_down: Option<Command>,
    pub alpha: bool,
    pub omega: bool,
    pub ha_suspend: Option<Span>,
    pub inhibit_on_failure: bool,
    pub virtualhost: Option<String>,
    pub weight: Option<u32>,
    pub timings: RawTimings,
    pub sorry: Option<RawSorry>,
    pub real_servers: Vec<RawRealServer>,
}

/// Virtual server keywords keepalived has that baton records nowhere.
const VS_NOT_IMPLEMENTED: &[&str] = &["smtp_alert", "snmp_name"];

/// `virtual_server IP [PORT] | fwmark N | group NAME { … }`.
pub(crate) fn virtual_server(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<RawVirtualServer> {
    let first = cx.arg(stmt, 0)?;
    let second = stmt.args().get(1);
    let written = stmt
        .words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let address = match first.text.as_str() {
        "fwmark" | "group" => {
            let Some(v) = second else {
                cx.report(
                    Code::MissingArgument,
                    first,
                    format!("'virtual_server {}' needs a value", first.text),
                );
                return None;
            };
            cx.at_most(stmt, 2);
            if first.text == "fwmark" {
                RawAddress::Fwmark(
                    u32::try_from(cx.int(v, 0, i64::from(u32::MAX), "fwmark")?).ok()?,
                )
            } else {
                RawAddress::Group(At::new(v.text.clone(), v))
            }
        }
        _ => {
            cx.at_most(stmt, 2);
            RawAddress::Ip(socket(cx, first, second, "virtual_server")?)
        }
    };
    let lines = cx.block(stmt)?;
    let last = stmt.args().last().unwrap_or(first);
    let name_len = (last.span.col + last.len).saturating_sub(first.span.col);
    let mut vs = RawVirtualServer {
        span: first.span.clone(),
        name_len,
        written,
        family: match &address {
            RawAddress::Ip(a) => Some(At {
                v: Family::of(&a.ip()),
                span: first.span.clone(),
            }),
            _ => None,
        },
        address,
        protocol: None,
        scheduler: None,
        flags: SchedulerFlags::default(),
        ops: None,
        forwarding: None,
        persistence_timeout: None,
        granularity: None,
        persistence_engine: None,
        quorum: None,
        hysteresis: None,
        quorum_up: None,
        quorum_down: None,
        alpha: false,
        omega: false,
        ha_suspend: None,
        inhibit_on_failure: false,
        virtualhost: None,
        weight: None,
        timings: RawTimings::default(),
        sorry: None,
        real_servers: Vec::new(),
    };
    let mut ip_family_given = false;
    for line in lines {
        let kw = line.keyword();
        match kw.text.as_str() {
            "ip_family" => {
                let Some(a) = cx.string_arg(line) else {
                    continue;
                };
                let f = match a.v.as_str() {
                    "inet" => Family::Ipv4,
                    "inet6" => Family::Ipv6,
                    _ => {
                        cx.report(
                            Code::InvalidValue,
                            &line.args()[0],
                            format!("'{}' is not an address family (inet or inet6)", a.v),
                        );
                        continue;
                    }
                };
                match &vs.family {
                    Some(cur) if cur.v != f && !ip_family_given => cx.report(
                        Code::LvsFamilyMismatch,
                        &line.args()[0],
                        format!(
                            "ip_family {} conflicts with the {} address of the virtual server; ignored",
                            a.v, cur.v
                        ),
                    ),
                    _ => {
                        vs.family = Some(At { v: f, span: a.span });
                        ip_family_given = true;
                    }
                }
            }
            "lb_algo" | "lvs_sched" => {
                if let Some(a) = cx.string_arg(line) {
                    match Scheduler::from_name(&a.v) {
                        Some(s) => vs.scheduler = Some(At { v: s, span: a.span }),
                        None => cx.report(
                            Code::InvalidValue,
                            &line.args()[0],
                            format!(
                                "'{}' is not a scheduler (rr wrr lc wlc lblc lblcr sh mh dh fo ovf sed nq twos)",
                                a.v
                            ),
                        ),
                    }
                }
            }
            "ops" => {
                cx.flag(line);
                vs.flags.one_packet = true;
                vs.ops = Some(kw.span.clone());
            }
            "flag-1" => {
                cx.flag(line);
                vs.flags.flag_1 = true;
            }
            "flag-2" => {
                cx.flag(line);
                vs.flags.flag_2 = true;
            }
            "flag-3" => {
                cx.flag(line);
                vs.flags.flag_3 = true;
            }
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                cx.flag(line);
                // keepalived takes these only after the matching scheduler.
                let wanted = if kw.text.starts_with("sh") {
                    Scheduler::Sh
                } else {
                    Scheduler::Mh
                };
                if vs.scheduler.as_ref().map(|s| s.v) == Some(wanted) {
                    if kw.text.ends_with("port") {
                        vs.flags.hash_port = true;
                    } else {
                        vs.flags.fallback = true;
                    }
                } else {
                    cx.report(
                        Code::InvalidValue,
                        kw,
                        format!(
                            "{} applies only to the {wanted} scheduler (set lb_algo {wanted} before it); ignored",
                            kw.text
                        ),
                    );
                }
            }
            "hashed" => {
                cx.flag(line);
                cx.report(
                    Code::Deprecated,
                    kw,
                    "'hashed' has no effect (keepalived ignores it too)",
                );
            }
            "lb_kind" | "lvs_method" => {
                if let Some(f) = forwarding(cx, line) {
                    vs.forwarding = Some(At::new(f, kw));
                }
            }
            "persistence_engine" => {
                if let Some(a) = cx.string_arg(line) {
                    vs.persistence_engine = Some(a.v);
                }
            }
            "persistence_timeout" => {
                cx.no_block(line);
                cx.at_most(line, 1);
                let t = match line.args().first() {
                    None => Some(Duration::from_secs(360)),
                    Some(tok) => cx
                        .int(tok, 1, LVS_MAX_TIMEOUT, "persistence_timeout")
                        .map(|v| Duration::from_secs(v as u64)),
                };
                if let Some(t) = t {
                    vs.persistence_timeout = Some(At::new(t, kw));
                }
            }
            "persistence_granularity" => {
                if let Some(g) = granularity(cx, line, vs.family.as_ref().map(|f| f.v)) {
                    vs.granularity = Some(At::new(g, kw));
                    if vs.family.is_none() {
                        let f = match g {
                            Granularity::V4Mask(_) => Family::Ipv4,
                            Granularity::V6Prefix(_) => Family::Ipv6,
                        };
                        vs.family = Some(At::new(f, kw));
                    }
                }
            }
            "protocol" => {
                if let Some(a) = cx.string_arg(line) {
                    let p = match a.v.to_ascii_uppercase().as_str() {
                        "TCP" => Protocol::Tcp,
                        "UDP" => Protocol::Udp,
                        "SCTP" => Protocol::Sctp,
                        _ => {
                            cx.report(
                                Code::InvalidValue,
                                &line.args()[0],
                                format!("'{}' is not a protocol (TCP, UDP or SCTP)", a.v),
                            );
                            continue;
                        }
                    };
                    vs.protocol = Some(At { v: p, span: a.span });
                }
            }
            "ha_suspend" => {
                cx.flag(line);
                vs.ha_suspend = Some(kw.span.clone());
            }
            "virtualhost" => vs.virtualhost = cx.string_arg(line).map(|s| s.v),
            "alpha" => {
                cx.flag(line);
                vs.alpha = true;
            }
            "omega" => {
                cx.flag(line);
                vs.omega = true;
            }
            "quorum_up" => set_command(cx, line, &mut vs.quorum_up),
            "quorum_down" => set_command(cx, line, &mut vs.quorum_down),
            "quorum" => {
                if let Some(q) = cx.int_arg(line, 1, i64::from(u32::MAX)) {
                    vs.quorum = Some(At::new(q as u32, kw));
                }
            }
            "hysteresis" => {
                if let Some(h) = cx.int_arg(line, 0, i64::from(u32::MAX)) {
                    vs.hysteresis = Some(At::new(h as u32, kw));
                }
            }
            "weight" => {
                if let Some(w) = cx.int_arg(line, 1, WEIGHT_MAX) {
                    vs.weight = Some(w as u32);
                }
            }
            "inhibit_on_failure" => {
                cx.flag(line);
                vs.inhibit_on_failure = true;
            }
            "sorry_server" => {
                cx.no_block(line);
                cx.at_most(line, 2);
                let Some(ip) = cx.arg(line, 0) else { continue };
                if let Some(a) = socket(cx, ip, line.args().get(1), "sorry_server") {
                    if vs.sorry.is_some() {
                        cx.report(
                            Code::Duplicate,
                            kw,
                            "'sorry_server' given again; this one counts",
                        );
                    }
                    vs.sorry = Some(RawSorry {
                        address: a,
                        span: ip.span.clone(),
                        inherited: vs.forwarding.as_ref().map(|f| f.v),
                        forwarding: None,
                        inhibit: false,
                    });
                }
            }
            "sorry_server_inhibit" => {
                cx.flag(line);
                match &mut vs.sorry {
                    Some(s) => s.inhibit = true,
                    None => cx.report(
                        Code::InvalidValue,
                        kw,
                        "sorry_server_inhibit before or without sorry_server; ignored",
                    ),
                }
            }
            "sorry_server_lvs_method" => {
                let f = forwarding(cx, line);
                match (&mut vs.sorry, f) {
                    (Some(s), Some(f)) => s.forwarding = Some(f),
                    (None, _) => cx.report(
                        Code::InvalidValue,
                        kw,
                        "sorry_server_lvs_method before or without sorry_server; ignored",
                    ),
                    _ => {}
                }
            }
            "real_server" => {
                let inherited = vs.forwarding.as_ref().map(|f| f.v);
                if let Some(rs) = real_server::real_server(cx, line, inherited) {
                    vs.real_servers.push(rs);
                }
            }
            k if timing(cx, line, k, &mut vs.timings, 1) => {}
            k if VS_NOT_IMPLEMENTED.contains(&k) => cx.not_implemented(line),
            _ => cx.unknown(line, "virtual_server"),
        }
    }
    Some(vs)
}

/// `persistence_granularity MASK|LEN`: an IPv4 netmask or an IPv6 prefix length;
/// without a known family, a dot says IPv4 (as keepalived decides).
fn granularity(cx: &mut Cx<'_>, stmt: &Stmt, family: Option<Family>) -> Option<Granularity> {
    cx.no_block(stmt);
    cx.at_most(stmt, 1);
    let tok = cx.arg(stmt, 0)?;
    let family = family.unwrap_or(if tok.text.contains('.') {
        Family::Ipv4
    } else {
        Family::Ipv6
    });
    match family {
        Family::Ipv6 => {
            Some(Granularity::V6Prefix(
                cx.int(tok, 1, 128, "IPv6 persistence_granularity")? as u8,
            ))
        }
        Family::Ipv4 => match tok.text.parse() {
            Ok(m) => Some(Granularity::V4Mask(m)),
            Err(_) => {
                cx.report(
                    Code::InvalidValue,
                    tok,
                    format!(
                        "persistence_granularity '{}' is not an IPv4 netmask",
                        tok.text
                    ),
                );
                None
            }
        },
    }
}
