//! HTTP/1.1 for the demo's client, backends and built-in proxy, on hyper: one request per
//! connection (`Connection: close`), as the seed's clients and nginx's upstreams use it here.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HOST, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest response body accepted (the backends answer a dozen bytes).
pub const MAX_BODY: usize = 256 * 1024;
/// The header the load balancers add to say which of them served a request.
pub const LB_HEADER: &str = "X-LB";
/// What the demo's requests say they are.
const USER_AGENT: &str = "baton-demo";

/// A response as the client cares about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `X-LB` header: which load balancer answered.
    pub lb: Option<String>,
    pub body: String,
}

/// Why a request got no answer, for counting failures by kind.
#[derive(Debug)]
pub enum Error {
    /// The connection failed (refused, reset, unreachable, …).
    Io(io::Error),
    /// The server closed the connection before a whole answer.
    Closed,
    /// Something that is not an HTTP/1.x answer, or one too long.
    Garbled(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Closed => f.write_str("connection closed before the whole answer"),
            Error::Garbled(why) => write!(f, "not an HTTP answer: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<hyper::Error> for Error {
    fn from(e: hyper::Error) -> Error {
        if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
            return Error::Closed;
        }
        // An IO error under hyper's (reset, broken pipe) keeps its kind.
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<io::Error>() {
                return Error::Io(io::Error::new(io.kind(), io.to_string()));
            }
            source = s.source();
        }
        Error::Garbled(e.to_string())
    }
}

/// `GET /` to `host` over `conn`, the whole answer read (up to the close).
pub async fn get(conn: TcpStream, host: &str) -> Result<Response, Error> {
    let request = Request::get("/")
        .header(HOST, host)
        .header(hyper::header::USER_AGENT, USER_AGENT)
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| Error::Garbled(e.to_string()))?;
    let answer = send(conn, request).await?;
    let (parts, body) = answer.into_parts();
    Ok(Response {
        status: parts.status.as_u16(),
        lb: parts
            .headers
            .get(LB_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Send one request on a fresh connection and read the whole answer.
pub async fn send<B>(conn: TcpStream, request: Request<B>) -> Result<hyper::Response<Bytes>, Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(conn)).await?;
    // The connection's task ends when the answer is read and the server closes.
    let driver = tokio::spawn(connection);
    let answer = sender.send_request(request).await?;
    let (parts, body) = answer.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| match e.downcast::<hyper::Error>() {
            Ok(h) => Error::from(*h),
            Err(other) => Error::Garbled(other.to_string()),
        })?
        .to_bytes();
    drop(sender);
    let _ = tokio::time::timeout(Duration::from_secs(1), driver).await;
    Ok(hyper::Response::from_parts(parts, body))
}

/// A complete answer with `status`, a text body, and `X-LB: lb` when given.
pub fn answer(status: StatusCode, body: String, lb: Option<&str>) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    if let Some(lb) = lb.and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(LB_HEADER, lb);
    }
    r
}

/// An incoming request's body, read whole (the demo's requests have none).
pub async fn read_body(body: Incoming) -> Result<Bytes, Error> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| Error::Garbled(e.to_string()))
}
