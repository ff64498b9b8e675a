//! The demo's built-in HTTP services, run inside its lab hosts as `baton-demo service …`:
//!
//! * `backend`: the post's tomcat, reduced to answering every request with its name
//!   (`backend 1`, `backend 2`);
//! * `proxy`: what nginx does on the load balancers when nginx is not installed — forward
//!   each request to the backends in turn (the next one when a backend does not answer) and
//!   add `X-LB: <name>` to the answer.
//!
//! With `--daemon` the service goes to the background once it listens, the way nginx does,
//! so the post's check script can restart it and test for it right after.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use super::cli::{Role, ServiceArgs};
use super::http;

/// How long a client gets to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the proxy waits for a backend to accept (nginx's proxy_connect_timeout here).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// How long the proxy waits for a backend's whole answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// What a service prints on standard output once it listens (read by `--daemon`'s parent).
const READY: &str = "listening";

/// `baton-demo service`: run the service until killed.
pub fn run(args: &ServiceArgs) -> ExitCode {
    let result = if args.daemon {
        daemonize(args)
    } else {
        serve(args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "baton-demo service: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Start the same service again without `--daemon`, in its own process group (so the
/// check script's process group can be killed without it), wait until it listens, and
/// leave it running.
fn daemonize(args: &ServiceArgs) -> Result<()> {
    // argv[0] as invoked, not /proc/self/exe: started through a link called `nginx`, the
    // service keeps that name, which is what the post's `ps -C nginx` looks for.
    let me = std::env::args_os()
        .next()
        .filter(|a| a.to_string_lossy().contains('/'))
        .map_or_else(std::env::current_exe, |a| Ok(a.into()))
        .context("finding my own executable")?;
    let mut cmd = Command::new(me);
    cmd.arg("service")
        .arg(match args.role {
            Role::Backend => "backend",
            Role::Proxy => "proxy",
        })
        .arg("--listen")
        .arg(args.listen.to_string())
        .arg("--name")
        .arg(&args.name);
    for u in &args.upstreams {
        cmd.arg("--upstream").arg(u.to_string());
    }
    let mut child = {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the service in the background")?
    };
    let stdout = child.stdout.take().context("no pipe from the service")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading from the service")?;
    if line.trim() != READY {
        let status = child.wait().context("waiting for the service")?;
        bail!("the service did not start ({status})");
    }
    Ok(())
}

fn serve(args: &ServiceArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        // Tell a waiting `--daemon` parent; nothing else is ever written to stdout.
        let _ = writeln!(std::io::stdout(), "{READY}");
        let _ = std::io::stdout().flush();
        match args.role {
            Role::Backend => backend(listener, args.name.clone()).await,
            Role::Proxy => {
                if args.upstreams.is_empty() {
                    bail!("a proxy needs at least one --upstream");
                }
                proxy(listener, args.name.clone(), args.upstreams.clone()).await
            }
        }
    })
}

/// Serve one connection with `handle`, giving the client [`HEAD_TIMEOUT`] for its request.
fn serve_connection<F, Fut>(conn: TcpStream, handle: F)
where
    F: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    tokio::spawn(async move {
        let service = service_fn(move |req| {
            let answer = handle(req);
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let _ = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_TIMEOUT)
            .serve_connection(TokioIo::new(conn), service)
            .await;
    });
}

/// Answer every request with the backend's name.
async fn backend(listener: TcpListener, name: String) -> Result<()> {
    let body: Arc<str> = format!("{name}\n").into();
    loop {
        let (conn, _) = listener.accept().await.context("accepting")?;
        let body = body.clone();
        serve_connection(conn, move |_req| {
            let body = body.to_string();
            async move { http::answer(StatusCode::OK, body, None) }
        });
    }
}

/// Forward every request to the backends, round robin, the next one when one fails, and
/// name this balancer in `X-LB` (nginx's `add_header`).
async fn proxy(listener: TcpListener, name: String, upstreams: Vec<SocketAddr>) -> Result<()> {
    let name: Arc<str> = name.into();
    let upstreams: Arc<[SocketAddr]> = upstreams.into();
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let (conn, _) = listener.accept().await.context("accepting")?;
        let (name, upstreams, next) = (name.clone(), upstreams.clone(), next.clone());
        serve_connection(conn, move |req| {
            let (name, upstreams, next) = (name.clone(), upstreams.clone(), next.clone());
            async move { forward(req, &name, &upstreams, &next).await }
        });
    }
}

async fn forward(
    req: Request<Incoming>,
    name: &str,
    upstreams: &[SocketAddr],
    next: &AtomicUsize,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let Ok(body) = http::read_body(body).await else {
        return http::answer(
            StatusCode::BAD_REQUEST,
            "400 Bad Request\n".into(),
            Some(name),
        );
    };
    let first = next.fetch_add(1, Ordering::Relaxed);
    for i in 0..upstreams.len() {
        let upstream = upstreams[(first + i) % upstreams.len()];
        let mut request = Request::from_parts(parts.clone(), Full::new(body.clone()));
        // One request per upstream connection, as nginx's default proxy_http_version 1.0.
        request.headers_mut().remove("keep-alive");
        request
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        if let Some(answer) = ask(upstream, request).await {
            let (mut parts, body) = answer.into_parts();
            parts.headers.remove(CONNECTION);
            if let Ok(v) = HeaderValue::from_str(name) {
                parts.headers.insert(http::LB_HEADER, v);
            }
            return Response::from_parts(parts, Full::new(body));
        }
    }
    http::answer(
        StatusCode::BAD_GATEWAY,
        "502 Bad Gateway\n".into(),
        Some(name),
    )
}

/// One request to one backend: its whole answer, or `None` if it did not give one in time.
async fn ask(upstream: SocketAddr, request: Request<Full<Bytes>>) -> Option<Response<Bytes>> {
    let conn = timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream))
        .await
        .ok()?
        .ok()?;
    timeout(ANSWER_TIMEOUT, http::send(conn, request))
        .await
        .ok()?
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr) -> http::Response {
        let c = TcpStream::connect(addr).await.unwrap();
        http::get(c, "vip").await.unwrap()
    }

    /// On loopback: two backends behind the proxy answer in turn, each answer names the
    /// proxy, and with one backend gone the other answers everything.
    #[tokio::test]
    async fn the_proxy_balances_and_skips_a_dead_backend() {
        let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (a1, a2) = (l1.local_addr().unwrap(), l2.local_addr().unwrap());
        let b1 = tokio::spawn(backend(l1, "backend 1".into()));
        tokio::spawn(backend(l2, "backend 2".into()));
        let lp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ap = lp.local_addr().unwrap();
        tokio::spawn(proxy(lp, "lb1".into(), vec![a1, a2]));

        let mut bodies = Vec::new();
        for _ in 0..4 {
            let r = get(ap).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.lb.as_deref(), Some("lb1"));
            bodies.push(r.body);
        }
        bodies.sort();
        assert_eq!(
            bodies,
            ["backend 1\n", "backend 1\n", "backend 2\n", "backend 2\n"]
        );

        b1.abort();
        let _ = b1.await;
        for _ in 0..3 {
            assert_eq!(get(ap).await.body, "backend 2\n");
        }
    }

    #[tokio::test]
    async fn with_no_backend_the_proxy_says_bad_gateway() {
        // A port nothing listens on: bind, note it, close.
        let dead = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let lp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ap = lp.local_addr().unwrap();
        tokio::spawn(proxy(lp, "lb2".into(), vec![dead]));
        let r = get(ap).await;
        assert_eq!(r.status, 502);
        assert_eq!(r.lb.as_deref(), Some("lb2"));
    }
}
