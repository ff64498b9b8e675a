//! The seed's system, built in a lab: a client, the switch, two load balancers (lb1
//! 192.168.5.11 and lb2 192.168.5.12, interface `ens33` as in the post) each running a
//! reverse proxy and baton with the post's configuration, and two backends (the post's tomcat
//! cluster) on the same segment.
//!
//! ```text
//!   client 192.168.5.100 ──┐
//!                          │        ┌── lb1 192.168.5.11 (nginx, baton prio 200) ──┐
//!                        switch ────┤        VIP 192.168.5.10                      ├── tomcat1 192.168.5.21:8080
//!                                   └── lb2 192.168.5.12 (nginx, baton prio 100) ──┘── tomcat2 192.168.5.22:8080
//! ```
//!
//! baton runs in each load balancer through a link called `keepalived`, so the kernel names
//! it `keepalived` and the post's check script's `killall keepalived` reaches it (baton answers
//! to keepalived's name when installed or linked under it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use baton_conf::Config;
use baton_lab::{Host, HostSpec, Lab, Proc, Signal};

use super::cli::DemoProxy;
use super::firewall::Firewall;
use super::{cleanup, client, seed, watch};

pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 5, 10);
pub const CLIENT: &str = "192.168.5.100/24";
pub const LB_ADDRS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 5, 11),
    Ipv4Addr::new(192, 168, 5, 12),
];
pub const BACKENDS: [SocketAddr; 2] = [
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 5, 21)), 8080),
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 5, 22)), 8080),
];
/// The post's interface name, kept: the lab names the load balancers' interface after it.
pub const IFNAME: &str = "ens33";
pub const HTTP_PORT: u16 = 80;

/// Which reverse proxy runs on the load balancers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// Debian's nginx, at this path, this version.
    Nginx { path: PathBuf, version: String },
    /// The built-in one (`baton-demo service proxy`), started through a link called `nginx`
    /// so the post's `ps -C nginx` and baton's process tracker see it as nginx. `forced`
    /// when asked for although nginx is installed.
    Builtin { forced: bool },
}

impl Proxy {
    pub fn describe(&self) -> String {
        match self {
            Proxy::Nginx { version, .. } => format!("Debian's {version}"),
            Proxy::Builtin { forced: false } => "built-in proxy (nginx not installed)".to_string(),
            Proxy::Builtin { forced: true } => "built-in proxy (--proxy builtin)".to_string(),
        }
    }
}

/// One load balancer.
#[derive(Debug)]
pub struct Lb {
    pub name: &'static str,
    pub addr: Ipv4Addr,
    pub host: Host,
    pub conf: PathBuf,
    pub pidfile: PathBuf,
    pub socket: PathBuf,
    /// The parsed configuration (for the timers).
    pub config: Config,
    /// When the running baton was started.
    pub baton_started: Option<Instant>,
    baton: Option<Proc>,
    /// Every baton this demo started here, for the log.
    past: Vec<Proc>,
    /// The command that starts the proxy in the background (what the check script runs).
    proxy_start: Vec<String>,
}

impl Lb {
    /// The directory of the load balancer's files.
    pub fn dir(&self) -> &Path {
        self.host.dir()
    }
}

/// The whole system.
#[derive(Debug)]
pub struct System {
    pub lab_id: String,
    pub client: Host,
    pub lbs: [Lb; 2],
    pub proxy: Proxy,
    firewall: Option<(usize, Firewall)>,
}

/// The baton binary the load balancers run: `explicit` (`--baton`, which `baton demo`
/// sets to itself), else the `baton` beside this program (both are built into the same
/// `target/…/`), else the one on PATH.
pub fn find_baton(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return baton_lab::which(&p.to_string_lossy())
            .with_context(|| format!("{} is not an executable file", p.display()));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|me| me.parent().map(|d| d.join("baton")))
        .filter(|p| p.is_file());
    beside.or_else(|| baton_lab::which("baton")).context(
        "no baton binary beside baton-demo or on PATH: build both (cargo build --release) \
         and run target/release/baton demo, or pass --baton PATH",
    )
}

/// Find the proxy to use.
pub fn choose_proxy(choice: DemoProxy) -> Result<Proxy> {
    let nginx = baton_lab::which("nginx");
    match (choice, nginx) {
        (DemoProxy::Builtin, found) => Ok(Proxy::Builtin {
            forced: found.is_some(),
        }),
        (DemoProxy::Auto, None) => Ok(Proxy::Builtin { forced: false }),
        (DemoProxy::Nginx, None) => {
            bail!("nginx is not installed (Debian: apt-get install nginx-light)")
        }
        (DemoProxy::Auto | DemoProxy::Nginx, Some(path)) => {
            let out = Command::new(&path)
                .arg("-v")
                .output()
                .with_context(|| format!("running {} -v", path.display()))?;
            // nginx prints its version on stderr: "nginx version: nginx/1.22.1".
            let text = String::from_utf8_lossy(&out.stderr);
            let version = text
                .trim()
                .rsplit(' ')
                .next()
                .filter(|v| v.starts_with("nginx/"))
                .unwrap_or("nginx")
                .to_string();
            Ok(Proxy::Nginx { path, version })
        }
    }
}

fn add_host(spec: HostSpec) -> Result<Host> {
    cleanup::with_lab(|lab| lab.add_host(spec))
        .ok_or_else(|| anyhow!("the lab is gone"))?
        .map_err(Into::into)
}

impl System {
    /// Build the lab, start the backends and proxies and check them, then start baton on
    /// both load balancers. `say` reports progress.
    pub fn build(proxy: Proxy, baton: &Path, say: &mut dyn FnMut(String)) -> Result<System> {
        let lab = Lab::new("demo").context("creating the lab")?;
        let lab_id = lab.id().to_string();
        cleanup::keep_lab(lab);
        say(format!(
            "lab {lab_id}: switch, client, lb1, lb2, tomcat1, tomcat2"
        ));
        let client = add_host(HostSpec::new("client").addr(CLIENT))?;
        let mut hosts = Vec::new();
        for (i, addr) in LB_ADDRS.iter().enumerate() {
            hosts.push(add_host(
                HostSpec::new(format!("lb{}", i + 1))
                    .ifname(IFNAME)
                    .addr(format!("{addr}/24")),
            )?);
        }
        let me = std::env::current_exe().context("finding the demo's own program")?;
        for (i, backend) in BACKENDS.iter().enumerate() {
            let host = add_host(
                HostSpec::new(format!("tomcat{}", i + 1)).addr(format!("{}/24", backend.ip())),
            )?;
            host.spawn(
                Command::new(&me)
                    .args(["service", "backend", "--listen"])
                    .arg(backend.to_string())
                    .arg("--name")
                    .arg(format!("backend {}", i + 1)),
            )
            .with_context(|| format!("starting backend {}", i + 1))?;
        }
        say(format!(
            "backends: \"backend 1\" on {}, \"backend 2\" on {}",
            BACKENDS[0], BACKENDS[1]
        ));

        let mut lbs = Vec::new();
        for (i, host) in hosts.into_iter().enumerate() {
            lbs.push(Lb::prepare(i, host, &proxy, baton, &me)?);
        }
        let Ok(lbs) = <[Lb; 2]>::try_from(lbs) else {
            bail!("expected two load balancers");
        };
        let mut sys = System {
            lab_id,
            client,
            lbs,
            proxy,
            firewall: None,
        };
        for i in 0..2 {
            sys.start_proxy(i)?;
        }
        // Each balancer proxies to both backends before VRRP is involved at all.
        for lb in &sys.lbs {
            let target = SocketAddr::new(IpAddr::V4(lb.addr), HTTP_PORT);
            let mut seen = [false; 2];
            let start = Instant::now();
            while seen != [true, true] {
                match client::get_once(&sys.client, target, Duration::from_millis(500)) {
                    Ok(r) if r.status == 200 && r.lb.as_deref() == Some(lb.name) => {
                        match r.body.trim() {
                            "backend 1" => seen[0] = true,
                            "backend 2" => seen[1] = true,
                            _ => {}
                        }
                    }
                    Ok(r) => bail!("{} answered {} {:?}", lb.name, r.status, r.body),
                    Err(e) if start.elapsed() > Duration::from_secs(5) => {
                        return Err(e.context(format!("{}'s proxy does not answer", lb.name)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
                if start.elapsed() > Duration::from_secs(5) {
                    bail!("{} does not reach both backends", lb.name);
                }
            }
        }
        say(format!(
            "proxies: {} on lb1 and lb2, each reaching both backends",
            sys.proxy.describe()
        ));
        for i in 0..2 {
            sys.start_baton(i)?;
        }
        say("baton: started on lb1 and lb2 with the seed's configurations".to_string());
        Ok(sys)
    }

    /// Start the proxy on `lb` in the background, as the check script would.
    pub fn start_proxy(&self, lb: usize) -> Result<()> {
        let l = &self.lbs[lb];
        let out = l
            .host
            .cmd(&l.proxy_start)
            .with_context(|| format!("starting the proxy on {}", l.name))?;
        drop(out);
        Ok(())
    }

    /// Crash the proxy on `lb`: SIGKILL to every nginx process. How many there were.
    pub fn kill_proxy(&self, lb: usize) -> Result<usize> {
        Ok(self.lbs[lb].host.kill_all("nginx", Signal::SIGKILL)?)
    }

    /// Whether nginx (or the built-in proxy, which goes by that name) runs on `lb`.
    pub fn proxy_running(&self, lb: usize) -> bool {
        self.lbs[lb]
            .host
            .pidof("nginx")
            .is_ok_and(|p| !p.is_empty())
    }

    /// Start baton on `lb` and wait until its control socket answers.
    pub fn start_baton(&mut self, lb: usize) -> Result<()> {
        let l = &mut self.lbs[lb];
        l.baton_started = Some(Instant::now());
        let proc = l
            .host
            .spawn(
                Command::new(l.dir().join("keepalived"))
                    .args(["-n", "-l", "-f"])
                    .arg(&l.conf)
                    .arg("-p")
                    .arg(&l.pidfile),
            )
            .with_context(|| format!("starting baton on {}", l.name))?;
        l.baton = Some(proc.clone());
        l.past.push(proc.clone());
        let status = watch::StatusClient::new()?;
        let start = Instant::now();
        while status.status(&l.socket).is_err() {
            if let Ok(Some(st)) = proc.try_wait() {
                bail!(
                    "baton on {} exited at start ({st}):\n{}",
                    l.name,
                    proc.stderr().unwrap_or_default()
                );
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!(
                    "baton on {} does not answer on {}",
                    l.name,
                    l.socket.display()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// SIGKILL baton on `lb` (a crash: no priority-0 advert, the VIP stays where it is).
    /// Whether there was one to kill.
    pub fn kill_baton(&mut self, lb: usize) -> Result<bool> {
        let Some(p) = self.lbs[lb].baton.take() else {
            return Ok(false);
        };
        if p.try_wait()?.is_some() {
            return Ok(false);
        }
        p.kill()?;
        let _ = p.wait_timeout(Duration::from_secs(5))?;
        Ok(true)
    }

    /// Whether this demo's baton on `lb` is running.
    pub fn baton_running(&self, lb: usize) -> bool {
        self.lbs[lb]
            .baton
            .as_ref()
            .is_some_and(|p| matches!(p.try_wait(), Ok(None)))
    }

    /// Everything baton logged on `lb` since the demo started, oldest run first.
    pub fn baton_log(&self, lb: usize) -> String {
        let mut out = String::new();
        for p in &self.lbs[lb].past {
            out.push_str(&p.stdout().unwrap_or_default());
            out.push_str(&p.stderr().unwrap_or_default());
        }
        out
    }

    /// The seed's firewall bug on `lb`: drop VRRP (IP protocol 112) arriving there.
    pub fn drop_vrrp(&mut self, lb: usize) -> Result<()> {
        if self.firewall.is_some() {
            return Ok(());
        }
        let f = Firewall::drop_vrrp(&self.lbs[lb].host)
            .with_context(|| format!("adding the firewall rule on {}", self.lbs[lb].name))?;
        self.firewall = Some((lb, f));
        Ok(())
    }

    /// Lift the firewall rule; how many adverts it dropped.
    pub fn restore_vrrp(&mut self) -> Result<Option<u64>> {
        let Some((_, f)) = self.firewall.take() else {
            return Ok(None);
        };
        let dropped = f.dropped().context("reading the firewall rule's counter")?;
        f.remove().context("removing the firewall rule")?;
        Ok(Some(dropped))
    }

    /// Where the firewall rule is and how many adverts it dropped so far.
    pub fn firewall(&self) -> Option<(usize, u64)> {
        self.firewall
            .as_ref()
            .map(|(lb, f)| (*lb, f.dropped().unwrap_or(0)))
    }

    /// When the check script last ran on `lb`.
    pub fn check_ran(&self, lb: usize) -> Option<SystemTime> {
        std::fs::metadata(self.lbs[lb].dir().join(seed::CHECK_MARK))
            .and_then(|m| m.modified())
            .ok()
    }

    /// Stop the processes and remove the lab.
    pub fn teardown(mut self) -> Result<()> {
        let _ = self.restore_vrrp();
        match cleanup::take_lab() {
            Some(lab) => lab.teardown().context("removing the lab"),
            None => Ok(()),
        }
    }
}

impl Lb {
    /// Write the load balancer's files: the seed's configuration with the health checks, the
    /// post's check script, the proxy's configuration, and the links `keepalived` (to baton)
    /// and, for the built-in proxy, `nginx`.
    fn prepare(i: usize, host: Host, proxy: &Proxy, baton: &Path, me: &Path) -> Result<Lb> {
        let name = if i == 0 { "lb1" } else { "lb2" };
        let dir = host.dir().to_path_buf();
        let link = |target: &Path, name: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            std::os::unix::fs::symlink(target, &path)
                .with_context(|| format!("linking {}", path.display()))?;
            Ok(path)
        };
        link(baton, "keepalived")?;
        let proxy_start: Vec<String> = match proxy {
            Proxy::Nginx { path, .. } => {
                host.write_file("nginx.conf", seed::nginx_conf(name, &dir, &BACKENDS))?;
                std::fs::create_dir_all(dir.join("nginx-tmp"))
                    .context("creating nginx's temp dir")?;
                seed::nginx_start(path, &dir)
                    .split(' ')
                    .map(str::to_string)
                    .collect()
            }
            Proxy::Builtin { .. } => {
                let nginx = link(me, "nginx")?;
                let mut argv = vec![
                    nginx.display().to_string(),
                    "service".into(),
                    "proxy".into(),
                    "--daemon".into(),
                    "--listen".into(),
                    format!("0.0.0.0:{HTTP_PORT}"),
                    "--name".into(),
                    name.into(),
                ];
                for b in BACKENDS {
                    argv.push("--upstream".into());
                    argv.push(b.to_string());
                }
                argv
            }
        };
        let script = host.write_file(
            seed::CHECK_SCRIPT,
            seed::check_script(&dir, &proxy_start.join(" ")),
        )?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .context("making the check script executable")?;
        }
        let seed_conf = if i == 0 {
            seed::MASTER_CONF
        } else {
            seed::BACKUP_CONF
        };
        let text = seed::keepalived_conf(seed_conf, &script)?;
        let config = seed::parse(name, &text, &script)?;
        let conf = host.write_file("keepalived.conf", &text)?;
        let pidfile = dir.join("baton.pid");
        Ok(Lb {
            name,
            addr: LB_ADDRS[i],
            socket: watch::socket_for(&pidfile),
            pidfile,
            conf,
            config,
            baton_started: None,
            host,
            baton: None,
            past: Vec::new(),
            proxy_start,
        })
    }
}
