//! Lines of `virtual_ipaddress`, `virtual_ipaddress_excluded` and `static_ipaddress`
//! (keepalived.conf(5); the options follow `ip address add`), and the value readers the
//! route and rule lines share.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_wire::Family;

use super::cx::Cx;
use crate::diag::{Code, Severity};
use crate::model::{Broadcast, Scope, VirtualAddress};
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
pub(super) fn prefix(cx: &mut Cx<'_>, tok: &Token, what: &str) -> Option<(IpAddr, u8)> {
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
pub(super) fn destination(cx: &mut Cx<'_>, tok: &Token, inet6: bool) -> Option<(IpAddr, u8)> {
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

pub(super) fn table(cx: &mut Cx<'_>, tok: &Token) -> Option<u32> {
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

pub(super) fn protocol(cx: &mut Cx<'_>, tok: &Token) -> Option<u8> {
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
pub(super) fn value<'s>(
    cx: &mut Cx<'_>,
    words: &'s [Token],
    i: &mut usize,
    opt: &Token,
) -> Option<&'s Token> {
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

pub(super) fn check_family(cx: &mut Cx<'_>, tok: &Token, want: &IpAddr, got: &IpAddr) -> bool {
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
