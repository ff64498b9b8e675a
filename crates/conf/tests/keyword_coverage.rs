//! No keepalived keyword is accepted in silence. Two walks over what the parser knows:
//!
//! 1. Every keyword the parser recognises but does not implement (its `NOT_IMPLEMENTED`
//!    lists and `=> cx.not_implemented(…)` arms, read from the parser's source) is written
//!    into a configuration, in its block, and must draw a `not-implemented` warning naming it.
//! 2. Every field of the loaded VRRP configuration (every key of its dump, over every sample,
//!    golden and fixture configuration plus the keywords added since) must be read by a
//!    crate that acts on it (the protocol core, the daemon, the trackers, the virtual-server
//!    core and its nftables data plane), or be listed below with the reason it need not be.
//!    A keyword whose value lands in a field nobody reads is exactly a keyword accepted in
//!    silence (`use_vmac` was one). Keywords baton reads and checks but does not act on
//!    must draw a not-implemented warning (3).
//! 3. Those warnings, each from the configuration line that sets the field.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use baton_conf::{Code, Host, KeyFile, LoadOptions, ScriptLookup, load_str, load_with};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The string literals of a `const …NOT_IMPLEMENTED: &[&str] = &[ … ];` in `src`.
fn const_lists(src: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find("NOT_IMPLEMENTED: &[&str] = &[") {
        let name_start = rest[..at].rfind("const ").unwrap() + 6;
        let name = rest[name_start..at + "NOT_IMPLEMENTED".len()].to_string();
        let body_start = at + "NOT_IMPLEMENTED: &[&str] = &[".len();
        let body_end = body_start + rest[body_start..].find("];").unwrap();
        let words = rest[body_start..body_end]
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        out.push((name, words));
        rest = &rest[body_end..];
    }
    out
}

/// The keywords of `"a" | "b" => cx.not_implemented(…)` arms in `src`.
fn inline_arms(src: &str) -> Vec<String> {
    src.lines()
        .filter(|l| l.contains("=> cx.not_implemented(") && l.trim_start().starts_with('"'))
        .flat_map(|l| {
            l.split("=>")
                .next()
                .unwrap()
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

/// A configuration with `line` in `block`.
fn config_with(block: &str, line: &str) -> String {
    match block {
        "the top level" => format!("{line}\n{INSTANCE}"),
        "global_defs" => format!("global_defs {{\n {line}\n}}\n{INSTANCE}"),
        "vrrp_instance" => INSTANCE.replacen(
            " interface eth0\n",
            &format!(" interface eth0\n {line}\n"),
            1,
        ),
        "vrrp_sync_group" => {
            format!("{INSTANCE}vrrp_sync_group G {{\n group {{\n  VI_1\n }}\n {line}\n}}\n")
        }
        "virtual_server" => format!(
            "{INSTANCE}virtual_server 10.0.0.1 80 {{\n lb_kind NAT\n protocol TCP\n {line}\n real_server 10.0.1.1 80 {{\n  weight 1\n }}\n}}\n"
        ),
        "real_server" => format!(
            "{INSTANCE}virtual_server 10.0.0.1 80 {{\n lb_kind NAT\n protocol TCP\n real_server 10.0.1.1 80 {{\n  weight 1\n  {line}\n }}\n}}\n"
        ),
        other => panic!("no template for block {other}"),
    }
}

/// Which block each not-implemented list or arm of each parser file is for. A new list or
/// file must be added here (the test fails until it is).
fn block_of(file: &str, list: &str) -> &'static str {
    match (file, list) {
        ("parse/mod.rs", "NOT_IMPLEMENTED") => "the top level",
        ("parse/global.rs", "NOT_IMPLEMENTED") => "global_defs",
        ("parse/instance/mod.rs", "NOT_IMPLEMENTED") => "vrrp_instance",
        ("parse/groups.rs", "arm") => "vrrp_sync_group",
        ("parse/lvs/mod.rs", "VS_NOT_IMPLEMENTED") => "virtual_server",
        ("parse/lvs/real_server.rs", "RS_NOT_IMPLEMENTED") => "real_server",
        other => panic!("parser file/list {other:?} has no block in this test"),
    }
}

#[test]
fn every_keyword_the_parser_skips_is_said_to_be_skipped() {
    let parse_dir = root().join("conf/src/parse");
    let mut files = Vec::new();
    rs_files(&parse_dir, &mut files);
    let host = baton_conf::FakeHost::new().interface("eth0");
    let mut checked = 0;
    for f in files {
        let rel = format!("parse/{}", f.strip_prefix(&parse_dir).unwrap().display());
        let src = read(&f);
        let mut lists = const_lists(&src);
        let arms = inline_arms(&src);
        if !arms.is_empty() {
            lists.push(("arm".to_string(), arms));
        }
        for (list, words) in lists {
            let block = block_of(&rel, &list);
            for kw in words {
                let text = config_with(block, &format!("{kw} 1"));
                let l = load_str("k.conf", &text, &LoadOptions::default(), &host);
                assert!(
                    l.diagnostics.iter().any(|d| d.code == Code::NotImplemented
                        && d.message.contains(&format!("'{kw}'"))),
                    "{kw} in {block} ({rel}) is not implemented but draws no warning: {:#?}",
                    l.diagnostics
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} keywords found: the extraction is broken"
    );
}

/// A host where every script exists and runs, every user and group exists, and interfaces
/// cannot be told: nothing of a configuration is dropped for the host's sake.
struct Everything;

impl Host for Everything {
    fn hostname(&self) -> Option<String> {
        Some("lb1".into())
    }
    fn interface_exists(&self, _: &str) -> Option<bool> {
        None
    }
    fn user_exists(&self, _: &str) -> bool {
        true
    }
    fn group_exists(&self, _: &str) -> bool {
        true
    }
    fn find_script(&self, program: &str) -> ScriptLookup {
        ScriptLookup::Found(program.into())
    }
    fn insecure_component(&self, _: &Path) -> Option<(PathBuf, String)> {
        None
    }
    fn read_key_file(&self, _: &Path, _: usize) -> std::io::Result<KeyFile> {
        Ok(KeyFile {
            bytes: b"0123456789abcdef0123456789abcdef".to_vec(),
            mode: 0o600,
        })
    }
    fn shell_has_dev_tcp(&self) -> Option<bool> {
        None
    }
}

/// Keywords whose fields the corpus files do not reach.
const EXTRA: &str = "global_defs {\n net_namespace blue\n vrrp_strict\n}\n\
vrrp_instance X {\n interface eth0\n virtual_router_id 9\n use_vmac vx 00:00:5e:00:01\n vmac_xmit_base\n\
 auth_hmac {\n  key 1 file:/k\n  key 2 hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n  active_key 1\n  anti_replay monotonic\n  time_window 20\n  mode enforce\n }\n\
 virtual_ipaddress {\n  10.9.0.1\n  10.8.0.1 dev eth1 use_vmac\n }\n}\n";

/// The VRRP half of a configuration's dump. The virtual-server half (`lvs`) is walked by
/// its own crates' tests; its checkers' settings wait for the checker crate.
fn vrrp_half(c: &baton_conf::Config) -> Value {
    let mut v = serde_json::to_value(c).unwrap();
    if let Value::Object(m) = &mut v {
        m.remove("lvs");
    }
    v
}

fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                // Externally tagged enum variants (`{"Pass": "1111"}`) are values, not fields.
                if !k.starts_with(|c: char| c.is_ascii_uppercase()) {
                    out.insert(k.clone());
                }
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

/// Fields nobody outside baton-conf needs to read, and why.
const CONF_ONLY: &[(&str, &str)] = &[
    ("span", "where a thing was written, for diagnostics"),
    ("col", "part of a span"),
    ("sealed", "not serialised"),
    ("text", "a command as written, for log lines"),
    ("use_vmac", "resolved into `vmacs` and the addresses' `dev`"),
    ("vmac_mac", "resolved into `vmacs`"),
    (
        "vmac_name",
        "resolved into `vmacs` and `advert_interface()`",
    ),
    ("vmac_xmit_base", "resolved into `advert_interface()`"),
    ("vmac_prefix", "used by conf to name the VMACs"),
    (
        "strict",
        "strict mode's rules are applied by conf to the fields they change",
    ),
    (
        "enable_script_security",
        "conf disables the scripts it refuses",
    ),
    (
        "default_interface",
        "conf puts static addresses without dev on it",
    ),
    (
        "dynamic_interfaces",
        "conf does not warn about absent interfaces; baton always follows interfaces that appear later",
    ),
    (
        "no_virtual_ipaddress",
        "conf does not warn about an instance without VIPs",
    ),
    (
        "garp_groups",
        "folded into each instance's garp settings by conf",
    ),
    ("interfaces", "a garp_group's interfaces, folded in by conf"),
    (
        "garp_interval",
        "a garp_group's spacing, folded into each instance's garp by conf",
    ),
    (
        "gna_interval",
        "a garp_group's spacing, folded into each instance's garp by conf",
    ),
    (
        "mcast_group4",
        "copied into each instance's mcast_group by conf",
    ),
    (
        "mcast_group6",
        "copied into each instance's mcast_group by conf",
    ),
    (
        "vrrp_version",
        "copied into each instance's version by conf",
    ),
    ("down_timer_adverts", "copied into each instance by conf"),
    ("check_unicast_src", "copied into each instance by conf"),
];

/// Fields of keywords baton reads and checks but does not act on: each such keyword draws a
/// not-implemented warning, checked here with the configuration line that sets it.
const WARNED: &[(&str, &str, &str)] = &[
    ("extra_if", "global_defs", "vrrp_garp_extra_if 5"),
    ("extra_if", "vrrp_instance", "garp_extra_if all 5"),
    (
        "linkbeat_interfaces",
        "the top level",
        "linkbeat_interfaces {\n eth0\n}",
    ),
    (
        "interface_delays",
        "the top level",
        "interface_up_down_delays {\n eth0 2\n}",
    ),
    (
        "track_groups",
        "the top level",
        "track_group TG {\n group {\n  VI_1\n }\n}",
    ),
    (
        "track_group",
        "the top level",
        "track_group TG {\n group {\n  VI_1\n }\n}",
    ),
    (
        "member",
        "the top level",
        "track_group TG {\n group {\n  VI_1\n }\n}",
    ),
];

#[test]
fn keywords_read_but_not_acted_on_draw_a_warning() {
    let host = baton_conf::FakeHost::new().interface("eth0");
    for (field, block, line) in WARNED {
        let keyword = line.split_whitespace().next().unwrap();
        let l = load_str(
            "k.conf",
            &config_with(block, line),
            &LoadOptions::default(),
            &host,
        );
        assert!(
            l.diagnostics
                .iter()
                .any(|d| d.code == Code::NotImplemented
                    && d.message.contains(&format!("'{keyword}'"))),
            "{keyword} (field {field}) draws no not-implemented warning: {:#?}",
            l.diagnostics
        );
    }
}

#[test]
fn every_field_a_keyword_sets_is_read_by_something_that_acts_on_it() {
    // The corpus: every configuration the conf tests carry, plus the newest keywords.
    let mut confs: Vec<PathBuf> = Vec::new();
    for dir in [
        "conf/tests/golden",
        "conf/tests/fixtures/keepalived-samples",
        "conf/tests/fixtures/lvs",
        "conf/tests/fixtures/seed",
    ] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".conf") || name.starts_with("keepalived.conf") {
                confs.push(p);
            }
        }
    }
    let mut fields = BTreeSet::new();
    let opts = LoadOptions::default();
    for p in &confs {
        let l = load_with(p, &opts, &baton_conf::FsSources, &Everything);
        if let Some(c) = &l.config {
            keys(&vrrp_half(c), &mut fields);
        }
    }
    let extra = load_str("extra.conf", EXTRA, &opts, &Everything);
    let c = extra
        .config
        .unwrap_or_else(|| panic!("{:#?}", extra.diagnostics));
    keys(&vrrp_half(&c), &mut fields);
    assert!(
        fields.len() > 120,
        "only {} fields: the corpus did not load",
        fields.len()
    );

    // What the acting crates read.
    let mut sources = String::new();
    for krate in ["vrrp", "baton", "track", "lvs", "nft", "wire"] {
        let mut files = Vec::new();
        rs_files(&root().join(krate).join("src"), &mut files);
        for f in files {
            sources.push_str(&read(&f));
            sources.push('\n');
        }
    }
    let mut allowed: BTreeMap<&str, &str> = CONF_ONLY.iter().copied().collect();
    for (field, _, _) in WARNED {
        allowed.insert(field, "warned");
    }
    let unread: Vec<&String> = fields
        .iter()
        .filter(|f| !allowed.contains_key(f.as_str()))
        .filter(|f| {
            let access = format!(".{f}");
            !sources.match_indices(&access).any(|(i, _)| {
                let next = sources[i + access.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
        .collect();
    assert!(
        unread.is_empty(),
        "fields set by keywords that nothing acting on the configuration reads (a keyword accepted in silence): {unread:?}"
    );
}
