//! `auth_hmac { key ID VALUE; active_key ID; anti_replay …; time_window S; mode … }` as
//! written, and keepalived's key encodings (`hex:…`, `file:PATH`, plain ASCII). Keys named
//! by `file:` are read later, through the host (`resolve::auth_hmac::read_key_files`); the
//! defaults and rules that depend on the rest of the instance are applied by
//! `resolve::auth_hmac`.

use std::path::PathBuf;

use crate::diag::Code;
use crate::model::{AntiReplay, HmacMode, Span};
use crate::parse::cx::{At, Cx};
use crate::syntax::Stmt;

/// Where a key's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawKeyValue {
    /// Already decoded (hex or ASCII).
    Bytes(Vec<u8>),
    /// `file:PATH`: a `hex:` string or ASCII, read through the host.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub(crate) struct RawKey {
    pub id: u8,
    pub value: RawKeyValue,
    pub span: Span,
}

/// The block as written.
#[derive(Debug, Clone)]
pub(crate) struct RawAuthHmac {
    pub span: Span,
    pub keys: Vec<RawKey>,
    pub active_key: Option<At<u8>>,
    pub anti_replay: Option<AntiReplay>,
    pub time_window: Option<u32>,
    pub mode: Option<At<HmacMode>>,
}

/// Decode a key as keepalived does: `hex:` followed by hex digits (either case, bytes may
/// be separated by spaces or tabs, a lone digit before a separator is one byte), anything
/// else as its ASCII bytes. Invalid hex gives `None`.
pub(crate) fn decode_key(text: &str) -> Option<Vec<u8>> {
    let Some(hex) = text.strip_prefix("hex:") else {
        return Some(text.as_bytes().to_vec());
    };
    let digits = hex.as_bytes();
    let mut out = Vec::with_capacity(digits.len() / 2);
    let mut i = 0;
    while i < digits.len() {
        if matches!(digits[i], b' ' | b'\t') {
            i += 1;
            continue;
        }
        let hi = (digits[i] as char).to_digit(16)?;
        match digits.get(i + 1).and_then(|d| (*d as char).to_digit(16)) {
            Some(lo) => {
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            None => {
                // A single digit is a byte only when a separator (or the end) follows it.
                if let Some(c) = digits.get(i + 1)
                    && !matches!(c, b' ' | b'\t')
                {
                    return None;
                }
                out.push(hi as u8);
                i += 1;
            }
        }
    }
    Some(out)
}

pub(crate) fn auth_hmac(cx: &mut Cx<'_>, stmt: &Stmt, name: &str) -> Option<RawAuthHmac> {
    cx.at_most(stmt, 0);
    let lines = cx.block(stmt)?;
    let mut r = RawAuthHmac {
        span: stmt.keyword().span.clone(),
        keys: Vec::new(),
        active_key: None,
        anti_replay: None,
        time_window: None,
        mode: None,
    };
    for line in lines {
        let kw = line.keyword();
        match kw.text.as_str() {
            "key" => key(cx, line, name, &mut r),
            "active_key" => {
                cx.no_block(line);
                if let Some(id) = cx.int_arg(line, 1, 255) {
                    r.active_key = Some(At::new(id as u8, kw));
                }
            }
            "anti_replay" => {
                cx.no_block(line);
                cx.at_most(line, 1);
                let Some(tok) = cx.arg(line, 0) else { continue };
                r.anti_replay = match tok.text.as_str() {
                    "time" => Some(AntiReplay::Time),
                    "monotonic" => Some(AntiReplay::Monotonic),
                    t => {
                        cx.report(
                            Code::InvalidValue,
                            tok,
                            format!("({name}) anti_replay '{t}' is not time or monotonic"),
                        );
                        continue;
                    }
                };
            }
            "time_window" => {
                cx.no_block(line);
                if let Some(w) = cx.int_arg(line, 1, 300) {
                    r.time_window = Some(w as u32);
                }
            }
            "mode" => {
                cx.no_block(line);
                cx.at_most(line, 1);
                let Some(tok) = cx.arg(line, 0) else { continue };
                let mode = match tok.text.as_str() {
                    "enforce" => HmacMode::Enforce,
                    "permissive" => HmacMode::Permissive,
                    "receive-only" => HmacMode::ReceiveOnly,
                    t => {
                        cx.report(
                            Code::InvalidValue,
                            tok,
                            format!(
                                "({name}) auth_hmac mode '{t}' is not enforce, permissive or receive-only"
                            ),
                        );
                        continue;
                    }
                };
                r.mode = Some(At::new(mode, tok));
            }
            _ => cx.unknown(line, "auth_hmac"),
        }
    }
    Some(r)
}

fn key(cx: &mut Cx<'_>, line: &Stmt, name: &str, r: &mut RawAuthHmac) {
    cx.no_block(line);
    let Some(id_tok) = cx.arg(line, 0) else {
        return;
    };
    let Some(id) = cx.int(id_tok, 1, 255, "key id") else {
        return;
    };
    let id = id as u8;
    let words = &line.args()[1..];
    let Some(first) = words.first() else {
        cx.report(
            Code::MissingArgument,
            id_tok,
            format!("({name}) auth_hmac key {id} has no value"),
        );
        return;
    };
    // keepalived takes the rest of the line; hex bytes may be written apart.
    let text = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let value = if let Some(path) = text.strip_prefix("file:") {
        RawKeyValue::File(PathBuf::from(path))
    } else {
        match decode_key(&text) {
            Some(bytes) => RawKeyValue::Bytes(bytes),
            None => {
                cx.report(
                    Code::AuthHmacInvalid,
                    first,
                    format!("({name}) auth_hmac key {id}: '{text}' is not valid hex; key ignored"),
                );
                return;
            }
        }
    };
    if r.keys.iter().any(|k| k.id == id) {
        cx.report(
            Code::AuthHmacInvalid,
            id_tok,
            format!("({name}) auth_hmac key {id} defined again; the first one is kept"),
        );
        return;
    }
    r.keys.push(RawKey {
        id,
        value,
        span: first.span.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_as_keepalived_reads_them() {
        assert_eq!(decode_key("hex:0aFF"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_key("hex:0a ff\t01"), Some(vec![0x0a, 0xff, 0x01]));
        // A lone digit before a separator is one byte.
        assert_eq!(decode_key("hex:a 0b"), Some(vec![0x0a, 0x0b]));
        assert_eq!(decode_key("hex:0g"), None);
        assert_eq!(decode_key("secret"), Some(b"secret".to_vec()));
        assert_eq!(decode_key("hex:"), Some(vec![]));
    }
}
