//! The LVS half: baton's nftables NAT beside nginx as a reverse proxy on the same director
//! (requests/s and p99 through each), a real server's death to the last failed request
//! through the VIP, the checkers' detection times at `delay_loop 1`, keepalived's own
//! checker beside them where it can run, and the CPU of 1,000 checkers.
//!
//! The lab: a client (10.1.0.2) and the director (10.1.0.1, VIP 10.1.0.100) on `lan`; the
//! director (10.2.0.1) and two real servers running Debian's nginx-light (10.2.0.11-12,
//! routing through the director) on `back`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use baton_lab::{Host, Lab, Signal, ms, wait_until};

use crate::daemon::{Daemon, Kind};
use crate::load::{self, Mode};
use crate::procfs;
use crate::progress;
use crate::report::{Report, Row};
use crate::stats::{Sample, human};

const VIP: &str = "10.1.0.100";
const PROXY: &str = "10.1.0.1:8000";
/// The real servers (`baton_lab::nat`'s addressing).
const RS: [&str; 2] = ["10.2.0.11", "10.2.0.12"];
const SECTION: &str = "LVS";
/// Load clients, each one request at a time.
const CLIENTS: usize = 16;

/// How long each measurement runs.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub load: Duration,
    pub cpu: Duration,
    pub runs: usize,
}

struct LvsLab {
    lab: Lab,
    client: Host,
    director: Host,
    servers: Vec<Host>,
}

fn nginx_rs(h: &Host, name: &str) -> Result<()> {
    let d = h.path("nginx");
    std::fs::create_dir_all(&d)?;
    let d = d.display();
    let conf = format!(
        "daemon on; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         worker_rlimit_nofile 16384;\n\
         events {{ worker_connections 8192; }}\n\
         http {{ access_log off; keepalive_requests 1000000;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{ listen 8080 backlog=4096 reuseport; location / {{ return 200 \"{name}\\n\"; }} }} }}\n"
    );
    h.write_file("nginx/nginx.conf", conf)?;
    start_nginx(h)
}

fn start_nginx(h: &Host) -> Result<()> {
    let conf = h.path("nginx/nginx.conf");
    h.cmd(["/usr/sbin/nginx".as_ref(), "-c".as_ref(), conf.as_os_str()])
        .with_context(|| format!("starting nginx on {}", h.name()))?;
    wait_until(
        format!("nginx on {}", h.name()),
        Duration::from_secs(5),
        ms(5),
        || h.pidof("nginx").map(|p| p.len() >= 2),
    )?;
    Ok(())
}

/// SIGKILL every nginx process of `h`; the wall-clock and monotonic times just before the
/// first signal (the processes are found first, so the scan is not counted).
fn kill_nginx(h: &Host) -> Result<(SystemTime, Instant)> {
    let pids: Vec<u32> = h
        .processes()?
        .iter()
        .filter(|p| p.is_named("nginx") && p.state != 'Z')
        .map(|p| p.outer_pid)
        .collect();
    let at = (SystemTime::now(), Instant::now());
    for pid in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    wait_until("nginx gone", Duration::from_secs(5), ms(5), || {
        h.pidof("nginx").map(|p| p.is_empty())
    })?;
    Ok(at)
}

/// nginx on the director as the seed runs it: a reverse proxy to the same real servers,
/// keeping its upstream connections alive.
fn nginx_proxy(director: &Host) -> Result<()> {
    let d = director.path("proxy");
    std::fs::create_dir_all(&d)?;
    let d = d.display();
    let conf = format!(
        "daemon on; worker_processes auto; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         worker_rlimit_nofile 16384;\n\
         events {{ worker_connections 8192; }}\n\
         http {{ access_log off; keepalive_requests 1000000;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         upstream rs {{ server {}:8080; server {}:8080; keepalive 64; keepalive_requests 1000000; }}\n\
         server {{ listen {PROXY} backlog=4096; location / {{ proxy_pass http://rs;\n\
         proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }} }}\n",
        RS[0], RS[1]
    );
    director.write_file("proxy/nginx.conf", conf)?;
    let conf = director.path("proxy/nginx.conf");
    director.cmd(["/usr/sbin/nginx".as_ref(), "-c".as_ref(), conf.as_os_str()])?;
    Ok(())
}

impl LvsLab {
    fn new() -> Result<LvsLab> {
        let lab = Lab::new("bench-lvs")?;
        let hosts = baton_lab::nat::nat_hosts(&lab, &[&format!("{VIP}/32")], RS.len())?;
        let (client, director, servers) = (hosts.client, hosts.director, hosts.servers);
        // Many short connections: let the client reuse its ports as fast as it may.
        client
            .sh("sysctl -qw net.ipv4.ip_local_port_range='1024 65000' net.ipv4.tcp_tw_reuse=1")?;
        for (i, h) in servers.iter().enumerate() {
            nginx_rs(h, &format!("rs{}", i + 1))?;
        }
        Ok(LvsLab {
            lab,
            client,
            director,
            servers,
        })
    }
}

fn vs(port: u16, check: &str) -> String {
    let real: String = RS
        .iter()
        .map(|a| format!(" real_server {a} 8080 {{\n  {check}\n }}\n"))
        .collect();
    format!(
        "virtual_server {VIP} {port} {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n{real}}}\n"
    )
}

/// Wait until every real server of every virtual server is alive and programmed.
fn wait_serving(d: &Daemon, within: Duration) -> Result<()> {
    let t = Instant::now();
    loop {
        // The control socket comes up a moment after the process.
        let s = match d.status() {
            Ok(s) => s,
            Err(e) if t.elapsed() < within => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(e),
        };
        let vss = s["virtual_servers"].as_array().cloned().unwrap_or_default();
        let serving = !vss.is_empty()
            && vss.iter().all(|v| {
                v["programmed"] == true
                    && v["real_servers"].as_array().is_some_and(|a| {
                        a.iter().all(|r| {
                            r["alive"] == true
                                && r["checkers"]
                                    .as_array()
                                    .is_some_and(|c| c.iter().all(|c| c["state"] == "up"))
                        })
                    })
            });
        if serving {
            return Ok(());
        }
        if t.elapsed() > within {
            bail!(
                "baton's virtual servers not all serving after {within:?}:\n{}",
                d.log()?
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run(baton: &Path, w: Windows, report: &mut Report) -> Result<()> {
    progress("LVS: building the lab (client, director, two nginx real servers)");
    let l = LvsLab::new()?;
    throughput(&l, baton, w, report)?;
    deaths(&l, baton, w, report)?;
    cpu_of_checkers(&l, baton, w, report)?;
    l.lab.teardown()?;
    Ok(())
}

fn throughput(l: &LvsLab, baton: &Path, w: Windows, report: &mut Report) -> Result<()> {
    let d = Daemon::start(
        Kind::Baton,
        baton,
        &l.director,
        "lvs-load",
        &vs(80, "TCP_CHECK {\n connect_timeout 1\n }"),
    )?;
    wait_serving(&d, Duration::from_secs(10))?;
    nginx_proxy(&l.director)?;
    let vip: SocketAddr = format!("{VIP}:80").parse()?;
    let proxy: SocketAddr = PROXY.parse()?;
    for mode in [Mode::KeepAlive, Mode::NewConnection] {
        // A short warm-up of each path, then the measured windows, NAT first.
        load::run(&l.client, vip, CLIENTS, mode, Duration::from_millis(500))?;
        load::run(&l.client, proxy, CLIENTS, mode, Duration::from_millis(500))?;
        progress(&format!(
            "LVS: {CLIENTS} clients, {}, {:?} each",
            mode.describe(),
            w.load
        ));
        let nat = load::run(&l.client, vip, CLIENTS, mode, w.load)?;
        let px = load::run(&l.client, proxy, CLIENTS, mode, w.load)?;
        let ratio = nat.per_second() / px.per_second().max(1e-9);
        let (p99n, p99p) = (nat.percentile(0.99), px.percentile(0.99));
        let p99 = |p: Option<Duration>| p.map_or("–".into(), human);
        let met = ratio >= 2.0 && p99n.zip(p99p).is_some_and(|(a, b)| a <= b);
        let figure = format!(
            "{ratio:.2}× nginx's requests/s; p99 {} vs {}",
            p99(p99n),
            p99(p99p)
        );
        report.rows.push(Row {
            section: SECTION,
            measure: format!(
                "requests/s through the VIP, {CLIENTS} clients, {}: baton's nftables NAT | nginx reverse proxy on the same director",
                mode.describe()
            ),
            bound: "≥ 2× nginx's requests/s, p99 no worse".into(),
            baton: format!(
                "{:.0}/s, p50 {}, p99 {} ({} errors)",
                nat.per_second(),
                p99(nat.percentile(0.5)),
                p99(p99n),
                nat.errors
            ),
            keepalived: format!(
                "nginx proxy: {:.0}/s, p50 {}, p99 {} ({} errors)",
                px.per_second(),
                p99(px.percentile(0.5)),
                p99(p99p),
                px.errors
            ),
            target: if met {
                format!("met ({figure})")
            } else {
                format!("not met ({figure})")
            },
        });
    }
    l.director.sh(&format!(
        "kill $(cat {}) 2>/dev/null || true",
        l.director.path("proxy/nginx.pid").display()
    ))?;
    d.stop()?;
    Ok(())
}

/// The checkers each virtual server of the death runs uses, with one check cycle:
/// delay_loop + connect_timeout × (retry + 1) + delay_before_retry × retry.
const CHECKS: [(&str, &str, Duration); 4] = [
    (
        "TCP_CHECK, retry 1, delay_before_retry 1 (defaults)",
        "TCP_CHECK {\n connect_timeout 1\n }",
        Duration::from_secs(1 + 2 + 1),
    ),
    (
        "TCP_CHECK, retry 0",
        "TCP_CHECK {\n connect_timeout 1\n retry 0\n }",
        Duration::from_secs(1 + 1),
    ),
    (
        "HTTP_GET, retry 1, delay_before_retry 3 (defaults)",
        "HTTP_GET {\n url {\n path /\n }\n connect_timeout 1\n }",
        Duration::from_secs(1 + 2 + 3),
    ),
    (
        "HTTP_GET, retry 0",
        "HTTP_GET {\n url {\n path /\n }\n connect_timeout 1\n retry 0\n }",
        Duration::from_secs(1 + 1),
    ),
];

const SLACK: Duration = Duration::from_millis(50);

/// rs2's nginx killed at a random point of the cycle, `runs` times: when each checker's
/// failure is logged, and when the last request through :80 (the first checker's service)
/// failed.
fn deaths(l: &LvsLab, baton: &Path, w: Windows, report: &mut Report) -> Result<()> {
    let conf: String = CHECKS
        .iter()
        .enumerate()
        .map(|(i, (_, block, _))| vs(80 + i as u16, block))
        .collect();
    let d = Daemon::start(Kind::Baton, baton, &l.director, "lvs-death", &conf)?;
    let mut detect: Vec<Sample> = vec![Sample::default(); CHECKS.len()];
    let mut last_failure = Sample::default();
    let dead = format!("[{}]:tcp:8080", RS[1]);
    for run in 0..w.runs {
        progress(&format!("LVS: real server death {}/{}", run + 1, w.runs));
        wait_serving(&d, Duration::from_secs(15))?;
        std::thread::sleep(Duration::from_millis(200 + fastrand_ms(1000)));
        let prober = Prober::start(&l.client, format!("{VIP}:80").parse()?);
        std::thread::sleep(Duration::from_millis(100));
        // Every checker still passes right before the kill (a probe that timed out on a
        // loaded machine would have taken rs2 out already), and only what is logged from
        // here on counts.
        wait_serving(&d, Duration::from_secs(15))?;
        let log_before = d.log()?.len();
        let (killed, killed_at) = kill_nginx(&l.servers[1])?;
        let mut seen = vec![None; CHECKS.len()];
        let longest = CHECKS.iter().map(|c| c.2).max().unwrap_or_default() + Duration::from_secs(3);
        while killed_at.elapsed() < longest && seen.iter().any(Option::is_none) {
            let log = d.log()?;
            let new = log.get(log_before..).unwrap_or("");
            for (i, s) in seen.iter_mut().enumerate() {
                let port = 80 + i;
                if s.is_none()
                    && new.contains(&format!(
                        "Removing service {dead} from VS [{VIP}]:tcp:{port}"
                    ))
                {
                    *s = Some(killed_at.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // The prober goes on past the longest cycle on :80, so a late failure is seen.
        let until = killed_at + CHECKS[0].2 + Duration::from_millis(500);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        let failures = prober.stop();
        for (i, s) in seen.iter().enumerate() {
            match s {
                Some(t) => detect[i].push(*t),
                None => report.notes.push(format!(
                    "LVS run {}: {} never failed within {longest:?}",
                    run + 1,
                    CHECKS[i].0
                )),
            }
        }
        if let Some(last) = failures
            .iter()
            .filter_map(|t| t.duration_since(killed).ok())
            .max()
        {
            last_failure.push(last);
        }
        start_nginx(&l.servers[1])?;
    }
    let within = |s: &Sample, bound: Duration| s.max().map(|m| m <= bound + SLACK);
    let ka = keepalived_checker(l, &conf, report)?;
    let cycle0 = CHECKS[0].2;
    let met = within(&last_failure, cycle0);
    report.rows.push(Row {
        section: SECTION,
        measure: format!(
            "real server's nginx killed → last failed request through the VIP ({}, delay_loop 1, connect_timeout 1)",
            CHECKS[0].0
        ),
        bound: format!("one check cycle ({}) + 50 ms", human(cycle0)),
        baton: last_failure.describe(),
        keepalived: ka.clone(),
        target: verdict(met, &format!("every run ≤ {}", human(cycle0 + SLACK)), &last_failure),
    });
    for (i, (what, _, cycle)) in CHECKS.iter().enumerate() {
        report.rows.push(Row {
            section: SECTION,
            measure: format!(
                "detection: nginx killed → {what} fails (delay_loop 1, connect_timeout 1)"
            ),
            bound: format!("one check cycle ({}) + 50 ms", human(*cycle)),
            baton: detect[i].describe(),
            keepalived: ka.clone(),
            target: verdict(
                within(&detect[i], *cycle),
                &format!("every run ≤ {}", human(*cycle + SLACK)),
                &detect[i],
            ),
        });
    }
    d.stop()?;
    Ok(())
}

fn verdict(met: Option<bool>, what: &str, s: &Sample) -> String {
    match met {
        Some(true) => format!("met ({what})"),
        Some(false) => format!(
            "not met ({what}; slowest {})",
            s.max().map_or("–".into(), human)
        ),
        None => format!("– ({what}: no data)"),
    }
}

fn fastrand_ms(max: u64) -> u64 {
    // Spread over the cycle without a random-number crate: the clock's nanoseconds.
    let n = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(n) % max.max(1)
}

/// keepalived's checker process (`keepalived -C`, Debian's 2.2.7) on the same
/// configuration: what it does here, in a few words for the table (its log lines in the
/// notes).
fn keepalived_checker(l: &LvsLab, conf: &str, report: &mut Report) -> Result<String> {
    let path = l.director.write_file("ka-checker.conf", conf)?;
    let out = l.director.run(
        std::process::Command::new("timeout")
            .args(["5", "keepalived", "-C", "-n", "-l", "-D", "-f"])
            .arg(&path)
            .arg("-p")
            .arg(l.director.path("ka.pid"))
            .arg("-c")
            .arg(l.director.path("ka_checkers.pid")),
    )?;
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if log.contains("TCP connection to") || log.contains("HTTP status code success") {
        report
            .notes
            .push("keepalived's checker (`keepalived -C`) ran its checks here".into());
        return Ok("ran (timings not taken)".into());
    }
    let why: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("IPVS") || l.contains("ipvs") || l.contains("FATAL"))
        .map(|l| l.split_once(": ").map_or(l, |(_, rest)| rest).trim())
        .collect();
    report.notes.push(format!(
        "keepalived's checker (`keepalived -C`, Debian's 2.2.7) cannot run without IPVS, which this kernel lacks; it says: {}",
        why.join(" / ")
    ));
    Ok("cannot run here (needs IPVS; see notes)".into())
}

/// A prober on the client: a fresh connection to `target` every 2 ms; the times requests
/// failed.
struct Prober {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<SystemTime>>,
}

impl Prober {
    fn start(client: &Host, target: SocketAddr) -> Prober {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let client = client.clone();
        let thread = std::thread::spawn(move || {
            client
                .in_netns(move || {
                    let mut failures = Vec::new();
                    while !s.load(Ordering::Relaxed) {
                        if probe(target).is_err() {
                            failures.push(SystemTime::now());
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    failures
                })
                .unwrap_or_default()
        });
        Prober { stop, thread }
    }

    fn stop(self) -> Vec<SystemTime> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn probe(target: SocketAddr) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&target, Duration::from_millis(200))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    if buf.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::ErrorKind::InvalidData.into())
    }
}

/// 1,000 virtual servers with one checker each at delay_loop 1 against rs1: the daemon's
/// whole CPU (every thread: the event loop, the checkers' thread, the data plane's) over the
/// window, and the probes made meanwhile.
fn cpu_of_checkers(l: &LvsLab, baton: &Path, w: Windows, report: &mut Report) -> Result<()> {
    const N: usize = 1000;
    for (what, block, hung) in [
        ("TCP_CHECK", "TCP_CHECK {\n connect_timeout 1\n }", false),
        (
            "HTTP_GET",
            "HTTP_GET {\n url {\n path /\n }\n connect_timeout 1\n }",
            false,
        ),
        ("TCP_CHECK", "TCP_CHECK {\n connect_timeout 1\n }", true),
    ] {
        progress(&format!(
            "LVS: CPU of {N} {what} at delay_loop 1 over {:?}",
            w.cpu
        ));
        let conf: String = (0..N)
            .map(|i| {
                format!(
                    "virtual_server 10.5.{}.{} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
                     \x20real_server {} 8080 {{\n  {block}\n }}\n}}\n",
                    i / 250,
                    1 + i % 250,
                    RS[0]
                )
            })
            .collect();
        let started = Instant::now();
        let d = Daemon::start(Kind::Baton, baton, &l.director, "lvs-cpu", &conf)?;
        wait_serving(&d, Duration::from_secs(60))?;
        let ready = started.elapsed();
        // A hung server: every SYN dropped, so each probe waits out connect_timeout.
        let fault = if hung {
            let f = l.servers[0].nft_drop(baton_lab::Chain::Input, "tcp dport 8080")?;
            // Every checker has failed (one cycle: 1 + 1 × 2 + 1 s) and the table has
            // settled before the window opens.
            std::thread::sleep(Duration::from_secs(6));
            Some(f)
        } else {
            None
        };
        let probes = |d: &Daemon| -> Result<u64> {
            let s = d.status()?;
            Ok(s["virtual_servers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .flat_map(|v| v["real_servers"].as_array().cloned().unwrap_or_default())
                        .flat_map(|r| r["checkers"].as_array().cloned().unwrap_or_default())
                        .filter_map(|c| c["probes"].as_u64())
                        .sum()
                })
                .unwrap_or(0))
        };
        let pid = d.proc.pid();
        let (p0, c0) = (probes(&d)?, procfs::cpu_time(pid)?);
        std::thread::sleep(w.cpu);
        let (c1, p1) = (procfs::cpu_time(pid)?, probes(&d)?);
        let cpu = c1.saturating_sub(c0);
        if let Some(f) = fault {
            f.remove()?;
        }
        let share = 100.0 * cpu.as_secs_f64() / w.cpu.as_secs_f64();
        report.rows.push(Row {
            section: SECTION,
            measure: format!(
                "CPU of {N} {what} at delay_loop 1 against {} (the whole baton process, {N} virtual servers in nftables)",
                if hung { "nginx behind a SYN drop (hung)" } else { "nginx" }
            ),
            bound: "bounded, measured".into(),
            baton: format!(
                "{share:.1} % of one core ({} probes in {:?}; serving {:.1} s after start)",
                p1.saturating_sub(p0),
                w.cpu,
                ready.as_secs_f64()
            ),
            keepalived: "cannot run here (its checker needs IPVS)".into(),
            target: "– (no figure set)".into(),
        });
        d.stop()?;
    }
    if !l.director.pidof("baton")?.is_empty() {
        bail!("a baton outlived its stop on the director");
    }
    Ok(())
}
