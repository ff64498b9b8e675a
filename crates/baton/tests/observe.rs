//! The operator's views of the seed's pair on the real kernel: both batons run with
//! `--metrics`, nginx runs on both load balancers and is tracked (`vrrp_track_process`,
//! weight -150, so lb1 at 200 falls to 50 below lb2's 100 when its nginx dies), and:
//!
//! - Debian's Prometheus, in a host of its own on the segment, scrapes both every 250 ms;
//!   the test asks Prometheus's HTTP API and sees `keepalived_vrrp_state` go from 2 to 1 on
//!   lb1 and from 1 to 2 on lb2 when lb1's nginx is killed, and the transition counters move.
//! - Debian's Chromium, headless in the client host, loads the status page of each node
//!   before and after, reads the states from the DOM and keeps screenshots under
//!   `target/tmp/status-page/`.
//! - keepalived's dump signals write their files into the daemon's `$TMPDIR`.
//!
//! Root only; Prometheus and Chromium come from scripts/test's package list.
#![allow(clippy::unwrap_used)]

mod common;

#[allow(dead_code)] // shared with the health tests, which use the rest
mod health {
    pub mod nginx;
    pub mod pair;
}

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use baton_lab::{Host, HostSpec, Signal};
use serde_json::Value;

use common::*;
use health::pair::{NginxPair, with_tracker};

/// The port both batons serve metrics on.
const PORT: u16 = 9165;
/// Prometheus's host on the seed's segment.
const PROM: &str = "192.168.5.30";

/// The seed's configuration with nginx tracked (weight -150) and a script that always
/// succeeds (so the script series have a value).
fn tracked(seed: &str, host: &Host) -> String {
    let script = health::pair::write_script(host, "alive.sh", "#!/bin/sh\nexit 0\n");
    with_tracker(
        seed,
        &format!(
            "vrrp_track_process chk_nginx {{\n    process nginx\n    weight -150\n}}\n\
             vrrp_script chk_alive {{\n    script \"{}\"\n    interval 1\n}}",
            script.display()
        ),
        "track_process {\n    chk_nginx\n}\ntrack_script {\n    chk_alive\n}",
    )
}

fn own_address(host: &Host) -> &'static str {
    if host.name() == "lb1" { LB1 } else { LB2 }
}

/// Start baton with `--metrics` on the host's own address, and `TMPDIR` in its directory.
fn start_observed(host: &Host, conf: &str) -> Baton {
    let listen = format!("{}:{PORT}", own_address(host));
    let tmp = host.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    Baton::start_program_env(
        host,
        std::path::Path::new(BATON),
        conf,
        &["--metrics", &listen],
        &[("TMPDIR", &tmp)],
    )
}

/// GET `path` from `addr` inside `host`'s namespace; status and body.
fn http_get(host: &Host, addr: &str, path: &str) -> Result<(u16, String), String> {
    let addr = addr.to_string();
    let path = path.to_string();
    host.in_netns(move || {
        let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))
            .map_err(|e| format!("{addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or("no status")?;
        // Chunked bodies (Prometheus) are de-chunked crudely: sizes are hex lines.
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Ok((status, body))
    })
    .map_err(|e| e.to_string())?
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Percent-encode a PromQL query for a URL.
fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus's answer to an instant query: (labels, value) per series.
fn query(prom: &Host, q: &str) -> Vec<(Value, f64)> {
    let (status, body) = match http_get(
        prom,
        &format!("{PROM}:9090"),
        &format!("/api/v1/query?query={}", urlencode(q)),
    ) {
        Ok(r) => r,
        Err(_) => return Vec::new(),
    };
    if status != 200 {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["data"]["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let val = r["value"][1].as_str()?.parse().ok()?;
                    Some((r["metric"].clone(), val))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The single value of `q` for the target at `addr`, if Prometheus has one.
fn value_of(prom: &Host, q: &str, addr: &str) -> Option<f64> {
    let target = format!("{addr}:{PORT}");
    query(prom, q)
        .into_iter()
        .find(|(m, _)| m["instance"] == target.as_str())
        .map(|(_, v)| v)
}

fn wait_value(prom: &Host, q: &str, addr: &str, want: f64, timeout: Duration) -> Duration {
    let t = Instant::now();
    loop {
        let got = value_of(prom, q, addr);
        if got == Some(want) {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < timeout,
            "Prometheus: {q} for {addr} is {got:?} after {timeout:?}, expected {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Debian's Prometheus in a host of its own, scraping both load balancers.
fn start_prometheus(p: &NginxPair) -> (Host, baton_lab::Proc) {
    assert!(
        std::path::Path::new("/usr/bin/prometheus").exists(),
        "/usr/bin/prometheus is missing: install Debian's prometheus (scripts/test does)"
    );
    let prom = p
        .lab
        .add_host(
            HostSpec::new("prom")
                .ifname("eth0")
                .addr(format!("{PROM}/24")),
        )
        .unwrap();
    let conf = prom
        .write_file(
            "prometheus.yml",
            format!(
                "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n\
                 scrape_configs:\n  - job_name: baton\n    static_configs:\n      \
                 - targets: ['{LB1}:{PORT}', '{LB2}:{PORT}']\n"
            ),
        )
        .unwrap();
    let data = prom.path("tsdb");
    let proc = prom
        .spawn(
            Command::new("/usr/bin/prometheus")
                .arg(format!("--config.file={}", conf.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address={PROM}:9090")),
        )
        .unwrap();
    (prom, proc)
}

#[test]
fn prometheus_sees_the_state_flip_when_nginx_dies_on_the_master() {
    let Some(p) = NginxPair::start_with("obs-prom", tracked, start_observed) else {
        return;
    };
    // The listener answers before Prometheus is asked anything.
    let (code, body) = http_get(&p.client, &format!("{LB1}:{PORT}"), "/healthz").unwrap();
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let (prom, prom_proc) = start_prometheus(&p);
    let ready = Duration::from_secs(30);
    let state = "keepalived_vrrp_state{ip_address=\"192.168.5.10\"}";
    let waited = wait_value(&prom, state, LB1, 2.0, ready);
    wait_value(&prom, state, LB2, 1.0, ready);
    eprintln!("Prometheus had both targets' state {waited:?} after it started");
    for addr in [LB1, LB2] {
        assert_eq!(value_of(&prom, "up", addr), Some(1.0), "{addr} not up");
        assert_eq!(value_of(&prom, "keepalived_up", addr), Some(1.0));
        assert_eq!(
            value_of(&prom, "keepalived_script_status{name=\"chk_alive\"}", addr),
            Some(1.0)
        );
    }
    let became = "keepalived_become_master_total";
    let release = "keepalived_release_master_total";
    assert_eq!(value_of(&prom, became, LB1), Some(1.0));
    assert_eq!(value_of(&prom, release, LB1), Some(0.0));
    assert_eq!(value_of(&prom, became, LB2), Some(0.0));
    assert_eq!(
        value_of(&prom, "baton_vrrp_effective_priority", LB1),
        Some(200.0)
    );

    let killed = p.nginx1.kill();
    p.b2.wait_state("Master", Duration::from_secs(2));
    let bound = Duration::from_secs(5);
    let seen = wait_value(&prom, state, LB1, 1.0, bound);
    wait_value(&prom, state, LB2, 2.0, bound);
    eprintln!(
        "Prometheus saw lb1 BACKUP and lb2 MASTER {:?} after nginx died",
        killed.elapsed().min(seen + Duration::from_secs(1))
    );
    assert_eq!(value_of(&prom, became, LB2), Some(1.0));
    wait_value(&prom, release, LB1, 1.0, bound);
    assert_eq!(
        value_of(&prom, "baton_vrrp_effective_priority", LB1),
        Some(50.0)
    );
    assert_eq!(
        value_of(
            &prom,
            "baton_track_process_running{name=\"chk_nginx\"}",
            LB1
        ),
        Some(0.0)
    );
    // The takeover on lb2: from lb1's lower-priority advert to MASTER, fast handover.
    let takeover = value_of(&prom, "baton_vrrp_last_takeover_seconds", LB2).unwrap();
    assert!(takeover < 0.5, "lb2's takeover took {takeover} s");
    // The flip is in Prometheus's storage, in order: 2 then 1 on lb1, 1 then 2 on lb2.
    for (addr, before, after) in [(LB1, 2.0, 1.0), (LB2, 1.0, 2.0)] {
        let (_, body) = http_get(
            &prom,
            &format!("{PROM}:9090"),
            &format!(
                "/api/v1/query?query={}",
                urlencode(&format!(
                    "keepalived_vrrp_state{{instance=\"{addr}:{PORT}\",ip_address=\"192.168.5.10\"}}[2m]"
                ))
            ),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        let samples: Vec<f64> = v["data"]["result"][0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[1].as_str().unwrap().parse().unwrap())
            .collect();
        let flip = samples.windows(2).position(|w| w == [before, after]);
        assert!(
            flip.is_some(),
            "{addr}: no {before} → {after} in {samples:?}"
        );
        assert_eq!(
            samples
                .iter()
                .filter(|s| **s != before && **s != after)
                .count(),
            0
        );
    }
    prom_proc.kill().unwrap();
}

/// Where the screenshots are kept.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium in `host`: the DOM of `url` after its load, and a screenshot at `png`.
fn chromium(host: &Host, url: &str, png: &std::path::Path) -> String {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromium is missing: install Debian's chromium (scripts/test does)");
    let run = |what: &str| {
        let profile = tempfile::tempdir().unwrap();
        let out = host
            .run(
                Command::new(chromium)
                    .args([
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--hide-scrollbars",
                        "--window-size=1100,1000",
                    ])
                    .arg(format!("--user-data-dir={}", profile.path().display()))
                    .arg(what)
                    .arg(url),
            )
            .unwrap();
        assert!(
            out.status.success(),
            "chromium {what} {url}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&format!("--screenshot={}", png.display()));
    assert!(
        std::fs::metadata(png)
            .map(|m| m.len() > 1000)
            .unwrap_or(false),
        "no screenshot at {}",
        png.display()
    );
    run("--dump-dom")
}

/// The state the page shows for VI_1.
fn page_state(dom: &str) -> &str {
    let at = dom
        .find("id=\"instance-VI_1\" data-state=\"")
        .unwrap_or_else(|| panic!("no VI_1 on the page:\n{dom}"));
    let rest = &dom[at + "id=\"instance-VI_1\" data-state=\"".len()..];
    &rest[..rest.find('"').unwrap()]
}

#[test]
fn status_page_in_chromium_shows_master_and_backup_then_the_reverse() {
    let Some(p) = NginxPair::start_with("obs-page", tracked, start_observed) else {
        return;
    };
    let dir = artifacts();
    let url = |addr: &str| format!("http://{addr}:{PORT}/");
    let dom1 = chromium(&p.client, &url(LB1), &dir.join("lb1-master.png"));
    let dom2 = chromium(&p.client, &url(LB2), &dir.join("lb2-backup.png"));
    assert_eq!(page_state(&dom1), "MASTER");
    assert_eq!(page_state(&dom2), "BACKUP");
    assert!(
        dom1.contains("192.168.5.10 dev ens33 <b>held</b>"),
        "{dom1}"
    );
    assert!(dom2.contains("192.168.5.11 (priority 200)"), "{dom2}");

    p.nginx1.kill();
    p.b2.wait_state("Master", Duration::from_secs(2));
    p.b1.wait_state("Backup", Duration::from_secs(2));
    let dom1 = chromium(&p.client, &url(LB1), &dir.join("lb1-backup.png"));
    let dom2 = chromium(&p.client, &url(LB2), &dir.join("lb2-master.png"));
    assert_eq!(page_state(&dom1), "BACKUP");
    assert_eq!(page_state(&dom2), "MASTER");
    // The change, with its cause, is in lb2's history; lb1 shows its lowered priority.
    assert!(dom2.contains("BACKUP → MASTER"), "{dom2}");
    assert!(
        dom1.contains("50</span> effective, 200 configured"),
        "{dom1}"
    );
    assert!(dom1.contains("MASTER → BACKUP"), "{dom1}");
    eprintln!("screenshots in {}", dir.display());
}

#[test]
fn dump_signals_write_keepalived_files_into_tmpdir() {
    let Some(p) = NginxPair::start_with("obs-dump", tracked, start_observed) else {
        return;
    };
    let dir = p.lb1.path("tmp");
    for (sig, file, must) in [
        (
            Some(Signal::SIGUSR1),
            "keepalived.data",
            " VRRP Instance = VI_1\n",
        ),
        (
            Some(Signal::SIGUSR2),
            "keepalived.stats",
            "VRRP Instance: VI_1\n",
        ),
        // SIGRTMIN+2, keepalived's JSON signal, is not one nix names.
        (None, "keepalived.json", "\"iname\": \"VI_1\""),
    ] {
        let path = dir.join(file);
        match sig {
            Some(sig) => p.b1.signal(sig),
            None => {
                let pid = p.b1.proc.pid().to_string();
                let out = Command::new("kill")
                    .args(["-s", "RTMIN+2", &pid])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        baton_lab::wait_until(
            format!("{file} to be written"),
            Duration::from_secs(5),
            POLL,
            || {
                Ok::<_, std::io::Error>(
                    std::fs::read_to_string(&path).is_ok_and(|t| t.contains(must)),
                )
            },
        )
        .unwrap();
    }
    let data = std::fs::read_to_string(dir.join("keepalived.data")).unwrap();
    assert!(data.contains("   State = MASTER\n"), "{data}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("keepalived.json")).unwrap())
            .unwrap();
    assert_eq!(json[0]["data"]["state"], 2);
    // The daemon is still running and master.
    assert_eq!(p.b1.state(), "Master");
}
