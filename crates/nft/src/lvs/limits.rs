//! What an nftables data plane cannot do the way IPVS does, and what it does instead.

use std::fmt;
use std::net::SocketAddr;

use super::model::{Forwarding, Frontend, Protocol, Scheduler, VirtualService};

/// "Cannot do X, doing Y instead", for the configuration layer to warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limitation {
    /// The scheduler needs live per-connection counts per real server (lc, wlc, sed, nq, ovf,
    /// twos, lblc, lblcr), which nftables does not keep: `using` schedules instead.
    Scheduler { asked: Scheduler, using: Scheduler },
    /// `lb_kind TUN`: nftables cannot encapsulate, so the service is not programmed.
    Tunnel,
    /// `ops`: nftables NAT decides once per conntrack entry, so a UDP flow's datagrams all go
    /// to the real server its first one went to, until the entry expires.
    OnePacket,
    /// Direct routing cannot change the port: packets keep the service's port, not the real
    /// server's.
    DirectRoutingKeepsPort { server: SocketAddr },
    /// Direct routing runs at netdev ingress, before the administrator's prerouting rules, so
    /// a firewall mark must be set by a netdev ingress chain on the same interface with a
    /// priority below 0.
    DirectRoutingFwmark,
    /// Weights whose sum does not fit 32 bits are scaled down in proportion.
    WeightsScaled,
}

impl fmt::Display for Limitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limitation::Scheduler { asked, using } => write!(
                f,
                "cannot do scheduler {asked} (it needs per-connection counts), doing {using} instead"
            ),
            Limitation::Tunnel => f.write_str(
                "cannot do lb_kind TUN (nftables cannot encapsulate), not forwarding this service",
            ),
            Limitation::OnePacket => f.write_str(
                "cannot do ops (one-packet scheduling), scheduling each UDP flow once instead",
            ),
            Limitation::DirectRoutingKeepsPort { server } => write!(
                f,
                "cannot change the port with lb_kind DR (real server {server}), keeping the service's port instead"
            ),
            Limitation::DirectRoutingFwmark => f.write_str(
                "cannot see marks set at prerouting with lb_kind DR, matching marks set by a netdev ingress chain (priority below 0) instead",
            ),
            Limitation::WeightsScaled => f.write_str(
                "cannot use weights summing beyond 2^32, scaling them down in proportion instead",
            ),
        }
    }
}

/// The scheduler nftables runs for `asked`: itself where nftables can, else the nearest one
/// that needs no connection counts (least-connection families become weighted round robin,
/// locality-based ones destination hashing, overflow becomes failover).
pub fn scheduler_used(asked: Scheduler) -> Scheduler {
    match asked {
        Scheduler::Rr | Scheduler::Lc => Scheduler::Rr,
        Scheduler::Wrr | Scheduler::Wlc | Scheduler::Sed | Scheduler::Nq | Scheduler::Twos => {
            Scheduler::Wrr
        }
        Scheduler::Sh => Scheduler::Sh,
        Scheduler::Mh => Scheduler::Mh,
        Scheduler::Dh | Scheduler::Lblc | Scheduler::Lblcr => Scheduler::Dh,
        Scheduler::Fo | Scheduler::Ovf => Scheduler::Fo,
    }
}

/// Everything about `vs` that the data plane will do differently from IPVS.
pub fn limitations(vs: &VirtualService) -> Vec<Limitation> {
    let mut out = Vec::new();
    let using = scheduler_used(vs.scheduler);
    if using != vs.scheduler {
        out.push(Limitation::Scheduler {
            asked: vs.scheduler,
            using,
        });
    }
    if matches!(vs.forwarding, Forwarding::Tunnel { .. }) {
        out.push(Limitation::Tunnel);
    }
    let udp = match vs.frontend {
        Frontend::Address { protocol, .. } => protocol == Protocol::Udp,
        Frontend::Fwmark { .. } => true,
    };
    if vs.one_packet && udp {
        out.push(Limitation::OnePacket);
    }
    if let Forwarding::DirectRouting { .. } = vs.forwarding {
        let service_port = match vs.frontend {
            Frontend::Address { addr, .. } => addr.port(),
            Frontend::Fwmark { .. } => 0,
        };
        for rs in vs.real_servers.iter().chain(vs.sorry_server.iter()) {
            let p = rs.addr.port();
            if p != 0 && p != service_port {
                out.push(Limitation::DirectRoutingKeepsPort { server: rs.addr });
            }
        }
        if matches!(vs.frontend, Frontend::Fwmark { .. }) {
            out.push(Limitation::DirectRoutingFwmark);
        }
    }
    let total: u64 = vs.real_servers.iter().map(|r| u64::from(r.weight)).sum();
    if total > u64::from(u32::MAX) {
        out.push(Limitation::WeightsScaled);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvs::model::{Family, RealServer};

    #[test]
    fn connection_count_schedulers_fall_back_and_say_so() {
        let mut vs = VirtualService::new(Frontend::Fwmark {
            mark: 1,
            family: Family::Ipv4,
        });
        vs.scheduler = Scheduler::Wlc;
        vs.one_packet = true;
        let l = limitations(&vs);
        assert_eq!(
            l[0],
            Limitation::Scheduler {
                asked: Scheduler::Wlc,
                using: Scheduler::Wrr
            }
        );
        assert!(l.contains(&Limitation::OnePacket));
        assert_eq!(
            l[0].to_string(),
            "cannot do scheduler wlc (it needs per-connection counts), doing wrr instead"
        );
        vs.scheduler = Scheduler::Mh;
        vs.one_packet = false;
        assert!(limitations(&vs).is_empty());
    }

    #[test]
    fn direct_routing_reports_ports_it_cannot_change() {
        let mut vs = VirtualService::new(Frontend::Address {
            addr: "10.0.0.1:80".parse().unwrap(),
            protocol: Protocol::Tcp,
        });
        vs.forwarding = Forwarding::DirectRouting {
            interface: "eth0".into(),
        };
        vs.real_servers = vec![
            RealServer {
                addr: "10.0.0.2:80".parse().unwrap(),
                weight: 1,
            },
            RealServer {
                addr: "10.0.0.3:8080".parse().unwrap(),
                weight: 1,
            },
        ];
        assert_eq!(
            limitations(&vs),
            [Limitation::DirectRoutingKeepsPort {
                server: "10.0.0.3:8080".parse().unwrap()
            }]
        );
    }
}
