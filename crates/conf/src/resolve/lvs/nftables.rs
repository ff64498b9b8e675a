//! What baton's nftables data plane cannot do as IPVS would, said where it is configured,
//! with what happens instead, as baton-nft does it ([`Scheduler::nftables_equivalent`],
//! [`Forwarding::nftables_supported`]; crates/nft/README.md "What nftables cannot do").

use super::push;
use crate::diag::Code;
use crate::lvs::{Forwarding, Scheduler, VirtualServer, VirtualServerAddress};
use crate::parse::cx::Cx;
use crate::parse::lvs::{RawRealServer, RawVirtualServer};

pub(super) fn warn(cx: &mut Cx<'_>, vs: &VirtualServer, r: &RawVirtualServer) {
    let who = &r.written;
    mixed_ports(cx, vs, r);
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
    for rs in &vs.real_servers {
        if !rs.forwarding.nftables_supported() {
            push(
                cx,
                Code::LvsUnsupported,
                &rs.span,
                1,
                format!(
                    "{who}: real_server {}: baton's nftables data plane cannot tunnel (TUN), so this virtual server is left out of the data plane (use DR or NAT)",
                    rs.address.ip()
                ),
            );
        }
    }
    if let Some(s) = &vs.sorry_server
        && !s.forwarding.nftables_supported()
    {
        push(
            cx,
            Code::LvsUnsupported,
            &s.span,
            1,
            format!(
                "{who}: sorry_server {}: baton's nftables data plane cannot tunnel (TUN), so this virtual server is left out of the data plane (use DR or NAT)",
                s.address.ip()
            ),
        );
    }
}

/// NAT servers that name a port and servers that keep the client's (port 0 of a
/// firewall-mark or group service) cannot share a service in baton-nft, which leaves such a
/// service out (its `Invalid::MixedPorts`).
fn mixed_ports(cx: &mut Cx<'_>, vs: &VirtualServer, r: &RawVirtualServer) {
    let service_port = match &vs.address {
        VirtualServerAddress::Ip(a) => a.port(),
        _ => 0,
    };
    let ports: Vec<u16> = vs
        .real_servers
        .iter()
        .filter(|rs| rs.forwarding == Forwarding::Nat)
        .map(|rs| rs.address.port())
        .chain(
            vs.sorry_server
                .iter()
                .filter(|s| s.forwarding == Forwarding::Nat)
                .map(|s| s.address.port()),
        )
        .map(|p| if p == 0 { service_port } else { p })
        .collect();
    if ports.contains(&0) && ports.iter().any(|&p| p != 0) {
        push(
            cx,
            Code::LvsUnsupported,
            &r.span,
            r.name_len,
            format!(
                "{}: some NAT servers name a port and some keep the client's: baton's nftables data plane cannot mix them, so this virtual server is left out of the data plane",
                r.written
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
