//! Lines of `virtual_ipaddress`, `virtual_ipaddress_excluded`, `static_ipaddress`,
//! `virtual_routes`, `static_routes`, `virtual_rules` and `static_rules` (keepalived.conf(5);
//! the options follow `ip address/route/rule add`, without abbreviations).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_wire::Family;

use super::cx::Cx;
use crate::diag::{Code, Severity};
use crate::model::{
    Broadcast, Nexthop, RouteKind, Scope, VirtualAddress, VirtualRoute, VirtualRule,
};
use crate::syntax::{Stmt, Token};

/// Which list a line belongs to: static lines may name a `track_group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Instance,
    Static,
}

fn max_prefix(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `IP[/LEN]`.
fn prefix(cx: &mut Cx<'_>, tok: &Token, what: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match tok.text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (tok.text.as_str(), None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        cx.report(
            Code::InvalidValue,
            tok,
            format!("{what} '{}' is not an IP address or prefix", tok.text),
        );
        return None;
    };
    let max = max_prefix(&ip);
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                cx.report(
                    Code::InvalidValue,
                    tok,
                    format!("prefix length '/{l}' of '{}' is not 0..{max}", tok.text),
                );
                return None;
            }
        },
    };
    Some((ip, len))
}

/// `default`, `any` and `all` are the whole address space.
fn destination(cx: &mut Cx<'_>, tok: &Token, inet6: bool) -> Option<(IpAddr, u8)> {
    match tok.text.as_str() {
        "default" | "any" | "all" => Some(if inet6 {
            (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
        } else {
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
        }),
        _ => prefix(cx, tok, "destination"),
    }
}

pub(crate) fn scope(cx: &mut Cx<'_>, tok: &Token) -> Option<Scope> {
    Some(match tok.text.as_str() {
        "global" | "universe" => Scope::Global,
        "site" => Scope::Site,
        "link" => Scope::Link,
        "host" => Scope::Host,
        "nowhere" => Scope::Nowhere,
        t => match t.parse::<u8>() {
            Ok(0) => Scope::Global,
            Ok(200) => Scope::Site,
            Ok(253) => Scope::Link,
            Ok(254) => Scope::Host,
            Ok(255) => Scope::Nowhere,
            Ok(n) => Scope::Other(n),
            Err(_) => {
                cx.report(
                    Code::InvalidValue,
                    tok,
                    format!("'{t}' is not a scope (site|link|host|nowhere|global)"),
                );
                return None;
            }
        },
    })
}

fn table(cx: &mut Cx<'_>, tok: &Token) -> Option<u32> {
    match tok.text.as_str() {
        "main" => Some(254),
        "local" => Some(255),
        "default" => Some(253),
        t => match t.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                cx.report(
                    Code::InvalidValue,
                    tok,
                    format!("table '{t}' is not a number or main|local|default"),
                );
                None
            }
        },
    }
}

fn protocol(cx: &mut Cx<'_>, tok: &Token) -> Option<u8> {
    match tok.text.as_str() {
        "redirect" => Some(1),
        "kernel" => Some(2),
        "boot" => Some(3),
        "static" => Some(4),
        "ra" => Some(9),
        "keepalived" => Some(18),
        "bird" => Some(12),
        "zebra" => Some(11),
        _ => cx
            .int(tok, 0, 255, "protocol")
            .and_then(|v| u8::try_from(v).ok()),
    }
}

/// Consume the argument of option `opt` at `*i`.
fn value<'s>(cx: &mut Cx<'_>, words: &'s [Token], i: &mut usize, opt: &Token) -> Option<&'s Token> {
    *i += 1;
    let v = words.get(*i);
    if v.is_none() {
        cx.report(
            Code::MissingArgument,
            opt,
            format!("'{}' needs a value", opt.text),
        );
    }
    v
}

fn check_family(cx: &mut Cx<'_>, tok: &Token, want: &IpAddr, got: &IpAddr) -> bool {
    if Family::of(want) == Family::of(got) {
        return true;
    }
    cx.report(
        Code::InvalidValue,
        tok,
        format!("'{}' is not of the family of {want}", tok.text),
    );
    false
}

/// One address line.
pub(crate) fn address(cx: &mut Cx<'_>, stmt: &Stmt, owner: Owner) -> Option<VirtualAddress> {
    cx.no_block(stmt);
    let words = &stmt.words;
    let first = &words[0];
    let (ip, len) = prefix(cx, first, "address")?;
    let mut a = VirtualAddress::new(ip);
    a.prefix_len = len;
    a.span = first.span.clone();
    let v6 = ip.is_ipv6();
    let mut i = 1;
    while i < words.len() {
        let opt = &words[i];
        match opt.text.as_str() {
            "brd" | "broadcast" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                if v6 {
                    cx.report(
                        Code::InvalidValue,
                        opt,
                        "brd is for IPv4 addresses; ignored",
                    );
                } else {
                    a.brd = match v.text.as_str() {
                        "+" => Some(Broadcast::Set),
                        "-" => Some(Broadcast::Clear),
                        t => match t.parse::<Ipv4Addr>() {
                            Ok(b) => Some(Broadcast::Addr(b)),
                            Err(_) => {
                                cx.report(
                                    Code::InvalidValue,
                                    v,
                                    format!("brd '{t}' is not an IPv4 address, + or -"),
                                );
                                None
                            }
                        },
                    };
                }
            }
            "dev" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                a.dev = Some(v.text.clone());
            }
            "scope" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                let s = scope(cx, v);
                if v6 {
                    cx.report(
                        Code::InvalidValue,
                        opt,
                        "scope is not supported for IPv6 addresses; ignored",
                    );
                } else if let Some(s) = s {
                    a.scope = s;
                }
            }
            "label" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                if v6 {
                    cx.report(
                        Code::InvalidValue,
                        opt,
                        "label is not supported for IPv6 addresses; ignored",
                    );
                } else if v.text.chars().count() > 15 {
                    cx.report(
                        Code::InvalidValue,
                        v,
                        format!("label '{}' is longer than 15 characters; ignored", v.text),
                    );
                } else {
                    a.label = Some(v.text.clone());
                }
            }
            "peer" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                if let Some((p, _)) = prefix(cx, v, "peer")
                    && check_family(cx, v, &ip, &p)
                {
                    a.peer = Some(p);
                }
            }
            "preferred_lft" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                if v.text == "forever" {
                    a.preferred_forever = true;
                } else if v.text.parse::<u32>().is_err() {
                    cx.report(
                        Code::InvalidValue,
                        v,
                        format!("preferred_lft '{}' is not a number or forever", v.text),
                    );
                }
            }
            "track_group" if owner == Owner::Static => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                a.track_group = Some(v.text.clone());
            }
            "home" => a.home = true,
            "-nodad" => a.nodad = false,
            "nodad" => a.nodad = true,
            "mngtmpaddr" => a.mngtmpaddr = true,
            "noprefixroute" => a.noprefixroute = true,
            "autojoin" => a.autojoin = true,
            "no_track" => a.no_track = true,
            "use_vmac" if owner == Owner::Instance => a.use_vmac = true,
            t => cx.report_sev(
                Code::UnknownKeyword,
                Severity::Warning,
                opt,
                format!("unknown option '{t}' for address {}; ignored", first.text),
            ),
        }
        i += 1;
    }
    Some(a)
}

/// Route options keepalived passes to the kernel that baton does not model; each takes one
/// value (`lock` may precede it).
const ROUTE_PASSTHROUGH: &[&str] = &[
    "hoplimit",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "realms",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "features",
    "pref",
    "congctl",
    "fastopen_no_cookie",
    "quickack",
    "expires",
    "vrf",
    "realm",
];

/// One route line.
pub(crate) fn route(cx: &mut Cx<'_>, stmt: &Stmt, owner: Owner) -> Option<VirtualRoute> {
    cx.no_block(stmt);
    let words = &stmt.words;
    let inet6 = words.iter().any(|w| w.text == "inet6");
    let mut r = VirtualRoute {
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst_len: 0,
        src: None,
        via: None,
        dev: None,
        scope: None,
        table: None,
        metric: None,
        kind: RouteKind::Unicast,
        onlink: false,
        no_track: false,
        nexthops: Vec::new(),
        protocol: None,
        tos: None,
        mtu: None,
        append: false,
        track_group: None,
        span: words[0].span.clone(),
    };
    let mut dst: Option<(IpAddr, u8)> = None;
    let mut gateways: Vec<(&Token, IpAddr)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let opt = &words[i];
        match opt.text.as_str() {
            "src" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.src = Some(cx.ip(v, "src")?);
            }
            "to" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                dst = Some(destination(cx, v, inet6)?);
            }
            "via" | "gw" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                let gw = cx.ip(v, "gateway")?;
                r.via = Some(gw);
                gateways.push((v, gw));
            }
            "or" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                let gw = cx.ip(v, "gateway")?;
                gateways.push((v, gw));
                r.nexthops.push(Nexthop {
                    via: Some(gw),
                    dev: None,
                    weight: None,
                    onlink: false,
                });
            }
            "dev" | "oif" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.dev = Some(v.text.clone());
            }
            "scope" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.scope = scope(cx, v);
            }
            "table" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.table = table(cx, v);
            }
            "metric" | "priority" | "preference" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.metric = cx.int(v, 0, u32::MAX.into(), &opt.text).map(|m| m as u32);
            }
            "protocol" | "proto" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.protocol = protocol(cx, v);
            }
            "tos" | "dsfield" => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.tos = cx.int(v, 0, 255, "tos").map(|t| t as u8);
            }
            "mtu" => {
                let Some(mut v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                if v.text == "lock" {
                    let Some(next) = value(cx, words, &mut i, opt) else {
                        break;
                    };
                    v = next;
                }
                r.mtu = cx.int(v, 0, u32::MAX.into(), "mtu").map(|m| m as u32);
            }
            "nexthop" => {
                let (nh, next) = nexthop(cx, words, i + 1);
                if let Some(nh) = nh {
                    r.nexthops.push(nh);
                }
                i = next;
                continue;
            }
            "blackhole" => r.kind = RouteKind::Blackhole,
            "unreachable" => r.kind = RouteKind::Unreachable,
            "prohibit" => r.kind = RouteKind::Prohibit,
            "onlink" => r.onlink = true,
            "no_track" => r.no_track = true,
            "append" => r.append = true,
            "prepend" => r.append = false,
            "inet6" | "inet" => {}
            "track_group" if owner == Owner::Static => {
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                r.track_group = Some(v.text.clone());
            }
            t if ROUTE_PASSTHROUGH.contains(&t) => {
                cx.report_sev(
                    Code::NotImplemented,
                    Severity::Warning,
                    opt,
                    format!("route option '{t}' is not implemented by baton; ignored"),
                );
                let Some(v) = value(cx, words, &mut i, opt) else {
                    break;
                };
                // `lock` comes before the value (`ssthresh lock 107`).
                if v.text == "lock" && value(cx, words, &mut i, opt).is_none() {
                    break;
                }
            }
            _ if dst.is_none() => dst = Some(destination(cx, opt, inet6)?),
            t => {
                cx.report_sev(
                    Code::UnknownKeyword,
                    Severity::Warning,
                    opt,
                    format!("unknown route option '{t}'; ignored"),
                );
            }
        }
        i += 1;
    }
    let Some((d, len)) = dst else {
        cx.report(Code::MissingArgument, &words[0], "route has no destination");
        return None;
    };
    r.dst = d;
    r.dst_len = len;
    for (tok, gw) in gateways {
        if !check_family(cx, tok, &d, &gw) {
            return None;
        }
    }
    if let Some(src) = r.src
        && !check_family(cx, &words[0], &d, &src)
    {
        return None;
    }
    Some(r)
}

/// `nexthop via IP dev IF weight N onlink`, up to the next `nexthop`.
fn nexthop(cx: &mut Cx<'_>, words: &[Token], mut i: usize) -> (Option<Nexthop>, usize) {
    let mut nh = Nexthop {
        via: None,
        dev: None,
        weight: None,
        onlink: false,
    };
    let mut ok = true;
    while i < words.len() && words[i].text != "nexthop" {
        let opt = &words[i];
        match opt.text.as_str() {
            "via" | "gw" => match value(cx, words, &mut i, opt) {
                Some(v) => {
                    nh.via = cx.ip(v, "nexthop gateway").or_else(|| {
                        ok = false;
                        None
                    })
                }
                None => ok = false,
            },
            "dev" => match value(cx, words, &mut i, opt) {
                Some(v) => nh.dev = Some(v.text.clone()),
                None => ok = false,
            },
            "weight" => match value(cx, words, &mut i, opt) {
                Some(v) => nh.weight = cx.int(v, 1, 256, "nexthop weight").map(|w| w as u16),
                None => ok = false,
            },
            "onlink" => nh.onlink = true,
            t => cx.report_sev(
                Code::UnknownKeyword,
                Severity::Warning,
                opt,
                format!("unknown nexthop option '{t}'; ignored"),
            ),
        }
        i += 1;
    }
    (ok.then_some(nh), i)
}

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
    let mut r = VirtualRule {
        family: Family::Ipv4,
        from: None,
        to: None,
        table: None,
        iif: None,
        oif: None,
        fwmark: None,
        tos: None,
        preference: None,
        goto: None,
        l3mdev: false,
        ip_proto: None,
        sport: None,
        dport: None,
        uidrange: None,
        suppress_prefixlength: None,
        action: None,
        no_track: false,
        track_group: None,
        span: words[0].span.clone(),
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
