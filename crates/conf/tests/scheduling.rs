//! keepalived's scheduling keywords for its VRRP process (`vrrp_priority`,
//! `vrrp_rt_priority`, `vrrp_rlimit_rttime`, `vrrp_no_swap`, `vrrp_cpu_affinity`), read with
//! keepalived's ranges and defaults; a bad value is an error at its line and column.
#![allow(clippy::unwrap_used)]

use baton_conf::{Code, FakeHost, LoadOptions, Loaded, Scheduling, load_str};

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

fn load(global: &str) -> Loaded {
    let host = FakeHost::new().interface("eth0");
    let text = format!("global_defs {{\n{global}}}\n{INSTANCE}");
    load_str("s.conf", &text, &LoadOptions::default(), &host)
}

#[test]
fn the_keywords_set_the_daemons_scheduling() {
    let l = load(
        " vrrp_priority -5\n vrrp_rt_priority 20\n vrrp_rlimit_rttime 1\n vrrp_no_swap\n \
         vrrp_cpu_affinity 3 1 3\n",
    );
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    assert_eq!(
        l.config.unwrap().global.scheduling,
        Scheduling {
            nice: -5,
            rt_priority: Some(20),
            // keepalived's least: it warns at half the limit, which must not be zero.
            rlimit_rttime_us: 2,
            no_swap: true,
            cpu_affinity: vec![1, 3],
        }
    );
    // Without them: nothing changes, and keepalived's 10 ms limit stands ready.
    let l = load(" router_id a\n");
    assert_eq!(l.config.unwrap().global.scheduling, Scheduling::default());
    assert_eq!(Scheduling::default().rlimit_rttime_us, 10_000);
}

#[test]
fn the_old_spelling_of_the_limit_is_read_and_called_deprecated() {
    let l = load(" vrrp_rlimit_rtime 5000\n");
    assert_eq!(l.diagnostics.len(), 1, "{:#?}", l.diagnostics);
    assert_eq!(l.diagnostics[0].code, Code::Deprecated);
    assert_eq!(l.config.unwrap().global.scheduling.rlimit_rttime_us, 5000);
}

#[test]
fn values_outside_keepalived_ranges_are_errors_at_their_place() {
    for (line, col, code) in [
        (" vrrp_rt_priority 0\n", 19, Code::OutOfRange),
        (" vrrp_rt_priority 100\n", 19, Code::OutOfRange),
        (" vrrp_priority 20\n", 16, Code::OutOfRange),
        (" vrrp_rlimit_rttime 0\n", 21, Code::OutOfRange),
        (" vrrp_cpu_affinity 0 x\n", 22, Code::InvalidValue),
        (" vrrp_cpu_affinity 1024\n", 20, Code::OutOfRange),
    ] {
        let l = load(line);
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == code)
            .unwrap_or_else(|| panic!("{line:?}: {:#?}", l.diagnostics));
        assert_eq!(
            (d.span.line, d.span.col),
            (2, col),
            "{line:?}: {}",
            d.message
        );
        // A bad CPU drops the whole set, as keepalived does.
        if let Some(c) = l.config {
            assert_eq!(c.global.scheduling, Scheduling::default(), "{line:?}");
        }
    }
}
