//! `SSL { … }`: the TLS client context of SSL_GET checkers.

use std::path::PathBuf;

use crate::lvs::SslContext;
use crate::parse::cx::Cx;
use crate::syntax::Stmt;

/// `SSL { password; ca; certificate; key }`.
pub(crate) fn ssl(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<SslContext> {
    cx.at_most(stmt, 0);
    let lines = cx.block(stmt)?;
    let mut s = SslContext {
        span: stmt.keyword().span.clone(),
        ..SslContext::default()
    };
    for line in lines {
        let kw = line.keyword().text.as_str();
        match kw {
            "password" => s.password = cx.string_arg(line).map(|a| a.v),
            "ca" => s.ca = cx.string_arg(line).map(|a| PathBuf::from(a.v)),
            "certificate" => s.certificate = cx.string_arg(line).map(|a| PathBuf::from(a.v)),
            "key" => s.key = cx.string_arg(line).map(|a| PathBuf::from(a.v)),
            _ => cx.unknown(line, "SSL"),
        }
    }
    Some(s)
}
