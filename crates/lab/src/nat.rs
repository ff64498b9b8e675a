//! The LVS-NAT topology that the virtual-server tests, the data-plane tests and the
//! benchmark share: a client and a director on the default segment (10.1.0.0/24, fd01::/64),
//! the director and `n` real servers on `back` (10.2.0.0/24, fd02::/64), each real server
//! routing through the director, which forwards. The virtual addresses are the director's,
//! as with LVS-NAT (the replies must come back through it to be translated).

use crate::{Host, HostSpec, Lab, Nic, Result};

/// The client's addresses.
pub const CLIENT4: &str = "10.1.0.2";
pub const CLIENT6: &str = "fd01::2";
/// The director's addresses on the client's side and on the real servers' side (their
/// default gateway).
pub const DIRECTOR4: &str = "10.1.0.1";
pub const DIRECTOR6: &str = "fd01::1";
pub const GATEWAY4: &str = "10.2.0.1";
pub const GATEWAY6: &str = "fd02::1";

/// Real server `i` (from 1): 10.2.0.1i and fd02::1i.
pub fn real_server4(i: usize) -> String {
    format!("10.2.0.1{i}")
}

pub fn real_server6(i: usize) -> String {
    format!("fd02::1{i}")
}

/// The hosts of a NAT topology; the lab that holds them is the caller's.
#[derive(Debug)]
pub struct NatHosts {
    pub client: Host,
    pub director: Host,
    /// `rs1`, `rs2`, …, with no service started.
    pub servers: Vec<Host>,
}

/// Build the topology in `lab`: `vips` (with their prefix, `10.1.0.100/32`) are added to the
/// director's client-side interface.
pub fn nat_hosts(lab: &Lab, vips: &[&str], servers: usize) -> Result<NatHosts> {
    lab.add_segment("back")?;
    let client = lab.add_host(
        HostSpec::new("client")
            .addr(format!("{CLIENT4}/24"))
            .addr(format!("{CLIENT6}/64")),
    )?;
    let mut spec = HostSpec::new("director")
        .addr(format!("{DIRECTOR4}/24"))
        .addr(format!("{DIRECTOR6}/64"));
    for vip in vips {
        spec = spec.addr(*vip);
    }
    let director = lab.add_host(
        spec.nic(
            Nic::new("eth1")
                .segment("back")
                .addr(format!("{GATEWAY4}/24"))
                .addr(format!("{GATEWAY6}/64")),
        ),
    )?;
    director.sh("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1")?;
    let servers = (1..=servers)
        .map(|i| {
            let h = lab.add_host(
                HostSpec::new(format!("rs{i}"))
                    .segment("back")
                    .addr(format!("{}/24", real_server4(i)))
                    .addr(format!("{}/64", real_server6(i))),
            )?;
            h.sh(&format!(
                "ip route add default via {GATEWAY4} && ip -6 route add default via {GATEWAY6}"
            ))?;
            Ok(h)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(NatHosts {
        client,
        director,
        servers,
    })
}
