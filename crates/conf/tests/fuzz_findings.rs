//! What fuzzing the loader found, one test each, in the words of the bug. The inputs that
//! found them are in fuzz/corpus/conf_parse/ too (replayed by fuzz_corpus.rs).
#![allow(clippy::unwrap_used)]

use baton_conf::{Code, FakeHost, LoadOptions, load_str};

#[test]
fn a_strict_vrrpv2_owner_that_asks_for_accept_keeps_it() {
    // `state MASTER` without a priority makes the instance the address owner (255); under
    // vrrp_strict with VRRPv2 `accept` was refused for it as for any instance, leaving an
    // owner that does not accept traffic to its own addresses (the model forbids that, and
    // a debug build asserted). The owner keeps accept, without a strict-mode complaint.
    let text = "global_defs {\n    vrrp_strict\n}\nvrrp_instance VI_1 {\n    state MASTER\n    \
                interface eth0\n    virtual_router_id 1\n    accept\n    virtual_ipaddress {\n        \
                192.0.2.1\n    }\n}\n";
    let host = FakeHost::new().interface("eth0");
    let loaded = load_str("k.conf", text, &LoadOptions::default(), &host);
    let c = loaded.config.as_ref().unwrap();
    assert_eq!(c.instances[0].priority, 255);
    assert!(c.instances[0].accept);
    assert!(
        !loaded
            .diagnostics
            .iter()
            .any(|d| d.code == Code::StrictMode && d.message.contains("accept")),
        "{:#?}",
        loaded.diagnostics
    );
}
