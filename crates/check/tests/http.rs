//! HTTP_GET and SSL_GET against nginx on a real server in a namespace: status codes,
//! digests, regexes, virtual hosts, HTTP/1.1, TLS with and without SNI; failure on the
//! right condition and recovery; keepalived's retry timing on the wire; and `genhash`
//! printing the same digest as Debian's keepalived `genhash` for the same pages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use baton_check::genhash::{GenhashArgs, genhash};
use baton_check::http::hex;
use baton_check::{CheckState, Verdict};
use baton_conf::HttpProtocol;
use common::servers::{Nginx, SNI_NAME};
use common::{RS, Run, gaps_ms, load, net, syns};
use md5::{Digest, Md5};

const PAGE: &[u8] = b"<html><body>service ready</body></html>\n";
const BROKEN: &[u8] = b"<html><body>maintenance</body></html>\n";

fn md5(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// One virtual server per case, all with the same real server, so each case's verdicts
/// carry their own virtual server number.
fn config() -> String {
    let page = md5(PAGE);
    let host = md5(b"host=www.example.test\n");
    let cases: Vec<(u16, String)> = vec![
        // 0: two urls, digest on the page.
        (
            80,
            format!(
                "HTTP_GET {{
                    url {{
                        path /page.html
                        digest {page}
                    }}
                    url {{
                        path /status.txt
                        status_code 200
                    }}
                    retry 1
                    delay_before_retry 0.3
                }}"
            ),
        ),
        // 1: a 500 where 2xx is expected.
        (
            80,
            "HTTP_GET {
                url {
                    path /fail
                }
                retry 0
            }"
            .into(),
        ),
        // 2: a 500 that is accepted, among a list and a range.
        (
            80,
            "HTTP_GET {
                url {
                    path /fail
                    status_code 200 404 500-503
                }
            }"
            .into(),
        ),
        // 3: regex that must match.
        (
            80,
            "HTTP_GET {
                url {
                    path /page.html
                    regex \"service r.ady\"
                }
                retry 0
            }"
            .into(),
        ),
        // 4: regex that must not match.
        (
            80,
            "HTTP_GET {
                url {
                    path /page.html
                    regex maintenance
                    regex_no_match
                }
                retry 0
            }"
            .into(),
        ),
        // 5: the Host header is the virtualhost.
        (
            80,
            format!(
                "HTTP_GET {{
                    url {{
                        path /host
                        digest {host}
                    }}
                    virtualhost www.example.test
                }}"
            ),
        ),
        // 6: HTTP/1.1 with Connection: close.
        (
            80,
            format!(
                "HTTP_GET {{
                    url {{
                        path /page.html
                        digest {page}
                    }}
                    http_protocol 1.1
                }}"
            ),
        ),
        // 7: TLS with the SNI name nginx wants.
        (
            443,
            format!(
                "SSL_GET {{
                    url {{
                        path /page.html
                        digest {page}
                    }}
                    sni_name {SNI_NAME}
                }}"
            ),
        ),
        // 8: TLS without SNI: nginx refuses the handshake.
        (
            443,
            "SSL_GET {
                url {
                    path /page.html
                }
                retry 0
            }"
            .into(),
        ),
    ];
    let mut text = String::new();
    for (i, (port, check)) in cases.iter().enumerate() {
        text.push_str(&format!(
            "virtual_server 10.0.9.{} {port} {{
                delay_loop 1
                warmup 0
                protocol TCP
                real_server {RS} {port} {{
                    {check}
                }}
            }}
            ",
            100 + i
        ));
    }
    text
}

fn case(v: &Verdict) -> u32 {
    v.checker.rs.vs.0
}

/// Wait until every case in `cases` has given `up` (true) or down (false).
fn settle(run: &mut Run, cases: &[(u32, bool)], within: Duration) -> Vec<Verdict> {
    let mut got = Vec::new();
    let mut left: Vec<(u32, bool)> = cases.to_vec();
    while !left.is_empty() {
        let v = run.wait_for(&format!("cases {left:?}"), within, |v| {
            left.iter()
                .any(|&(c, up)| c == case(v) && v.state.is_up() == up)
        });
        left.retain(|&(c, _)| c != case(&v));
        got.push(v);
    }
    got
}

#[test]
fn http_and_ssl_get_judge_pass_fail_and_recover() {
    let Some(n) = net("chk-http") else { return };
    let nginx = Nginx::install(&n.rs);
    nginx.page("page.html", PAGE);
    nginx.page("status.txt", b"ok\n");
    nginx.start();
    let mut run = Run::start(&n.lb, &load(&config()));

    let first = settle(
        &mut run,
        &[
            (0, true),
            (1, false),
            (2, true),
            (3, true),
            (4, true),
            (5, true),
            (6, true),
            (7, true),
            (8, false),
        ],
        Duration::from_secs(5),
    );
    let reason = |c: u32| {
        first
            .iter()
            .find(|v| case(v) == c)
            .map(|v| v.reason.clone())
            .unwrap()
    };
    assert_eq!(
        reason(0),
        "Remote Web server [10.0.9.21]:tcp:80 succeed on service."
    );
    assert!(
        reason(1).contains("status 500, expected 200-299"),
        "{}",
        reason(1)
    );
    assert!(
        reason(8).starts_with("SSL_CHECK on service [10.0.9.21]:tcp:443 failed.")
            && reason(8).contains("SSL handshake"),
        "{}",
        reason(8)
    );

    // The page changes: the digest, the regex and the no-match regex all fail.
    nginx.page("page.html", BROKEN);
    let down = settle(
        &mut run,
        &[(0, false), (3, false), (4, false), (6, false), (7, false)],
        Duration::from_secs(5),
    );
    for v in &down {
        assert_eq!(v.state, CheckState::Down);
        eprintln!("case {}: {}", case(v), v.reason);
    }
    let d0 = down.iter().find(|v| case(v) == 0).unwrap();
    assert!(
        d0.reason
            .starts_with("HTTP_CHECK on service [10.0.9.21]:tcp:80 failed after 1 retries.")
            && d0.reason.contains("MD5 digest error")
            && d0.reason.contains(&md5(BROKEN)),
        "{}",
        d0.reason
    );
    let d3 = down.iter().find(|v| case(v) == 3).unwrap();
    assert!(d3.reason.contains("does not match regex"), "{}", d3.reason);
    let d4 = down.iter().find(|v| case(v) == 4).unwrap();
    assert!(d4.reason.contains("matches regex"), "{}", d4.reason);
    // Back: the failing url passes, then both urls again one delay_loop apart, then up.
    nginx.page("page.html", PAGE);
    let up = settle(
        &mut run,
        &[(0, true), (3, true), (4, true), (6, true), (7, true)],
        Duration::from_secs(6),
    );
    assert!(up.iter().all(|v| v.state.is_up()));

    // nginx gone: everything fails, the reason says the connection was refused.
    nginx.kill();
    let gone = settle(
        &mut run,
        &[(0, false), (2, false), (5, false)],
        Duration::from_secs(6),
    );
    let g2 = gone.iter().find(|v| case(v) == 2).unwrap();
    assert!(g2.reason.contains("Connection failed"), "{}", g2.reason);
    run.stop();
}

/// Retry timing of HTTP_GET on the wire: one url, retry 2, delay_before_retry 0.4,
/// delay_loop 1. After the page breaks: the failing GET, two retries 0.4 s apart, then
/// the server is down and the url is probed every max(delay_loop, delay_before_retry).
#[test]
fn http_get_retries_delay_before_retry_apart() {
    let Some(n) = net("chk-http-retry") else {
        return;
    };
    let nginx = Nginx::install(&n.rs);
    nginx.page("page.html", PAGE);
    nginx.start();
    let conf = format!(
        "virtual_server 10.0.9.100 80 {{
            delay_loop 1
            protocol TCP
            real_server {RS} 80 {{
                HTTP_GET {{
                    url {{
                        path /page.html
                        digest {}
                    }}
                    retry 2
                    delay_before_retry 0.4
                    warmup 0
                }}
            }}
        }}",
        md5(PAGE)
    );
    let mut run = Run::start(&n.lb, &load(&conf));
    run.wait_up(Duration::from_secs(3));
    let capture = n.rs.capture("eth0", "tcp dst port 80").unwrap();
    let changed = SystemTime::now();
    nginx.page("page.html", BROKEN);
    let down = run.wait_down(Duration::from_secs(4));
    assert!(
        down.reason.contains("failed after 2 retries."),
        "{}",
        down.reason
    );
    std::thread::sleep(Duration::from_millis(2200));
    let pcap = capture.stop().unwrap();
    let times: Vec<SystemTime> = syns(&pcap, 80)
        .into_iter()
        .filter(|t| *t > changed)
        .collect();
    let gaps = gaps_ms(&times);
    eprintln!("GET gaps after the page broke: {gaps:?}");
    assert!(gaps.len() >= 4, "{gaps:?}");
    for g in &gaps[0..2] {
        assert!(
            (380..=550).contains(g),
            "retry gap {g} ms, want ~400: {gaps:?}"
        );
    }
    for g in &gaps[2..4] {
        assert!(
            (980..=1150).contains(g),
            "down gap {g} ms, want ~1000: {gaps:?}"
        );
    }
    run.stop();
}

fn args(port: u16, url: &str) -> GenhashArgs {
    GenhashArgs {
        use_ssl: false,
        use_sni: false,
        server: RS.parse().unwrap(),
        port,
        url: url.into(),
        virtualhost: None,
        verbose: false,
        fwmark: None,
        protocol: HttpProtocol::Http10,
        timeout: 5,
    }
}

/// Debian's keepalived `genhash` and baton's print the same digest for the same pages:
/// small and large, text and binary, over HTTP/1.0, 1.1 and TLS with SNI.
#[test]
fn genhash_matches_keepalived_genhash() {
    let Some(n) = net("chk-genhash") else { return };
    baton_lab::require_tool("genhash").unwrap();
    let nginx = Nginx::install(&n.rs);
    nginx.page("page.html", PAGE);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    nginx.page("big.bin", &big);
    nginx.page("empty.txt", b"");
    nginx.start();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases: Vec<(Vec<&str>, GenhashArgs)> = vec![
        (
            vec!["-s", RS, "-p", "80", "-u", "/page.html"],
            args(80, "/page.html"),
        ),
        (
            vec!["-s", RS, "-p", "80", "-u", "/big.bin"],
            args(80, "/big.bin"),
        ),
        (
            vec!["-s", RS, "-p", "80", "-u", "/empty.txt"],
            args(80, "/empty.txt"),
        ),
        (
            vec!["-s", RS, "-p", "80", "-u", "/missing"],
            args(80, "/missing"),
        ),
        (
            vec![
                "-s",
                RS,
                "-p",
                "80",
                "-u",
                "/host",
                "-V",
                "www.example.test",
                "-P",
                "1.1",
            ],
            GenhashArgs {
                virtualhost: Some("www.example.test".into()),
                protocol: HttpProtocol::Http11,
                ..args(80, "/host")
            },
        ),
        (
            vec![
                "-S", "-I", "-V", SNI_NAME, "-s", RS, "-p", "443", "-u", "/big.bin",
            ],
            GenhashArgs {
                use_ssl: true,
                use_sni: true,
                virtualhost: Some(SNI_NAME.into()),
                ..args(443, "/big.bin")
            },
        ),
    ];
    for (argv, ours) in cases {
        let theirs =
            n.lb.cmd(std::iter::once("genhash").chain(argv.iter().copied()))
                .unwrap();
        let theirs = theirs.trim().to_string();
        let got =
            n.lb.in_netns(|| runtime.block_on(genhash(&ours)))
                .unwrap()
                .unwrap();
        eprintln!(
            "genhash {}: keepalived {theirs}, baton {}",
            argv.join(" "),
            hex(&got.digest)
        );
        assert_eq!(hex(&got.digest), theirs, "genhash {}", argv.join(" "));
    }
    assert_eq!(
        hex(&runtime
            .block_on(async {
                let a = args(80, "/big.bin");
                n.lb.in_netns(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(genhash(&a))
                })
                .unwrap()
            })
            .unwrap()
            .digest),
        md5(&big),
        "a static page's digest is the MD5 of the file"
    );
}
