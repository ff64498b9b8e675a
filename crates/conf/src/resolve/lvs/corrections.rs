//! Quorum and ports as keepalived corrects them (check_data.c `validate_check_config`).

use std::net::SocketAddr;

use super::{push, push_sev};
use crate::diag::{Code, Severity};
use crate::lvs::{
    Forwarding, GroupEntry, RealServer, VirtualServer, VirtualServerAddress, VirtualServerGroup,
};
use crate::model::Span;
use crate::parse::cx::Cx;
use crate::parse::lvs::RawVirtualServer;
use crate::parse::lvs::checkers::RawChecker;

/// Quorum no higher than the total weight, hysteresis below quorum
/// (check_data.c validate_check_config).
pub(super) fn quorum(
    cx: &mut Cx<'_>,
    vs: &mut VirtualServer,
    r: &RawVirtualServer,
    weight_sum: u64,
    who: &str,
) {
    let span = r.quorum.as_ref().map_or(&r.span, |q| &q.span);
    if u64::from(vs.quorum) > weight_sum {
        push_sev(
            cx,
            Code::LvsAdjusted,
            Severity::Warning,
            span,
            6,
            format!(
                "{who}: quorum {} is more than the total weight {weight_sum} of its real servers, so it could never be reached; quorum {weight_sum} applies",
                vs.quorum
            ),
        );
        vs.quorum = weight_sum as u32;
    }
    if vs.hysteresis > 0 && vs.hysteresis >= vs.quorum {
        let span = r.hysteresis.as_ref().map_or(&r.span, |h| &h.span);
        let h = vs.quorum.saturating_sub(1);
        push_sev(
            cx,
            Code::LvsAdjusted,
            Severity::Error,
            span,
            10,
            format!(
                "{who}: hysteresis {} is not below quorum {}; hysteresis {h} applies",
                vs.hysteresis, vs.quorum
            ),
        );
        vs.hysteresis = h;
    }
}

/// Real and sorry server ports: NAT servers without a port take the service's; other
/// methods cannot change the port, so a different one is reset (or cleared for firewall
/// marks), as keepalived does.
pub(super) fn ports(
    cx: &mut Cx<'_>,
    vs: &mut VirtualServer,
    group: Option<&VirtualServerGroup>,
    real_servers: &mut [(RealServer, Vec<RawChecker>)],
    who: &str,
) {
    if let Some(g) = group {
        let has_fwmarks = g
            .entries
            .iter()
            .any(|e| matches!(e, GroupEntry::Fwmark { .. }));
        let ports: Vec<u16> = g
            .entries
            .iter()
            .filter_map(|e| match e {
                GroupEntry::Addresses { port, .. } => Some(*port),
                _ => None,
            })
            .collect();
        let servers = real_servers
            .iter()
            .map(|(rs, _)| (rs.address, rs.forwarding, &rs.span, "real_server"))
            .chain(
                vs.sorry_server
                    .iter()
                    .map(|s| (s.address, s.forwarding, &s.span, "sorry_server")),
            );
        for (addr, fwd, span, what) in servers {
            if fwd == Forwarding::Nat || addr.port() == 0 {
                continue;
            }
            if has_fwmarks {
                push(
                    cx,
                    Code::LvsAdjusted,
                    span,
                    1,
                    format!(
                        "{who}: {what} {addr} has a port but is not NAT; the port is ignored for the group's firewall marks"
                    ),
                );
            }
            if let Some(p) = ports.iter().find(|&&p| p != addr.port()) {
                push(
                    cx,
                    Code::LvsAdjusted,
                    span,
                    1,
                    format!(
                        "{who}: {what} {addr} is not NAT but its port differs from the group's port {p}: it cannot change ports, so its port is ignored"
                    ),
                );
            }
        }
        return;
    }
    let vs_port = match &vs.address {
        VirtualServerAddress::Ip(a) => Some(a.port()),
        _ => None,
    };
    let fix = |cx: &mut Cx<'_>, addr: &mut SocketAddr, fwd: Forwarding, span: &Span, what: &str| {
        match (fwd, vs_port) {
            (Forwarding::Nat, Some(p)) if addr.port() == 0 => addr.set_port(p),
            (Forwarding::Nat, _) => {}
            (_, None) if addr.port() != 0 => {
                push(
                    cx,
                    Code::LvsAdjusted,
                    span,
                    1,
                    format!(
                        "{who}: {what} {addr} has a port but a firewall-mark service that is not NAT cannot change ports; port cleared"
                    ),
                );
                addr.set_port(0);
            }
            (_, None) => {}
            (_, Some(p)) if addr.port() == 0 => addr.set_port(p),
            (_, Some(p)) if addr.port() != p => {
                push(
                    cx,
                    Code::LvsAdjusted,
                    span,
                    1,
                    format!(
                        "{who}: {what} {addr} is not NAT, so it cannot have another port than the service's {p}; port {p} applies"
                    ),
                );
                addr.set_port(p);
            }
            _ => {}
        }
    };
    for (rs, _) in real_servers.iter_mut() {
        let span = rs.span.clone();
        fix(cx, &mut rs.address, rs.forwarding, &span, "real_server");
    }
    if let Some(s) = &mut vs.sorry_server {
        // keepalived leaves a NAT sorry server without a port alone: the client's
        // destination port is kept.
        if s.forwarding != Forwarding::Nat {
            let span = s.span.clone();
            fix(cx, &mut s.address, s.forwarding, &span, "sorry_server");
        }
    }
}
