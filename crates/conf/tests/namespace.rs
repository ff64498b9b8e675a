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

/// The daemon reads the namespace from the file's statements before it loads the file
/// for real: the same answer as the full load, wherever it is written (an included file
/// too), the last one counting, a name the load refuses refused.
#[test]
fn the_namespace_is_found_without_a_full_load() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    write("ns.conf", "global_defs {\n net_namespace green\n}\n");
    let cases = [
        (format!("net_namespace blue\n{INSTANCE}"), Some("blue")),
        (
            format!("global_defs {{\n router_id a\n net_namespace blue\n}}\n{INSTANCE}"),
            Some("blue"),
        ),
        (
            format!("net_namespace blue\ninclude ns.conf\n{INSTANCE}"),
            Some("green"),
        ),
        (format!("net_namespace ../x\n{INSTANCE}"), None),
        (format!("net_namespace a b\n{INSTANCE}"), None),
        // Only where keepalived reads it: not inside an instance.
        (
            "vrrp_instance VI_1 {\n net_namespace blue\n}\n".to_string(),
            None,
        ),
        (INSTANCE.to_string(), None),
    ];
    for (text, want) in cases {
        let path = write("keepalived.conf", &text);
        assert_eq!(
            baton_conf::net_namespace(&path, &LoadOptions::default()).as_deref(),
            want,
            "{text}"
        );
    }
    assert_eq!(
        baton_conf::net_namespace(&dir.path().join("missing.conf"), &LoadOptions::default()),
        None
    );
}
