//! Checker benchmarks (root; a lab with a load balancer and a real server running nginx):
//!
//! 1. Detection time at `delay_loop 1`: nginx is killed, how long until the checker's down
//!    verdict, for TCP_CHECK and HTTP_GET, with keepalived's default retries and with
//!    `retry 0`; median of several runs. keepalived's checker is started beside it on the
//!    same lab; where it cannot run, the reason is printed with its log line.
//! 2. CPU (utime + stime of this process) of 1,000 checkers at `delay_loop 1` over a
//!    window: TCP_CHECK, HTTP_GET, and TCP_CHECK against a server that drops every SYN
//!    (each probe waits out `connect_timeout`).
//!
//! `cargo run --release -p baton-check --example bench -- [RUNS] [WINDOW_SECS] [detect|cpu]`
//! (defaults 7, 30, both).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use baton_check::{CheckState, Checkers, Verdict};
use baton_conf::{Config, LoadOptions, RealHost};
use baton_lab::{Chain, Host, HostSpec, Lab, Signal, ms, wait_until};
use baton_track::TrackOptions;
use tokio::sync::mpsc;

const RS: &str = "10.0.9.21";
const NGINX: &str = "/usr/sbin/nginx";

fn main() -> Result<()> {
    if !baton_lab::require_root() {
        eprintln!("bench: needs root (network namespaces)");
        return Ok(());
    }
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(7);
    let window = Duration::from_secs(args.next().map(|a| a.parse()).transpose()?.unwrap_or(30));
    let only = args.next();
    let (detect, cpu) = match only.as_deref() {
        Some("detect") => (true, false),
        Some("cpu") => (false, true),
        _ => (true, true),
    };

    let lab = Lab::new("chk-bench")?;
    let lb = lab.add_host(HostSpec::new("lb").addr("10.0.9.1/24"))?;
    let rs = lab.add_host(HostSpec::new("rs").addr(format!("{RS}/24")))?;
    let nginx = start_nginx(&rs)?;

    if detect {
        detection_table(&lb, &rs, &nginx, runs)?;
    }
    if cpu {
        cpu_table(&lb, &rs, window)?;
    }
    Ok(())
}

fn detection_table(lb: &Host, rs: &Host, nginx: &std::path::Path, runs: usize) -> Result<()> {
    println!("## Detection: nginx killed → down verdict (delay_loop 1, median of {runs} runs)\n");
    println!("| checker | retry | delay_before_retry | median | min | max |");
    println!("|---|---|---|---|---|---|");
    for (name, block, retry, dbr) in [
        (
            "TCP_CHECK",
            "TCP_CHECK {\n connect_timeout 1\n}",
            "1 (default)",
            "1 s (default)",
        ),
        (
            "TCP_CHECK",
            "TCP_CHECK {\n connect_timeout 1\n retry 0\n}",
            "0",
            "-",
        ),
        (
            "HTTP_GET",
            "HTTP_GET {\n url {\n path /\n }\n connect_timeout 1\n}",
            "1 (default)",
            "3 s (default)",
        ),
        (
            "HTTP_GET",
            "HTTP_GET {\n url {\n path /\n }\n connect_timeout 1\n retry 0\n}",
            "0",
            "-",
        ),
    ] {
        let times = detection(lb, rs, nginx, block, runs)?;
        let (med, min, max) = stats(&times);
        println!("| {name} | {retry} | {dbr} | {med:.0} ms | {min:.0} ms | {max:.0} ms |");
    }
    println!();
    keepalived_beside(lb)
}

fn cpu_table(lb: &Host, rs: &Host, window: Duration) -> Result<()> {
    println!("\n## CPU of 1,000 checkers at delay_loop 1 over {window:?}\n");
    println!("| checkers | target | probes in window | CPU (utime+stime) | of one core |");
    println!("|---|---|---|---|---|");
    for (what, block, drop) in [
        (
            "1,000 TCP_CHECK",
            "TCP_CHECK {\n connect_timeout 1\n}",
            false,
        ),
        (
            "1,000 HTTP_GET",
            "HTTP_GET {\n url {\n path /\n }\n connect_timeout 1\n}",
            false,
        ),
        (
            "1,000 TCP_CHECK",
            "TCP_CHECK {\n connect_timeout 1\n}",
            true,
        ),
    ] {
        let fault = if drop {
            Some(rs.nft_drop(Chain::Input, "tcp dport 80")?)
        } else {
            None
        };
        let (cpu, probes) = cpu_of_many(lb, block, 1000, window)?;
        if let Some(f) = fault {
            f.remove()?;
        }
        let target = if drop {
            "nginx behind a SYN drop (hung)"
        } else {
            "nginx"
        };
        println!(
            "| {what} | {target} | {probes} | {:.2} s | {:.1} % |",
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / window.as_secs_f64()
        );
    }
    Ok(())
}

fn start_nginx(rs: &Host) -> Result<std::path::PathBuf> {
    let dir = rs.path("nginx");
    std::fs::create_dir_all(dir.join("www"))?;
    std::fs::write(dir.join("www/index.html"), "ok\n")?;
    let d = dir.display();
    let conf = format!(
        "user root; daemon on; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         worker_rlimit_nofile 8192;\n\
         events {{ worker_connections 4096; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{ listen {RS}:80 backlog=4096; root {d}/www; }} }}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    run_nginx(rs, &path)?;
    Ok(path)
}

fn run_nginx(rs: &Host, conf: &std::path::Path) -> Result<()> {
    rs.cmd([NGINX, "-c", &conf.to_string_lossy()])?;
    wait_until("nginx", Duration::from_secs(5), ms(10), || {
        rs.pidof("nginx").map(|p| p.len() >= 2)
    })?;
    Ok(())
}

fn load(text: &str) -> Result<Config> {
    let loaded = baton_conf::load_str("keepalived.conf", text, &LoadOptions::default(), &RealHost);
    if loaded.has_errors() {
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        bail!("configuration errors:\n{}", errors.join("\n"));
    }
    loaded.config.context("no usable configuration")
}

fn vs(addr: &str, block: &str) -> String {
    format!(
        "virtual_server {addr} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         real_server {RS} 80 {{\n{block}\n}}\n}}\n"
    )
}

struct Running {
    rt: tokio::runtime::Runtime,
    rx: mpsc::Receiver<Verdict>,
    checkers: Option<Checkers>,
}

impl Running {
    fn start(lb: &Host, config: &Config) -> Result<Running> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = mpsc::channel(65536);
        let options = TrackOptions::default();
        let checkers = lb.in_netns(|| Checkers::for_config(config, &options, tx))??;
        Ok(Running {
            rt,
            rx,
            checkers: Some(checkers),
        })
    }

    fn wait(&mut self, within: Duration, pred: impl Fn(&Verdict) -> bool) -> Result<Verdict> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let got = self
                .rt
                .block_on(async { tokio::time::timeout(left, self.rx.recv()).await });
            match got {
                Ok(Some(v)) if pred(&v) => return Ok(v),
                Ok(Some(_)) => continue,
                _ => bail!("no expected verdict within {within:?}"),
            }
        }
    }

    fn stop(mut self) {
        if let Some(c) = self.checkers.take() {
            self.rt.block_on(c.shutdown());
        }
    }
}

/// Kill nginx `runs` times at a random point of the checker's cycle; ms to the verdict.
fn detection(
    lb: &Host,
    rs: &Host,
    nginx: &std::path::Path,
    block: &str,
    runs: usize,
) -> Result<Vec<f64>> {
    let config = load(
        &vs("10.0.9.100", &format!("{block}\n"))
            .replace("delay_loop 1\n", "delay_loop 1\n warmup 0\n"),
    )?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let mut run = Running::start(lb, &config)?;
        run.wait(Duration::from_secs(5), |v| v.state.is_up())?;
        // Anywhere in the cycle.
        std::thread::sleep(Duration::from_millis(300 + fastrand::u64(0..1000)));
        let killed = Instant::now();
        rs.kill_all("nginx", Signal::SIGKILL)?;
        let down = run.wait(Duration::from_secs(15), |v| v.state == CheckState::Down)?;
        times.push(down.at.duration_since(killed).as_secs_f64() * 1000.0);
        run.stop();
        wait_until("nginx gone", Duration::from_secs(5), ms(10), || {
            rs.pidof("nginx").map(|p| p.is_empty())
        })?;
        run_nginx(rs, nginx)?;
    }
    Ok(times)
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    (s[s.len() / 2], s[0], s[s.len() - 1])
}

/// keepalived's checker process on the same lab, with the same TCP_CHECK.
fn keepalived_beside(lb: &Host) -> Result<()> {
    let conf = lb.write_file(
        "keepalived.conf",
        vs("10.0.9.100", "TCP_CHECK {\n connect_timeout 1\n}"),
    )?;
    let out = lb.run(
        Command::new("timeout")
            .args(["5", "keepalived", "-C", "-n", "-l", "-D", "-f"])
            .arg(&conf)
            .args(["-p", "/run/ka.pid", "-c", "/run/ka_check.pid"]),
    )?;
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let checks_ran = log.contains("TCP connection to");
    if checks_ran {
        println!("keepalived's checker ran its checks here; see the log for its timings.");
    } else {
        println!(
            "keepalived's checker (`keepalived -C`, Debian's 2.2.7) cannot run here; its log:\n"
        );
        for line in log.lines().filter(|l| {
            l.contains("IPVS")
                || l.contains("ipvs")
                || l.contains("exited")
                || l.contains("Healthcheck")
        }) {
            println!("    {line}");
        }
    }
    Ok(())
}

/// CPU this process spends running `n` checkers for `window` (after they have spread
/// over their warmup), and how many probes they made meanwhile.
fn cpu_of_many(lb: &Host, block: &str, n: usize, window: Duration) -> Result<(Duration, u64)> {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&vs(&format!("10.1.{}.{}", i / 250, 1 + i % 250), block));
    }
    let config = load(&text)?;
    let mut run = Running::start(lb, &config)?;
    // warmup defaults to delay_loop: every checker has started after a second or two.
    std::thread::sleep(Duration::from_secs(3));
    let probes = |run: &Running| -> u64 {
        run.checkers
            .as_ref()
            .map(|c| c.status().iter().map(|s| s.probes).sum())
            .unwrap_or(0)
    };
    // Drain verdicts so the channel never fills.
    let drain = |run: &mut Running| while run.rx.try_recv().is_ok() {};
    drain(&mut run);
    let p0 = probes(&run);
    let c0 = cpu_time();
    let end = Instant::now() + window;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        drain(&mut run);
    }
    let cpu = cpu_time() - c0;
    let p1 = probes(&run);
    run.stop();
    Ok((cpu, p1 - p0))
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
