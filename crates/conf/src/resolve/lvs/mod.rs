//! keepalived's defaults and corrections for virtual servers (check_parser.c's end
//! handlers, ipwrapper.c's `link_vsg_to_vs`, check_data.c's `validate_check_config`), and
//! what baton's nftables data plane does differently. Every change to what was written is
//! reported where it was written.

mod checkers;
mod nftables;

use std::net::SocketAddr;
use std::time::Duration;

use baton_wire::Family;

use crate::diag::{Code, Diagnostic, Severity};
use crate::lvs::{
    Forwarding, GroupEntry, Lvs, LvsGlobal, Persistence, Protocol, RealServer, RealServerId,
    Scheduler, SorryServer, VirtualServer, VirtualServerAddress, VirtualServerGroup,
    VirtualServerId,
};
use crate::model::{Span, TrackFile, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::lvs::global::RawLvsGlobal;
use crate::parse::lvs::{RawAddress, RawRealServer, RawVirtualServer};

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
    let global = global(cx, raw_global, ctx);
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

fn global(cx: &mut Cx<'_>, raw: RawLvsGlobal, ctx: &Context<'_>) -> LvsGlobal {
    let mut g = raw.defs;
    for (instance, ifname) in raw.legacy_sync {
        if let Some(s) = &g.sync_daemon {
            push(
                cx,
                Code::Duplicate,
                &ifname.span,
                ifname.v.len() as u32,
                format!(
                    "lvs_sync_daemon is already set to {}; this lvs_sync_daemon_interface is ignored",
                    s.interface
                ),
            );
            continue;
        }
        g.sync_daemon = Some(crate::lvs::LvsSyncDaemon {
            interface: ifname.v,
            instance: Some(instance),
            sync_id: None,
            max_len: None,
            port: None,
            ttl: None,
            group: None,
            span: ifname.span,
        });
    }
    if let Some(script) = raw.notify_fifo_script {
        match &mut g.notify_fifo {
            Some(f) => f.script = Some(script),
            None => push(
                cx,
                Code::MissingArgument,
                &script.span,
                1,
                "lvs_notify_fifo_script without lvs_notify_fifo; ignored",
            ),
        }
    }
    if let Some(s) = &mut g.sync_daemon {
        match &s.instance {
            None => push(
                cx,
                Code::MissingArgument,
                &s.span,
                s.interface.len() as u32,
                "lvs_sync_daemon names no vrrp_instance (inst NAME): it has no state to follow; ignored",
            ),
            Some(name) => match ctx.instances.iter().find(|i| &i.name == name) {
                None => push(
                    cx,
                    Code::TrackUndefined,
                    &s.span,
                    s.interface.len() as u32,
                    format!(
                        "lvs_sync_daemon follows vrrp_instance {name}, which is not defined; ignored"
                    ),
                ),
                Some(i) => {
                    s.sync_id.get_or_insert(i.vrid);
                }
            },
        }
        if s.instance.is_none() || s.sync_id.is_none() {
            g.sync_daemon = None;
        }
    }
    g
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
    let mut family = r.family.as_ref().map(|f| f.v);

    // Real servers of another family than the virtual server are skipped, unless
    // tunnelled (check_parser.c rs_end_handler).
    let mut kept = Vec::with_capacity(r.real_servers.len());
    for rs in std::mem::take(&mut r.real_servers) {
        let f = Family::of(&rs.address.ip());
        if !is_tunnel(rs.forwarding.or(rs.inherited)) {
            match family {
                None => family = Some(f),
                Some(vf) if vf != f => {
                    push(
                        cx,
                        Code::LvsFamilyMismatch,
                        &rs.span,
                        rs.name_len,
                        format!(
                            "{who}: real_server {} is {f}, the virtual server {vf}; real server skipped",
                            rs.address.ip()
                        ),
                    );
                    continue;
                }
                _ => {}
            }
        }
        kept.push(rs);
    }
    r.real_servers = kept;
    if r.real_servers.is_empty() {
        push(
            cx,
            Code::VsNoRealServers,
            &r.span,
            len,
            format!("{who} has no real servers; ignored"),
        );
        return None;
    }
    if let Some(s) = &r.sorry
        && !is_tunnel(s.forwarding.or(s.inherited))
    {
        let f = Family::of(&s.address.ip());
        match family {
            None => family = Some(f),
            Some(vf) if vf != f => {
                push(
                    cx,
                    Code::LvsFamilyMismatch,
                    &s.span,
                    1,
                    format!(
                        "{who}: sorry_server {} is {f}, the virtual server {vf}; sorry server skipped",
                        s.address.ip()
                    ),
                );
                r.sorry = None;
            }
            _ => {}
        }
    }

    // The address, and for groups the family the group decides (link_vsg_to_vs).
    let address = match &r.address {
        RawAddress::Ip(a) => VirtualServerAddress::Ip(*a),
        RawAddress::Fwmark(m) => VirtualServerAddress::Fwmark(*m),
        RawAddress::Group(name) => {
            let Some(g) = groups.iter().find(|g| g.name == name.v) else {
                push(
                    cx,
                    Code::VsGroupUndefined,
                    &name.span,
                    name.v.len() as u32,
                    format!(
                        "virtual_server_group {} is not defined; virtual server ignored",
                        name.v
                    ),
                );
                return None;
            };
            let (v4, v6) = (g.has_family(Family::Ipv4), g.has_family(Family::Ipv6));
            let group_family = match (v4, v6) {
                (true, false) => Some(Family::Ipv4),
                (false, true) => Some(Family::Ipv6),
                _ => None,
            };
            match (family, group_family) {
                (Some(vf), Some(gf)) if vf != gf => {
                    push(
                        cx,
                        Code::LvsFamilyMismatch,
                        &name.span,
                        name.v.len() as u32,
                        format!(
                            "virtual_server_group {} is {gf}, its servers {vf}; virtual server ignored",
                            name.v
                        ),
                    );
                    return None;
                }
                (Some(vf), None) if v4 && v6 => {
                    push(
                        cx,
                        Code::LvsFamilyMismatch,
                        &name.span,
                        name.v.len() as u32,
                        format!(
                            "virtual_server_group {} has IPv4 and IPv6 entries but its servers are only {vf}; virtual server ignored",
                            name.v
                        ),
                    );
                    return None;
                }
                (None, Some(gf)) => family = Some(gf),
                (None, None) if !v4 && !v6 => push_sev(
                    cx,
                    Code::LvsDefaulted,
                    Severity::Warning,
                    &name.span,
                    name.v.len() as u32,
                    format!(
                        "{who}: the address family cannot be told from group {} (fwmarks without inet|inet6); IPv4",
                        name.v
                    ),
                ),
                _ => {}
            }
            let m = members.entry(name.v.clone()).or_insert(0);
            let member = *m;
            *m += 1;
            VirtualServerAddress::Group {
                name: name.v.clone(),
                member,
            }
        }
    };
    // A firewall-mark service whose servers are all tunnelled takes their family if they
    // agree, else IPv4 (check_parser.c vs_end_handler).
    let family = family.unwrap_or_else(|| {
        let mut fams = r
            .sorry
            .iter()
            .map(|s| Family::of(&s.address.ip()))
            .chain(r.real_servers.iter().map(|rs| Family::of(&rs.address.ip())));
        match fams.next() {
            Some(first) if fams.all(|f| f == first) => first,
            _ => Family::Ipv4,
        }
    });

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

    if let Some(span) = &r.ha_suspend
        && has_fwmarks
    {
        push(
            cx,
            Code::LvsAdjusted,
            span,
            10,
            format!(
                "{who}: ha_suspend cannot work with firewall marks (there is no address to watch); ignored"
            ),
        );
        vs.ha_suspend = false;
    }

    // Persistence as written; zero ports make it implicit below.
    let mut persistence = r
        .persistence_timeout
        .as_ref()
        .map(|t| t.v)
        .or(r.granularity.as_ref().map(|_| DEFAULT_PERSISTENCE));

    if has_addresses {
        if vs.protocol.is_none() {
            push_sev(
                cx,
                Code::LvsDefaulted,
                Severity::Error,
                &r.span,
                len,
                format!(
                    "{who} has no protocol; keepalived's default UDP applies (add 'protocol TCP' for TCP services)"
                ),
            );
            vs.protocol = Some(Protocol::Udp);
        }
        if let Some(span) = &r.ops
            && vs.protocol != Some(Protocol::Udp)
        {
            push_sev(
                cx,
                Code::LvsAdjusted,
                Severity::Error,
                span,
                3,
                format!("{who}: one-packet scheduling (ops) needs protocol UDP; ignored"),
            );
            vs.scheduler_flags.one_packet = false;
        }
        let zero_port = match (&vs.address, group) {
            (VirtualServerAddress::Ip(a), _) => a.port() == 0,
            (_, Some(g)) => g
                .entries
                .iter()
                .any(|e| matches!(e, GroupEntry::Addresses { port: 0, .. })),
            _ => false,
        };
        if zero_port && persistence.is_none() {
            push_sev(
                cx,
                Code::LvsAdjusted,
                Severity::Error,
                &r.span,
                len,
                format!(
                    "{who}: a service without a port must be persistent; persistence_timeout 360 applies"
                ),
            );
            persistence = Some(DEFAULT_PERSISTENCE);
        }
    }
    if let Some(p) = &r.protocol
        && has_fwmarks
        && !has_addresses
    {
        push(
            cx,
            Code::LvsAdjusted,
            &p.span,
            4,
            format!("{who}: protocol has no meaning for a firewall-mark service; ignored"),
        );
        vs.protocol = None;
    }
    vs.persistence = persistence.map(|timeout| Persistence {
        timeout,
        granularity: r.granularity.as_ref().map(|g| g.v),
        engine: r.persistence_engine.take(),
    });
    if vs.persistence.is_none() && r.persistence_engine.is_some() {
        push_sev(
            cx,
            Code::LvsAdjusted,
            Severity::Warning,
            &r.span,
            len,
            format!("{who}: persistence_engine without persistence has no effect"),
        );
    }

    match &r.scheduler {
        Some(s) => vs.scheduler = s.v,
        None => {
            let eq = Scheduler::Wlc.nftables_equivalent();
            push(
                cx,
                Code::LvsDefaulted,
                &r.span,
                len,
                format!(
                    "{who} has no lb_algo; keepalived's default wlc applies, which baton's nftables data plane schedules as {eq} (it has no connection counts)"
                ),
            );
        }
    }

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
        let mut sorry = SorryServer {
            address: s.address,
            forwarding,
            inhibit: s.inhibit,
            duplicates: None,
            span: s.span.clone(),
        };
        if let Some((i, (rs, _))) = real_servers
            .iter()
            .enumerate()
            .find(|(_, (rs, _))| rs.address == sorry.address)
        {
            if rs.inhibit_on_failure != sorry.inhibit {
                push(
                    cx,
                    Code::LvsAdjusted,
                    &s.span,
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
        vs.sorry_server = Some(sorry);
    }

    quorum(cx, &mut vs, &r, weight_sum, &who);
    ports(cx, &mut vs, group, &mut real_servers, &who);

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

/// Quorum no higher than the total weight, hysteresis below quorum
/// (check_data.c validate_check_config).
fn quorum(
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
fn ports(
    cx: &mut Cx<'_>,
    vs: &mut VirtualServer,
    group: Option<&VirtualServerGroup>,
    real_servers: &mut [(RealServer, Vec<crate::parse::lvs::checkers::RawChecker>)],
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
                        "{who}: {what} {addr} is not NAT, so its port must be the group's port {p}; packets keep port {p}"
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
