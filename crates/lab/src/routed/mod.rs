//! The routed lab: two load balancers in different subnets, an upstream router and a client
//! behind it, each on a segment of its own:
//!
//! ```text
//!   lb1 10.0.1.2 ── a ── 10.0.1.1 ┐
//!                                 r (FRR bgpd, AS 65000) 10.0.3.1 ── c ── 10.0.3.2 client
//!   lb2 10.0.2.2 ── b ── 10.0.2.1 ┘
//! ```
//!
//! Each load balancer runs baton, nginx answering its own name on port 80, and a BGP speaker
//! (FRR's zebra + bgpd, or BIRD 2) announcing what baton puts in routing table 100. The
//! router learns the VIP from them; the client reaches it through the router.
//!
//! With [`Setup::ipv6`] every segment also carries IPv6 (`fd00:1::/64`, `fd00:2::/64`,
//! `fd00:3::/64`, the same host numbers) and the load balancers run an IPv6 BGP session of
//! their own to the router, announcing the /128 VIPs baton puts in table 100 (BIRD only:
//! FRR 8.4's zebra imports IPv4 tables only).
//!
//! Shared by baton's `routed` test and the benchmark runner's `routed` section, so the
//! figures in docs/PERFORMANCE.md come from the lab the test checks.

mod watch;

pub use watch::{RouteEvent, RouteWatch};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{Host, HostSpec, Lab, Nic, Proc, ms, secs, wait_until};

pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 1);
/// The IPv6 VIP of a lab built with [`Setup::ipv6`].
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x100, 0, 0, 0, 0, 0, 1);
/// The routing table baton installs VIP routes into and the speakers announce from.
pub const TABLE: u32 = 100;
pub const LB: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 1, 2), Ipv4Addr::new(10, 0, 2, 2)];
const GW: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 2, 1)];
pub const LB6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 2),
];
const GW6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 1),
];
const FRR: &str = "/usr/lib/frr";
/// The kernel's `main` table, where the router's zebra installs BGP routes.
pub const MAIN: u32 = 254;

/// How a lab is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub speaker: Speaker,
    /// BFD (100 ms × 3) on the BGP sessions, FRR speakers only.
    pub bfd: bool,
    /// IPv6 beside IPv4 on every segment, and an IPv6 BGP session per load balancer.
    pub ipv6: bool,
}

/// Which BGP speaker the load balancers run (the router always runs FRR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    Frr,
    Bird,
}

/// The lab and its hosts.
#[derive(Debug)]
pub struct Routed {
    /// Kept for its drop: the namespaces and every process go with it.
    _lab: Lab,
    /// The baton binary the load balancers run.
    baton: PathBuf,
    pub setup: Setup,
    pub r: Host,
    pub lbs: [Host; 2],
    pub client: Host,
    pub router_frr: Daemons,
    pub speakers: Vec<Daemons>,
    pub nginx: [Option<Proc>; 2],
    pub batons: [Option<Proc>; 2],
}

/// Daemons of one host and where they keep their files.
#[derive(Debug)]
pub struct Daemons {
    pub host: Host,
    pub dir: PathBuf,
    pub procs: Vec<Proc>,
}

/// The router's FRR configuration (bgpd), with or without BFD on the sessions.
pub fn router_bgpd(bfd: bool) -> String {
    router_bgpd_for(bfd, false)
}

/// The router's bgpd, with an IPv6 session to each load balancer when `ipv6`.
pub fn router_bgpd_for(bfd: bool, ipv6: bool) -> String {
    let mut c = String::from("frr defaults datacenter\nhostname r\n!\n");
    if ipv6 {
        // BIRD sends a link-local next hop beside the global one and zebra would install
        // the link-local; the global one names the load balancer.
        c += "route-map GLOBAL permit 10\n set ipv6 next-hop prefer-global\n!\n";
    }
    c += "router bgp 65000\n bgp router-id 10.0.3.1\n \
          no bgp ebgp-requires-policy\n bgp bestpath as-path multipath-relax\n";
    for (i, lb) in LB.iter().enumerate() {
        c += &format!(
            " neighbor {lb} remote-as {}\n neighbor {lb} timers 1 3\n \
             neighbor {lb} advertisement-interval 0\n",
            65001 + i
        );
        if bfd {
            c += &format!(" neighbor {lb} bfd profile fast\n");
        }
    }
    if ipv6 {
        for (i, lb) in LB6.iter().enumerate() {
            c += &format!(
                " neighbor {lb} remote-as {}\n neighbor {lb} timers 1 3\n \
                 neighbor {lb} advertisement-interval 0\n",
                65001 + i
            );
        }
    }
    c += " address-family ipv4 unicast\n  maximum-paths 4\n exit-address-family\n";
    if ipv6 {
        c += " address-family ipv6 unicast\n";
        for lb in LB6 {
            c += &format!("  neighbor {lb} activate\n  neighbor {lb} route-map GLOBAL in\n");
        }
        c += "  maximum-paths 4\n exit-address-family\n";
    }
    c += "!\n";
    c
}

/// bfdd's configuration: 100 ms × 3, the same on both ends.
pub const BFDD: &str = "bfd\n profile fast\n  receive-interval 100\n  transmit-interval 100\n  \
                        detect-multiplier 3\n !\n!\n";

/// A load balancer's zebra: table 100 imported into the RIB.
pub const LB_ZEBRA: &str = "ip import-table 100\n";

/// A load balancer's bgpd: what zebra imported from table 100, VIP host routes only.
pub fn lb_bgpd(i: usize, bfd: bool) -> String {
    let (me, gw, asn) = (LB[i], GW[i], 65001 + i);
    let bfd = if bfd {
        format!(" neighbor {gw} bfd profile fast\n")
    } else {
        String::new()
    };
    format!(
        "frr defaults datacenter\nhostname lb{n}\n!\nip prefix-list VIPS seq 5 permit 10.100.0.0/24 ge 32\n\
         !\nroute-map VIPS permit 10\n match ip address prefix-list VIPS\n!\n\
         router bgp {asn}\n bgp router-id {me}\n no bgp ebgp-requires-policy\n \
         neighbor {gw} remote-as 65000\n neighbor {gw} timers 1 3\n \
         neighbor {gw} advertisement-interval 0\n{bfd} address-family ipv4 unicast\n  \
         redistribute table 100 route-map VIPS\n exit-address-family\n!\n",
        n = i + 1
    )
}

/// A load balancer's BIRD 2: the VIP routes baton puts in kernel table 100, learned and
/// announced by BGP.
pub fn lb_bird(i: usize) -> String {
    lb_bird_for(i, false)
}

/// [`lb_bird`], plus with `ipv6` the /128 VIP routes of table 100, announced over an IPv6
/// session of their own.
pub fn lb_bird_for(i: usize, ipv6: bool) -> String {
    let mut c = lb_bird_v4(i);
    if ipv6 {
        c += "\n";
        c += &lb_bird_v6(i);
    }
    c
}

/// The IPv6 half of a load balancer's BIRD configuration.
pub fn lb_bird_v6(i: usize) -> String {
    let (me, gw, asn) = (LB6[i], GW6[i], 65001 + i);
    format!(
        "# The /128 VIP routes: the same table, the other family.\n\
         protocol kernel vips6 {{\n\
         \x20   kernel table 100;\n\
         \x20   learn;\n\
         \x20   ipv6 {{\n\
         \x20       import where net ~ [ fd00:100::/64{{128,128}} ];\n\
         \x20       export none;\n\
         \x20   }};\n\
         }}\n\
         \n\
         protocol bgp upstream6 {{\n\
         \x20   local {me} as {asn};\n\
         \x20   neighbor {gw} as 65000;\n\
         \x20   hold time 3;\n\
         \x20   keepalive time 1;\n\
         \x20   ipv6 {{\n\
         \x20       import none;\n\
         \x20       export where net ~ [ fd00:100::/64{{128,128}} ];\n\
         \x20   }};\n\
         }}\n"
    )
}

fn lb_bird_v4(i: usize) -> String {
    let (me, gw, asn) = (LB[i], GW[i], 65001 + i);
    format!(
        "router id {me};\n\
         \n\
         protocol device {{\n}}\n\
         \n\
         # baton's VIP routes: kernel table 100, learned as they come and go.\n\
         protocol kernel vips {{\n\
         \x20   kernel table 100;\n\
         \x20   learn;\n\
         \x20   ipv4 {{\n\
         \x20       import where net ~ [ 10.100.0.0/24{{32,32}} ];\n\
         \x20       export none;\n\
         \x20   }};\n\
         }}\n\
         \n\
         protocol bgp upstream {{\n\
         \x20   local {me} as {asn};\n\
         \x20   neighbor {gw} as 65000;\n\
         \x20   hold time 3;\n\
         \x20   keepalive time 1;\n\
         \x20   ipv4 {{\n\
         \x20       import none;\n\
         \x20       export where net ~ [ 10.100.0.0/24{{32,32}} ];\n\
         \x20   }};\n\
         }}\n"
    )
}

/// baton's configuration for load balancer `i`. Primary/backup: one VRRP instance across
/// the router by unicast (the adverts arrive with TTL 254, which `min_ttl` admits); anycast:
/// an instance of its own on each, alone, so nothing is elected and the VIP's route follows
/// nginx's health only.
pub fn baton_conf(i: usize, anycast: bool, vips: &[IpAddr]) -> String {
    let mut c = format!(
        "global_defs {{\n    router_id lb{n}\n}}\n\nvrrp_track_process chk_nginx {{\n    \
         process nginx\n}}\n\nvrrp_instance VI_1 {{\n",
        n = i + 1
    );
    if anycast {
        c += &format!(
            "    state MASTER\n    interface eth0\n    virtual_router_id {}\n    priority 100\n    \
             version 3\n    advert_int 1\n",
            61 + i
        );
    } else {
        let (prio, peer) = (if i == 0 { 200 } else { 100 }, LB[1 - i]);
        c += &format!(
            "    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority {prio}\n    \
             version 3\n    advert_int 0.2\n    unicast_src_ip {me}\n    unicast_peer {{\n        \
             {peer} min_ttl 250 max_ttl 255\n    }}\n",
            me = LB[i]
        );
    }
    c += "    track_process {\n        chk_nginx\n    }\n";
    // The VIP is not an address: zebra would see it as a connected route, which beats the
    // imported table-100 route in its RIB so bgpd would never announce it. The load
    // balancers accept it through a local route instead (`ip route add local 10.100.0.0/24
    // dev lo table local`, set up with the lab), and baton's route in table 100 is what
    // decides who is announced.
    c += "    no_virtual_ipaddress\n";
    if !vips.is_empty() {
        c += "    virtual_routes {\n";
        for v in vips {
            let len = if v.is_ipv4() { 32 } else { 128 };
            c += &format!("        {v}/{len} dev lo table {TABLE}\n");
        }
        c += "    }\n";
    }
    c += "}\n";
    c
}

impl Daemons {
    fn new(host: &Host) -> Result<Daemons> {
        let dir = host.path("speaker");
        std::fs::create_dir_all(&dir)?;
        Ok(Daemons {
            host: host.clone(),
            dir,
            procs: Vec::new(),
        })
    }

    /// Start FRR daemons (`zebra` first), each with its own config, pid file, zapi socket
    /// and vty directory under the host's directory.
    fn start_frr(&mut self, daemons: &[(&str, String)]) -> Result<()> {
        let d = self.dir.display().to_string();
        self.host
            .sh(&format!(
                "install -d -o frr -g frr -m 0755 /run/frr && chown -R frr:frr {d}"
            ))
            .context("preparing FRR's directories")?;
        for (name, conf) in daemons {
            let path = self.dir.join(format!("{name}.conf"));
            std::fs::write(&path, conf)?;
            self.host
                .sh(&format!("chown frr:frr {}", path.display()))
                .context("chown")?;
            let mut cmd = Command::new(format!("{FRR}/{name}"));
            cmd.arg("-f")
                .arg(&path)
                .arg("-i")
                .arg(self.dir.join(format!("{name}.pid")))
                .arg("-z")
                .arg(self.dir.join("zserv.api"))
                .arg("--vty_socket")
                .arg(&self.dir)
                .args(["-P", "0", "--log", "stdout"]);
            let p = self.host.spawn(&mut cmd)?;
            let sock = self.dir.join(format!("{name}.vty"));
            wait_until(
                format!("{name} to listen"),
                secs(10),
                ms(10),
                || -> Result<bool> {
                    if !p.is_running()? {
                        bail!("{name} exited: {}", p.stdout()? + &p.stderr()?);
                    }
                    Ok(sock.exists())
                },
            )?;
            self.procs.push(p);
        }
        Ok(())
    }

    fn start_bird(&mut self, conf: String) -> Result<()> {
        let path = self.dir.join("bird.conf");
        std::fs::write(&path, conf)?;
        let mut cmd = Command::new("bird");
        cmd.arg("-f")
            .arg("-c")
            .arg(&path)
            .arg("-s")
            .arg(self.dir.join("bird.ctl"))
            .arg("-P")
            .arg(self.dir.join("bird.pid"));
        let p = self.host.spawn(&mut cmd)?;
        let sock = self.dir.join("bird.ctl");
        wait_until("bird to listen", secs(10), ms(10), || -> Result<bool> {
            if !p.is_running()? {
                bail!("bird exited: {}", p.stdout()? + &p.stderr()?);
            }
            Ok(sock.exists())
        })?;
        self.procs.push(p);
        Ok(())
    }

    /// `vtysh -c …` against this host's FRR.
    pub fn vtysh(&self, command: &str) -> Result<String> {
        Ok(self.host.cmd([
            "vtysh",
            "--vty_socket",
            &self.dir.display().to_string(),
            "-c",
            command,
        ])?)
    }

    /// Everything the daemons printed, for a failure message.
    pub fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| p.stdout().unwrap_or_default() + &p.stderr().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Routed {
    /// Build the lab and start everything but baton and nginx.
    pub fn new(name: &str, baton: &Path, setup: Setup) -> Result<Routed> {
        let Setup { speaker, bfd, ipv6 } = setup;
        if ipv6 && speaker == Speaker::Frr {
            bail!("FRR 8.4's zebra imports IPv4 tables only: IPv6 VIPs go through BIRD");
        }
        let lab = Lab::new(name)?;
        for s in ["a", "b", "c"] {
            lab.add_segment(s)?;
        }
        let six = |spec: HostSpec, addr: String| if ipv6 { spec.addr(addr) } else { spec };
        let six_nic = |nic: Nic, addr: &str| if ipv6 { nic.addr(addr) } else { nic };
        let r = lab.add_host(
            six(
                HostSpec::new("r").segment("a").addr("10.0.1.1/24"),
                format!("{}/64", GW6[0]),
            )
            .nic(six_nic(
                Nic::new("eth1").segment("b").addr("10.0.2.1/24"),
                &format!("{}/64", GW6[1]),
            ))
            .nic(six_nic(
                Nic::new("eth2").segment("c").addr("10.0.3.1/24"),
                "fd00:3::1/64",
            )),
        )?;
        r.sh("sysctl -qw net.ipv4.ip_forward=1")?;
        if ipv6 {
            r.sh("sysctl -qw net.ipv6.conf.all.forwarding=1")?;
        }
        let mut lbs = Vec::new();
        for (i, seg) in ["a", "b"].iter().enumerate() {
            let h = lab.add_host(six(
                HostSpec::new(format!("lb{}", i + 1))
                    .segment(*seg)
                    .addr(format!("{}/24", LB[i])),
                format!("{}/64", LB6[i]),
            ))?;
            h.sh(&format!(
                // The VIPs are accepted by a local route, not an address. A rule of its own
                // keeps the local table apart from main: merged (the kernel's default while
                // no rule is added), the /32 zebra installs in main for the imported route
                // would shadow the local /24 and replies from the VIP would be unroutable.
                "ip route add default via {} && ip route add local 10.100.0.0/24 dev lo table local \
                 && ip rule add pref 32765 lookup 100",
                GW[i]
            ))?;
            if ipv6 {
                // IPv6 keeps local and main apart anyway: the local route is all it needs.
                h.sh(&format!(
                    "ip -6 route add default via {} && \
                     ip -6 route add local fd00:100::/64 dev lo table local",
                    GW6[i]
                ))?;
            }
            lbs.push(h);
        }
        let client = lab.add_host(six(
            HostSpec::new("client").segment("c").addr("10.0.3.2/24"),
            "fd00:3::2/64".into(),
        ))?;
        client.sh("ip route add default via 10.0.3.1")?;
        if ipv6 {
            client.sh("ip -6 route add default via fd00:3::1")?;
        }
        let mut router_frr = Daemons::new(&r)?;
        let mut daemons = vec![
            ("zebra", String::new()),
            ("bgpd", router_bgpd_for(bfd, ipv6)),
        ];
        if bfd {
            daemons.push(("bfdd", BFDD.to_string()));
        }
        router_frr.start_frr(&daemons)?;
        let mut speakers = Vec::new();
        for (i, h) in lbs.iter().enumerate() {
            let mut d = Daemons::new(h)?;
            match speaker {
                Speaker::Frr => {
                    let mut daemons =
                        vec![("zebra", LB_ZEBRA.to_string()), ("bgpd", lb_bgpd(i, bfd))];
                    if bfd {
                        daemons.push(("bfdd", BFDD.to_string()));
                    }
                    d.start_frr(&daemons)?;
                }
                Speaker::Bird => d.start_bird(lb_bird_for(i, ipv6))?,
            }
            speakers.push(d);
        }
        let [lb1, lb2]: [Host; 2] = lbs.try_into().map_err(|_| anyhow::anyhow!("two hosts"))?;
        let me = Routed {
            _lab: lab,
            baton: baton.to_path_buf(),
            setup,
            r,
            lbs: [lb1, lb2],
            client,
            router_frr,
            speakers,
            nginx: [None, None],
            batons: [None, None],
        };
        me.wait_sessions()?;
        Ok(me)
    }

    /// Both BGP sessions established at the router.
    fn wait_sessions(&self) -> Result<()> {
        wait_until(
            "the router's BGP sessions",
            secs(30),
            ms(100),
            || -> Result<bool> {
                let text = self.router_frr.vtysh("show bgp summary json")?;
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let up = |family: &str, lb: IpAddr| {
                    v[family]["peers"][lb.to_string()]["state"] == "Established"
                };
                Ok(LB.iter().all(|lb| up("ipv4Unicast", IpAddr::V4(*lb)))
                    && (!self.setup.ipv6
                        || LB6.iter().all(|lb| up("ipv6Unicast", IpAddr::V6(*lb)))))
            },
        )
        .with_context(|| format!("router: {}", self.router_frr.logs()))?;
        Ok(())
    }

    /// nginx on load balancer `i`, one process (`master_process off`) so a kill is a death.
    pub fn start_nginx(&mut self, i: usize) -> Result<()> {
        let h = &self.lbs[i];
        let dir = h.path("nginx");
        std::fs::create_dir_all(&dir)?;
        let d = dir.display();
        let conf = h.write_file(
            "nginx/nginx.conf",
            format!(
                "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d};\n  \
                 proxy_temp_path {d};\n  fastcgi_temp_path {d};\n  uwsgi_temp_path {d};\n  \
                 scgi_temp_path {d};\n  server {{\n    listen 80;\n{six}    \
                 return 200 \"lb{n}\\n\";\n  }}\n}}\n",
                n = i + 1,
                six = if self.setup.ipv6 {
                    "    listen [::]:80;\n"
                } else {
                    ""
                }
            ),
        )?;
        let p = h.spawn(Command::new("nginx").arg("-c").arg(conf))?;
        wait_until("nginx to listen", secs(5), ms(10), || -> Result<bool> {
            if !p.is_running()? {
                bail!("nginx exited: {}", p.stderr()?);
            }
            Ok(h.cmd(["ss", "-Htln", "sport = :80"])?.contains(":80"))
        })?;
        self.nginx[i] = Some(p);
        Ok(())
    }

    pub fn write_baton_conf(&self, i: usize, conf: &str) -> Result<PathBuf> {
        Ok(self.lbs[i].write_file("baton/keepalived.conf", conf)?)
    }

    /// baton on load balancer `i` with the configuration last written.
    pub fn start_baton(&mut self, i: usize) -> Result<()> {
        let h = &self.lbs[i];
        let conf = h.path("baton/keepalived.conf");
        let pid = h.path("baton/baton.pid");
        let p = h.spawn(
            Command::new(&self.baton)
                .args(["-n", "-l", "-D", "-f"])
                .arg(&conf)
                .arg("-p")
                .arg(&pid),
        )?;
        wait_until(
            "baton to answer `baton status`",
            secs(10),
            ms(10),
            || -> Result<bool> {
                if !p.is_running()? {
                    bail!("baton exited: {}", p.stderr()?);
                }
                Ok(Command::new(&self.baton)
                    .args(["status", "--json", "-p"])
                    .arg(&pid)
                    .output()?
                    .status
                    .success())
            },
        )?;
        self.batons[i] = Some(p);
        Ok(())
    }

    /// The log of baton on `i`.
    pub fn baton_log(&self, i: usize) -> String {
        self.batons[i]
            .as_ref()
            .map(|p| p.stdout().unwrap_or_default() + &p.stderr().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The router's next hops for the VIP, from its kernel table.
    pub fn router_next_hops(&self) -> Result<Vec<IpAddr>> {
        self.router_next_hops_for(IpAddr::V4(VIP))
    }

    /// The router's next hops for `vip` (a host route), from its kernel table.
    pub fn router_next_hops_for(&self, vip: IpAddr) -> Result<Vec<IpAddr>> {
        let (family, len) = if vip.is_ipv4() {
            ("-4", 32)
        } else {
            ("-6", 128)
        };
        let text = self
            .r
            .cmd(["ip", "-j", family, "route", "show", &format!("{vip}/{len}")])?;
        let v: Value = serde_json::from_str(&text).with_context(|| text.clone())?;
        let mut hops = Vec::new();
        for route in v.as_array().into_iter().flatten() {
            if let Some(g) = route["gateway"].as_str() {
                hops.push(g.parse()?);
            }
            for h in route["nexthops"].as_array().into_iter().flatten() {
                if let Some(g) = h["gateway"].as_str() {
                    hops.push(g.parse()?);
                }
            }
        }
        hops.sort();
        hops.dedup();
        Ok(hops)
    }

    /// Wait until the router's next hops for the VIP are exactly `want`.
    pub fn wait_next_hops(&self, want: &[Ipv4Addr], timeout: Duration) -> Result<Duration> {
        let want: Vec<IpAddr> = want.iter().map(|a| IpAddr::V4(*a)).collect();
        self.wait_next_hops_for(IpAddr::V4(VIP), &want, timeout)
    }

    /// Wait until the router's next hops for `vip` are exactly `want`.
    pub fn wait_next_hops_for(
        &self,
        vip: IpAddr,
        want: &[IpAddr],
        timeout: Duration,
    ) -> Result<Duration> {
        let mut want = want.to_vec();
        want.sort();
        wait_until(
            format!("the router's route to {vip} via {want:?}"),
            timeout,
            ms(5),
            || -> Result<bool> { Ok(self.router_next_hops_for(vip)? == want) },
        )
        .with_context(|| {
            format!(
                "router has {:?}\n{}\nlb1 baton: {}\nlb2 baton: {}",
                self.router_next_hops_for(vip).unwrap_or_default(),
                self.diagnose(),
                self.baton_log(0),
                self.baton_log(1)
            )
        })
    }

    /// What the speakers and kernels hold, for a failure message.
    pub fn diagnose(&self) -> String {
        let mut out = String::new();
        out += &format!(
            "router bgp: {}\n",
            self.router_frr
                .vtysh("show bgp ipv4 unicast")
                .unwrap_or_default()
        );
        for (i, s) in self.speakers.iter().enumerate() {
            let h = &self.lbs[i];
            out += &format!(
                "lb{} table all: {}\n",
                i + 1,
                h.cmd(["ip", "route", "show", "table", "all"])
                    .unwrap_or_default()
            );
            let speaker = if s.dir.join("bird.ctl").exists() {
                h.cmd([
                    "birdc",
                    "-s",
                    &s.dir.join("bird.ctl").display().to_string(),
                    "show route all",
                ])
                .unwrap_or_default()
            } else {
                s.vtysh("show ip route").unwrap_or_default()
                    + &s.vtysh("show bgp ipv4 unicast").unwrap_or_default()
            };
            out += &format!("lb{} speaker: {speaker}\n{}\n", i + 1, s.logs());
        }
        out
    }

    /// One HTTP request from the client to the VIP: the body (`lb1`/`lb2`).
    pub fn get(&self) -> Result<String> {
        self.get_from(IpAddr::V4(VIP))
    }

    /// One HTTP request from the client to `vip`, on a connection of its own: the body.
    pub fn get_from(&self, vip: IpAddr) -> Result<String> {
        self.client.in_netns(|| -> Result<String> {
            use std::io::{Read, Write};
            let mut s = TcpStream::connect_timeout(&SocketAddr::new(vip, 80), ms(300))?;
            s.set_read_timeout(Some(ms(500)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
            Ok(body.trim().to_string())
        })?
    }

    /// Routes of protocol keepalived (baton's) in any table of load balancer `i`, both
    /// families.
    pub fn baton_routes(&self, i: usize) -> Result<String> {
        let mut out = String::new();
        for family in ["-4", "-6"] {
            out += &self.lbs[i].cmd([
                "ip",
                family,
                "route",
                "show",
                "table",
                "all",
                "proto",
                "keepalived",
            ])?;
        }
        Ok(out.trim().to_string())
    }

    /// Load balancer `i`'s uplink back up after [`Host::link_down`], with the default routes
    /// the kernel dropped with it.
    pub fn relink(&self, i: usize) -> Result<()> {
        let h = &self.lbs[i];
        h.link_up("eth0")?;
        h.sh(&format!("ip route replace default via {}", GW[i]))?;
        if self.setup.ipv6 {
            h.sh(&format!("ip -6 route replace default via {}", GW6[i]))?;
        }
        Ok(())
    }

    /// The lab's namespaces and processes, gone now rather than at drop, with any error.
    pub fn teardown(self) -> Result<()> {
        Ok(self._lab.teardown()?)
    }
}
