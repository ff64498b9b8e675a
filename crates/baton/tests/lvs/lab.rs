//! The LVS labs: a client, one or two directors running the real `baton`, and real servers
//! running Debian's nginx-light, each in its own namespaces.
//!
//! NAT: the client (10.1.0.2, fd01::2) and the directors' fronts on `lan` (10.1.0.0/24,
//! fd01::/64); the directors' backs and the real servers on `back` (10.2.0.0/24,
//! fd02::/64), the real servers routing through a director. DR: everyone on `lan`, the
//! virtual address on the real servers' loopback.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use baton_lab::{Host, Lab, Proc};
use serde_json::Value;

use crate::common::{Baton, POLL};

/// nginx of Debian's nginx-light (scripts/test installs it).
pub const NGINX: &str = "/usr/sbin/nginx";
/// The real servers' port.
pub const RS_PORT: u16 = 8080;
/// The external virtual address.
pub const VIP: &str = "10.1.0.100";
pub const VIP6: &str = "fd01::100";
/// Bytes of `/big`, and how fast nginx sends them (about six seconds).
pub const BIG: usize = 3_000_000;
pub const BIG_RATE: &str = "500k";

/// Whether this machine can run the LVS labs; prints why not.
pub fn can_run() -> bool {
    if !baton_lab::require_root() {
        return false;
    }
    for tool in ["nft", "nginx"] {
        if baton_lab::require_tool(tool).is_err() {
            eprintln!(
                "skipping: {tool} (Debian package {}) is not installed",
                baton_lab::package_of(tool)
            );
            return false;
        }
    }
    true
}

/// A real server: a lab host running nginx in one process (so SIGKILL kills all of it),
/// answering `GET /` with `<name> <client address>` and `GET /big` with `BIG` bytes at
/// `BIG_RATE`.
#[derive(Debug)]
pub struct RealServer {
    pub host: Host,
    pub name: String,
    conf: PathBuf,
    proc: Option<Proc>,
}

impl RealServer {
    pub fn install(host: &Host, name: &str) -> RealServer {
        let dir = host.path("nginx");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("big"), vec![b'x'; BIG]).unwrap();
        let d = dir.display();
        let text = format!(
            "daemon off;\n\
             master_process off;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
             \taccess_log off;\n\
             \tclient_body_temp_path {d}/body;\n\
             \tproxy_temp_path {d}/proxy;\n\
             \tfastcgi_temp_path {d}/fastcgi;\n\
             \tuwsgi_temp_path {d}/uwsgi;\n\
             \tscgi_temp_path {d}/scgi;\n\
             \tserver {{\n\
             \t\tlisten {RS_PORT};\n\
             \t\tlisten [::]:{RS_PORT};\n\
             \t\tlisten 80;\n\
             \t\tlisten [::]:80;\n\
             \t\tlocation = /big {{ alias {d}/big; limit_rate {BIG_RATE}; }}\n\
             \t\tlocation / {{ return 200 \"{name} $remote_addr\\n\"; }}\n\
             \t}}\n\
             }}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, text).unwrap();
        let mut rs = RealServer {
            host: host.clone(),
            name: name.to_string(),
            conf,
            proc: None,
        };
        rs.start();
        rs
    }

    /// Start nginx and wait until it answers.
    pub fn start(&mut self) {
        let p = self
            .host
            .spawn(std::process::Command::new(NGINX).arg("-c").arg(&self.conf))
            .unwrap();
        self.proc = Some(p);
        let host = self.host.clone();
        baton_lab::wait_until(
            format!("nginx on {}", self.name),
            Duration::from_secs(5),
            POLL,
            || host.in_netns(|| TcpStream::connect(("127.0.0.1", RS_PORT)).is_ok()),
        )
        .unwrap();
    }

    /// SIGKILL nginx: connections to it are refused from now on.
    pub fn kill(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill().unwrap();
            let _ = p.wait_timeout(Duration::from_secs(2));
        }
    }
}

/// One `GET path` from `client` to `to` (from `src` when given), with a deadline: the
/// response body, or why there is none.
pub fn get(
    client: &Host,
    src: Option<IpAddr>,
    to: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    use socket2::{Domain, Socket, Type};
    let domain = if to.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock: Socket = client
        .socket(domain, Type::STREAM, None)
        .map_err(|e| e.to_string())?;
    if let Some(src) = src {
        sock.bind(&SocketAddr::new(src, 0).into())
            .map_err(|e| e.to_string())?;
    }
    sock.connect_timeout(&to.into(), timeout)
        .map_err(|e| format!("connect: {e}"))?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .map_err(|e| format!("after {} bytes: {e}", out.len()))?;
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP head in {} bytes", out.len()))?;
    Ok(out.split_off(head_end + 4))
}

/// Which real server answered `GET /`.
pub fn who(client: &Host, src: Option<IpAddr>, to: SocketAddr) -> Result<String, String> {
    let body = get(client, src, to, "/", Duration::from_secs(2))?;
    let text = String::from_utf8_lossy(&body);
    Ok(text.split_whitespace().next().unwrap_or("").to_string())
}

/// Which real server answered, `n` connections in a row.
pub fn count(
    client: &Host,
    src: Option<IpAddr>,
    to: SocketAddr,
    n: usize,
) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for _ in 0..n {
        let name = who(client, src, to).unwrap_or_else(|e| format!("error: {e}"));
        *c.entry(name).or_default() += 1;
    }
    c
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The NAT lab: a client, a director holding the virtual addresses (no VRRP needed for a
/// virtual server), `n` real servers routing through it.
#[derive(Debug)]
pub struct NatLab {
    /// Kept for its lifetime: dropping it tears the lab down.
    pub _lab: Lab,
    pub client: Host,
    pub director: Host,
    pub servers: Vec<RealServer>,
}

pub fn nat_lab(name: &str, n: usize) -> Option<NatLab> {
    if !can_run() {
        return None;
    }
    let lab = Lab::new(name).unwrap();
    let vip4 = format!("{VIP}/32");
    let vip6 = format!("{VIP6}/128");
    let hosts = baton_lab::nat::nat_hosts(&lab, &[&vip4, &vip6], n).unwrap();
    let (client, director) = (hosts.client, hosts.director);
    let servers = hosts
        .servers
        .iter()
        .enumerate()
        .map(|(i, h)| RealServer::install(h, &format!("rs{}", i + 1)))
        .collect();
    Some(NatLab {
        _lab: lab,
        client,
        director,
        servers,
    })
}

/// The virtual servers in `baton status --json`.
pub fn virtual_servers(b: &Baton) -> Vec<Value> {
    let s = b
        .status()
        .unwrap_or_else(|e| panic!("status: {e}\n{}", b.logs()));
    s["virtual_servers"].as_array().cloned().unwrap_or_default()
}

/// The real server `rs` (`[10.2.0.12]:tcp:8080`) of virtual server `vs`.
pub fn real_server(b: &Baton, vs: &str, rs: &str) -> Value {
    let all = virtual_servers(b);
    let v = all
        .iter()
        .find(|v| v["name"] == vs)
        .unwrap_or_else(|| panic!("no virtual server {vs} in {all:#?}"));
    v["real_servers"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == rs))
        .cloned()
        .unwrap_or_else(|| panic!("no real server {rs} in {v:#?}"))
}

/// Wait until real server `rs` of `vs` is alive (or not); how long that took.
pub fn wait_alive(b: &Baton, vs: &str, rs: &str, alive: bool, within: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if real_server(b, vs, rs)["alive"] == alive {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < within,
            "{rs} of {vs} not {} after {within:?}:\n{:#?}\n{}",
            if alive { "alive" } else { "dead" },
            virtual_servers(b),
            b.logs()
        );
        std::thread::sleep(POLL);
    }
}

/// Wait until every real server of every virtual server is alive, each of its checkers has
/// passed once, and the data plane has programmed them.
pub fn wait_all_alive(b: &Baton, within: Duration) {
    let t = Instant::now();
    loop {
        let vss = virtual_servers(b);
        let ready = !vss.is_empty()
            && vss.iter().all(|v| {
                v["programmed"] == true
                    && v["real_servers"].as_array().is_some_and(|a| {
                        a.iter().all(|r| {
                            r["alive"] == true
                                && r["checkers"]
                                    .as_array()
                                    .is_some_and(|c| c.iter().all(|c| c["state"] == "up"))
                        })
                    })
            });
        let s = b.status().unwrap();
        let dp = &s["lvs"]["dataplane"];
        if ready && dp["programmed"] == dp["submitted"] {
            return;
        }
        assert!(
            t.elapsed() < within,
            "not all real servers alive and programmed after {within:?}:\n{vss:#?}\n{}",
            b.logs()
        );
        std::thread::sleep(POLL);
    }
}

/// Wait for a line containing `text` in the daemon's log.
pub fn wait_log(b: &Baton, text: &str, within: Duration) {
    let t = Instant::now();
    while !b.logs().contains(text) {
        assert!(
            t.elapsed() < within,
            "no log line with {text:?} after {within:?}:\n{}",
            b.logs()
        );
        std::thread::sleep(POLL);
    }
}
