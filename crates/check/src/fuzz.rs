//! The properties the fuzz targets check on the checkers' parsers (fuzz/fuzz_targets/
//! check_*.rs), and their corpus replay under plain `cargo test`
//! (crates/check/tests/fuzz_corpus.rs). Each returns whether the input was accepted, so
//! the replay can tell its seeds reach past the first checks. Any input may be given; a
//! panic is a finding.

use md5::{Digest, Md5};

use crate::dns;
use crate::http::response::{MAX_HEAD, ResponseReader, content_length, status_code};
use crate::ping;
use crate::smtp;
use crate::spec::RegexCheck;

/// `[split][HTTP response bytes]`: the response is fed in two pieces split at `split`
/// (modulo its length); the result must not depend on the split, the digest must be the
/// MD5 of the body up to Content-Length, and a found regex must really be in the body.
pub fn http_response(data: &[u8]) -> bool {
    let Some((&split, response)) = data.split_first() else {
        return false;
    };
    static REGEX: std::sync::OnceLock<RegexCheck> = std::sync::OnceLock::new();
    let regex = REGEX.get_or_init(|| RegexCheck {
        pattern: "ok|ready".into(),
        regex: regex::bytes::Regex::new("(?-u)ok|ready").expect("a fixed pattern"),
        no_match: false,
        min_offset: 0,
        max_offset: None,
    });
    let whole = read(&[response], regex);
    let at = usize::from(split) % (response.len() + 1);
    let parts = read(&[&response[..at], &response[at..]], regex);
    let bytewise: Vec<&[u8]> = response.chunks(1).collect();
    let bytes = read(&bytewise, regex);
    assert_eq!(whole, parts, "same response, other split");
    assert_eq!(whole, bytes, "same response, byte by byte");
    let Some(r) = whole else {
        return false;
    };
    if !r.head_complete {
        return false;
    }
    let head_len = r.head.len();
    assert!(head_len <= MAX_HEAD + 4 + response.len());
    let body = &response[head_len..];
    assert_eq!(r.body_bytes, body.len() as u64);
    let hashed = match r.content_length {
        Some(len) => &body[..usize::try_from(len).unwrap_or(usize::MAX).min(body.len())],
        None => body,
    };
    let want: [u8; 16] = Md5::digest(hashed).into();
    assert_eq!(r.digest, Some(want));
    if r.regex_matched {
        assert!(regex.regex.is_match(body), "a regex match outside the body");
    }
    assert_eq!(r.status, status_code(&r.head));
    assert_eq!(r.content_length, content_length(&r.head));
    true
}

fn read(parts: &[&[u8]], regex: &RegexCheck) -> Option<crate::http::Response> {
    let mut reader = ResponseReader::new(true, Some(regex));
    for p in parts {
        reader.feed(p).ok()?;
    }
    Some(reader.finish())
}

/// `[name length][name text][datagram]`: a query for the name (when it encodes) and any
/// datagram judged as its answer; an answer built for the query is ours and says NOERROR.
pub fn dns_reply(data: &[u8]) -> bool {
    let Some((&n, rest)) = data.split_first() else {
        return false;
    };
    let n = usize::from(n).min(rest.len());
    let (name, datagram) = rest.split_at(n);
    let name = String::from_utf8_lossy(name);
    let Ok(wire) = dns::encode_name(&name) else {
        return false;
    };
    let query = dns::query(0x5a5a, &wire, 6);
    let _ = dns::check_reply(&query, datagram);
    assert_eq!(
        dns::check_reply(&query, &dns::answer(&query, 0)),
        dns::Reply::NoError
    );
    assert_eq!(
        dns::check_reply(&query, &dns::answer(&query, 2)),
        dns::Reply::Error(2)
    );
    true
}

/// SMTP reply lines: parsing never panics, never uses more than it was given, and a
/// complete reply parses the same with anything after it.
pub fn smtp_reply(data: &[u8]) -> bool {
    let Some((reply, used)) = smtp::parse_reply(data) else {
        return false;
    };
    assert!(used > 0 && used <= data.len());
    let mut more = data[..used].to_vec();
    more.extend_from_slice(b"250 more\r\n");
    let again = smtp::parse_reply(&more);
    assert_eq!(again, Some((reply.clone(), used)));
    reply.code.is_some()
}

/// `[flags][ICMP message]`: bit 0 chooses IPv6; classifying never panics, and the reply
/// to our own request (type flipped) is ours.
pub fn icmp(data: &[u8]) -> bool {
    let Some((&flags, msg)) = data.split_first() else {
        return false;
    };
    let v6 = flags & 1 != 0;
    let _ = ping::classify(msg, v6, Some(7), 9);
    let _ = ping::classify(msg, v6, None, 9);
    let mut reply = ping::echo_request(v6, true, 7, 9);
    reply[0] = if v6 { 129 } else { 0 };
    assert_eq!(ping::classify(&reply, v6, Some(7), 9), ping::Echo::Ours);
    msg.len() >= 8
}
