//! How an instance announces itself: VMAC, gratuitous ARP, the master down timer, the
//! answers to other routers' adverts, and baton's fast handover.

use std::time::Duration;

use super::{diag, warn};
use crate::diag::Code;
use crate::model::{GarpGroup, GarpSettings, GlobalDefs, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::instance::RawInstance;

/// The VMAC (a five-octet MAC gets the VRID as sixth).
pub(super) fn vmac(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &mut RawInstance) {
    let name = raw.name.clone();
    let (vrid, strict) = (inst.vrid, inst.strict);
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
}

/// GARP settings, timers and advert handling, from global_defs unless overridden.
pub(super) fn timers(
    cx: &mut Cx<'_>,
    inst: &mut VrrpInstance,
    raw: &RawInstance,
    g: &GlobalDefs,
    garp_groups: &[GarpGroup],
    global_fast_handover_explicit: bool,
) {
    let name = &raw.name;
    let strict = inst.strict;
    // GARP, timers and advert handling, from global_defs unless overridden.
    inst.garp = std::sync::Arc::new(garp(
        cx,
        raw,
        g,
        strict,
        inst.interface.as_deref(),
        garp_groups,
        name,
    ));
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
        name,
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
        name,
    );
    inst.owner_ignore_adverts = strict_flag(
        cx,
        &raw.owner_ignore_adverts,
        strict || g.owner_ignore_adverts,
        strict.then_some(true),
        "owner_ignore_adverts",
        name,
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
