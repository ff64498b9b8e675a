//! Debian's keepalived as a peer: started the way its unit file does (`-n -l -D -P`), its
//! console log kept per run, its state read from that log ("(VI_1) Entering MASTER STATE")
//! and the VIP from `ip addr`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use baton_lab::{Host, Proc, Signal, ms, secs, wait_until};

use crate::conf::InstanceConf;
use crate::router::{Role, Router};

/// What keepalived logs when it drops or distrusts a received advert (keepalived's vrrp.c,
/// 2.2.x wording). Any of these in a case where both sides agree means our packets are wrong.
pub const COMPLAINTS: &[&str] = &[
    "Invalid VRRPv3 checksum",
    "Invalid VRRPv2 checksum",
    "invalid TTL/HL",
    "wrong version",
    "auth, expecting",
    "invalid passwd",
    "Invalid auth type",
    "AH header",
    "advertisement interval mismatch",
    "advertisement interval updated",
    "Invalid packet type",
    "unexpected ip number count",
    "ip_tot_len mismatch",
    "Setting unicast VRRPv3 checksum to old version",
    "icast packet but received",
    "VIPs but received",
    "not present in MASTER advert",
    "not a unicast peer",
    "not in range",
    "vrrp packet too",
    "VRRP packet too short",
    "VRRP packet with AH too short",
];

/// The system's keepalived (Debian's package).
pub const SYSTEM: &str = "keepalived";

/// Where `scripts/build-keepalived` installs the keepalived that knows `v3_checksum_as_v2`
/// (Debian bookworm's 2.2.7 does not); `BATON_KEEPALIVED_RFC9568` names another.
pub const RFC9568_DEFAULT: &str = "/opt/baton-peers/keepalived-2.3.3/sbin/keepalived";

/// keepalived on a lab host, serving `VI_1`.
#[derive(Debug)]
pub struct Keepalived {
    host: Host,
    /// The program: [`SYSTEM`] or a path.
    binary: PathBuf,
    conf: InstanceConf,
    conf_path: PathBuf,
    dir: PathBuf,
    /// Every run so far; the last is the current one.
    runs: Vec<Proc>,
    running: bool,
}

impl Keepalived {
    /// The system's keepalived.
    pub fn new(host: &Host, conf: InstanceConf) -> Result<Keepalived> {
        Keepalived::with_binary(host, conf, Path::new(SYSTEM))
    }

    pub fn with_binary(host: &Host, conf: InstanceConf, binary: &Path) -> Result<Keepalived> {
        let conf_path = host.write_file("keepalived/keepalived.conf", conf.render())?;
        Ok(Keepalived {
            host: host.clone(),
            binary: binary.to_path_buf(),
            dir: host.path("keepalived"),
            conf,
            conf_path,
            runs: Vec::new(),
            running: false,
        })
    }

    /// The log of the current (or last) run.
    fn current_log(&self) -> String {
        self.runs
            .last()
            .map(|p| p.stdout().unwrap_or_default() + &p.stderr().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The VIP as keepalived holds it on the instance's interface.
    fn vip(&self) -> &str {
        self.conf.vips.first().map_or("", String::as_str)
    }

    fn gone(&self) -> Result<bool> {
        Ok(self.host.pidof("keepalived")?.is_empty())
    }
}

impl Router for Keepalived {
    fn label(&self) -> String {
        format!("keepalived on {}", self.host.name())
    }

    fn priority(&self) -> u8 {
        self.conf.priority
    }

    fn start(&mut self) -> Result<()> {
        if self.running {
            bail!("{} is already running", self.label());
        }
        let mut cmd = Command::new(&self.binary);
        cmd.args(["-n", "-l", "-D", "-P", "-f"])
            .arg(&self.conf_path)
            .arg("-p")
            .arg(self.dir.join("k.pid"))
            .arg("-r")
            .arg(self.dir.join("kv.pid"));
        let proc = self.host.spawn(&mut cmd)?;
        self.runs.push(proc);
        self.running = true;
        // Started once the VRRP child has said so.
        wait_until(
            format!("{} to finish starting", self.label()),
            secs(10),
            ms(10),
            || -> Result<bool> {
                let log = self.current_log();
                if !self.runs.last().map_or(Ok(false), Proc::is_running)? {
                    bail!("keepalived exited: {}", crate::router::tail(&log, 20));
                }
                Ok(log.contains("Startup complete") || log.contains("Entering BACKUP STATE"))
            },
        )?;
        Ok(())
    }

    fn crash(&mut self) -> Result<()> {
        let Some(parent) = self.runs.last().cloned() else {
            bail!("{} was never started", self.label());
        };
        // keepalived's parent respawns a dead VRRP child; freeze it first so both die as in
        // a power cut, and no goodbye advert gets out.
        parent.signal(Signal::SIGSTOP)?;
        self.host.kill_all("keepalived", Signal::SIGKILL)?;
        parent
            .wait_timeout(secs(5))?
            .context("keepalived survived SIGKILL")?;
        wait_until("keepalived's child to die", secs(5), ms(10), || self.gone())?;
        self.running = false;
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        let Some(parent) = self.runs.last().cloned() else {
            bail!("{} was never started", self.label());
        };
        parent.signal(Signal::SIGTERM)?;
        if parent.wait_timeout(secs(15))?.is_none() {
            bail!("{} did not stop within 15 s of SIGTERM", self.label());
        }
        wait_until("keepalived's child to exit", secs(5), ms(10), || {
            self.gone()
        })?;
        self.running = false;
        Ok(())
    }

    fn role(&self) -> Result<Role> {
        if !self.running {
            return Ok(Role::Other("not running".into()));
        }
        let log = self.current_log();
        let last = log
            .lines()
            .filter_map(|l| l.split_once("(VI_1) Entering ").map(|(_, s)| s))
            .next_back();
        Ok(match last {
            Some(s) if s.starts_with("MASTER STATE") => Role::Master,
            Some(s) if s.starts_with("BACKUP STATE") => Role::Backup,
            Some(s) => Role::Other(s.to_string()),
            None => Role::Other("starting".into()),
        })
    }

    fn holds_vip(&self) -> Result<bool> {
        Ok(self.host.has_addr(self.vip())?)
    }

    fn complaints(&self) -> Result<Vec<String>> {
        Ok(complaints_in(&self.log()))
    }

    fn log(&self) -> String {
        self.runs
            .iter()
            .map(|p| p.stdout().unwrap_or_default() + &p.stderr().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("---- restarted ----\n")
    }
}

/// The lines of `log` that complain about received adverts.
pub fn complaints_in(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| COMPLAINTS.iter().any(|c| l.contains(c)))
        .map(str::to_string)
        .collect()
}

/// `keepalived -v`'s version: "2.2.7".
pub fn version(binary: &Path) -> Result<String> {
    let out = Command::new(binary).arg("-v").output().with_context(|| {
        format!(
            "running {} -v (apt-get install keepalived)",
            binary.display()
        )
    })?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.split_whitespace()
        .find_map(|w| {
            w.strip_prefix('v')
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(str::to_string)
        .with_context(|| format!("no version in `keepalived -v`: {text}"))
}

/// Whether this keepalived knows a global_defs keyword: `None` if it does, or the line in
/// which `keepalived -t` rejects it.
pub fn rejects_global_keyword(host: &Host, binary: &Path, keyword: &str) -> Result<Option<String>> {
    let conf = host.write_file(
        format!("keepalived/probe-{keyword}.conf"),
        format!(
            "global_defs {{\n    {keyword}\n}}\nvrrp_instance VI_1 {{\n    interface eth0\n    \
             virtual_router_id 51\n    version 3\n    virtual_ipaddress {{\n        192.168.5.10\n    }}\n}}\n"
        ),
    )?;
    let out = host.run(Command::new(binary).arg("-t").arg("-f").arg(&conf))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(text
        .lines()
        .find(|l| l.contains("Unknown keyword") && l.contains(keyword))
        .map(|l| l.trim().to_string()))
}

/// Whether this keepalived knows `block` inside a vrrp_instance (its first word is the
/// keyword): `None` if it does, or the line in which `keepalived -t` rejects it.
pub fn rejects_instance_keyword(host: &Host, binary: &Path, block: &str) -> Result<Option<String>> {
    let keyword = block.split_whitespace().next().unwrap_or_default();
    let conf = host.write_file(
        format!("keepalived/probe-{keyword}.conf"),
        format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    version 3\n    \
             {block}\n    virtual_ipaddress {{\n        192.168.5.10\n    }}\n}}\n"
        ),
    )?;
    let out = host.run(Command::new(binary).arg("-t").arg("-f").arg(&conf))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(text
        .lines()
        .find(|l| l.contains("Unknown keyword") && l.contains(keyword))
        // From the complaint on: the probe's path differs from run to run.
        .and_then(|l| l.find("Unknown keyword").map(|i| l[i..].trim().to_string())))
}

/// Every keepalived this machine has (the system's, and the one scripts/build-keepalived
/// builds when it is there), with its version.
pub fn installed(host: &Host) -> Result<Vec<(PathBuf, String)>> {
    let _ = host;
    let mut out = vec![(PathBuf::from(SYSTEM), version(Path::new(SYSTEM))?)];
    let built = std::env::var_os("BATON_KEEPALIVED_RFC9568")
        .map_or_else(|| PathBuf::from(RFC9568_DEFAULT), PathBuf::from);
    if built.is_file() {
        let v = version(&built)?;
        out.push((built, v));
    }
    Ok(out)
}

/// A keepalived that knows `keyword` in global_defs: the system's if it does, else the one
/// `scripts/build-keepalived` builds (or `BATON_KEEPALIVED_RFC9568` names). `Err` holds why
/// none can run the case, with each candidate's answer.
pub fn knowing_global_keyword(host: &Host, keyword: &str) -> Result<Result<PathBuf, String>> {
    let system = Path::new(SYSTEM);
    let Some(system_line) = rejects_global_keyword(host, system, keyword)? else {
        return Ok(Ok(system.to_path_buf()));
    };
    let built = std::env::var_os("BATON_KEEPALIVED_RFC9568")
        .map_or_else(|| PathBuf::from(RFC9568_DEFAULT), PathBuf::from);
    let system_version = version(system)?;
    let built_answer = if built.is_file() {
        match rejects_global_keyword(host, &built, keyword)? {
            None => return Ok(Ok(built)),
            Some(line) => format!("{} rejects it too: \"{line}\"", built.display()),
        }
    } else {
        format!(
            "no other keepalived at {} (scripts/build-keepalived builds one)",
            built.display()
        )
    };
    Ok(Err(format!(
        "keepalived {system_version} does not know {keyword} (`keepalived -t`: \"{system_line}\"); \
         {built_answer}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaints_are_found_by_keepalived_wording() {
        let log = "Wed Nov 25 11:51:13 2026: (VI_1) Entering BACKUP STATE (init)\n\
                   Wed Nov 25 11:51:14 2026: (VI_1) ip address associated with VRID 51 not present in MASTER advert: 192.168.5.10\n\
                   Wed Nov 25 11:51:14 2026: (VI_1) Invalid VRRPv3 checksum\n\
                   Wed Nov 25 11:51:15 2026: (VI_1) received lower priority (100) advert from 192.168.5.12 - discarding\n";
        let found = complaints_in(log);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("not present in MASTER advert"));
        assert!(found[1].contains("Invalid VRRPv3 checksum"));
    }
}
