//! Opens every piece of IO the seed configuration needs (one VRRP instance, IPv4, on one
//! interface) on a current-thread runtime, as the daemon will, and prints the resident memory
//! that costs: the netlink request socket and the link/address monitor, the raw VRRP socket
//! joined to 224.0.0.18, the GARP sender and the control socket. Run inside a namespace that
//! has the interface: `benches/footprint.sh` does that.
//!
//! Usage: io_footprint IFNAME CONTROL_SOCKET

use std::net::IpAddr;
use std::path::PathBuf;

use baton::north::control::ControlServer;
use baton::south::garp::Announcer;
use baton::south::netlink::{Monitor, Netlink};
use baton::south::vrrp_socket::VrrpSocket;
use baton_wire::{Family, MCAST_GROUP_V4};

fn rss_kb(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let ifname = args.next().unwrap_or_else(|| "ens33".into());
    let control = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/tmp/io_footprint.sock".into()),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let nl = Netlink::connect()?;
        let mut monitor = Monitor::start(&[])?;
        let links = nl.links().await?;
        monitor.set_known(&links);
        let link = links
            .iter()
            .find(|l| l.name == ifname)
            .ok_or_else(|| anyhow::anyhow!("no interface {ifname}"))?;
        let addrs = nl.addresses(Some(link.index)).await?;
        let src = baton::south::netlink::primary_address(&addrs, link.index, false);
        let socket = VrrpSocket::open(&ifname, link.index, Family::Ipv4)?;
        socket.join(IpAddr::V4(MCAST_GROUP_V4))?;
        let _announcer = Announcer::open(&ifname, link.index, link.mac.unwrap_or_default())?;
        let server = ControlServer::bind(&control)?;
        // Let the drivers run once so their buffers exist.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        println!(
            "io_footprint {ifname} src {src:?}: VmRSS {} RssAnon {} RssFile {} threads {}",
            rss_kb("VmRSS:"),
            rss_kb("RssAnon:"),
            rss_kb("RssFile:"),
            rss_kb("Threads:")
        );
        drop(server);
        Ok(())
    })
}
