//! Lines of `virtual_routes` and `static_routes` (the options of `ip route add`, without
//! abbreviations).

use std::net::{IpAddr, Ipv4Addr};

use super::address::{Owner, check_family, destination, protocol, scope, table, value};
use super::cx::Cx;
use crate::diag::{Code, Severity};
use crate::model::{Nexthop, RouteKind, VirtualRoute};
use crate::syntax::{Stmt, Token};

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
        span: words[0].span.clone(),
        ..VirtualRoute::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
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
