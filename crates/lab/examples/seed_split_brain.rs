//! The seed's story on real kernels, with the distribution's keepalived and the seed's two
//! configs unchanged: a firewall that drops VRRP makes both load balancers MASTER; without it
//! lb1 (priority 200) holds 192.168.5.10; killing lb1's keepalived moves the VIP to lb2, and an
//! ARP probe from a client times the takeover.
//!
//! ```text
//! sudo cargo run -p baton-lab --example seed_split_brain
//! ```

use std::process::Command;
use std::time::{Instant, SystemTime};

use baton_lab::{HostSpec, Lab, Probe, ms, secs, wait_until};

const VIP: &str = "192.168.5.10";

/// The seed's configs, verbatim but for the comments' language.
const LB1_CONF: &str = "global_defs {
router_id 192.168.5.11 # keepalived's unique id
}

vrrp_instance VI_1 {
state MASTER # initial state
interface ens33 # the NIC
virtual_router_id 51
priority 200
advert_int 1
authentication {
auth_type PASS
auth_pass 1111
}
virtual_ipaddress {
192.168.5.10 # the VIP
}
}
";

fn main() -> baton_lab::Result<()> {
    if !baton_lab::require_root() {
        return Ok(());
    }
    baton_lab::require_tool("keepalived")?;
    let lab = Lab::new("seed")?;
    let lb1 = lab.add_host(HostSpec::new("lb1").ifname("ens33").addr("192.168.5.11/24"))?;
    let lb2 = lab.add_host(HostSpec::new("lb2").ifname("ens33").addr("192.168.5.12/24"))?;
    let client = lab.add_host(HostSpec::new("client").addr("192.168.5.100/24"))?;
    let lb2_conf = LB1_CONF
        .replace("192.168.5.11", "192.168.5.12")
        .replace("MASTER", "BACKUP")
        .replace("priority 200", "priority 100");
    let keepalived = |host: &baton_lab::Host, conf: &str| -> baton_lab::Result<baton_lab::Proc> {
        let path = host.write_file("keepalived.conf", conf)?;
        // Default pid files in /run: each host has its own.
        host.spawn(
            Command::new("keepalived")
                .args(["-n", "-l", "-D", "-f"])
                .arg(path),
        )
    };

    // 1. The seed's firewall: lb2 never hears lb1's adverts.
    let firewall = lb2.drop_ip_protocol(112)?;
    let ka1 = keepalived(&lb1, LB1_CONF)?;
    let _ka2 = keepalived(&lb2, &lb2_conf)?;
    wait_until("lb1 to hold the VIP", secs(10), ms(20), || {
        lb1.has_addr(VIP)
    })?;
    wait_until("lb2 to hold the VIP too", secs(10), ms(20), || {
        lb2.has_addr(VIP)
    })?;
    let owners: Vec<String> = client
        .arping("eth0", VIP, ms(200))?
        .iter()
        .map(|m| m.to_string())
        .collect();
    println!(
        "with protocol 112 dropped on lb2, {VIP} answers from {}: split brain",
        owners.join(" and ")
    );
    println!(
        "lb2's firewall dropped {} adverts",
        firewall.dropped_packets()?
    );

    // 2. Lift the firewall: lb2 hears priority 200 and steps back.
    firewall.remove()?;
    wait_until("lb2 to give the VIP up", secs(10), ms(20), || {
        lb2.has_addr(VIP).map(|h| !h)
    })?;
    println!("firewall removed: only lb1 holds {VIP}");

    // 3. Crash lb1's keepalived; time the takeover from the client's point of view.
    let lb2_mac = lb2.interface("ens33")?.mac.to_string();
    let probe = client.start_probe(Probe::arp("eth0", VIP)?, ms(1))?;
    let capture = lab.capture_segment("lan", "vrrp")?;
    let (killed, killed_wall) = (Instant::now(), SystemTime::now());
    ka1.kill()?;
    let back = probe.wait_for("lb2 to answer for the VIP", secs(10), |s| {
        s.at > killed && s.responders.contains(&lb2_mac)
    })?;
    let adverts = capture.stop()?;
    let log = probe.stop()?;
    println!(
        "lb2 answered for {VIP} {:?} after lb1's keepalived was killed",
        back.at - killed
    );
    if let Some(outage) = log.outages_over(ms(10)).first() {
        println!("no host answered for {:?}", outage.duration());
    }
    let lb2_ip = "192.168.5.12".parse().ok();
    if let Some(first) = adverts.first_after(killed_wall, |r| r.ip().map(|ip| ip.src) == lb2_ip) {
        let after = first.ts.duration_since(killed_wall).unwrap_or_default();
        println!("lb2's first advert on the wire came {after:?} after the kill");
    }
    Ok(())
}
