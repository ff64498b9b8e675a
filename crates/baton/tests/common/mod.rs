//! Shared by the real-kernel tests: labs of hosts with an `ens33` interface, the real `baton`
//! binary running inside them, its state read through `baton status --json`, adverts read from
//! captures, and the protocol's timers for time bounds.
#![allow(dead_code)] // each test binary uses its own part

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use baton_lab::{DEFAULT_SEGMENT, Host, HostSpec, Lab, Pcap, Proc, Signal};
use serde_json::Value;

pub const BATON: &str = env!("CARGO_BIN_EXE_baton");
/// The seed's configurations, verbatim.
pub const SEED_MASTER: &str = include_str!("../fixtures/seed/master.conf");
pub const SEED_BACKUP: &str = include_str!("../fixtures/seed/backup.conf");
/// The seed's floating address and its two load balancers.
pub const VIP: &str = "192.168.5.10";
pub const LB1: &str = "192.168.5.11";
pub const LB2: &str = "192.168.5.12";
/// The slack every time bound allows beyond the protocol's own timers (scheduling, the
/// wire, the capture's timestamps).
pub const SLACK: Duration = Duration::from_millis(50);
/// How often state is polled while waiting.
pub const POLL: Duration = Duration::from_millis(10);

/// A lab with the seed's two load balancers, each with `ens33` holding its address (and an
/// IPv6 one), or `None` (with the reason printed) when not root.
pub fn seed_lab(name: &str) -> Option<(Lab, Host, Host)> {
    if !baton_lab::require_root() {
        return None;
    }
    let lab = Lab::new(name).unwrap();
    let lb1 = lab
        .add_host(
            HostSpec::new("lb1")
                .ifname("ens33")
                .addr("192.168.5.11/24")
                .addr("fd00:5::11/64"),
        )
        .unwrap();
    let lb2 = lab
        .add_host(
            HostSpec::new("lb2")
                .ifname("ens33")
                .addr("192.168.5.12/24")
                .addr("fd00:5::12/64"),
        )
        .unwrap();
    Some((lab, lb1, lb2))
}

/// Capture VRRP on the segment both hosts share.
pub fn capture_vrrp(lab: &Lab) -> baton_lab::Capture {
    lab.capture_segment(DEFAULT_SEGMENT, "ip proto 112 or ip6 proto 112")
        .unwrap()
}

/// Wait until the running capture holds an advert from `src` (so a later fault has a last
/// advert to be measured from).
pub fn wait_advert_from(cap: &baton_lab::Capture, src: &str, timeout: Duration) {
    let src = ip(src);
    baton_lab::wait_until(
        format!("an advert from {src} on the wire"),
        timeout,
        POLL,
        || {
            cap.packets()
                .map(|p| adverts(&p).iter().any(|a| a.src == src))
        },
    )
    .unwrap();
}

/// The seed's `advert_int`.
pub const SEED_ADVERT_INT: Duration = Duration::from_secs(1);

/// Start the seed's master on `lb1` and backup on `lb2` and wait until they have settled:
/// lb1 MASTER once its Master_Down_Interval has run (state MASTER below 255 still waits, as
/// in keepalived), lb2 BACKUP.
pub fn start_seed_pair(lb1: &Host, lb2: &Host) -> (Baton, Baton) {
    let b1 = Baton::start(lb1, SEED_MASTER);
    let b2 = Baton::start(lb2, SEED_BACKUP);
    b1.wait_state(
        "Master",
        mdi_v2(200, SEED_ADVERT_INT) + Duration::from_secs(2),
    );
    b2.wait_state("Backup", SEED_ADVERT_INT);
    (b1, b2)
}

/// v2: Skew_Time = (256 − priority) / 256 s.
pub fn skew_v2(priority: u8) -> Duration {
    Duration::from_secs_f64(f64::from(256 - u32::from(priority)) / 256.0)
}

/// v2: Master_Down_Interval = 3 × advert_int + Skew_Time.
pub fn mdi_v2(priority: u8, advert_int: Duration) -> Duration {
    3 * advert_int + skew_v2(priority)
}

/// v3: Skew_Time = (256 − priority) × Master_Adver_Interval / 256.
pub fn skew_v3(priority: u8, interval: Duration) -> Duration {
    interval.mul_f64(f64::from(256 - u32::from(priority)) / 256.0)
}

/// v3: Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
pub fn mdi_v3(priority: u8, interval: Duration) -> Duration {
    3 * interval + skew_v3(priority, interval)
}

/// One VRRP advert seen on the wire.
#[derive(Debug, Clone)]
pub struct Advert {
    pub ts: SystemTime,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
}

/// Every VRRP advert of a capture, in the order of their timestamps. A capture records
/// frames from both CPUs, and two sent on different CPUs at once can be written with their
/// stamps a few microseconds out of order; the measures take them in time order.
pub fn adverts(p: &Pcap) -> Vec<Advert> {
    let mut adverts: Vec<Advert> = p
        .with_protocol(112)
        .filter_map(|r| {
            let ip = r.ip()?;
            Some(Advert {
                ts: r.ts,
                src: ip.src,
                dst: ip.dst,
                ttl: ip.ttl,
                version: ip.payload.first()? >> 4,
                vrid: *ip.payload.get(1)?,
                priority: *ip.payload.get(2)?,
            })
        })
        .collect();
    // Stable: frames with the same stamp keep the capture's order.
    adverts.sort_by_key(|a| a.ts);
    adverts
}

/// `later - earlier` of two capture timestamps.
pub fn between(earlier: SystemTime, later: SystemTime) -> Duration {
    later
        .duration_since(earlier)
        .unwrap_or_else(|e| panic!("timestamps out of order by {:?}", e.duration()))
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The real `baton` binary running on a lab host, started as a keepalived unit would start
/// keepalived: `baton -n -l -f <conf> -p <host dir>/baton.pid`.
#[derive(Debug)]
pub struct Baton {
    pub proc: Proc,
    pub host: Host,
    pub conf: PathBuf,
    pub pidfile: PathBuf,
}

impl Baton {
    pub fn start(host: &Host, conf: &str) -> Baton {
        Baton::start_with(host, conf, &[])
    }

    /// Start with extra arguments after the usual ones.
    pub fn start_with(host: &Host, conf: &str, extra: &[&str]) -> Baton {
        Baton::start_program(host, Path::new(BATON), conf, extra)
    }

    /// Start `program` (baton's binary, or a link to it under another name) with the usual
    /// arguments and `extra`; ready once the control socket answers.
    pub fn start_program(host: &Host, program: &Path, conf: &str, extra: &[&str]) -> Baton {
        Baton::start_wrapped(host, program, conf, extra, &[], &[])
    }

    /// [`Baton::start_program`] with environment variables set for the daemon.
    pub fn start_program_env(
        host: &Host,
        program: &Path,
        conf: &str,
        extra: &[&str],
        env: &[(&str, &Path)],
    ) -> Baton {
        let env: Vec<(&str, &std::ffi::OsStr)> =
            env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        Baton::start_wrapped(host, program, conf, extra, &[], &env)
    }

    /// [`Baton::start_program`] run through `wrapper` (`prlimit --nofile=64 --`, say, which
    /// execs baton in its place) with `env` added to its environment.
    pub fn start_wrapped(
        host: &Host,
        program: &Path,
        conf: &str,
        extra: &[&str],
        wrapper: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Baton {
        let name = program
            .file_name()
            .map_or("baton".into(), |n| n.to_string_lossy().into_owned());
        let conf_path = host.write_file("keepalived.conf", conf).unwrap();
        let pidfile = host.path("baton.pid");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(["-n", "-l", "-f"])
            .arg(&conf_path)
            .arg("-p")
            .arg(&pidfile)
            .args(extra)
            .envs(env.iter().copied());
        let proc = host.spawn(&mut cmd).unwrap();
        let b = Baton {
            proc,
            host: host.clone(),
            conf: conf_path,
            pidfile,
        };
        // Ready once the control socket answers.
        let t = Instant::now();
        while b.status().is_err() {
            if let Ok(Some(st)) = b.proc.try_wait() {
                panic!(
                    "{name} on {} exited at start ({st}):\n{}",
                    host.name(),
                    b.logs()
                );
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{name} on {} never answered:\n{}",
                host.name(),
                b.logs()
            );
            std::thread::sleep(POLL);
        }
        b
    }

    /// The daemon's answer to `baton status --json`.
    pub fn status(&self) -> Result<Value, String> {
        let out = Command::new(BATON)
            .args(["status", "--json", "-p"])
            .arg(&self.pidfile)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    }

    /// The status of the instance called `name`.
    pub fn instance(&self, name: &str) -> Value {
        let s = self
            .status()
            .unwrap_or_else(|e| panic!("status of {}: {e}\n{}", self.host.name(), self.logs()));
        s["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no instance {name} in {s}"))
    }

    /// The state of `VI_1` (the seed's instance): "Master", "Backup", "Fault".
    pub fn state(&self) -> String {
        self.state_of("VI_1")
    }

    pub fn state_of(&self, name: &str) -> String {
        self.instance(name)["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Wait until `VI_1` is in `state`; how long that took.
    pub fn wait_state(&self, state: &str, timeout: Duration) -> Duration {
        self.wait_state_of("VI_1", state, timeout)
    }

    pub fn wait_state_of(&self, name: &str, state: &str, timeout: Duration) -> Duration {
        let t = Instant::now();
        loop {
            let now = self.state_of(name);
            if now == state {
                return t.elapsed();
            }
            assert!(
                t.elapsed() < timeout,
                "{name} on {} still {now} after {timeout:?}, expected {state}:\n{}",
                self.host.name(),
                self.logs()
            );
            std::thread::sleep(POLL);
        }
    }

    pub fn signal(&self, s: Signal) {
        self.proc.signal(s).unwrap();
    }

    /// Replace the configuration file (for a reload).
    pub fn rewrite(&self, conf: &str) {
        std::fs::write(&self.conf, conf).unwrap();
    }

    /// Wait for the daemon to exit; its exit status.
    pub fn wait_exit(&self, timeout: Duration) -> std::process::ExitStatus {
        self.proc.wait_timeout(timeout).unwrap().unwrap_or_else(|| {
            panic!(
                "baton on {} did not exit:\n{}",
                self.host.name(),
                self.logs()
            )
        })
    }

    /// What the daemon logged, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- {} stdout ---\n{}--- {} stderr ---\n{}",
            self.host.name(),
            self.proc.stdout().unwrap_or_default(),
            self.host.name(),
            self.proc.stderr().unwrap_or_default()
        )
    }
}

/// Whether `host` holds `addr` (its `ip -j addr`).
pub fn holds(host: &Host, addr: &str) -> bool {
    host.has_addr(addr).unwrap()
}

/// Wait until `host` holds (or no longer holds) `addr`.
pub fn wait_addr(host: &Host, addr: &str, present: bool, timeout: Duration) {
    baton_lab::wait_until(
        format!(
            "{} to {} {addr}",
            host.name(),
            if present { "hold" } else { "release" }
        ),
        timeout,
        POLL,
        || host.has_addr(addr).map(|h| h == present),
    )
    .unwrap();
}
