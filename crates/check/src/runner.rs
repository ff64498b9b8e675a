//! One task per checker: wait out the warmup, probe, apply keepalived's retry rules, report,
//! sleep, again. The protocol engines (tcp, http, dns, ...) do one probe each; the rules
//! (retry, http::rules, misc) decide; this module only sequences them.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};

use baton_conf::{CheckKind, Checker, Connection, HttpCheck, MiscCheck};

use crate::env::Env;
use crate::http::{self, Target, UrlOutcome, rules::UrlStanding};
use crate::misc::MiscStanding;
use crate::net::pair;
use crate::retry::{self, ICMP_WORDS, Layer4Words, Standing, Step, TCP_WORDS, UDP_WORDS};
use crate::spec::{CheckerSpec, Ready, RegexCheck};
use crate::status::Reporter;
use crate::tls::TlsClient;
use crate::verdict::{CheckState, WeightEffect};
use crate::{dns, ping, smtp, tcp, udp};

/// How a checker starts: fresh, or carrying the standing of the checker it replaces on a
/// reload (keepalived migrates a checker's state when the new one compares equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seed {
    pub is_up: bool,
    pub has_run: bool,
}

fn standing(timing: &Checker, seed: Option<Seed>) -> Standing {
    let mut st = Standing::new(timing);
    if let Some(seed) = seed {
        st.is_up = seed.is_up;
        st.has_run = seed.has_run;
        if seed.has_run {
            st.retry_it = 0;
        }
    }
    st
}

/// Run `spec` until the task is aborted or nobody listens to verdicts.
pub(crate) async fn run(spec: CheckerSpec, env: Arc<Env>, rep: Reporter, seed: Option<Seed>) {
    let timing = &spec.checker;
    if let Ready::Refused(why) = &spec.ready {
        refuse(&rep, timing, why).await;
        return;
    }
    if !timing.warmup.is_zero() && seed.is_none() {
        let max = timing.warmup.as_micros().min(u128::from(u64::MAX)) as u64;
        sleep(Duration::from_micros(fastrand::u64(0..=max))).await;
    }
    if let CheckKind::Misc(misc) = &timing.kind {
        return misc_loop(misc, timing, &env, &rep, seed).await;
    }
    if matches!(timing.kind, CheckKind::File(_)) {
        // FILE_CHECKs share one watcher (see checkers.rs), never a task of their own.
        return;
    }
    let Some(conn) = timing.connection.as_ref() else {
        refuse(&rep, timing, "no address to connect to").await;
        return;
    };
    match &timing.kind {
        CheckKind::Tcp => {
            layer4(timing, TCP_WORDS, &rep, seed, |_| async move {
                match tcp::probe(conn).await {
                    tcp::TcpResult::Open => L4::Passed("connected".into()),
                    tcp::TcpResult::Failed(e) if e.is_server_failure() => {
                        let timeout = matches!(e, crate::net::ConnectError::Timeout(_));
                        L4::Failed {
                            quiet: if timeout {
                                "TCP connection to {rs} timeout."
                            } else {
                                "TCP connection to {rs} failed."
                            },
                            detail: e.to_string(),
                        }
                    }
                    tcp::TcpResult::Failed(e) => L4::Local(e.to_string()),
                }
            })
            .await
        }
        CheckKind::Udp(udp) => {
            layer4(timing, UDP_WORDS, &rep, seed, |_| async move {
                match udp::probe(conn, udp).await {
                    udp::UdpResult::Passed => L4::Passed("not refused".into()),
                    udp::UdpResult::Failed(detail) => L4::Failed {
                        quiet: "UDP connection to {rs} failed.",
                        detail,
                    },
                    udp::UdpResult::Mismatch(detail) => L4::Failed {
                        quiet: "UDP check to {rs} reply data mismatch.",
                        detail,
                    },
                    udp::UdpResult::Local(e) => L4::Local(e),
                }
            })
            .await
        }
        CheckKind::Ping => {
            layer4(timing, ICMP_WORDS, &rep, seed, |seq| async move {
                match ping::probe(conn, seq).await {
                    ping::PingResult::Answered(rtt, ping_socket) => L4::Passed(format!(
                        "echo reply in {rtt:?} ({} socket)",
                        if ping_socket { "ping" } else { "raw ICMP" }
                    )),
                    ping::PingResult::Failed(detail) => L4::Failed {
                        quiet: if detail.starts_with("no echo reply") {
                            "ICMP connection to address {rs} timeout."
                        } else {
                            "ICMP connection to {rs} of {vs} failed."
                        },
                        detail,
                    },
                    ping::PingResult::Local(e) => L4::Local(e),
                }
            })
            .await
        }
        CheckKind::Http(check) => {
            let Ready::Http { regexes, tls } = &spec.ready else {
                refuse(&rep, timing, "not prepared").await;
                return;
            };
            http_loop(conn, check, regexes, tls.as_deref(), timing, &rep, seed).await
        }
        CheckKind::Dns(dns) => {
            let name = match dns::encode_name(&dns.name) {
                Ok(n) => n,
                Err(e) => {
                    refuse(&rep, timing, &e.to_string()).await;
                    return;
                }
            };
            dns_loop(conn, dns.query_type.code(), &name, timing, &rep, seed).await
        }
        CheckKind::Smtp(smtp) => smtp_loop(conn, &smtp.helo_name, timing, &rep, seed).await,
        CheckKind::Misc(_) | CheckKind::File(_) => {}
    }
}

/// A checker that cannot run is removed, as keepalived removes it, with the reason.
async fn refuse(rep: &Reporter, checker: &Checker, why: &str) {
    let line = format!(
        "{} on service {}: {why} - removing",
        checker.kind.keyword(),
        rep.server
    );
    rep.verdict(CheckState::Removed, line, None).await;
}

/// One TCP, UDP or ICMP probe.
enum L4 {
    Passed(String),
    /// `quiet`: the line keepalived logs with `log_all_failures`.
    Failed {
        quiet: &'static str,
        detail: String,
    },
    Local(String),
}

async fn layer4<F, Fut>(
    timing: &Checker,
    words: Layer4Words,
    rep: &Reporter,
    seed: Option<Seed>,
    mut probe: F,
) where
    F: FnMut(u16) -> Fut,
    Fut: std::future::Future<Output = L4>,
{
    let mut st = standing(timing, seed);
    let mut seq: u16 = 0;
    loop {
        seq = seq.wrapping_add(1);
        let started = Instant::now();
        let (ok, detail) = match probe(seq).await {
            L4::Passed(d) => (true, d),
            L4::Failed { quiet, detail } => {
                if st.is_up && timing.log_all_failures {
                    rep.note(&rep.names().fill(quiet));
                }
                (false, detail)
            }
            L4::Local(e) => {
                rep.local_error(words_name(words), &e);
                sleep(timing.delay_loop).await;
                continue;
            }
        };
        rep.probed(ok, detail.clone(), started.elapsed());
        let step = retry::layer4(&mut st, timing, ok, words, rep.names());
        if !apply(rep, step.clone(), (!ok).then_some(detail.as_str())).await {
            return;
        }
        sleep(step.delay).await;
    }
}

fn words_name(words: Layer4Words) -> &'static str {
    if words.failed.starts_with("TCP") {
        "TCP_CHECK"
    } else if words.failed.starts_with("UDP") {
        "UDP_CHECK"
    } else {
        "PING_CHECK"
    }
}

/// Log a step's note and give its verdict. False when nobody listens any more.
async fn apply(rep: &Reporter, step: Step, cause: Option<&str>) -> bool {
    if let Some(note) = &step.note {
        rep.note(note);
    }
    match step.verdict {
        Some((true, line)) => {
            rep.verdict(CheckState::Up(WeightEffect::Configured), line, None)
                .await
        }
        Some((false, line)) => rep.verdict(CheckState::Down, line, cause).await,
        None => true,
    }
}

async fn http_loop(
    conn: &Connection,
    check: &HttpCheck,
    regexes: &[Option<RegexCheck>],
    tls: Option<&TlsClient>,
    timing: &Checker,
    rep: &Reporter,
    seed: Option<Seed>,
) {
    let target = Target { conn, check, tls };
    let probe = check;
    let keyword = if probe.tls { "SSL" } else { "HTTP" };
    let mut u = UrlStanding::new(timing, probe.urls.len());
    u.st = standing(timing, seed);
    let mut mismatch: Vec<Option<(u64, u64)>> = vec![None; probe.urls.len()];
    loop {
        let index = u.current().min(probe.urls.len().saturating_sub(1));
        let Some(url) = probe.urls.get(index) else {
            return;
        };
        let started = Instant::now();
        let regex = regexes.get(index).and_then(Option::as_ref);
        let (outcome, lengths) = http::probe(&target, url, regex).await;
        if let Some((expected, got)) = lengths
            && mismatch[index] != Some((expected, got))
        {
            rep.note(&format!(
                "http_check for RS {} VS {} url {}{}: content_length ({expected}) does not match received bytes ({got})",
                rep.server,
                rep.virtual_server,
                url.virtualhost.as_deref().unwrap_or(""),
                url.path
            ));
            mismatch[index] = Some((expected, got));
        } else if lengths.is_none() {
            mismatch[index] = None;
        }
        let (step, cause) = match outcome {
            UrlOutcome::Passed(what) => {
                rep.probed(true, format!("{} passed", url.path), started.elapsed());
                (
                    u.passed(timing, probe.fast_recovery, rep.names(), what, &url.path),
                    None,
                )
            }
            UrlOutcome::Failed(f) => {
                let detail = format!("{}: {}", url.path, f.detail);
                rep.probed(false, detail.clone(), started.elapsed());
                (
                    u.failed(timing, probe.fast_recovery, rep.names(), keyword, f.cause),
                    Some(format!("{} {}", f.cause.trim_end(), detail)),
                )
            }
            UrlOutcome::Local(e) => {
                rep.local_error(&format!("{keyword}_GET"), &e);
                sleep(timing.delay_loop).await;
                continue;
            }
        };
        if !apply(rep, step.clone(), cause.as_deref()).await {
            return;
        }
        sleep(step.delay).await;
    }
}

async fn misc_loop(
    probe: &MiscCheck,
    timing: &Checker,
    env: &Env,
    rep: &Reporter,
    seed: Option<Seed>,
) {
    let what = format!("MISC_CHECK for {} VS {}", rep.server, rep.virtual_server);
    let program = match env.policy.prepare(&what, &probe.command) {
        Ok(p) => p,
        Err(e) => {
            let line = format!("Disabling misc script {}: {e}", probe.command.text);
            rep.verdict(CheckState::Removed, line, None).await;
            return;
        }
    };
    let script = probe
        .command
        .argv
        .first()
        .cloned()
        .unwrap_or_else(|| probe.command.text.clone());
    let mut m = MiscStanding::new(timing);
    m.st = standing(timing, seed);
    loop {
        let started = Instant::now();
        let outcome = baton_track::run_once(&program, probe.timeout, env.kill_grace).await;
        rep.probed(outcome.is_success() || matches!(outcome, baton_track::ScriptOutcome::Failed(s) if probe.dynamic && (2..=255).contains(&s)), outcome.to_string(), started.elapsed());
        let step = m.result(timing, probe.dynamic, &outcome, rep.names(), &script);
        if let Some(note) = &step.note {
            rep.note(note);
        }
        if let Some((state, line)) = step.verdict
            && !rep.verdict(state, line, None).await
        {
            return;
        }
        // keepalived counts the interval from the start of the run, at least 1 µs on.
        let next = (started + step.delay).max(Instant::now() + Duration::from_micros(1));
        sleep_until(next).await;
    }
}

async fn dns_loop(
    conn: &Connection,
    qtype: u16,
    name: &[u8],
    timing: &Checker,
    rep: &Reporter,
    seed: Option<Seed>,
) {
    let mut st = standing(timing, seed);
    loop {
        let started = Instant::now();
        let error = match dns::probe(conn, qtype, name).await {
            dns::DnsResult::Answered => None,
            dns::DnsResult::Failed(e) => Some(e),
            dns::DnsResult::Local(e) => {
                rep.local_error("DNS_CHECK", &e);
                sleep(timing.delay_loop).await;
                continue;
            }
        };
        rep.probed(
            error.is_none(),
            error.clone().unwrap_or_else(|| "answered NOERROR".into()),
            started.elapsed(),
        );
        let step = retry::dns(
            &mut st,
            timing,
            error.as_deref(),
            timing.log_all_failures,
            rep.names(),
        );
        if !apply(rep, step.clone(), None).await {
            return;
        }
        sleep(step.delay).await;
    }
}

async fn smtp_loop(
    conn: &Connection,
    helo_name: &str,
    timing: &Checker,
    rep: &Reporter,
    seed: Option<Seed>,
) {
    let mut st = standing(timing, seed);
    // Each round starts with no failure counted (keepalived's smtp_start_check_thread);
    // retries within a round do not reset it.
    st.retry_it = 0;
    loop {
        if st.retry_it > timing.retry {
            st.retry_it = 0;
        }
        let started = Instant::now();
        let error = match smtp::probe(conn, helo_name, &rep.server).await {
            smtp::SmtpResult::Passed => None,
            smtp::SmtpResult::Failed(e) => Some(e),
            smtp::SmtpResult::Local(e) => {
                rep.local_error("SMTP_CHECK", &e);
                sleep(timing.delay_loop).await;
                continue;
            }
        };
        rep.probed(
            error.is_none(),
            error
                .clone()
                .unwrap_or_else(|| format!("HELO and QUIT answered by {}", pair(conn.dst))),
            started.elapsed(),
        );
        let step = retry::smtp(
            &mut st,
            timing,
            error.as_deref(),
            timing.log_all_failures,
            rep.names(),
        );
        if !apply(rep, step.clone(), None).await {
            return;
        }
        sleep(step.delay).await;
    }
}
