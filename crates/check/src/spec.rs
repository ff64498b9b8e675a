//! The configuration's checkers made ready to run. The configuration (baton-conf) decides
//! every keyword's meaning and default; this adds only what running needs and the
//! configuration cannot hold: compiled regexes, the TLS client, the `track_file` a
//! FILE_CHECK names, and keepalived's names of the servers for log lines.

use std::sync::Arc;

use baton_conf::{CheckKind, Checker, CheckerId, Config, HttpUrl, TrackFile};

use crate::tls::{TlsClient, TlsSettings};

/// One checker of one real server, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckerSpec {
    pub id: CheckerId,
    /// keepalived's name of the real server in log lines: `[10.0.0.21]:tcp:8080`.
    pub server: Arc<str>,
    /// keepalived's name of the virtual server: `[10.0.0.10]:tcp:80`, `FWM 7`, `[grp]:0`.
    pub virtual_server: Arc<str>,
    /// As configured, every timing resolved.
    pub checker: Checker,
    pub ready: Ready,
}

/// What a checker needs beyond its configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Ready {
    /// The configuration is all it needs.
    Plain,
    /// `HTTP_GET`/`SSL_GET`: each url's regex compiled, and for SSL_GET the TLS client.
    Http {
        regexes: Vec<Option<RegexCheck>>,
        tls: Option<Arc<TlsClient>>,
    },
    /// `FILE_CHECK`: the `track_file` it follows.
    File(TrackFile),
    /// It cannot run, and why (a regex the engine cannot compile, the TLS client could not
    /// be set up, an unknown `track_file`). keepalived drops such a checker; so do we,
    /// with a [`crate::CheckState::Removed`] verdict naming the reason.
    Refused(String),
}

/// A url's `regex` with its companions, compiled.
#[derive(Debug, Clone)]
pub struct RegexCheck {
    /// The pattern as configured, for log lines.
    pub pattern: String,
    pub regex: regex::bytes::Regex,
    /// Fail when the regex matches rather than when it does not.
    pub no_match: bool,
    /// A match must start at or after this body offset.
    pub min_offset: usize,
    /// A match must start at or before this body offset.
    pub max_offset: Option<usize>,
}

impl PartialEq for RegexCheck {
    fn eq(&self, other: &Self) -> bool {
        self.regex.as_str() == other.regex.as_str()
            && self.no_match == other.no_match
            && self.min_offset == other.min_offset
            && self.max_offset == other.max_offset
    }
}

/// keepalived compiles `regex` with PCRE2; baton with the `regex` crate (linear time, no
/// JIT stack to size). PCRE2 options map to inline flags; those with no equivalent, and
/// PCRE-only syntax (backreferences, lookaround), refuse the checker with the reason; so do
/// Unicode property classes (`\p{Greek}`) under `utf`: their tables are not built in (see
/// the workspace's Cargo.toml: they would be resident in every daemon).
pub fn compile_regex(url: &HttpUrl) -> Result<Option<RegexCheck>, String> {
    let Some(r) = &url.regex else {
        return Ok(None);
    };
    // PCRE2 without `utf` matches bytes: `.` is any byte, `\w` ASCII only.
    let mut unicode = false;
    let mut flags = String::new();
    for option in &r.options {
        match option.as_str() {
            "caseless" => flags.push('i'),
            "multiline" => flags.push('m'),
            "dotall" => flags.push('s'),
            "extended" => flags.push('x'),
            "ungreedy" => flags.push('U'),
            "utf" | "ucp" => unicode = true,
            // Optimisation and compile-time switches that change no match, and `$` at the
            // very end only, which is how the regex crate reads `$` anyway.
            "never_utf" | "never_ucp" | "no_auto_capture" | "no_auto_possess"
            | "no_dotstar_anchor" | "no_start_optimize" | "never_backslash_c" | "dupnames"
            | "auto_callout" | "dollar_endonly" => {}
            other => {
                return Err(format!(
                    "url {}: regex option '{other}' is not supported (PCRE2 only)",
                    url.path
                ));
            }
        }
    }
    if !unicode {
        flags.push_str("-u");
    }
    let pattern = format!("(?{flags}){}", r.pattern);
    let regex = regex::bytes::RegexBuilder::new(&pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            format!(
                "url {}: regex '{}' cannot be used: {e}",
                url.path, r.pattern
            )
        })?;
    Ok(Some(RegexCheck {
        pattern: r.pattern.clone(),
        regex,
        no_match: r.no_match,
        min_offset: r.min_offset,
        max_offset: r.max_offset,
    }))
}

/// Every checker of `config`, in configuration order.
pub fn checkers_of(config: &Config) -> Vec<CheckerSpec> {
    let lvs = &config.lvs;
    let needs_tls = lvs
        .checkers()
        .any(|(_, _, c)| matches!(&c.kind, CheckKind::Http(h) if h.tls));
    let tls = needs_tls.then(|| {
        let settings = match &lvs.ssl {
            Some(ssl) => TlsSettings {
                certificate: ssl.certificate.clone(),
                key: ssl.key.clone(),
                ca: ssl.ca.clone(),
                verify: false,
            },
            None => TlsSettings::default(),
        };
        TlsClient::new(settings)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    });
    lvs.checkers()
        .map(|(vs, rs, checker)| {
            let ready = match &checker.kind {
                CheckKind::Http(h) => {
                    let regexes: Result<Vec<_>, String> =
                        h.urls.iter().map(compile_regex).collect();
                    let tls = match (h.tls, &tls) {
                        (true, Some(Ok(client))) => Ok(Some(client.clone())),
                        (true, Some(Err(e))) => Err(e.clone()),
                        _ => Ok(None),
                    };
                    match (regexes, tls) {
                        (Ok(regexes), Ok(tls)) => Ready::Http { regexes, tls },
                        (Err(e), _) | (_, Err(e)) => Ready::Refused(e),
                    }
                }
                CheckKind::File(f) => match config.track_file(&f.track_file) {
                    Some(tf) => Ready::File(tf.clone()),
                    None => Ready::Refused(format!("track_file {} not found", f.track_file)),
                },
                _ if checker.connection.is_none()
                    && !matches!(checker.kind, CheckKind::Misc(_)) =>
                {
                    Ready::Refused("no address to connect to".into())
                }
                _ => Ready::Plain,
            };
            CheckerSpec {
                id: checker.id,
                server: vs.service_name(&rs.address).into(),
                virtual_server: vs.to_string().into(),
                checker: checker.clone(),
                ready,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_conf::{Span, UrlRegex};

    fn url(pattern: &str, options: &[&str]) -> HttpUrl {
        HttpUrl {
            path: "/".into(),
            digest: None,
            status_codes: vec![(200, 299)],
            virtualhost: None,
            regex: Some(UrlRegex {
                pattern: pattern.into(),
                options: options.iter().map(|s| s.to_string()).collect(),
                no_match: false,
                min_offset: 0,
                max_offset: None,
                stack: None,
            }),
            tls_compliant: false,
            span: Span::default(),
        }
    }

    #[test]
    fn pcre_options_become_flags() {
        let r = compile_regex(&url("ready", &["caseless"]))
            .unwrap()
            .unwrap();
        assert!(r.regex.is_match(b"READY"));
        let r = compile_regex(&url("^b", &["multiline"])).unwrap().unwrap();
        assert!(r.regex.is_match(b"a\nb"));
        let r = compile_regex(&url("^b", &[])).unwrap().unwrap();
        assert!(!r.regex.is_match(b"a\nb"));
        // Without utf, `.` is any byte, as PCRE2's default.
        let r = compile_regex(&url("^.$", &[])).unwrap().unwrap();
        assert!(r.regex.is_match(b"\xff"));
    }

    #[test]
    fn what_cannot_be_matched_is_refused_with_the_reason() {
        let e = compile_regex(&url("(a)\\1", &[])).unwrap_err();
        assert!(e.contains("regex '(a)\\1' cannot be used"), "{e}");
        let e = compile_regex(&url("(?<=a)b", &[])).unwrap_err();
        assert!(e.contains("cannot be used"), "{e}");
        let e = compile_regex(&url("a", &["firstline"])).unwrap_err();
        assert!(e.contains("'firstline' is not supported"), "{e}");
    }
}
