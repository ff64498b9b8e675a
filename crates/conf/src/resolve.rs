//! keepalived's defaults and normalisations, folded into the model so consumers see what will
//! actually run: global values copied into each instance, `state MASTER` without a priority
//! making an owner, strict mode rules, the owner's and v2's restrictions. Every change to
//! what was written is reported.

use std::net::IpAddr;
use std::time::Duration;

use baton_wire::{Family, Version};

use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{
    Authentication, GarpGroup, GarpSettings, GlobalDefs, InitialState, Span, VrrpInstance,
};
use crate::parse::cx::Cx;
use crate::parse::global::RawGlobal;
use crate::parse::instance::RawInstance;
use crate::parse::trackers::RawTracking;

fn diag(cx: &mut Cx<'_>, code: Code, span: &Span, message: impl Into<String>) {
    cx.diags.push(Diagnostic::new(code, span.clone(), message));
}

fn warn(cx: &mut Cx<'_>, code: Code, span: &Span, message: impl Into<String>) {
    cx.diags
        .push(Diagnostic::new(code, span.clone(), message).with_severity(Severity::Warning));
}

/// `global_defs` with the defaults that depend on other global keywords.
pub(crate) fn global(cx: &mut Cx<'_>, raw: &mut RawGlobal) -> GlobalDefs {
    let mut g = std::mem::take(&mut raw.defs);
    if raw.min_garp {
        // vrrp_min_garp: one message, no second burst.
        g.garp.master_repeat = 1;
        g.garp.master_delay = Duration::ZERO;
    }
    g.garp.lower_prio_repeat = raw.lower_prio_repeat.unwrap_or(g.garp.master_repeat);
    g.garp.lower_prio_delay = raw.lower_prio_delay.unwrap_or(g.garp.master_delay);
    if g.strict {
        if let Some(fh) = &raw.fast_handover
            && fh.v
        {
            warn(
                cx,
                Code::FastHandoverStrict,
                &fh.span,
                "vrrp_strict turns fast_handover off",
            );
        }
        g.fast_handover = false;
    }
    for (fifo, script, name) in [
        (
            &mut g.notify_fifo,
            raw.notify_fifo_script.take(),
            "notify_fifo",
        ),
        (
            &mut g.vrrp_notify_fifo,
            raw.vrrp_notify_fifo_script.take(),
            "vrrp_notify_fifo",
        ),
    ] {
        let Some(script) = script else { continue };
        match fifo {
            Some(f) => f.script = Some(script),
            None => diag(
                cx,
                Code::MissingArgument,
                &script.span,
                format!("{name}_script without {name}; ignored"),
            ),
        }
    }
    g
}

/// The family of an instance: that of its first VIP, else of its source address or first
/// unicast peer, else IPv4.
fn family_of(raw: &RawInstance) -> Family {
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

/// A whole number of centiseconds (VRRPv3's unit), rounded to the nearest.
fn round_to_centis(d: Duration) -> Duration {
    let centis = (d.as_micros() + 5_000) / 10_000;
    Duration::from_millis(u64::try_from(centis * 10).unwrap_or(u64::MAX))
}

/// An instance with defaults applied, or `None` if it cannot run (reported). Its trackers
/// are returned as written, to be resolved once every tracker and group is known.
pub(crate) fn instance(
    cx: &mut Cx<'_>,
    mut raw: RawInstance,
    g: &GlobalDefs,
    global_fast_handover_explicit: bool,
    garp_groups: &[GarpGroup],
) -> Option<(VrrpInstance, RawTracking)> {
    let name = raw.name.clone();
    let Some(vrid) = raw.vrid.as_ref().map(|v| v.v) else {
        if !raw.vrid_invalid {
            cx.diags.push(
                Diagnostic::new(
                    Code::VridMissing,
                    raw.span.clone(),
                    format!("vrrp_instance {name} has no virtual_router_id; instance ignored"),
                )
                .with_len(raw.name_len),
            );
        } else {
            cx.diags.push(
                Diagnostic::new(
                    Code::VridMissing,
                    raw.span.clone(),
                    format!(
                        "vrrp_instance {name} has no valid virtual_router_id; instance ignored"
                    ),
                )
                .with_len(raw.name_len),
            );
        }
        return None;
    };
    let family = family_of(&raw);
    let mut inst = VrrpInstance::new(&name, vrid, family);
    inst.span = raw.span.clone();

    // VIPs must all be of the instance's family; duplicates are dropped.
    let mut vips = Vec::with_capacity(raw.vips.len());
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
        if let Some(first) = vips
            .iter()
            .find(|x: &&crate::model::VirtualAddress| x.addr == v.addr)
        {
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
        vips.push(v);
    }
    inst.vips = vips;
    inst.excluded_vips = std::mem::take(&mut raw.excluded_vips);
    inst.no_virtual_ipaddress = raw.no_virtual_ipaddress;
    inst.virtual_routes = std::mem::take(&mut raw.routes);
    inst.virtual_rules = std::mem::take(&mut raw.rules);

    // Version: written, else global; IPv6 always runs VRRPv3.
    let mut version = raw.version.as_ref().map_or(g.vrrp_version, |v| v.v);
    if family == Family::Ipv6 && version == Version::V2 {
        if let Some(v) = &raw.version {
            diag(
                cx,
                Code::Ipv6InV2,
                &v.span,
                format!("({name}) IPv6 addresses need VRRPv3; using version 3"),
            );
        }
        version = Version::V3;
    }
    inst.version = version;
    inst.strict = raw.strict.as_ref().map_or(g.strict, |s| s.v);
    let strict = inst.strict;

    // Priority and state.
    let state = raw.state.as_ref().map(|s| s.v);
    inst.priority = match (&raw.priority, state) {
        (Some(p), _) => p.v,
        (None, Some(InitialState::Master)) if !raw.priority_invalid => {
            let span = raw.state.as_ref().map_or(&raw.span, |s| &s.span);
            warn(
                cx,
                Code::MasterOwner,
                span,
                format!(
                    "({name}) state MASTER without priority makes this instance the address owner (priority 255); give a priority below 255 unless it owns the addresses"
                ),
            );
            255
        }
        _ => 100,
    };
    inst.state = state.unwrap_or(if inst.priority == 255 {
        InitialState::Master
    } else {
        InitialState::Backup
    });
    if strict {
        let state_span = raw.state.as_ref().map_or(&raw.span, |s| &s.span);
        if inst.state == InitialState::Master && inst.priority != 255 {
            diag(
                cx,
                Code::StrictMode,
                state_span,
                format!(
                    "({name}) strict mode allows state MASTER only with priority 255; using BACKUP"
                ),
            );
            inst.state = InitialState::Backup;
        } else if inst.state == InitialState::Backup && inst.priority == 255 {
            diag(
                cx,
                Code::StrictMode,
                state_span,
                format!(
                    "({name}) strict mode requires state MASTER with priority 255; using MASTER"
                ),
            );
            inst.state = InitialState::Master;
        }
    }

    // Advert interval.
    inst.advert_int = advert_int(cx, &raw, version, &name);

    // Authentication: VRRPv2 only, not in strict mode.
    if let Some(auth) = raw.auth.take() {
        if version == Version::V3 {
            diag(
                cx,
                Code::AuthV3,
                &auth.span,
                format!("({name}) VRRPv3 has no authentication; authentication ignored"),
            );
        } else if strict {
            diag(
                cx,
                Code::StrictMode,
                &auth.span,
                format!("({name}) strict mode does not allow authentication; ignored"),
            );
        } else {
            if let Authentication::Ah(_) = auth.v {
                diag(
                    cx,
                    Code::AuthInvalid,
                    &auth.span,
                    format!(
                        "({name}) auth_type AH (IPsec) is not implemented; peers using it will not be understood"
                    ),
                );
            }
            inst.auth = Some(auth.v);
        }
    }

    // Preemption.
    inst.nopreempt = raw.nopreempt.is_some();
    inst.preempt_delay = raw.preempt_delay.as_ref().map_or(Duration::ZERO, |d| d.v);
    if inst.state == InitialState::Master && inst.priority != 255 {
        if let Some(span) = &raw.nopreempt {
            diag(
                cx,
                Code::PreemptWithMaster,
                span,
                format!(
                    "({name}) nopreempt does not work with state MASTER; nopreempt cleared (use state BACKUP on every node)"
                ),
            );
            inst.nopreempt = false;
        }
        if let Some(d) = raw.preempt_delay.as_ref().filter(|d| !d.v.is_zero()) {
            diag(
                cx,
                Code::PreemptWithMaster,
                &d.span,
                format!(
                    "({name}) preempt_delay does not work with state MASTER; cleared (use state BACKUP)"
                ),
            );
            inst.preempt_delay = Duration::ZERO;
        }
    }
    if inst.priority == 255 {
        if let Some(span) = raw.nopreempt.as_ref().filter(|_| inst.nopreempt) {
            warn(
                cx,
                Code::OwnerAdjusted,
                span,
                format!(
                    "({name}) the address owner (priority 255) always preempts; nopreempt ignored"
                ),
            );
            inst.nopreempt = false;
        }
        if let Some(d) = raw
            .preempt_delay
            .as_ref()
            .filter(|_| !inst.preempt_delay.is_zero())
        {
            warn(
                cx,
                Code::OwnerAdjusted,
                &d.span,
                format!(
                    "({name}) the address owner (priority 255) does not delay preemption; preempt_delay ignored"
                ),
            );
            inst.preempt_delay = Duration::ZERO;
        }
    }
    if strict && !inst.preempt_delay.is_zero() {
        let span = raw.preempt_delay.as_ref().map_or(&raw.span, |d| &d.span);
        diag(
            cx,
            Code::StrictMode,
            span,
            format!("({name}) strict mode does not allow preempt_delay; cleared"),
        );
        inst.preempt_delay = Duration::ZERO;
    }

    // Accept mode: on unless strict (then only the owner accepts).
    inst.accept = match &raw.accept {
        Some(a) if strict && a.v && version == Version::V2 => {
            diag(
                cx,
                Code::StrictMode,
                &a.span,
                format!("({name}) strict mode does not allow accept with VRRPv2; no_accept used"),
            );
            false
        }
        Some(a) => a.v,
        None => !strict || inst.priority == 255,
    };

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
    unicast(cx, &mut inst, &raw, strict);
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
            return None;
        }
    }

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

    // VMAC.
    inst.use_vmac = raw.use_vmac;
    inst.vmac_name = raw.vmac_name.take();
    if let Some((octets, _)) = &raw.vmac_mac {
        let mut mac = [0u8; 6];
        mac[..octets.len()].copy_from_slice(octets);
        if octets.len() == 5 {
            mac[5] = vrid;
        }
        inst.vmac_mac = Some(mac);
    }
    inst.vmac_xmit_base = raw.vmac_xmit_base.is_some();
    if strict && let Some(span) = &raw.vmac_xmit_base {
        diag(
            cx,
            Code::StrictMode,
            span,
            format!("({name}) strict mode does not allow vmac_xmit_base; cleared"),
        );
        inst.vmac_xmit_base = false;
    }

    // GARP, timers and advert handling, from global_defs unless overridden.
    inst.garp = garp(
        cx,
        &raw,
        g,
        strict,
        inst.interface.as_deref(),
        garp_groups,
        &name,
    );
    inst.down_timer_adverts = raw
        .down_timer_adverts
        .as_ref()
        .map_or(g.down_timer_adverts, |d| d.v);
    if strict && inst.down_timer_adverts != 3 {
        let span = raw
            .down_timer_adverts
            .as_ref()
            .map_or(&raw.span, |d| &d.span);
        diag(
            cx,
            Code::StrictMode,
            span,
            format!("({name}) strict mode requires down_timer_adverts 3; using 3"),
        );
        inst.down_timer_adverts = 3;
    }
    inst.lower_prio_no_advert = strict_flag(
        cx,
        &raw.lower_prio_no_advert,
        if strict { true } else { g.lower_prio_no_advert },
        strict.then_some(true),
        "lower_prio_no_advert",
        &name,
    );
    inst.higher_prio_send_advert = strict_flag(
        cx,
        &raw.higher_prio_send_advert,
        if strict {
            false
        } else {
            g.higher_prio_send_advert
        },
        strict.then_some(false),
        "higher_prio_send_advert",
        &name,
    );
    inst.owner_ignore_adverts = strict_flag(
        cx,
        &raw.owner_ignore_adverts,
        strict || g.owner_ignore_adverts,
        strict.then_some(true),
        "owner_ignore_adverts",
        &name,
    );
    inst.skip_check_adv_addr = raw.skip_check_adv_addr.unwrap_or(g.skip_check_adv_addr);
    inst.v3_checksum_as_v2 = raw.v3_checksum_as_v2.unwrap_or(g.v3_checksum_as_v2);

    // fast_handover: baton's, on unless strict.
    let fh_explicit = raw.fast_handover.as_ref().map(|f| f.v);
    inst.fast_handover = fh_explicit.unwrap_or(g.fast_handover);
    if strict {
        if let Some(f) = raw.fast_handover.as_ref().filter(|f| f.v) {
            warn(
                cx,
                Code::FastHandoverStrict,
                &f.span,
                format!("({name}) strict mode turns fast_handover off"),
            );
        } else if fh_explicit.is_none()
            && !g.strict
            && g.fast_handover
            && global_fast_handover_explicit
        {
            // Strict only here, fast_handover asked for globally.
            warn(
                cx,
                Code::FastHandoverStrict,
                raw.strict.as_ref().map_or(&raw.span, |s| &s.span),
                format!("({name}) strict mode turns the global fast_handover off here"),
            );
        }
        inst.fast_handover = false;
    }

    let mut notify = std::mem::take(&mut raw.notify);
    if notify.priority_changes.is_none() {
        notify.priority_changes = Some(g.notify_priority_changes);
    }
    inst.notify = notify;
    Some((inst, std::mem::take(&mut raw.tracking)))
}

fn default_group(g: &GlobalDefs, family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(g.mcast_group4),
        Family::Ipv6 => IpAddr::V6(g.mcast_group6),
    }
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(v4) => v4.is_link_local(),
    }
}

/// A flag strict mode pins to `forced`: an explicit contrary setting is reported.
fn strict_flag(
    cx: &mut Cx<'_>,
    written: &Option<crate::parse::cx::At<bool>>,
    default: bool,
    forced: Option<bool>,
    what: &str,
    name: &str,
) -> bool {
    match (written, forced) {
        (Some(w), Some(f)) if w.v != f => {
            diag(
                cx,
                Code::StrictMode,
                &w.span,
                format!(
                    "({name}) strict mode requires {what} {}; overridden",
                    if f { "on" } else { "off" }
                ),
            );
            f
        }
        (Some(w), _) => w.v,
        (None, _) => default,
    }
}

fn advert_int(cx: &mut Cx<'_>, raw: &RawInstance, version: Version, name: &str) -> Duration {
    let one = Duration::from_secs(1);
    let Some(a) = &raw.advert_int else {
        return one;
    };
    let d = a.v;
    if d < Duration::from_millis(10) {
        diag(
            cx,
            Code::AdvertIntRange,
            &a.span,
            format!("({name}) advert_int must be at least 0.01 seconds; using 1"),
        );
        return one;
    }
    match version {
        Version::V2 => {
            if d > Duration::from_secs(255) {
                diag(
                    cx,
                    Code::AdvertIntV2,
                    &a.span,
                    format!("({name}) a VRRPv2 advert_int is at most 255 seconds; using 1"),
                );
                return one;
            }
            if d.subsec_nanos() != 0 {
                let secs = (d.as_secs_f64().round() as u64).max(1);
                diag(
                    cx,
                    Code::AdvertIntV2,
                    &a.span,
                    format!(
                        "({name}) VRRPv2 adverts carry whole seconds; advert_int {} becomes {secs} (use version 3 for sub-second intervals)",
                        d.as_secs_f64()
                    ),
                );
                return Duration::from_secs(secs);
            }
            d
        }
        Version::V3 => {
            if d > Duration::from_millis(40_950) {
                diag(
                    cx,
                    Code::AdvertIntRange,
                    &a.span,
                    format!("({name}) a VRRPv3 advert_int is at most 40.95 seconds; using 1"),
                );
                return one;
            }
            let rounded = round_to_centis(d);
            if rounded != d {
                cx.diags.push(
                    Diagnostic::new(
                        Code::AdvertIntRange,
                        a.span.clone(),
                        format!(
                            "({name}) VRRPv3 adverts carry hundredths of a second; advert_int {} becomes {}",
                            d.as_secs_f64(),
                            rounded.as_secs_f64()
                        ),
                    )
                    .with_severity(Severity::Warning),
                );
            }
            rounded
        }
    }
}

fn unicast(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &RawInstance, strict: bool) {
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
        if let Some(v) = inst.vips.iter().find(|v| v.addr == addr) {
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
        if inst.unicast_peers.iter().any(|q| q.addr == addr) {
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
        inst.unicast_peers.push(p.v.clone());
    }
    // "Specifying min_ttl or max_ttl turns on check_unicast_src."
    inst.check_unicast_src = raw.check_unicast_src.unwrap_or(false) || ttl_checks;
}

#[allow(clippy::too_many_arguments)]
fn garp(
    cx: &mut Cx<'_>,
    raw: &RawInstance,
    g: &GlobalDefs,
    strict: bool,
    interface: Option<&str>,
    garp_groups: &[GarpGroup],
    name: &str,
) -> GarpSettings {
    let r = &raw.garp;
    let mut s = g.garp.clone();
    if let Some(v) = r.master_delay {
        s.master_delay = v;
    }
    if let Some(v) = r.master_repeat {
        s.master_repeat = v;
    }
    s.lower_prio_delay = r.lower_prio_delay.unwrap_or(if strict {
        Duration::ZERO
    } else {
        g.garp.lower_prio_delay
    });
    s.lower_prio_repeat = match &r.lower_prio_repeat {
        Some(v) if strict && v.v != 0 => {
            diag(
                cx,
                Code::StrictMode,
                &v.span,
                format!(
                    "({name}) strict mode does not allow gratuitous ARP repeats; garp_lower_prio_repeat 0 used"
                ),
            );
            0
        }
        Some(v) => v.v,
        None if strict => 0,
        None => g.garp.lower_prio_repeat,
    };
    if let Some(v) = r.master_refresh {
        s.master_refresh = (!v.is_zero()).then_some(v);
    }
    if let Some(v) = r.master_refresh_repeat {
        s.master_refresh_repeat = v;
    }
    if let Some(v) = r.extra_if {
        s.extra_if = v;
    }
    // A garp_group naming our interface sets its spacing.
    if let Some(ifname) = interface
        && let Some(gg) = garp_groups
            .iter()
            .find(|gg| gg.interfaces.iter().any(|i| i == ifname))
    {
        if let Some(v) = gg.garp_interval {
            s.interval = v;
        }
        if let Some(v) = gg.gna_interval {
            s.na_interval = v;
        }
    }
    s
}
