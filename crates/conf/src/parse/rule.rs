//! Lines of `virtual_rules` and `static_rules` (the options of `ip rule add`, without
//! abbreviations).

use baton_wire::Family;

use super::address::{Owner, prefix, protocol, table, value};
use super::cx::Cx;
use crate::diag::{Code, Severity};
use crate::model::{RouteKind, VirtualRule};
use crate::syntax::{Stmt, Token};

fn port_range(cx: &mut Cx<'_>, tok: &Token, what: &str) -> Option<(u16, u16)> {
    let (a, b) = match tok.text.split_once('-') {
        Some((a, b)) => (a, b),
        None => (tok.text.as_str(), tok.text.as_str()),
    };
    match (a.parse::<u16>(), b.parse::<u16>()) {
        (Ok(a), Ok(b)) if a <= b => Some((a, b)),
        _ => {
            cx.report(
                Code::InvalidValue,
                tok,
                format!("{what} '{}' is not a port or port range", tok.text),
            );
            None
        }
    }
}

/// One rule line.
pub(crate) fn rule(cx: &mut Cx<'_>, stmt: &Stmt, owner: Owner) -> Option<VirtualRule> {
    cx.no_block(stmt);
    let words = &stmt.words;
    // No table until the line names one.
    let mut r = VirtualRule {
        table: None,
        span: words[0].span.clone(),
        ..VirtualRule::new(Family::Ipv4, 0)
    };
    let mut family: Option<Family> = None;
    let mut note_family = |cx: &mut Cx<'_>, f: Family, tok: &Token| -> bool {
        match family {
            Some(g) if g != f => {
                cx.report(
                    Code::InvalidValue,
                    tok,
                    format!("'{}' mixes IPv4 and IPv6 in one rule", tok.text),
                );
                false
            }
            _ => {
                family = Some(f);
                true
            }
        }
    };
    let mut i = 0;
    while i < words.len() {
        let opt = &words[i];
        match opt.text.as_str() {
            "from" | "to" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                if v.text != "all" {
                    let p = prefix(cx, v, &opt.text)?;
                    if !note_family(cx, Family::of(&p.0), v) {
                        return None;
                    }
                    if opt.text == "from" {
                        r.from = Some(p);
                    } else {
                        r.to = Some(p);
                    }
                }
            }
            "table" | "lookup" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.table = table(cx, v);
            }
            "iif" | "dev" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.iif = Some(v.text.clone());
            }
            "oif" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.oif = Some(v.text.clone());
            }
            "fwmark" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                let num = |s: &str| match s.strip_prefix("0x") {
                    Some(h) => u32::from_str_radix(h, 16).ok(),
                    None => s.parse::<u32>().ok(),
                };
                let parsed = match v.text.split_once('/') {
                    Some((m, mask)) => num(m).zip(num(mask)).map(|(m, k)| (m, Some(k))),
                    None => num(&v.text).map(|m| (m, None)),
                };
                if parsed.is_none() {
                    cx.report(
                        Code::InvalidValue,
                        v,
                        format!("fwmark '{}' is not MARK[/MASK]", v.text),
                    );
                }
                r.fwmark = parsed;
            }
            "tos" | "dsfield" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.tos = cx.int(v, 0, 255, "tos").map(|t| t as u8);
            }
            "preference" | "priority" | "order" | "pref" | "prio" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.preference = cx
                    .int(v, 0, u32::MAX.into(), "preference")
                    .map(|p| p as u32);
            }
            "goto" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.goto = cx.int(v, 0, u32::MAX.into(), "goto").map(|p| p as u32);
            }
            "ip_proto" | "ipproto" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.ip_proto = match v.text.to_ascii_lowercase().as_str() {
                    "tcp" => Some(6),
                    "udp" => Some(17),
                    "icmp" => Some(1),
                    "ipv6-icmp" | "icmpv6" => Some(58),
                    "sctp" => Some(132),
                    _ => cx.int(v, 0, 255, "ip_proto").map(|p| p as u8),
                };
            }
            "sport" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.sport = port_range(cx, v, "sport");
            }
            "dport" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.dport = port_range(cx, v, "dport");
            }
            "uidrange" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                let parsed = v
                    .text
                    .split_once('-')
                    .and_then(|(a, b)| a.parse::<u32>().ok().zip(b.parse::<u32>().ok()));
                if parsed.is_none() {
                    cx.report(
                        Code::InvalidValue,
                        v,
                        format!("uidrange '{}' is not A-B", v.text),
                    );
                }
                r.uidrange = parsed;
            }
            "suppress_prefixlength" | "sup_pl" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.suppress_prefixlength = cx
                    .int(v, 0, u32::MAX.into(), "suppress_prefixlength")
                    .map(|p| p as u32);
            }
            "protocol" | "proto" => {
                // The rule's own routing protocol; recorded by the kernel only.
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                let _ = protocol(cx, v);
            }
            "realms" | "suppress_ifgroup" | "sup_group" => {
                cx.report_sev(
                    Code::NotImplemented,
                    Severity::Warning,
                    opt,
                    format!(
                        "rule option '{}' is not implemented by baton; ignored",
                        opt.text
                    ),
                );
                if value(cx, words, &mut i, opt).is_none() {
                    break;
                }
            }
            "l3mdev" => r.l3mdev = true,
            "blackhole" => r.action = Some(RouteKind::Blackhole),
            "unreachable" => r.action = Some(RouteKind::Unreachable),
            "prohibit" => r.action = Some(RouteKind::Prohibit),
            "no_track" => r.no_track = true,
            "inet6" => {
                if !note_family(cx, Family::Ipv6, opt) {
                    return None;
                }
            }
            "inet" => {}
            "track_group" if owner == Owner::Static => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.track_group = Some(v.text.clone());
            }
            t => cx.report_sev(
                Code::UnknownKeyword,
                Severity::Warning,
                opt,
                format!("unknown rule option '{t}'; ignored"),
            ),
        }
        i += 1;
    }
    if let Some(f) = family {
        r.family = f;
    }
    Some(r)
}
