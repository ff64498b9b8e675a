//! keepalived's defaults and normalisations, folded into the model so consumers see what will
//! actually run: global values copied into each instance, `state MASTER` without a priority
//! making an owner, strict mode rules, the owner's and v2's restrictions. Every change to
//! what was written is reported.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{GarpGroup, GlobalDefs, Span, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::global::RawGlobal;
use crate::parse::instance::RawInstance;
use crate::parse::trackers::RawTracking;

mod addresses;
mod adverts;
pub(crate) mod auth_hmac;
mod election;
pub(crate) mod lvs;
pub(crate) mod vmac;

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
    let family = addresses::family_of(&raw);
    let mut inst = VrrpInstance::new(&name, vrid, family);
    inst.span = raw.span.clone();
    addresses::vips(cx, &mut inst, &mut raw);
    election::version_priority_state(cx, &mut inst, &raw, g);
    inst.advert_int = election::advert_int(cx, &raw, inst.version, &name);
    election::auth(cx, &mut inst, &mut raw);
    auth_hmac::resolve(cx, &mut inst, &mut raw).ok()?;
    election::preemption(cx, &mut inst, &raw);
    election::accept(cx, &mut inst, &raw);
    addresses::sources(cx, &mut inst, &raw, g);
    if !addresses::interface(cx, &mut inst, &raw) {
        return None;
    }
    addresses::check_vips(cx, &inst, &raw);
    adverts::vmac(cx, &mut inst, &mut raw);
    adverts::timers(
        cx,
        &mut inst,
        &raw,
        g,
        garp_groups,
        global_fast_handover_explicit,
    );

    let mut notify = std::mem::take(&mut raw.notify);
    if notify.priority_changes.is_none() {
        notify.priority_changes = Some(g.notify_priority_changes);
    }
    inst.notify = Arc::new(notify);
    Some((inst, std::mem::take(&mut raw.tracking)))
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(v4) => v4.is_link_local(),
    }
}
