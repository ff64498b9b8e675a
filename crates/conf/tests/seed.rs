//! The seed's two configurations, verbatim, parse into the model they mean; the seed's own
//! mistake (a tracked script whose path does not match the file it created) is caught.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use baton_conf::{
    Authentication, CheckStatus, Code, Config, FakeHost, FakeScript, FsSources, GlobalDefs,
    InitialState, LoadOptions, Loaded, MemSources, Severity, Span, TrackRef, VirtualAddress,
    VrrpInstance, load_with,
};
use baton_wire::{Family, Version};

const MASTER: &str = "tests/fixtures/seed/master.conf";
const BACKUP: &str = "tests/fixtures/seed/backup.conf";

fn span(file: &str, line: u32, col: u32) -> Span {
    Span {
        file: Arc::from(file),
        line,
        col,
    }
}

fn host() -> FakeHost {
    FakeHost::new().hostname("lb1").interface("ens33")
}

fn load(path: &str, host: &FakeHost) -> Loaded {
    load_with(Path::new(path), &LoadOptions::default(), &FsSources, host)
}

/// What the seed's instance means, written out by hand from keepalived's documentation.
fn expected(file: &str, router_id: &str, state: InitialState, priority: u8) -> Config {
    let mut vi = VrrpInstance::new("VI_1", 51, Family::Ipv4);
    vi.span = span(file, 7, 15);
    vi.state = state;
    vi.interface = Some("ens33".to_string());
    vi.priority = priority;
    vi.advert_int = Duration::from_secs(1);
    vi.version = Version::V2;
    vi.auth = Some(Box::new(Authentication::Pass("1111".to_string())));
    let mut vip = VirtualAddress::new(IpAddr::V4(Ipv4Addr::new(192, 168, 5, 10)));
    vip.span = span(file, 18, 1);
    vi.vips = vec![vip];
    std::sync::Arc::make_mut(&mut vi.notify).priority_changes = Some(false);
    Config::build(|c| {
        c.global = GlobalDefs {
            router_id: Some(router_id.to_string()),
            ..GlobalDefs::default()
        };
        c.instances = vec![vi];
    })
}

#[test]
fn master_config_parses_into_the_expected_model() {
    let loaded = load(MASTER, &host());
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.status(), CheckStatus::Clean);
    let config = loaded.config.unwrap();
    assert_eq!(
        config,
        expected(MASTER, "192.168.5.11", InitialState::Master, 200)
    );
    // The instance is not the address owner: it preempts and waits like any backup.
    let vi = &config.instances[0];
    assert!(!vi.is_owner());
    assert!(vi.fast_handover);
    assert_eq!(vi.mcast_group, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)));
    assert_eq!(vi.garp.master_repeat, 5);
    assert_eq!(vi.down_timer_adverts, 3);
}

#[test]
fn backup_config_parses_into_the_expected_model() {
    let loaded = load(BACKUP, &host());
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(
        loaded.config.unwrap(),
        expected(BACKUP, "192.168.5.12", InitialState::Backup, 100)
    );
}

#[test]
fn the_pair_agrees_on_everything_the_wire_compares() {
    let m = load(MASTER, &host()).config.unwrap();
    let b = load(BACKUP, &host()).config.unwrap();
    let (m, b) = (&m.instances[0], &b.instances[0]);
    assert_eq!(
        (m.vrid, m.version, m.advert_int, &m.auth),
        (b.vrid, b.version, b.advert_int, &b.auth)
    );
    assert_eq!(
        m.vips.iter().map(|v| v.addr).collect::<Vec<_>>(),
        b.vips.iter().map(|v| v.addr).collect::<Vec<_>>()
    );
    assert!(m.priority > b.priority);
}

#[test]
fn an_absent_interface_is_a_warning_at_its_name() {
    let loaded = load(MASTER, &FakeHost::new());
    let d: Vec<_> = loaded.diagnostics.iter().collect();
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].code, d[0].severity),
        (Code::InterfaceMissing, Severity::Warning)
    );
    assert_eq!(
        d[0].log_line(),
        "tests/fixtures/seed/master.conf:9:11: warning: interface ens33 does not exist on this host (yet)"
    );
    assert_eq!(loaded.status(), CheckStatus::Clean);
}

/// The master's configuration with the post's check script added as the post says: the
/// `vrrp_script` block before the instance, `track_script` inside it.
fn master_with_check(script_path: Option<&str>) -> String {
    let master = std::fs::read_to_string(MASTER).unwrap();
    let snippet = std::fs::read_to_string("tests/fixtures/seed/check_nginx.snippet").unwrap();
    let snippet = match script_path {
        Some(p) => snippet.replace("/usr/local/keepalived/check_nginx.sh", p),
        None => snippet,
    };
    let (script, track) = snippet.split_once("\n\n").unwrap();
    let at = master.find("vrrp_instance").unwrap();
    let end = master.trim_end().rfind('}').unwrap();
    format!(
        "{}{script}\n\n{}{track}{}",
        &master[..at],
        &master[at..end],
        &master[end..]
    )
}

const WITH_CHECK: &str = "tests/fixtures/seed/master-with-check.conf";

fn load_text(text: &str, host: &FakeHost) -> Loaded {
    let sources = MemSources::new().with_file(WITH_CHECK, text);
    load_with(
        Path::new(WITH_CHECK),
        &LoadOptions::default(),
        &sources,
        host,
    )
}

#[test]
fn the_seeds_script_mistake_is_caught_with_path_and_instance() {
    // The post created /usr/local/keepalived/chk_nginx_pid.sh, and pointed the
    // configuration at check_nginx.sh.
    let host = host().script(
        "/usr/local/keepalived/chk_nginx_pid.sh",
        FakeScript::Executable,
    );
    let loaded = load_text(&master_with_check(None), &host);
    let errors: Vec<_> = loaded.errors().collect();
    assert_eq!(errors.len(), 1, "{:#?}", loaded.diagnostics);
    let e = errors[0];
    assert_eq!(e.code, Code::ScriptNotFound);
    assert_eq!((e.span.line, e.span.col), (8, 8));
    assert!(
        e.message.contains("'/usr/local/keepalived/check_nginx.sh'"),
        "{}",
        e.message
    );
    assert!(e.message.contains("VI_1"), "{}", e.message);
    assert_eq!(e.notes.len(), 1);
    assert_eq!((e.notes[0].span.line, e.notes[0].span.col), (27, 1));
    assert!(e.notes[0].message.contains("vrrp_instance VI_1"));
    // The caret form shows the line and underlines the quoted path.
    let rendered = e.render();
    assert!(rendered.contains("script \"/usr/local/keepalived/check_nginx.sh\" # 心跳执行的脚本"));
    assert!(rendered.contains(&"^".repeat(38)), "{rendered}");
    assert_eq!(loaded.status(), CheckStatus::Errors);
    // As keepalived does, the script that cannot run is disabled: nothing tracks it.
    let config = loaded.config.unwrap();
    assert!(config.scripts.is_empty());
    assert!(config.instances[0].tracking.scripts.is_empty());
}

#[test]
fn with_the_right_path_the_script_is_tracked_with_its_weight() {
    let path = "/usr/local/keepalived/chk_nginx_pid.sh";
    let host = host().script(path, FakeScript::Executable);
    let loaded = load_text(&master_with_check(Some(path)), &host);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    // Scripts without enable_script_security: keepalived -t exits 5, so does baton check.
    assert_eq!(loaded.status(), CheckStatus::ScriptSecurity);
    let config = loaded.config.unwrap();
    let script = config.script("check_nginx").unwrap();
    assert_eq!(script.command.argv, vec![path.to_string()]);
    assert_eq!(script.interval, Duration::from_secs(2));
    assert_eq!(script.timeout, Duration::from_secs(2));
    assert_eq!((script.weight, script.rise, script.fall), (2, 1, 1));
    assert_eq!(
        config.instances[0].tracking.scripts,
        vec![TrackRef {
            name: "check_nginx".to_string(),
            weight: Some(2),
            reverse: false,
            span: span(WITH_CHECK, 27, 1),
        }]
    );
}
