//! The control socket: a Unix stream socket, mode 0600 and root (or our own user) only, that
//! answers one JSON request per line with one JSON response per line. `baton status` is its
//! client. The status payload is whatever serde value the caller supplies (the protocol core's
//! snapshot), so this module knows nothing about VRRP.
//!
//! Clients are served concurrently, each within deadlines of its own: a request must arrive
//! within [`IDLE_TIMEOUT`], and each [`WRITE_CHUNK`] of its answer be taken within
//! [`WRITE_TIMEOUT`], or the client is dropped. An answer of any size (the status of twenty
//! thousand instances is megabytes) reaches a client that keeps reading; only a client that
//! stops reading is cut off. One client that connects and stalls, or never reads its answer, costs the others
//! nothing. At most [`MAX_CLIENTS`] are served at once; more are answered "busy" and closed.
//!
//! ```text
//! > {"cmd":"status"}
//! < {"ok":true,"status":{...}}
//! > {"cmd":"nonsense"}
//! < {"ok":false,"error":"unknown command 'nonsense'"}
//! ```

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Longest request line accepted; anything longer is a client error, not a memory sink.
pub const MAX_REQUEST: usize = 4096;
/// A client that sends no (complete) request for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A client that takes nothing of its answer for this long is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// An answer is written this much at a time, each piece within [`WRITE_TIMEOUT`].
pub const WRITE_CHUNK: usize = 64 * 1024;
/// Clients served at once.
pub const MAX_CLIENTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("control socket {path}: another daemon is answering on it")]
    InUse { path: PathBuf },
    #[error("control socket {path}: bad answer: {source}")]
    BadAnswer {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("control socket {path}: daemon refused: {message}")]
    Refused { path: PathBuf, message: String },
    #[error("control socket {path}: no answer")]
    NoAnswer { path: PathBuf },
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
}

/// The answer to one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response<S> {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<S>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A bound control socket; dropping it removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    deadlines: Deadlines,
}

/// How long a client may take, per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// To send a whole request line.
    pub idle: Duration,
    /// To take each [`WRITE_CHUNK`] of the answer.
    pub write: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            idle: IDLE_TIMEOUT,
            write: WRITE_TIMEOUT,
        }
    }
}

impl ControlServer {
    /// Bind at `path` with mode 0600. A leftover socket nobody answers on is replaced (the
    /// pid file lock, taken first, says we are the only daemon for it); a live one is refused.
    /// Must be called inside a tokio runtime.
    pub fn bind(path: &Path) -> Result<ControlServer, ControlError> {
        let io = |source| ControlError::Io {
            path: path.to_path_buf(),
            source,
        };
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::InUse {
                path: path.to_path_buf(),
            });
        }
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let socket = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(io)?;
        // Linux creates the socket file with the socket inode's mode (less the umask), so
        // setting 0600 before bind leaves no window in which others may connect.
        nix::sys::stat::fchmod(
            socket.as_fd(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| io(e.into()))?;
        socket
            .bind(&SockAddr::unix(path).map_err(io)?)
            .map_err(io)?;
        socket.listen(16).map_err(io)?;
        socket.set_nonblocking(true).map_err(io)?;
        let std_listener: std::os::unix::net::UnixListener = socket.into();
        let listener = UnixListener::from_std(std_listener).map_err(io)?;
        Ok(ControlServer {
            listener,
            path: path.to_path_buf(),
            deadlines: Deadlines::default(),
        })
    }

    /// Other deadlines than [`IDLE_TIMEOUT`] and [`WRITE_TIMEOUT`].
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> ControlServer {
        self.deadlines = deadlines;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answer clients until the task is dropped. `status` produces the current snapshot; it
    /// is called once per status request, on this task.
    pub async fn serve<S, F>(&self, status: F)
    where
        S: Serialize,
        F: Fn() -> S,
    {
        self.serve_async(async || status()).await
    }

    /// [`ControlServer::serve`] with a snapshot that takes a moment to produce: the daemon's
    /// loop asks its own event loop for it over a channel, so the state never needs sharing.
    /// Every client runs on this one task, concurrently with the others.
    pub async fn serve_async<S, F>(&self, status: F)
    where
        S: Serialize,
        F: AsyncFn() -> S,
    {
        use futures::StreamExt;
        use futures::stream::FuturesUnordered;

        let me = nix::unistd::geteuid().as_raw();
        let mut clients = FuturesUnordered::new();
        loop {
            let accepted = tokio::select! {
                Some(()) = clients.next(), if !clients.is_empty() => continue,
                a = self.listener.accept() => a,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("control socket {}: accept: {e}", self.path.display());
                    // Out of descriptors, say: let the clients we have finish meanwhile.
                    let pause = tokio::time::sleep(Duration::from_millis(100));
                    tokio::pin!(pause);
                    loop {
                        tokio::select! {
                            () = &mut pause => break,
                            Some(()) = clients.next(), if !clients.is_empty() => {}
                        }
                    }
                    continue;
                }
            };
            // The file mode already keeps others out; the credential check also covers a
            // socket whose mode someone loosened by hand.
            match stream.peer_cred() {
                Ok(c) if c.uid() == 0 || c.uid() == me => {}
                Ok(c) => {
                    tracing::warn!("control socket: refused client uid {}", c.uid());
                    continue;
                }
                Err(e) => {
                    tracing::warn!("control socket: no peer credentials: {e}");
                    continue;
                }
            }
            if clients.len() >= MAX_CLIENTS {
                tracing::debug!("control socket: {MAX_CLIENTS} clients already; refused one");
                let busy = encode(&Response::<()>::err("busy: too many clients".into()));
                // Never waits: a fresh socket's buffer takes one short line.
                let _ = stream.try_write(busy.as_bytes());
                continue;
            }
            clients.push(handle_client(stream, &status, self.deadlines));
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One client, request after request, each within its deadlines.
async fn handle_client<S: Serialize>(
    stream: UnixStream,
    status: &impl AsyncFn() -> S,
    deadlines: Deadlines,
) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(MAX_REQUEST as u64 * 16)).lines();
    loop {
        let line = match tokio::time::timeout(deadlines.idle, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::debug!("control socket: read: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(
                    "control socket: no request within {:?}; dropped",
                    deadlines.idle
                );
                return;
            }
        };
        let answer = if line.len() > MAX_REQUEST {
            encode(&Response::<()>::err("request too long".into()))
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(Request::Status) => encode(&Response {
                    ok: true,
                    status: Some(status().await),
                    error: None,
                }),
                Err(e) => encode(&Response::<()>::err(describe_bad_request(&line, &e))),
            }
        };
        if !write_streamed(&mut write, answer.as_bytes(), deadlines.write).await {
            return;
        }
    }
}

/// Write `answer` a [`WRITE_CHUNK`] at a time, each within `deadline`: an answer of any size
/// goes to a client that keeps reading. False when the client went away or stopped reading.
async fn write_streamed(
    write: &mut (impl AsyncWriteExt + Unpin),
    answer: &[u8],
    deadline: Duration,
) -> bool {
    for chunk in answer.chunks(WRITE_CHUNK) {
        match tokio::time::timeout(deadline, write.write_all(chunk)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return false,
            Err(_) => {
                tracing::debug!("control socket: answer not taken for {deadline:?}; dropped");
                return false;
            }
        }
    }
    true
}

impl<S> Response<S> {
    fn err(message: String) -> Response<S> {
        Response {
            ok: false,
            status: None,
            error: Some(message),
        }
    }
}

fn describe_bad_request(line: &str, e: &serde_json::Error) -> String {
    #[derive(Deserialize)]
    struct Cmd {
        cmd: String,
    }
    match serde_json::from_str::<Cmd>(line) {
        Ok(c) => format!("unknown command '{}'", c.cmd),
        Err(_) => format!("bad request: {e}"),
    }
}

fn encode<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string(v)
        .unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":\"cannot encode answer: {e}\"}}"));
    s.push('\n');
    s
}

/// Send one request and read its answer: the client side used by `baton status`.
pub async fn request(path: &Path, req: &Request) -> Result<serde_json::Value, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let stream = UnixStream::connect(path).await.map_err(io)?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(req).map_err(|e| ControlError::BadAnswer {
        path: path.to_path_buf(),
        source: e,
    })?;
    line.push('\n');
    // A daemon too busy to serve us answers and closes at once, perhaps before our request
    // is written: its answer is read even when the write failed.
    let wrote = write.write_all(line.as_bytes()).await;
    let mut lines = BufReader::new(read).lines();
    let answer = match (lines.next_line().await, wrote) {
        (Ok(Some(answer)), _) => answer,
        (_, Err(e)) => return Err(io(e)),
        (Err(e), Ok(())) => return Err(io(e)),
        (Ok(None), Ok(())) => {
            return Err(ControlError::NoAnswer {
                path: path.to_path_buf(),
            });
        }
    };
    let resp: Response<serde_json::Value> =
        serde_json::from_str(&answer).map_err(|e| ControlError::BadAnswer {
            path: path.to_path_buf(),
            source: e,
        })?;
    if !resp.ok {
        return Err(ControlError::Refused {
            path: path.to_path_buf(),
            message: resp.error.unwrap_or_default(),
        });
    }
    Ok(resp.status.unwrap_or(serde_json::Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[derive(Serialize)]
    struct Snapshot {
        instances: Vec<serde_json::Value>,
        calls: u32,
    }

    #[test]
    fn socket_is_0600_answers_status_and_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.sock");
        rt().block_on(async {
            let server = ControlServer::bind(&path).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
            let calls = std::cell::Cell::new(0);
            let serve = server.serve(|| {
                calls.set(calls.get() + 1);
                Snapshot {
                    instances: vec![serde_json::json!({"name": "VI_1", "state": "MASTER"})],
                    calls: calls.get(),
                }
            });
            let client = async {
                let a = request(&path, &Request::Status).await.unwrap();
                let b = request(&path, &Request::Status).await.unwrap();
                (a, b)
            };
            let (a, b) = tokio::select! {
                r = client => r,
                _ = serve => unreachable!("serve never returns"),
            };
            assert_eq!(a["instances"][0]["state"], "MASTER");
            assert_eq!(a["calls"], 1);
            assert_eq!(b["calls"], 2);
            drop(server);
        });
        assert!(!path.exists());
    }

    #[test]
    fn unknown_and_malformed_requests_get_an_error_line_and_the_connection_survives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        rt().block_on(async {
            let server = ControlServer::bind(&path).unwrap();
            let client = async {
                let stream = UnixStream::connect(&path).await.unwrap();
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut ask = async |q: &str| {
                    write.write_all(format!("{q}\n").as_bytes()).await.unwrap();
                    let l = lines.next_line().await.unwrap().unwrap();
                    serde_json::from_str::<serde_json::Value>(&l).unwrap()
                };
                let a = ask(r#"{"cmd":"reboot"}"#).await;
                let b = ask("not json").await;
                let c = ask(r#"{"cmd":"status"}"#).await;
                (a, b, c)
            };
            let (a, b, c) = tokio::select! {
                r = client => r,
                _ = server.serve(|| 5u8) => unreachable!(),
            };
            assert_eq!(a["ok"], false);
            assert_eq!(a["error"], "unknown command 'reboot'");
            assert_eq!(b["ok"], false);
            assert!(b["error"].as_str().unwrap().starts_with("bad request"));
            assert_eq!(c["ok"], true);
            assert_eq!(c["status"], 5);
        });
    }

    #[test]
    fn a_live_socket_is_not_stolen_but_a_dead_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        rt().block_on(async {
            let _first = ControlServer::bind(&path).unwrap();
            assert!(matches!(
                ControlServer::bind(&path),
                Err(ControlError::InUse { .. })
            ));
        });
        // A socket file left by a crash: bound, then its listener closed without cleanup.
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        assert!(stale.exists());
        rt().block_on(async {
            let server = ControlServer::bind(&stale).unwrap();
            assert_eq!(server.path(), stale);
            assert!(std::os::unix::net::UnixStream::connect(&stale).is_ok());
        });
    }

    #[test]
    fn a_stalled_client_does_not_hold_up_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        rt().block_on(async {
            let server = ControlServer::bind(&path).unwrap();
            let client = async {
                // One connects and sends half a request, another asks and never reads
                // (its answer is large enough to fill the socket buffer), a third sends
                // nothing at all.
                let mut half = UnixStream::connect(&path).await.unwrap();
                half.write_all(b"{\"cmd\":\"sta").await.unwrap();
                let mut deaf = UnixStream::connect(&path).await.unwrap();
                for _ in 0..64 {
                    deaf.write_all(b"{\"cmd\":\"status\"}\n").await.unwrap();
                }
                let _silent = UnixStream::connect(&path).await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
                let t = std::time::Instant::now();
                let v = request(&path, &Request::Status).await.unwrap();
                (v, t.elapsed(), half, deaf)
            };
            let big = "x".repeat(64 * 1024);
            let (v, took, _half, _deaf) = tokio::select! {
                r = client => r,
                _ = server.serve(|| big.clone()) => unreachable!(),
            };
            assert_eq!(v.as_str().map(str::len), Some(64 * 1024));
            assert!(took < Duration::from_millis(500), "status took {took:?}");
        });
    }

    /// The status of 20,000 instances is megabytes: it arrives whole at a client that keeps
    /// reading, however much longer than the write deadline the whole takes.
    #[test]
    fn a_status_of_any_size_is_streamed_whole_to_a_reader_that_keeps_reading() {
        use tokio::io::AsyncReadExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sock");
        rt().block_on(async {
            let write = Duration::from_millis(100);
            let server = ControlServer::bind(&path)
                .unwrap()
                .with_deadlines(Deadlines {
                    idle: IDLE_TIMEOUT,
                    write,
                });
            let instances: Vec<serde_json::Value> = (0..20_000)
                .map(|i| {
                    serde_json::json!({
                        "name": format!("VI_{i}"), "state": "MASTER",
                        "counters": {"adverts_sent": i, "transitions": {"to_master": 1}},
                        "vips": [format!("10.200.{}.{}/32", i / 250, i % 250 + 1)],
                    })
                })
                .collect();
            let snapshot = Snapshot {
                instances,
                calls: 0,
            };
            let client = async {
                let mut stream = UnixStream::connect(&path).await.unwrap();
                stream.write_all(b"{\"cmd\":\"status\"}\n").await.unwrap();
                let t = std::time::Instant::now();
                let mut answer = Vec::new();
                let mut chunk = vec![0u8; 32 * 1024];
                while !answer.ends_with(b"\n") {
                    let n = stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "cut short after {} bytes", answer.len());
                    answer.extend_from_slice(&chunk[..n]);
                    // A slow reader: far slower overall than the write deadline.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (answer, t.elapsed())
            };
            let (answer, took) = tokio::select! {
                r = client => r,
                _ = server.serve(|| &snapshot) => unreachable!(),
            };
            assert!(answer.len() > 2 * 1024 * 1024, "{} bytes", answer.len());
            assert!(took > write * 3, "the answer took only {took:?}");
            let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(v["ok"], true);
            let got = v["status"]["instances"].as_array().unwrap();
            assert_eq!(got.len(), 20_000);
            assert_eq!(got[19_999]["name"], "VI_19999");
        });
    }

    #[test]
    fn a_client_that_never_asks_is_dropped_after_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.sock");
        rt().block_on(async {
            let idle = Duration::from_millis(200);
            let server = ControlServer::bind(&path)
                .unwrap()
                .with_deadlines(Deadlines {
                    idle,
                    write: WRITE_TIMEOUT,
                });
            let client = async {
                let stream = UnixStream::connect(&path).await.unwrap();
                let (read, _write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let t = std::time::Instant::now();
                let closed = tokio::time::timeout(idle * 10, lines.next_line()).await;
                matches!(closed, Ok(Ok(None))) && t.elapsed() >= idle
            };
            let closed = tokio::select! {
                r = client => r,
                _ = server.serve(|| 1u8) => unreachable!(),
            };
            assert!(closed, "the idle client was not dropped");
        });
    }

    #[test]
    fn beyond_the_client_limit_a_client_is_told_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.sock");
        rt().block_on(async {
            let server = ControlServer::bind(&path).unwrap();
            let client = async {
                let mut held = Vec::new();
                for _ in 0..MAX_CLIENTS {
                    held.push(UnixStream::connect(&path).await.unwrap());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                let refused = request(&path, &Request::Status).await;
                drop(held);
                tokio::time::sleep(Duration::from_millis(50)).await;
                let served = request(&path, &Request::Status).await;
                (refused, served)
            };
            let (refused, served) = tokio::select! {
                r = client => r,
                _ = server.serve(|| 2u8) => unreachable!(),
            };
            match refused {
                Err(ControlError::Refused { message, .. }) => {
                    assert_eq!(message, "busy: too many clients")
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(served.unwrap(), 2);
        });
    }

    #[test]
    fn client_reports_a_missing_daemon_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.sock");
        let err = rt().block_on(request(&path, &Request::Status)).unwrap_err();
        assert!(err.to_string().contains("none.sock"), "{err}");
    }
}
