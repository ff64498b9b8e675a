//! keepalived's virtual servers as Prometheus series. The keepalived exporter has no LVS
//! series to follow, so all are `baton_lvs_*`; the labels are keepalived's own names from
//! its logs and `baton status`: `virtual_server="[192.168.5.10]:tcp:80"`,
//! `real_server="[10.0.0.21]:tcp:8080"`, and for a checker its keyword and what it probes.
//!
//! | series | labels | value |
//! |---|---|---|
//! | `baton_lvs_virtual_server_quorum_up` | virtual_server | 1 while the live weight meets `quorum` (with hysteresis) |
//! | `baton_lvs_virtual_server_live_weight`, `baton_lvs_virtual_server_quorum` | virtual_server | the weight of the live real servers; the quorum asked for |
//! | `baton_lvs_virtual_server_sorry_server_in_use` | virtual_server | 1 while the sorry server takes the traffic |
//! | `baton_lvs_virtual_server_programmed` | virtual_server | 1 while nftables forwards it (0: refused, left out, or the data plane is down) |
//! | `baton_lvs_real_server_up` | virtual_server, real_server | 1 alive, 0 down |
//! | `baton_lvs_real_server_weight` | virtual_server, real_server, `kind` = configured / effective / table | the configured weight, the weight after checkers' changes, the weight in the table (0 while down) |
//! | `baton_lvs_real_server_transitions_total` | virtual_server, real_server, `to` = down / up | how often it went down and came back |
//! | `baton_lvs_real_server_seconds_since_transition` | virtual_server, real_server | since it last went down or came back (absent before the first time) |
//! | `baton_lvs_checker_up` | virtual_server, real_server, checker, target | 1 up, 0 down, -1 before its first verdict, -2 removed (it can never run) |
//! | `baton_lvs_checker_checks_total`, `baton_lvs_checker_failures_total` | same | probes run; probes that failed |
//! | `baton_lvs_checker_seconds_since_transition` | same | since its last verdict changed |
//! | `baton_lvs_verdicts_total` | | verdicts the checkers gave |
//! | `baton_lvs_nft_up` | table | 1 while baton's nftables tables exist and are its own |
//! | `baton_lvs_nft_programmed_total`, `baton_lvs_nft_apply_errors_total` | table | tables programmed; programmings refused whole or for some services |
//! | `baton_lvs_nft_refused_services` | table | services the last programming refused or left out |
//!
//! Without a virtual server none of them is written (an empty family is not either).

use prometheus_client::metrics::MetricType;

use super::encode::{Family, Labels, Value, fam};
use crate::north::snapshot::LvsSnapshot;
use crate::runtime::lvs_status::{CheckView, RealServerView, VirtualServerView};

fn vs_labels(vs: &VirtualServerView) -> Labels {
    vec![("virtual_server", vs.name.clone())]
}

fn rs_labels(vs: &VirtualServerView, rs: &RealServerView) -> Labels {
    vec![
        ("virtual_server", vs.name.clone()),
        ("real_server", rs.name.clone()),
    ]
}

fn check_labels(vs: &VirtualServerView, rs: &RealServerView, c: &CheckView) -> Labels {
    let mut l = rs_labels(vs, rs);
    l.push(("checker", c.keyword.to_string()));
    l.push(("target", c.target.clone()));
    l
}

fn flag(b: bool) -> Value {
    Value::Int(i64::from(b))
}

fn secs(ms: u64) -> Value {
    Value::Float(ms as f64 / 1000.0)
}

/// The families of `lvs`, appended to `fams`; families with no sample are left out.
pub(super) fn families(lvs: &LvsSnapshot, fams: &mut Vec<Family>) {
    if lvs.virtual_servers.is_empty() && lvs.dataplane.is_none() {
        return;
    }
    let mut out = Vec::new();
    let mut add = |name, help, kind, samples: Vec<(Labels, Value)>| {
        if !samples.is_empty() {
            fam(&mut out, name, help, kind, samples);
        }
    };
    let per_vs = |f: &dyn Fn(&VirtualServerView) -> Value| -> Vec<(Labels, Value)> {
        lvs.virtual_servers
            .iter()
            .map(|vs| (vs_labels(vs), f(vs)))
            .collect()
    };
    add(
        "baton_lvs_virtual_server_quorum_up",
        "1 while the live real servers' weight meets the virtual server's quorum",
        MetricType::Gauge,
        per_vs(&|vs| flag(vs.quorum_up)),
    );
    add(
        "baton_lvs_virtual_server_live_weight",
        "The summed weight of the live real servers",
        MetricType::Gauge,
        per_vs(&|vs| Value::Int(i64::try_from(vs.live_weight).unwrap_or(i64::MAX))),
    );
    add(
        "baton_lvs_virtual_server_quorum",
        "The quorum configured (1 unless set)",
        MetricType::Gauge,
        per_vs(&|vs| Value::Int(i64::from(vs.quorum))),
    );
    add(
        "baton_lvs_virtual_server_sorry_server_in_use",
        "1 while the sorry server takes the virtual server's traffic",
        MetricType::Gauge,
        per_vs(&|vs| flag(vs.sorry_server_in_use)),
    );
    add(
        "baton_lvs_virtual_server_programmed",
        "1 while the virtual server is in the nftables data plane",
        MetricType::Gauge,
        per_vs(&|vs| flag(vs.programmed)),
    );

    let mut up = Vec::new();
    let mut weight = Vec::new();
    let mut transitions = Vec::new();
    let mut since = Vec::new();
    let mut c_up = Vec::new();
    let mut c_checks = Vec::new();
    let mut c_failures = Vec::new();
    let mut c_since = Vec::new();
    for vs in &lvs.virtual_servers {
        for rs in &vs.real_servers {
            let l = rs_labels(vs, rs);
            up.push((l.clone(), flag(rs.alive)));
            for (kind, w) in [
                ("configured", i64::from(rs.configured_weight)),
                ("effective", rs.effective_weight),
                ("table", if rs.alive { i64::from(rs.weight) } else { 0 }),
            ] {
                let mut l = l.clone();
                l.push(("kind", kind.into()));
                weight.push((l, Value::Int(w)));
            }
            for (to, n) in [("down", rs.went_down), ("up", rs.came_up)] {
                let mut l = l.clone();
                l.push(("to", to.into()));
                transitions.push((l, Value::Int(i64::try_from(n).unwrap_or(i64::MAX))));
            }
            if let Some(ms) = rs.since_change_ms {
                since.push((l.clone(), secs(ms)));
            }
            for c in &rs.checkers {
                let l = check_labels(vs, rs, c);
                let state = match c.state {
                    "up" => 1,
                    "down" => 0,
                    "removed" => -2,
                    _ => -1,
                };
                c_up.push((l.clone(), Value::Int(state)));
                c_checks.push((l.clone(), Value::Int(c.probes as i64)));
                c_failures.push((l.clone(), Value::Int(c.failures as i64)));
                if let Some(ms) = c.since_ms {
                    c_since.push((l, secs(ms)));
                }
            }
        }
    }
    add(
        "baton_lvs_real_server_up",
        "1 while the real server is alive (its checkers pass), 0 while down",
        MetricType::Gauge,
        up,
    );
    add(
        "baton_lvs_real_server_weight",
        "The real server's weight: as configured, after its checkers' changes, and in the table (0 while down)",
        MetricType::Gauge,
        weight,
    );
    add(
        "baton_lvs_real_server_transitions",
        "How often the real server went down and came back",
        MetricType::Counter,
        transitions,
    );
    add(
        "baton_lvs_real_server_seconds_since_transition",
        "Seconds since the real server last went down or came back",
        MetricType::Gauge,
        since,
    );
    add(
        "baton_lvs_checker_up",
        "A checker's verdict: 1 up, 0 down, -1 before the first, -2 removed (it can never run)",
        MetricType::Gauge,
        c_up,
    );
    add(
        "baton_lvs_checker_checks",
        "Probes the checker ran",
        MetricType::Counter,
        c_checks,
    );
    add(
        "baton_lvs_checker_failures",
        "Probes of the checker that failed",
        MetricType::Counter,
        c_failures,
    );
    add(
        "baton_lvs_checker_seconds_since_transition",
        "Seconds since the checker's verdict last changed",
        MetricType::Gauge,
        c_since,
    );
    add(
        "baton_lvs_verdicts",
        "Verdicts the checkers gave",
        MetricType::Counter,
        vec![(Vec::new(), Value::Int(lvs.verdicts as i64))],
    );
    if let Some(d) = &lvs.dataplane {
        let l = vec![("table", d.table.clone())];
        add(
            "baton_lvs_nft_up",
            "1 while baton's nftables tables exist and are its own",
            MetricType::Gauge,
            vec![(l.clone(), flag(d.open))],
        );
        add(
            "baton_lvs_nft_programmed",
            "Forwarding tables the data plane programmed",
            MetricType::Counter,
            vec![(l.clone(), Value::Int(d.programmed as i64))],
        );
        add(
            "baton_lvs_nft_apply_errors",
            "Programmings nftables refused, whole or for some services",
            MetricType::Counter,
            vec![(l.clone(), Value::Int(d.apply_errors as i64))],
        );
        add(
            "baton_lvs_nft_refused_services",
            "Services the last programming refused or could not express",
            MetricType::Gauge,
            vec![(l, Value::Int((d.refused.len() + d.left_out.len()) as i64))],
        );
    }
    fams.append(&mut out);
}
