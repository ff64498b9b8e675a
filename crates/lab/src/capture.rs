//! Packet capture with tcpdump, on a host's interface or on a segment's bridge in the switch
//! (which sees every frame of the segment), to a pcap file in the lab directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::lab::bridge_name;
use crate::pcap::Pcap;
use crate::{Error, Host, Lab, Proc, Result, wait_until};

/// A running capture. [`Capture::stop`] ends it and parses the file; the file stays in the lab
/// directory (kept after teardown with `BATON_LAB_KEEP=1`) for a look with Wireshark.
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    path: PathBuf,
    what: String,
}

impl Host {
    /// Capture on `ifname` of this host, with a tcpdump filter (`"vrrp"`, `"ip proto 112"`,
    /// `""` for everything). Returns once tcpdump is listening, so no packet sent after this
    /// call is missed.
    ///
    /// ```no_run
    /// # fn f(lb2: &baton_lab::Host) -> baton_lab::Result<()> {
    /// let cap = lb2.capture("ens33", "vrrp")?;
    /// // ... kill the master ...
    /// let adverts = cap.stop()?;
    /// let first = adverts.with_protocol(112).next();
    /// # Ok(()) }
    /// ```
    pub fn capture(&self, ifname: &str, filter: &str) -> Result<Capture> {
        crate::require_tool("tcpdump")?;
        let n = self.lab.next_seq();
        let path = self
            .lab
            .dir
            .join(format!("{}-{ifname}-{n:03}.pcap", self.name()));
        let mut cmd = Command::new("tcpdump");
        // -U and --immediate-mode: every packet reaches the file at once, so a test can read
        // a running capture. -Z root: keep the privileges needed to write into the lab dir.
        cmd.args([
            "-i",
            ifname,
            "-n",
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "-w",
        ])
        .arg(&path);
        if !filter.is_empty() {
            cmd.arg(filter);
        }
        let proc = self.spawn(&mut cmd)?;
        let what = format!("capture on {}:{ifname} ({filter:?})", self.name());
        // tcpdump says "listening on ..." once the socket is open and the filter attached.
        let ready = wait_until(
            format!("tcpdump to listen ({what})"),
            Duration::from_secs(10),
            Duration::from_millis(2),
            || {
                if !proc.is_running()? {
                    return Err(Error::invalid("tcpdump", proc.stderr()?.trim().to_string()));
                }
                Ok::<bool, Error>(proc.stderr()?.contains("listening on"))
            },
        );
        if let Err(e) = ready {
            let _ = proc.kill();
            return Err(e);
        }
        Ok(Capture { proc, path, what })
    }
}

impl Lab {
    /// Capture everything crossing `segment` (on its bridge in the switch).
    pub fn capture_segment(&self, segment: &str, filter: &str) -> Result<Capture> {
        self.switch()?.capture(&bridge_name(segment), filter)
    }
}

impl Capture {
    /// The pcap file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What has been captured so far (the capture keeps running).
    pub fn packets(&self) -> Result<Pcap> {
        Pcap::read(&self.path)
    }

    /// Stop tcpdump (it flushes the file) and parse what it captured.
    pub fn stop(self) -> Result<Pcap> {
        if self.proc.is_running()? {
            self.proc.signal(Signal::SIGINT)?;
            if self.proc.wait_timeout(Duration::from_secs(5))?.is_none() {
                self.proc.kill()?;
                self.proc.wait()?;
                return Err(Error::invalid(
                    "capture",
                    format!("{} ignored SIGINT", self.what),
                ));
            }
        }
        Pcap::read(&self.path)
    }
}
