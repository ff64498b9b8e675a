//! A [`Snapshot`] as Prometheus text (format 0.0.4), through `prometheus-client`.
//!
//! First the series of the keepalived exporter (mehdy/keepalived-exporter), with its names,
//! label sets and values, so dashboards built on it work unchanged:
//!
//! | series | labels | from |
//! |---|---|---|
//! | `keepalived_up` | | 1 when the event loop answered |
//! | `keepalived_vrrp_state` | iname, intf, vrid, ip_address | one per VIP (intf = the VIP's device); 0 INIT 1 BACKUP 2 MASTER 3 FAULT |
//! | `keepalived_vrrp_excluded_state` | same | one per excluded VIP |
//! | `keepalived_advertisements_{received,sent}_total` | iname, intf, vrid | the core's counters |
//! | `keepalived_become_master_total`, `keepalived_release_master_total` | | transitions into MASTER; out of it (every entry but a current one) |
//! | `keepalived_{ip_ttl,advertisements_interval,address_list}_errors_total`, `keepalived_authentication_{mismatch,failure}_total`, `keepalived_priority_zero_{received,sent}_total` | | the core's drop counters |
//! | `keepalived_packet_length_errors_total`, `keepalived_invalid_type_received_total`, `keepalived_authentication_invalid_total` | | the socket's: a datagram that never parsed has no VRID, so it is charged to the first instance on its socket |
//! | `keepalived_gratuitous_arp_delay_total` | | `garp_master_delay`, seconds |
//! | `keepalived_script_status`, `keepalived_script_state` | name | GOOD 1 / BAD 0 (none before the first result); idle 0 / running 1 |
//!
//! Then baton's own, which none of the exporters has: `baton_*` below, and those of the
//! virtual servers (`baton_lvs_*`, in `super::lvs`: the exporter has no LVS series).

use std::fmt::{self, Write as _};

use baton_vrrp::{DropReason, InstanceStatus};
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::north::snapshot::{InstanceView, Snapshot, keepalived_state};

pub(super) type Labels = Vec<(&'static str, String)>;

/// The exposition of one snapshot; `None` (the loop did not answer) is `keepalived_up 0`
/// alone, as the exporter reports a keepalived it cannot read.
pub fn encode(s: Option<&Snapshot>) -> String {
    let mut out = String::new();
    let r = write_all(&mut out, s);
    if let Err(e) = r {
        // Writing into a String cannot fail; say so rather than serve half a page silently.
        let _ = writeln!(out, "# encoding failed: {e}");
    }
    out
}

fn write_all(out: &mut String, s: Option<&Snapshot>) -> fmt::Result {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(Owned(Families(s).render())));
    prometheus_client::encoding::prometheus_text::encode(out, &registry)
}

/// One family: name, help, type, samples.
#[derive(Debug, Clone)]
pub(super) struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, Value)>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Value {
    Int(i64),
    Float(f64),
}

/// The families rendered from a snapshot, handed to the registry as a collector.
#[derive(Debug)]
struct Owned(Vec<Family>);

impl prometheus_client::collector::Collector for Owned {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        for f in &self.0 {
            let mut m = encoder.encode_descriptor(f.name, f.help, None, f.kind)?;
            for (labels, v) in &f.samples {
                let mut e = m.encode_family(labels)?;
                match (f.kind, *v) {
                    (MetricType::Counter, Value::Int(n)) => {
                        e.encode_counter::<NoLabelSet, _, u64>(&(n.max(0) as u64), None)?
                    }
                    (MetricType::Counter, Value::Float(x)) => {
                        e.encode_counter::<NoLabelSet, _, u64>(&x, None)?
                    }
                    (_, Value::Int(n)) => e.encode_gauge(&n)?,
                    (_, Value::Float(x)) => e.encode_gauge(&x)?,
                }
            }
        }
        Ok(())
    }
}

struct Families<'a>(Option<&'a Snapshot>);

impl Families<'_> {
    fn render(&self) -> Vec<Family> {
        let mut fams = Vec::new();
        let up = Family {
            name: "keepalived_up",
            help: "Status",
            kind: MetricType::Gauge,
            samples: vec![(Vec::new(), Value::Int(i64::from(self.0.is_some())))],
        };
        fams.push(up);
        if let Some(s) = self.0 {
            keepalived_families(s, &mut fams);
            baton_families(s, &mut fams);
            super::lvs::families(&s.lvs, &mut fams);
        }
        fams
    }
}

fn common(i: &InstanceStatus) -> Labels {
    vec![
        ("iname", i.name.clone()),
        ("intf", i.interface.clone()),
        ("vrid", i.vrid.to_string()),
    ]
}

fn with(mut l: Labels, k: &'static str, v: impl Into<String>) -> Labels {
    l.push((k, v.into()));
    l
}

pub(super) fn fam(
    fams: &mut Vec<Family>,
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, Value)>,
) {
    fams.push(Family {
        name,
        help,
        kind,
        samples,
    });
}

/// A per-instance counter family with the exporter's common labels.
fn per_instance(
    s: &Snapshot,
    fams: &mut Vec<Family>,
    name: &'static str,
    help: &'static str,
    value: impl Fn(&InstanceStatus, &InstanceView) -> u64,
) {
    let samples = s
        .instances()
        .map(|(i, v)| (common(i), Value::Int(value(i, v) as i64)))
        .collect();
    fam(fams, name, help, MetricType::Counter, samples);
}

fn keepalived_families(s: &Snapshot, fams: &mut Vec<Family>) {
    let mut state = Vec::new();
    let mut excluded = Vec::new();
    for (i, v) in s.instances() {
        let st = Value::Int(i64::from(keepalived_state(i.state)));
        let vrid = i.vrid.to_string();
        for vip in &v.vips {
            let l = vec![
                ("iname", i.name.clone()),
                ("intf", vip.dev.clone()),
                ("vrid", vrid.clone()),
                ("ip_address", vip.addr.clone()),
            ];
            state.push((l, st));
        }
        if v.vips.is_empty() {
            state.push((with(common(i), "ip_address", ""), st));
        }
        for vip in &v.excluded {
            let l = vec![
                ("iname", i.name.clone()),
                ("intf", vip.dev.clone()),
                ("vrid", vrid.clone()),
                ("ip_address", vip.addr.clone()),
            ];
            excluded.push((l, st));
        }
    }
    fam(
        fams,
        "keepalived_vrrp_state",
        "State of vrrp",
        MetricType::Gauge,
        state,
    );
    fam(
        fams,
        "keepalived_vrrp_excluded_state",
        "State of vrrp with excluded VIP",
        MetricType::Gauge,
        excluded,
    );
    let c = |i: &InstanceStatus| i.counters.clone();
    per_instance(
        s,
        fams,
        "keepalived_advertisements_received",
        "Advertisements received",
        |i, _| c(i).adverts_received,
    );
    per_instance(
        s,
        fams,
        "keepalived_advertisements_sent",
        "Advertisements sent",
        |i, _| c(i).adverts_sent,
    );
    per_instance(
        s,
        fams,
        "keepalived_become_master",
        "Became master",
        |i, _| i.counters.transitions.master,
    );
    per_instance(
        s,
        fams,
        "keepalived_release_master",
        "Released master",
        |i, _| {
            let current = u64::from(i.state == baton_vrrp::State::Master);
            i.counters.transitions.master.saturating_sub(current)
        },
    );
    let socket = |v: &InstanceView, f: fn(&crate::south::sockets::WireErrors) -> u64| {
        v.socket_errors.as_ref().map_or(0, f)
    };
    per_instance(
        s,
        fams,
        "keepalived_packet_length_errors",
        "Packet length errors",
        |_, v| socket(v, |w| w.truncated),
    );
    per_instance(
        s,
        fams,
        "keepalived_advertisements_interval_errors",
        "Advertisement interval errors",
        |i, _| i.counters.dropped.interval,
    );
    per_instance(s, fams, "keepalived_ip_ttl_errors", "TTL errors", |i, _| {
        i.counters.dropped.ttl
    });
    per_instance(
        s,
        fams,
        "keepalived_invalid_type_received",
        "Invalid type errors",
        |_, v| socket(v, |w| w.msg_type),
    );
    per_instance(
        s,
        fams,
        "keepalived_address_list_errors",
        "Address list errors",
        |i, _| i.counters.dropped.address_list + i.counters.dropped.address_count,
    );
    per_instance(
        s,
        fams,
        "keepalived_authentication_invalid",
        "Authentication invalid",
        |_, v| socket(v, |w| w.auth_type + w.auth_ah),
    );
    per_instance(
        s,
        fams,
        "keepalived_authentication_mismatch",
        "Authentication mismatch",
        |i, _| i.counters.dropped.auth_type,
    );
    per_instance(
        s,
        fams,
        "keepalived_authentication_failure",
        "Authentication failure",
        |i, _| i.counters.dropped.auth_failure,
    );
    per_instance(
        s,
        fams,
        "keepalived_priority_zero_received",
        "Priority zero received",
        |i, _| i.counters.priority_zero_received,
    );
    per_instance(
        s,
        fams,
        "keepalived_priority_zero_sent",
        "Priority zero sent",
        |i, _| i.counters.priority_zero_sent,
    );
    let garp = s
        .instances()
        .map(|(i, v)| (common(i), Value::Int(v.garp_delay.as_secs() as i64)))
        .collect();
    fam(
        fams,
        "keepalived_gratuitous_arp_delay",
        "Gratuitous ARP delay",
        MetricType::Counter,
        garp,
    );
    let mut status = Vec::new();
    let mut state = Vec::new();
    for t in s.node.trackers.iter().filter(|t| t.kind == "script") {
        let l = vec![("name", t.name.clone())];
        match t.state.as_str() {
            "ok" => status.push((l.clone(), Value::Int(1))),
            "failed" => status.push((l.clone(), Value::Int(0))),
            _ => {}
        }
        let running = s.scripts_running.contains(&t.name);
        state.push((l, Value::Int(i64::from(running))));
    }
    fam(
        fams,
        "keepalived_script_status",
        "Tracker Script Status",
        MetricType::Gauge,
        status,
    );
    fam(
        fams,
        "keepalived_script_state",
        "Tracker Script State",
        MetricType::Gauge,
        state,
    );
}

/// The label of a drop reason (the core's counter names).
pub fn drop_reason(r: DropReason) -> &'static str {
    match r {
        DropReason::Ttl => "ttl",
        DropReason::Version => "version",
        DropReason::AuthType => "auth_type",
        DropReason::AuthFailure => "auth_failure",
        DropReason::Interval => "interval",
        DropReason::AddressCount => "address_count",
        DropReason::AddressList => "address_list",
        DropReason::Destination => "destination",
        DropReason::NotAPeer => "not_a_peer",
        DropReason::OwnerIgnores => "owner_ignores",
        DropReason::OwnAddress => "own_address",
        DropReason::NotRunning => "not_running",
    }
}

fn baton_families(s: &Snapshot, fams: &mut Vec<Family>) {
    fam(
        fams,
        "baton_build_info",
        "baton's version and the keepalived release whose interface it follows",
        MetricType::Gauge,
        vec![(
            vec![
                ("version", s.version.to_string()),
                (
                    "keepalived_compatible",
                    crate::cli::KEEPALIVED_COMPATIBLE.to_string(),
                ),
            ],
            Value::Int(1),
        )],
    );
    fam(
        fams,
        "baton_uptime_seconds",
        "Seconds since the daemon started",
        MetricType::Gauge,
        vec![(Vec::new(), Value::Float(s.uptime.as_secs_f64()))],
    );
    fam(
        fams,
        "baton_reloads",
        "Configuration reloads applied",
        MetricType::Counter,
        vec![(Vec::new(), Value::Int(i64::from(s.reloads)))],
    );
    fam(
        fams,
        "baton_reloads_refused",
        "Reloads refused for errors in the configuration (the running one kept)",
        MetricType::Counter,
        vec![(Vec::new(), Value::Int(i64::from(s.reloads_refused)))],
    );
    let gauge = |f: &dyn Fn(&InstanceStatus) -> i64| -> Vec<(Labels, Value)> {
        s.node
            .instances
            .iter()
            .map(|i| (common(i), Value::Int(f(i))))
            .collect()
    };
    fam(
        fams,
        "baton_vrrp_effective_priority",
        "Priority after tracker weights",
        MetricType::Gauge,
        gauge(&|i| i64::from(i.effective_priority)),
    );
    fam(
        fams,
        "baton_vrrp_configured_priority",
        "Priority as configured",
        MetricType::Gauge,
        gauge(&|i| i64::from(i.base_priority)),
    );
    fam(
        fams,
        "baton_vrrp_split_brain",
        "1 while this MASTER keeps hearing another master that does not hear it",
        MetricType::Gauge,
        gauge(&|i| i64::from(i.split_brain.is_some())),
    );
    fam(
        fams,
        "baton_vrrp_vips_held",
        "Virtual addresses held (as MASTER)",
        MetricType::Gauge,
        gauge(&|i| i.vips_held.len() as i64),
    );
    let mut since = Vec::new();
    let mut takeover = Vec::new();
    for (i, v) in s.instances() {
        if let Some(t) = &i.last_transition {
            since.push((common(i), Value::Float(s.ago(t.at).as_secs_f64())));
        }
        if let Some(d) = v.last_takeover {
            takeover.push((common(i), Value::Float(d.as_secs_f64())));
        }
    }
    fam(
        fams,
        "baton_vrrp_seconds_since_transition",
        "Seconds since the instance last changed state",
        MetricType::Gauge,
        since,
    );
    fam(
        fams,
        "baton_vrrp_last_takeover_seconds",
        "The last takeover on this node: from the last advert heard from the previous master (or entering BACKUP) to MASTER",
        MetricType::Gauge,
        takeover,
    );
    let mut transitions = Vec::new();
    let mut drops = Vec::new();
    let mut mismatches = Vec::new();
    for i in &s.node.instances {
        let t = &i.counters.transitions;
        for (to, n) in [
            ("master", t.master),
            ("backup", t.backup),
            ("fault", t.fault),
            ("stop", t.stop),
        ] {
            transitions.push((with(common(i), "to", to), Value::Int(n as i64)));
        }
        for r in DropReason::ALL {
            let n = i.counters.dropped.get(r);
            drops.push((
                with(common(i), "reason", drop_reason(r)),
                Value::Int(n as i64),
            ));
        }
        for m in &i.mismatches {
            let l = with(
                with(common(i), "peer", m.peer.to_string()),
                "field",
                m.field.to_string(),
            );
            mismatches.push((l, Value::Int(m.count as i64)));
        }
    }
    fam(
        fams,
        "baton_vrrp_transitions",
        "State changes, by the state entered",
        MetricType::Counter,
        transitions,
    );
    fam(
        fams,
        "baton_vrrp_adverts_dropped",
        "Adverts dropped by the protocol core, by reason",
        MetricType::Counter,
        drops,
    );
    fam(
        fams,
        "baton_vrrp_peer_mismatch_adverts",
        "Adverts from a peer whose configuration differs from ours, by field (forgotten once the peer agrees)",
        MetricType::Gauge,
        mismatches,
    );
    fam(
        fams,
        "baton_vrrp_unknown_vrid_adverts",
        "Adverts for a virtual router id no instance has",
        MetricType::Counter,
        vec![(Vec::new(), Value::Int(s.node.unknown_vrid_adverts as i64))],
    );
    let mut wire = Vec::new();
    let mut rx = Vec::new();
    let mut tx = Vec::new();
    let mut tx_err = Vec::new();
    for e in &s.sockets {
        let l = vec![("intf", e.interface.clone()), ("family", e.family.clone())];
        let w = &e.stats.wire_errors;
        for (reason, n) in [
            ("truncated", w.truncated),
            ("ip_header", w.ip_header),
            ("version", w.version),
            ("type", w.msg_type),
            ("checksum", w.checksum),
            ("auth_ah", w.auth_ah),
            ("auth_type", w.auth_type),
            ("interval", w.interval),
            ("carp", w.carp),
            ("other", w.other),
        ] {
            wire.push((with(l.clone(), "reason", reason), Value::Int(n as i64)));
        }
        rx.push((l.clone(), Value::Int(e.stats.received as i64)));
        tx.push((l.clone(), Value::Int(e.stats.sent as i64)));
        tx_err.push((l, Value::Int(e.stats.send_errors as i64)));
    }
    fam(
        fams,
        "baton_socket_wire_errors",
        "Datagrams on a VRRP socket that never became an advert, by reason",
        MetricType::Counter,
        wire,
    );
    fam(
        fams,
        "baton_socket_received",
        "Datagrams read from a VRRP socket",
        MetricType::Counter,
        rx,
    );
    fam(
        fams,
        "baton_socket_sent",
        "Adverts sent on a VRRP socket",
        MetricType::Counter,
        tx,
    );
    fam(
        fams,
        "baton_socket_send_errors",
        "Adverts the kernel refused to send",
        MetricType::Counter,
        tx_err,
    );
    let mut up = Vec::new();
    let mut procs = Vec::new();
    let mut files = Vec::new();
    for t in &s.node.trackers {
        let l = vec![("name", t.name.clone())];
        match t.kind {
            "script" => match t.state.as_str() {
                "ok" => up.push((l, Value::Int(1))),
                "failed" => up.push((l, Value::Int(0))),
                _ => up.push((l, Value::Int(-1))),
            },
            "process" => {
                if let Some(n) = t
                    .state
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<i64>().ok())
                {
                    procs.push((l, Value::Int(n)));
                }
            }
            "file" => {
                if let Ok(n) = t.state.parse::<i64>() {
                    files.push((l, Value::Int(n)));
                }
            }
            _ => {}
        }
    }
    fam(
        fams,
        "baton_track_script_up",
        "A vrrp_script's state: 1 ok, 0 failed, -1 before its first result",
        MetricType::Gauge,
        up,
    );
    fam(
        fams,
        "baton_track_process_running",
        "Processes a vrrp_track_process counts",
        MetricType::Gauge,
        procs,
    );
    fam(
        fams,
        "baton_track_file_value",
        "The value a track_file holds",
        MetricType::Gauge,
        files,
    );
    let mut weights = Vec::new();
    for (i, v) in s.instances() {
        for t in &v.trackers {
            let l = with(with(common(i), "kind", t.kind), "name", t.name.clone());
            weights.push((l, Value::Int(t.weight.map_or(0, i64::from))));
        }
    }
    fam(
        fams,
        "baton_vrrp_tracker_weight",
        "The weight a tracker adds to (or takes from) the instance's priority; 0: its failure is FAULT",
        MetricType::Gauge,
        weights,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::north::snapshot::sample;

    /// The value of the sample `name{labels}` as the text shows it.
    fn value(text: &str, series: &str) -> Option<String> {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')
                .map(str::to_string)
        })
    }

    #[test]
    fn exporter_series_carry_its_names_labels_and_values() {
        let t = encode(Some(&sample()));
        let v = |s: &str| value(&t, s).unwrap_or_else(|| panic!("no {s} in\n{t}"));
        assert_eq!(v("keepalived_up"), "1");
        assert_eq!(
            v(
                r#"keepalived_vrrp_state{iname="VI_1",intf="ens33",vrid="51",ip_address="192.168.5.10"}"#
            ),
            "2"
        );
        assert_eq!(
            v(
                r#"keepalived_vrrp_excluded_state{iname="VI_1",intf="ens33",vrid="51",ip_address="fd00:5::10/64"}"#
            ),
            "2"
        );
        // An instance without VIPs still has its state, with an empty address.
        assert_eq!(
            v(r#"keepalived_vrrp_state{iname="VI_2",intf="ens33",vrid="52",ip_address=""}"#),
            "3"
        );
        let l = r#"{iname="VI_1",intf="ens33",vrid="51"}"#;
        for (name, want) in [
            ("keepalived_advertisements_received_total", "7"),
            ("keepalived_advertisements_sent_total", "42"),
            ("keepalived_become_master_total", "2"),
            // Master now: of two entries one is current.
            ("keepalived_release_master_total", "1"),
            ("keepalived_packet_length_errors_total", "6"),
            ("keepalived_advertisements_interval_errors_total", "0"),
            ("keepalived_ip_ttl_errors_total", "3"),
            ("keepalived_invalid_type_received_total", "8"),
            ("keepalived_address_list_errors_total", "6"),
            ("keepalived_authentication_invalid_total", "9"),
            ("keepalived_authentication_mismatch_total", "0"),
            ("keepalived_authentication_failure_total", "4"),
            ("keepalived_priority_zero_received_total", "2"),
            ("keepalived_priority_zero_sent_total", "1"),
            ("keepalived_gratuitous_arp_delay_total", "5"),
        ] {
            assert_eq!(v(&format!("{name}{l}")), want, "{name}");
        }
        // Socket errors are charged once, to the first instance on the socket.
        assert_eq!(
            v(r#"keepalived_packet_length_errors_total{iname="VI_2",intf="ens33",vrid="52"}"#),
            "0"
        );
        assert_eq!(v(r#"keepalived_script_status{name="chk_nginx"}"#), "1");
        assert_eq!(v(r#"keepalived_script_state{name="chk_nginx"}"#), "1");
        assert!(t.contains("# TYPE keepalived_advertisements_received_total counter"));
        assert!(t.contains("# TYPE keepalived_vrrp_state gauge"));
    }

    #[test]
    fn baton_series_add_priorities_timing_drops_and_trackers() {
        let t = encode(Some(&sample()));
        let v = |s: &str| value(&t, s).unwrap_or_else(|| panic!("no {s} in\n{t}"));
        let l = r#"iname="VI_1",intf="ens33",vrid="51""#;
        assert_eq!(v(&format!("baton_vrrp_effective_priority{{{l}}}")), "200");
        assert_eq!(v(&format!("baton_vrrp_configured_priority{{{l}}}")), "200");
        assert_eq!(
            v(&format!("baton_vrrp_seconds_since_transition{{{l}}}")),
            "10.0"
        );
        assert_eq!(
            v(&format!("baton_vrrp_last_takeover_seconds{{{l}}}")),
            "0.012"
        );
        assert_eq!(
            v(&format!(
                "baton_vrrp_adverts_dropped_total{{{l},reason=\"auth_failure\"}}"
            )),
            "4"
        );
        assert_eq!(
            v(&format!(
                "baton_vrrp_transitions_total{{{l},to=\"master\"}}"
            )),
            "2"
        );
        assert_eq!(
            v(r#"baton_socket_wire_errors_total{intf="ens33",family="IPv4",reason="type"}"#),
            "8"
        );
        assert_eq!(v(r#"baton_track_script_up{name="chk_nginx"}"#), "1");
        assert_eq!(v(r#"baton_track_process_running{name="nginx"}"#), "2");
        assert_eq!(v("baton_vrrp_unknown_vrid_adverts_total"), "11");
        assert_eq!(v("baton_reloads_total"), "1");
    }

    #[test]
    fn virtual_servers_real_servers_and_checkers_with_keepalived_names() {
        let t = encode(Some(&sample()));
        let v = |s: &str| value(&t, s).unwrap_or_else(|| panic!("no {s} in\n{t}"));
        let vs = r#"virtual_server="[192.168.5.10]:tcp:80""#;
        let up = format!(r#"{vs},real_server="[10.0.0.21]:tcp:8080""#);
        let down = format!(r#"{vs},real_server="[10.0.0.22]:tcp:8080""#);
        assert_eq!(
            v(&format!("baton_lvs_virtual_server_quorum_up{{{vs}}}")),
            "1"
        );
        assert_eq!(
            v(&format!("baton_lvs_virtual_server_live_weight{{{vs}}}")),
            "3"
        );
        assert_eq!(
            v(&format!(
                "baton_lvs_virtual_server_sorry_server_in_use{{{vs}}}"
            )),
            "0"
        );
        assert_eq!(
            v(&format!("baton_lvs_virtual_server_programmed{{{vs}}}")),
            "1"
        );
        assert_eq!(v(&format!("baton_lvs_real_server_up{{{up}}}")), "1");
        assert_eq!(v(&format!("baton_lvs_real_server_up{{{down}}}")), "0");
        assert_eq!(
            v(&format!(
                r#"baton_lvs_real_server_weight{{{down},kind="configured"}}"#
            )),
            "3"
        );
        assert_eq!(
            v(&format!(
                r#"baton_lvs_real_server_weight{{{down},kind="table"}}"#
            )),
            "0"
        );
        assert_eq!(
            v(&format!(
                r#"baton_lvs_real_server_transitions_total{{{down},to="down"}}"#
            )),
            "1"
        );
        assert_eq!(
            v(&format!(
                "baton_lvs_real_server_seconds_since_transition{{{down}}}"
            )),
            "4.0"
        );
        let chk = format!(r#"{down},checker="HTTP_GET",target="[10.0.0.22]:8080""#);
        assert_eq!(v(&format!("baton_lvs_checker_up{{{chk}}}")), "0");
        assert_eq!(v(&format!("baton_lvs_checker_checks_total{{{chk}}}")), "30");
        assert_eq!(
            v(&format!("baton_lvs_checker_failures_total{{{chk}}}")),
            "4"
        );
        assert_eq!(v(r#"baton_lvs_nft_up{table="baton_lvs"}"#), "1");
        assert_eq!(
            v(r#"baton_lvs_nft_apply_errors_total{table="baton_lvs"}"#),
            "0"
        );
        assert_eq!(v("baton_lvs_verdicts_total"), "3");
        assert!(t.contains("# TYPE baton_lvs_checker_up gauge"));
    }

    #[test]
    fn trackers_carry_the_weight_they_apply_per_instance() {
        let t = encode(Some(&sample()));
        let v = |s: &str| value(&t, s).unwrap_or_else(|| panic!("no {s} in\n{t}"));
        let l = r#"iname="VI_1",intf="ens33",vrid="51""#;
        assert_eq!(
            v(&format!(
                r#"baton_vrrp_tracker_weight{{{l},kind="script",name="chk_nginx"}}"#
            )),
            "-150"
        );
        // Unweighted: its failure is FAULT.
        assert_eq!(
            v(&format!(
                r#"baton_vrrp_tracker_weight{{{l},kind="interface",name="ens34"}}"#
            )),
            "0"
        );
    }

    #[test]
    fn no_virtual_server_no_lvs_series() {
        let mut s = sample();
        s.lvs = crate::north::snapshot::LvsSnapshot::default();
        let t = encode(Some(&s));
        assert!(!t.contains("baton_lvs"), "{t}");
    }

    #[test]
    fn a_loop_that_does_not_answer_is_keepalived_up_0_alone() {
        let t = encode(None);
        assert_eq!(value(&t, "keepalived_up").as_deref(), Some("0"));
        assert!(!t.contains("keepalived_vrrp_state"), "{t}");
    }
}
