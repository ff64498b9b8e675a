//! `HTTP_GET` and `SSL_GET`: one url per probe, judged by status code, `digest` (MD5 of the
//! body) and `regex`, in that order.

pub mod request;
pub mod response;
pub mod rules;

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use baton_conf::{Connection, HttpCheck, HttpUrl};

use crate::net::{ConnectError, tcp_connect};
use crate::spec::RegexCheck;
use crate::tls::TlsClient;
pub use response::Response;
use response::ResponseReader;

/// Bytes asked for per read.
const READ_SIZE: usize = 8192;

/// Why a url failed, in keepalived's phrase (for its `%s server %s.` line) and ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlFailure {
    /// keepalived's words: "Timeout connecting", "HTTP status code error to", ...
    pub cause: &'static str,
    /// What was seen: "connection refused", "status 500, expected 200-299", ...
    pub detail: String,
}

/// The outcome of one probe of one url.
#[derive(Debug)]
pub enum UrlOutcome {
    /// Passed; keepalived's name of the last test passed.
    Passed(&'static str),
    Failed(UrlFailure),
    /// Our own socket could not be set up: no verdict, try again after `delay_loop`.
    Local(String),
}

fn failure(cause: &'static str, detail: impl Into<String>) -> UrlOutcome {
    UrlOutcome::Failed(UrlFailure {
        cause,
        detail: detail.into(),
    })
}

/// Where and how to fetch: the connection, the checker's settings, and for `SSL_GET` the
/// TLS client.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub conn: &'a Connection,
    pub check: &'a HttpCheck,
    pub tls: Option<&'a TlsClient>,
}

impl Target<'_> {
    /// The TLS server name for `url`: `sni_name`, else the url's virtual host, when
    /// `enable_sni` (or `sni_name`) asks for one.
    pub fn sni<'u>(&'u self, url: &'u HttpUrl) -> Option<&'u str> {
        if !self.check.enable_sni {
            return None;
        }
        self.check
            .sni_name
            .as_deref()
            .or(url.virtualhost.as_deref())
    }
}

/// Probe `url` and judge the answer. The second value is `(Content-Length, bytes
/// received)` when they differ, which keepalived logs (once per difference) but forgives.
pub async fn probe(
    target: &Target<'_>,
    url: &HttpUrl,
    regex: Option<&RegexCheck>,
) -> (UrlOutcome, Option<(u64, u64)>) {
    let response = match fetch(target, url, regex, url.digest.is_some(), 0).await {
        Ok(r) => r,
        Err(FetchError::Local(e)) => return (UrlOutcome::Local(e), None),
        Err(FetchError::Failed(f)) => return (UrlOutcome::Failed(f), None),
    };
    let lengths = response
        .content_length
        .filter(|&len| response.head_complete && len != response.body_bytes)
        .map(|len| (len, response.body_bytes));
    (judge(url, regex, &response), lengths)
}

/// keepalived's `http_handle_response`.
pub fn judge(url: &HttpUrl, regex: Option<&RegexCheck>, response: &Response) -> UrlOutcome {
    if !response.head_complete {
        return failure(
            "Read, no data received from ",
            "the connection closed before a complete response head",
        );
    }
    match response.status {
        Some(code) if url.accepts(code) => {}
        Some(code) => {
            let expected: Vec<String> = url
                .status_codes
                .iter()
                .map(|&(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect();
            return failure(
                "HTTP status code error to",
                format!("status {code}, expected {}", expected.join(" ")),
            );
        }
        None => {
            return failure(
                "HTTP status code error to",
                "no status code in the status line",
            );
        }
    }
    let mut passed = "HTTP status code";
    if let Some(want) = url.digest {
        if response.digest != Some(want) {
            return failure(
                "MD5 digest error to",
                format!(
                    "digest {}, expected {}",
                    response.digest.map(|d| hex(&d)).unwrap_or_default(),
                    hex(&want)
                ),
            );
        }
        passed = "MD5 digest";
    }
    if let Some(re) = regex {
        if response.regex_matched == re.no_match {
            let detail = if re.no_match {
                format!("body matches regex '{}'", re.pattern)
            } else {
                format!("body does not match regex '{}'", re.pattern)
            };
            return failure("Regex match failed", detail);
        }
        passed = "Regex match";
    }
    UrlOutcome::Passed(passed)
}

/// Lower-case hex, as keepalived and md5sum print digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a fetch failed.
#[derive(Debug)]
pub enum FetchError {
    Local(String),
    Failed(UrlFailure),
}

fn failed(cause: &'static str, detail: impl Into<String>) -> FetchError {
    FetchError::Failed(UrlFailure {
        cause,
        detail: detail.into(),
    })
}

/// Connect, send the GET, read until the server closes. Each step is bounded by
/// `connect_timeout`, every read too (as keepalived). `keep_body`: how much of the body to
/// keep in the response (for `genhash --verbose`).
pub async fn fetch(
    target: &Target<'_>,
    url: &HttpUrl,
    regex: Option<&RegexCheck>,
    digest: bool,
    keep_body: usize,
) -> Result<Response, FetchError> {
    let timeout = target.conn.timeout;
    let stream = match tcp_connect(target.conn).await {
        Ok(s) => s,
        Err(ConnectError::Local(e)) => return Err(FetchError::Local(e)),
        Err(ConnectError::Timeout(_)) => {
            return Err(failed(
                "Timeout connecting",
                format!("no answer within {timeout:?}"),
            ));
        }
        Err(ConnectError::Failed(e)) => {
            let cause = match e.raw_os_error() {
                Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN) => {
                    "HTTP/SSL_CHECK - network unreachable"
                }
                _ => "Connection failed",
            };
            return Err(failed(cause, e.to_string()));
        }
    };
    let request = request::get(
        &url.path,
        target.check.protocol,
        url.virtualhost.as_deref(),
        target.conn.dst,
    );
    let reader = ResponseReader::new(digest, regex).keep_body(keep_body);
    match target.tls {
        None => exchange(stream, request.as_bytes(), reader, timeout, false, false).await,
        Some(tls) => {
            let (config, name) = tls
                .for_connection(target.conn.dst.ip(), target.sni(url))
                .map_err(FetchError::Local)?;
            let connector = tokio_rustls::TlsConnector::from(config);
            let stream = match tokio::time::timeout(timeout, connector.connect(name, stream)).await
            {
                Err(_) => {
                    return Err(failed(
                        "Timeout connecting",
                        format!("TLS handshake not done within {timeout:?}"),
                    ));
                }
                Ok(Err(e)) => {
                    return Err(failed(
                        "SSL handshake/communication error connecting to",
                        e.to_string(),
                    ));
                }
                Ok(Ok(s)) => s,
            };
            let close_notify = target.check.tls_compliant || url.tls_compliant;
            exchange(
                stream,
                request.as_bytes(),
                reader,
                timeout,
                true,
                close_notify,
            )
            .await
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    mut reader: ResponseReader<'_>,
    timeout: Duration,
    tls: bool,
    close_notify: bool,
) -> Result<Response, FetchError> {
    match tokio::time::timeout(timeout, stream.write_all(request)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(failed("Cannot send get request to", e.to_string())),
        Err(_) => {
            return Err(failed(
                "Cannot send get request to",
                format!("not sent within {timeout:?}"),
            ));
        }
    }
    let mut buf = vec![0u8; READ_SIZE];
    let mut first = true;
    loop {
        let read = match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
            Err(_) => {
                let cause = match (first, tls) {
                    (true, _) => "Timeout WEB read",
                    (false, false) => "Timeout HTTP read",
                    (false, true) => "Timeout SSL read",
                };
                return Err(failed(cause, format!("nothing read for {timeout:?}")));
            }
            Ok(r) => r,
        };
        first = false;
        match read {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = reader.feed(&buf[..n]) {
                    return Err(failed("Read, no data received from ", e.to_string()));
                }
            }
            // A TLS server that closes without close_notify: keepalived does not mind.
            Err(e) if tls && e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => {
                let cause = if tls {
                    "SSL read error from"
                } else {
                    "Read error with"
                };
                return Err(failed(cause, e.to_string()));
            }
        }
    }
    if close_notify {
        let _ = tokio::time::timeout(timeout, stream.shutdown()).await;
    }
    Ok(reader.finish())
}
