//! `baton status`: ask the daemon over its control socket and print each instance's state,
//! effective priority, master, VIPs held and counters as a table, or the raw JSON with
//! `--json`.
//!
//! The daemon answers `{"daemon": {...}, "instances": [ <instance snapshot>, ... ]}`, where an
//! instance snapshot is the protocol core's serde status. The table reads the fields it knows
//! by name and prints `-` for any it does not find, so a snapshot that grows new fields never
//! breaks the client.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use crate::control::{self, Request};

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
            if json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                print!("{}", render_table(&v));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("baton status: {e} (is the daemon running with this pid file or -p?)");
            ExitCode::from(1)
        }
    }
}

/// A field as text: strings bare, numbers and booleans as written, arrays joined by commas,
/// missing or null as `-`.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
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
            text(first(i, &["state"])),
            text(first(i, &["effective_priority", "priority"])),
            text(first(i, &["base_priority", "configured_priority"])),
            text(first(i, &["master", "master_addr", "master_address"])),
            text(first(i, &["vips", "vips_held", "virtual_ipaddress"])),
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
        return out;
    }
    for (n, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, w) in r.iter().zip(widths) {
            let _ = write!(line, "{c:<w$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if n > 0
            && let Some(counters) = instances[n - 1].get("counters").and_then(Value::as_object)
        {
            let parts: Vec<String> = counters
                .iter()
                .map(|(k, v)| format!("{k}={}", text(Some(v))))
                .collect();
            if !parts.is_empty() {
                let _ = writeln!(out, "  counters: {}", parts.join(" "));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_shows_state_priority_master_vips_and_counters() {
        let v = json!({
            "daemon": {"pid": 12, "config": "/etc/keepalived/keepalived.conf"},
            "instances": [
                {"name": "VI_1", "state": "MASTER", "effective_priority": 200,
                 "base_priority": 200, "master": "192.168.5.11",
                 "vips": ["192.168.5.10/32"],
                 "counters": {"adverts_sent": 42, "adverts_received": 0}},
                {"name": "VI_6", "state": "BACKUP", "effective_priority": 50,
                 "base_priority": 100, "master": null, "vips": []}
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
                "192.168.5.10/32"
            ]
        );
        assert_eq!(lines[3], "  counters: adverts_received=0 adverts_sent=42");
        let vi6: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(vi6, ["VI_6", "BACKUP", "50", "100", "-", "-"]);
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn no_instances_is_said_plainly() {
        let t = render_table(&json!({"instances": []}));
        assert_eq!(t, "no VRRP instances\n");
        assert_eq!(render_table(&json!(null)), "no VRRP instances\n");
    }
}
