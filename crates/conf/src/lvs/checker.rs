//! Health checkers of a real server (`TCP_CHECK`, `HTTP_GET`, `SSL_GET`, `MISC_CHECK`,
//! `DNS_CHECK`, `SMTP_CHECK`, `UDP_CHECK`, `PING_CHECK`, `FILE_CHECK`) with every timing
//! resolved: the checker's own value, else its real server's, else its virtual server's,
//! else keepalived's default for that kind of checker.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::CheckerId;
use crate::model::{Command, Span};

fn as_secs<S: serde::Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(v.as_secs_f64())
}

/// One checker of a real server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checker {
    pub id: CheckerId,
    pub span: Span,
    /// `alpha`: the checker counts as failed until its first success (FILE_CHECK never:
    /// its state is known at once).
    pub alpha: bool,
    /// `delay_loop`: time between checks (default 60 s).
    #[serde(serialize_with = "as_secs")]
    pub delay_loop: Duration,
    /// `warmup`: the first check runs after a random delay up to this (default
    /// `delay_loop`; 0 starts at once).
    #[serde(serialize_with = "as_secs")]
    pub warmup: Duration,
    /// `retry` (old spelling `nb_get_retry`): failures after a success before the checker
    /// reports failure. Default 1, MISC_CHECK 0, DNS_CHECK 3.
    pub retry: u32,
    /// `delay_before_retry`: time between those retries. Default 1 s, HTTP_GET/SSL_GET
    /// 3 s, DNS_CHECK `delay_loop`.
    #[serde(serialize_with = "as_secs")]
    pub delay_before_retry: Duration,
    /// `log_all_failures` (or global `checker_log_all_failures`).
    pub log_all_failures: bool,
    /// Where a network checker connects; `None` for MISC_CHECK and FILE_CHECK.
    pub connection: Option<Connection>,
    pub kind: CheckKind,
}

/// The connection options of a network checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// `connect_ip` / `connect_port`, else the real server's address and port.
    pub dst: SocketAddr,
    /// `bindto`: source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: source port.
    pub bind_port: Option<u16>,
    /// `bind_if`: needed for an IPv6 link-local destination.
    pub bind_if: Option<String>,
    /// `connect_timeout` (default 5 s).
    #[serde(serialize_with = "as_secs")]
    pub timeout: Duration,
    /// `fwmark`: mark the checker's packets (SO_MARK).
    pub fwmark: Option<u32>,
}

/// What a checker checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum CheckKind {
    /// `TCP_CHECK`: a TCP connection opens.
    Tcp,
    /// `HTTP_GET` / `SSL_GET`: each URL answers as configured.
    Http(HttpCheck),
    /// `MISC_CHECK`: a program exits 0 (or 2..=255 with `misc_dynamic`).
    Misc(MiscCheck),
    /// `DNS_CHECK`: a query is answered.
    Dns(DnsCheck),
    /// `SMTP_CHECK`: the 220 / HELO 250 / QUIT 221 dialogue.
    Smtp(SmtpCheck),
    /// `UDP_CHECK`: a datagram gets no ICMP error (or the expected reply).
    Udp(UdpCheck),
    /// `PING_CHECK`: an ICMP echo is answered.
    Ping,
    /// `FILE_CHECK`: the number in a tracked file.
    File(FileCheck),
}

impl CheckKind {
    /// The keyword that configures it.
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "TCP_CHECK",
            CheckKind::Http(h) if h.tls => "SSL_GET",
            CheckKind::Http(_) => "HTTP_GET",
            CheckKind::Misc(_) => "MISC_CHECK",
            CheckKind::Dns(_) => "DNS_CHECK",
            CheckKind::Smtp(_) => "SMTP_CHECK",
            CheckKind::Udp(_) => "UDP_CHECK",
            CheckKind::Ping => "PING_CHECK",
            CheckKind::File(_) => "FILE_CHECK",
        }
    }
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum HttpProtocol {
    /// `1.0` (keepalived's default).
    #[default]
    Http10,
    /// `1.0C`: 1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`.
    Http11,
}

/// `HTTP_GET { … }` or `SSL_GET { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    /// `SSL_GET`: over TLS with the [`SslContext`](super::SslContext).
    pub tls: bool,
    /// At least one.
    pub urls: Vec<HttpUrl>,
    pub protocol: HttpProtocol,
    /// `enable_sni` (implied by `sni_name`): send SNI in the TLS handshake.
    pub enable_sni: bool,
    /// `sni_name`: the name to send, else the URL's virtual host or the connect address.
    pub sni_name: Option<String>,
    /// `fast_recovery`: check all URLs without a delay between them while coming up.
    pub fast_recovery: bool,
    /// `tls_compliant` (SSL_GET): send close_notify.
    pub tls_compliant: bool,
}

/// One `url { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpUrl {
    pub path: String,
    /// `digest`: MD5 of the body.
    pub digest: Option<[u8; 16]>,
    /// `status_code`: accepted codes as inclusive ranges (default 200-299).
    pub status_codes: Vec<(u16, u16)>,
    /// The Host header: the URL's `virtualhost`, else the checker's, the real server's or
    /// the virtual server's.
    pub virtualhost: Option<String>,
    pub regex: Option<UrlRegex>,
    /// `tls_compliant` of this URL (SSL_GET).
    pub tls_compliant: bool,
    pub span: Span,
}

impl HttpUrl {
    pub fn accepts(&self, status: u16) -> bool {
        self.status_codes
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

/// `regex` of a URL with its companions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlRegex {
    /// A PCRE2 pattern, as keepalived compiles it.
    pub pattern: String,
    /// `regex_options`: PCRE2 option names (`caseless`, `multiline`, …).
    pub options: Vec<String>,
    /// `regex_no_match`: a match fails the check.
    pub no_match: bool,
    /// `regex_min_offset`: where in the body matching may start.
    pub min_offset: usize,
    /// `regex_max_offset`: the last offset a match may start at.
    pub max_offset: Option<usize>,
    /// `regex_stack START MAX`: JIT stack sizes in bytes.
    pub stack: Option<(u64, u64)>,
}

/// `MISC_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MiscCheck {
    /// `misc_path` with its arguments and `user`.
    pub command: Command,
    /// `misc_timeout` in whole seconds, else the virtual server's `delay_loop`.
    #[serde(serialize_with = "as_secs")]
    pub timeout: Duration,
    /// `misc_dynamic`: exit 0 up with the configured weight, 1 down, 2..=255 up with
    /// weight (status - 2).
    pub dynamic: bool,
}

/// DNS query types DNS_CHECK knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum DnsType {
    A,
    Ns,
    Cname,
    #[default]
    Soa,
    Mx,
    Txt,
    Aaaa,
    Rrsig,
    Dnskey,
}

impl DnsType {
    pub const ALL: [DnsType; 9] = [
        DnsType::A,
        DnsType::Ns,
        DnsType::Cname,
        DnsType::Soa,
        DnsType::Mx,
        DnsType::Txt,
        DnsType::Aaaa,
        DnsType::Rrsig,
        DnsType::Dnskey,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            DnsType::A => "A",
            DnsType::Ns => "NS",
            DnsType::Cname => "CNAME",
            DnsType::Soa => "SOA",
            DnsType::Mx => "MX",
            DnsType::Txt => "TXT",
            DnsType::Aaaa => "AAAA",
            DnsType::Rrsig => "RRSIG",
            DnsType::Dnskey => "DNSKEY",
        }
    }

    /// The type code on the wire.
    pub const fn code(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::Ns => 2,
            DnsType::Cname => 5,
            DnsType::Soa => 6,
            DnsType::Mx => 15,
            DnsType::Txt => 16,
            DnsType::Aaaa => 28,
            DnsType::Rrsig => 46,
            DnsType::Dnskey => 48,
        }
    }
}

/// `DNS_CHECK { type; name }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsCheck {
    pub query_type: DnsType,
    /// The name queried (default `.`).
    pub name: String,
}

/// `SMTP_CHECK { helo_name }`; each old `host { … }` block is a checker of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpCheck {
    /// Default `smtpchecker.keepalived.org`.
    pub helo_name: String,
}

/// `require_reply HEX`: bytes the reply must start with; mask bits set are ignored
/// (`x` nibbles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyPattern {
    pub data: Vec<u8>,
    pub mask: Vec<u8>,
}

/// `UDP_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdpCheck {
    /// `payload HEX`; `None`: a random payload.
    pub payload: Option<Vec<u8>>,
    /// `require_reply`: a reply must come back.
    pub require_reply: bool,
    /// `require_reply HEX`: and start like this.
    pub reply: Option<ReplyPattern>,
    /// `min_reply_length` (default 0).
    pub min_reply_length: u16,
    /// `max_reply_length` (default 255).
    pub max_reply_length: u16,
}

/// `FILE_CHECK { track_file NAME; weight W [reverse] }`: with weight 0 a non-zero value
/// in the file is a failure; otherwise value × weight (negated with `reverse`) is added
/// to the real server's weight, and a result at or below -2147483648 is a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    /// The name of a top-level `track_file` block.
    pub track_file: String,
    /// The FILE_CHECK's `weight`, else the track_file's.
    pub weight: i32,
    pub reverse: bool,
}
