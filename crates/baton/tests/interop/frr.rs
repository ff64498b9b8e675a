//! FRR's vrrpd as a peer, set up the way FRR's VRRP documentation asks on Linux: zebra and
//! vrrpd of this host only (their own config, pid, vty and zapi paths in the host's
//! directory), a macvlan `vrrp4-<if>-<vrid>` (or `vrrp6-`) with the VRRP virtual MAC and the
//! VIP on it, and the VRRP group configured under the parent interface. State comes from
//! `show vrrp json`; whether the VIP is live from the kernel: FRR keeps the address on the
//! macvlan in both states and protodowns the macvlan while BACKUP.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use baton_lab::{Host, Proc, ms, secs, wait_until};
use serde_json::Value;

use crate::router::{Role, Router};
use crate::topology::{Family, IFNAME, VRID, Version};

const ZEBRA: &str = "/usr/lib/frr/zebra";
const VRRPD: &str = "/usr/lib/frr/vrrpd";

/// What vrrpd logs when it refuses a received advert (FRR 8.4's vrrp.c and vrrp_packet.c).
pub const COMPLAINTS: &[&str] = &[
    "Datagram invalid",
    "Bad VRRP checksum",
    "Bad version",
    "Bad type",
    "Bad authentication type",
    "Bad IP address",
];

/// One VRRP group in FRR.
#[derive(Debug, Clone)]
pub struct FrrConf {
    pub priority: u8,
    pub version: Version,
    pub family: Family,
    pub interval_ms: u128,
    pub vip: String,
    pub prefix: u8,
    /// `no vrrp N checksum-with-ipv4-pseudoheader` (FRR releases that have it).
    pub plain_checksum: bool,
}

impl FrrConf {
    /// vrrpd's configuration: the group under the parent interface.
    fn render(&self) -> String {
        let ip = match self.family {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ipv6",
        };
        let checksum = if self.plain_checksum {
            format!(" no vrrp {VRID} checksum-with-ipv4-pseudoheader\n")
        } else {
            String::new()
        };
        format!(
            "interface {IFNAME}\n vrrp {VRID} version {v}\n vrrp {VRID} priority {p}\n \
             vrrp {VRID} advertisement-interval {i}\n vrrp {VRID} {ip} {vip}\n{checksum}exit\n",
            v = self.version.number(),
            p = self.priority,
            i = self.interval_ms,
            vip = self.vip,
        )
    }

    /// The macvlan FRR expects: `vrrp4-eth0-51` with 00:00:5e:00:01:33 (`vrrp6-`,
    /// 00:00:5e:00:02:33 for IPv6).
    pub fn macvlan(&self) -> (String, String) {
        match self.family {
            Family::Ipv4 => (
                format!("vrrp4-{IFNAME}-{VRID}"),
                format!("00:00:5e:00:01:{VRID:02x}"),
            ),
            Family::Ipv6 => (
                format!("vrrp6-{IFNAME}-{VRID}"),
                format!("00:00:5e:00:02:{VRID:02x}"),
            ),
        }
    }
}

/// zebra and vrrpd on a lab host.
#[derive(Debug)]
pub struct Frr {
    host: Host,
    conf: FrrConf,
    dir: PathBuf,
    zebra: Proc,
    /// Every vrrpd run; the last is the current one.
    runs: Vec<Proc>,
    running: bool,
}

impl Frr {
    /// Prepare the host (run dir, macvlan with the VIP) and start zebra; vrrpd starts with
    /// [`Router::start`].
    pub fn new(host: &Host, conf: FrrConf) -> Result<Frr> {
        let dir = host.path("frr");
        std::fs::create_dir_all(&dir)?;
        host.write_file("frr/zebra.conf", "")?;
        host.write_file("frr/vrrpd.conf", conf.render())?;
        // The host's /run is its own and empty; FRR's libraries expect /run/frr. The daemons
        // drop to user frr, which must own what they write.
        let d = dir.display();
        host.sh(&format!(
            "install -d -o frr -g frr -m 0755 /run/frr && chown -R frr:frr {d}"
        ))
        .context("preparing FRR's directories")?;
        let (mvl, mac) = conf.macvlan();
        // FRR's documentation adds the macvlan with `addrgenmode random` in one command; this
        // kernel refuses that on creation, so it is set right after, before the link is up.
        let nodad = if conf.family == Family::Ipv6 {
            " nodad"
        } else {
            ""
        };
        host.sh(&format!(
            "ip link add {mvl} link {IFNAME} type macvlan mode bridge && \
             ip link set dev {mvl} addrgenmode random && \
             ip link set dev {mvl} address {mac} && \
             ip addr add {vip}/{prefix} dev {mvl}{nodad} && \
             ip link set dev {mvl} up",
            vip = conf.vip,
            prefix = conf.prefix,
        ))
        .context("creating FRR's macvlan")?;
        let mut zebra = Command::new(ZEBRA);
        zebra
            .arg("-f")
            .arg(dir.join("zebra.conf"))
            .arg("-i")
            .arg(dir.join("zebra.pid"))
            .arg("-z")
            .arg(dir.join("zserv.api"))
            .arg("--vty_socket")
            .arg(&dir)
            .args(["-P", "0", "--log", "stdout"]);
        let zebra = host.spawn(&mut zebra)?;
        let api = dir.join("zserv.api");
        wait_until("zebra to listen", secs(10), ms(10), || -> Result<bool> {
            if !zebra.is_running()? {
                bail!("zebra exited: {}", zebra.stdout()? + &zebra.stderr()?);
            }
            Ok(api.exists())
        })?;
        Ok(Frr {
            host: host.clone(),
            conf,
            dir,
            zebra,
            runs: Vec::new(),
            running: false,
        })
    }

    /// `vtysh -c <command>` against this host's daemons.
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        let mut argv = vec!["vtysh".to_string(), "--vty_socket".into()];
        argv.push(self.dir.display().to_string());
        for c in commands {
            argv.push("-c".into());
            argv.push((*c).to_string());
        }
        Ok(self.host.cmd(&argv)?)
    }

    /// Whether vrrpd accepts an interface-level command: `None` if it does, or vtysh's
    /// refusal.
    pub fn rejects_interface_command(&self, command: &str) -> Result<Option<String>> {
        let mut argv = vec!["vtysh".to_string(), "--vty_socket".into()];
        argv.push(self.dir.display().to_string());
        for c in [
            "configure terminal",
            &format!("interface {IFNAME}"),
            command,
        ] {
            argv.extend(["-c".to_string(), c.to_string()]);
        }
        let out = self.host.run(Command::new(&argv[0]).args(&argv[1..]))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        Ok(text
            .lines()
            .find(|l| l.contains("Unknown command") || l.contains("% "))
            .map(|l| l.trim().to_string()))
    }

    /// "8.4.4", from `show version` ("FRRouting 8.4.4 (r2) on Linux(...)").
    pub fn version(&self) -> Result<String> {
        let text = self.vtysh(&["show version"])?;
        let first = text.lines().next().unwrap_or_default();
        match first.split_whitespace().collect::<Vec<_>>()[..] {
            ["FRRouting", v, ..] => Ok(v.to_string()),
            _ => bail!("unexpected `show version`: {text}"),
        }
    }

    /// The group's entry of `show vrrp json`.
    pub fn show_vrrp(&self) -> Result<Value> {
        let text = self.vtysh(&["show vrrp json"])?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("show vrrp json: {text}"))?;
        v.as_array()
            .and_then(|a| a.iter().find(|g| g["vrid"] == VRID))
            .cloned()
            .with_context(|| format!("no VRID {VRID} in show vrrp json: {text}"))
    }

    fn family_key(&self) -> &'static str {
        match self.conf.family {
            Family::Ipv4 => "v4",
            Family::Ipv6 => "v6",
        }
    }

    fn current(&self) -> Option<&Proc> {
        self.runs.last()
    }
}

impl Router for Frr {
    fn label(&self) -> String {
        format!("FRR vrrpd on {}", self.host.name())
    }

    fn priority(&self) -> u8 {
        self.conf.priority
    }

    fn start(&mut self) -> Result<()> {
        if self.running {
            bail!("{} is already running", self.label());
        }
        let mut cmd = Command::new(VRRPD);
        cmd.arg("-f")
            .arg(self.dir.join("vrrpd.conf"))
            .arg("-i")
            .arg(self.dir.join("vrrpd.pid"))
            .arg("-z")
            .arg(self.dir.join("zserv.api"))
            .arg("--vty_socket")
            .arg(&self.dir)
            .args(["-P", "0", "--log", "stdout"]);
        let proc = self.host.spawn(&mut cmd)?;
        self.runs.push(proc);
        self.running = true;
        wait_until(
            format!("{} to answer on its vty", self.label()),
            secs(10),
            ms(20),
            || -> Result<bool> {
                if let Some(p) = self.current()
                    && !p.is_running()?
                {
                    bail!("vrrpd exited: {}", self.log());
                }
                Ok(self.show_vrrp().is_ok())
            },
        )?;
        Ok(())
    }

    fn crash(&mut self) -> Result<()> {
        let p = self.current().cloned().context("vrrpd was never started")?;
        crate::router::crash_process(&p, "vrrpd")?;
        self.running = false;
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        let p = self.current().cloned().context("vrrpd was never started")?;
        crate::router::stop_process(&p, &self.label())?;
        self.running = false;
        Ok(())
    }

    fn role(&self) -> Result<Role> {
        if !self.running {
            return Ok(Role::Other("not running".into()));
        }
        let g = self.show_vrrp()?;
        Ok(match g[self.family_key()]["status"].as_str() {
            Some("Master") => Role::Master,
            Some("Backup") => Role::Backup,
            Some(other) => Role::Other(other.to_string()),
            None => Role::Other(format!("no status in {g}")),
        })
    }

    fn holds_vip(&self) -> Result<bool> {
        let (mvl, _) = self.conf.macvlan();
        let link = self
            .host
            .cmd(["ip", "-j", "-d", "link", "show", "dev", &mvl])?;
        let link: Value = serde_json::from_str(&link)?;
        let protodown = link[0]["proto_down"].as_bool().unwrap_or(false);
        let up = link[0]["operstate"].as_str() == Some("UP");
        Ok(up && !protodown && self.host.has_addr(self.conf.vip.as_str())?)
    }

    fn complaints(&self) -> Result<Vec<String>> {
        Ok(self
            .log()
            .lines()
            .filter(|l| COMPLAINTS.iter().any(|c| l.contains(c)))
            .map(str::to_string)
            .collect())
    }

    fn log(&self) -> String {
        let mut all = format!(
            "zebra:\n{}{}\n",
            self.zebra.stdout().unwrap_or_default(),
            self.zebra.stderr().unwrap_or_default()
        );
        for (n, p) in self.runs.iter().enumerate() {
            all.push_str(&format!(
                "vrrpd run {}:\n{}{}\n",
                n + 1,
                p.stdout().unwrap_or_default(),
                p.stderr().unwrap_or_default()
            ));
        }
        all
    }
}
