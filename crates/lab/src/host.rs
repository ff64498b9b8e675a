//! A host of the lab: running programs inside it, its files, its addresses and its links.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::addr::{AsIp, Cidr, IfAddr, MacAddr};
use crate::error::IoContext;
use crate::exec::{checked, command, describe, output_with_stdin};
use crate::lab::{LabShared, addr_add_lines};
use crate::ns::{Depth, Namespaces};
use crate::process::{ProcInner, ProcessInfo, processes_in};
use crate::{Error, Proc, Result, init};

/// A host of a [`Lab`](crate::Lab) (or its switch). Cheap to clone; every clone drives the same
/// host. Using a host after its lab is torn down fails with [`Error::TornDown`].
#[derive(Debug, Clone)]
pub struct Host {
    pub(crate) lab: Arc<LabShared>,
    pub(crate) node: Arc<Node>,
}

/// One interface of a host, as the lab built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicInfo {
    /// Its name inside the host (`eth0`, `ens33`).
    pub ifname: String,
    /// The segment (bridge) it is plugged into.
    pub segment: String,
    /// The name of the veth end in the switch namespace.
    pub port: String,
    /// Its MAC address.
    pub mac: MacAddr,
    /// The addresses the lab configured on it.
    pub addrs: Vec<Cidr>,
}

/// Administrative and carrier state of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// Administratively up (`ip link set up`).
    pub up: bool,
    /// Carrier present (`LOWER_UP`): the cable is plugged in and the peer is up.
    pub carrier: bool,
    /// The kernel's operational state (`UP`, `DOWN`, `LOWERLAYERDOWN`, ...).
    pub operstate: String,
}

/// The lab's record of a host (or the switch): its init and namespaces.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) netns: String,
    pub(crate) init_pid: Pid,
    pub(crate) pid_ns: String,
    pub(crate) dir: PathBuf,
    pub(crate) nics: Vec<NicInfo>,
    ns: Mutex<Option<Namespaces>>,
}

impl Node {
    /// Start the node's init in the named network namespace `netns` and make its directory.
    pub(crate) fn start(name: &str, netns: &str, dir: PathBuf, nics: Vec<NicInfo>) -> Result<Node> {
        std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let init = init::start(&Path::new(crate::names::NETNS_DIR).join(netns), name)?;
        let node = Node {
            name: name.to_string(),
            netns: netns.to_string(),
            init_pid: init.pid,
            pid_ns: String::new(),
            dir,
            nics,
            ns: Mutex::new(Some(init.ns)),
        };
        match crate::ns::ns_id(init.pid.as_raw() as u32, "pid") {
            Ok(pid_ns) => Ok(Node { pid_ns, ..node }),
            Err(e) => {
                let _ = kill(init.pid, Signal::SIGKILL);
                let _ = init::reap(init.pid, std::time::Duration::from_secs(5));
                Err(e)
            }
        }
    }

    /// Fresh handles on the node's namespaces, for one operation.
    pub(crate) fn namespaces(&self) -> Result<Namespaces> {
        let guard = self
            .ns
            .lock()
            .map_err(|_| Error::invalid("host", "lock poisoned"))?;
        match guard.as_ref() {
            Some(ns) => ns.try_clone(),
            None => Err(Error::TornDown(self.name.clone())),
        }
    }

    /// Drop the namespace handles (teardown).
    pub(crate) fn close(&self) {
        if let Ok(mut guard) = self.ns.lock() {
            guard.take();
        }
    }
}

impl Host {
    /// The host's name (also its hostname inside).
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// The name of its network namespace, for `ip -n <netns> ...` by hand.
    pub fn netns(&self) -> &str {
        &self.node.netns
    }

    /// The pid of the host's init (PID 1 inside), as the test process sees it.
    pub fn init_pid(&self) -> u32 {
        self.node.init_pid.as_raw() as u32
    }

    /// The host's private directory, for configs, pid files and sockets. Programs started on
    /// the host run there unless told otherwise.
    pub fn dir(&self) -> &Path {
        &self.node.dir
    }

    /// A path inside the host's directory.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.node.dir.join(relative)
    }

    /// Write a file into the host's directory (creating subdirectories) and return its path.
    pub fn write_file(
        &self,
        relative: impl AsRef<Path>,
        contents: impl AsRef<[u8]>,
    ) -> Result<PathBuf> {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).ctx(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The interfaces the lab built for this host.
    pub fn interfaces(&self) -> &[NicInfo] {
        &self.node.nics
    }

    /// The interface called `ifname`.
    pub fn interface(&self, ifname: &str) -> Result<&NicInfo> {
        self.node
            .nics
            .iter()
            .find(|n| n.ifname == ifname)
            .ok_or_else(|| {
                Error::invalid(
                    "interface",
                    format!("{} has no interface {ifname:?}", self.name()),
                )
            })
    }

    /// Start a program on the host in the background: inside its network, PID, mount and UTS
    /// namespaces, stdin from /dev/null, stdout and stderr to files under the lab's `logs/`.
    /// Environment and working directory come from `cmd` (default directory: [`Host::dir`]).
    ///
    /// ```no_run
    /// # fn f(lb1: &baton_lab::Host) -> baton_lab::Result<()> {
    /// use std::process::Command;
    /// let conf = lb1.write_file("keepalived.conf", "vrrp_instance VI_1 { }")?;
    /// let ka = lb1.spawn(Command::new("keepalived").args(["-n", "-l", "-f"]).arg(&conf))?;
    /// ka.kill()?; // a crash
    /// # Ok(()) }
    /// ```
    pub fn spawn(&self, cmd: &mut Command) -> Result<Proc> {
        self.lab.check_alive()?;
        let program = Path::new(cmd.get_program())
            .file_name()
            .unwrap_or(OsStr::new("program"))
            .to_string_lossy()
            .into_owned();
        let base = format!("{}-{:03}-{program}", self.name(), self.lab.next_seq());
        let logs = self.lab.dir.join("logs");
        let (stdout, stderr) = (
            logs.join(format!("{base}.out")),
            logs.join(format!("{base}.err")),
        );
        let out = File::create(&stdout).ctx(|| format!("creating {}", stdout.display()))?;
        let err = File::create(&stderr).ctx(|| format!("creating {}", stderr.display()))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        if cmd.get_current_dir().is_none() {
            cmd.current_dir(&self.node.dir);
        }
        let what = describe(cmd);
        let ns = self.node.namespaces()?;
        // A program the test has just written (a copy of `sleep` named nginx) can be "busy"
        // for a moment: another thread of the test process that forks meanwhile holds the
        // writing descriptor until its child execs. That passes; anything else is an error.
        let mut busy_until = None;
        let child = loop {
            match ns.run(Depth::Whole, || cmd.spawn())? {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    let until = *busy_until.get_or_insert_with(|| {
                        std::time::Instant::now() + std::time::Duration::from_secs(2)
                    });
                    if std::time::Instant::now() >= until {
                        break Err(e);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => break r,
            }
        }
        .ctx(|| format!("starting `{what}` on {}", self.name()))?;
        let inner = Arc::new(ProcInner {
            pid: child.id(),
            child: Mutex::new(child),
            host: self.name().to_string(),
            program,
            stdout,
            stderr,
        });
        if let Err(e) = self.lab.register_proc(inner.clone()) {
            let _ = inner.kill_and_reap(std::time::Duration::from_secs(5));
            return Err(e);
        }
        Ok(Proc { inner })
    }

    /// Run a program on the host to completion and return its output, whatever its exit
    /// status. Working directory defaults to [`Host::dir`].
    pub fn run(&self, cmd: &mut Command) -> Result<Output> {
        if cmd.get_current_dir().is_none() {
            cmd.current_dir(&self.node.dir);
        }
        let ns = self.node.namespaces()?;
        ns.run(Depth::Whole, || output_with_stdin(cmd, None))?
    }

    /// Run `argv` on the host; its stdout, or an error quoting its status and stderr.
    ///
    /// ```no_run
    /// # fn f(lb1: &baton_lab::Host) -> baton_lab::Result<()> {
    /// let ps = lb1.cmd(["ps", "-eo", "pid,comm"])?;
    /// # Ok(()) }
    /// ```
    pub fn cmd<S: AsRef<OsStr>>(&self, argv: impl IntoIterator<Item = S>) -> Result<String> {
        let argv: Vec<S> = argv.into_iter().collect();
        let mut cmd = command(&argv)?;
        let out = self.run(&mut cmd)?;
        checked(format!("{} (on {})", describe(&cmd), self.name()), out)
    }

    /// Run a shell script (`sh -c`) on the host; its stdout, or an error.
    pub fn sh(&self, script: &str) -> Result<String> {
        self.cmd(["sh", "-c", script])
    }

    /// Run `f` on a thread inside the host's network namespace. Sockets opened there stay in
    /// the host after `f` returns, so this is how a test sends or receives raw packets "from"
    /// a host:
    ///
    /// ```no_run
    /// # fn f(lb1: &baton_lab::Host) -> baton_lab::Result<()> {
    /// let udp = lb1.in_netns(|| std::net::UdpSocket::bind("192.168.5.11:0"))??;
    /// # Ok(()) }
    /// ```
    pub fn in_netns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        self.node.namespaces()?.run(Depth::Net, f)
    }

    /// A socket opened inside the host's network namespace.
    pub fn socket(
        &self,
        domain: socket2::Domain,
        ty: socket2::Type,
        protocol: Option<socket2::Protocol>,
    ) -> Result<socket2::Socket> {
        self.in_netns(|| socket2::Socket::new(domain, ty, protocol))?
            .ctx(|| format!("opening a socket on {}", self.name()))
    }

    /// Every process the host can see, as `ps -e` inside it would list them (PID 1 is the
    /// host's init, `baton-lab-init`).
    pub fn processes(&self) -> Result<Vec<ProcessInfo>> {
        self.lab.check_alive()?;
        processes_in(&self.node.pid_ns)
    }

    /// Pids (as the host sees them) of live processes named `name`, like `pidof` inside.
    pub fn pidof(&self, name: &str) -> Result<Vec<u32>> {
        let procs = self.processes()?;
        Ok(procs
            .iter()
            .filter(|p| p.is_named(name) && p.state != 'Z')
            .map(|p| p.pid)
            .collect())
    }

    /// Send `signal` to every live process named `name` on the host (not its init); how many.
    /// `kill_all("nginx", Signal::SIGKILL)` crashes nginx however it was started.
    pub fn kill_all(&self, name: &str, signal: Signal) -> Result<usize> {
        let targets: Vec<ProcessInfo> = self
            .processes()?
            .into_iter()
            .filter(|p| p.is_named(name) && p.state != 'Z' && p.pid != 1)
            .collect();
        for p in &targets {
            kill(Pid::from_raw(p.outer_pid as i32), signal).ctx(|| {
                format!(
                    "sending {signal} to {} ({}) on {}",
                    p.comm,
                    p.pid,
                    self.name()
                )
            })?;
        }
        Ok(targets.len())
    }

    /// Every address on every interface of the host (`ip -j addr`).
    pub fn addresses(&self) -> Result<Vec<IfAddr>> {
        parse_addresses(&self.ip(&["-j", "addr", "show"])?)
    }

    /// Whether any interface of the host holds `addr` (a VIP, say).
    pub fn has_addr(&self, addr: impl AsIp) -> Result<bool> {
        let addr = addr.as_ip()?;
        Ok(self.addresses()?.iter().any(|a| a.cidr.addr == addr))
    }

    /// Administrative and carrier state of `ifname`.
    pub fn link_state(&self, ifname: &str) -> Result<LinkState> {
        parse_link_state(&self.ip(&["-j", "link", "show", "dev", ifname])?)
    }

    /// `ip link set <ifname> down` inside the host.
    pub fn link_down(&self, ifname: &str) -> Result<()> {
        self.ip(&["link", "set", "dev", ifname, "down"]).map(drop)
    }

    /// `ip link set <ifname> up` inside the host, wait until the link forwards frames, then
    /// put back the addresses the lab configured that the kernel dropped while it was down
    /// (IPv6 ones are removed on down).
    pub fn link_up(&self, ifname: &str) -> Result<()> {
        self.ip(&["link", "set", "dev", ifname, "up"])?;
        let Ok(nic) = self.interface(ifname) else {
            return Ok(());
        };
        // Addresses added before the link is ready would stay tentative (IPv6).
        wait_for_cables(self, Some(&[ifname]))?;
        let present = self.addresses()?;
        let missing: Vec<Cidr> = nic
            .addrs
            .iter()
            .filter(|c| {
                !present
                    .iter()
                    .any(|p| p.ifname == ifname && p.cidr.addr == c.addr)
            })
            .copied()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            self.ip_batch(&addr_add_lines(ifname, &missing))
        }
    }

    /// Pull the cable: take the switch's end of `ifname` down, so the host sees its carrier
    /// go (its interface stays administratively up).
    pub fn unplug(&self, ifname: &str) -> Result<()> {
        self.switch_port(ifname, "down")
    }

    /// Plug the cable back in; returns once it forwards frames.
    pub fn plug(&self, ifname: &str) -> Result<()> {
        self.switch_port(ifname, "up")?;
        wait_for_cables(self, Some(&[ifname]))
    }

    fn switch_port(&self, ifname: &str, state: &str) -> Result<()> {
        let port = self.interface(ifname)?.port.clone();
        self.switch()?
            .ip(&["link", "set", "dev", &port, state])
            .map(drop)
    }

    /// The lab's switch, as a host to run `ip` in.
    fn switch(&self) -> Result<Host> {
        Ok(Host {
            lab: self.lab.clone(),
            node: self.lab.node(crate::lab::SWITCH)?,
        })
    }

    /// `ip <args>` in the host's network namespace: stdout, or an error. Run from a thread
    /// inside the namespace rather than with `ip -n`, which would also unshare a mount
    /// namespace and remount /sys on every call (a third of the cost).
    pub(crate) fn ip(&self, args: &[&str]) -> Result<String> {
        let mut argv = vec!["ip"];
        argv.extend_from_slice(args);
        self.tool(&argv, None)
    }

    /// `ip -batch -` in the host's network namespace, fed with `lines`.
    pub(crate) fn ip_batch(&self, lines: &str) -> Result<()> {
        self.tool(&["ip", "-batch", "-"], Some(lines)).map(drop)
    }

    /// Run a tool in the host's network namespace only (not its PID namespace): for `nft`
    /// and similar plumbing that should not show up in the host's process list.
    pub(crate) fn tool(&self, argv: &[&str], stdin: Option<&str>) -> Result<String> {
        self.lab.check_alive()?;
        let mut cmd = command(argv)?;
        let ns = self.node.namespaces()?;
        let out = ns.run(Depth::Net, || {
            output_with_stdin(&mut cmd, stdin.map(str::as_bytes))
        })??;
        checked(format!("{} (on {})", describe(&cmd), self.name()), out)
    }
}

fn json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::invalid("ip -j output", e.to_string()))
}

/// Addresses from `ip -j addr show`.
pub(crate) fn parse_addresses(text: &str) -> Result<Vec<IfAddr>> {
    let mut out = Vec::new();
    for link in json(text)?.as_array().into_iter().flatten() {
        let ifname = link["ifname"].as_str().unwrap_or_default();
        for a in link["addr_info"].as_array().into_iter().flatten() {
            let (Some(local), Some(prefix)) = (a["local"].as_str(), a["prefixlen"].as_u64()) else {
                continue;
            };
            let addr = local.as_ip()?;
            let prefix = u8::try_from(prefix).map_err(|_| Error::invalid("prefix", local))?;
            out.push(IfAddr {
                ifname: ifname.to_string(),
                cidr: Cidr { addr, prefix },
            });
        }
    }
    Ok(out)
}

/// State of the one link in `ip -j link show dev X`.
/// Whether the cables of `host` named in `ifnames` (every one when `None`) carry frames: the
/// interfaces' operational state is UP and their switch ports (`ip -d -j link show` in the
/// switch) forward. The kernel sets both from deferred work after the carrier comes up, up to
/// a second later on a busy machine: the bridge drops what reaches a port before then (a first
/// ARP request, and a ping then waits a second for the retry), and IPv6 leaves addresses
/// added before then tentative.
pub(crate) fn cables_forward(host: &Host, ifnames: Option<&[&str]>) -> Result<bool> {
    let switch = host.switch()?;
    let ports = json(&switch.ip(&["-d", "-j", "link", "show"])?)?;
    let own = json(&host.ip(&["-j", "link", "show"])?)?;
    let named = |list: &serde_json::Value, name: &str| -> Option<serde_json::Value> {
        list.as_array()?
            .iter()
            .find(|l| l["ifname"].as_str() == Some(name))
            .cloned()
    };
    Ok(host
        .node
        .nics
        .iter()
        .filter(|nic| ifnames.is_none_or(|names| names.contains(&nic.ifname.as_str())))
        .all(|nic| {
            let port_forwards = named(&ports, &nic.port).is_some_and(|p| {
                p["operstate"] == "UP" && p["linkinfo"]["info_slave_data"]["state"] == "forwarding"
            });
            let nic_up = named(&own, &nic.ifname).is_some_and(|l| l["operstate"] == "UP");
            port_forwards && nic_up
        }))
}

/// Wait (a few seconds at most) until [`cables_forward`].
pub(crate) fn wait_for_cables(host: &Host, ifnames: Option<&[&str]>) -> Result<()> {
    crate::wait_until(
        format!("the cables of {} to forward", host.name()),
        CABLES_UP,
        std::time::Duration::from_millis(5),
        || cables_forward(host, ifnames),
    )
    .map(drop)
}

/// How long cables may take to forward once up (a second is usual on a busy machine).
const CABLES_UP: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) fn parse_link_state(text: &str) -> Result<LinkState> {
    let v = json(text)?;
    let link = &v[0];
    let flags: Vec<&str> = link["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str())
        .collect();
    Ok(LinkState {
        up: flags.contains(&"UP"),
        carrier: flags.contains(&"LOWER_UP"),
        operstate: link["operstate"].as_str().unwrap_or("UNKNOWN").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR_JSON: &str = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],
        "addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},
                     {"family":"inet6","local":"::1","prefixlen":128}]},
        {"ifindex":2,"ifname":"ens33","flags":["BROADCAST","UP","LOWER_UP"],
        "addr_info":[{"family":"inet","local":"192.168.5.11","prefixlen":24,"broadcast":"192.168.5.255"},
                     {"family":"inet","local":"192.168.5.10","prefixlen":32,"secondary":true},
                     {"family":"inet6","local":"fe80::ba:1","prefixlen":64,"scope":"link"}]}]"#;

    #[test]
    fn addresses_come_from_ip_json() {
        let addrs = parse_addresses(ADDR_JSON).unwrap();
        assert_eq!(addrs.len(), 5);
        assert_eq!(addrs[2].ifname, "ens33");
        assert_eq!(addrs[2].cidr.to_string(), "192.168.5.11/24");
        assert_eq!(addrs[3].cidr.to_string(), "192.168.5.10/32");
        assert!(parse_addresses("not json").is_err());
        assert_eq!(parse_addresses("[]").unwrap(), vec![]);
    }

    #[test]
    fn link_state_reads_flags() {
        let up = r#"[{"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"operstate":"UP"}]"#;
        let s = parse_link_state(up).unwrap();
        assert!(s.up && s.carrier);
        assert_eq!(s.operstate, "UP");
        let unplugged = r#"[{"ifname":"eth0","flags":["NO-CARRIER","BROADCAST","UP"],"operstate":"LOWERLAYERDOWN"}]"#;
        let s = parse_link_state(unplugged).unwrap();
        assert!(s.up && !s.carrier);
    }
}
