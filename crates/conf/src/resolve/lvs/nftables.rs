//! What baton's nftables data plane cannot do as IPVS would, said where it is configured,
//! with what happens instead. The data plane implements exactly these fallbacks
//! ([`Scheduler::nftables_equivalent`], [`Forwarding::nftables_equivalent`]).

use super::push;
use crate::diag::Code;
use crate::lvs::{Forwarding, Scheduler, VirtualServer};
use crate::parse::cx::Cx;
use crate::parse::lvs::{RawRealServer, RawVirtualServer};

pub(super) fn warn(cx: &mut Cx<'_>, vs: &VirtualServer, r: &RawVirtualServer) {
    let who = &r.written;
    if let Some(s) = &r.scheduler {
        let eq = s.v.nftables_equivalent();
        if eq != s.v {
            let why = match s.v {
                Scheduler::Lblc | Scheduler::Lblcr => {
                    "it has no connection counts, so locality is kept by destination hashing"
                }
                Scheduler::Ovf => "it has no connection counts to overflow on",
                _ => "it has no connection counts",
            };
            push(
                cx,
                Code::LvsUnsupported,
                &s.span,
                s.v.name().len() as u32,
                format!(
                    "{who}: lb_algo {}: baton's nftables data plane schedules this as {eq} ({why})",
                    s.v
                ),
            );
        }
    }
    if let Some(span) = &r.ops
        && vs.scheduler_flags.one_packet
    {
        push(
            cx,
            Code::LvsUnsupported,
            span,
            3,
            format!(
                "{who}: ops: baton's nftables data plane schedules UDP per flow, not per datagram"
            ),
        );
    }
    if let Some(p) = &vs.persistence
        && let Some(engine) = &p.engine
    {
        push(
            cx,
            Code::LvsUnsupported,
            &r.span,
            r.name_len,
            format!(
                "{who}: persistence_engine {engine}: baton's nftables data plane keeps clients by address only"
            ),
        );
    }
    let tunnelled = |f: Forwarding| matches!(f, Forwarding::Tun { .. });
    for rs in &vs.real_servers {
        if tunnelled(rs.forwarding) {
            push(
                cx,
                Code::LvsUnsupported,
                &rs.span,
                1,
                format!(
                    "{who}: real_server {}: baton's nftables data plane cannot tunnel (TUN); it forwards as DR instead (the real server must be on a local segment)",
                    rs.address.ip()
                ),
            );
        }
    }
    if let Some(s) = &vs.sorry_server
        && tunnelled(s.forwarding)
    {
        push(
            cx,
            Code::LvsUnsupported,
            &s.span,
            1,
            format!(
                "{who}: sorry_server {}: baton's nftables data plane cannot tunnel (TUN); it forwards as DR instead",
                s.address.ip()
            ),
        );
    }
}

/// Connection thresholds of a real server, which need connection counts.
pub(super) fn warn_thresholds(cx: &mut Cx<'_>, who: &str, rs: &RawRealServer) {
    for (t, name) in [
        (&rs.uthreshold, "uthreshold"),
        (&rs.lthreshold, "lthreshold"),
    ] {
        if let Some((_, span)) = t {
            push(
                cx,
                Code::LvsUnsupported,
                span,
                name.len() as u32,
                format!(
                    "{who}: real_server {}: {name}: baton's nftables data plane has no connection counts; not enforced",
                    rs.address.ip()
                ),
            );
        }
    }
}
