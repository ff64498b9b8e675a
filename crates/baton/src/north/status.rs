//! `baton status`: ask the daemon over its control socket and print each instance's state,
//! effective priority, master, VIPs held and counters as a table, or the raw JSON with
//! `--json`.
//!
//! The daemon answers `{"daemon": {...}, "instances": [ <instance snapshot>, ... ]}`, where an
//! instance snapshot is the protocol core's serde status (`baton_vrrp::InstanceStatus`: name,
//! state, effective and base priority, master, VIPs held, counters, faults, mismatches). The
//! table reads the fields it knows by name and prints `-` for any it does not find, so a
//! snapshot that grows new fields never breaks the client.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use crate::north::control::{self, Request};

/// Run the client: print the daemon's answer and exit 0, or explain and exit 1.
pub fn run(control_socket: &Path, json: bool) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("baton status: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(control::request(control_socket, &Request::Status)) {
        Ok(v) => {
            let text = if json {
                let mut t = serde_json::to_string_pretty(&v).unwrap_or_default();
                t.push('\n');
                t
            } else {
                render_table(&v)
            };
            // A reader that stops early (`baton status | grep -q MASTER`) is not an error.
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("baton status: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("baton status: {e} (is the daemon running with this pid file or -p?)");
            ExitCode::from(1)
        }
    }
}

/// A field as text: strings bare, numbers and booleans as written, arrays joined by commas,
/// a master as `address (priority)`, missing or null as `-`.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) if o.contains_key("address") => match o.get("priority") {
            Some(p) => format!("{} ({p})", text(o.get("address"))),
            None => text(o.get("address")),
        },
        Some(Value::Array(a)) if a.is_empty() => "-".into(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| text(Some(x)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

fn first<'a>(obj: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| obj.get(*n).filter(|v| !v.is_null()))
}

/// Counters as `name=value`, nested groups as `group.name=value`. The advert counts always
/// show; other counters only once they are non-zero, to keep the line readable.
fn flatten_counters(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_counters(&key, x, out);
            }
        }
        Value::Number(n) => {
            let always = matches!(prefix, "adverts_sent" | "adverts_received");
            if always || n.as_u64() != Some(0) {
                out.push(format!("{prefix}={n}"));
            }
        }
        _ => {}
    }
}

/// One VRRP socket: where, whether open, traffic, and datagrams that never became an advert.
fn socket_line(sock: &Value) -> String {
    let open = sock.get("open").and_then(Value::as_bool).unwrap_or(false);
    let mut line = format!(
        "socket {} {}: {}",
        text(sock.get("interface")),
        text(sock.get("family")),
        if open { "open" } else { "not open" }
    );
    for key in ["received", "sent", "send_errors"] {
        if let Some(n) = sock.get(key).and_then(Value::as_u64)
            && (n > 0 || key != "send_errors")
        {
            let _ = write!(line, " {key}={n}");
        }
    }
    if let Some(w) = sock.get("wire_errors") {
        let mut parts = Vec::new();
        flatten_counters("", w, &mut parts);
        if !parts.is_empty() {
            let _ = write!(line, " not-vrrp: {}", parts.join(" "));
        }
    }
    line
}

/// Render the status answer as a table, one row per instance and its counters beneath.
pub fn render_table(status: &Value) -> String {
    let empty = Vec::new();
    let instances = status
        .get("instances")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut rows = vec![[
        "INSTANCE".to_string(),
        "STATE".into(),
        "PRIO".into(),
        "BASE".into(),
        "MASTER".into(),
        "VIPS".into(),
    ]];
    for i in instances {
        rows.push([
            text(first(i, &["name", "instance"])),
            text(first(i, &["state"])).to_uppercase(),
            text(first(i, &["effective_priority", "priority"])),
            text(first(i, &["base_priority", "configured_priority"])),
            text(first(i, &["master", "master_address"])),
            text(first(i, &["vips_held", "vips"])),
        ]);
    }
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    if let Some(d) = status.get("daemon") {
        let _ = writeln!(
            out,
            "baton pid {} config {}",
            text(d.get("pid")),
            text(d.get("config"))
        );
    }
    if instances.is_empty() {
        out.push_str("no VRRP instances\n");
        render_lvs(status, &mut out);
        return out;
    }
    if let Some(sockets) = status
        .get("daemon")
        .and_then(|d| d.get("sockets"))
        .and_then(Value::as_array)
    {
        for sock in sockets {
            let _ = writeln!(out, "{}", socket_line(sock));
        }
    }
    for (n, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, w) in r.iter().zip(widths) {
            let _ = write!(line, "{c:<w$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if n > 0 {
            let i = &instances[n - 1];
            if let Some(c) = i.get("counters") {
                let mut parts = Vec::new();
                flatten_counters("", c, &mut parts);
                if !parts.is_empty() {
                    let _ = writeln!(out, "  counters: {}", parts.join(" "));
                }
            }
            for (key, label) in [("faults", "faults"), ("mismatches", "mismatches")] {
                if let Some(list) = i.get(key).and_then(Value::as_array)
                    && !list.is_empty()
                {
                    let items: Vec<String> = list
                        .iter()
                        .map(|x| match x {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    let _ = writeln!(out, "  {label}: {}", items.join("; "));
                }
            }
            if let Some(text) = i
                .get("split_brain")
                .and_then(|s| s.get("explanation"))
                .and_then(Value::as_str)
            {
                let _ = writeln!(out, "  two masters: {text}");
            }
        }
    }
    render_lvs(status, &mut out);
    out
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The virtual servers: one line each (scheduler, method, quorum, sorry server, whether
/// the data plane took it), a line per real server (state, weight, transitions) and a line
/// per checker (state, since when, counters, the last verdict's words); then the data
/// plane and the connection sync.
fn render_lvs(status: &Value, out: &mut String) {
    let empty = Vec::new();
    let vss = status
        .get("virtual_servers")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for vs in vss {
        let quorum = format!(
            "quorum {} ({}/{})",
            if flag(vs, "quorum_up") { "up" } else { "DOWN" },
            u64_of(vs, "live_weight"),
            u64_of(vs, "quorum")
        );
        let mut line = format!(
            "VS {} {} {} {quorum}",
            text(vs.get("name")),
            text(vs.get("scheduler")),
            text(vs.get("forwarding")),
        );
        if let Some(p) = vs.get("persistence_timeout_s").and_then(Value::as_u64) {
            let _ = write!(line, " persistence {p}s");
        }
        if vs.get("sorry_server").is_some_and(|s| !s.is_null()) {
            let _ = write!(
                line,
                " sorry {}{}",
                text(vs.get("sorry_server")),
                if flag(vs, "sorry_server_in_use") {
                    " (IN USE)"
                } else {
                    ""
                }
            );
        }
        if flag(vs, "checkers_suspended") {
            line.push_str(" checkers suspended");
        }
        if !flag(vs, "programmed") {
            line.push_str(" NOT PROGRAMMED");
        }
        let _ = writeln!(out, "{line}");
        for rs in vs
            .get("real_servers")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let _ = writeln!(
                out,
                "  RS {} {} weight {} (configured {}) down={} up={}",
                text(rs.get("name")),
                if flag(rs, "alive") { "UP" } else { "DOWN" },
                u64_of(rs, "weight"),
                u64_of(rs, "configured_weight"),
                u64_of(rs, "went_down"),
                u64_of(rs, "came_up"),
            );
            for c in rs
                .get("checkers")
                .and_then(Value::as_array)
                .unwrap_or(&empty)
            {
                let mut line = format!(
                    "    {} {} {}",
                    text(c.get("keyword")),
                    text(c.get("target")),
                    text(c.get("state")),
                );
                if let Some(w) = c.get("weight").and_then(Value::as_str) {
                    let _ = write!(line, " ({w})");
                }
                if let Some(ms) = c.get("since_ms").and_then(Value::as_u64) {
                    let _ = write!(line, " for {:.1}s", ms as f64 / 1000.0);
                }
                let _ = write!(
                    line,
                    " probes={} failures={}",
                    u64_of(c, "probes"),
                    u64_of(c, "failures")
                );
                if let Some(r) = c.get("reason").and_then(Value::as_str) {
                    let _ = write!(line, ": {r}");
                }
                let _ = writeln!(out, "{line}");
            }
        }
    }
    let Some(lvs) = status.get("lvs") else { return };
    if let Some(dp) = lvs.get("dataplane").filter(|d| !d.is_null()) {
        let counters = lvs.get("counters").cloned().unwrap_or(Value::Null);
        let mut line = format!(
            "nftables inet {}: {} programmed={}/{} verdicts={} table_changes={}",
            text(dp.get("table")),
            if flag(dp, "open") { "open" } else { "NOT OPEN" },
            u64_of(dp, "programmed"),
            u64_of(dp, "submitted"),
            u64_of(&counters, "verdicts"),
            u64_of(&counters, "table_changes"),
        );
        if let Some(e) = dp.get("error").and_then(Value::as_str) {
            let _ = write!(line, " error: {e}");
        }
        let _ = writeln!(out, "{line}");
        for key in ["refused", "left_out"] {
            for r in dp.get(key).and_then(Value::as_array).unwrap_or(&empty) {
                let _ = writeln!(out, "  {key}: {}", text(r.get("reason")));
            }
        }
    }
    if let Some(sync) = lvs.get("sync_daemon").filter(|d| !d.is_null()) {
        let _ = writeln!(
            out,
            "lvs_sync_daemon {} {}: conntrackd pid {} {} transitions={} failed_commands={}",
            text(sync.get("interface")),
            text(sync.get("instance")),
            text(sync.get("pid")),
            text(sync.get("role")).to_uppercase(),
            u64_of(sync, "transitions"),
            u64_of(sync, "failed_commands"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_names_a_second_master() {
        let v = json!({
            "instances": [
                {"name": "VI_1", "state": "Master", "effective_priority": 200,
                 "base_priority": 200, "master": null, "vips_held": [],
                 "split_brain": {"peer": "192.168.5.12", "peer_priority": 100,
                                 "not_heard_for_ms": 12000, "adverts": 13,
                                 "explanation": "192.168.5.12 sends adverts but has not heard ours for 12 s: its firewall or its multicast membership drops VRRP (baton check --explain)"}}
            ]
        });
        let t = render_table(&v);
        assert!(
            t.contains(
                "\n  two masters: 192.168.5.12 sends adverts but has not heard ours for 12 s"
            ),
            "{t}"
        );
    }

    #[test]
    fn table_shows_state_priority_master_vips_and_counters() {
        // Shaped like baton-vrrp's InstanceStatus.
        let v = json!({
            "daemon": {"pid": 12, "config": "/etc/keepalived/keepalived.conf"},
            "instances": [
                {"name": "VI_1", "vrid": 51, "state": "Master", "effective_priority": 200,
                 "base_priority": 200,
                 "master": {"address": "192.168.5.11", "priority": 200},
                 "vips_held": ["192.168.5.10"],
                 "faults": [], "mismatches": [],
                 "counters": {"adverts_sent": 42, "adverts_received": 0,
                              "priority_zero_sent": 0,
                              "dropped": {"ttl": 3, "auth": 0},
                              "transitions": {"master": 1, "backup": 1}}},
                {"name": "VI_6", "state": "Fault", "effective_priority": 50,
                 "base_priority": 100, "master": null, "vips_held": [],
                 "faults": ["interface eth1 down"]}
            ]
        });
        let t = render_table(&v);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "baton pid 12 config /etc/keepalived/keepalived.conf"
        );
        assert!(
            lines[1].starts_with("INSTANCE  STATE   PRIO  BASE  MASTER"),
            "{t}"
        );
        let vi1: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            vi1,
            [
                "VI_1",
                "MASTER",
                "200",
                "200",
                "192.168.5.11",
                "(200)",
                "192.168.5.10"
            ]
        );
        assert_eq!(
            lines[3],
            "  counters: adverts_received=0 adverts_sent=42 dropped.ttl=3 \
             transitions.backup=1 transitions.master=1"
        );
        let vi6: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(vi6, ["VI_6", "FAULT", "50", "100", "-", "-"]);
        assert_eq!(lines[5], "  faults: interface eth1 down");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn sockets_show_traffic_and_what_was_not_vrrp() {
        let v = json!({
            "daemon": {"pid": 3, "config": "/k.conf", "sockets": [
                {"interface": "ens33", "family": "IPv4", "open": true, "received": 9,
                 "sent": 4, "send_errors": 0,
                 "wire_errors": {"checksum": 2, "carp": 0, "truncated": 1}},
                {"interface": "lan1", "family": "IPv6", "open": false, "received": 0,
                 "sent": 0, "send_errors": 3, "wire_errors": {}}
            ]},
            "instances": [{"name": "VI_1", "state": "Backup"}]
        });
        let t = render_table(&v);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[1],
            "socket ens33 IPv4: open received=9 sent=4 not-vrrp: checksum=2 truncated=1"
        );
        assert_eq!(
            lines[2],
            "socket lan1 IPv6: not open received=0 sent=0 send_errors=3"
        );
        assert!(lines[3].starts_with("INSTANCE"), "{t}");
    }

    #[test]
    fn virtual_servers_show_real_servers_checkers_and_the_data_plane() {
        let v = json!({
            "instances": [],
            "virtual_servers": [{
                "name": "[10.1.0.100]:tcp:80", "scheduler": "wrr", "forwarding": "NAT",
                "quorum_up": true, "live_weight": 3, "quorum": 1, "programmed": true,
                "sorry_server": "[10.2.0.99]:tcp:80", "sorry_server_in_use": false,
                "real_servers": [{
                    "name": "[10.2.0.11]:tcp:8080", "alive": false, "weight": 2,
                    "configured_weight": 2, "went_down": 1, "came_up": 0,
                    "checkers": [{"keyword": "TCP_CHECK", "target": "[10.2.0.11]:8080",
                                  "state": "down", "since_ms": 1500, "probes": 9,
                                  "failures": 2,
                                  "reason": "TCP_CHECK on service [10.2.0.11]:tcp:8080 failed."}]
                }]
            }],
            "lvs": {"counters": {"verdicts": 4, "table_changes": 3},
                    "dataplane": {"table": "baton_lvs", "open": true, "submitted": 3,
                                  "programmed": 3, "refused": [], "left_out": []},
                    "sync_daemon": null}
        });
        let t = render_table(&v);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "no VRRP instances");
        assert_eq!(
            lines[1],
            "VS [10.1.0.100]:tcp:80 wrr NAT quorum up (3/1) sorry [10.2.0.99]:tcp:80"
        );
        assert_eq!(
            lines[2],
            "  RS [10.2.0.11]:tcp:8080 DOWN weight 2 (configured 2) down=1 up=0"
        );
        assert_eq!(
            lines[3],
            "    TCP_CHECK [10.2.0.11]:8080 down for 1.5s probes=9 failures=2: \
             TCP_CHECK on service [10.2.0.11]:tcp:8080 failed."
        );
        assert_eq!(
            lines[4],
            "nftables inet baton_lvs: open programmed=3/3 verdicts=4 table_changes=3"
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn no_instances_is_said_plainly() {
        let t = render_table(&json!({"instances": []}));
        assert_eq!(t, "no VRRP instances\n");
        assert_eq!(render_table(&json!(null)), "no VRRP instances\n");
    }
}
