//! keepalived's defaults and corrections for virtual servers (check_parser.c's end
//! handlers, ipwrapper.c's `link_vsg_to_vs`, check_data.c's `validate_check_config`), and
//! what baton's nftables data plane does differently. Every change to what was written is
//! reported where it was written.

mod checkers;
mod corrections;
mod family;
mod global;
mod nftables;
mod settings;

use std::net::SocketAddr;
use std::time::Duration;

use crate::diag::{Code, Diagnostic, Severity};
use crate::lvs::{
    Forwarding, GroupEntry, Lvs, LvsGlobal, RealServer, RealServerId, Scheduler, SorryServer,
    VirtualServer, VirtualServerAddress, VirtualServerGroup, VirtualServerId,
};
use crate::model::{Span, TrackFile, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::lvs::global::RawLvsGlobal;
use crate::parse::lvs::{RawRealServer, RawVirtualServer};

/// keepalived's `delay_loop` when none is given.
const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// keepalived's `connect_timeout` when none is given.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// keepalived's persistence timeout when persistence is implied.
const DEFAULT_PERSISTENCE: Duration = Duration::from_secs(360);

fn push(cx: &mut Cx<'_>, code: Code, span: &Span, len: u32, message: impl Into<String>) {
    cx.diags
        .push(Diagnostic::new(code, span.clone(), message).with_len(len));
}

fn push_sev(
    cx: &mut Cx<'_>,
    code: Code,
    sev: Severity,
    span: &Span,
    len: u32,
    message: impl Into<String>,
) {
    cx.diags.push(
        Diagnostic::new(code, span.clone(), message)
            .with_len(len)
            .with_severity(sev),
    );
}

/// What the LVS half resolves against.
pub(crate) struct Context<'a> {
    pub instances: &'a [VrrpInstance],
    pub track_files: &'a [TrackFile],
}

/// The LVS half from what was written.
pub(crate) fn lvs(
    cx: &mut Cx<'_>,
    raw_global: RawLvsGlobal,
    groups: Vec<VirtualServerGroup>,
    raw: Vec<RawVirtualServer>,
    ssl: Option<crate::lvs::SslContext>,
    ctx: &Context<'_>,
) -> Lvs {
    let global = global::global(cx, raw_global, ctx);
    let mut members: std::collections::HashMap<String, u32> = Default::default();
    let mut out: Vec<VirtualServer> = Vec::new();
    let mut seen: std::collections::HashMap<crate::lvs::VirtualServerKey, Span> =
        Default::default();
    for r in raw {
        let Some(mut vs) = virtual_server(cx, r, &groups, &mut members, &global, ctx) else {
            continue;
        };
        if let Some(first) = seen.get(&vs.key()) {
            cx.diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    vs.span.clone(),
                    format!("virtual server {vs} is already defined; this one is ignored"),
                )
                .with_note(first.clone(), "first defined here"),
            );
            continue;
        }
        seen.insert(vs.key(), vs.span.clone());
        renumber(&mut vs, VirtualServerId(out.len() as u32));
        out.push(vs);
    }
    Lvs {
        global,
        ssl,
        virtual_server_groups: groups,
        virtual_servers: out,
    }
}

/// Give every virtual server, real server and checker its identifier again (after some
/// were removed).
pub(crate) fn renumber_all(lvs: &mut Lvs) {
    for (i, vs) in lvs.virtual_servers.iter_mut().enumerate() {
        renumber(vs, VirtualServerId(i as u32));
    }
}

/// Give a virtual server, its servers and checkers their identifiers.
fn renumber(vs: &mut VirtualServer, id: VirtualServerId) {
    vs.id = id;
    for (i, rs) in vs.real_servers.iter_mut().enumerate() {
        rs.id = RealServerId {
            vs: id,
            index: i as u32,
        };
        for (j, c) in rs.checkers.iter_mut().enumerate() {
            c.id = crate::lvs::CheckerId {
                rs: rs.id,
                index: j as u32,
            };
        }
    }
    if let Some(s) = &mut vs.sorry_server
        && let Some(d) = &mut s.duplicates
    {
        d.vs = id;
    }
}

fn is_tunnel(f: Option<Forwarding>) -> bool {
    matches!(f, Some(Forwarding::Tun { .. }))
}

/// One virtual server, or `None` if it cannot run (reported).
fn virtual_server(
    cx: &mut Cx<'_>,
    mut r: RawVirtualServer,
    groups: &[VirtualServerGroup],
    members: &mut std::collections::HashMap<String, u32>,
    global: &LvsGlobal,
    ctx: &Context<'_>,
) -> Option<VirtualServer> {
    let who = r.written.clone();
    let len = r.name_len;

    let family = family::servers_of_one_family(cx, &mut r, &who, len)?;
    let (address, family) = family::address(cx, &r, groups, members, family, &who)?;

    let group = match &address {
        VirtualServerAddress::Group { name, .. } => groups.iter().find(|g| &g.name == name),
        _ => None,
    };
    let has_fwmarks = matches!(address, VirtualServerAddress::Fwmark(_))
        || group.is_some_and(|g| {
            g.entries
                .iter()
                .any(|e| matches!(e, GroupEntry::Fwmark { .. }))
        });
    let has_addresses = matches!(address, VirtualServerAddress::Ip(_))
        || group.is_some_and(|g| {
            g.entries
                .iter()
                .any(|e| matches!(e, GroupEntry::Addresses { .. }))
        });

    let mut vs = VirtualServer {
        id: VirtualServerId(0),
        span: r.span.clone(),
        address,
        family,
        protocol: r.protocol.as_ref().map(|p| p.v),
        scheduler: Scheduler::Wlc,
        scheduler_flags: r.flags,
        forwarding: Forwarding::Nat,
        persistence: None,
        quorum: r.quorum.as_ref().map_or(1, |q| q.v),
        hysteresis: r.hysteresis.as_ref().map_or(0, |h| h.v),
        quorum_up: r.quorum_up.take(),
        quorum_down: r.quorum_down.take(),
        alpha: r.alpha,
        omega: r.omega,
        ha_suspend: r.ha_suspend.is_some(),
        inhibit_on_failure: r.inhibit_on_failure,
        virtualhost: r.virtualhost.take(),
        weight: r.weight.unwrap_or(1),
        delay_loop: r.timings.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP),
        connect_timeout: r.timings.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        sorry_server: None,
        real_servers: Vec::new(),
    };

    let kind = settings::Kind {
        group,
        has_fwmarks,
        has_addresses,
    };
    settings::service(cx, &mut vs, &mut r, &kind, &who, len);

    // The virtual server's forwarding method, NAT when nothing says (said once).
    let mut defaulted_forwarding = false;
    let mut forwarding_of = |cx: &mut Cx<'_>, f: Option<Forwarding>| -> Forwarding {
        if let Some(f) = f.or(r.forwarding.as_ref().map(|f| f.v)) {
            return f;
        }
        if !defaulted_forwarding {
            defaulted_forwarding = true;
            push(
                cx,
                Code::LvsDefaulted,
                &r.span,
                len,
                format!("{who} has no lb_kind; keepalived's default NAT applies"),
            );
        }
        Forwarding::Nat
    };

    let timings = r.timings.clone();
    let mut weight_sum: u64 = 0;
    let mut real_servers: Vec<(RealServer, Vec<crate::parse::lvs::checkers::RawChecker>)> =
        Vec::new();
    let mut first_of: std::collections::HashMap<SocketAddr, Span> = Default::default();
    for raw_rs in std::mem::take(&mut r.real_servers) {
        if let Some(first) = first_of.get(&raw_rs.address) {
            cx.diags.push(
                Diagnostic::new(
                    Code::RealServerDuplicate,
                    raw_rs.span.clone(),
                    format!(
                        "{who}: real_server {} is given twice; the second is removed",
                        raw_rs.address
                    ),
                )
                .with_len(raw_rs.name_len)
                .with_note(first.clone(), "first given here"),
            );
            continue;
        }
        first_of.insert(raw_rs.address, raw_rs.span.clone());
        nftables::warn_thresholds(cx, &who, &raw_rs);
        let forwarding = forwarding_of(cx, raw_rs.forwarding.or(raw_rs.inherited));
        let (rs, checkers) = real_server(raw_rs, &vs, forwarding);
        weight_sum += u64::from(rs.weight);
        real_servers.push((rs, checkers));
    }
    vs.forwarding = forwarding_of(cx, None);

    // The sorry server.
    if let Some(s) = r.sorry.take() {
        let forwarding = forwarding_of(cx, s.forwarding.or(s.inherited));
        vs.sorry_server = Some(SorryServer {
            address: s.address,
            forwarding,
            inhibit: s.inhibit,
            duplicates: None,
            span: s.span.clone(),
        });
    }

    corrections::quorum(cx, &mut vs, &r, weight_sum, &who);
    corrections::ports(cx, &mut vs, group, &mut real_servers, &who);

    // Whether the sorry server is one of the real servers, by the addresses they have once
    // ports are corrected: a DR real server's port follows the service's, a NAT sorry
    // server's stays as written, so addresses equal as written may differ now.
    if let Some(sorry) = &mut vs.sorry_server
        && let Some((i, (rs, _))) = real_servers
            .iter()
            .enumerate()
            .find(|(_, (rs, _))| rs.address == sorry.address)
    {
        if rs.inhibit_on_failure != sorry.inhibit {
            push(
                cx,
                Code::LvsAdjusted,
                &sorry.span,
                1,
                format!(
                    "{who}: sorry_server is real server {} but their inhibit settings differ; the real server's applies",
                    rs.address
                ),
            );
            sorry.inhibit = rs.inhibit_on_failure;
        }
        sorry.duplicates = Some(RealServerId {
            vs: vs.id,
            index: i as u32,
        });
    }

    // Checkers, now that every real server has its final address.
    let ck = checkers::Inherit {
        vs: &vs,
        timings: &timings,
        global,
        track_files: ctx.track_files,
    };
    let mut resolved = Vec::with_capacity(real_servers.len());
    for (mut rs, raw_checkers) in real_servers {
        rs.checkers = checkers::resolve(cx, &ck, &rs, raw_checkers, &who);
        resolved.push(rs);
    }
    vs.real_servers = resolved;
    nftables::warn(cx, &vs, &r);
    Some(vs)
}

/// A real server with what it inherits from its virtual server; its checkers as written.
fn real_server(
    raw: RawRealServer,
    vs: &VirtualServer,
    forwarding: Forwarding,
) -> (RealServer, Vec<crate::parse::lvs::checkers::RawChecker>) {
    let rs = RealServer {
        id: RealServerId {
            vs: vs.id,
            index: 0,
        },
        span: raw.span.clone(),
        address: raw.address,
        weight: raw.weight.unwrap_or(vs.weight),
        forwarding,
        inhibit_on_failure: raw.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure),
        alpha: raw.alpha.unwrap_or(vs.alpha),
        notify_up: raw.notify_up,
        notify_down: raw.notify_down,
        uthreshold: raw.uthreshold.as_ref().map(|u| u.0),
        lthreshold: raw.lthreshold.as_ref().map(|l| l.0),
        virtualhost: raw.virtualhost.clone().or(vs.virtualhost.clone()),
        checkers: Vec::new(),
    };
    // The timings and thresholds as written stay with the checkers' resolution.
    let mut checkers = raw.checkers;
    for c in &mut checkers {
        c.inherit(&raw.timings);
    }
    (rs, checkers)
}
