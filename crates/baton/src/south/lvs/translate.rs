//! The LVS core's desired table in baton-nft's terms. The core speaks keepalived (a group
//! of address ranges, a fwmark for both families, per-server forwarding methods); the data
//! plane takes one frontend per service and one forwarding method per service. What cannot
//! be said that way is left out with the reason, which the caller logs.

use std::net::{IpAddr, SocketAddr};

use baton_conf::{FamilyKey, Forwarding as ConfForwarding, Granularity, Lvs, Protocol, Scheduler};
use baton_lvs::{Frontend, Role, Service, Table};
use baton_nft::lvs as nft;

/// How many addresses one range of a `virtual_server_group` may expand to: each is a
/// service of its own in the data plane.
pub const MAX_RANGE: u128 = 256;

/// Where DR traffic for a virtual address arrives: the interface its ingress hook goes on.
pub trait DrInterfaces {
    fn for_service(&self, vip: Option<IpAddr>, first_server: Option<IpAddr>) -> Option<String>;
}

/// The forwarding table for `table`, and the services left out with why.
pub fn forwarding_table(
    table: &Table,
    lvs: &Lvs,
    dr: &dyn DrInterfaces,
) -> (nft::ForwardingTable, Vec<(String, String)>) {
    let mut out = nft::ForwardingTable::default();
    let mut left_out = Vec::new();
    for service in table.services.values() {
        // With no server in the table the method is the virtual server's own, so a service
        // whose servers all failed keeps its place (and its DR connections) in the tables.
        let configured = lvs
            .virtual_servers
            .get(service.id.0 as usize)
            .map_or(ConfForwarding::Nat, |vs| vs.forwarding);
        match services_of(service, configured, dr) {
            Ok(mut v) => out.services.append(&mut v),
            Err(why) => left_out.push((service.name.clone(), why)),
        }
    }
    (out, left_out)
}

/// One data-plane service per address (and family) the core's service takes.
fn services_of(
    s: &Service,
    configured: ConfForwarding,
    dr: &dyn DrInterfaces,
) -> Result<Vec<nft::VirtualService>, String> {
    let reals: Vec<_> = s
        .destinations
        .iter()
        .filter(|d| matches!(d.role, Role::Real(_)))
        .collect();
    let sorry = s.destinations.iter().find(|d| d.role == Role::Sorry);
    // One method per service: the real servers' (the sorry server's when none is in).
    let methods: Vec<ConfForwarding> = reals.iter().map(|d| d.forwarding).collect();
    let method = match (methods.first(), sorry) {
        (Some(m), _) => *m,
        (None, Some(d)) => d.forwarding,
        (None, None) => configured,
    };
    if methods.iter().any(|m| m.name() != method.name())
        || sorry.is_some_and(|d| d.forwarding.name() != method.name())
    {
        return Err(
            "its servers mix forwarding methods; baton's nftables data plane forwards one way per virtual server"
                .into(),
        );
    }
    let frontends = frontends_of(s)?;
    let mut out = Vec::with_capacity(frontends.len());
    for fe in frontends {
        let vip = match fe {
            nft::Frontend::Address { addr, .. } => Some(addr.ip()),
            nft::Frontend::Fwmark { .. } => None,
        };
        let family = fe.family();
        let in_family = |a: &SocketAddr| nft::Family::of(&a.ip()) == family;
        let forwarding = match method {
            ConfForwarding::Nat => nft::Forwarding::Nat { masquerade: false },
            ConfForwarding::Dr => {
                let first = reals.iter().map(|d| d.address.ip()).next();
                let interface = dr
                    .for_service(vip, first.or(sorry.map(|d| d.address.ip())))
                    .ok_or_else(|| {
                        "DR: no interface of this host is on the virtual address's or the real servers' segment"
                            .to_string()
                    })?;
                nft::Forwarding::DirectRouting { interface }
            }
            ConfForwarding::Tun { .. } => nft::Forwarding::Tunnel {
                interface: String::new(),
            },
        };
        let mut vs = nft::VirtualService::new(fe);
        vs.scheduler = scheduler(s.scheduler);
        vs.hash_port = s.flags.hash_port;
        vs.one_packet = s.flags.one_packet;
        vs.persistence = s.persistence.as_ref().map(|p| nft::Persistence {
            timeout: p.timeout,
            granularity: p.granularity.map(|g| match g {
                Granularity::V4Mask(m) => nft::Granularity::V4Mask(m),
                Granularity::V6Prefix(l) => nft::Granularity::V6Prefix(l),
            }),
        });
        vs.forwarding = forwarding;
        vs.real_servers = reals
            .iter()
            .filter(|d| in_family(&d.address))
            .map(|d| nft::RealServer {
                addr: d.address,
                weight: d.weight,
            })
            .collect();
        vs.sorry_server = sorry
            .filter(|d| in_family(&d.address))
            .map(|d| nft::RealServer {
                addr: d.address,
                weight: d.weight,
            });
        out.push(vs);
    }
    Ok(out)
}

fn frontends_of(s: &Service) -> Result<Vec<nft::Frontend>, String> {
    let mut out = Vec::new();
    for fe in &s.frontends {
        match fe {
            Frontend::Addresses {
                first,
                last,
                port,
                protocol,
            } => {
                for addr in range(*first, *last)? {
                    out.push(nft::Frontend::Address {
                        addr: SocketAddr::new(addr, *port),
                        protocol: protocol_of(*protocol),
                    });
                }
            }
            Frontend::Fwmark { mark, family } => {
                let families: &[nft::Family] = match family {
                    Some(FamilyKey::Ipv4) => &[nft::Family::Ipv4],
                    Some(FamilyKey::Ipv6) => &[nft::Family::Ipv6],
                    None => &[nft::Family::Ipv4, nft::Family::Ipv6],
                };
                for f in families {
                    out.push(nft::Frontend::Fwmark {
                        mark: *mark,
                        family: *f,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Every address from `first` to `last`, inclusive.
fn range(first: IpAddr, last: IpAddr) -> Result<Vec<IpAddr>, String> {
    let (a, b) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b))),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
        _ => return Err(format!("range {first}-{last} mixes address families")),
    };
    if b < a {
        return Err(format!("range {first}-{last} runs backwards"));
    }
    if b - a >= MAX_RANGE {
        return Err(format!(
            "range {first}-{last} holds more than {MAX_RANGE} addresses, each a service of its own in nftables"
        ));
    }
    Ok((a..=b)
        .map(|n| match first {
            IpAddr::V4(_) => IpAddr::V4((n as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(n.into()),
        })
        .collect())
}

fn protocol_of(p: Protocol) -> nft::Protocol {
    match p {
        Protocol::Tcp => nft::Protocol::Tcp,
        Protocol::Udp => nft::Protocol::Udp,
        Protocol::Sctp => nft::Protocol::Sctp,
    }
}

/// The same scheduler by name; baton-nft says what it does for those it cannot do.
fn scheduler(s: Scheduler) -> nft::Scheduler {
    match s {
        Scheduler::Rr => nft::Scheduler::Rr,
        Scheduler::Wrr => nft::Scheduler::Wrr,
        Scheduler::Lc => nft::Scheduler::Lc,
        Scheduler::Wlc => nft::Scheduler::Wlc,
        Scheduler::Lblc => nft::Scheduler::Lblc,
        Scheduler::Lblcr => nft::Scheduler::Lblcr,
        Scheduler::Sh => nft::Scheduler::Sh,
        Scheduler::Mh => nft::Scheduler::Mh,
        Scheduler::Dh => nft::Scheduler::Dh,
        Scheduler::Fo => nft::Scheduler::Fo,
        Scheduler::Ovf => nft::Scheduler::Ovf,
        Scheduler::Sed => nft::Scheduler::Sed,
        Scheduler::Nq => nft::Scheduler::Nq,
        Scheduler::Twos => nft::Scheduler::Twos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_conf::{FakeHost, LoadOptions, load_str};
    use baton_lvs::{Input, Instant, Services};

    struct Eth0;
    impl DrInterfaces for Eth0 {
        fn for_service(&self, _: Option<IpAddr>, _: Option<IpAddr>) -> Option<String> {
            Some("eth0".into())
        }
    }

    fn table_of(text: &str) -> (Table, Lvs) {
        let loaded = load_str("k.conf", text, &LoadOptions::default(), &FakeHost::new());
        let config = loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
        let mut s = Services::new(&config);
        let mut actions = Vec::new();
        s.handle(Instant::ZERO, Input::Start, &mut actions);
        (s.table().clone(), config.lvs)
    }

    #[test]
    fn a_group_range_is_one_service_per_address_and_a_fwmark_without_family_is_both() {
        let (t, lvs) = table_of(
            "virtual_server_group G {\n 10.0.0.1-3 80\n fwmark 7\n}\n\
             virtual_server group G {\n lb_algo wrr\n protocol TCP\n real_server 10.1.0.1 8080 {\n  weight 3\n }\n}\n",
        );
        let (f, left_out) = forwarding_table(&t, &lvs, &Eth0);
        assert!(left_out.is_empty(), "{left_out:?}");
        let names: Vec<String> = f.services.iter().map(|s| s.frontend.to_string()).collect();
        assert_eq!(
            names,
            [
                "[10.0.0.1]:tcp:80",
                "[10.0.0.2]:tcp:80",
                "[10.0.0.3]:tcp:80",
                "FWM 7",
                "FWM 7 IPv6"
            ]
        );
        assert!(
            f.services
                .iter()
                .all(|s| s.scheduler == nft::Scheduler::Wrr)
        );
        assert_eq!(f.services[0].real_servers[0].weight, 3);
    }

    #[test]
    fn a_service_without_servers_keeps_its_method_and_mixed_methods_are_left_out() {
        let (t, lvs) = table_of(
            "virtual_server 10.0.0.1 80 {\n lb_kind DR\n protocol TCP\n\
             real_server 10.0.0.21 80 {\n  TCP_CHECK {\n  }\n }\n}\n\
             virtual_server 10.0.0.2 80 {\n lb_kind NAT\n protocol TCP\n\
             real_server 10.0.0.21 80 {\n }\n\
             real_server 10.0.0.22 80 {\n  lvs_method DR\n }\n}\n",
        );
        let mut empty = t.clone();
        for s in empty.services.values_mut() {
            s.destinations.clear();
        }
        let (f, _) = forwarding_table(&empty, &lvs, &Eth0);
        assert_eq!(
            f.services[0].forwarding,
            nft::Forwarding::DirectRouting {
                interface: "eth0".into()
            }
        );
        let (f, left_out) = forwarding_table(&t, &lvs, &Eth0);
        assert_eq!(f.services.len(), 1);
        assert_eq!(left_out.len(), 1, "{left_out:?}");
        assert_eq!(left_out[0].0, "[10.0.0.2]:tcp:80");
        assert!(
            left_out[0].1.contains("mix forwarding methods"),
            "{left_out:?}"
        );
    }

    #[test]
    fn ranges_are_bounded_and_ordered() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.1.1".parse().unwrap();
        assert_eq!(range(a, a).unwrap(), [a]);
        assert!(range(b, a).is_err());
        assert!(range(a, b).unwrap_err().contains("more than 256"));
        assert!(range(a, "::1".parse().unwrap()).is_err());
    }
}
