//! Debian's nginx-light on a lab host, as the seed runs it on each load balancer: a master and
//! one worker, started in the host's namespaces with a tiny configuration in the host's
//! directory (its own pid file, error log and temp directories), listening on the host's
//! address and on the VIP. `ip_nonlocal_bind` (per network namespace) lets it bind the VIP
//! before the host holds it, as a load balancer behind keepalived is usually set up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use baton_lab::{Host, Signal, wait_until};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::common::{POLL, VIP};

/// The nginx binary of Debian's nginx-light (scripts/test installs it).
pub const NGINX: &str = "/usr/sbin/nginx";
/// The port it serves.
pub const PORT: u16 = 80;

/// nginx set up on one host.
#[derive(Debug, Clone)]
pub struct Nginx {
    host: Host,
    /// Its configuration file, in the host's directory.
    pub conf: PathBuf,
}

impl Nginx {
    /// Write the configuration for a host whose own address is `addr`; the page it serves
    /// names the host, so a client can tell which load balancer answered.
    pub fn install(host: &Host, addr: &str) -> Nginx {
        assert!(
            std::path::Path::new(NGINX).exists(),
            "{NGINX} is missing: install Debian's {} (scripts/test does)",
            baton_lab::package_of("nginx")
        );
        host.sh("sysctl -qw net.ipv4.ip_nonlocal_bind=1").unwrap();
        let dir = host.path("nginx");
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let name = host.name();
        let conf_text = format!(
            "daemon on;\n\
             master_process on;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \taccess_log off;\n\
             \tclient_body_temp_path {d}/body;\n\
             \tproxy_temp_path {d}/proxy;\n\
             \tfastcgi_temp_path {d}/fastcgi;\n\
             \tuwsgi_temp_path {d}/uwsgi;\n\
             \tscgi_temp_path {d}/scgi;\n\
             \tserver {{\n\
             \t\tlisten {addr}:{PORT};\n\
             \t\tlisten {VIP}:{PORT};\n\
             \t\treturn 200 \"{name}\\n\";\n\
             \t}}\n\
             }}\n"
        );
        let conf = Nginx::conf_path(host);
        std::fs::write(&conf, conf_text).unwrap();
        Nginx {
            host: host.clone(),
            conf,
        }
    }

    /// Where the configuration of `host`'s nginx is.
    pub fn conf_path(host: &Host) -> PathBuf {
        host.path("nginx/nginx.conf")
    }

    /// The command line that starts `host`'s nginx, as the seed's script writes it
    /// (`nginx -c <conf>`).
    pub fn command_line(host: &Host) -> String {
        format!("{NGINX} -c {}", Nginx::conf_path(host).display())
    }

    /// Start it (it daemonizes, so the host's init becomes its parent) and wait until the
    /// master and its worker run.
    pub fn start(&self) {
        self.host
            .cmd([NGINX, "-c", &self.conf.to_string_lossy()])
            .unwrap();
        self.wait_running(Duration::from_secs(5));
    }

    /// Wait until a master and a worker run.
    pub fn wait_running(&self, timeout: Duration) {
        wait_until(
            format!("nginx to run on {}", self.host.name()),
            timeout,
            POLL,
            || self.host.pidof("nginx").map(|p| p.len() == 2),
        )
        .unwrap();
    }

    /// The pids (as the host sees them) of its live processes.
    pub fn pids(&self) -> Vec<u32> {
        self.host.pidof("nginx").unwrap()
    }

    /// Crash it: SIGKILL to the master and the worker, listed first so the kill itself is
    /// quick. Returns the moment just before the first signal.
    pub fn kill(&self) -> Instant {
        let targets: Vec<u32> = self
            .host
            .processes()
            .unwrap()
            .into_iter()
            .filter(|p| p.comm == "nginx" && p.state != 'Z')
            .map(|p| p.outer_pid)
            .collect();
        assert!(!targets.is_empty(), "no nginx on {}", self.host.name());
        let at = Instant::now();
        for pid in targets {
            // It may be gone already (a worker whose master died first): fine.
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        at
    }

    /// Make the configuration unusable, so a restart fails.
    pub fn break_config(&self) {
        std::fs::write(&self.conf, "this is not an nginx configuration\n").unwrap();
    }
}

/// Ask the VIP for its page from `client` over HTTP, retrying for up to `timeout`; which
/// load balancer answered (the page names it).
pub fn who_serves_the_vip(client: &Host, timeout: Duration) -> String {
    let addr = SocketAddr::new(VIP.parse().unwrap(), PORT);
    let t = Instant::now();
    let mut last = String::new();
    while t.elapsed() < timeout {
        match client.in_netns(|| get(addr)).unwrap() {
            Ok(body) => return body,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(POLL);
    }
    panic!("nobody served http://{addr}/ within {timeout:?}: {last}");
}

/// One HTTP/1.0 GET of `/`; the body, trimmed.
fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("not a 200: {head:?}")));
    }
    Ok(body.trim().to_string())
}
