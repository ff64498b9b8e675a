//! The HTTP listener of `--metrics ADDR:PORT`: `/metrics` (Prometheus text), `/` (the status
//! page), `/healthz`. It runs in tasks of its own beside the event loop and asks the loop for
//! a [`Snapshot`] over a channel, with a deadline; it never holds the loop's state. The loop's
//! part of a scrape is building the snapshot; the text and the page are rendered on the
//! blocking pool, since the runtime's one thread is the loop's too.
//!
//! Clients are bounded: at most [`MAX_CLIENTS`] at once (others are closed at once), each
//! connection closed after one answer and dropped after [`CLIENT_DEADLINE`] whatever it is
//! doing, headers limited to hyper's minimum buffer. A slow or hostile client costs a task
//! and a few kilobytes, and never the loop's time.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::north::snapshot::Snapshot;

/// Connections served at once.
pub const MAX_CLIENTS: usize = 8;
/// A connection's whole life: request, answer, close.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// How long a request waits for the event loop; a loop that does not answer in this time
/// is reported down (`keepalived_up 0`, `/healthz` 503).
pub const LOOP_DEADLINE: Duration = Duration::from_secs(1);
/// hyper's smallest read buffer: a request's head must fit.
const MAX_HEAD: usize = 8192;

/// How the listener asks the loop for a snapshot.
pub type Ask = mpsc::Sender<oneshot::Sender<Snapshot>>;

/// A bound listener, not yet serving.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
}

impl MetricsServer {
    /// Bind `addr`. Must be called inside a tokio runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<MetricsServer> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM.cloexec(),
            None,
        )?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(64)?;
        socket.set_nonblocking(true)?;
        let listener = TcpListener::from_std(socket.into())?;
        Ok(MetricsServer { listener })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until the runtime stops: each client in a task of its own.
    pub fn spawn(self, ask: Ask) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.serve(ask))
    }

    async fn serve(self, ask: Ask) {
        let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!("metrics listener: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::debug!("metrics listener: {peer} refused, {MAX_CLIENTS} clients already");
                drop(stream);
                continue;
            };
            let ask = ask.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(req, ask.clone()));
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .max_buf_size(MAX_HEAD)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                match tokio::time::timeout(CLIENT_DEADLINE, conn).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::debug!("metrics listener: {peer}: {e}"),
                    Err(_) => tracing::debug!("metrics listener: {peer} dropped at the deadline"),
                }
                drop(slot);
            });
        }
    }
}

/// Ask the loop for a snapshot; `None` if it did not answer within [`LOOP_DEADLINE`].
pub async fn snapshot(ask: &Ask) -> Option<Snapshot> {
    let (tx, rx) = oneshot::channel();
    let asked = async {
        ask.send(tx).await.ok()?;
        rx.await.ok()
    };
    tokio::time::timeout(LOOP_DEADLINE, asked)
        .await
        .ok()
        .flatten()
}

/// Render on the blocking pool: the runtime has one thread, shared with the event loop,
/// and encoding a thousand instances takes milliseconds the loop must not wait.
async fn off_the_loop(render: impl FnOnce() -> String + Send + 'static) -> String {
    tokio::task::spawn_blocking(render)
        .await
        .unwrap_or_else(|e| format!("rendering failed: {e}\n"))
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

async fn answer(req: Request<Incoming>, ask: Ask) -> Result<Response<Full<Bytes>>, Infallible> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "read-only: GET only\n".into(),
        ));
    }
    Ok(match req.uri().path() {
        "/metrics" => {
            let s = snapshot(&ask).await;
            let text = off_the_loop(move || super::encode::encode(s.as_ref())).await;
            reply(
                StatusCode::OK,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                text,
            )
        }
        "/healthz" => match snapshot(&ask).await {
            Some(_) => reply(StatusCode::OK, TEXT, "ok\n".into()),
            None => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                format!("the event loop did not answer within {LOOP_DEADLINE:?}\n"),
            ),
        },
        "/" | "/index.html" => {
            let s = snapshot(&ask).await;
            let status = if s.is_some() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let page = off_the_loop(move || crate::north::page::render(s.as_ref())).await;
            reply(status, "text/html; charset=utf-8", page)
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: /, /metrics, /healthz\n".into(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    }

    #[test]
    fn routes_a_stalled_loop_and_clients_that_hold_on() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = server.local_addr().unwrap();
            // A loop that never answers: requests wait LOOP_DEADLINE, then say so.
            let (tx, mut rx) = mpsc::channel::<oneshot::Sender<Snapshot>>(8);
            let _hold = tokio::spawn(async move {
                let mut kept = Vec::new();
                while let Some(r) = rx.recv().await {
                    kept.push(r);
                }
            });
            server.spawn(tx);
            let health = get(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert!(health.starts_with("HTTP/1.1 503"), "{health}");
            let metrics = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
            assert!(metrics.contains("\nkeepalived_up 0\n"), "{metrics}");
            let page = get(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert!(page.contains("id=\"down\""), "{page}");
            let post = get(
                addr,
                "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            )
            .await;
            assert!(post.starts_with("HTTP/1.1 405"), "{post}");
            let nothing = get(addr, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert!(nothing.starts_with("HTTP/1.1 404"), "{nothing}");

            // MAX_CLIENTS connections that send nothing hold every slot: the next one is
            // closed at once, and all of them are dropped at the deadline.
            let t = tokio::time::Instant::now();
            let mut idle = Vec::new();
            for _ in 0..MAX_CLIENTS {
                idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let refused = get(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert_eq!(
                refused, "",
                "a client past the bound must be closed unanswered"
            );
            for mut c in idle {
                let mut buf = [0u8; 64];
                let n = c.read(&mut buf).await.unwrap_or(0);
                assert_eq!(n, 0, "an idle client got an answer");
            }
            let held = t.elapsed();
            assert!(
                held >= CLIENT_DEADLINE - Duration::from_millis(200)
                    && held < CLIENT_DEADLINE + Duration::from_secs(2),
                "idle clients dropped after {held:?}"
            );
            // The slots are free again.
            let again = get(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert!(again.starts_with("HTTP/1.1 503"), "{again}");
        });
    }
}
