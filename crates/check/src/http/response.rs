//! An HTTP/1.x response read as keepalived reads it, fed in pieces as they arrive: the
//! head up to the blank line, then every byte after it until the server closes.
//!
//! This is a hand parser rather than hyper's client on purpose: keepalived's `digest` is the
//! MD5 of the bytes after the head *as they come off the wire* (chunked framing included,
//! cut at `Content-Length` when there is one), and `genhash` must print the same digest
//! for the same page. A client that decodes the transfer encoding would hash something
//! else.

use md5::{Digest, Md5};

use crate::spec::RegexCheck;

/// A head longer than this is refused (keepalived's limit is its 4 KiB read buffer).
pub const MAX_HEAD: usize = 16 * 1024;

/// How much of the body is kept between reads so that a regex match spanning two reads is
/// still found (keepalived keeps up to its 4 KiB buffer for a partial match).
const REGEX_OVERLAP: usize = 4096;

/// The response head did not end within [`MAX_HEAD`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response head longer than {MAX_HEAD} bytes")]
pub struct HeadTooLarge;

/// What was read, once the server closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The blank line ending the head was seen (keepalived: "no data received" if not).
    pub head_complete: bool,
    /// The status code, when the status line has one where keepalived looks.
    pub status: Option<u16>,
    /// `Content-Length`, when given as a plain number.
    pub content_length: Option<u64>,
    /// Bytes received after the head.
    pub body_bytes: u64,
    /// MD5 of the body (up to `Content-Length`), when asked for.
    pub digest: Option<[u8; 16]>,
    /// Whether the regex matched (false when there is none).
    pub regex_matched: bool,
    /// The head as received, for `genhash --verbose`.
    pub head: Vec<u8>,
    /// The start of the body, when asked for (`genhash --verbose`).
    pub body: Vec<u8>,
}

/// Reads one response.
#[derive(Debug)]
pub struct ResponseReader<'r> {
    head: Vec<u8>,
    head_complete: bool,
    status: Option<u16>,
    content_length: Option<u64>,
    body_bytes: u64,
    md5: Option<Md5>,
    regex: Option<RegexScan<'r>>,
    /// Keep up to this much of the body.
    keep_body: usize,
    body_copy: Vec<u8>,
}

impl<'r> ResponseReader<'r> {
    /// `digest`: compute the body's MD5. `regex`: look for it in the body.
    pub fn new(digest: bool, regex: Option<&'r RegexCheck>) -> ResponseReader<'r> {
        ResponseReader {
            head: Vec::new(),
            head_complete: false,
            status: None,
            content_length: None,
            body_bytes: 0,
            md5: digest.then(Md5::new),
            regex: regex.map(RegexScan::new),
            keep_body: 0,
            body_copy: Vec::new(),
        }
    }

    /// Also keep the first `limit` bytes of the body.
    pub fn keep_body(mut self, limit: usize) -> Self {
        self.keep_body = limit;
        self
    }

    /// Take the next bytes from the server.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), HeadTooLarge> {
        if self.head_complete {
            self.body(data);
            return Ok(());
        }
        // Look for the blank line from a little before the new bytes, in case it straddles.
        let from = self.head.len().saturating_sub(3);
        self.head.extend_from_slice(data);
        if let Some(end) = find_blank_line(&self.head[from..]) {
            let end = from + end;
            let body = self.head.split_off(end);
            self.head_complete = true;
            self.status = status_code(&self.head);
            self.content_length = content_length(&self.head);
            self.body(&body);
            Ok(())
        } else if self.head.len() > MAX_HEAD {
            Err(HeadTooLarge)
        } else {
            Ok(())
        }
    }

    fn body(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            let take = match self.content_length {
                Some(len) => {
                    let left = len.saturating_sub(self.body_bytes);
                    usize::try_from(left).unwrap_or(usize::MAX).min(data.len())
                }
                None => data.len(),
            };
            md5.update(&data[..take]);
        }
        if let Some(scan) = &mut self.regex {
            scan.feed(data);
        }
        let room = self.keep_body.saturating_sub(self.body_copy.len());
        self.body_copy
            .extend_from_slice(&data[..room.min(data.len())]);
        self.body_bytes += data.len() as u64;
    }

    /// The server closed: what was read.
    pub fn finish(self) -> Response {
        Response {
            head_complete: self.head_complete,
            status: self.status,
            content_length: self.content_length,
            body_bytes: self.body_bytes,
            digest: self.md5.map(|m| m.finalize().into()),
            regex_matched: self.regex.is_some_and(|r| r.matched),
            head: self.head,
            body: self.body_copy,
        }
    }
}

/// Index just past the first `\r\n\r\n`.
fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// keepalived's `extract_status_code`: the three digits after the first space of the
/// status line, followed by a space (or, more leniently, the end of the line).
pub fn status_code(head: &[u8]) -> Option<u16> {
    let line_end = head
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(head.len());
    let line = &head[..line_end];
    let space = line.iter().position(|&b| b == b' ')?;
    let rest = &line[space + 1..];
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match rest.get(3) {
        None | Some(b' ') => {}
        Some(_) => return None,
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Some(code)
}

/// The `Content-Length` header's value, when it is a plain number (keepalived ignores a
/// malformed one and reads to the end).
pub fn content_length(head: &[u8]) -> Option<u64> {
    const NAME: &[u8] = b"content-length:";
    head.split(|&b| b == b'\n')
        .skip(1)
        .find(|line| line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME))
        .and_then(|line| {
            let value = std::str::from_utf8(&line[NAME.len()..]).ok()?;
            value.trim().parse().ok()
        })
}

/// Looks for a regex in a body that arrives in pieces, holding only the last few KiB.
#[derive(Debug)]
struct RegexScan<'r> {
    check: &'r RegexCheck,
    /// The tail of the body not yet ruled out.
    window: Vec<u8>,
    /// Body offset of `window[0]`.
    base: usize,
    matched: bool,
    /// No match can come any more (past `regex_max_offset`).
    done: bool,
}

impl<'r> RegexScan<'r> {
    fn new(check: &'r RegexCheck) -> RegexScan<'r> {
        RegexScan {
            check,
            window: Vec::new(),
            base: 0,
            matched: false,
            done: false,
        }
    }

    fn feed(&mut self, data: &[u8]) {
        if self.matched || self.done {
            return;
        }
        self.window.extend_from_slice(data);
        // After the first window, its first byte is context only: it lets `^` and `\b`
        // see that the window does not start the body.
        let context = usize::from(self.base > 0);
        let start = context
            .max(self.check.min_offset.saturating_sub(self.base))
            .min(self.window.len());
        if let Some(m) = self.check.regex.find_at(&self.window, start) {
            let at = self.base + m.start();
            match self.check.max_offset {
                Some(max) if at > max => self.done = true,
                _ => self.matched = true,
            }
        } else if let Some(max) = self.check.max_offset
            && self.base + self.window.len() > max + REGEX_OVERLAP
        {
            self.done = true;
        }
        if self.matched || self.done {
            self.window = Vec::new();
            return;
        }
        if self.window.len() > REGEX_OVERLAP {
            let drop = self.window.len() - REGEX_OVERLAP;
            self.window.drain(..drop);
            self.base += drop;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]], digest: bool, regex: Option<&RegexCheck>) -> Response {
        let mut r = ResponseReader::new(digest, regex);
        for c in chunks {
            r.feed(c).unwrap();
        }
        r.finish()
    }

    fn md5_of(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    fn regex(pattern: &str, min: usize, max: Option<usize>, no_match: bool) -> RegexCheck {
        RegexCheck {
            pattern: pattern.into(),
            regex: regex::bytes::Regex::new(pattern).unwrap(),
            no_match,
            min_offset: min,
            max_offset: max,
        }
    }

    #[test]
    fn head_body_digest() {
        let r = read_all(
            &[b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello\n"],
            true,
            None,
        );
        assert!(r.head_complete);
        assert_eq!(r.status, Some(200));
        assert_eq!(r.content_length, None);
        assert_eq!(r.body_bytes, 6);
        assert_eq!(r.digest, Some(md5_of(b"hello\n")));
    }

    #[test]
    fn blank_line_split_across_reads() {
        let r = read_all(
            &[
                b"HTTP/1.0 404 Not Found\r\n",
                b"X: y\r",
                b"\n",
                b"\r",
                b"\nbody",
            ],
            true,
            None,
        );
        assert_eq!(r.status, Some(404));
        assert_eq!(r.digest, Some(md5_of(b"body")));
    }

    #[test]
    fn digest_stops_at_content_length_but_bytes_are_counted() {
        let r = read_all(
            &[b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcdef"],
            true,
            None,
        );
        assert_eq!(r.content_length, Some(3));
        assert_eq!(r.digest, Some(md5_of(b"abc")));
        assert_eq!(r.body_bytes, 6);
    }

    #[test]
    fn chunked_framing_is_hashed_as_received() {
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        let mut whole = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        whole.extend_from_slice(body);
        let r = read_all(&[&whole], true, None);
        assert_eq!(r.digest, Some(md5_of(body)));
    }

    #[test]
    fn status_codes_where_keepalived_looks() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_code(b"HTTP/1.1 503 "), Some(503));
        assert_eq!(status_code(b"HTTP/1.1 204\r\n"), Some(204));
        assert_eq!(status_code(b"HTTP/1.1 2000 OK"), None);
        assert_eq!(status_code(b"HTTP/1.1 20x OK"), None);
        assert_eq!(status_code(b"HTTP/1.1  200 OK"), None);
        assert_eq!(status_code(b"garbage"), None);
        assert_eq!(status_code(b""), None);
    }

    #[test]
    fn malformed_content_length_is_ignored() {
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"),
            Some(12)
        );
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n"),
            None
        );
        assert_eq!(
            content_length(b"Content-Length: 5\r\n"),
            None,
            "not a status line"
        );
    }

    #[test]
    fn no_blank_line_means_no_head() {
        let r = read_all(&[b"HTTP/1.1 200 OK\r\n"], true, None);
        assert!(!r.head_complete);
        let mut big = ResponseReader::new(false, None);
        let err = big.feed(&vec![b'a'; MAX_HEAD + 1]);
        assert_eq!(err, Err(HeadTooLarge));
    }

    #[test]
    fn regex_found_across_reads() {
        let re = regex("needle", 0, None, false);
        let head: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";
        let r = read_all(&[head, b"hay hay nee", b"dle hay"], false, Some(&re));
        assert!(r.regex_matched);
        let r = read_all(&[head, b"hay hay nee", b"xdle hay"], false, Some(&re));
        assert!(!r.regex_matched);
    }

    #[test]
    fn regex_found_far_into_a_large_body() {
        let re = regex("needle", 0, None, false);
        let mut r = ResponseReader::new(false, Some(&re));
        r.feed(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        for _ in 0..100 {
            r.feed(&[b'x'; 1000]).unwrap();
        }
        r.feed(b"..need").unwrap();
        r.feed(b"le..").unwrap();
        assert!(r.finish().regex_matched);
    }

    #[test]
    fn start_anchor_only_at_the_start_of_the_body() {
        let re = regex("^x", 0, None, false);
        let mut r = ResponseReader::new(false, Some(&re));
        r.feed(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        for _ in 0..10 {
            r.feed(&[b'y'; 5000]).unwrap();
            r.feed(b"x").unwrap();
        }
        assert!(!r.finish().regex_matched);
    }

    #[test]
    fn regex_offsets() {
        let head: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";
        let body: &[u8] = b"0123456789abc";
        // A match must start between min and max offset.
        let ok = |min, max| read_all(&[head, body], false, Some(&regex("a", min, max, false)));
        assert!(ok(0, None).regex_matched);
        assert!(ok(10, Some(10)).regex_matched);
        assert!(!ok(11, None).regex_matched);
        assert!(!ok(0, Some(9)).regex_matched);
    }
}
