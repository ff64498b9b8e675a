//! `virtual_server_group NAME { … }`: addresses, ranges, prefixes and firewall marks.

use std::net::IpAddr;

use baton_wire::Family;

use crate::diag::{Code, Diagnostic};
use crate::lvs::{GroupEntry, VirtualServerGroup};
use crate::parse::cx::Cx;
use crate::syntax::Stmt;

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
