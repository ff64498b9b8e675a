//! `virtual_server_group`, `virtual_server` and `SSL` blocks (keepalived.conf(5) "LVS
//! CONFIGURATION"), into servers as written. Defaults that depend on other keywords and
//! keepalived's corrections are applied in `resolve::lvs`.

pub(crate) mod checkers;
pub(crate) mod global;
pub(crate) mod http;
pub(crate) mod real_server;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use baton_wire::Family;

use super::cx::{At, Cx};
use crate::diag::{Code, Diagnostic};
use crate::lvs::{
    Forwarding, Granularity, GroupEntry, Protocol, Scheduler, SchedulerFlags, SslContext,
    TunnelChecksum, TunnelType, VirtualServerGroup,
};
use crate::model::{Command, Span};
use crate::syntax::{Stmt, Token};

pub(crate) use real_server::RawRealServer;

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

/// `IP [PORT]`: a port of 0 (or none) means none; keepalived reads "000" as 0 too.
pub(crate) fn socket(
    cx: &mut Cx<'_>,
    ip: &Token,
    port: Option<&Token>,
    what: &str,
) -> Option<SocketAddr> {
    let addr: IpAddr = match ip.text.parse() {
        Ok(a) => a,
        Err(_) => {
            cx.report(
                Code::InvalidValue,
                ip,
                format!("{what} address '{}' is not an IP address", ip.text),
            );
            return None;
        }
    };
    let port = match port {
        None => 0,
        Some(p) if !p.text.is_empty() && p.text.bytes().all(|b| b == b'0') => 0,
        Some(p) => u16::try_from(cx.int(p, 1, 65_535, &format!("{what} port"))?).ok()?,
    };
    Some(SocketAddr::new(addr, port))
}

/// `NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
pub(crate) fn forwarding(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<Forwarding> {
    cx.no_block(stmt);
    let method = cx.arg(stmt, 0)?;
    let rest = &stmt.args()[1..];
    match method.text.as_str() {
        "NAT" | "DR" => {
            cx.at_most(stmt, 1);
            return Some(if method.text == "NAT" {
                Forwarding::Nat
            } else {
                Forwarding::Dr
            });
        }
        "TUN" => {}
        _ => {
            cx.report(
                Code::InvalidValue,
                method,
                format!(
                    "'{}' is not a forwarding method (NAT, DR or TUN)",
                    method.text
                ),
            );
            return None;
        }
    }
    let mut kind = "ipip";
    let mut port: Option<u16> = None;
    let mut checksum: Option<(TunnelChecksum, &Token)> = None;
    let mut i = 0;
    while i < rest.len() {
        let w = &rest[i];
        match w.text.as_str() {
            "type" | "port" => {
                let Some(v) = rest.get(i + 1) else {
                    cx.report(
                        Code::MissingArgument,
                        w,
                        format!("TUN '{}' needs a value", w.text),
                    );
                    return None;
                };
                if w.text == "type" {
                    match v.text.as_str() {
                        "ipip" | "gue" | "gre" => kind = leak_kind(&v.text),
                        _ => {
                            cx.report(
                                Code::InvalidValue,
                                v,
                                format!("'{}' is not a tunnel type (ipip, gue or gre)", v.text),
                            );
                            return None;
                        }
                    }
                } else {
                    port = Some(u16::try_from(cx.int(v, 1, 65_535, "gue tunnel port")?).ok()?);
                }
                i += 2;
            }
            "nocsum" => {
                checksum = Some((TunnelChecksum::NoCsum, w));
                i += 1;
            }
            "csum" => {
                checksum = Some((TunnelChecksum::Csum, w));
                i += 1;
            }
            "remcsum" => {
                checksum = Some((TunnelChecksum::RemCsum, w));
                i += 1;
            }
            _ => {
                cx.report(
                    Code::InvalidValue,
                    w,
                    format!("'{}' is not a tunnel option", w.text),
                );
                return None;
            }
        }
    }
    let tunnel = match (kind, port) {
        ("gue", Some(port)) => TunnelType::Gue { port },
        ("gue", None) => {
            cx.report(Code::MissingArgument, method, "a gue tunnel needs 'port N'");
            return None;
        }
        (_, Some(_)) => {
            cx.report(Code::InvalidValue, method, "only gue tunnels take a port");
            return None;
        }
        ("gre", None) => TunnelType::Gre,
        _ => TunnelType::Ipip,
    };
    let checksum = match (tunnel, checksum) {
        (_, None) => TunnelChecksum::NoCsum,
        (TunnelType::Ipip, Some((c, tok))) if c != TunnelChecksum::NoCsum => {
            cx.report(
                Code::InvalidValue,
                tok,
                "ipip tunnels have no checksum option",
            );
            return None;
        }
        (TunnelType::Gre, Some((TunnelChecksum::RemCsum, tok))) => {
            cx.report(
                Code::InvalidValue,
                tok,
                "gre tunnels have no remote checksum option",
            );
            return None;
        }
        (_, Some((c, _))) => c,
    };
    Some(Forwarding::Tun { tunnel, checksum })
}

fn leak_kind(s: &str) -> &'static str {
    match s {
        "gue" => "gue",
        "gre" => "gre",
        _ => "ipip",
    }
}

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

/// A notify command keepalived takes once (`quorum_up`, `notify_up`…): the first counts.
pub(crate) fn set_command(cx: &mut Cx<'_>, stmt: &Stmt, slot: &mut Option<Command>) {
    if slot.is_some() {
        let kw = stmt.keyword();
        cx.report(
            Code::Duplicate,
            kw,
            format!("'{}' given again; the first one counts", kw.text),
        );
        return;
    }
    *slot = cx.command(stmt);
}

/// The checker timings a virtual or real server sets for its checkers: `connect_timeout`,
/// `delay_loop`, `retry`, `delay_before_retry`, `warmup`. `min_retry` is 1 on servers
/// (keepalived refuses 0 there) and 0 in checkers. Whether `k` was one of them.
pub(crate) fn timing(
    cx: &mut Cx<'_>,
    stmt: &Stmt,
    k: &str,
    t: &mut RawTimings,
    min_retry: i64,
) -> bool {
    match k {
        "connect_timeout" => {
            if let Some(d) = cx.timer_arg(
                stmt,
                Duration::from_micros(1),
                Duration::from_micros(u64::from(u32::MAX)),
            ) {
                t.connect_timeout = Some(d);
            }
        }
        "delay_loop" => {
            if let Some(d) = cx.timer_arg(stmt, Duration::from_micros(1), MAX_TIMER) {
                t.delay_loop = Some(d);
            }
        }
        "delay_before_retry" => {
            if let Some(d) = cx.timer_arg(stmt, Duration::ZERO, MAX_TIMER) {
                t.delay_before_retry = Some(d);
            }
        }
        "warmup" => {
            if let Some(d) = cx.timer_arg(stmt, Duration::ZERO, MAX_TIMER) {
                t.warmup = Some(d);
            }
        }
        "retry" => {
            if let Some(r) = cx.int_arg(stmt, min_retry, i64::from(u32::MAX)) {
                t.retry = Some(r as u32);
            }
        }
        _ => return false,
    }
    true
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

/// `virtual_server_group NAME { entries }`.
pub(crate) fn virtual_server_group(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<VirtualServerGroup> {
    let name = cx.arg(stmt, 0)?.clone();
    cx.at_most(stmt, 1);
    let lines = cx.block(stmt)?;
    let mut g = VirtualServerGroup {
        name: name.text.clone(),
        span: name.span.clone(),
        entries: Vec::new(),
    };
    let mut fwmark_no_family = false;
    for line in lines {
        cx.no_block(line);
        if let Some(e) = group_entry(cx, line, &mut fwmark_no_family) {
            g.entries.push(e);
        }
    }
    let (v4, v6) = (g.has_family(Family::Ipv4), g.has_family(Family::Ipv6));
    if g.entries.is_empty() {
        cx.diags.push(
            Diagnostic::new(
                Code::InvalidValue,
                name.span.clone(),
                format!("virtual_server_group {} has no entries; removed", name.text),
            )
            .with_len(name.len),
        );
        return None;
    }
    if v4 && v6 && fwmark_no_family {
        cx.diags.push(
            Diagnostic::new(
                Code::LvsFamilyMismatch,
                name.span.clone(),
                format!(
                    "virtual_server_group {} has IPv4 and IPv6 entries and an fwmark without inet|inet6; removed",
                    name.text
                ),
            )
            .with_len(name.len),
        );
        return None;
    }
    Some(g)
}

fn group_entry(cx: &mut Cx<'_>, line: &Stmt, fwmark_no_family: &mut bool) -> Option<GroupEntry> {
    let first = line.keyword();
    let span = first.span.clone();
    if first.text == "fwmark" {
        cx.at_most(line, 2);
        let v = cx.arg(line, 0)?;
        let mark = u32::try_from(cx.int(v, 0, i64::from(u32::MAX), "fwmark")?).ok()?;
        let family = match line.args().get(1) {
            None => {
                *fwmark_no_family = true;
                None
            }
            Some(f) if f.text == "inet" => Some(Family::Ipv4),
            Some(f) if f.text == "inet6" => Some(Family::Ipv6),
            Some(f) => {
                cx.report(
                    Code::InvalidValue,
                    f,
                    format!("'{}' is not an address family (inet or inet6)", f.text),
                );
                return None;
            }
        };
        return Some(GroupEntry::Fwmark { mark, family, span });
    }
    cx.at_most(line, 1);
    let text = first.text.as_str();
    let port = match line.args().first() {
        None => 0,
        Some(p) if p.text.bytes().all(|b| b == b'0') => 0,
        Some(p) => u16::try_from(cx.int(p, 1, 65_535, "virtual_server_group port")?).ok()?,
    };
    let bad = |cx: &mut Cx<'_>, why: &str| {
        cx.report(
            Code::InvalidValue,
            first,
            format!("virtual_server_group entry '{text}' {why}; skipped"),
        );
    };
    let (base, rest) = match text.find(['-', '/']) {
        Some(i) => (&text[..i], Some((&text[i..i + 1], &text[i + 1..]))),
        None => (text, None),
    };
    let Ok(first_addr) = base.parse::<IpAddr>() else {
        bad(cx, "is not an address, range or prefix");
        return None;
    };
    let last = match rest {
        None => first_addr,
        Some(("/", len)) => {
            let max = if first_addr.is_ipv4() { 32 } else { 128 };
            let Some(len) = len.parse::<u32>().ok().filter(|l| (1..=max).contains(l)) else {
                bad(cx, &format!("has a prefix length outside 1..{max}"));
                return None;
            };
            let host_bits = max - len;
            let (lo, hi) = match first_addr {
                IpAddr::V4(a) => {
                    let v = u32::from(a);
                    let mask = if host_bits == 32 {
                        u32::MAX
                    } else {
                        (1u32 << host_bits) - 1
                    };
                    if v & mask != 0 {
                        bad(cx, "has host bits set");
                        return None;
                    }
                    (first_addr, IpAddr::V4((v | mask).into()))
                }
                IpAddr::V6(a) => {
                    let v = u128::from(a);
                    let mask = if host_bits == 128 {
                        u128::MAX
                    } else {
                        (1u128 << host_bits) - 1
                    };
                    if v & mask != 0 {
                        bad(cx, "has host bits set");
                        return None;
                    }
                    (first_addr, IpAddr::V6((v | mask).into()))
                }
            };
            debug_assert_eq!(lo, first_addr);
            hi
        }
        Some((_, end)) => {
            let full_end = match first_addr {
                IpAddr::V4(_) => end.contains('.'),
                IpAddr::V6(_) => end.contains(':'),
            };
            if full_end {
                let Ok(last) = end.parse::<IpAddr>() else {
                    bad(cx, "has an invalid range end");
                    return None;
                };
                if Family::of(&last) != Family::of(&first_addr) {
                    bad(cx, "mixes address families");
                    return None;
                }
                if last < first_addr {
                    bad(cx, "ends before it starts");
                    return None;
                }
                last
            } else {
                // Only the last byte (IPv4, decimal) or the last group (IPv6, hex) ranges.
                match first_addr {
                    IpAddr::V4(a) => {
                        let Some(e) = end.parse::<u8>().ok() else {
                            bad(cx, "has a range end that is not 0..255");
                            return None;
                        };
                        let o = a.octets();
                        if e <= o[3] {
                            bad(cx, "has a range end not above its start");
                            return None;
                        }
                        IpAddr::V4([o[0], o[1], o[2], e].into())
                    }
                    IpAddr::V6(a) => {
                        let Some(e) = u16::from_str_radix(end, 16).ok() else {
                            bad(cx, "has a range end that is not hex 0..ffff");
                            return None;
                        };
                        let mut s = a.segments();
                        if e <= s[7] {
                            bad(cx, "has a range end not above its start");
                            return None;
                        }
                        s[7] = e;
                        IpAddr::V6(s.into())
                    }
                }
            }
        }
    };
    Some(GroupEntry::Addresses {
        first: first_addr,
        last,
        port,
        span,
    })
}

/// `SSL { password; ca; certificate; key }`.
pub(crate) fn ssl(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<SslContext> {
    cx.at_most(stmt, 0);
    let lines = cx.block(stmt)?;
    let mut s = SslContext {
        span: stmt.keyword().span.clone(),
        ..SslContext::default()
    };
    for line in lines {
        let kw = line.keyword().text.as_str();
        match kw {
            "password" => s.password = cx.string_arg(line).map(|a| a.v),
            "ca" => s.ca = cx.string_arg(line).map(|a| PathBuf::from(a.v)),
            "certificate" => s.certificate = cx.string_arg(line).map(|a| PathBuf::from(a.v)),
            "key" => s.key = cx.string_arg(line).map(|a| PathBuf::from(a.v)),
            _ => cx.unknown(line, "SSL"),
        }
    }
    Some(s)
}
