//! Throw-away network namespaces for kernel tests: uniquely named (process id and a counter),
//! removed on drop, which also runs when a test panics.

use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when the tests may create namespaces; otherwise says why the caller skips.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        println!("skipping {test}: network namespaces need root");
        false
    }
}

#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("baton-{tag}-{}-{n}", std::process::id());
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        // Link-local addresses usable at once: no duplicate address detection in here.
        for k in ["all", "default"] {
            ns.exec(&["sysctl", "-qw", &format!("net.ipv6.conf.{k}.accept_dad=0")]);
        }
        ns
    }

    /// `ip -n NAME ARGS…`; panics with ip's message on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", &self.name];
        a.extend_from_slice(args);
        run("ip", &a)
    }

    /// `ip -j -n NAME ARGS…` parsed.
    pub fn ip_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["-j"];
        a.extend_from_slice(args);
        let out = self.ip(&a);
        if out.trim().is_empty() {
            return serde_json::Value::Array(Vec::new());
        }
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("ip -j {args:?}: {e}: {out}"))
    }

    /// Run a program inside the namespace.
    pub fn exec(&self, argv: &[&str]) -> String {
        let mut a = vec!["netns", "exec", &self.name];
        a.extend_from_slice(argv);
        run("ip", &a)
    }

    /// Move the calling thread into this namespace. Sockets and netlink connections opened
    /// afterwards live here for good, even if the thread moves on; tests call this only on
    /// threads of their own (see [`in_thread`]).
    pub fn enter(&self) {
        let f = File::open(format!("/run/netns/{}", self.name)).unwrap();
        setns(&f, CloneFlags::CLONE_NEWNET).unwrap();
    }

    /// The hardware address of `dev`.
    pub fn mac(&self, dev: &str) -> [u8; 6] {
        let v = self.ip_json(&["link", "show", "dev", dev]);
        let s = v[0]["address"].as_str().unwrap();
        let mut mac = [0u8; 6];
        for (m, part) in mac.iter_mut().zip(s.split(':')) {
            *m = u8::from_str_radix(part, 16).unwrap();
        }
        mac
    }

    /// The IPv6 link-local address of `dev`, waiting for the kernel to assign it (it does so
    /// shortly after the link comes up) and to finish duplicate address detection: while
    /// tentative the address cannot be a raw socket's source (`IPV6_PKTINFO` gives EINVAL).
    pub fn link_local(&self, dev: &str) -> std::net::Ipv6Addr {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let v = self.ip_json(&["-6", "addr", "show", "dev", dev, "scope", "link"]);
            // ip's JSON leaves an empty object for each address the filter dropped.
            let found = v[0]["addr_info"].as_array().and_then(|l| {
                l.iter()
                    .filter(|a| a["tentative"].as_bool() != Some(true))
                    .find_map(|a| a["local"].as_str())
            });
            if let Some(a) = found {
                return a.parse().unwrap();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{dev} got no link-local address"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Two namespaces joined by a veth pair `va` (in `a`) and `vb` (in `b`), both up.
pub fn veth_pair(a: &Netns, b: &Netns) {
    a.ip(&[
        "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b.name,
    ]);
    a.ip(&["link", "set", "va", "up"]);
    b.ip(&["link", "set", "vb", "up"]);
}

pub fn run(prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `f` on a thread of its own (free to change namespace) and return its result; a panic
/// in it fails the test.
pub fn in_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    })
}

/// A current-thread tokio runtime, as the daemon uses.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The VRRP sockets of both ends of a [`veth_pair`]: receivers for both families on `vb` in
/// `b`, joined to the VRRP groups, and senders on `va` in `a`.
pub struct VrrpEnds {
    pub rx4: baton::south::vrrp_socket::VrrpSocket,
    pub rx6: baton::south::vrrp_socket::VrrpSocket,
    pub tx4: baton::south::vrrp_socket::VrrpSocket,
    pub tx6: baton::south::vrrp_socket::VrrpSocket,
}

impl VrrpEnds {
    /// Open them. Call on a thread of its own ([`in_thread`]) inside a runtime (`enter`): the
    /// thread is left in `a`.
    pub fn open(a: &Netns, b: &Netns) -> VrrpEnds {
        use baton::south::vrrp_socket::VrrpSocket;
        use baton_wire::{Family, MCAST_GROUP_V4, MCAST_GROUP_V6};
        use std::net::IpAddr;
        let index = |ns: &Netns, dev: &str| {
            ns.ip_json(&["link", "show", "dev", dev])[0]["ifindex"]
                .as_u64()
                .unwrap() as u32
        };
        let (ia, ib) = (index(a, "va"), index(b, "vb"));
        b.enter();
        let rx4 = VrrpSocket::open("vb", ib, Family::Ipv4).unwrap();
        rx4.join(IpAddr::V4(MCAST_GROUP_V4)).unwrap();
        let rx6 = VrrpSocket::open("vb", ib, Family::Ipv6).unwrap();
        rx6.join(IpAddr::V6(MCAST_GROUP_V6)).unwrap();
        a.enter();
        let tx4 = VrrpSocket::open("va", ia, Family::Ipv4).unwrap();
        let tx6 = VrrpSocket::open("va", ia, Family::Ipv6).unwrap();
        VrrpEnds { rx4, rx6, tx4, tx6 }
    }
}
