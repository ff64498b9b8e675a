//! The sub-blocks of `vrrp_instance` that are lists or groups of their own:
//! `virtual_ipaddress`, `unicast_peer`, `authentication`, and the MAC of `use_vmac`.

use super::RawInstance;
use crate::diag::Code;
use crate::model::{Authentication, UnicastPeer, VirtualAddress};
use crate::parse::address::{self, Owner};
use crate::parse::cx::{At, Cx};
use crate::syntax::Stmt;

/// A MAC address of five or six octets.
pub(super) fn mac(s: &str) -> Option<Vec<u8>> {
    let octets: Vec<u8> = s
        .split(':')
        .map(|o| {
            if o.is_empty() || o.len() > 2 {
                None
            } else {
                u8::from_str_radix(o, 16).ok()
            }
        })
        .collect::<Option<Vec<u8>>>()?;
    (octets.len() == 5 || octets.len() == 6).then_some(octets)
}

pub(super) fn address_block(cx: &mut Cx<'_>, stmt: &Stmt, out: &mut Vec<VirtualAddress>) {
    cx.at_most(stmt, 0);
    if let Some(lines) = cx.block(stmt) {
        out.extend(
            lines
                .iter()
                .filter_map(|l| address::address(cx, l, Owner::Instance)),
        );
    }
}

pub(super) fn unicast_peers(cx: &mut Cx<'_>, stmt: &Stmt, r: &mut RawInstance) {
    cx.at_most(stmt, 0);
    let Some(lines) = cx.block(stmt) else {
        return;
    };
    for line in lines {
        cx.no_block(line);
        let first = line.keyword();
        let Some(addr) = cx.ip(first, "unicast peer") else {
            continue;
        };
        let mut peer = UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
        };
        let args = line.args();
        let mut i = 0;
        while i < args.len() {
            let opt = &args[i];
            let slot = match opt.text.as_str() {
                "min_ttl" => &mut peer.min_ttl,
                "max_ttl" => &mut peer.max_ttl,
                t => {
                    cx.report(
                        Code::ExtraArgument,
                        opt,
                        format!("unexpected '{t}' after unicast peer {addr}; ignored"),
                    );
                    i += 1;
                    continue;
                }
            };
            i += 1;
            match args.get(i) {
                Some(v) => *slot = cx.int(v, 0, 255, &opt.text).map(|t| t as u8),
                None => cx.report(
                    Code::MissingArgument,
                    opt,
                    format!("'{}' needs a value", opt.text),
                ),
            }
            i += 1;
        }
        r.unicast_peers.push(At::new(peer, first));
    }
}

pub(super) fn authentication(cx: &mut Cx<'_>, stmt: &Stmt, r: &mut RawInstance) {
    cx.at_most(stmt, 0);
    let Some(lines) = cx.block(stmt) else {
        return;
    };
    let mut kind: Option<At<String>> = None;
    let mut pass: Option<At<String>> = None;
    for line in lines {
        match line.keyword().text.as_str() {
            "auth_type" => kind = cx.string_arg(line),
            "auth_pass" => pass = cx.string_arg(line),
            _ => cx.unknown(line, "authentication"),
        }
    }
    let kw = stmt.keyword();
    let Some(kind) = kind else {
        cx.report(
            Code::AuthInvalid,
            kw,
            format!("({}) authentication without auth_type; ignored", r.name),
        );
        return;
    };
    let Some(pass) = pass else {
        cx.report(
            Code::AuthInvalid,
            kw,
            format!("({}) authentication without auth_pass; ignored", r.name),
        );
        return;
    };
    if pass.v.len() > 8 {
        cx.diags.push(
            crate::diag::Diagnostic::new(
                Code::AuthPassTruncated,
                pass.span.clone(),
                format!(
                    "({}) auth_pass is {} bytes long; only the first 8 are sent and compared",
                    r.name,
                    pass.v.len()
                ),
            )
            .with_len(pass.v.chars().count() as u32),
        );
    }
    let auth = match kind.v.as_str() {
        "PASS" => Authentication::Pass(pass.v),
        "AH" => Authentication::Ah(pass.v),
        t => {
            cx.diags.push(crate::diag::Diagnostic::new(
                Code::AuthInvalid,
                kind.span.clone(),
                format!(
                    "({}) auth_type '{t}' is not PASS or AH; authentication ignored",
                    r.name
                ),
            ));
            return;
        }
    };
    r.auth = Some(At {
        v: auth,
        span: kw.span.clone(),
    });
}
