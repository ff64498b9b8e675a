//! Checker blocks inside `real_server`: the options all checkers share (keepalived's
//! check_api.c) and those of TCP_CHECK, PING_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK,
//! MISC_CHECK and FILE_CHECK; HTTP_GET and SSL_GET are in `http`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::http::{self, RawHttp};
use super::{RawTimings, WEIGHT_MAX, timing};
use crate::diag::{Code, Severity};
use crate::lvs::{DnsCheck, DnsType, ReplyPattern, UdpCheck};
use crate::model::{Command, RunAs, Span};
use crate::parse::cx::{At, Cx, command_of};
use crate::syntax::{Stmt, Token};

/// Where a network checker connects, as written (the timeout is in the timings).
#[derive(Debug, Clone, Default)]
pub(crate) struct RawConnection {
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    pub timeout: Option<Duration>,
    pub fwmark: Option<u32>,
}

impl RawConnection {
    fn any_set(&self) -> bool {
        self.connect_ip.is_some()
            || self.connect_port.is_some()
            || self.bindto.is_some()
            || self.bind_port.is_some()
            || self.bind_if.is_some()
            || self.timeout.is_some()
            || self.fwmark.is_some()
    }
}

/// What a checker checks, as written.
#[derive(Debug, Clone)]
pub(crate) enum RawKind {
    Tcp,
    Ping,
    Http(RawHttp),
    Smtp {
        helo_name: Option<String>,
    },
    Dns(DnsCheck),
    Udp(UdpCheck),
    Misc {
        command: Option<Command>,
        timeout: Option<Duration>,
        dynamic: bool,
        user: Option<RunAs>,
    },
    File {
        track_file: Option<At<String>>,
        weight: Option<(i32, bool)>,
    },
}

/// A checker block as written.
#[derive(Debug, Clone)]
pub(crate) struct RawChecker {
    /// The checker keyword (`TCP_CHECK`…) or, for an SMTP `host` block, `host`.
    pub span: Span,
    pub keyword: &'static str,
    pub kind: RawKind,
    pub alpha: Option<bool>,
    pub timings: RawTimings,
    pub log_all_failures: bool,
    /// `None` for MISC_CHECK and FILE_CHECK.
    pub connection: Option<RawConnection>,
}

impl RawChecker {
    /// Take the real server's timings where the checker sets none (the real server has
    /// already taken its virtual server's in keepalived; that step is `resolve::lvs`'s).
    pub fn inherit(&mut self, rs: &RawTimings) {
        let t = &mut self.timings;
        t.delay_loop = t.delay_loop.or(rs.delay_loop);
        t.retry = t.retry.or(rs.retry);
        t.delay_before_retry = t.delay_before_retry.or(rs.delay_before_retry);
        t.warmup = t.warmup.or(rs.warmup);
        if let Some(co) = &mut self.connection {
            co.timeout = co.timeout.or(rs.connect_timeout);
        }
    }
}

const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "DNS_CHECK",
    "SMTP_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

pub(crate) fn is_checker(k: &str) -> bool {
    CHECKERS.contains(&k)
}

fn keyword_of(k: &str) -> &'static str {
    CHECKERS
        .iter()
        .find(|c| **c == k)
        .copied()
        .unwrap_or("checker")
}

/// A checker block; SMTP_CHECK with old `host` blocks gives one checker per host.
pub(crate) fn checker(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<Vec<RawChecker>> {
    let kw = stmt.keyword();
    if kw.text == "BFD_CHECK" {
        cx.report(
            Code::NotImplemented,
            kw,
            "BFD_CHECK is not implemented by baton (there is no bfd_instance); the real server is judged by its other checkers",
        );
        return None;
    }
    cx.at_most(stmt, 0);
    // keepalived takes an empty checker (`TCP_CHECK` alone or `TCP_CHECK { }`) with
    // every default.
    let empty = Vec::new();
    let lines = stmt.block.as_ref().map_or(&empty, |b| &b.stmts);
    let keyword = keyword_of(&kw.text);
    let kind = match keyword {
        "TCP_CHECK" => RawKind::Tcp,
        "PING_CHECK" => RawKind::Ping,
        "HTTP_GET" | "SSL_GET" => RawKind::Http(RawHttp::new(keyword == "SSL_GET")),
        "SMTP_CHECK" => RawKind::Smtp { helo_name: None },
        "DNS_CHECK" => RawKind::Dns(DnsCheck {
            query_type: DnsType::default(),
            name: ".".to_string(),
        }),
        "UDP_CHECK" => RawKind::Udp(UdpCheck {
            payload: None,
            require_reply: false,
            reply: None,
            min_reply_length: 0,
            max_reply_length: 255,
        }),
        "MISC_CHECK" => RawKind::Misc {
            command: None,
            timeout: None,
            dynamic: false,
            user: None,
        },
        _ => RawKind::File {
            track_file: None,
            weight: None,
        },
    };
    let has_connection = !matches!(kind, RawKind::Misc { .. } | RawKind::File { .. });
    let mut c = RawChecker {
        span: kw.span.clone(),
        keyword,
        kind,
        alpha: None,
        timings: RawTimings::default(),
        log_all_failures: false,
        connection: has_connection.then(RawConnection::default),
    };
    let mut hosts: Vec<(Span, RawConnection)> = Vec::new();
    let mut dns_name_given = false;
    for line in lines {
        let k = line.keyword().text.as_str();
        if let RawKind::File { track_file, weight } = &mut c.kind {
            file_keyword(cx, line, track_file, weight);
            continue;
        }
        if let Some(co) = &mut c.connection
            && connection_keyword(cx, line, co)
        {
            continue;
        }
        if common_keyword(cx, line, &mut c) {
            continue;
        }
        if k == "host" && matches!(c.kind, RawKind::Smtp { .. }) {
            cx.report(
                Code::Deprecated,
                line.keyword(),
                "SMTP_CHECK 'host' blocks are deprecated: give each host an SMTP_CHECK of its own",
            );
            cx.at_most(line, 0);
            let mut co = RawConnection::default();
            if let Some(block) = cx.block(line) {
                for l in block {
                    // Timings written in a host apply to the whole SMTP_CHECK, as in
                    // keepalived.
                    if !connection_keyword(cx, l, &mut co) && !common_keyword(cx, l, &mut c) {
                        cx.unknown(l, "SMTP_CHECK host");
                    }
                }
            }
            hosts.push((line.keyword().span.clone(), co));
            continue;
        }
        match &mut c.kind {
            RawKind::Http(h) => http::keyword(cx, line, h, &mut c.timings),
            RawKind::Smtp { helo_name } => match k {
                "helo_name" => {
                    if helo_name.is_some() {
                        cx.report(
                            Code::Duplicate,
                            line.keyword(),
                            "'helo_name' given again; this one counts",
                        );
                    }
                    *helo_name = cx.string_arg(line).map(|s| s.v);
                }
                _ => cx.unknown(line, "SMTP_CHECK"),
            },
            RawKind::Dns(d) => match k {
                "type" => {
                    if let Some(a) = cx.string_arg(line) {
                        match DnsType::ALL.into_iter().find(|t| t.name() == a.v) {
                            Some(t) => d.query_type = t,
                            None => cx.report(
                                Code::InvalidValue,
                                &line.args()[0],
                                format!(
                                    "'{}' is not a DNS_CHECK type (A NS CNAME SOA MX TXT AAAA RRSIG DNSKEY)",
                                    a.v
                                ),
                            ),
                        }
                    }
                }
                "name" => {
                    let Some(a) = cx.string_arg(line) else {
                        continue;
                    };
                    if dns_name_given {
                        cx.report(
                            Code::Duplicate,
                            line.keyword(),
                            "DNS_CHECK 'name' given again; the first one counts",
                        );
                    } else if (a.v.starts_with('.') && a.v.len() > 1) || a.v.contains("..") {
                        cx.report(
                            Code::InvalidValue,
                            &line.args()[0],
                            format!("DNS_CHECK name '{}' has an empty label; ignored", a.v),
                        );
                    } else {
                        d.name = a.v;
                        dns_name_given = true;
                    }
                }
                _ => cx.unknown(line, "DNS_CHECK"),
            },
            RawKind::Udp(u) => udp_keyword(cx, line, u),
            RawKind::Misc {
                command,
                timeout,
                dynamic,
                user,
            } => match k {
                "misc_path" => {
                    cx.no_block(line);
                    if let Some(extra) = line.args().get(1) {
                        cx.report(
                            Code::ExtraArgument,
                            extra,
                            format!(
                                "unexpected '{}' after 'misc_path'; ignored (quote the program and its arguments together)",
                                extra.text
                            ),
                        );
                    }
                    if let Some(tok) = cx.arg(line, 0) {
                        *command = Some(command_of(tok, None));
                    }
                }
                "misc_timeout" => {
                    if let Some(v) = cx.int_arg(line, 0, i64::from(u32::MAX / 1_000_000)) {
                        *timeout = Some(Duration::from_secs(v as u64));
                    }
                }
                "misc_dynamic" => {
                    cx.flag(line);
                    *dynamic = true;
                }
                "user" => *user = cx.run_as(line),
                _ => cx.unknown(line, "MISC_CHECK"),
            },
            RawKind::Tcp | RawKind::Ping => cx.unknown(line, keyword),
            RawKind::File { .. } => {}
        }
    }
    if let RawKind::Udp(u) = &c.kind
        && u.min_reply_length > u.max_reply_length
    {
        cx.report_sev(
            Code::InvalidValue,
            Severity::Warning,
            stmt.keyword(),
            format!(
                "UDP_CHECK min_reply_length {} is above max_reply_length {}: the check always fails",
                u.min_reply_length, u.max_reply_length
            ),
        );
    }
    if hosts.is_empty() {
        return Some(vec![c]);
    }
    // keepalived: with connection options on the SMTP_CHECK itself it is a checker too;
    // otherwise the first host takes its place. Every host checks with the same timings.
    let mut out = Vec::new();
    let main_has_options = c.connection.as_ref().is_some_and(RawConnection::any_set);
    if main_has_options {
        out.push(c.clone());
    }
    for (span, co) in hosts {
        let mut h = c.clone();
        h.span = span;
        h.keyword = "SMTP_CHECK";
        let timeout = co.timeout.or(c.connection.as_ref().and_then(|m| m.timeout));
        h.connection = Some(RawConnection { timeout, ..co });
        out.push(h);
    }
    Some(out)
}

/// `retry`, `delay_before_retry`, `warmup`, `delay_loop`, `alpha`, `log_all_failures`.
fn common_keyword(cx: &mut Cx<'_>, line: &Stmt, c: &mut RawChecker) -> bool {
    let k = line.keyword().text.as_str();
    match k {
        "alpha" => {
            if let Some(b) = cx.bool_arg(line) {
                c.alpha = Some(b);
            }
        }
        "log_all_failures" => {
            if let Some(b) = cx.bool_arg(line) {
                c.log_all_failures = b;
            }
        }
        "connect_timeout" => return false,
        _ => return timing(cx, line, k, &mut c.timings, 0),
    }
    true
}

/// The connection keywords of network checkers.
fn connection_keyword(cx: &mut Cx<'_>, line: &Stmt, co: &mut RawConnection) -> bool {
    let kw = line.keyword();
    match kw.text.as_str() {
        "connect_ip" | "bindto" => {
            let Some(a) = cx.ip_arg(line) else {
                return true;
            };
            let other = if kw.text == "connect_ip" {
                co.bindto
            } else {
                co.connect_ip
            };
            if other.is_some_and(|o| o.is_ipv4() != a.v.is_ipv4()) {
                cx.report(
                    Code::LvsFamilyMismatch,
                    &line.args()[0],
                    format!(
                        "{} {} is not of the family of {}; ignored",
                        kw.text,
                        a.v,
                        if kw.text == "connect_ip" {
                            "bindto"
                        } else {
                            "connect_ip"
                        }
                    ),
                );
            } else if kw.text == "connect_ip" {
                co.connect_ip = Some(a.v);
            } else {
                co.bindto = Some(a.v);
            }
        }
        "connect_port" | "bind_port" => {
            if let Some(p) = cx.int_arg(line, 1, 65_535) {
                if kw.text == "connect_port" {
                    co.connect_port = Some(p as u16);
                } else {
                    co.bind_port = Some(p as u16);
                }
            }
        }
        "bind_if" => {
            if let Some(s) = cx.string_arg(line) {
                if s.v.len() > 15 {
                    cx.report(
                        Code::InvalidValue,
                        &line.args()[0],
                        format!(
                            "interface name '{}' is longer than 15 characters; ignored",
                            s.v
                        ),
                    );
                } else {
                    co.bind_if = Some(s.v);
                }
            }
        }
        "connect_timeout" => {
            if let Some(d) = cx.timer_arg(
                line,
                Duration::from_micros(1),
                Duration::from_micros(u64::from(u32::MAX)),
            ) {
                co.timeout = Some(d);
            }
        }
        "fwmark" => {
            if let Some(m) = cx.int_arg(line, 0, i64::from(u32::MAX)) {
                co.fwmark = Some(m as u32);
            }
        }
        _ => return false,
    }
    true
}

fn file_keyword(
    cx: &mut Cx<'_>,
    line: &Stmt,
    track_file: &mut Option<At<String>>,
    weight: &mut Option<(i32, bool)>,
) {
    let kw = line.keyword();
    match kw.text.as_str() {
        "track_file" => {
            if let Some(s) = cx.string_arg(line) {
                *track_file = Some(s);
            }
        }
        "weight" => {
            cx.no_block(line);
            cx.at_most(line, 2);
            let Some(tok) = cx.arg(line, 0) else {
                return;
            };
            let Some(w) = cx.int(tok, -WEIGHT_MAX, WEIGHT_MAX, "FILE_CHECK weight") else {
                return;
            };
            let reverse = match line.args().get(1).map(|t| t.text.as_str()) {
                None | Some("noreverse") => false,
                Some("reverse") => true,
                Some(other) => {
                    cx.report(
                        Code::InvalidValue,
                        &line.args()[1],
                        format!("'{other}' is not reverse or noreverse; weight ignored"),
                    );
                    return;
                }
            };
            *weight = Some((w as i32, reverse));
        }
        "dynamic" => cx.report(
            Code::UnknownKeyword,
            kw,
            "FILE_CHECK 'dynamic' is in keepalived's manual but not its parser: a non-zero weight already adds value × weight; skipped",
        ),
        _ => cx.unknown(line, "FILE_CHECK"),
    }
}

fn udp_keyword(cx: &mut Cx<'_>, line: &Stmt, u: &mut UdpCheck) {
    let kw = line.keyword();
    match kw.text.as_str() {
        "payload" => {
            cx.no_block(line);
            if line.args().is_empty() {
                cx.arg(line, 0);
                return;
            }
            match hex(line.args(), false) {
                Some((data, _)) => u.payload = Some(data),
                None => cx.report(
                    Code::InvalidValue,
                    &line.args()[0],
                    "UDP_CHECK payload is not a hex string",
                ),
            }
        }
        "require_reply" => {
            cx.no_block(line);
            u.require_reply = true;
            if line.args().is_empty() {
                return;
            }
            match hex(line.args(), true) {
                Some((data, mask)) => u.reply = Some(ReplyPattern { data, mask }),
                None => cx.report(
                    Code::InvalidValue,
                    &line.args()[0],
                    "UDP_CHECK require_reply is not a hex string (x for any nibble)",
                ),
            }
        }
        "min_reply_length" | "max_reply_length" => {
            if let Some(v) = cx.int_arg(line, 0, i64::from(u16::MAX)) {
                if kw.text == "min_reply_length" {
                    u.min_reply_length = v as u16;
                } else {
                    u.max_reply_length = v as u16;
                }
            }
        }
        _ => cx.unknown(line, "UDP_CHECK"),
    }
}

/// keepalived's free-form hex: words separated by spaces, two digits a byte, a lone digit
/// before a space a byte of its own; with `wildcards`, `x` is a nibble that matches
/// anything (its mask bits set).
pub(crate) fn hex(words: &[Token], wildcards: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let nibble = |c: u8| -> Option<(u8, u8)> {
        match c {
            b'0'..=b'9' => Some((c - b'0', 0)),
            b'a'..=b'f' => Some((c - b'a' + 10, 0)),
            b'A'..=b'F' => Some((c - b'A' + 10, 0)),
            b'x' | b'X' if wildcards => Some((0, 0x0f)),
            _ => None,
        }
    };
    let (mut data, mut mask) = (Vec::new(), Vec::new());
    for w in words {
        let b = w.text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b' ' || b[i] == b'\t' {
                i += 1;
                continue;
            }
            let (hi, hm) = nibble(b[i])?;
            i += 1;
            let (v, m) = match b.get(i) {
                Some(&c) if c != b' ' && c != b'\t' => {
                    let (lo, lm) = nibble(c)?;
                    i += 1;
                    ((hi << 4) | lo, (hm << 4) | lm)
                }
                _ => (hi, hm),
            };
            data.push(v);
            mask.push(m);
        }
    }
    (!data.is_empty()).then_some((data, mask))
}

/// The address a checker connects to: its own, else the real server's.
pub(crate) fn destination(co: &RawConnection, rs: SocketAddr) -> SocketAddr {
    SocketAddr::new(
        co.connect_ip.unwrap_or(rs.ip()),
        co.connect_port.unwrap_or(rs.port()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &[&str]) -> Vec<Token> {
        s.iter()
            .map(|t| Token {
                text: (*t).to_string(),
                span: Span::default(),
                len: t.len() as u32,
            })
            .collect()
    }

    #[test]
    fn hex_strings_read_like_keepalived() {
        // The example of keepalived.conf(5): "Ab12f 3 456 546443123".
        let (d, m) = hex(&toks(&["Ab12f", "3", "456", "546443123"]), false).unwrap();
        assert_eq!(
            d,
            [
                0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03
            ]
        );
        assert!(m.iter().all(|&b| b == 0));
        let (d, m) = hex(&toks(&["1x", "X2"]), true).unwrap();
        assert_eq!((d, m), (vec![0x10, 0x02], vec![0x0f, 0xf0]));
        assert_eq!(hex(&toks(&["1x"]), false), None);
        assert_eq!(hex(&toks(&["zz"]), false), None);
    }
}
