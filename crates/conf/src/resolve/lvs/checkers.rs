//! Checkers with every timing resolved (check_data.c validate_check_config): the
//! checker's own value, else its real server's, else its virtual server's, else the default
//! of its kind (check_api.c queue_checker, check_http.c, check_misc.c, check_dns.c).

use std::net::IpAddr;
use std::time::Duration;

use super::push;
use crate::diag::{Code, Diagnostic, Severity};
use crate::lvs::{
    CheckKind, Checker, CheckerId, Connection, FileCheck, HttpCheck, LvsGlobal, MiscCheck,
    RealServer, SmtpCheck, VirtualServer,
};
use crate::model::TrackFile;
use crate::parse::cx::Cx;
use crate::parse::lvs::RawTimings;
use crate::parse::lvs::checkers::{RawChecker, RawKind, destination};

/// SMTP_CHECK's HELO name when none is given.
const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

/// What checkers inherit.
pub(super) struct Inherit<'a> {
    pub vs: &'a VirtualServer,
    /// The virtual server's timings as written.
    pub timings: &'a RawTimings,
    pub global: &'a LvsGlobal,
    pub track_files: &'a [TrackFile],
}

fn is_link_local_v6(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

pub(super) fn resolve(
    cx: &mut Cx<'_>,
    ck: &Inherit<'_>,
    rs: &RealServer,
    raw: Vec<RawChecker>,
    who: &str,
) -> Vec<Checker> {
    let mut out = Vec::with_capacity(raw.len());
    for c in raw {
        if let Some(checker) = one(cx, ck, rs, c, who) {
            out.push(checker);
        }
    }
    out
}

fn one(
    cx: &mut Cx<'_>,
    ck: &Inherit<'_>,
    rs: &RealServer,
    c: RawChecker,
    who: &str,
) -> Option<Checker> {
    let vs = ck.vs;
    let len = c.keyword.len() as u32;
    let delay_loop = c.timings.delay_loop.unwrap_or(vs.delay_loop);
    let (default_retry, default_delay_before_retry) = match &c.kind {
        RawKind::Misc { .. } => (0, Duration::from_secs(1)),
        RawKind::Dns(_) => (3, delay_loop),
        RawKind::Http(_) => (1, Duration::from_secs(3)),
        _ => (1, Duration::from_secs(1)),
    };
    let connection = match &c.connection {
        None => None,
        Some(co) => {
            let dst = destination(co, rs.address);
            if is_link_local_v6(&dst.ip()) && co.bind_if.is_none() {
                push(
                    cx,
                    Code::CheckerInvalid,
                    &c.span,
                    len,
                    format!(
                        "{who}: {} to link-local {} needs bind_if; checker ignored",
                        c.keyword,
                        dst.ip()
                    ),
                );
                return None;
            }
            let mut bindto = co.bindto;
            if let Some(b) = bindto
                && b.is_ipv4() != dst.is_ipv4()
            {
                push(
                    cx,
                    Code::LvsFamilyMismatch,
                    &c.span,
                    len,
                    format!(
                        "{who}: {} bindto {b} is not of the family of its destination {}; bindto ignored",
                        c.keyword,
                        dst.ip()
                    ),
                );
                bindto = None;
            }
            if dst.port() == 0 && !matches!(c.kind, RawKind::Ping) {
                cx.diags.push(
                    Diagnostic::new(
                        Code::CheckerInvalid,
                        c.span.clone(),
                        format!(
                            "{who}: {} has no port to connect to (the real server has none; set connect_port): it will always fail",
                            c.keyword
                        ),
                    )
                    .with_len(len)
                    .with_severity(Severity::Warning),
                );
            }
            Some(Connection {
                dst,
                bindto,
                bind_port: co.bind_port,
                bind_if: co.bind_if.clone(),
                timeout: co.timeout.unwrap_or(vs.connect_timeout),
                fwmark: co.fwmark,
            })
        }
    };
    let mut alpha = c.alpha.unwrap_or(rs.alpha);
    let kind = match c.kind {
        RawKind::Tcp => CheckKind::Tcp,
        RawKind::Ping => CheckKind::Ping,
        RawKind::Smtp { helo_name } => CheckKind::Smtp(SmtpCheck {
            helo_name: helo_name.unwrap_or_else(|| DEFAULT_HELO.to_string()),
        }),
        RawKind::Dns(d) => CheckKind::Dns(d),
        RawKind::Udp(u) => CheckKind::Udp(u),
        RawKind::Http(h) => {
            if h.urls.is_empty() {
                push(
                    cx,
                    Code::CheckerInvalid,
                    &c.span,
                    len,
                    format!("{who}: {} has no url; checker ignored", c.keyword),
                );
                return None;
            }
            let host = h.virtualhost.clone().or(rs.virtualhost.clone());
            let urls = h
                .urls
                .into_iter()
                .map(|mut u| {
                    u.virtualhost = u.virtualhost.or(host.clone());
                    u
                })
                .collect();
            CheckKind::Http(HttpCheck {
                tls: h.tls,
                urls,
                protocol: h.protocol,
                enable_sni: h.enable_sni,
                sni_name: h.sni_name,
                fast_recovery: h.fast_recovery,
                tls_compliant: h.tls_compliant,
            })
        }
        RawKind::Misc {
            command,
            timeout,
            dynamic,
            user,
        } => {
            let Some(mut command) = command else {
                push(
                    cx,
                    Code::CheckerInvalid,
                    &c.span,
                    len,
                    format!("{who}: MISC_CHECK has no misc_path; checker ignored"),
                );
                return None;
            };
            command.run_as = user;
            CheckKind::Misc(MiscCheck {
                command,
                // keepalived times the script out after the virtual server's delay_loop.
                timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(vs.delay_loop),
                dynamic,
            })
        }
        RawKind::File { track_file, weight } => {
            let Some(name) = track_file else {
                push(
                    cx,
                    Code::CheckerInvalid,
                    &c.span,
                    len,
                    format!("{who}: FILE_CHECK has no track_file; checker ignored"),
                );
                return None;
            };
            let Some(f) = ck.track_files.iter().find(|f| f.name == name.v) else {
                push(
                    cx,
                    Code::TrackUndefined,
                    &name.span,
                    name.v.len() as u32,
                    format!(
                        "{who}: FILE_CHECK track_file {} is not defined; checker ignored",
                        name.v
                    ),
                );
                return None;
            };
            // The file's state is known at once: no alpha (check_file.c).
            alpha = false;
            let (weight, reverse) = weight.unwrap_or((f.weight, f.reverse));
            CheckKind::File(FileCheck {
                track_file: f.name.clone(),
                weight,
                reverse,
            })
        }
    };
    Some(Checker {
        id: CheckerId {
            rs: rs.id,
            index: 0,
        },
        span: c.span,
        alpha,
        delay_loop,
        warmup: c.timings.warmup.or(ck.timings.warmup).unwrap_or(delay_loop),
        retry: c
            .timings
            .retry
            .or(ck.timings.retry)
            .unwrap_or(default_retry),
        delay_before_retry: c
            .timings
            .delay_before_retry
            .or(ck.timings.delay_before_retry)
            .unwrap_or(default_delay_before_retry),
        log_all_failures: c.log_all_failures || ck.global.checker_log_all_failures,
        connection,
        kind,
    })
}
