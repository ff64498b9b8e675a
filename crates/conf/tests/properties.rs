//! Property tests: the loader never panics and always hands out a model that keeps its
//! promises (`fuzz_one` checks the invariants), on arbitrary text and on keepalived-looking
//! token soup; and well-formed instances written out load back to the values written.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::time::Duration;

use baton_conf::{FakeHost, InitialState, LoadOptions, fuzz_one, load_str};
use proptest::prelude::*;

/// Words keepalived.conf is made of, good and bad, so generated input reaches deep.
const VOCABULARY: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_track_process",
    "track_file",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "garp_group",
    "track_group",
    "virtual_server",
    "include",
    "includea",
    "group",
    "VI_1",
    "VI_2",
    "G1",
    "chk",
    "state",
    "MASTER",
    "BACKUP",
    "master",
    "interface",
    "eth0",
    "eth9",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "nopreempt",
    "preempt_delay",
    "accept",
    "no_accept",
    "strict_mode",
    "vrrp_strict",
    "fast_handover",
    "use_vmac",
    "authentication",
    "auth_type",
    "auth_pass",
    "PASS",
    "AH",
    "unicast_src_ip",
    "unicast_peer",
    "min_ttl",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "track_script",
    "track_interface",
    "track_file",
    "track_process",
    "weight",
    "reverse",
    "script",
    "interval",
    "timeout",
    "rise",
    "fall",
    "user",
    "notify",
    "notify_master",
    "sync_group_tracking_weight",
    "garp_master_delay",
    "garp_extra_if",
    "all",
    "down_timer_adverts",
    "dev",
    "label",
    "scope",
    "brd",
    "via",
    "src",
    "table",
    "from",
    "to",
    "blackhole",
    "nexthop",
    "or",
    "0",
    "1",
    "3",
    "51",
    "100",
    "255",
    "256",
    "-4",
    "0.5",
    "0.005",
    "40.96",
    "99999999999",
    "192.168.5.10",
    "192.168.5.10/24",
    "10.0.0.1",
    "2001:db8::1",
    "fe80::1",
    "224.0.0.18",
    "/usr/local/bin/ok.sh",
    "/bin/true",
    "on",
    "off",
    "{",
    "}",
    "{",
    "}",
    "\"",
    "'",
    "#",
    "!",
    "\\",
    "@lb1",
    "@^lb1",
    "@",
    "$X=5",
    "$X",
    "${X}",
    "${_PWD}",
    "${_ENV HOME}",
    "$M= \\",
    "~SEQ(N,1,3)",
    "~SEQ(N,1,0,3)",
    "~LST(A,1,2)",
    "~LST({A,B},{1,2})",
    "conf.d/*.conf",
    "conf.d/{a,b}.conf",
    "中文",
];

fn soup() -> impl Strategy<Value = String> {
    let word = prop::sample::select(VOCABULARY);
    let line = prop::collection::vec(word, 0..7).prop_map(|w| w.join(" "));
    prop::collection::vec(line, 0..60).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        fuzz_one(text.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        fuzz_one(&bytes);
    }

    #[test]
    fn keepalived_token_soup_never_panics(text in soup()) {
        fuzz_one(text.as_bytes());
    }
}

/// One well-formed instance.
#[derive(Debug, Clone)]
struct Inst {
    vrid: u8,
    priority: u8,
    master: bool,
    advert: u64,
    vips: Vec<(Ipv4Addr, u8)>,
    nopreempt: bool,
}

fn instance() -> impl Strategy<Value = Inst> {
    (
        1u8..=255,
        1u8..=254,
        any::<bool>(),
        1u64..=255,
        prop::collection::btree_set((any::<u32>(), 8u8..=32), 1..5),
        any::<bool>(),
    )
        .prop_map(|(vrid, priority, master, advert, vips, nopreempt)| Inst {
            vrid,
            priority,
            master,
            advert,
            vips: vips
                .into_iter()
                .map(|(a, l)| (Ipv4Addr::from(a), l))
                .collect(),
            nopreempt: nopreempt && !master,
        })
}

fn write(i: &Inst, name: &str) -> String {
    let mut s = format!(
        "vrrp_instance {name} {{ # generated\n    state {}\n    interface eth0\n    \
         virtual_router_id {}\n    priority {}\n    advert_int {}\n",
        if i.master { "MASTER" } else { "BACKUP" },
        i.vrid,
        i.priority,
        i.advert
    );
    if i.nopreempt {
        s.push_str("    nopreempt\n");
    }
    s.push_str("    virtual_ipaddress {\n");
    for (a, l) in &i.vips {
        s.push_str(&format!("        {a}/{l}\n"));
    }
    s.push_str("    }\n}\n");
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_instances_load_back(insts in prop::collection::vec(instance(), 1..6)) {
        // Distinct VRIDs and VIPs, or the loader rightly complains.
        let mut seen_vrid = std::collections::BTreeSet::new();
        let mut seen_vip = std::collections::BTreeSet::new();
        let insts: Vec<Inst> = insts
            .into_iter()
            .filter(|i| seen_vrid.insert(i.vrid))
            .filter(|i| i.vips.iter().all(|(a, _)| seen_vip.insert(*a)))
            .collect();
        prop_assume!(!insts.is_empty());
        let text: String = insts
            .iter()
            .enumerate()
            .map(|(n, i)| write(i, &format!("VI_{n}")))
            .collect();
        let host = FakeHost::new().interface("eth0");
        let loaded = load_str("gen.conf", &text, &LoadOptions::default(), &host);
        prop_assert!(loaded.diagnostics.is_empty(), "{:#?}\n{}", loaded.diagnostics, text);
        let config = loaded.config.unwrap();
        prop_assert_eq!(config.instances.len(), insts.len());
        for (got, want) in config.instances.iter().zip(&insts) {
            prop_assert_eq!(got.vrid, want.vrid);
            prop_assert_eq!(got.priority, want.priority);
            prop_assert_eq!(
                got.state,
                if want.master { InitialState::Master } else { InitialState::Backup }
            );
            prop_assert_eq!(got.advert_int, Duration::from_secs(want.advert));
            prop_assert_eq!(got.nopreempt, want.nopreempt);
            let vips: Vec<(Ipv4Addr, u8)> = got
                .vips
                .iter()
                .map(|v| match v.addr {
                    std::net::IpAddr::V4(a) => (a, v.prefix_len),
                    other => panic!("{other}"),
                })
                .collect();
            prop_assert_eq!(&vips, &want.vips);
        }
    }
}
