//! Just enough HTTP/1.x for the demo's client, backends and built-in proxy: one request per
//! connection (`Connection: close`), heads read up to a blank line, bodies up to the close.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest request or response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest response accepted (the backends answer a dozen bytes).
pub const MAX_RESPONSE: usize = 256 * 1024;
/// The header the load balancers add to say which of them served a request.
pub const LB_HEADER: &str = "X-LB";

/// What the client sends: a fresh connection per request, closed by the server.
pub fn request(host: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: baton-demo\r\nConnection: close\r\n\r\n")
}

/// Read a head (request or response) up to and including the blank line. Returns the head
/// and whatever was read past it.
pub async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = find_blank_line(&buf) {
            let rest = buf.split_off(end);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the end of the head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Read until the peer closes, at most `limit` bytes.
pub async fn read_to_close<R: AsyncRead + Unpin>(r: &mut R, limit: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "answer too long",
            ));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// The index just past the first `\r\n\r\n`.
fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// A response as the client cares about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `X-LB` header: which load balancer answered.
    pub lb: Option<String>,
    pub body: String,
}

/// Parse a whole response (head and body, up to the close).
pub fn parse_response(bytes: &[u8]) -> Option<Response> {
    let end = find_blank_line(bytes)?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let lb = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case(LB_HEADER)
            .then(|| value.trim().to_string())
    });
    Some(Response {
        status,
        lb,
        body: String::from_utf8_lossy(&bytes[end..]).into_owned(),
    })
}

/// A complete `200 OK` answer carrying `body`.
pub fn ok_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A complete error answer (the built-in proxy's 502 when no backend answers).
pub fn error_response(status: u16, reason: &str, lb: &str) -> Vec<u8> {
    let body = format!("{status} {reason}\n");
    format!(
        "HTTP/1.1 {status} {reason}\r\n{LB_HEADER}: {lb}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `response` with `name: value` added after its status line (nginx's `add_header`).
pub fn add_header(response: &[u8], name: &str, value: &str) -> Option<Vec<u8>> {
    let eol = response.windows(2).position(|w| w == b"\r\n")? + 2;
    let mut out = Vec::with_capacity(response.len() + name.len() + value.len() + 4);
    out.extend_from_slice(&response[..eol]);
    out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    out.extend_from_slice(&response[eol..]);
    Some(out)
}

/// A request head as the proxy forwards it: the same request line and headers, but one
/// request per upstream connection (`Connection: close`).
pub fn forwardable_head(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next()?;
    if request_line.split(' ').count() != 3 {
        return None;
    }
    let mut out = String::with_capacity(head.len() + 32);
    out.push_str(request_line);
    out.push_str("\r\n");
    for l in lines {
        let name = l.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_read_with_its_balancer_and_body() {
        let r = add_header(&ok_response("backend 2\n"), LB_HEADER, "lb1").unwrap();
        let p = parse_response(&r).unwrap();
        assert_eq!(p.status, 200);
        assert_eq!(p.lb.as_deref(), Some("lb1"));
        assert_eq!(p.body, "backend 2\n");
        let bad = parse_response(&error_response(502, "Bad Gateway", "lb2")).unwrap();
        assert_eq!(bad.status, 502);
        assert_eq!(bad.lb.as_deref(), Some("lb2"));
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(parse_response(b"SSH-2.0-x\r\n\r\n"), None);
        let nginx = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nx-lb: lb2\r\n\r\nbackend 1\n";
        assert_eq!(parse_response(nginx).unwrap().lb.as_deref(), Some("lb2"));
    }

    #[test]
    fn the_proxy_forwards_one_request_per_connection() {
        let head = b"GET / HTTP/1.1\r\nHost: v\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n";
        let f = String::from_utf8(forwardable_head(head).unwrap()).unwrap();
        assert_eq!(f, "GET / HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n");
        assert_eq!(forwardable_head(b"nonsense\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn heads_end_at_the_blank_line() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nextra";
        let (head, rest) = read_head(&mut input).await.unwrap();
        assert_eq!(head, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(rest, b"extra");
        let mut cut: &[u8] = b"GET / HTTP/1.1\r\n";
        assert_eq!(
            read_head(&mut cut).await.unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut long: &[u8] = &[b'a'; 3 * MAX_HEAD];
        assert_eq!(
            read_head(&mut long).await.unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut big: &[u8] = &[b'b'; 100];
        assert!(read_to_close(&mut big, 50).await.is_err());
        let mut small: &[u8] = b"abc";
        assert_eq!(read_to_close(&mut small, 50).await.unwrap(), b"abc");
    }
}
