//! The LVS data plane on the real kernel: a client, a director running baton's nftables
//! tables, and real servers answering HTTP, each in its own namespace (baton-lab). Root only;
//! skipped with the reason printed otherwise.
//!
//! NAT lab: the client and the director's front on `lan` (10.1.0.0/24, fd01::/64, virtual
//! addresses 10.1.0.100 and fd01::100 on the director), the director's back and the real
//! servers on `back` (10.2.0.0/24, fd02::/64), the real servers routing via the director.
//! DR lab: everyone on one segment (10.3.0.0/24, fd03::/64), the virtual address on the
//! real servers' loopback.

#![allow(clippy::unwrap_used)] // a test: a failed setup step is a failed test

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use baton_lab::{Host, HostSpec, Lab};
use baton_nft::lvs::{
    Family, Forwarding, ForwardingTable, Frontend, Granularity, Persistence, Protocol, RealServer,
    Reason, Scheduler, VirtualService,
};
use baton_nft::{Dataplane, Error, Options};

/// A tiny HTTP server inside a real server's namespace: `GET /big` streams `BIG` bytes
/// slowly, anything else answers `<name> <client address>`.
struct Http {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const BIG: usize = 1_500_000;
const CHUNK: usize = 50_000;

impl Http {
    fn start(host: &Host, name: &str, port: u16) -> Http {
        let listener = host
            .in_netns(move || TcpListener::bind(("::", port)))
            .unwrap()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, name) = (stop.clone(), name.to_string());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, peer)) => {
                        let name = name.clone();
                        std::thread::spawn(move || serve(s, &name, peer));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Http {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, name: &str, peer: SocketAddr) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = [0u8; 1024];
    let n = s.read(&mut req).unwrap_or(0);
    let req = String::from_utf8_lossy(&req[..n]);
    if req.starts_with("GET /big") {
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
        let chunk = vec![b'x'; CHUNK];
        for _ in 0..BIG / CHUNK {
            if s.write_all(&chunk).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    } else {
        let ip = peer.ip().to_canonical();
        let _ = write!(s, "HTTP/1.0 200 OK\r\n\r\n{name} {ip}");
    }
}

/// One HTTP request from `client` (from `src` when given): the body.
fn fetch(client: &Host, src: Option<IpAddr>, to: SocketAddr) -> String {
    let mut s = connect(client, src, to);
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

fn connect(client: &Host, src: Option<IpAddr>, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let domain = if to.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock: Socket = client.socket(domain, Type::STREAM, None).unwrap();
    if let Some(src) = src {
        sock.bind(&SocketAddr::new(src, 0).into()).unwrap();
    }
    sock.connect_timeout(&to.into(), Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("connecting to {to}: {e}"));
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Which server answered, `n` times.
fn count(client: &Host, src: Option<IpAddr>, to: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for _ in 0..n {
        let body = fetch(client, src, to);
        let name = body.split(' ').next().unwrap_or("").to_string();
        *c.entry(name).or_default() += 1;
    }
    c
}

fn ruleset(h: &Host) -> String {
    h.cmd(["nft", "list", "ruleset"]).unwrap()
}

fn rs(addr: &str, weight: u32) -> RealServer {
    RealServer {
        addr: addr.parse().unwrap(),
        weight,
    }
}

fn service(vip: &str, servers: Vec<RealServer>) -> VirtualService {
    let mut vs = VirtualService::new(Frontend::Address {
        addr: vip.parse().unwrap(),
        protocol: Protocol::Tcp,
    });
    vs.real_servers = servers;
    vs
}

fn table(services: Vec<VirtualService>) -> ForwardingTable {
    ForwardingTable { services }
}

/// The NAT lab, with HTTP on port 8080 of each real server.
struct NatLab {
    lab: Lab,
    client: Host,
    director: Host,
    _servers: Vec<Host>,
    _http: Vec<Http>,
}

fn nat_lab(name: &str, n: usize) -> Option<NatLab> {
    if !baton_lab::require_root() {
        return None;
    }
    if baton_lab::require_tool("nft").is_err() {
        eprintln!("skipping: nft (Debian package nftables) is not installed");
        return None;
    }
    let lab = Lab::new(name).unwrap();
    let hosts = baton_lab::nat::nat_hosts(
        &lab,
        &["10.1.0.100/32", "10.1.0.101/32", "fd01::100/128"],
        n,
    )
    .unwrap();
    let (client, director, servers) = (hosts.client, hosts.director, hosts.servers);
    let http = servers
        .iter()
        .enumerate()
        .map(|(i, h)| Http::start(h, &format!("rs{}", i + 1), 8080))
        .collect();
    Some(NatLab {
        lab,
        client,
        director,
        _servers: servers,
        _http: http,
    })
}

fn open(director: &Host) -> Dataplane {
    director
        .in_netns(|| Dataplane::new(Options::default()))
        .unwrap()
        .unwrap()
}

fn apply_ok(dp: &mut Dataplane, t: &ForwardingTable) {
    let report = dp.apply(t).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
}

const VIP: &str = "10.1.0.100";

#[test]
fn nat_rr_and_wrr_split_new_connections_by_weight() {
    let Some(l) = nat_lab("nft-wrr", 3) else {
        return;
    };
    let mut dp = open(&l.director);
    let servers = |w: [u32; 3]| {
        vec![
            rs("10.2.0.11:8080", w[0]),
            rs("10.2.0.12:8080", w[1]),
            rs("10.2.0.13:8080", w[2]),
        ]
    };
    let vip: SocketAddr = format!("{VIP}:80").parse().unwrap();
    apply_ok(
        &mut dp,
        &table(vec![service(&format!("{VIP}:80"), servers([1, 1, 1]))]),
    );
    let rr = count(&l.client, None, vip, 30);
    println!("rr over 30 connections: {rr:?}");
    assert_eq!(rr.values().copied().collect::<Vec<_>>(), [10, 10, 10]);

    let mut vs = service(&format!("{VIP}:80"), servers([1, 2, 3]));
    vs.scheduler = Scheduler::Wrr;
    let report = dp.apply(&table(vec![vs])).unwrap();
    println!(
        "weight change: one transaction of {} messages",
        report.messages
    );
    let wrr = count(&l.client, None, vip, 60);
    println!("wrr 1:2:3 over 60 connections: {wrr:?}");
    assert_eq!(wrr.values().copied().collect::<Vec<_>>(), [10, 20, 30]);

    let rules = ruleset(&l.director);
    assert!(
        rules.contains("numgen inc mod 6 vmap @vs_10_1_0_100_tcp_80_sched"),
        "{rules}"
    );
    assert!(rules.contains("dnat ip to 10.2.0.13:8080"), "{rules}");
    assert!(rules.contains("ip daddr . meta l4proto . th dport vmap @vip4"));

    // Persistence switched on changes the service's objects: it is rebuilt under the same
    // names in one transaction, and keeps serving.
    let mut vs = service(&format!("{VIP}:80"), servers([1, 2, 3]));
    vs.persistence = Some(Persistence {
        timeout: Duration::from_secs(30),
        granularity: None,
    });
    apply_ok(&mut dp, &table(vec![vs]));
    let pinned = count(&l.client, None, vip, 5);
    println!("after switching persistence on: {pinned:?}");
    assert_eq!(pinned.len(), 1);
    assert!(ruleset(&l.director).contains("_pers"));
}

#[test]
fn source_hash_and_persistence_pin_a_client() {
    let Some(l) = nat_lab("nft-pin", 3) else {
        return;
    };
    let sources: Vec<IpAddr> = (10..16)
        .map(|i| format!("10.1.0.{i}").parse().unwrap())
        .collect();
    for s in &sources {
        l.client
            .cmd(["ip", "addr", "add", &format!("{s}/24"), "dev", "eth0"])
            .unwrap();
    }
    let mut dp = open(&l.director);
    let all = || {
        vec![
            rs("10.2.0.11:8080", 1),
            rs("10.2.0.12:8080", 1),
            rs("10.2.0.13:8080", 1),
        ]
    };
    let mut sh = service(&format!("{VIP}:81"), all());
    sh.scheduler = Scheduler::Sh;
    let mut pers = service(&format!("{VIP}:82"), all());
    pers.persistence = Some(Persistence {
        timeout: Duration::from_secs(60),
        granularity: Some(Granularity::V4Mask("255.255.255.255".parse().unwrap())),
    });
    apply_ok(&mut dp, &table(vec![sh.clone(), pers.clone()]));

    // sh: every source always lands on one server; the sources spread.
    let to_sh: SocketAddr = format!("{VIP}:81").parse().unwrap();
    let mut by_source = BTreeMap::new();
    for s in &sources {
        let c = count(&l.client, Some(*s), to_sh, 5);
        assert_eq!(c.len(), 1, "source {s} went to {c:?}");
        by_source.insert(*s, c.keys().next().cloned().unwrap_or_default());
    }
    println!("sh: source → server {by_source:?}");
    let distinct: std::collections::BTreeSet<_> = by_source.values().collect();
    assert!(distinct.len() >= 2, "6 sources all hashed to one server");

    // Persistence with rr: a client stays; the next client gets the next server.
    let to_p: SocketAddr = format!("{VIP}:82").parse().unwrap();
    let first = count(&l.client, Some(sources[0]), to_p, 10);
    let second = count(&l.client, Some(sources[1]), to_p, 10);
    println!("persistence: client 1 {first:?}, client 2 {second:?}");
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 1);
    assert_ne!(first.keys().next(), second.keys().next());

    // Its server leaves: the client is scheduled afresh and pinned again.
    let gone = first.keys().next().cloned().unwrap_or_default();
    let idx: usize = gone.trim_start_matches("rs").parse().unwrap();
    let mut fewer = pers.clone();
    fewer.real_servers.remove(idx - 1);
    apply_ok(&mut dp, &table(vec![sh, fewer]));
    let again = count(&l.client, Some(sources[0]), to_p, 10);
    println!("persistence after {gone} left: client 1 {again:?}");
    assert_eq!(again.len(), 1);
    assert!(!again.contains_key(&gone));

    let rules = ruleset(&l.director);
    assert!(
        rules.contains("jhash ip saddr mod 3 seed 0x6261746f vmap"),
        "{rules}"
    );
    assert!(rules.contains("flags dynamic,timeout"), "{rules}");
    assert!(rules.contains("timeout 1m"), "{rules}");
    assert!(
        rules.contains(&format!("elements = {{ {} ", sources[0])),
        "{rules}"
    );
}

#[test]
fn removed_server_takes_no_new_connections_but_a_download_finishes() {
    let Some(l) = nat_lab("nft-drain", 2) else {
        return;
    };
    let mut dp = open(&l.director);
    let both = service(
        &format!("{VIP}:80"),
        vec![rs("10.2.0.11:8080", 1), rs("10.2.0.12:8080", 1)],
    );
    apply_ok(&mut dp, &table(vec![both]));
    let vip: SocketAddr = format!("{VIP}:80").parse().unwrap();
    // The first new connection takes slot 0: rs1.
    let mut dl = connect(&l.client, None, vip);
    dl.write_all(b"GET /big HTTP/1.0\r\n\r\n").unwrap();
    let start = Instant::now();
    let mut got = 0usize;
    let mut buf = vec![0u8; 65536];
    while got < 200_000 {
        got += dl.read(&mut buf).unwrap();
    }
    let only_rs2 = service(&format!("{VIP}:80"), vec![rs("10.2.0.12:8080", 1)]);
    let t = Instant::now();
    let report = dp.apply(&table(vec![only_rs2])).unwrap();
    println!(
        "rs1 removed after {got} bytes: {} messages in {:?}",
        report.messages,
        t.elapsed()
    );
    let after = count(&l.client, None, vip, 10);
    println!("new connections after the removal: {after:?}");
    assert_eq!(after.get("rs2"), Some(&10));
    loop {
        match dl.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("download broke after {got} bytes: {e}"),
        }
    }
    let body = got - "HTTP/1.0 200 OK\r\n\r\n".len();
    println!(
        "download from the removed rs1: {body} of {BIG} bytes in {:?}",
        start.elapsed()
    );
    assert_eq!(body, BIG);
}

#[test]
fn sorry_server_serves_while_no_real_server_has_weight() {
    let Some(l) = nat_lab("nft-sorry", 3) else {
        return;
    };
    let mut dp = open(&l.director);
    let vip: SocketAddr = format!("{VIP}:80").parse().unwrap();
    let with = |w: u32| {
        let mut vs = service(
            &format!("{VIP}:80"),
            vec![rs("10.2.0.11:8080", w), rs("10.2.0.12:8080", w)],
        );
        vs.sorry_server = Some(rs("10.2.0.13:8080", 1));
        vs
    };
    apply_ok(&mut dp, &table(vec![with(1)]));
    let normal = count(&l.client, None, vip, 4);
    apply_ok(&mut dp, &table(vec![with(0)]));
    let sorry = count(&l.client, None, vip, 4);
    let listing = ruleset(&l.director);
    apply_ok(&mut dp, &table(vec![with(1)]));
    let back = count(&l.client, None, vip, 4);
    println!("sorry server: before {normal:?}, quorum lost {sorry:?}, back {back:?}");
    assert!(!normal.contains_key("rs3") && normal.len() == 2);
    assert_eq!(sorry.get("rs3"), Some(&4));
    assert!(!back.contains_key("rs3") && back.len() == 2);
    assert!(listing.contains("dnat ip to 10.2.0.13:8080"), "{listing}");
    assert!(!ruleset(&l.director).contains("10.2.0.13"));
}

#[test]
fn fwmark_service_takes_marked_packets() {
    let Some(l) = nat_lab("nft-fwmark", 2) else {
        return;
    };
    // The administrator's own rule marks the traffic (as keepalived users do with iptables).
    l.director
        .sh("nft add table ip admin && \
             nft add chain ip admin pre '{ type filter hook prerouting priority mangle; }' && \
             nft add rule ip admin pre ip daddr 10.1.0.101 tcp dport 8080 meta mark set 7")
        .unwrap();
    let mut dp = open(&l.director);
    let mut vs = VirtualService::new(Frontend::Fwmark {
        mark: 7,
        family: Family::Ipv4,
    });
    vs.real_servers = vec![rs("10.2.0.12:0", 1)];
    apply_ok(&mut dp, &table(vec![vs]));
    let c = count(&l.client, None, "10.1.0.101:8080".parse().unwrap(), 5);
    println!("fwmark 7: {c:?}");
    assert_eq!(c.get("rs2"), Some(&5));
    let rules = ruleset(&l.director);
    assert!(rules.contains("meta mark vmap @fwmark"), "{rules}");
    assert!(rules.contains("dnat ip to 10.2.0.12"), "{rules}");
}

#[test]
fn ipv6_nat() {
    let Some(l) = nat_lab("nft-ip6", 2) else {
        return;
    };
    let mut dp = open(&l.director);
    apply_ok(
        &mut dp,
        &table(vec![service(
            "[fd01::100]:80",
            vec![rs("[fd02::11]:8080", 1), rs("[fd02::12]:8080", 1)],
        )]),
    );
    let c = count(&l.client, None, "[fd01::100]:80".parse().unwrap(), 10);
    println!("IPv6 rr: {c:?}");
    assert_eq!(c.values().copied().collect::<Vec<_>>(), [5, 5]);
    let body = fetch(&l.client, None, "[fd01::100]:80".parse().unwrap());
    assert!(
        body.ends_with("fd01::2"),
        "the server sees the client: {body}"
    );
    let rules = ruleset(&l.director);
    assert!(rules.contains("dnat ip6 to [fd02::11]:8080"), "{rules}");
}

#[test]
fn kernel_refusal_is_reported_and_the_rest_serves() {
    let Some(l) = nat_lab("nft-refuse", 1) else {
        return;
    };
    let mut dp = open(&l.director);
    let good = service(&format!("{VIP}:80"), vec![rs("10.2.0.11:8080", 1)]);
    // A persistence timeout of three thousand years: the kernel's timeouts stop at about
    // 580 years (ERANGE).
    let mut bad = service(&format!("{VIP}:443"), vec![rs("10.2.0.11:8080", 1)]);
    bad.persistence = Some(Persistence {
        timeout: Duration::from_secs(100_000_000_000),
        granularity: None,
    });
    let report = dp.apply(&table(vec![good, bad])).unwrap();
    for f in &report.failed {
        println!("reported: {f}");
    }
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.service.to_string(), "[10.1.0.100]:tcp:443");
    match &f.reason {
        Reason::Kernel { object, error } => {
            assert!(
                object.starts_with("add set inet baton_lvs vs_10_1_0_100_tcp_443"),
                "{object}"
            );
            assert_eq!(error.raw_os_error(), Some(libc::ERANGE), "{error}");
        }
        other => panic!("{other:?}"),
    }
    let c = count(&l.client, None, format!("{VIP}:80").parse().unwrap(), 3);
    assert_eq!(c.get("rs1"), Some(&3));
}

#[test]
fn stale_table_is_replaced_at_start_and_tables_go_on_drop() {
    let Some(l) = nat_lab("nft-life", 1) else {
        return;
    };
    l.director
        .sh("nft add table inet baton_lvs && \
             nft add chain inet baton_lvs leftover && \
             nft add table netdev baton_lvs")
        .unwrap();
    let dp = open(&l.director);
    let rules = ruleset(&l.director);
    assert!(!rules.contains("leftover"), "{rules}");
    assert!(rules.contains("flags owner"), "{rules}");
    assert!(!rules.contains("table netdev baton_lvs"), "{rules}");
    // A second data plane in the same namespace is refused: the table is owned.
    let second = l
        .director
        .in_netns(|| Dataplane::new(Options::default()))
        .unwrap();
    assert!(matches!(second, Err(Error::Owned { .. })), "{second:?}");
    drop(dp);
    let tables = l.director.cmd(["nft", "list", "tables"]).unwrap();
    assert!(!tables.contains("baton_lvs"), "{tables}");
    drop(l.lab);
}

/// The DR lab: one segment; the real servers hold the virtual addresses on loopback and do
/// not answer ARP for them.
#[test]
fn direct_routing_replies_come_straight_from_the_real_servers() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = Lab::new("nft-dr").unwrap();
    let client = lab
        .add_host(
            HostSpec::new("client")
                .addr("10.3.0.2/24")
                .addr("fd03::2/64"),
        )
        .unwrap();
    let director = lab
        .add_host(
            HostSpec::new("director")
                .addr("10.3.0.1/24")
                .addr("10.3.0.100/32")
                .addr("fd03::1/64")
                .addr("fd03::100/128"),
        )
        .unwrap();
    let mut http = Vec::new();
    let mut macs = Vec::new();
    for i in 1..=2 {
        let h = lab
            .add_host(
                HostSpec::new(format!("rs{i}"))
                    .addr(format!("10.3.0.1{i}/24"))
                    .addr(format!("fd03::1{i}/64")),
            )
            .unwrap();
        h.sh(
            "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 && \
             ip addr add 10.3.0.100/32 dev lo && ip addr add fd03::100/128 dev lo",
        )
        .unwrap();
        macs.push(h.interface("eth0").unwrap().mac);
        http.push(Http::start(&h, &format!("rs{i}"), 80));
    }
    let director_mac = director.interface("eth0").unwrap().mac;
    let mut dp = open(&director);
    let dr = |vip: &str, a: &str, b: &str| {
        let mut vs = service(vip, vec![rs(a, 1), rs(b, 1)]);
        vs.forwarding = Forwarding::DirectRouting {
            interface: "eth0".into(),
        };
        vs
    };
    apply_ok(
        &mut dp,
        &table(vec![
            dr("10.3.0.100:80", "10.3.0.11:80", "10.3.0.12:80"),
            dr("[fd03::100]:80", "[fd03::11]:80", "[fd03::12]:80"),
        ]),
    );
    let cap = client.capture("eth0", "tcp src port 80").unwrap();
    let v4 = count(&client, None, "10.3.0.100:80".parse().unwrap(), 10);
    let v6 = count(&client, None, "[fd03::100]:80".parse().unwrap(), 10);
    let body = fetch(&client, None, "10.3.0.100:80".parse().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let pcap = cap.stop().unwrap();
    println!("DR rr: IPv4 {v4:?}, IPv6 {v6:?}; a server saw: {body:?}");
    assert_eq!(v4.values().copied().collect::<Vec<_>>(), [5, 5]);
    assert_eq!(v6.values().copied().collect::<Vec<_>>(), [5, 5]);
    // No NAT: the real server sees the client's own address.
    assert!(body.ends_with("10.3.0.2"), "{body}");
    // Replies come from the real servers' MACs with the virtual address as source.
    let mut from = BTreeMap::new();
    for rec in &pcap.records {
        let Some((_, src, _, _)) = rec.ethernet() else {
            continue;
        };
        let Some(ip) = rec.ip() else { continue };
        assert!(
            ip.src == "10.3.0.100".parse::<IpAddr>().unwrap()
                || ip.src == "fd03::100".parse::<IpAddr>().unwrap(),
            "reply from {}",
            ip.src
        );
        assert_ne!(src, director_mac, "a reply came through the director");
        assert!(macs.contains(&src), "reply from unknown MAC {src}");
        *from.entry(src.to_string()).or_insert(0) += 1;
    }
    println!("reply frames by source MAC: {from:?} (director {director_mac})");
    assert_eq!(from.len(), 2);
    let rules = ruleset(&director);
    assert!(rules.contains("table netdev baton_lvs"), "{rules}");
    assert!(rules.contains("fwd ip to 10.3.0.11 device iif"), "{rules}");
    assert!(rules.contains("fwd ip6 to fd03::12 device iif"), "{rules}");

    // Every real server leaves (their checkers failed), then the services go: each step is
    // one transaction the kernel takes, objects removed in the order they refer to each
    // other.
    let mut one = dr("10.3.0.100:80", "10.3.0.11:80", "10.3.0.12:80");
    one.real_servers.truncate(1);
    let mut one6 = dr("[fd03::100]:80", "[fd03::11]:80", "[fd03::12]:80");
    one6.real_servers.truncate(1);
    let full = dr("10.3.0.100:80", "10.3.0.11:80", "10.3.0.12:80");
    apply_ok(&mut dp, &table(vec![full.clone(), one6.clone()]));
    // A DR service removed while it has servers (whose chains write its connection map).
    apply_ok(&mut dp, &table(vec![full.clone()]));
    apply_ok(&mut dp, &table(vec![full.clone(), one6.clone()]));
    let mut empty6 = one6.clone();
    empty6.real_servers.clear();
    apply_ok(&mut dp, &table(vec![full, empty6]));
    apply_ok(&mut dp, &table(vec![one, one6]));
    let mut empty = dr("10.3.0.100:80", "10.3.0.11:80", "10.3.0.12:80");
    empty.real_servers.clear();
    let mut empty6 = dr("[fd03::100]:80", "[fd03::11]:80", "[fd03::12]:80");
    empty6.real_servers.clear();
    apply_ok(&mut dp, &table(vec![empty, empty6]));
    apply_ok(&mut dp, &table(vec![]));
    let rules = ruleset(&director);
    assert!(!rules.contains("vs_10_3_0_100"), "{rules}");
    drop(http);
}
