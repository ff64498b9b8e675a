//! The virtual servers as operators watch them: the director's baton serves metrics on the
//! address `baton_metrics` names in `global_defs` (no flag), Debian's Prometheus scrapes it
//! from the client's namespace every 250 ms, and a real server killed and started again
//! is seen going down and coming back in Prometheus's answers: its state, its weight in the
//! table, its transitions and its checker's failures. The status page lists the virtual
//! server with its real servers. Then `--metrics` is shown to win over the keyword.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Baton;
use crate::lvs::lab::{VIP, addr, get, nat_lab, wait_all_alive};

/// Where the configuration's `baton_metrics` listens (the director's front).
const METRICS: &str = "10.1.0.1:9166";
/// Where `--metrics` asks for instead, in the last part.
const FLAG: &str = "10.1.0.1:9165";
/// Prometheus, in the client's namespace.
const PROM: &str = "10.1.0.2:9090";

const VS: &str = "[10.1.0.100]:tcp:80";
const RS2: &str = "[10.2.0.12]:tcp:8080";

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

/// The single value Prometheus has for `q`, if any.
fn value(client: &baton_lab::Host, q: &str) -> Option<f64> {
    let body = get(
        client,
        None,
        addr(PROM),
        &format!("/api/v1/query?query={}", urlencode(q)),
        Duration::from_secs(2),
    )
    .ok()?;
    let v: Value = serde_json::from_slice(&body).ok()?;
    let r = v["data"]["result"].as_array()?;
    if r.len() != 1 {
        return None;
    }
    r[0]["value"][1].as_str()?.parse().ok()
}

fn wait_value(client: &baton_lab::Host, q: &str, want: f64, within: Duration) -> Duration {
    let t = Instant::now();
    loop {
        let got = value(client, q);
        if got == Some(want) {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < within,
            "Prometheus: {q} is {got:?} after {within:?}, expected {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rs2(series: &str, extra: &str) -> String {
    format!("{series}{{virtual_server=\"{VS}\",real_server=\"{RS2}\"{extra}}}")
}

#[test]
fn prometheus_sees_a_real_server_go_down_and_come_back() {
    let Some(mut l) = nat_lab("lvs-metrics", 2) else {
        return;
    };
    assert!(
        std::path::Path::new("/usr/bin/prometheus").exists(),
        "/usr/bin/prometheus is missing: install Debian's prometheus (scripts/test does)"
    );
    let real = |i: usize| {
        format!(
            "  real_server 10.2.0.1{i} 8080 {{\n   weight 3\n   TCP_CHECK {{\n    \
             connect_timeout 1\n    retry 0\n   }}\n  }}\n"
        )
    };
    let conf = format!(
        "global_defs {{\n baton_metrics {METRICS}\n}}\n\
         virtual_server {VIP} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         \x20sorry_server 10.2.0.13 8080\n{}{}}}\n",
        real(1),
        real(2)
    );
    let b = Baton::start(&l.director, &conf);
    wait_all_alive(&b, Duration::from_secs(10));

    let prom_conf = l
        .client
        .write_file(
            "prometheus.yml",
            format!(
                "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n\
                 scrape_configs:\n  - job_name: baton\n    static_configs:\n      \
                 - targets: ['{METRICS}']\n"
            ),
        )
        .unwrap();
    let prom = l
        .client
        .spawn(
            Command::new("/usr/bin/prometheus")
                .arg(format!("--config.file={}", prom_conf.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    l.client.path("tsdb").display()
                ))
                .arg(format!("--web.listen-address={PROM}")),
        )
        .unwrap();
    let up = rs2("baton_lvs_real_server_up", "");
    let table = rs2("baton_lvs_real_server_weight", ",kind=\"table\"");
    let went_down = rs2("baton_lvs_real_server_transitions_total", ",to=\"down\"");
    let came_up = rs2("baton_lvs_real_server_transitions_total", ",to=\"up\"");
    let failures =
        format!("baton_lvs_checker_failures_total{{real_server=\"{RS2}\",checker=\"TCP_CHECK\"}}");
    let checker_up = format!("baton_lvs_checker_up{{real_server=\"{RS2}\"}}");
    let waited = wait_value(&l.client, &up, 1.0, Duration::from_secs(30));
    eprintln!("Prometheus had rs2 up {waited:?} after it started");
    assert_eq!(value(&l.client, &table), Some(3.0));
    assert_eq!(value(&l.client, &went_down), Some(0.0));
    assert_eq!(value(&l.client, &failures), Some(0.0));
    let quorum = format!("baton_lvs_virtual_server_quorum_up{{virtual_server=\"{VS}\"}}");
    assert_eq!(value(&l.client, &quorum), Some(1.0));
    assert_eq!(
        value(
            &l.client,
            &format!("baton_lvs_virtual_server_sorry_server_in_use{{virtual_server=\"{VS}\"}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&l.client, "baton_lvs_nft_up{table=\"baton_lvs\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&l.client, "baton_lvs_nft_apply_errors_total"),
        Some(0.0)
    );

    // rs2 dies: its checker fails within a cycle (delay_loop 1 + connect_timeout 1), and
    // Prometheus sees it a scrape later.
    let killed = Instant::now();
    l.servers[1].kill();
    let bound = Duration::from_secs(6);
    wait_value(&l.client, &up, 0.0, bound);
    eprintln!(
        "Prometheus saw rs2 down {:?} after it died",
        killed.elapsed()
    );
    wait_value(&l.client, &table, 0.0, bound);
    wait_value(&l.client, &went_down, 1.0, bound);
    wait_value(&l.client, &checker_up, 0.0, bound);
    let failed = value(&l.client, &failures).unwrap();
    assert!(failed >= 1.0, "checker failures {failed}");
    // The other stays: quorum (1) holds, no sorry server.
    assert_eq!(value(&l.client, &quorum), Some(1.0));
    assert_eq!(
        value(
            &l.client,
            "baton_lvs_real_server_up{real_server=\"[10.2.0.11]:tcp:8080\"}"
        ),
        Some(1.0)
    );
    // The status page shows the virtual server with rs2 down.
    let page = get(&l.client, None, addr(METRICS), "/", Duration::from_secs(2)).unwrap();
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains(&format!("id=\"vs-{VS}\"")), "{page}");
    assert!(
        page.contains(&format!("data-rs=\"{RS2}\" data-alive=\"false\"")),
        "{page}"
    );

    // rs2 comes back.
    let started = Instant::now();
    l.servers[1].start();
    wait_value(&l.client, &up, 1.0, bound);
    eprintln!(
        "Prometheus saw rs2 back {:?} after it started",
        started.elapsed()
    );
    wait_value(&l.client, &came_up, 1.0, bound);
    wait_value(&l.client, &table, 3.0, bound);
    wait_value(&l.client, &checker_up, 1.0, bound);
    let page = get(&l.client, None, addr(METRICS), "/", Duration::from_secs(2)).unwrap();
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains(&format!("data-rs=\"{RS2}\" data-alive=\"true\"")),
        "{page}"
    );
    prom.kill().unwrap();
    // SIGTERM: the daemon removes its tables and pid file before the next one starts.
    b.proc.signal(baton_lab::Signal::SIGTERM).unwrap();
    assert!(
        b.proc
            .wait_timeout(Duration::from_secs(5))
            .unwrap()
            .is_some(),
        "baton did not stop on SIGTERM"
    );

    // `--metrics` wins over the file's baton_metrics.
    let b = Baton::start_with(&l.director, &conf, &["--metrics", FLAG]);
    wait_all_alive(&b, Duration::from_secs(10));
    let flag: SocketAddr = addr(FLAG);
    let text = get(&l.client, None, flag, "/metrics", Duration::from_secs(2)).unwrap();
    assert!(
        String::from_utf8_lossy(&text).contains("baton_lvs_real_server_up"),
        "no LVS series on {FLAG}"
    );
    assert!(
        get(
            &l.client,
            None,
            addr(METRICS),
            "/metrics",
            Duration::from_secs(1)
        )
        .is_err(),
        "{METRICS} still listens though --metrics asked for {FLAG}"
    );
}
