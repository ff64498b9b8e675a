//! `baton demo --lvs`: the seed's two directors, with VRRP, in front of the two backends
//! through LVS-NAT on nftables instead of nginx, in steps printed as they happen: the
//! requests spread over both backends; a backend is killed and its checker takes it out;
//! it comes back; the master director is killed and the VIP moves to the backup with its
//! load balancing.
//!
//! ```text
//!   client 192.168.5.100 ──┐        ┌── lb1 .11 ens33 │ eth1 10.5.0.11 ──┐
//!                        switch ────┤  VIP .10 (VI_1) │ gateway 10.5.0.1 (VI_2) ├── tomcat1 10.5.0.21:8080
//!                                   └── lb2 .12       │ eth1 10.5.0.12 ──┘── tomcat2 10.5.0.22:8080
//! ```
//!
//! LVS-NAT needs the replies back through the director: the backends sit on a segment of
//! their own behind it and route through a second VIP (VI_2), which moves with the first
//! (one sync group). With Debian's conntrackd installed, `lvs_sync_daemon` copies the
//! directors' connections too.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use baton_lab::{Host, HostSpec, Lab, Nic, Proc};

use crate::cleanup;

const VIP: &str = "192.168.5.10";
const GATEWAY: &str = "10.5.0.1";
const BACKENDS: [&str; 2] = ["10.5.0.21", "10.5.0.22"];

fn conf(name: &str, priority: u8, state: &str, sync: bool) -> String {
    let sync = if sync {
        " lvs_sync_daemon eth1 VI_2\n"
    } else {
        ""
    };
    let real: String = BACKENDS
        .iter()
        .map(|b| {
            format!(
                " real_server {b} 8080 {{\n  TCP_CHECK {{\n   connect_timeout 1\n   retry 0\n  }}\n }}\n"
            )
        })
        .collect();
    format!(
        "global_defs {{\n router_id {name}\n{sync}}}\n\
         vrrp_sync_group G {{\n group {{\n  VI_1\n  VI_2\n }}\n}}\n\
         vrrp_instance VI_1 {{\n state {state}\n interface ens33\n virtual_router_id 51\n priority {priority}\n advert_int 1\n\
         \x20authentication {{\n  auth_type PASS\n  auth_pass 1111\n }}\n virtual_ipaddress {{\n  {VIP}\n }}\n}}\n\
         vrrp_instance VI_2 {{\n state {state}\n interface eth1\n virtual_router_id 52\n priority {priority}\n advert_int 1\n\
         \x20virtual_ipaddress {{\n  {GATEWAY}/24\n }}\n}}\n\
         virtual_server {VIP} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n{real}}}\n"
    )
}

struct Director {
    host: Host,
    conf: std::path::PathBuf,
    pidfile: std::path::PathBuf,
    proc: Option<Proc>,
}

impl Director {
    fn start(&mut self, baton: &Path) -> Result<()> {
        let p = self.host.spawn(
            Command::new(baton)
                .args(["-n", "-l", "-f"])
                .arg(&self.conf)
                .arg("-p")
                .arg(&self.pidfile),
        )?;
        self.proc = Some(p);
        Ok(())
    }

    fn status(&self, baton: &Path, json: bool) -> Result<String> {
        let mut c = Command::new(baton);
        c.arg("status");
        if json {
            c.arg("--json");
        }
        let out = c.arg("-p").arg(&self.pidfile).output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn json(&self, baton: &Path) -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&self.status(baton, true)?)?)
    }

    fn log(&self) -> String {
        self.proc
            .as_ref()
            .and_then(|p| p.stderr().ok())
            .unwrap_or_default()
    }
}

fn add_host(spec: HostSpec) -> Result<Host> {
    cleanup::with_lab(|lab| lab.add_host(spec))
        .ok_or_else(|| anyhow!("the lab is gone"))?
        .map_err(Into::into)
}

/// One request on a fresh connection: which backend answered.
fn ask(client: &Host, vip: SocketAddr) -> Result<String> {
    use socket2::{Domain, Type};
    let sock = client.socket(Domain::IPV4, Type::STREAM, None)?;
    sock.connect_timeout(&vip.into(), Duration::from_millis(300))?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: demo\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let body = out
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_string();
    if body.is_empty() {
        bail!("an empty answer");
    }
    Ok(body)
}

fn tally(client: &Host, vip: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for _ in 0..n {
        let who = ask(client, vip).unwrap_or_else(|_| "failed".into());
        *t.entry(who).or_default() += 1;
    }
    t
}

fn wait(what: &str, within: Duration, mut done: impl FnMut() -> bool) -> Result<Duration> {
    let t = Instant::now();
    while !done() {
        if cleanup::stop_requested() {
            bail!("stopped");
        }
        if t.elapsed() > within {
            bail!("{what}: not within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(t.elapsed())
}

fn alive(d: &Director, baton: &Path, backend: &str) -> Option<bool> {
    let s = d.json(baton).ok()?;
    let vs = s["virtual_servers"].as_array()?.first()?.clone();
    let rs = vs["real_servers"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == format!("[{backend}]:tcp:8080"))?
        .clone();
    rs["alive"].as_bool()
}

fn state(d: &Director, baton: &Path) -> String {
    d.json(baton)
        .ok()
        .and_then(|s| s["instances"][0]["state"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Send a request every 10 ms until `until` says stop: the times (since `t0`) of the
/// failures and the answers per backend.
fn traffic(
    client: &Host,
    vip: SocketAddr,
    t0: Instant,
    mut until: impl FnMut() -> bool,
) -> (Vec<Duration>, BTreeMap<String, usize>) {
    let mut failures = Vec::new();
    let mut answers = BTreeMap::new();
    while !until() && !cleanup::stop_requested() {
        match ask(client, vip) {
            Ok(who) => *answers.entry(who).or_default() += 1,
            Err(_) => failures.push(t0.elapsed()),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (failures, answers)
}

/// Run the walk-through; whether every step behaved.
pub fn run(baton: &Path) -> Result<bool> {
    let lab = Lab::new("demo-lvs").context("creating the lab")?;
    let lab_id = lab.id().to_string();
    cleanup::keep_lab(lab);
    cleanup::with_lab(|l| l.add_segment("back")).ok_or_else(|| anyhow!("the lab is gone"))??;
    println!(
        "lab {lab_id}: client, lb1, lb2 on the seed's 192.168.5.0/24; tomcat1, tomcat2 behind them on 10.5.0.0/24"
    );
    let client = add_host(HostSpec::new("client").addr("192.168.5.100/24"))?;
    let sync = baton_lab::which("conntrackd").is_some();
    let me = std::env::current_exe()?;
    let mut directors = Vec::new();
    for (i, (prio, state)) in [(200u8, "MASTER"), (100, "BACKUP")].into_iter().enumerate() {
        let n = i + 1;
        let host = add_host(
            HostSpec::new(format!("lb{n}"))
                .ifname("ens33")
                .addr(format!("192.168.5.1{n}/24"))
                .nic(
                    Nic::new("eth1")
                        .segment("back")
                        .addr(format!("10.5.0.1{n}/24")),
                ),
        )?;
        host.sh("sysctl -qw net.ipv4.ip_forward=1")?;
        let conf = host.write_file(
            "keepalived.conf",
            conf(&format!("lb{n}"), prio, state, sync),
        )?;
        directors.push(Director {
            pidfile: host.path("baton.pid"),
            host,
            conf,
            proc: None,
        });
    }
    let mut backends = Vec::new();
    for (i, a) in BACKENDS.iter().enumerate() {
        let host = add_host(
            HostSpec::new(format!("tomcat{}", i + 1))
                .segment("back")
                .addr(format!("{a}/24")),
        )?;
        host.sh(&format!("ip route add default via {GATEWAY}"))?;
        backends.push(host);
    }
    let start_backend = |i: usize| -> Result<Proc> {
        backends[i]
            .spawn(
                Command::new(&me)
                    .args(["service", "backend", "--listen"])
                    .arg(format!("{}:8080", BACKENDS[i]))
                    .arg("--name")
                    .arg(format!("backend {}", i + 1)),
            )
            .map_err(Into::into)
    };
    let mut running = vec![start_backend(0)?, start_backend(1)?];
    println!(
        "directors: baton with VI_1 (the seed's VIP {VIP}) and VI_2 (the backends' gateway {GATEWAY}) in one sync group,\n  \
         and virtual_server {VIP} 80 (rr, NAT) over both backends, each checked by TCP_CHECK every second{}",
        if sync {
            "; lvs_sync_daemon eth1 VI_2 (conntrackd) copies connections between them"
        } else {
            " (conntrackd is not installed: no lvs_sync_daemon)"
        }
    );
    for d in &mut directors {
        d.start(baton)?;
    }
    let vip: SocketAddr = format!("{VIP}:80").parse()?;
    let mut ok = true;
    let mut step = |title: &str, good: bool, detail: String| {
        println!("\n{} {title}\n  {detail}", if good { "✔" } else { "✘" });
        ok &= good;
    };

    // 1. lb1 masters both VIPs and balances.
    let took = wait("lb1 to become MASTER", Duration::from_secs(10), || {
        state(&directors[0], baton) == "Master"
            && alive(&directors[0], baton, BACKENDS[1]) == Some(true)
    })?;
    let spread = tally(&client, vip, 40);
    let both = spread.get("backend 1").is_some_and(|n| *n > 0)
        && spread.get("backend 2").is_some_and(|n| *n > 0);
    step(
        "lb1 is MASTER and balances the VIP over both backends",
        both,
        format!("MASTER after {took:.1?}; 40 requests through {vip}: {spread:?}"),
    );
    if let Ok(table) = directors[0].status(baton, false) {
        for line in table
            .lines()
            .filter(|l| l.starts_with("VS ") || l.starts_with("  RS "))
        {
            println!("  lb1$ baton status: {line}");
        }
    }

    // 2. A backend dies: its checker takes it out.
    let t0 = Instant::now();
    running[1].kill()?;
    let (failures, answers) = traffic(&client, vip, t0, || {
        alive(&directors[0], baton, BACKENDS[1]) == Some(false)
    });
    let removed = t0.elapsed();
    let after = tally(&client, vip, 20);
    let only_one = after.get("backend 1") == Some(&20);
    let said = directors[0]
        .log()
        .lines()
        .find(|l| l.contains("Removing service [10.5.0.22]:tcp:8080"))
        .map(|l| l.split_once("  ").map_or(l, |(_, r)| r).trim().to_string())
        .unwrap_or_default();
    step(
        "tomcat2 killed: its checker fails and the director stops sending it requests",
        only_one,
        format!(
            "out of the table {removed:.1?} after the kill ({} requests failed meanwhile, last at {:.1?}; answered: {answers:?});\n  \
             then 20 requests: {after:?}\n  lb1 logged: {said}",
            failures.len(),
            failures.last().copied().unwrap_or_default()
        ),
    );

    // 3. It comes back.
    running[1] = start_backend(1)?;
    let back = wait("tomcat2 to return", Duration::from_secs(5), || {
        alive(&directors[0], baton, BACKENDS[1]) == Some(true)
    })?;
    let again = tally(&client, vip, 20);
    step(
        "tomcat2 restarted: it is checked back in",
        again.get("backend 2").is_some_and(|n| *n > 0),
        format!("back in the table after {back:.1?}; 20 requests: {again:?}"),
    );

    // 4. The master director dies: the VIPs move, and lb2 balances.
    let t0 = Instant::now();
    if let Some(p) = directors[0].proc.take() {
        p.kill()?;
    }
    let (failures, _) = traffic(&client, vip, t0, || state(&directors[1], baton) == "Master");
    let moved = t0.elapsed();
    let (more, _) = traffic(&client, vip, t0, || {
        t0.elapsed() > moved + Duration::from_millis(500)
    });
    let through_lb2 = tally(&client, vip, 40);
    let gap = failures
        .iter()
        .chain(&more)
        .max()
        .copied()
        .unwrap_or_default();
    step(
        "baton on lb1 killed: lb2 takes both VIPs and the load balancing with them",
        through_lb2.len() == 2 && !through_lb2.contains_key("failed"),
        format!(
            "lb2 MASTER {moved:.1?} after the kill (the seed's advert_int 1: 3 × 1 s + skew);\n  \
             requests failed until {gap:.1?}; then 40 requests through lb2: {through_lb2:?}"
        ),
    );
    if let Ok(table) = directors[1].status(baton, false) {
        for line in table
            .lines()
            .filter(|l| l.starts_with("VS ") || l.starts_with("lvs_sync"))
        {
            println!("  lb2$ baton status: {line}");
        }
    }
    for p in running {
        let _ = p.kill();
    }
    if let Some(p) = directors[1].proc.take() {
        let _ = p.kill();
    }
    println!(
        "\n{}",
        if ok {
            "every step behaved"
        } else {
            "some step did not behave"
        }
    );
    Ok(ok)
}
