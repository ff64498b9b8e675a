//! Address families (check_parser.c `rs_end_handler`, `vs_end_handler`; ipwrapper.c
//! `link_vsg_to_vs`): real and sorry servers of another family than their virtual server
//! are skipped unless tunnelled, a group decides the family of the services using it, and
//! the address of a group member is its position among them.

use std::collections::HashMap;

use baton_wire::Family;

use super::{is_tunnel, push, push_sev};
use crate::diag::{Code, Severity};
use crate::lvs::{VirtualServerAddress, VirtualServerGroup};
use crate::parse::cx::Cx;
use crate::parse::lvs::{RawAddress, RawVirtualServer};

/// Drop real and sorry servers of another family; `None` when no real server is left
/// (the virtual server is ignored), else the family known so far.
pub(super) fn servers_of_one_family(
    cx: &mut Cx<'_>,
    r: &mut RawVirtualServer,
    who: &str,
    len: u32,
) -> Option<Option<Family>> {
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
    Some(family)
}

/// The address of the virtual server and its family, or `None` if it cannot run.
pub(super) fn address(
    cx: &mut Cx<'_>,
    r: &RawVirtualServer,
    groups: &[VirtualServerGroup],
    members: &mut HashMap<String, u32>,
    mut family: Option<Family>,
    who: &str,
) -> Option<(VirtualServerAddress, Family)> {
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
    Some((address, family))
}
