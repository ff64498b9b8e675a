//! A checker ready to run: keepalived's options with every default and inheritance already
//! applied (by the configuration), in the form the protocol engines take.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::verdict::CheckerId;

/// One checker of one real server.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckerSpec {
    pub id: CheckerId,
    /// keepalived's name of the real server in log lines: `[10.0.0.21]:tcp:8080`.
    pub server: Arc<str>,
    /// keepalived's name of the virtual server: `[10.0.0.10]:tcp:80`, `FWM 7`, `[grp]:80`.
    pub virtual_server: Arc<str>,
    pub timing: Timing,
    pub probe: Probe,
}

/// When a checker runs and how many failures it takes to call a server down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// `delay_loop`: time between the end of one check and the start of the next.
    pub delay_loop: Duration,
    /// `warmup`: the first check starts after a random delay up to this.
    pub warmup: Duration,
    /// `retry` (`nb_get_retry`): failed retries before a healthy server is called down.
    pub retry: u32,
    /// `delay_before_retry`.
    pub delay_before_retry: Duration,
    /// `alpha`: the checker starts in the failed state.
    pub alpha: bool,
    /// `log_all_failures` (or the global `checker_log_all_failures`).
    pub log_all_failures: bool,
}

/// keepalived's connection options (`connect_ip`, `connect_port`, `bindto`, `bind_port`,
/// `bind_if`, `fwmark`, `connect_timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Where to connect: the real server unless `connect_ip`/`connect_port` say otherwise.
    pub dst: SocketAddr,
    pub bind_addr: Option<IpAddr>,
    pub bind_port: Option<u16>,
    /// `bind_if`: SO_BINDTODEVICE (needed for link-local IPv6 targets).
    pub bind_if: Option<String>,
    /// `fwmark`: SO_MARK on the checker's socket.
    pub fwmark: Option<u32>,
    /// `connect_timeout`: bounds the connect and every read and write after it.
    pub timeout: Duration,
}

/// What a checker does.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// `TCP_CHECK`: a TCP connection is opened and closed.
    Tcp(Connection),
    /// `HTTP_GET` and `SSL_GET`.
    Http(Box<HttpProbe>),
    /// `MISC_CHECK`: a script's exit status.
    Misc(MiscProbe),
    /// `DNS_CHECK`: a query answered with RCODE 0.
    Dns(DnsProbe),
    /// `SMTP_CHECK`: greeting, HELO, QUIT.
    Smtp(SmtpProbe),
    /// `UDP_CHECK`: a datagram not refused (or answered, with `require_reply`).
    Udp(UdpProbe),
    /// `PING_CHECK`: an ICMP echo answered.
    Ping(Connection),
    /// `FILE_CHECK`: a number in a file, followed with inotify.
    File(FileProbe),
}

impl Probe {
    /// keepalived's keyword for this checker.
    pub fn keyword(&self) -> &'static str {
        match self {
            Probe::Tcp(_) => "TCP_CHECK",
            Probe::Http(h) if h.tls.is_some() => "SSL_GET",
            Probe::Http(_) => "HTTP_GET",
            Probe::Misc(_) => "MISC_CHECK",
            Probe::Dns(_) => "DNS_CHECK",
            Probe::Smtp(_) => "SMTP_CHECK",
            Probe::Udp(_) => "UDP_CHECK",
            Probe::Ping(_) => "PING_CHECK",
            Probe::File(_) => "FILE_CHECK",
        }
    }
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// `GET … HTTP/1.0` (keepalived's default).
    #[default]
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `GET … HTTP/1.1` with `Connection: close`.
    Http11,
}

/// `HTTP_GET` / `SSL_GET`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpProbe {
    pub conn: Connection,
    /// Set for `SSL_GET`.
    pub tls: Option<TlsProbe>,
    pub protocol: HttpProtocol,
    /// The `url` blocks, checked one per `delay_loop` in order. Never empty (keepalived
    /// drops a checker without urls).
    pub urls: Vec<UrlCheck>,
    /// `fast_recovery`: while a server is down with no failing url known, check again at
    /// once instead of after `delay_loop`.
    pub fast_recovery: bool,
}

/// TLS for `SSL_GET`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsProbe {
    /// The client side: certificates to present and whether to verify the server's.
    pub client: Arc<crate::tls::TlsClient>,
    /// `tls_compliant` on the checker: close with a close_notify alert.
    pub tls_compliant: bool,
}

/// One `url` block.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlCheck {
    pub path: String,
    /// `digest`: MD5 of the body as received.
    pub digest: Option<[u8; 16]>,
    /// `status_code`: the accepted codes (default 200-299).
    pub status: StatusCodes,
    /// The `Host:` header: the url's, checker's, real server's or virtual server's
    /// `virtualhost`, else the address and port connected to.
    pub virtualhost: Option<String>,
    /// The TLS server name sent (`enable_sni` / `sni_name`); `None` sends none.
    pub sni: Option<String>,
    pub regex: Option<RegexCheck>,
    /// `tls_compliant` on the url.
    pub tls_compliant: bool,
}

/// `regex`, `regex_no_match`, `regex_min_offset`, `regex_max_offset`.
#[derive(Debug, Clone)]
pub struct RegexCheck {
    pub regex: regex::bytes::Regex,
    /// Fail when the regex matches rather than when it does not.
    pub no_match: bool,
    /// A match must start at or after this body offset.
    pub min_offset: usize,
    /// A match must start at or before this body offset.
    pub max_offset: Option<usize>,
}

impl PartialEq for RegexCheck {
    fn eq(&self, other: &Self) -> bool {
        self.regex.as_str() == other.regex.as_str()
            && self.no_match == other.no_match
            && self.min_offset == other.min_offset
            && self.max_offset == other.max_offset
    }
}

/// A set of HTTP status codes, 100..=599.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusCodes([u64; 8]);

impl StatusCodes {
    pub const MIN: u16 = 100;
    pub const MAX: u16 = 599;

    pub fn none() -> StatusCodes {
        StatusCodes([0; 8])
    }

    /// keepalived's default: 200-299.
    pub fn success() -> StatusCodes {
        let mut codes = StatusCodes::none();
        codes.insert_range(200, 299);
        codes
    }

    /// Add `min..=max`; codes outside 100..=599 are ignored.
    pub fn insert_range(&mut self, min: u16, max: u16) {
        for code in min.max(Self::MIN)..=max.min(Self::MAX) {
            let bit = usize::from(code - Self::MIN);
            self.0[bit / 64] |= 1 << (bit % 64);
        }
    }

    pub fn contains(&self, code: u16) -> bool {
        if !(Self::MIN..=Self::MAX).contains(&code) {
            return false;
        }
        let bit = usize::from(code - Self::MIN);
        self.0[bit / 64] & (1 << (bit % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

impl std::fmt::Debug for StatusCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As ranges, the way keepalived dumps them: 200-299 301.
        let mut parts = Vec::new();
        let mut start = None;
        for code in Self::MIN..=Self::MAX + 1 {
            match (self.contains(code), start) {
                (true, None) => start = Some(code),
                (false, Some(s)) => {
                    parts.push(if s == code - 1 {
                        s.to_string()
                    } else {
                        format!("{s}-{}", code - 1)
                    });
                    start = None;
                }
                _ => {}
            }
        }
        write!(f, "StatusCodes({})", parts.join(" "))
    }
}

/// `MISC_CHECK`.
#[derive(Debug, Clone, PartialEq)]
pub struct MiscProbe {
    /// `misc_path` with `user`.
    pub command: baton_conf::Command,
    /// `misc_timeout`, else the virtual server's `delay_loop`.
    pub timeout: Duration,
    /// `misc_dynamic`: exit status 2..=255 sets the weight to status - 2.
    pub dynamic: bool,
}

/// `DNS_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProbe {
    pub conn: Connection,
    /// The query type (`type`, default SOA).
    pub qtype: u16,
    /// The query name (`name`, default the root).
    pub name: String,
}

/// `SMTP_CHECK` (each deprecated `host` block is a checker of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpProbe {
    pub conn: Connection,
    /// `helo_name` (default `smtpchecker.keepalived.org`).
    pub helo_name: String,
}

/// `UDP_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpProbe {
    pub conn: Connection,
    /// `payload`; keepalived sends 32 bytes of "keepalived check - " when none is given.
    pub payload: Option<Vec<u8>>,
    /// `require_reply`: silence until the timeout is a failure, not a success.
    pub require_reply: bool,
    /// The bytes a reply must start with (`require_reply HEX`), with a mask of bits that
    /// may differ (the `x` nibbles).
    pub reply: Option<ReplyPattern>,
    /// `min_reply_length` / `max_reply_length` (0 / 255).
    pub min_reply_len: u16,
    pub max_reply_len: u16,
}

/// Expected reply bytes; a set bit in `mask` is a bit that may differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPattern {
    pub data: Vec<u8>,
    pub mask: Vec<u8>,
}

/// `FILE_CHECK` on a `track_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProbe {
    /// The `track_file`'s name, for log lines.
    pub name: String,
    pub path: PathBuf,
    /// The weight the value is multiplied by (the check's, else the track file's); 0 means
    /// a non-zero value is a failure.
    pub weight: i32,
    pub reverse: bool,
    /// `init_file`: value to create the file with if missing (or always, with `overwrite`).
    pub init_file: Option<(i64, bool)>,
}
