//! `virtual_routes` and `virtual_rules`: RTM_NEWROUTE/RTM_DELROUTE and
//! RTM_NEWRULE/RTM_DELRULE, tagged with protocol `keepalived` (18) as keepalived tags them, so
//! `ip route show proto keepalived` lists what a master installed. Messages are built from
//! the configuration's own `VirtualRoute` and `VirtualRule`, as the core hands them over.

use std::net::IpAddr;

use baton_conf::{Nexthop, RouteKind, Scope, VirtualRoute, VirtualRule};
use baton_wire::Family;
use futures::TryStreamExt;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteMetric, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{
    RuleAction, RuleAttribute, RuleMessage, RulePortRange, RuleUidRange,
};
use netlink_packet_route::{AddressFamily, IpProtocol, RouteNetlinkMessage};
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST};
use rtnetlink::{RouteMessageBuilder, RouteNextHopBuilder};

use super::{Netlink, NetlinkError, Result};

/// rtnetlink's builder refuses a prefix of the wrong family or length; its error type is not
/// exported by name, hence the generic.
fn invalid<E: std::fmt::Display>(r: &VirtualRoute) -> impl Fn(E) -> NetlinkError + '_ {
    move |e| NetlinkError::Invalid(format!("route {}/{}: {e}", r.dst, r.dst_len))
}

fn route_scope(s: Scope) -> RouteScope {
    match s {
        Scope::Global => RouteScope::Universe,
        Scope::Site => RouteScope::Site,
        Scope::Link => RouteScope::Link,
        Scope::Host => RouteScope::Host,
        Scope::Nowhere => RouteScope::NoWhere,
        Scope::Other(n) => RouteScope::from(n),
    }
}

/// The interface indexes of a route's own `dev` and of its nexthops' (same order).
pub type RouteOifs = (Option<u32>, Vec<Option<u32>>);

/// Whether a message is for adding or deleting: the default scope differs, as in iproute2
/// (a delete without a scope matches any scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Delete,
}

/// The route message for `r`. `oif` is the index of `r.dev` and `hop_oifs` those of the
/// nexthops' `dev`s (same order), resolved by the caller.
pub fn route_message(
    r: &VirtualRoute,
    oif: Option<u32>,
    hop_oifs: &[Option<u32>],
    op: Op,
) -> Result<RouteMessage> {
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(r.dst, r.dst_len)
        .map_err(invalid(r))?;
    if let Some(src) = r.src {
        b = b.pref_source(src).map_err(invalid(r))?;
    }
    if r.nexthops.is_empty() {
        if let Some(via) = r.via {
            b = b.gateway(via).map_err(invalid(r))?;
        }
        if let Some(i) = oif {
            b = b.output_interface(i);
        }
    } else {
        let family = match r.dst {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        let first = Nexthop {
            via: r.via,
            dev: r.dev.clone(),
            weight: None,
            onlink: r.onlink,
        };
        let mut hops = Vec::new();
        let firsts = (r.via.is_some() || r.dev.is_some()).then_some((&first, oif));
        let rest = r
            .nexthops
            .iter()
            .zip(hop_oifs.iter().copied().chain(std::iter::repeat(None)));
        for (h, h_oif) in firsts.into_iter().chain(rest) {
            let mut nb = RouteNextHopBuilder::new(family);
            if let Some(i) = h_oif {
                nb = nb.interface(i);
            }
            if let Some(v) = h.via {
                nb = nb.via(v).map_err(invalid(r))?;
            }
            if let Some(w) = h.weight {
                // The kernel stores weight - 1 (`ip route` shows 1..=256).
                nb = nb.weight(u8::try_from(w.saturating_sub(1)).unwrap_or(u8::MAX));
            }
            if h.onlink {
                nb = nb.onlink();
            }
            hops.push(nb.build());
        }
        b = b.multipath(hops);
    }
    if let Some(t) = r.table {
        b = b.table_id(t);
    }
    if let Some(m) = r.metric {
        b = b.priority(m);
    }
    if r.onlink && r.nexthops.is_empty() {
        b = b.onlink();
    }
    if let Some(t) = r.tos {
        b = b.tos(t);
    }
    let kind = match r.kind {
        RouteKind::Unicast => RouteType::Unicast,
        RouteKind::Blackhole => RouteType::BlackHole,
        RouteKind::Unreachable => RouteType::Unreachable,
        RouteKind::Prohibit => RouteType::Prohibit,
    };
    let scope = match (r.scope, op) {
        (Some(s), _) => route_scope(s),
        (None, Op::Delete) => RouteScope::NoWhere,
        // iproute2's default: a unicast route without a gateway is on-link.
        (None, Op::Add)
            if kind == RouteType::Unicast && r.via.is_none() && r.nexthops.is_empty() =>
        {
            RouteScope::Link
        }
        (None, Op::Add) => RouteScope::Universe,
    };
    let protocol = r
        .protocol
        .map_or(RouteProtocol::KeepAlived, RouteProtocol::from);
    let mut m = b.kind(kind).scope(scope).protocol(protocol).build();
    if let Some(mtu) = r.mtu {
        m.attributes
            .push(RouteAttribute::Metrics(vec![RouteMetric::Mtu(mtu)]));
    }
    Ok(m)
}

fn family_of(f: Family) -> AddressFamily {
    match f {
        Family::Ipv4 => AddressFamily::Inet,
        Family::Ipv6 => AddressFamily::Inet6,
    }
}

/// The rule message for `r` (`ip rule add|del …`). Without a table the rule looks up `main`,
/// as `ip rule` does.
pub fn rule_message(r: &VirtualRule) -> Result<RuleMessage> {
    let mut m = RuleMessage::default();
    m.header.family = family_of(r.family);
    m.header.action = match (r.action, r.goto) {
        (Some(RouteKind::Blackhole), _) => RuleAction::Blackhole,
        (Some(RouteKind::Unreachable), _) => RuleAction::Unreachable,
        (Some(RouteKind::Prohibit), _) => RuleAction::Prohibit,
        (_, Some(_)) => RuleAction::Goto,
        _ => RuleAction::ToTable,
    };
    if let Some(g) = r.goto {
        m.attributes.push(RuleAttribute::Goto(g));
    }
    if r.l3mdev {
        m.attributes.push(RuleAttribute::L3MDev(true));
    } else if m.header.action == RuleAction::ToTable {
        let table = r.table.unwrap_or(254);
        if let Ok(t) = u8::try_from(table) {
            m.header.table = t;
        }
        m.attributes.push(RuleAttribute::Table(table));
    }
    if let Some(p) = r.ip_proto {
        m.attributes
            .push(RuleAttribute::IpProtocol(IpProtocol::from(p)));
    }
    if let Some((start, end)) = r.sport {
        m.attributes
            .push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
    }
    if let Some((start, end)) = r.dport {
        m.attributes
            .push(RuleAttribute::DestinationPortRange(RulePortRange {
                start,
                end,
            }));
    }
    if let Some((start, end)) = r.uidrange {
        m.attributes
            .push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if let Some(n) = r.suppress_prefixlength {
        m.attributes.push(RuleAttribute::SuppressPrefixLen(n));
    }
    for (what, p) in [("from", r.from), ("to", r.to)] {
        let Some((addr, len)) = p else { continue };
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if Family::of(&addr) != r.family || len > max {
            return Err(NetlinkError::Invalid(format!(
                "rule {what} {addr}/{len}: wrong family or prefix"
            )));
        }
        if what == "from" {
            m.header.src_len = len;
            m.attributes.push(RuleAttribute::Source(addr));
        } else {
            m.header.dst_len = len;
            m.attributes.push(RuleAttribute::Destination(addr));
        }
    }
    if let Some(i) = &r.iif {
        m.attributes.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &r.oif {
        m.attributes.push(RuleAttribute::Oifname(o.clone()));
    }
    if let Some((mark, mask)) = r.fwmark {
        m.attributes.push(RuleAttribute::FwMark(mark));
        if let Some(mask) = mask {
            m.attributes.push(RuleAttribute::FwMask(mask));
        }
    }
    if let Some(tos) = r.tos {
        m.header.tos = tos;
    }
    if let Some(p) = r.preference {
        m.attributes.push(RuleAttribute::Priority(p));
    }
    m.attributes
        .push(RuleAttribute::Protocol(RouteProtocol::KeepAlived));
    Ok(m)
}

impl Netlink {
    /// Resolve a route's `dev`s (its own and its nexthops') to interface indexes by asking
    /// the kernel (a dump of every link): for a `dev` the daemon's interface table does not
    /// know yet.
    pub async fn route_oifs(&self, r: &VirtualRoute) -> Result<RouteOifs> {
        let oif = match &r.dev {
            Some(d) => Some(self.ifindex(d).await?),
            None => None,
        };
        let mut hops = Vec::with_capacity(r.nexthops.len());
        for h in &r.nexthops {
            hops.push(match &h.dev {
                Some(d) => Some(self.ifindex(d).await?),
                None => None,
            });
        }
        Ok((oif, hops))
    }

    /// [`Netlink::add_route_with`], the `dev`s looked up in the kernel first.
    pub async fn add_route(&self, r: &VirtualRoute) -> Result<()> {
        let oifs = self.route_oifs(r).await?;
        self.add_route_with(r, &oifs).await
    }

    /// [`Netlink::del_route_with`], the `dev`s looked up in the kernel first.
    pub async fn del_route(&self, r: &VirtualRoute) -> Result<()> {
        let oifs = self.route_oifs(r).await?;
        self.del_route_with(r, &oifs).await
    }

    /// Install a route: prepended to routes to the same destination as keepalived does, or
    /// appended with `append` (`ip route prepend|append`). `oifs` are its `dev`s' indexes.
    pub async fn add_route_with(&self, r: &VirtualRoute, oifs: &RouteOifs) -> Result<()> {
        let m = route_message(r, oifs.0, &oifs.1, Op::Add)?;
        let mut flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
        if r.append {
            flags |= NLM_F_APPEND;
        }
        self.request_ack(
            RouteNetlinkMessage::NewRoute(m),
            flags,
            format!("add route {}/{}", r.dst, r.dst_len),
        )
        .await
    }

    /// Remove a route (`ip route del`): one request and its acknowledgement, nothing else.
    pub async fn del_route_with(&self, r: &VirtualRoute, oifs: &RouteOifs) -> Result<()> {
        let m = route_message(r, oifs.0, &oifs.1, Op::Delete)?;
        self.request_ack(
            RouteNetlinkMessage::DelRoute(m),
            NLM_F_REQUEST | NLM_F_ACK,
            format!("remove route {}/{}", r.dst, r.dst_len),
        )
        .await
    }

    /// Remove every route tagged with protocol `keepalived` (18), in every table and both
    /// families (`ip route flush table all proto keepalived`), and say how many went. Run at
    /// start, before anything is installed: a run killed outright (SIGKILL, a crash, power
    /// loss) leaves its masters' routes behind, and a configuration changed since then no
    /// longer names them, so removing only what the configuration lists would miss them.
    /// Protocol 18 is keepalived's and baton's own; baton replaces keepalived on a host, so
    /// no other daemon's routes carry it.
    pub async fn flush_keepalived_routes(&self) -> Result<usize> {
        let mut gone = 0;
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut probe = RouteMessage::default();
            probe.header.address_family = family;
            let mut req = self.handle.route().get(probe);
            // The table is filtered here, not by the kernel: a dump without strict checking
            // lists every table.
            req.message_mut().header.table = 0;
            let stale: Vec<RouteMessage> = req
                .execute()
                .try_filter(|m| std::future::ready(m.header.protocol == RouteProtocol::KeepAlived))
                .try_collect()
                .await
                .map_err(NetlinkError::request("list routes"))?;
            for m in stale {
                let what = describe(&m);
                match self
                    .request_ack(
                        RouteNetlinkMessage::DelRoute(m),
                        NLM_F_REQUEST | NLM_F_ACK,
                        format!("remove stale route {what}"),
                    )
                    .await
                {
                    Ok(()) => {
                        tracing::info!("removed stale route {what} left by an earlier run");
                        gone += 1;
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(gone)
    }

    /// Install a rule (`ip rule add`).
    pub async fn add_rule(&self, r: &VirtualRule) -> Result<()> {
        let mut req = self.handle.rule().add();
        *req.message_mut() = rule_message(r)?;
        req.execute()
            .await
            .map_err(NetlinkError::request("add rule"))
    }

    /// Remove a rule (`ip rule del`).
    pub async fn del_rule(&self, r: &VirtualRule) -> Result<()> {
        self.handle
            .rule()
            .del(rule_message(r)?)
            .execute()
            .await
            .map_err(NetlinkError::request("remove rule"))
    }
}

/// `dst/len table N`, for the log.
fn describe(m: &RouteMessage) -> String {
    let mut dst = None;
    let mut table = u32::from(m.header.table);
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = Some(d.to_string()),
            RouteAttribute::Destination(RouteAddress::Inet6(d)) => dst = Some(d.to_string()),
            RouteAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    let dst = dst.unwrap_or_else(|| "default".into());
    format!("{dst}/{} table {table}", m.header.destination_prefix_length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, len: u8) -> VirtualRoute {
        VirtualRoute::new(dst.parse().unwrap(), len)
    }

    #[test]
    fn unicast_route_without_gateway_is_link_scope_on_add_and_any_scope_on_delete() {
        let r = route("10.9.0.0", 16);
        assert_eq!(
            route_message(&r, Some(2), &[], Op::Add)
                .unwrap()
                .header
                .scope,
            RouteScope::Link
        );
        assert_eq!(
            route_message(&r, Some(2), &[], Op::Delete)
                .unwrap()
                .header
                .scope,
            RouteScope::NoWhere
        );
        let mut g = route("10.9.0.0", 16);
        g.via = Some("10.0.0.1".parse().unwrap());
        assert_eq!(
            route_message(&g, None, &[], Op::Add).unwrap().header.scope,
            RouteScope::Universe
        );
    }

    #[test]
    fn big_table_numbers_go_in_the_table_attribute() {
        let mut r = route("10.9.0.0", 16);
        r.table = Some(1000);
        let m = route_message(&r, None, &[], Op::Add).unwrap();
        assert!(
            m.attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Table(1000)))
        );
        assert_eq!(m.header.protocol, RouteProtocol::KeepAlived);
    }

    #[test]
    fn rule_with_a_prefix_of_the_other_family_is_refused() {
        let mut r = VirtualRule::new(Family::Ipv4, 100);
        r.from = Some(("fd00::".parse().unwrap(), 64));
        assert!(rule_message(&r).is_err());
        r.from = Some(("10.0.0.0".parse().unwrap(), 33));
        assert!(rule_message(&r).is_err());
        r.from = Some(("10.0.0.0".parse().unwrap(), 8));
        assert_eq!(rule_message(&r).unwrap().header.src_len, 8);
    }
}
