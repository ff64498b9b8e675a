//! `net_namespace NAME` at the top level or in global_defs, as keepalived reads it.
#![allow(clippy::unwrap_used)]

use baton_conf::{Code, FakeHost, LoadOptions, load_str};

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

#[test]
fn the_namespace_is_read_where_keepalived_reads_it() {
    let host = FakeHost::new().interface("eth0");
    for text in [
        format!("net_namespace blue\n{INSTANCE}"),
        format!("global_defs {{\n net_namespace blue\n}}\n{INSTANCE}"),
    ] {
        let l = load_str("n.conf", &text, &LoadOptions::default(), &host);
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        assert_eq!(
            l.config.unwrap().global.net_namespace.as_deref(),
            Some("blue")
        );
    }
    let l = load_str(
        "n.conf",
        &format!("net_namespace ../x\n{INSTANCE}"),
        &LoadOptions::default(),
        &host,
    );
    assert!(l.diagnostics.iter().any(|d| d.code == Code::InvalidValue));
    assert_eq!(l.config.unwrap().global.net_namespace, None);
}
