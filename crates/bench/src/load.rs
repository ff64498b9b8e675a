//! An HTTP load generator on the client host: `clients` threads, each sending `GET /` one
//! after the other for a fixed time, over one kept-alive HTTP/1.1 connection or over a fresh
//! connection per request; every request's latency kept for the percentiles.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use baton_lab::Host;

/// How each client talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One HTTP/1.1 connection per client, kept alive.
    KeepAlive,
    /// A new TCP connection per request (HTTP/1.0): each request is a new flow through the
    /// director.
    NewConnection,
}

impl Mode {
    pub fn describe(self) -> &'static str {
        match self {
            Mode::KeepAlive => "kept-alive connections",
            Mode::NewConnection => "a new connection per request",
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Every answered request's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied()
    }
}

/// Run `clients` clients against `target` for `window`.
pub fn run(
    client: &Host,
    target: SocketAddr,
    clients: usize,
    mode: Mode,
    window: Duration,
) -> Result<Outcome> {
    let started = Instant::now();
    let end = started + window;
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                client
                    .in_netns(move || one_client(target, mode, end))
                    .map_err(|e| anyhow!("load client on {}: {e}", client.name()))
            })
        })
        .collect();
    let mut out = Outcome::default();
    for t in threads {
        let o = t.join().map_err(|_| anyhow!("a load client panicked"))??;
        out.requests += o.requests;
        out.errors += o.errors;
        out.latencies.extend(o.latencies);
    }
    out.elapsed = started.elapsed();
    out.latencies.sort_unstable();
    Ok(out)
}

const TIMEOUT: Duration = Duration::from_secs(2);

fn one_client(target: SocketAddr, mode: Mode, end: Instant) -> Outcome {
    let mut o = Outcome::default();
    let mut conn: Option<TcpStream> = None;
    let mut buf = vec![0u8; 4096];
    while Instant::now() < end {
        let t = Instant::now();
        let ok = match mode {
            Mode::KeepAlive => {
                if conn.is_none() {
                    conn = connect(target).ok();
                }
                match conn.as_mut().map(|s| keep_alive_get(s, &mut buf)) {
                    Some(Ok(())) => true,
                    _ => {
                        conn = None;
                        false
                    }
                }
            }
            Mode::NewConnection => connect(target)
                .and_then(|mut s| close_get(&mut s, &mut buf))
                .is_ok(),
        };
        if ok {
            o.requests += 1;
            o.latencies.push(t.elapsed());
        } else {
            o.errors += 1;
        }
    }
    o
}

fn connect(target: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&target, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// One request on a kept-alive connection: read the head, then Content-Length bytes.
fn keep_alive_get(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<()> {
    s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
    let mut have = 0;
    loop {
        let n = s.read(&mut buf[have..])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
        let Some(head_end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") else {
            if have == buf.len() {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let mut body = have - (head_end + 4);
        while body < length {
            let n = s.read(buf)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            body += n;
        }
        return Ok(());
    }
}

/// One request on its own connection, read to the server's close.
fn close_get(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<()> {
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut total = 0;
    loop {
        let n = s.read(buf)?;
        if n == 0 {
            break;
        }
        total += n;
    }
    if total == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}
