//! Values of virtual and real server keywords: addresses with ports, forwarding methods,
//! the checker timings servers pass down, notify commands.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{MAX_TIMER, RawTimings};
use crate::diag::Code;
use crate::lvs::{Forwarding, TunnelChecksum, TunnelType};
use crate::model::Command;
use crate::parse::cx::Cx;
use crate::syntax::{Stmt, Token};

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
    let mut kind = TunnelKind::Ipip;
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
                        "ipip" => kind = TunnelKind::Ipip,
                        "gue" => kind = TunnelKind::Gue,
                        "gre" => kind = TunnelKind::Gre,
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
        (TunnelKind::Gue, Some(port)) => TunnelType::Gue { port },
        (TunnelKind::Gue, None) => {
            cx.report(Code::MissingArgument, method, "a gue tunnel needs 'port N'");
            return None;
        }
        (_, Some(_)) => {
            cx.report(Code::InvalidValue, method, "only gue tunnels take a port");
            return None;
        }
        (TunnelKind::Gre, None) => TunnelType::Gre,
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

/// The tunnel types `lvs_method TUN type …` names.
#[derive(Clone, Copy)]
enum TunnelKind {
    Ipip,
    Gue,
    Gre,
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
