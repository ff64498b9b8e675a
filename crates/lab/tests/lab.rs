//! Real-kernel tests of the lab itself. They need root (CI runs as root); elsewhere each one
//! prints why it is skipped and returns.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::{Instant, SystemTime};

use baton_lab::{Host, HostSpec, Lab, Nic, Probe, Signal, ms, secs, wait_until};
use socket2::{Domain, Protocol, Type};

const A4: &str = "10.9.0.1";
const B4: &str = "10.9.0.2";

/// A lab with host `a` (eth0) and host `b` (ens33, as in the seed), both dual-stack.
fn two_hosts(name: &str) -> (Lab, Host, Host) {
    let lab = Lab::new(name).unwrap();
    let a = lab
        .add_host(HostSpec::new("a").addr("10.9.0.1/24").addr("fd00:9::1/64"))
        .unwrap();
    let b = lab
        .add_host(
            HostSpec::new("b")
                .ifname("ens33")
                .addr("10.9.0.2/24")
                .addr("fd00:9::2/64"),
        )
        .unwrap();
    (lab, a, b)
}

#[test]
fn a_lab_is_built_as_specified_and_torn_down() {
    if !baton_lab::require_root() {
        return;
    }
    let (lab, a, b) = two_hosts("build");
    let id = lab.id().to_string();
    let dir = lab.dir().to_path_buf();
    assert!(id.starts_with(&format!("baton-lab-{}-", std::process::id())));
    let netns: Vec<String> = std::fs::read_dir("/run/netns")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(&id))
        .collect();
    assert_eq!(netns.len(), 3, "switch + two hosts: {netns:?}");

    // The interface is called what the test asked for, holds its addresses and a stable MAC.
    let nic = b.interface("ens33").unwrap().clone();
    assert_eq!(nic.mac.0[..2], [0x02, 0xba]);
    let link = b
        .cmd(["ip", "-br", "link", "show", "dev", "ens33"])
        .unwrap();
    assert!(link.contains(&nic.mac.to_string()), "{link}");
    assert!(b.has_addr(B4).unwrap());
    assert!(b.has_addr("fd00:9::2").unwrap());
    assert!(!b.has_addr(A4).unwrap());
    let state = b.link_state("ens33").unwrap();
    assert!(state.up && state.carrier, "{state:?}");
    assert!(b.link_state("lo").unwrap().up);
    assert_eq!(
        b.cmd(["cat", "/proc/sys/net/ipv6/conf/ens33/accept_dad"])
            .unwrap()
            .trim(),
        "0"
    );
    // Its own /run: a default pid file on one host is invisible to the other and the machine.
    b.sh("echo $$ > /run/daemon.pid").unwrap();
    assert!(b.cmd(["cat", "/run/daemon.pid"]).is_ok());
    assert!(a.cmd(["cat", "/run/daemon.pid"]).is_err());
    assert!(!Path::new("/run/daemon.pid").exists());
    // Its own hostname and its own /sys.
    assert_eq!(b.cmd(["hostname"]).unwrap().trim(), "b");
    let sys: Vec<String> = b
        .cmd(["ls", "/sys/class/net"])
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(sys, ["ens33", "lo"]);
    // The switch has the bridge and one port per host, all tagged with the lab id.
    let ports = lab
        .switch()
        .unwrap()
        .cmd(["ip", "-br", "link", "show", "master", "br-lan"])
        .unwrap();
    assert!(ports.contains(&nic.port) && ports.contains("a@"), "{ports}");
    let alias = lab
        .switch()
        .unwrap()
        .cmd(["ip", "-j", "link", "show", "dev", "br-lan"])
        .unwrap();
    assert!(alias.contains(&format!("\"ifalias\":\"{id}\"")), "{alias}");
    // The same host name gives the same MAC in another lab.
    let again = Lab::new("build2").unwrap();
    let b2 = again.add_host(HostSpec::new("b").ifname("ens33")).unwrap();
    assert_eq!(b2.interface("ens33").unwrap().mac, nic.mac);
    drop(again);

    drop((a, b));
    lab.teardown().unwrap();
    assert!(
        !netns
            .iter()
            .any(|n| Path::new("/run/netns").join(n).exists())
    );
    assert!(!dir.exists());
}

#[test]
fn hosts_ping_each_other_over_ipv4_and_ipv6() {
    if !baton_lab::require_root() {
        return;
    }
    let (_lab, a, b) = two_hosts("ping");
    assert!(a.ping(B4, secs(2)).unwrap().is_some());
    assert!(b.ping(A4, secs(2)).unwrap().is_some());
    assert!(a.ping("fd00:9::2", secs(2)).unwrap().is_some());
    assert!(b.ping("fd00:9::1", secs(2)).unwrap().is_some());
    // Nobody holds this address: no answer.
    assert_eq!(a.ping("10.9.0.77", ms(200)).unwrap(), None);
    assert_eq!(
        a.arping("eth0", B4, ms(500)).unwrap(),
        vec![b.interface("ens33").unwrap().mac]
    );
    assert!(a.arping("eth0", "10.9.0.77", ms(100)).unwrap().is_empty());
}

#[test]
fn each_host_sees_only_its_own_processes() {
    if !baton_lab::require_root() {
        return;
    }
    let (_lab, a, b) = two_hosts("pidns");
    let sleep = a.spawn(Command::new("sleep").arg("1000")).unwrap();
    let inner = sleep.pid_in_host().unwrap();
    assert_ne!(inner, sleep.pid(), "the host has its own pid numbering");
    assert_eq!(a.pidof("sleep").unwrap(), vec![inner]);
    assert_eq!(a.cmd(["pidof", "sleep"]).unwrap().trim(), inner.to_string());
    assert!(b.pidof("sleep").unwrap().is_empty());
    assert!(
        b.cmd(["pidof", "sleep"]).is_err(),
        "pidof on b must find nothing"
    );
    assert!(!Path::new(&format!("/proc/{}/root/proc/{inner}", b.init_pid())).exists());
    // `ps` inside a host lists its init, what runs there, and itself: nothing of the machine.
    let ps = |h: &Host| -> Vec<String> {
        let out = h.cmd(["ps", "-eo", "pid=,comm="]).unwrap();
        out.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let on_a = ps(&a);
    assert_eq!(on_a.len(), 3, "{on_a:?}");
    assert_eq!(
        on_a[..2],
        ["1 baton-lab-init".to_string(), format!("{inner} sleep")]
    );
    assert!(on_a[2].ends_with(" ps"), "{on_a:?}");
    let on_b = ps(&b);
    assert_eq!(on_b.len(), 2, "{on_b:?}");
    assert_eq!(on_b[0], "1 baton-lab-init");
    assert!(on_b[1].ends_with(" ps"), "{on_b:?}");
    let names: Vec<String> = a.processes().unwrap().into_iter().map(|p| p.comm).collect();
    assert_eq!(names, ["baton-lab-init", "sleep"]);
}

#[test]
fn the_init_reaps_orphans_and_takes_the_host_down_with_it() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = Lab::new("init").unwrap();
    let h = lab.add_host(HostSpec::new("h")).unwrap();
    // A daemon: the shell exits at once and its child is re-parented to the host's init.
    h.sh("sleep 1001 </dev/null >/dev/null 2>&1 &").unwrap();
    let (daemon, _) = baton_lab::wait_for("the daemonised sleep", secs(5), ms(5), || {
        h.processes().map(|ps| {
            ps.into_iter()
                .find(|p| p.cmdline.get(1).is_some_and(|a| a == "1001"))
        })
    })
    .unwrap();
    let ppid = h
        .cmd(["ps", "-o", "ppid=", "-p", &daemon.pid.to_string()])
        .unwrap();
    assert_eq!(ppid.trim(), "1");
    assert_eq!(h.kill_all("sleep", Signal::SIGKILL).unwrap(), 1);
    // Reaped, not left as a zombie.
    wait_until("the killed daemon to be reaped", secs(5), ms(5), || {
        h.processes()
            .map(|ps| !ps.iter().any(|p| p.outer_pid == daemon.outer_pid))
    })
    .unwrap();

    // Killing the init kills everything on the host, children of the test included.
    h.sh("sleep 1002 </dev/null >/dev/null 2>&1 &").unwrap();
    let child = h.spawn(Command::new("sleep").arg("1003")).unwrap();
    let (orphan, _) = baton_lab::wait_for("the second daemon", secs(5), ms(5), || {
        h.processes().map(|ps| {
            ps.into_iter()
                .find(|p| p.cmdline.get(1).is_some_and(|a| a == "1002"))
        })
    })
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(h.init_pid() as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let status = child
        .wait_timeout(secs(5))
        .unwrap()
        .expect("the spawned sleep must die");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    wait_until("the orphan to die with the init", secs(5), ms(5), || {
        !Path::new(&format!("/proc/{}", orphan.outer_pid)).exists()
    })
    .unwrap();
}

#[test]
fn programs_get_their_environment_directory_and_output_files() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = Lab::new("exec").unwrap();
    let h = lab.add_host(HostSpec::new("h")).unwrap();
    let work = h.path("work");
    std::fs::create_dir(&work).unwrap();
    let p = h
        .spawn(
            Command::new("sh")
                .args(["-c", "echo \"$GREETING\"; pwd; echo oops >&2; exit 3"])
                .env("GREETING", "hello")
                .current_dir(&work),
        )
        .unwrap();
    let status = p.wait_timeout(secs(5)).unwrap().unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(p.stdout().unwrap(), format!("hello\n{}\n", work.display()));
    assert_eq!(p.stderr().unwrap(), "oops\n");
    assert!(p.stdout_path().starts_with(lab.dir()));
    // By default programs start in the host's directory, where its files are.
    h.write_file("conf/x.conf", "ok").unwrap();
    assert_eq!(h.cmd(["cat", "conf/x.conf"]).unwrap(), "ok");
    let err = h
        .cmd(["sh", "-c", "echo bad >&2; exit 4"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exit 4") && err.contains("bad") && err.contains("on h"),
        "{err}"
    );
    // Signals of any kind, and an error for a process that is gone.
    let sleeper = h.spawn(Command::new("sleep").arg("1000")).unwrap();
    assert!(sleeper.is_running().unwrap());
    sleeper.signal(Signal::SIGTERM).unwrap();
    let status = sleeper.wait_timeout(secs(5)).unwrap().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15)
    );
    assert!(sleeper.kill().is_err());
}

/// Send three protocol-112 packets from `a` to 224.0.0.18 and three to `b`'s address; how
/// many `b` received.
fn vrrp_like_packets_received(a: &Host, b: &Host) -> usize {
    const MARK: &[u8] = b"baton-lab proto 112 test";
    let proto = Some(Protocol::from(112));
    let rx = b.socket(Domain::IPV4, Type::RAW, proto).unwrap();
    rx.join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 18), &B4.parse().unwrap())
        .unwrap();
    let tx = a.socket(Domain::IPV4, Type::RAW, proto).unwrap();
    tx.set_multicast_if_v4(&A4.parse().unwrap()).unwrap();
    tx.set_multicast_ttl_v4(255).unwrap();
    tx.set_ttl_v4(255).unwrap();
    for _ in 0..3 {
        for dst in ["224.0.0.18", B4] {
            let to = SocketAddr::new(dst.parse().unwrap(), 0);
            tx.send_to(MARK, &to.into()).unwrap();
        }
    }
    let mut got = 0;
    let deadline = Instant::now() + ms(300);
    let mut buf = [0u8; 1500];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        rx.set_read_timeout(Some(left.max(ms(1)))).unwrap();
        match (&rx).read(&mut buf) {
            Ok(n) if buf[..n].ends_with(MARK) => got += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    got
}

#[test]
fn dropping_protocol_112_really_drops_vrrp() {
    if !baton_lab::require_root() {
        return;
    }
    let (_lab, a, b) = two_hosts("nft");
    assert_eq!(
        vrrp_like_packets_received(&a, &b),
        6,
        "without the rule everything arrives"
    );
    let firewall = b.drop_ip_protocol(112).unwrap();
    assert_eq!(
        vrrp_like_packets_received(&a, &b),
        0,
        "{} let packets through",
        firewall.describe()
    );
    assert!(firewall.dropped_packets().unwrap() >= 6);
    // Only protocol 112: ping still works.
    assert!(a.ping(B4, secs(1)).unwrap().is_some());
    firewall.remove().unwrap();
    assert_eq!(
        vrrp_like_packets_received(&a, &b),
        6,
        "after removal everything arrives again"
    );
}

#[test]
fn blocking_a_peer_or_everything_cuts_traffic_until_removed() {
    if !baton_lab::require_root() {
        return;
    }
    let (lab, a, b) = two_hosts("block");
    let c = lab
        .add_host(HostSpec::new("c").addr("10.9.0.3/24"))
        .unwrap();
    let partition = a.block_peer(B4).unwrap();
    assert_eq!(a.ping(B4, ms(200)).unwrap(), None);
    assert!(
        a.ping("10.9.0.3", secs(1)).unwrap().is_some(),
        "only b is cut off"
    );
    partition.remove().unwrap();
    assert!(a.ping(B4, secs(1)).unwrap().is_some());
    let isolated = b.block_all().unwrap();
    assert_eq!(a.ping(B4, ms(200)).unwrap(), None);
    assert_eq!(c.ping(B4, ms(200)).unwrap(), None);
    assert!(
        b.ping("127.0.0.1", secs(1)).unwrap().is_some(),
        "loopback still works"
    );
    assert!(isolated.dropped_packets().unwrap() >= 2);
    isolated.remove().unwrap();
    assert!(c.ping(B4, secs(1)).unwrap().is_some());
}

#[test]
fn link_down_or_unplugged_cable_makes_the_peer_unreachable() {
    if !baton_lab::require_root() {
        return;
    }
    let (_lab, a, b) = two_hosts("link");
    assert!(a.ping(B4, secs(1)).unwrap().is_some());
    b.link_down("ens33").unwrap();
    assert!(!b.link_state("ens33").unwrap().up);
    assert_eq!(a.ping(B4, ms(200)).unwrap(), None);
    b.link_up("ens33").unwrap();
    wait_until("b to answer after link up", secs(3), ms(10), || {
        a.ping(B4, ms(100)).map(|r| r.is_some())
    })
    .unwrap();
    // The kernel drops IPv6 addresses on link down; link_up puts the lab's back.
    assert!(b.has_addr("fd00:9::2").unwrap());
    // Neighbour discovery starts afresh after the flap, and on a loaded machine its first
    // solicitation can go before the re-added address answers: the same bound as IPv4.
    wait_until("b to answer on IPv6 after link up", secs(3), ms(10), || {
        a.ping("fd00:9::2", ms(100)).map(|r| r.is_some())
    })
    .unwrap();

    b.unplug("ens33").unwrap();
    let state = b.link_state("ens33").unwrap();
    assert!(
        state.up && !state.carrier,
        "cable pulled: admin up, no carrier: {state:?}"
    );
    assert_eq!(a.ping(B4, ms(200)).unwrap(), None);
    b.plug("ens33").unwrap();
    wait_until("b to answer after plug", secs(3), ms(10), || {
        a.ping(B4, ms(100)).map(|r| r.is_some())
    })
    .unwrap();
}

#[test]
fn segments_separate_hosts() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = Lab::new("segments").unwrap();
    lab.add_segment("wan").unwrap();
    let a = lab
        .add_host(HostSpec::new("a").addr("10.9.0.1/24"))
        .unwrap();
    let c = lab
        .add_host(HostSpec::new("c").segment("wan").addr("10.8.0.3/24"))
        .unwrap();
    let r = lab
        .add_host(
            HostSpec::new("r")
                .addr("10.9.0.254/24")
                .nic(Nic::new("eth1").segment("wan").addr("10.8.0.254/24")),
        )
        .unwrap();
    // Same subnet as `a`, but on the other segment.
    let d = lab
        .add_host(HostSpec::new("d").segment("wan").addr("10.9.0.4/24"))
        .unwrap();
    assert_eq!(r.interfaces().len(), 2);
    assert!(a.ping("10.9.0.254", secs(1)).unwrap().is_some());
    assert!(c.ping("10.8.0.254", secs(1)).unwrap().is_some());
    assert_eq!(a.ping("10.9.0.4", ms(300)).unwrap(), None, "other segment");
    assert_eq!(
        d.ping("10.9.0.254", ms(300)).unwrap(),
        None,
        "other segment"
    );
    assert!(lab.add_host(HostSpec::new("x").segment("nowhere")).is_err());
    assert!(
        lab.add_host(HostSpec::new("a")).is_err(),
        "host names are unique"
    );
}

#[test]
fn captures_record_packets_on_a_host_and_on_the_switch() {
    if !baton_lab::require_root() {
        return;
    }
    let (lab, a, b) = two_hosts("capture");
    let on_a = a.capture("eth0", "icmp").unwrap();
    let on_lan = lab.capture_segment("lan", "icmp or vrrp").unwrap();
    let before = SystemTime::now();
    for _ in 0..3 {
        assert!(a.ping(B4, secs(1)).unwrap().is_some());
    }
    assert_eq!(vrrp_like_packets_received(&a, &b), 6);
    let after = SystemTime::now();
    let (a_ip, b_ip): (IpAddr, IpAddr) = (A4.parse().unwrap(), B4.parse().unwrap());

    let host_view = on_a.stop().unwrap();
    assert_eq!(host_view.linktype, baton_lab::LINKTYPE_ETHERNET);
    let requests = host_view
        .with_protocol(1)
        .filter(|r| r.ip().unwrap().src == a_ip)
        .count();
    let replies = host_view
        .with_protocol(1)
        .filter(|r| r.ip().unwrap().src == b_ip)
        .count();
    assert_eq!((requests, replies), (3, 3));
    assert!(
        host_view
            .records
            .iter()
            .all(|r| r.ts >= before - secs(1) && r.ts <= after + secs(1))
    );

    let lan = on_lan.stop().unwrap();
    assert_eq!(
        lan.with_protocol(1).count(),
        6,
        "the bridge sees both directions"
    );
    let vrrp: Vec<_> = lan.with_protocol(112).collect();
    assert_eq!(vrrp.len(), 6);
    assert!(vrrp.iter().all(|r| r.ip().unwrap().ttl == 255));
    let first = lan
        .first_after(before, |r| r.ip().is_some_and(|ip| ip.protocol == 112))
        .unwrap();
    assert_eq!(
        first.ethernet().unwrap().1,
        a.interface("eth0").unwrap().mac
    );
}

#[test]
fn probes_time_outages_and_name_responders() {
    if !baton_lab::require_root() {
        return;
    }
    let (_lab, a, b) = two_hosts("probe");
    let b_mac = b.interface("ens33").unwrap().mac.to_string();
    let arp = a
        .start_probe(Probe::arp("eth0", B4).unwrap(), ms(1))
        .unwrap();
    let listener = b
        .in_netns(|| TcpListener::bind((B4, 8080)))
        .unwrap()
        .unwrap();
    let tcp = a.start_probe(Probe::tcp(B4, 8080).unwrap(), ms(5)).unwrap();
    let ping = a
        .start_probe(Probe::ping("fd00:9::2").unwrap(), ms(5))
        .unwrap();
    arp.wait_for("b to answer ARP", secs(2), |s| {
        s.responders == [b_mac.clone()]
    })
    .unwrap();
    tcp.wait_for("b's port 8080 to accept", secs(2), |s| s.answered())
        .unwrap();
    ping.wait_for("b to answer ping", secs(2), |s| s.answered())
        .unwrap();

    let cut = Instant::now();
    b.unplug("ens33").unwrap();
    arp.wait_for("ARP to go unanswered", secs(2), |s| {
        s.at > cut && !s.answered()
    })
    .unwrap();
    std::thread::sleep(ms(100));
    let plugged = Instant::now();
    b.plug("ens33").unwrap();
    let back = arp
        .wait_for("ARP to be answered again", secs(2), |s| {
            s.at > plugged && s.answered()
        })
        .unwrap();
    drop(listener);
    tcp.wait_for("the port to close", secs(2), |s| !s.answered())
        .unwrap();

    let log = arp.stop().unwrap();
    let outages = log.outages_over(ms(30));
    assert_eq!(outages.len(), 1, "one cable pull: {outages:?}");
    assert!(outages[0].start > cut);
    assert_eq!(outages[0].end, Some(back.at));
    let took = outages[0].duration().unwrap();
    assert!(took >= ms(100) && took < secs(2), "outage {took:?}");
    assert!(log.first_split().is_none(), "only b answers");
    let n = log.samples.len() as u32;
    let spacing = (log.samples[n as usize - 1].at - log.samples[0].at) / (n - 1);
    assert!(spacing < ms(3), "1 ms rounds came every {spacing:?}");
    tcp.stop().unwrap();
    ping.stop().unwrap();
}

#[test]
fn labs_with_the_same_names_and_addresses_coexist() {
    if !baton_lab::require_root() {
        return;
    }
    let (one, a1, _b1) = two_hosts("twin");
    let (two, a2, b2) = two_hosts("twin");
    assert_ne!(one.id(), two.id());
    assert!(a1.ping(B4, secs(1)).unwrap().is_some());
    drop(one);
    assert!(
        a1.ping(B4, ms(100)).is_err(),
        "a torn-down lab's hosts refuse to work"
    );
    assert!(a2.ping(B4, secs(1)).unwrap().is_some());
    assert!(b2.ping(A4, secs(1)).unwrap().is_some());
}
