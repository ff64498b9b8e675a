//! The seed's lab: two load balancers with nginx (lb1 192.168.5.11, lb2 192.168.5.12, on
//! `ens33` as in the seed's configs) and a client, on one switch.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use baton_lab::{Host, HostSpec, Lab, MacAddr, Signal, ms, wait_until};

use crate::conf::{self, Advert, Conf, Instance};
use crate::daemon::{Daemon, Kind};
use crate::{LB1, LB2, VIP};

/// How the master watches nginx in a service-death case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// Nothing (crash and graceful cases).
    None,
    /// `vrrp_track_process` on nginx, weight 0.
    Process,
    /// The seed's `vrrp_script` (every 2 s; restart nginx, else `killall keepalived`).
    SeedScript,
    /// keepalived's fastest working check: `pgrep -x nginx` every second, weight 0.
    BestScript,
}

#[derive(Debug)]
pub struct SeedLab {
    pub lab: Lab,
    pub lb1: Host,
    pub lb2: Host,
    pub client: Host,
    baton: PathBuf,
}

/// The master and the backup of one case.
#[derive(Debug)]
pub struct Pair {
    pub kind: Kind,
    pub advert: Advert,
    pub tracking: Tracking,
    pub master: Daemon,
    pub backup: Daemon,
}

impl SeedLab {
    pub fn new(baton: PathBuf) -> Result<SeedLab> {
        let lab = Lab::new("bench")?;
        let lb =
            |name: &str, addr: &str| lab.add_host(HostSpec::new(name).ifname("ens33").addr(addr));
        let lb1 = lb("lb1", "192.168.5.11/24")?;
        let lb2 = lb("lb2", "192.168.5.12/24")?;
        let client = lab.add_host(HostSpec::new("client").addr("192.168.5.100/24"))?;
        let seed = SeedLab {
            lab,
            lb1,
            lb2,
            client,
            baton,
        };
        for h in [&seed.lb1, &seed.lb2] {
            h.write_file("nginx.conf", nginx_conf(h))?;
            let script = h.write_file(
                "check_nginx.sh",
                conf::seed_check_script(&h.path("nginx.conf").to_string_lossy()),
            )?;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
            seed.start_nginx(h)?;
        }
        Ok(seed)
    }

    pub fn mac(&self, host: &Host) -> Result<MacAddr> {
        Ok(host.interface("ens33")?.mac)
    }

    pub fn vip_http(&self) -> SocketAddr {
        SocketAddr::new(VIP.parse().unwrap_or(IpAddr::from([192, 168, 5, 10])), 80)
    }

    /// Start nginx (it daemonises, as the seed's script expects) and wait for its workers.
    pub fn start_nginx(&self, host: &Host) -> Result<()> {
        let conf = host.path("nginx.conf");
        host.cmd(["/usr/sbin/nginx".as_ref(), "-c".as_ref(), conf.as_os_str()])
            .with_context(|| format!("starting nginx on {}", host.name()))?;
        wait_until(
            format!("nginx on {} to run", host.name()),
            Duration::from_secs(5),
            ms(5),
            || host.pidof("nginx").map(|p| p.len() >= 2),
        )?;
        Ok(())
    }

    /// Kill every nginx process of `host` (master and worker) with SIGKILL, as a crash of
    /// the service; the wall-clock time just before the first signal. The processes are
    /// found first, so the time of the scan of /proc is not counted against the daemon.
    pub fn kill_nginx(&self, host: &Host) -> Result<SystemTime> {
        let pids: Vec<u32> = host
            .processes()?
            .iter()
            .filter(|p| p.is_named("nginx") && p.state != 'Z')
            .map(|p| p.outer_pid)
            .collect();
        if pids.is_empty() {
            bail!("no nginx to kill on {}", host.name());
        }
        let at = SystemTime::now();
        for pid in pids {
            // One that exited meanwhile is as dead as wanted.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        Ok(at)
    }

    /// Make nginx impossible to restart on `host` (the seed's script then stops keepalived),
    /// or possible again.
    pub fn break_nginx(&self, host: &Host, broken: bool) -> Result<()> {
        let text = if broken {
            "this is not an nginx configuration;\n".to_string()
        } else {
            nginx_conf(host)
        };
        host.write_file("nginx.conf", text)?;
        Ok(())
    }

    fn confs(&self, kind: Kind, advert: Advert, tracking: Tracking) -> Result<(String, String)> {
        let mut out = Vec::new();
        for (host, router_id, priority, master) in
            [(&self.lb1, LB1, 200, true), (&self.lb2, LB2, 100, false)]
        {
            let mut instance = Instance::seed(priority, master, advert);
            let mut conf = Conf::new(router_id);
            match tracking {
                Tracking::None => {}
                Tracking::Process => {
                    conf = conf.tracker(conf::track_nginx_process());
                    instance.track_process.push("nginx".into());
                }
                Tracking::SeedScript => {
                    if kind != Kind::Keepalived {
                        bail!(
                            "the seed's script stops keepalived by name; it is measured on keepalived"
                        );
                    }
                    let script = host.path("check_nginx.sh");
                    conf = conf.tracker(conf::seed_script(&script.to_string_lossy()));
                    instance.track_script.push("check_nginx".into());
                }
                Tracking::BestScript => {
                    conf = conf.tracker(conf::best_script());
                    instance.track_script.push("chk_nginx".into());
                }
            }
            out.push(conf.instance(instance).render());
        }
        let backup = out.pop().unwrap_or_default();
        let master = out.pop().unwrap_or_default();
        Ok((master, backup))
    }

    /// Start a pair: lb1 (priority 200, MASTER) and lb2 (priority 100, BACKUP), and wait for
    /// lb1 to hold the VIP alone.
    pub fn start_pair(&self, kind: Kind, advert: Advert, tracking: Tracking) -> Result<Pair> {
        let (c1, c2) = self.confs(kind, advert, tracking)?;
        let backup = Daemon::start(kind, &self.baton, &self.lb2, "vrrp", &c2)?;
        let master = Daemon::start(kind, &self.baton, &self.lb1, "vrrp", &c1)?;
        let pair = Pair {
            kind,
            advert,
            tracking,
            master,
            backup,
        };
        Ok(pair)
    }

    /// Start lb1's daemon again (after a crash or stop), on the same configuration.
    pub fn restart_master(&self, pair: &mut Pair) -> Result<()> {
        pair.master.wait_gone()?;
        let (c1, _) = self.confs(pair.kind, pair.advert, pair.tracking)?;
        pair.master = Daemon::start(pair.kind, &self.baton, &self.lb1, "vrrp", &c1)?;
        Ok(())
    }

    /// Wait until lb1 holds the VIP and lb2 does not.
    pub fn converge(&self, pair: &Pair) -> Result<()> {
        let timeout = pair.advert.master_down(100) * 3 + Duration::from_secs(10);
        wait_until(
            format!("{:?} lb1 to hold {VIP} alone", pair.kind),
            timeout,
            ms(10),
            || -> Result<bool> {
                if !pair.master.running()? {
                    bail!("lb1's daemon exited: {}", tail(&pair.master.log()?));
                }
                if !pair.backup.running()? {
                    bail!("lb2's daemon exited: {}", tail(&pair.backup.log()?));
                }
                Ok(self.lb1.has_addr(VIP)? && !self.lb2.has_addr(VIP)?)
            },
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "{e}; lb1 logged: {}; lb2 logged: {}",
                tail(&pair.master.log().unwrap_or_default()),
                tail(&pair.backup.log().unwrap_or_default())
            )
        })?;
        Ok(())
    }

    pub fn stop_pair(&self, pair: Pair) -> Result<()> {
        pair.master.stop()?;
        pair.backup.stop()?;
        Ok(())
    }
}

/// The last lines of a log, for an error message.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

/// nginx for a load balancer: one worker, answering every request with the host's name, on
/// every address (so on the VIP once it is there).
fn nginx_conf(host: &Host) -> String {
    let dir = host.dir().to_string_lossy().into_owned();
    format!(
        "worker_processes 1;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/nginx-error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   client_body_temp_path {dir}/body;\n\
         \x20   server {{\n\
         \x20       listen 80;\n\
         \x20       location / {{ return 200 \"{name}\\n\"; }}\n\
         \x20   }}\n\
         }}\n",
        name = host.name()
    )
}
