//! `HTTP_GET { … }` and `SSL_GET { … }` with their `url { … }` blocks (keepalived's
//! check_http.c).

use super::RawTimings;
use crate::diag::{Code, Severity};
use crate::lvs::{HttpProtocol, HttpUrl, UrlRegex};
use crate::model::Span;
use crate::parse::cx::Cx;
use crate::syntax::Stmt;

/// keepalived's PCRE2 options for `regex_options`.
pub(crate) const REGEX_OPTIONS: &[&str] = &[
    "allow_empty_class",
    "alt_bsux",
    "auto_callout",
    "caseless",
    "dollar_endonly",
    "dotall",
    "dupnames",
    "extended",
    "firstline",
    "match_unset_backref",
    "multiline",
    "never_ucp",
    "never_utf",
    "no_auto_capture",
    "no_auto_possess",
    "no_dotstar_anchor",
    "no_start_optimize",
    "ucp",
    "ungreedy",
    "utf",
    "never_backslash_c",
    "alt_circumflex",
    "alt_verbnames",
    "use_offset_limit",
];

/// An HTTP_GET or SSL_GET as written; URL virtual hosts are resolved later.
#[derive(Debug, Clone)]
pub(crate) struct RawHttp {
    pub tls: bool,
    pub urls: Vec<HttpUrl>,
    pub virtualhost: Option<String>,
    pub protocol: HttpProtocol,
    pub enable_sni: bool,
    pub sni_name: Option<String>,
    pub fast_recovery: bool,
    pub tls_compliant: bool,
}

impl RawHttp {
    pub fn new(tls: bool) -> RawHttp {
        RawHttp {
            tls,
            urls: Vec::new(),
            virtualhost: None,
            protocol: HttpProtocol::default(),
            enable_sni: false,
            sni_name: None,
            fast_recovery: false,
            tls_compliant: false,
        }
    }

    fn name(&self) -> &'static str {
        if self.tls { "SSL_GET" } else { "HTTP_GET" }
    }
}

/// A keyword of HTTP_GET / SSL_GET other than the common checker ones.
pub(crate) fn keyword(cx: &mut Cx<'_>, line: &Stmt, h: &mut RawHttp, timings: &mut RawTimings) {
    let kw = line.keyword();
    match kw.text.as_str() {
        "nb_get_retry" => {
            cx.report(
                Code::Deprecated,
                kw,
                "nb_get_retry is a deprecated name of retry",
            );
            if let Some(r) = cx.int_arg(line, 0, i64::from(u32::MAX)) {
                timings.retry = Some(r as u32);
            }
        }
        "virtualhost" => h.virtualhost = cx.string_arg(line).map(|s| s.v),
        "http_protocol" => {
            if let Some(a) = cx.string_arg(line) {
                h.protocol = match a.v.as_str() {
                    "1.0" => HttpProtocol::Http10,
                    "1.1" => HttpProtocol::Http11,
                    "1.0C" | "1.0c" => HttpProtocol::Http10Close,
                    _ => {
                        cx.report(
                            Code::InvalidValue,
                            &line.args()[0],
                            format!("'{}' is not an http_protocol (1.0, 1.0C or 1.1)", a.v),
                        );
                        return;
                    }
                };
            }
        }
        "enable_sni" => {
            if let Some(b) = cx.bool_arg(line) {
                h.enable_sni = b;
            }
        }
        "sni_name" => {
            cx.no_block(line);
            cx.at_most(line, 1);
            match line.args().first() {
                Some(n) => h.sni_name = Some(n.text.clone()),
                None if h.sni_name.is_some() => {
                    cx.report(
                        Code::Duplicate,
                        kw,
                        "sni_name without a name after one with a name; the name counts",
                    );
                }
                None => {}
            }
            h.enable_sni = true;
        }
        "fast_recovery" => {
            if let Some(b) = cx.bool_arg(line) {
                h.fast_recovery = b;
            }
        }
        "tls_compliant" if h.tls => {
            if let Some(b) = cx.bool_arg(line) {
                h.tls_compliant = b;
            }
        }
        "url" => {
            cx.at_most(line, 0);
            if let Some(lines) = cx.block(line)
                && let Some(u) = url(cx, line, lines, h.tls)
            {
                h.urls.push(u);
            }
        }
        _ => cx.unknown(line, h.name()),
    }
}

fn url(cx: &mut Cx<'_>, stmt: &Stmt, lines: &[Stmt], tls: bool) -> Option<HttpUrl> {
    let mut u = HttpUrl {
        path: String::new(),
        digest: None,
        status_codes: Vec::new(),
        virtualhost: None,
        regex: None,
        tls_compliant: false,
        span: stmt.keyword().span.clone(),
    };
    let mut path_given = false;
    let mut regex: Option<String> = None;
    let mut options: Vec<String> = Vec::new();
    let mut no_match = false;
    let mut min_offset: usize = 0;
    let mut max_offset: Option<usize> = None;
    let mut stack: Option<(u64, u64)> = None;
    let mut regex_params: Option<Span> = None;
    for line in lines {
        let kw = line.keyword();
        match kw.text.as_str() {
            "path" => {
                if let Some(p) = cx.string_arg(line) {
                    u.path = p.v;
                    path_given = true;
                }
            }
            "digest" => {
                let Some(d) = cx.string_arg(line) else {
                    continue;
                };
                if u.digest.is_some() {
                    cx.report(
                        Code::Duplicate,
                        kw,
                        "digest given again; the first one counts",
                    );
                    continue;
                }
                match md5_hex(&d.v) {
                    Some(b) => u.digest = Some(b),
                    None => cx.report(
                        Code::InvalidValue,
                        &line.args()[0],
                        format!("digest '{}' is not 32 hex digits (an MD5 sum)", d.v),
                    ),
                }
            }
            "status_code" => {
                cx.no_block(line);
                if line.args().is_empty() {
                    cx.arg(line, 0);
                }
                for a in line.args() {
                    match status_range(&a.text) {
                        Some(r) => u.status_codes.push(r),
                        None => cx.report(
                            Code::InvalidValue,
                            a,
                            format!(
                                "status_code '{}' is not a code or range within 100..599; skipped",
                                a.text
                            ),
                        ),
                    }
                }
            }
            "virtualhost" => u.virtualhost = cx.string_arg(line).map(|s| s.v),
            "regex" => {
                if let Some(r) = cx.string_arg(line) {
                    if regex.is_some() {
                        cx.report(Code::Duplicate, kw, "regex given again; this one counts");
                    }
                    regex = Some(r.v);
                }
            }
            "regex_no_match" => {
                cx.flag(line);
                no_match = true;
                regex_params.get_or_insert(kw.span.clone());
            }
            "regex_options" => {
                cx.no_block(line);
                regex_params.get_or_insert(kw.span.clone());
                for a in line.args() {
                    if REGEX_OPTIONS.contains(&a.text.as_str()) {
                        options.push(a.text.clone());
                    } else {
                        cx.report(
                            Code::InvalidValue,
                            a,
                            format!("'{}' is not a regex option; ignored", a.text),
                        );
                    }
                }
            }
            "regex_min_offset" | "regex_max_offset" => {
                regex_params.get_or_insert(kw.span.clone());
                if let Some(v) = cx.int_arg(line, 0, i64::from(u32::MAX)) {
                    if kw.text == "regex_min_offset" {
                        min_offset = v as usize;
                    } else {
                        max_offset = Some(v as usize);
                    }
                }
            }
            "regex_stack" => {
                cx.no_block(line);
                cx.at_most(line, 2);
                regex_params.get_or_insert(kw.span.clone());
                let (Some(s), Some(m)) = (cx.arg(line, 0), cx.arg(line, 1)) else {
                    continue;
                };
                let (Some(s), Some(m)) = (
                    cx.int(s, 0, i64::MAX, "regex_stack start"),
                    cx.int(m, 0, i64::MAX, "regex_stack max"),
                ) else {
                    continue;
                };
                if s > m {
                    cx.report(
                        Code::InvalidValue,
                        kw,
                        "regex_stack start is above its max; ignored",
                    );
                } else {
                    stack = Some((s as u64, m as u64));
                }
            }
            "tls_compliant" if tls => {
                if let Some(b) = cx.bool_arg(line) {
                    u.tls_compliant = b;
                }
            }
            _ => cx.unknown(line, "url"),
        }
    }
    if !path_given {
        cx.report(
            Code::CheckerInvalid,
            stmt.keyword(),
            "url has no path; ignored",
        );
        return None;
    }
    if u.status_codes.is_empty() {
        u.status_codes.push((200, 299));
    }
    match regex {
        Some(pattern) => {
            if max_offset.is_some_and(|max| min_offset > max) {
                cx.report_sev(
                    Code::InvalidValue,
                    Severity::Warning,
                    stmt.keyword(),
                    "regex_min_offset is above regex_max_offset; both ignored",
                );
                min_offset = 0;
                max_offset = None;
            }
            u.regex = Some(UrlRegex {
                pattern,
                options,
                no_match,
                min_offset,
                max_offset,
                stack,
            });
        }
        None => {
            if let Some(span) = regex_params {
                cx.diags.push(
                    crate::diag::Diagnostic::new(
                        Code::InvalidValue,
                        span,
                        "regex options without a regex; ignored",
                    )
                    .with_severity(Severity::Warning),
                );
            }
        }
    }
    Some(u)
}

/// `N` or `N-M` within 100..=599.
fn status_range(s: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let v = s.parse().ok()?;
            (v, v)
        }
    };
    ((100..=599).contains(&lo) && (100..=599).contains(&hi) && lo <= hi).then_some((lo, hi))
}

fn md5_hex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_codes_or_ranges() {
        assert_eq!(status_range("200"), Some((200, 200)));
        assert_eq!(status_range("400-499"), Some((400, 499)));
        assert_eq!(status_range("99"), None);
        assert_eq!(status_range("500-600"), None);
        assert_eq!(status_range("300-200"), None);
        assert_eq!(status_range("2xx"), None);
    }

    #[test]
    fn digests_are_md5_hex() {
        let d = md5_hex("640205b7b0fc66c1ea91c463fac6334d").unwrap();
        assert_eq!(d[0], 0x64);
        assert_eq!(d[15], 0x4d);
        assert_eq!(md5_hex("640205b7"), None);
        assert_eq!(md5_hex("g40205b7b0fc66c1ea91c463fac6334d"), None);
    }
}
