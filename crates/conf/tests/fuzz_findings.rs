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

#[test]
fn a_sorry_server_is_matched_to_a_real_server_by_the_address_it_ends_up_with() {
    // A DR real server 192.0.2.21:81 on a service without a port is given the service's
    // port (none); a NAT sorry server 192.0.2.21:81 keeps its own. They were matched by the
    // addresses as written, before that correction, and the sorry server was said to be a
    // real server whose address no longer matched it (the model forbids that; debug builds
    // asserted).
    let text = "virtual_server 1.0.2.0{ lb_kind DR\nreal_server 192.0.2.21 81{ }lb_kind NAT\n\
                sorry_server 192.0.2.21 81\n";
    let loaded = load_str("k.conf", text, &LoadOptions::default(), &FakeHost::new());
    let c = loaded.config.as_ref().unwrap();
    let vs = &c.lvs.virtual_servers[0];
    let sorry = vs.sorry_server.as_ref().unwrap();
    assert_eq!(sorry.address.to_string(), "192.0.2.21:81");
    assert_eq!(vs.real_servers[0].address.port(), 0);
    assert_eq!(sorry.duplicates, None);
    // Equal addresses after the correction are still recognised.
    let text = "virtual_server 192.0.2.10 80 {\n lb_kind DR\n protocol TCP\n \
                real_server 192.0.2.21 80 {\n }\n sorry_server 192.0.2.21 80\n}\n";
    let loaded = load_str("k.conf", text, &LoadOptions::default(), &FakeHost::new());
    let c = loaded.config.as_ref().unwrap();
    let vs = &c.lvs.virtual_servers[0];
    assert_eq!(
        vs.sorry_server.as_ref().unwrap().duplicates,
        Some(vs.real_servers[0].id)
    );
}
