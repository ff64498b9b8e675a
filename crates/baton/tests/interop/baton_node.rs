//! baton on a lab host: the real binary, started as keepalived would be (`-n -l -D -f -p`),
//! its state read with `baton status --json` and its log kept per run.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use baton_lab::{Host, Proc, ms, secs, wait_until};
use serde_json::Value;

use crate::conf::InstanceConf;
use crate::router::{Role, Router};

pub const BATON: &str = env!("CARGO_BIN_EXE_baton");

/// baton serving `VI_1` on a lab host.
#[derive(Debug)]
pub struct Baton {
    host: Host,
    conf: InstanceConf,
    conf_path: PathBuf,
    pidfile: PathBuf,
    runs: Vec<Proc>,
    running: bool,
}

impl Baton {
    pub fn new(host: &Host, conf: InstanceConf) -> Result<Baton> {
        let conf_path = host.write_file("baton/keepalived.conf", conf.render())?;
        Ok(Baton {
            host: host.clone(),
            pidfile: host.path("baton/baton.pid"),
            conf,
            conf_path,
            runs: Vec::new(),
            running: false,
        })
    }

    /// `baton status --json`.
    pub fn status(&self) -> Result<Value> {
        // The control socket is a path on the shared file system: no need to enter the host.
        let out = Command::new(BATON)
            .args(["status", "--json", "-p"])
            .arg(&self.pidfile)
            .output()?;
        if !out.status.success() {
            bail!(
                "baton status: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "baton status --json said: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `VI_1`'s entry of the status.
    pub fn instance(&self) -> Result<Value> {
        let s = self.status()?;
        s["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == "VI_1"))
            .cloned()
            .with_context(|| format!("no VI_1 in baton status: {s}"))
    }

    /// The log of the current (or last) run.
    pub fn current_log(&self) -> String {
        self.runs
            .last()
            .map(|p| p.stderr().unwrap_or_default() + &p.stdout().unwrap_or_default())
            .unwrap_or_default()
    }

    fn current(&self) -> Option<&Proc> {
        self.runs.last()
    }
}

impl Router for Baton {
    fn label(&self) -> String {
        format!("baton on {}", self.host.name())
    }

    fn priority(&self) -> u8 {
        self.conf.priority
    }

    fn start(&mut self) -> Result<()> {
        if self.running {
            bail!("{} is already running", self.label());
        }
        let mut cmd = Command::new(BATON);
        cmd.args(["-n", "-l", "-D", "-f"])
            .arg(&self.conf_path)
            .arg("-p")
            .arg(&self.pidfile);
        let proc = self.host.spawn(&mut cmd)?;
        self.runs.push(proc);
        self.running = true;
        wait_until(
            format!("{} to answer `baton status`", self.label()),
            secs(10),
            ms(10),
            || -> Result<bool> {
                if let Some(p) = self.current()
                    && !p.is_running()?
                {
                    bail!(
                        "baton exited: {}",
                        crate::router::tail(&self.current_log(), 30)
                    );
                }
                Ok(self.instance().is_ok())
            },
        )?;
        Ok(())
    }

    fn crash(&mut self) -> Result<()> {
        let p = self.current().cloned().context("baton was never started")?;
        crate::router::crash_process(&p, "baton")?;
        self.running = false;
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        let p = self.current().cloned().context("baton was never started")?;
        crate::router::stop_process(&p, &self.label())?;
        self.running = false;
        Ok(())
    }

    fn role(&self) -> Result<Role> {
        if !self.running {
            return Ok(Role::Other("not running".into()));
        }
        let i = self.instance()?;
        Ok(match i["state"].as_str() {
            Some("Master") => Role::Master,
            Some("Backup") => Role::Backup,
            Some(other) => Role::Other(other.to_string()),
            None => Role::Other(format!("no state in {i}")),
        })
    }

    fn holds_vip(&self) -> Result<bool> {
        let vip = self.conf.vips.first().context("no VIP configured")?;
        Ok(self.host.has_addr(vip.as_str())?)
    }

    /// baton's own complaints: configuration differences it found in the peer's adverts.
    fn complaints(&self) -> Result<Vec<String>> {
        Ok(self
            .log()
            .lines()
            .filter(|l| {
                l.contains(" are dropped: its ") || l.contains("computes the VRRPv3 checksum")
            })
            .map(str::to_string)
            .collect())
    }

    fn log(&self) -> String {
        self.runs
            .iter()
            .map(|p| p.stderr().unwrap_or_default() + &p.stdout().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("---- restarted ----\n")
    }
}

/// `baton --version`'s version.
pub fn version() -> Result<String> {
    let out = Command::new(BATON).arg("--version").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "baton v0.1.0 (keepalived-compatible 2.2.7)"
    text.split_whitespace()
        .nth(1)
        .map(|v| v.trim_start_matches('v').to_string())
        .with_context(|| format!("no version in `baton --version`: {text}"))
}
