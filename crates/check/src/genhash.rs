//! `baton genhash`: keepalived's `genhash` (same options), the MD5 digest of a page as
//! `HTTP_GET`'s `digest` wants it. The page is fetched by the very code the checker uses,
//! so the digest printed is the digest the checker will compute.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use baton_conf::{Connection, HttpCheck, HttpProtocol, HttpUrl, Span};

use crate::http::{self, FetchError, Response, Target, hex};
use crate::tls::TlsClient;

/// How much of the body `--verbose` shows.
const VERBOSE_BODY: usize = 64 * 1024;

/// keepalived's `genhash` command line.
#[derive(Debug, Clone, clap::Args)]
pub struct GenhashArgs {
    /// Use SSL connection to remote server.
    #[arg(short = 'S', long = "use-ssl")]
    pub use_ssl: bool,
    /// Use SNI during SSL handshake (uses virtualhost setting; see -V).
    #[arg(short = 'I', long = "use-sni")]
    pub use_sni: bool,
    /// Use the specified remote server address.
    #[arg(short = 's', long = "server")]
    pub server: IpAddr,
    /// Use the specified remote server port.
    #[arg(short = 'p', long = "port", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Use the specified remote server url.
    #[arg(short = 'u', long = "url")]
    pub url: String,
    /// Use the specified virtualhost in GET query.
    #[arg(short = 'V', long = "use-virtualhost")]
    pub virtualhost: Option<String>,
    /// Use verbose mode output.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Use the specified FW mark.
    #[arg(short = 'm', long = "fwmark")]
    pub fwmark: Option<u32>,
    /// Use the specified HTTP protocol - '1.0', '1.0c', '1.1' (1.0c means 1.0 with
    /// 'Connection: close').
    #[arg(short = 'P', long = "protocol", value_parser = parse_protocol, default_value = "1.0")]
    pub protocol: HttpProtocol,
    /// Timeout in seconds (connect, and each read).
    #[arg(short = 't', long = "timeout", default_value_t = 5)]
    pub timeout: u64,
}

/// `-P`: keepalived's spellings.
pub fn parse_protocol(s: &str) -> Result<HttpProtocol, String> {
    match s {
        "1.0" => Ok(HttpProtocol::Http10),
        "1.0c" | "1.0C" => Ok(HttpProtocol::Http10Close),
        "1.1" => Ok(HttpProtocol::Http11),
        _ => Err(format!("invalid HTTP protocol version '{s}'")),
    }
}

/// What was fetched.
#[derive(Debug, Clone)]
pub struct Genhash {
    pub digest: [u8; 16],
    pub response: Response,
    pub elapsed: Duration,
}

/// Why no digest could be made.
#[derive(Debug, thiserror::Error)]
pub enum GenhashError {
    #[error("{0}")]
    Setup(String),
    /// keepalived's words, then ours.
    #[error("{cause} server {server} ({detail})")]
    Fetch {
        cause: &'static str,
        server: String,
        detail: String,
    },
    #[error("no data received from remote webserver")]
    NoData,
}

/// The checker's view of `args`: one url, no expectations.
pub fn check_of(args: &GenhashArgs) -> (Connection, HttpCheck) {
    let conn = Connection {
        dst: SocketAddr::new(args.server, args.port),
        bindto: None,
        bind_port: None,
        bind_if: None,
        timeout: Duration::from_secs(args.timeout.max(1)),
        fwmark: args.fwmark,
    };
    let check = HttpCheck {
        tls: args.use_ssl,
        urls: vec![HttpUrl {
            path: args.url.clone(),
            digest: None,
            status_codes: vec![(100, 599)],
            virtualhost: args.virtualhost.clone(),
            regex: None,
            tls_compliant: false,
            span: Span::default(),
        }],
        protocol: args.protocol,
        // genhash's -I sends the -V name.
        enable_sni: args.use_sni,
        sni_name: None,
        fast_recovery: false,
        tls_compliant: false,
    };
    (conn, check)
}

/// Fetch the page and digest it. Any status code is digested, as keepalived's genhash does.
pub async fn genhash(args: &GenhashArgs) -> Result<Genhash, GenhashError> {
    let (conn, check) = check_of(args);
    let tls = if args.use_ssl {
        Some(TlsClient::unverified().map_err(|e| GenhashError::Setup(e.to_string()))?)
    } else {
        None
    };
    let target = Target {
        conn: &conn,
        check: &check,
        tls: tls.as_ref(),
    };
    let started = Instant::now();
    let keep = if args.verbose { VERBOSE_BODY } else { 0 };
    let response = match http::fetch(&target, &check.urls[0], None, true, keep).await {
        Ok(r) => r,
        Err(FetchError::Local(e)) => return Err(GenhashError::Setup(e)),
        Err(FetchError::Failed(f)) => {
            return Err(GenhashError::Fetch {
                cause: f.cause,
                server: crate::net::pair(conn.dst),
                detail: f.detail,
            });
        }
    };
    if !response.head_complete {
        return Err(GenhashError::NoData);
    }
    let digest = response.digest.unwrap_or_default();
    Ok(Genhash {
        digest,
        response,
        elapsed: started.elapsed(),
    })
}

/// Run genhash to completion on a runtime of its own and print as keepalived's does: the
/// digest on stdout; with `--verbose` the head and body in hex first. Returns the exit
/// status (0, or 1 on failure; keepalived's exits 0 even then).
pub fn run(args: &GenhashArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "genhash: cannot start: {e}");
            return 1;
        }
    };
    match runtime.block_on(genhash(args)) {
        Ok(g) => {
            if args.verbose {
                let _ = print_verbose(out, args, &g);
            } else {
                let _ = writeln!(out, "{}", hex(&g.digest));
            }
            0
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            1
        }
    }
}

const HTTP_HEADER_HEXA: &str =
    "-----------------------[    HTTP Header Buffer    ]-----------------------";
const HTTP_HEADER_ASCII: &str =
    "-----------------------[ HTTP Header Ascii Buffer ]-----------------------";
const HTML_HEADER_HEXA: &str =
    "-----------------------[        HTML Buffer        ]-----------------------";
const HTML_HASH: &str =
    "-----------------------[    HTML hash resulting    ]-----------------------";
const HTML_HASH_FINAL: &str =
    "-----------------------[ HTML hash final resulting ]-----------------------";

fn print_verbose(out: &mut dyn Write, args: &GenhashArgs, g: &Genhash) -> std::io::Result<()> {
    let r = &g.response;
    writeln!(out, "{HTTP_HEADER_HEXA}")?;
    out.write_all(dump_buffer(&r.head).as_bytes())?;
    writeln!(out, "{HTTP_HEADER_ASCII}")?;
    writeln!(out, "{}", String::from_utf8_lossy(&r.head))?;
    writeln!(out, "{HTML_HEADER_HEXA}")?;
    out.write_all(dump_buffer(&r.body).as_bytes())?;
    if r.body_bytes > r.body.len() as u64 {
        writeln!(
            out,
            "... ({} more bytes)",
            r.body_bytes - r.body.len() as u64
        )?;
    }
    writeln!(out)?;
    writeln!(out, "{HTML_HASH}")?;
    out.write_all(dump_buffer(&g.digest).as_bytes())?;
    writeln!(out, "{HTML_HASH_FINAL}")?;
    writeln!(out, "{}", hex(&g.digest))?;
    writeln!(
        out,
        "\nGlobal response time for [{}] = {} usecs",
        args.url,
        g.elapsed.as_micros()
    )
}

/// keepalived's `dump_buffer`: offset, 16 bytes in hex (a dash after 8), then the printable
/// characters.
pub fn dump_buffer(buf: &[u8]) -> String {
    let mut s = String::new();
    for (row, chunk) in buf.chunks(16).enumerate() {
        s.push_str(&format!("{:04} ", (row * 16) & 0xffff));
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => s.push_str(&format!(" {b:02x}")),
                None => s.push_str("   "),
            }
            if i == 7 {
                s.push_str(" -");
            }
        }
        s.push_str("   ");
        for i in 0..16 {
            s.push(match chunk.get(i) {
                Some(&b) if (0x20..=0x7e).contains(&b) => b as char,
                Some(_) => '.',
                None => ' ',
            });
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: GenhashArgs,
    }

    fn parse(argv: &[&str]) -> Result<GenhashArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("genhash").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn keepalived_s_options() {
        let a = parse(&["-s", "10.0.0.21", "-p", "80", "-u", "/index.html"]).unwrap();
        assert_eq!(a.server, "10.0.0.21".parse::<IpAddr>().unwrap());
        assert_eq!((a.port, a.url.as_str()), (80, "/index.html"));
        assert_eq!(a.protocol, HttpProtocol::Http10);
        let a = parse(&[
            "--use-ssl",
            "--use-sni",
            "--server",
            "fd00::1",
            "--port=443",
            "--url",
            "/",
            "--use-virtualhost",
            "www.example.com",
            "-P",
            "1.0c",
            "-m",
            "7",
            "-t",
            "3",
            "-v",
        ])
        .unwrap();
        assert!(a.use_ssl && a.use_sni && a.verbose);
        assert_eq!(a.protocol, HttpProtocol::Http10Close);
        assert_eq!((a.fwmark, a.timeout), (Some(7), 3));
        let (conn, check) = check_of(&a);
        let target = Target {
            conn: &conn,
            check: &check,
            tls: None,
        };
        assert_eq!(target.sni(&check.urls[0]), Some("www.example.com"));
        assert!(
            parse(&["-s", "10.0.0.1", "-p", "80"]).is_err(),
            "url is required"
        );
        assert!(parse(&["-s", "host.example", "-p", "80", "-u", "/"]).is_err());
        assert!(parse(&["-s", "10.0.0.1", "-p", "0", "-u", "/"]).is_err());
        assert!(parse(&["-s", "10.0.0.1", "-p", "80", "-u", "/", "-P", "2"]).is_err());
    }

    #[test]
    fn hex_dump_as_keepalived() {
        let d = dump_buffer(b"HTTP/1.1 200 OK\r\n");
        assert_eq!(
            d,
            "0000  48 54 54 50 2f 31 2e 31 - 20 32 30 30 20 4f 4b 0d   HTTP/1.1 200 OK.\n\
             0016  0a                      -                           .               \n"
        );
    }
}
