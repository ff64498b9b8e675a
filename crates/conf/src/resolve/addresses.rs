//! Where an instance speaks and what it carries: its family, VIPs, source address,
//! unicast peers, multicast group and interface.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use baton_wire::{Family, Version};

use super::{diag, is_link_local};
use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{GlobalDefs, VirtualAddress, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::instance::RawInstance;

/// The family of an instance: that of its first VIP, else of its source address or first
/// unicast peer, else IPv4.
pub(super) fn family_of(raw: &RawInstance) -> Family {
    if let Some(v) = raw.vips.first() {
        return Family::of(&v.addr);
    }
    if let Some(s) = &raw.src_ip {
        return Family::of(&s.v);
    }
    if let Some(p) = raw.unicast_peers.first() {
        return Family::of(&p.v.addr);
    }
    Family::Ipv4
}

/// Keep the VIPs of the instance's family, once each; move the other address lists over.
pub(super) fn vips(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &mut RawInstance) {
    let name = &raw.name;
    let family = inst.family;
    // VIPs must all be of the instance's family; duplicates are dropped (found by address,
    // so a long list stays linear).
    let mut vips: Vec<VirtualAddress> = Vec::with_capacity(raw.vips.len());
    let mut seen: HashMap<IpAddr, usize> = HashMap::with_capacity(raw.vips.len());
    for v in std::mem::take(&mut raw.vips) {
        if Family::of(&v.addr) != family {
            diag(
                cx,
                Code::VipFamilyMix,
                &v.span,
                format!(
                    "({name}) {} is not {family} like the first address; ignored (put it in virtual_ipaddress_excluded)",
                    v.addr
                ),
            );
            continue;
        }
        if let Some(first) = seen.get(&v.addr).and_then(|&i| vips.get(i)) {
            cx.diags.push(
                Diagnostic::new(
                    Code::VipDuplicate,
                    v.span.clone(),
                    format!("({name}) {} is listed twice; ignored", v.addr),
                )
                .with_note(first.span.clone(), "first listed here"),
            );
            continue;
        }
        seen.insert(v.addr, vips.len());
        vips.push(v);
    }
    inst.vips = vips;
    inst.excluded_vips = std::mem::take(&mut raw.excluded_vips);
    inst.no_virtual_ipaddress = raw.no_virtual_ipaddress;
    inst.virtual_routes = std::mem::take(&mut raw.routes);
    inst.virtual_rules = std::mem::take(&mut raw.rules);
}

/// Source address, unicast peers and multicast group.
pub(super) fn sources(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &RawInstance, g: &GlobalDefs) {
    let name = &raw.name;
    let family = inst.family;
    let strict = inst.strict;
    // Addresses: source, unicast peers, multicast group.
    if let Some(src) = &raw.src_ip {
        if Family::of(&src.v) == family {
            inst.src_ip = Some(src.v);
        } else {
            diag(
                cx,
                Code::InvalidValue,
                &src.span,
                format!("({name}) source address {} is not {family}; ignored", src.v),
            );
        }
    }
    unicast(cx, inst, raw, strict, g);
    inst.mcast_group = match (&raw.mcast_dst, family) {
        (Some(m), f) if Family::of(&m.v) == f => m.v,
        (Some(m), _) => {
            diag(
                cx,
                Code::InvalidValue,
                &m.span,
                format!(
                    "({name}) mcast_dst_ip {} is not {family}; using the default group",
                    m.v
                ),
            );
            default_group(g, family)
        }
        (None, _) => default_group(g, family),
    };
    inst.track_src_ip = raw.track_src_ip;
    inst.dont_track_primary = raw.dont_track_primary;
    inst.promote_secondaries = raw.promote_secondaries;
}

/// The interface, which only unicast instances whose addresses all name a device may omit;
/// `false` if the instance cannot run without one (reported).
pub(super) fn interface(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &RawInstance) -> bool {
    let name = &raw.name;
    // Interface: needed unless unicast and every address names its device.
    inst.interface = raw.interface.as_ref().map(|i| i.v.clone());
    if inst.interface.is_none() {
        let all_have_dev = inst
            .vips
            .iter()
            .chain(&inst.excluded_vips)
            .all(|v| v.dev.is_some());
        if inst.unicast_peers.is_empty() || !all_have_dev {
            cx.diags.push(
                Diagnostic::new(
                    Code::InterfaceRequired,
                    raw.span.clone(),
                    format!("vrrp_instance {name} has no interface (only unicast instances whose addresses all name a dev may omit it); instance ignored"),
                )
                .with_len(raw.name_len),
            );
            return false;
        }
    }

    true
}

/// An instance without VIPs, and strict mode's rule on the first IPv6 one.
pub(super) fn check_vips(cx: &mut Cx<'_>, inst: &VrrpInstance, raw: &RawInstance) {
    let name = &raw.name;
    let (family, version, strict) = (inst.family, inst.version, inst.strict);
    // No VIPs: a warning, an error where the protocol needs them.
    if inst.vips.is_empty() && !inst.no_virtual_ipaddress {
        let span = raw.span.clone();
        if version == Version::V3 || strict {
            cx.diags.push(
                Diagnostic::new(
                    Code::NoVips,
                    span,
                    format!("({name}) no virtual_ipaddress: VRRPv3 and strict mode need at least one (no_virtual_ipaddress silences this)"),
                )
                .with_severity(Severity::Error)
                .with_len(raw.name_len),
            );
        } else {
            cx.diags.push(
                Diagnostic::new(Code::NoVips, span, format!("({name}) no virtual_ipaddress"))
                    .with_len(raw.name_len),
            );
        }
    }
    if strict
        && family == Family::Ipv6
        && let Some(first) = inst.vips.first()
        && !is_link_local(&first.addr)
    {
        diag(
            cx,
            Code::StrictMode,
            &first.span,
            format!("({name}) strict mode requires the first IPv6 address to be link-local"),
        );
    }
}

fn default_group(g: &GlobalDefs, family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(g.mcast_group4),
        Family::Ipv6 => IpAddr::V6(g.mcast_group6),
    }
}

fn unicast(
    cx: &mut Cx<'_>,
    inst: &mut VrrpInstance,
    raw: &RawInstance,
    strict: bool,
    g: &GlobalDefs,
) {
    let name = &raw.name;
    inst.unicast_ttl = raw.unicast_ttl;
    inst.unicast_fault_no_peer = raw.unicast_fault_no_peer;
    if strict && !raw.unicast_peers.is_empty() {
        diag(
            cx,
            Code::StrictMode,
            &raw.unicast_peers[0].span,
            format!("({name}) strict mode does not allow unicast peers; using multicast"),
        );
        return;
    }
    let mut ttl_checks = false;
    let vips: HashMap<IpAddr, &VirtualAddress> = inst.vips.iter().map(|v| (v.addr, v)).collect();
    let mut peers = std::mem::take(&mut inst.unicast_peers);
    let mut listed: HashSet<IpAddr> = HashSet::new();
    for p in &raw.unicast_peers {
        let addr = p.v.addr;
        if Family::of(&addr) != inst.family {
            diag(
                cx,
                Code::UnicastPeerInvalid,
                &p.span,
                format!(
                    "({name}) unicast peer {addr} is not {}; ignored",
                    inst.family
                ),
            );
            continue;
        }
        if inst.src_ip == Some(addr) {
            let src = raw.src_ip.as_ref().map(|s| s.span.clone());
            let mut d = Diagnostic::new(
                Code::UnicastPeerInvalid,
                p.span.clone(),
                format!(
                    "({name}) unicast peer {addr} is our own source address; ignored (list the other nodes)"
                ),
            );
            if let Some(s) = src {
                d = d.with_note(s, "our source address");
            }
            cx.diags.push(d);
            continue;
        }
        if let Some(v) = vips.get(&addr) {
            cx.diags.push(
                Diagnostic::new(
                    Code::UnicastPeerInvalid,
                    p.span.clone(),
                    format!(
                        "({name}) unicast peer {addr} is one of our virtual addresses; ignored"
                    ),
                )
                .with_note(v.span.clone(), "the virtual address"),
            );
            continue;
        }
        if listed.contains(&addr) {
            let first_span = raw
                .unicast_peers
                .iter()
                .filter(|q| q.v.addr == addr)
                .map(|q| q.span.clone())
                .next();
            let mut d = Diagnostic::new(
                Code::UnicastPeerDuplicate,
                p.span.clone(),
                format!("({name}) unicast peer {addr} is listed twice; ignored"),
            );
            if let Some(s) = first_span {
                d = d.with_note(s, "first listed here");
            }
            cx.diags.push(d);
            continue;
        }
        ttl_checks |= p.v.min_ttl.is_some() || p.v.max_ttl.is_some();
        listed.insert(addr);
        peers.push(p.v.clone());
    }
    inst.unicast_peers = peers;
    // "Specifying min_ttl or max_ttl turns on check_unicast_src."
    inst.check_unicast_src = raw.check_unicast_src.unwrap_or(g.check_unicast_src) || ttl_checks;
}
