//! The lab: a switch namespace holding one bridge per segment, hosts plugged into it with veth
//! cables, and the teardown that removes all of it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};

use crate::addr::{Cidr, MacAddr};
use crate::error::IoContext;
use crate::host::{Host, NicInfo, Node};
use crate::names::{self, NETNS_DIR, NETNS_LOCK};
use crate::process::ProcInner;
use crate::{Error, Result, init};

/// The segment every lab starts with; hosts plug into it unless told otherwise.
pub const DEFAULT_SEGMENT: &str = "lan";

/// The name of the switch node (see [`Lab::switch`]).
pub const SWITCH: &str = "switch";

/// Set `BATON_LAB_KEEP=1` to keep a lab's directory (configs, logs, captures) after teardown.
pub const KEEP_ENV: &str = "BATON_LAB_KEEP";

/// A throw-away network: hosts, each with its own network, PID, mount and UTS namespaces, wired
/// by veth cables to bridges in a switch namespace. Everything is removed when the `Lab` is
/// dropped, during a panic too.
///
/// ```no_run
/// use baton_lab::{HostSpec, Lab};
/// # fn main() -> baton_lab::Result<()> {
/// if !baton_lab::require_root() {
///     return Ok(());
/// }
/// let lab = Lab::new("seed")?;
/// let lb1 = lab.add_host(HostSpec::new("lb1").ifname("ens33").addr("192.168.5.11/24"))?;
/// let lb2 = lab.add_host(HostSpec::new("lb2").ifname("ens33").addr("192.168.5.12/24"))?;
/// assert!(lb1.ping("192.168.5.12", baton_lab::ms(500))?.is_some());
/// # drop(lb2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Lab {
    pub(crate) shared: Arc<LabShared>,
}

#[derive(Debug)]
pub(crate) struct LabShared {
    pub(crate) id: String,
    pub(crate) dir: PathBuf,
    alive: AtomicBool,
    seq: AtomicU32,
    state: Mutex<LabState>,
}

#[derive(Debug, Default)]
struct LabState {
    /// Named network namespaces, in creation order, for deletion.
    netns: Vec<String>,
    /// The switch first, then hosts.
    nodes: Vec<Arc<Node>>,
    /// Every process started in the background, for killing and reaping.
    procs: Vec<Arc<ProcInner>>,
    /// Stop flags of running probers.
    probers: Vec<Weak<AtomicBool>>,
    segments: Vec<String>,
    macs: HashSet<MacAddr>,
    ports: HashSet<String>,
}

/// A host to add: its name and network interfaces.
///
/// The first interface exists from the start (`eth0` on the `lan` segment, no address);
/// [`ifname`](Self::ifname), [`addr`](Self::addr) and [`segment`](Self::segment) shape it, and
/// [`nic`](Self::nic) adds more.
#[derive(Debug, Clone)]
pub struct HostSpec {
    name: String,
    nics: Vec<Nic>,
}

impl HostSpec {
    /// A host called `name` (also its hostname) with `eth0` on the `lan` segment.
    pub fn new(name: impl Into<String>) -> Self {
        HostSpec {
            name: name.into(),
            nics: vec![Nic::new("eth0")],
        }
    }

    /// Name the first interface (the seed's configs say `ens33`).
    pub fn ifname(mut self, ifname: impl Into<String>) -> Self {
        self.nics[0].ifname = ifname.into();
        self
    }

    /// Add an address with prefix (`192.168.5.11/24`, `fd00:5::11/64`) to the first interface.
    pub fn addr(mut self, cidr: impl Into<String>) -> Self {
        self.nics[0].addrs.push(cidr.into());
        self
    }

    /// Plug the first interface into another segment (see [`Lab::add_segment`]).
    pub fn segment(mut self, segment: impl Into<String>) -> Self {
        self.nics[0].segment = segment.into();
        self
    }

    /// Add another interface.
    pub fn nic(mut self, nic: Nic) -> Self {
        self.nics.push(nic);
        self
    }
}

/// One more network interface of a host (see [`HostSpec::nic`]).
#[derive(Debug, Clone)]
pub struct Nic {
    ifname: String,
    segment: String,
    addrs: Vec<String>,
    mac: Option<MacAddr>,
}

impl Nic {
    /// An interface called `ifname`, on the `lan` segment, without addresses.
    pub fn new(ifname: impl Into<String>) -> Self {
        Nic {
            ifname: ifname.into(),
            segment: DEFAULT_SEGMENT.into(),
            addrs: vec![],
            mac: None,
        }
    }

    /// Add an address with prefix.
    pub fn addr(mut self, cidr: impl Into<String>) -> Self {
        self.addrs.push(cidr.into());
        self
    }

    /// Plug it into `segment`.
    pub fn segment(mut self, segment: impl Into<String>) -> Self {
        self.segment = segment.into();
        self
    }

    /// Use this MAC instead of the one derived from the host name.
    pub fn mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }
}

impl Lab {
    /// A new lab named `name` (part of its namespace and directory names, for whoever lists
    /// them) with a switch holding the `lan` segment. Leftovers of labs whose process died are
    /// swept first.
    pub fn new(name: &str) -> Result<Lab> {
        crate::require_tool("ip")?;
        names::check_name("lab name", name, 24)?;
        let temp = names::temp_root();
        names::sweep_dead_labs(&temp);
        let id = names::new_lab_id();
        let dir = temp.join(format!("{id}-{name}"));
        std::fs::create_dir(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let shared = LabShared {
            id: format!("{id}-{name}"),
            dir,
            alive: AtomicBool::new(true),
            seq: AtomicU32::new(0),
            // The switch's loopback is an interface name too.
            state: Mutex::new(LabState {
                ports: HashSet::from(["lo".to_string()]),
                ..LabState::default()
            }),
        };
        // From here on, dropping `lab` on an error path tears down what was built.
        let lab = Lab {
            shared: Arc::new(shared),
        };
        std::fs::create_dir(lab.shared.dir.join("logs")).ctx(|| "creating the log dir".into())?;
        let netns = lab.shared.add_netns("sw")?;
        let switch = Node::start(SWITCH, &netns, lab.shared.dir.join(SWITCH), Vec::new())?;
        lab.shared.state()?.nodes.push(Arc::new(switch));
        let sw = lab.switch()?;
        // No IPv6 on the switch: its bridges and ports would otherwise send their own router
        // solicitations and MLD reports into every capture.
        sw.in_netns(|| {
            write_sysctl("net/ipv6/conf/all/disable_ipv6", "1")?;
            write_sysctl("net/ipv6/conf/default/disable_ipv6", "1")?;
            // A switch does not run the hosts' firewalls. Where br_netfilter is loaded (it is
            // on this kind of host, and wherever Docker runs) every new namespace passes
            // bridged frames through its IP and ARP hooks, which cost about a third of each
            // frame's path, all of it on the sending host's CPU: a daemon's CPU per advert
            // sent would count the switch's netfilter. Absent the module, there is nothing
            // to turn off.
            for family in ["iptables", "ip6tables", "arptables"] {
                let key = format!("net/bridge/bridge-nf-call-{family}");
                if std::path::Path::new("/proc/sys").join(&key).exists() {
                    write_sysctl(&key, "0")?;
                }
            }
            Ok::<(), Error>(())
        })??;
        sw.ip_batch("link set dev lo up\n")?;
        lab.add_segment(DEFAULT_SEGMENT)?;
        Ok(lab)
    }

    /// Add a segment: another bridge in the switch, for hosts with more than one LAN.
    pub fn add_segment(&self, name: &str) -> Result<()> {
        names::check_name("segment name", name, 12)?;
        let bridge = bridge_name(name);
        {
            let mut st = self.shared.state()?;
            if st.segments.iter().any(|s| s == name) {
                return Err(Error::invalid(
                    "segment name",
                    format!("{name:?} exists already"),
                ));
            }
            st.segments.push(name.to_string());
            st.ports.insert(bridge.clone());
        }
        // Multicast snooping off: without an MLD/IGMP querier in the lab the bridge would
        // start dropping VRRP multicast (224.0.0.18, ff02::12) once its group timers expire.
        self.switch()?.ip_batch(&format!(
            "link add name {bridge} type bridge mcast_snooping 0\n\
             link set dev {bridge} alias {id}\n\
             link set dev {bridge} up\n",
            id = self.shared.id
        ))
    }

    /// Add a host: its namespaces and init, its interfaces plugged into their segments (MACs
    /// stable per host name, IPv6 duplicate address detection off so addresses work at once),
    /// loopback up, and a private directory. Returns once every cable forwards frames.
    pub fn add_host(&self, spec: HostSpec) -> Result<Host> {
        let name = spec.name.clone();
        names::check_name("host name", &name, 32)?;
        if name == SWITCH || name == "sw" {
            return Err(Error::invalid(
                "host name",
                format!("{name:?} is the switch's"),
            ));
        }
        let nics = self.plan_nics(&spec)?;
        let netns = self.shared.add_netns(&format!("h-{name}"))?;
        let node = Arc::new(Node::start(
            &name,
            &netns,
            self.shared.dir.join(&name),
            nics,
        )?);
        self.shared.state()?.nodes.push(node.clone());
        let host = Host {
            lab: self.shared.clone(),
            node,
        };
        host.in_netns(|| {
            write_sysctl("net/ipv6/conf/all/accept_dad", "0")?;
            write_sysctl("net/ipv6/conf/default/accept_dad", "0")
        })??;

        let (mut cables, mut config) = (String::new(), String::from("link set dev lo up\n"));
        for nic in &host.node.nics {
            cables.push_str(&format!(
                "link add name {port} type veth peer name {ifname} address {mac} netns {netns}\n\
                 link set dev {port} alias {id}\n\
                 link set dev {port} master {bridge} up\n",
                port = nic.port,
                ifname = nic.ifname,
                mac = nic.mac,
                id = self.shared.id,
                bridge = bridge_name(&nic.segment),
            ));
            config.push_str(&format!("link set dev {} up\n", nic.ifname));
            config.push_str(&addr_add_lines(&nic.ifname, &nic.addrs));
        }
        self.switch()?.ip_batch(&cables)?;
        host.ip_batch(&config)?;
        crate::host::wait_for_cables(&host, None)?;
        Ok(host)
    }

    /// Check a host spec against the lab and choose switch ports and MACs.
    fn plan_nics(&self, spec: &HostSpec) -> Result<Vec<NicInfo>> {
        let mut st = self.shared.state()?;
        if st.nodes.iter().any(|n| n.name == spec.name) {
            return Err(Error::invalid(
                "host name",
                format!("{:?} exists already", spec.name),
            ));
        }
        let mut ifnames = HashSet::new();
        let mut planned = Vec::new();
        for (i, nic) in spec.nics.iter().enumerate() {
            names::check_ifname(&nic.ifname)?;
            if !ifnames.insert(nic.ifname.clone()) {
                return Err(Error::invalid(
                    "interface name",
                    format!("{} twice", nic.ifname),
                ));
            }
            if !st.segments.contains(&nic.segment) {
                return Err(Error::invalid(
                    "segment",
                    format!("{:?} does not exist", nic.segment),
                ));
            }
            let addrs = nic
                .addrs
                .iter()
                .map(|a| a.parse::<Cidr>())
                .collect::<Result<Vec<_>>>()?;
            let mac = match nic.mac {
                Some(mac) => mac,
                None => (0..)
                    .map(|salt| MacAddr::for_host(&spec.name, i, salt))
                    .find(|m| !st.macs.contains(m))
                    .unwrap_or(MacAddr::for_host(&spec.name, i, 0)),
            };
            if !st.macs.insert(mac) {
                return Err(Error::invalid("MAC address", format!("{mac} is taken")));
            }
            let port = port_name(&spec.name, i, &st.ports);
            st.ports.insert(port.clone());
            planned.push(NicInfo {
                ifname: nic.ifname.clone(),
                segment: nic.segment.clone(),
                port,
                mac,
                addrs,
            });
        }
        Ok(planned)
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Result<Host> {
        Ok(Host {
            lab: self.shared.clone(),
            node: self.shared.node(name)?,
        })
    }

    /// The switch: a node like a host (run `bridge fdb`, capture, unplug ports) holding one
    /// bridge `br-<segment>` per segment and one port per host interface.
    pub fn switch(&self) -> Result<Host> {
        self.host(SWITCH)
    }

    /// The lab's unique id (`baton-lab-<pid>-<start>-<n>-<name>`); every namespace of the lab
    /// is named `<id>-...`, and bridges and switch ports carry it as their alias.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The lab's directory: one subdirectory per host, `logs/` for process output, captures.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Tear the lab down now and report anything that could not be undone. Dropping the lab
    /// does the same but can only print the problems.
    pub fn teardown(self) -> Result<()> {
        self.shared.teardown()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.shared.teardown() {
            eprintln!("baton-lab: {e}");
        }
    }
}

/// The bridge of a segment.
pub(crate) fn bridge_name(segment: &str) -> String {
    format!("br-{segment}")
}

/// A switch port name: the host name (cut to 12 characters), plus `-<i>` for further
/// interfaces, unique in the switch.
fn port_name(host: &str, nic: usize, taken: &HashSet<String>) -> String {
    let base: String = host.chars().take(12).collect();
    let first = if nic == 0 {
        base.clone()
    } else {
        format!("{base}-{nic}")
    };
    if !taken.contains(&first) {
        return first;
    }
    (0..)
        .map(|n| format!("port{n}"))
        .find(|p| !taken.contains(p))
        .unwrap_or(first)
}

/// `ip -batch` lines adding addresses. IPv6 ones get `nodad` so they are usable at once.
pub(crate) fn addr_add_lines(ifname: &str, addrs: &[Cidr]) -> String {
    addrs
        .iter()
        .map(|c| match c.addr {
            IpAddr::V4(_) => format!("addr add {c} brd + dev {ifname}\n"),
            IpAddr::V6(_) => format!("addr add {c} dev {ifname} nodad\n"),
        })
        .collect()
}

/// Write a sysctl of the calling thread's network namespace (`net/...` under /proc/sys).
pub(crate) fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{key}");
    std::fs::write(&path, value).ctx(|| format!("writing {value} to {path}"))
}

impl LabShared {
    fn state(&self) -> Result<MutexGuard<'_, LabState>> {
        if !self.alive.load(Ordering::SeqCst) {
            return Err(Error::TornDown(self.id.clone()));
        }
        self.state
            .lock()
            .map_err(|_| Error::invalid("lab", "state lock poisoned"))
    }

    /// Create the named network namespace `<id>-<suffix>` and remember it for teardown.
    fn add_netns(&self, suffix: &str) -> Result<String> {
        let name = format!("{}-{suffix}", self.id);
        {
            let _guard = NETNS_LOCK
                .lock()
                .map_err(|_| Error::invalid("netns", "lock poisoned"))?;
            crate::exec::run_tool(&["ip", "netns", "add", &name])?;
        }
        self.state()?.netns.push(name.clone());
        Ok(name)
    }

    pub(crate) fn node(&self, name: &str) -> Result<Arc<Node>> {
        let st = self.state()?;
        let node = st.nodes.iter().find(|n| n.name == name).cloned();
        node.ok_or_else(|| Error::invalid("host name", format!("no host {name:?}")))
    }

    pub(crate) fn next_seq(&self) -> u32 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register_proc(&self, p: Arc<ProcInner>) -> Result<()> {
        self.state()?.procs.push(p);
        Ok(())
    }

    pub(crate) fn register_prober(&self, stop: Weak<AtomicBool>) -> Result<()> {
        let mut st = self.state()?;
        st.probers.retain(|w| w.strong_count() > 0);
        st.probers.push(stop);
        Ok(())
    }

    pub(crate) fn check_alive(&self) -> Result<()> {
        self.state().map(drop)
    }

    /// Kill every process, delete every namespace (which removes every link), remove the
    /// directory. Idempotent; continues past failures and reports them all.
    fn teardown(&self) -> Result<()> {
        let state = {
            let Ok(mut st) = self.state.lock() else {
                return Err(Error::invalid("lab", "state lock poisoned"));
            };
            if !self.alive.swap(false, Ordering::SeqCst) {
                return Ok(());
            }
            std::mem::take(&mut *st)
        };
        let mut problems = Vec::new();
        for stop in state.probers.iter().filter_map(Weak::upgrade) {
            stop.store(true, Ordering::SeqCst);
        }
        if std::thread::panicking() {
            self.print_logs(&state.procs);
        }
        // Killing an init makes the kernel kill its whole PID namespace. Its exit then waits
        // until the test process has reaped the host's processes it started itself, so reap
        // those before the inits.
        for node in &state.nodes {
            let _ = kill(node.init_pid, Signal::SIGKILL);
        }
        for p in &state.procs {
            if let Err(e) = p.kill_and_reap(Duration::from_secs(5)) {
                problems.push(e.to_string());
            }
        }
        for node in &state.nodes {
            match init::reap(node.init_pid, Duration::from_secs(10)) {
                Ok(true) => {}
                Ok(false) => problems.push(format!("init of {} did not exit", node.name)),
                Err(e) => problems.push(e.to_string()),
            }
            node.close();
        }
        if let Ok(_guard) = NETNS_LOCK.lock() {
            for ns in state.netns.iter().rev() {
                if let Err(e) = crate::exec::run_tool(&["ip", "netns", "del", ns])
                    && Path::new(NETNS_DIR).join(ns).exists()
                {
                    problems.push(e.to_string());
                }
            }
        }
        if std::env::var_os(KEEP_ENV).is_some_and(|v| v != "0") {
            eprintln!("baton-lab: kept {} ({KEEP_ENV} is set)", self.dir.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            problems.push(format!("removing {}: {e}", self.dir.display()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Teardown {
                lab: self.id.clone(),
                problems,
            })
        }
    }

    /// During a panic, show the tail of what each background process printed: the usual
    /// reason a lab test fails is in there, and the directory is about to be removed.
    fn print_logs(&self, procs: &[Arc<ProcInner>]) {
        eprintln!(
            "baton-lab: lab {} torn down during a panic; process output follows",
            self.id
        );
        for p in procs {
            for (stream, path) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                if text.trim().is_empty() {
                    continue;
                }
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                eprintln!("--- {} {} (pid {}) {stream} ---", p.host, p.program, p.pid);
                tail.iter().for_each(|l| eprintln!("{l}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_named_after_hosts_and_unique() {
        let mut taken = HashSet::new();
        assert_eq!(port_name("lb1", 0, &taken), "lb1");
        assert_eq!(port_name("lb1", 2, &taken), "lb1-2");
        assert_eq!(port_name("backend-tomcat-1", 0, &taken), "backend-tomc");
        taken.insert("backend-tomc".to_string());
        assert_eq!(port_name("backend-tomcat-2", 0, &taken), "port0");
        assert!(port_name("abcdefghijklmnop", 9, &taken).len() <= 15);
    }

    #[test]
    fn ipv6_addresses_skip_dad() {
        let addrs = [
            "192.168.5.11/24".parse().unwrap(),
            "fd00::11/64".parse().unwrap(),
        ];
        assert_eq!(
            addr_add_lines("ens33", &addrs),
            "addr add 192.168.5.11/24 brd + dev ens33\naddr add fd00::11/64 dev ens33 nodad\n"
        );
    }

    #[test]
    fn host_spec_shapes_the_first_interface() {
        let spec = HostSpec::new("lb1")
            .ifname("ens33")
            .addr("192.168.5.11/24")
            .nic(Nic::new("eth1").segment("wan").addr("10.1.0.1/24"));
        assert_eq!(spec.nics.len(), 2);
        assert_eq!(spec.nics[0].ifname, "ens33");
        assert_eq!(spec.nics[0].segment, DEFAULT_SEGMENT);
        assert_eq!(spec.nics[0].addrs, ["192.168.5.11/24"]);
        assert_eq!(spec.nics[1].segment, "wan");
    }
}
