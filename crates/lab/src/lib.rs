//! Throw-away network labs on the real kernel, for baton's integration, interop and end-to-end
//! tests, its benchmarks and `baton demo`.
//!
//! A [`Lab`] is a switch (a network namespace holding one bridge per segment) and any number of
//! hosts. Each host is as close to a machine as namespaces allow: its own network namespace
//! with interfaces named as the test likes (`ens33` for the seed's configs), its own PID
//! namespace whose PID 1 reaps orphans, its own /proc and /sys, an empty /run of its own (so
//! daemons keep their default pid files), its own hostname, and a private directory for configs,
//! pid files and sockets. /tmp and the rest of the file system are the machine's. Programs started on a host see only that host,
//! so process tracking, `pidof` and `ps` behave as on a real machine.
//!
//! ```no_run
//! use std::process::Command;
//! use baton_lab::{HostSpec, Lab, ms, secs, wait_until};
//!
//! # fn main() -> baton_lab::Result<()> {
//! if !baton_lab::require_root() {
//!     return Ok(());
//! }
//! let lab = Lab::new("seed")?;
//! let lb1 = lab.add_host(HostSpec::new("lb1").ifname("ens33").addr("192.168.5.11/24"))?;
//! let lb2 = lab.add_host(HostSpec::new("lb2").ifname("ens33").addr("192.168.5.12/24"))?;
//!
//! let conf = lb1.write_file("keepalived.conf", "...")?;
//! let ka1 = lb1.spawn(Command::new("keepalived").args(["-n", "-l", "-f"]).arg(&conf))?;
//! wait_until("lb1 to hold the VIP", secs(5), ms(10), || lb1.has_addr("192.168.5.10"))?;
//!
//! let firewall = lb2.drop_ip_protocol(112)?; // the seed's firewalld bug
//! let capture = lab.capture_segment("lan", "vrrp")?;
//! ka1.kill()?;                               // crash the master
//! wait_until("lb2 to take over", secs(5), ms(10), || lb2.has_addr("192.168.5.10"))?;
//! let adverts = capture.stop()?;
//! firewall.remove()?;
//! # drop(adverts);
//! # Ok(())
//! # }
//! // Dropping `lab` kills every process and removes every namespace, link and file,
//! // during a panic too.
//! ```
//!
//! The usual moves, one line each:
//!
//! | to | write |
//! |---|---|
//! | add a host on another segment | `lab.add_segment("wan")?; lab.add_host(HostSpec::new("r").segment("wan").addr("10.1.0.1/24"))?` |
//! | run a daemon | `let p = h.spawn(Command::new("nginx").args(["-g", "daemon off;"]))?` |
//! | run to completion | `h.cmd(["ip", "route"])?`, `h.sh("sysctl -w net.ipv4.ip_forward=1")?` |
//! | crash it | `p.kill()?`, or `h.kill_all("nginx", Signal::SIGKILL)?` |
//! | see the host's processes | `h.pidof("keepalived")?`, `h.processes()?` |
//! | partition | `h.drop_ip_protocol(112)?`, `h.block_peer("192.168.5.11")?`, `h.block_all()?`, then `.remove()?` |
//! | link faults | `h.link_down("ens33")?` / `link_up`, `h.unplug("ens33")?` / `plug` |
//! | capture | `let c = lab.capture_segment("lan", "vrrp")?; ...; let pcap = c.stop()?;` |
//! | reachability | `h.ping(vip, ms(500))?`, `h.arping("eth0", vip, ms(100))?` |
//! | time a failover | `let p = h.start_probe(Probe::arp("eth0", vip)?, ms(1))?; ...; p.stop()?.outages_over(ms(10))` |
//! | raw sockets in a host | `h.socket(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))?`, `h.in_netns(\|\| ...)?` |
//! | forge packets | `h.injector("eth0")?.send_paced(datagrams, 20_000)?` with [`ipv4_datagram`] / [`ipv6_datagram`] under any source |
//! | the LVS-NAT client/director/real servers | `let h = baton_lab::nat::nat_hosts(&lab, &["10.1.0.100/32"], 2)?` |
//! | wait | `wait_until("lb2 to hold the VIP", secs(5), ms(10), \|\| lb2.has_addr(vip))?` |
//!
//! What the lab promises:
//!
//! * **Unique names.** Namespaces and the lab directory are named
//!   `baton-lab-<pid>-<start time>-<counter>-<name>-...`; interfaces live only inside the lab's
//!   namespaces, so they need no prefix. Labs of dead processes are swept by the next
//!   [`Lab::new`].
//! * **Cleanup.** Dropping a [`Lab`] kills each host's init (and with it every process of the
//!   host), deletes the namespaces (and with them every veth and bridge) and removes the
//!   directory; set `BATON_LAB_KEEP=1` to keep the directory. If the test process is killed
//!   outright, the inits die with it (parent-death signal) and the sweep removes the rest.
//! * **Nothing outside.** Traffic stays between the lab's namespaces; nothing is created in
//!   the machine's own network namespace.
//!
//! With the `routed` feature, [`routed`] builds a lab beyond one segment: two load balancers
//! announcing VIP host routes by BGP (FRR or BIRD 2) to an upstream FRR router, and a netlink
//! route watcher to time it — shared by baton's `routed` test and the benchmark runner.
//!
//! Root is required: tests start with `if !baton_lab::require_root() { return; }`. The tools
//! are Debian's `iproute2` (always), `nftables` (faults) and `tcpdump` (captures); a missing one
//! is reported with its package name ([`require_tool`]).

mod addr;
mod arp;
mod capture;
mod error;
mod exec;
mod fault;
mod host;
mod icmp;
mod init;
mod inject;
mod lab;
mod names;
pub mod nat;
mod ns;
mod pcap;
mod probe;
mod process;
#[cfg(feature = "routed")]
pub mod routed;
mod tools;
mod wait;

pub use addr::{AsIp, Cidr, IfAddr, MacAddr};
pub use capture::Capture;
pub use error::{Error, Result};
pub use fault::{Chain, Fault};
pub use host::{Host, LinkState, NicInfo};
pub use inject::{Injector, ethernet_destination, ipv4_datagram, ipv6_datagram};
pub use lab::{DEFAULT_SEGMENT, HostSpec, KEEP_ENV, Lab, Nic, SWITCH};
pub use nix::sys::signal::Signal;
pub use pcap::{IpPacket, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, Pcap, Record};
pub use probe::{Outage, Probe, ProbeLog, Prober, Sample};
pub use process::{Proc, ProcessInfo};
pub use tools::{package_of, require_root, require_tool, require_tools, which};
pub use wait::{Condition, Found, ms, secs, wait_for, wait_until};
