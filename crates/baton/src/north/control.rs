//! The control socket: a Unix stream socket, mode 0600 and root (or our own user) only, that
//! answers one JSON request per line with one JSON response per line. `baton status` is its
//! client. The status payload is whatever serde value the caller supplies (the protocol core's
//! snapshot), so this module knows nothing about VRRP.
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
/// A client that sends nothing for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

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
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answer clients until the task is dropped. `status` produces the current snapshot; it
    /// is called once per status request, on this task, so it may borrow the daemon's state
    /// through whatever the caller closes over. Clients are served one at a time: answers are
    /// small and this keeps the daemon single-threaded.
    pub async fn serve<S, F>(&self, mut status: F)
    where
        S: Serialize,
        F: FnMut() -> S,
    {
        self.serve_async(async || status()).await
    }

    /// [`ControlServer::serve`] with a snapshot that takes a moment to produce: the daemon's
    /// loop asks its own event loop for it over a channel, so the state never needs sharing.
    pub async fn serve_async<S, F>(&self, mut status: F)
    where
        S: Serialize,
        F: AsyncFnMut() -> S,
    {
        let me = nix::unistd::geteuid().as_raw();
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("control socket {}: accept: {e}", self.path.display());
                    tokio::time::sleep(Duration::from_millis(100)).await;
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
            if let Err(e) =
                tokio::time::timeout(IDLE_TIMEOUT, handle_client(stream, &mut status)).await
            {
                tracing::debug!("control socket: client idle, dropped: {e}");
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn handle_client<S: Serialize>(stream: UnixStream, status: &mut impl AsyncFnMut() -> S) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(MAX_REQUEST as u64 * 16)).lines();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!("control socket: read: {e}");
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
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
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
    write.write_all(line.as_bytes()).await.map_err(io)?;
    let mut lines = BufReader::new(read).lines();
    let answer = lines
        .next_line()
        .await
        .map_err(io)?
        .ok_or_else(|| ControlError::NoAnswer {
            path: path.to_path_buf(),
        })?;
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
            let mut calls = 0;
            let serve = server.serve(|| {
                calls += 1;
                Snapshot {
                    instances: vec![serde_json::json!({"name": "VI_1", "state": "MASTER"})],
                    calls,
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
    fn client_reports_a_missing_daemon_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.sock");
        let err = rt().block_on(request(&path, &Request::Status)).unwrap_err();
        assert!(err.to_string().contains("none.sock"), "{err}");
    }
}
