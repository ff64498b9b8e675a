//! What decides elections: version, priority and initial state, advert interval,
//! authentication, preemption and accept mode.

use std::time::Duration;

use baton_wire::{Family, Version};

use super::{diag, warn};
use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{Authentication, GlobalDefs, InitialState, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::instance::RawInstance;

/// Version (IPv6 always runs VRRPv3), strict mode, priority and initial state.
pub(super) fn version_priority_state(
    cx: &mut Cx<'_>,
    inst: &mut VrrpInstance,
    raw: &RawInstance,
    g: &GlobalDefs,
) {
    let name = &raw.name;
    let family = inst.family;
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
}

/// A whole number of centiseconds (VRRPv3's unit), rounded to the nearest.
fn round_to_centis(d: Duration) -> Duration {
    let centis = (d.as_micros() + 5_000) / 10_000;
    Duration::from_millis(u64::try_from(centis * 10).unwrap_or(u64::MAX))
}

pub(super) fn advert_int(
    cx: &mut Cx<'_>,
    raw: &RawInstance,
    version: Version,
    name: &str,
) -> Duration {
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

/// Authentication: VRRPv2 only, not in strict mode.
pub(super) fn auth(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &mut RawInstance) {
    let name = &raw.name;
    let (version, strict) = (inst.version, inst.strict);
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
            inst.auth = Some(Box::new(auth.v));
        }
    }
}

/// Preemption: nopreempt and preempt_delay, which state MASTER, the owner and strict mode
/// rule out.
pub(super) fn preemption(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &RawInstance) {
    let name = &raw.name;
    let strict = inst.strict;
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
    // keepalived: "preempt_delay is incompatible with nopreempt mode - resetting" (it
    // would still delay the first takeover at start).
    if inst.nopreempt && !inst.preempt_delay.is_zero() {
        let span = raw.preempt_delay.as_ref().map_or(&raw.span, |d| &d.span);
        warn(
            cx,
            Code::PreemptWithMaster,
            span,
            format!("({name}) preempt_delay does nothing with nopreempt; cleared"),
        );
        inst.preempt_delay = Duration::ZERO;
    }
}

/// Accept mode: on unless strict (then only the owner accepts).
pub(super) fn accept(cx: &mut Cx<'_>, inst: &mut VrrpInstance, raw: &RawInstance) {
    let name = &raw.name;
    let (version, strict) = (inst.version, inst.strict);
    let owner = inst.priority == 255;
    // Accept mode: on unless strict (then only the owner accepts). The owner's addresses
    // are its own: strict mode's refusal of `accept` is for the others.
    inst.accept = match &raw.accept {
        Some(a) if strict && a.v && version == Version::V2 && !owner => {
            diag(
                cx,
                Code::StrictMode,
                &a.span,
                format!("({name}) strict mode does not allow accept with VRRPv2; no_accept used"),
            );
            false
        }
        Some(a) if !a.v && owner => {
            // keepalived never filters the owner's addresses: they are its own.
            warn(
                cx,
                Code::OwnerAdjusted,
                &a.span,
                format!(
                    "({name}) the address owner (priority 255) always accepts traffic to its addresses; no_accept ignored"
                ),
            );
            true
        }
        Some(a) => a.v,
        None => !strict || owner,
    };
}
