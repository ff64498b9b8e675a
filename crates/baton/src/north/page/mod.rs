//! The status page at `/` of the `--metrics` listener, in the spirit of HAProxy's stats
//! page: one server-rendered HTML document, read-only (no form, no script, no write
//! action), that reloads itself every [`REFRESH_SECS`] seconds. Every instance with its
//! state, effective and configured priority, master, VIPs, faults and peer mismatches, its
//! last state changes with cause and duration, then the trackers, the virtual servers
//! (with their real servers and checkers) and the VRRP sockets.

mod lvs;
mod time;

use std::fmt::Write as _;

use baton_vrrp::{InstanceStatus, State};

use crate::north::snapshot::{InstanceView, Snapshot};
pub use time::{duration, utc};

/// Seconds between reloads of the page.
pub const REFRESH_SECS: u32 = 2;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#222}\
h1{font-size:20px;margin:0 0 .2em}h2{font-size:16px;margin:1.4em 0 .4em}\
.meta{color:#555}table{border-collapse:collapse;margin:.3em 0 .8em}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#eee}.inst{border:1px solid #bbb;border-radius:4px;padding:.4em .8em;margin:.8em 0}\
.state{font-weight:bold;padding:1px 8px;border-radius:3px;color:#fff}\
.MASTER{background:#2a7d2a}.BACKUP{background:#2a5d9d}.FAULT{background:#b02a2a}\
.INIT,.STOP{background:#777}.bad{color:#b02a2a}.muted{color:#777}";

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The whole page; `None` (the event loop did not answer) says so.
pub fn render(s: Option<&Snapshot>) -> String {
    let mut o = String::with_capacity(8192);
    let _ = write!(
        o,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <title>baton status</title><style>{STYLE}</style></head><body>"
    );
    match s {
        None => o.push_str(
            "<h1>baton</h1><p class=\"bad\" id=\"down\">The event loop did not answer: \
             the daemon is stalled or stopping.</p>",
        ),
        Some(s) => body(&mut o, s),
    }
    o.push_str("</body></html>\n");
    o
}

fn body(o: &mut String, s: &Snapshot) {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let _ = write!(
        o,
        "<h1>baton on {}</h1><p class=\"meta\">v{} · pid {} · up {} · {} · \
         reloads {} (refused {}) · taken {} · refreshes every {REFRESH_SECS} s</p>",
        esc(&host),
        esc(s.version),
        s.pid,
        duration(s.uptime),
        esc(&s.config.display().to_string()),
        s.reloads,
        s.reloads_refused,
        utc(s.wall(s.now)),
    );
    if s.node.instances.is_empty() {
        o.push_str("<p>No VRRP instances.</p>");
    }
    for (i, v) in s.instances() {
        instance(o, s, i, v);
    }
    trackers(o, s);
    lvs::virtual_servers(o, &s.lvs);
    sockets(o, s);
}

fn state_badge(state: State) -> String {
    let word = state.to_string();
    format!("<span class=\"state {word}\">{word}</span>")
}

fn instance(o: &mut String, s: &Snapshot, i: &InstanceStatus, v: &InstanceView) {
    let _ = write!(
        o,
        "<div class=\"inst\" id=\"instance-{name}\" data-state=\"{state}\">\
         <h2>{name} {badge}</h2><table>",
        name = esc(&i.name),
        state = i.state,
        badge = state_badge(i.state),
    );
    let row = |o: &mut String, k: &str, val: String| {
        let _ = write!(o, "<tr><th>{k}</th><td>{val}</td></tr>");
    };
    row(
        o,
        "priority",
        format!(
            "<span class=\"prio\">{}</span> effective, {} configured",
            i.effective_priority, i.base_priority
        ),
    );
    let master = match &i.master {
        Some(m) if i.state == State::Master => format!("this node ({}, {})", m.address, m.priority),
        Some(m) => format!("{} (priority {})", m.address, m.priority),
        None => "<span class=\"muted\">none heard</span>".into(),
    };
    row(o, "master", master);
    let vips: Vec<String> = v
        .vips
        .iter()
        .chain(v.excluded.iter())
        .map(|a| {
            let held = i.vips_held.iter().any(|h| {
                a.addr == h.to_string() || a.addr.split('/').next() == Some(&h.to_string())
            });
            format!(
                "{} dev {}{}",
                esc(&a.addr),
                esc(&a.dev),
                if held { " <b>held</b>" } else { "" }
            )
        })
        .collect();
    row(
        o,
        "VIPs",
        if vips.is_empty() {
            "-".into()
        } else {
            vips.join("<br>")
        },
    );
    row(
        o,
        "router",
        format!(
            "VRID {} · {} {} on {} · from {} · advert {} ms",
            i.vrid,
            esc(&i.version),
            esc(&i.family),
            esc(&i.interface),
            i.source.map_or("-".into(), |a| a.to_string()),
            i.advert_interval_ms
        ),
    );
    if !v.track_scripts.is_empty() {
        let t: Vec<String> = v
            .track_scripts
            .iter()
            .map(|(n, w)| {
                let st = s.script_state(n).unwrap_or("-");
                format!("{} (weight {w}): {}", esc(n), esc(st))
            })
            .collect();
        row(o, "tracked scripts", t.join("<br>"));
    }
    if !i.faults.is_empty() {
        let f: Vec<String> = i.faults.iter().map(|f| esc(f)).collect();
        row(
            o,
            "faults",
            format!("<span class=\"bad\">{}</span>", f.join("<br>")),
        );
    }
    if !i.mismatches.is_empty() {
        let m: Vec<String> = i
            .mismatches
            .iter()
            .map(|m| {
                format!(
                    "{} {}: ours {}, theirs {} ({} adverts)",
                    m.peer,
                    m.field,
                    esc(&m.ours),
                    esc(&m.theirs),
                    m.count
                )
            })
            .collect();
        row(
            o,
            "peer mismatches",
            format!("<span class=\"bad\">{}</span>", m.join("<br>")),
        );
    }
    if let Some(sb) = &i.split_brain {
        row(
            o,
            "split brain",
            format!("<span class=\"bad\">{}</span>", esc(&sb.explanation)),
        );
    }
    let c = &i.counters;
    row(
        o,
        "adverts",
        format!(
            "{} sent, {} received, {} dropped; priority 0: {} sent, {} received",
            c.adverts_sent,
            c.adverts_received,
            c.dropped.total(),
            c.priority_zero_sent,
            c.priority_zero_received
        ),
    );
    if let Some(t) = v.last_takeover {
        row(o, "last takeover", duration(t));
    }
    o.push_str("</table>");
    if !v.changes.is_empty() {
        o.push_str(
            "<table class=\"changes\"><tr><th>when</th><th>change</th><th>cause</th>\
             <th>held before</th><th>takeover</th></tr>",
        );
        for ch in v.changes.iter().rev() {
            let _ = write!(
                o,
                "<tr><td>{} ({} ago)</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                utc(s.wall(ch.at)),
                duration(s.ago(ch.at)),
                ch.from,
                ch.to,
                esc(&ch.cause),
                ch.held.map_or("-".into(), duration),
                ch.takeover.map_or("-".into(), duration),
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</div>");
}

fn trackers(o: &mut String, s: &Snapshot) {
    if s.node.trackers.is_empty() {
        return;
    }
    o.push_str("<h2>Trackers</h2><table><tr><th>kind</th><th>name</th><th>state</th></tr>");
    for t in &s.node.trackers {
        let running = t.kind == "script" && s.scripts_running.contains(&t.name);
        let class = if t.state == "failed" {
            " class=\"bad\""
        } else {
            ""
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td{class}>{}{}</td></tr>",
            t.kind,
            esc(&t.name),
            esc(&t.state),
            if running { " (running)" } else { "" }
        );
    }
    o.push_str("</table>");
}

fn sockets(o: &mut String, s: &Snapshot) {
    if s.sockets.is_empty() {
        return;
    }
    o.push_str(
        "<h2>VRRP sockets</h2><table><tr><th>interface</th><th>family</th><th>open</th>\
         <th>received</th><th>sent</th><th>send errors</th><th>not VRRP</th></tr>",
    );
    for e in &s.sockets {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.interface),
            esc(&e.family),
            if e.open {
                "yes"
            } else {
                "<span class=\"bad\">no</span>"
            },
            e.stats.received,
            e.stats.sent,
            e.stats.send_errors,
            e.stats.wire_errors.total(),
        );
    }
    o.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::north::snapshot::sample;

    #[test]
    fn every_instance_with_state_priorities_master_vips_and_changes() {
        let p = render(Some(&sample()));
        assert!(p.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
        assert!(
            p.contains(r#"id="instance-VI_1" data-state="MASTER""#),
            "{p}"
        );
        assert!(
            p.contains(r#"id="instance-VI_2" data-state="FAULT""#),
            "{p}"
        );
        assert!(p.contains("200</span> effective, 200 configured"), "{p}");
        assert!(p.contains("this node (192.168.5.11, 200)"), "{p}");
        assert!(p.contains("192.168.5.10 dev ens33 <b>held</b>"), "{p}");
        assert!(p.contains("interface ens33 down"), "{p}");
        // The last change first, with its cause, the time held before and the takeover.
        let changes = p.find("<table class=\"changes\">").unwrap();
        let first_row = &p[changes..];
        let row = first_row.split("</tr>").nth(1).unwrap();
        assert!(row.contains("BACKUP → MASTER"), "{row}");
        assert!(row.contains("master down timer expired"), "{row}");
        assert!(row.contains("10.00 s"), "{row}");
        assert!(row.contains("12.0 ms"), "{row}");
        assert!(p.contains("chk_nginx (weight -150): ok"), "{p}");
        assert!(p.contains("ok (running)"), "{p}");
        // Read-only: no form, no script.
        assert!(!p.contains("<form") && !p.contains("<script"), "{p}");
    }

    #[test]
    fn virtual_servers_with_real_servers_and_checkers() {
        let p = render(Some(&sample()));
        assert!(
            p.contains(r#"id="vs-[192.168.5.10]:tcp:80" data-quorum="up""#),
            "{p}"
        );
        assert!(
            p.contains(r#"data-rs="[10.0.0.21]:tcp:8080" data-alive="true""#),
            "{p}"
        );
        assert!(
            p.contains(r#"data-rs="[10.0.0.22]:tcp:8080" data-alive="false""#),
            "{p}"
        );
        assert!(p.contains("quorum up (3 of 1)"), "{p}");
        assert!(p.contains("sorry server [10.0.0.99]:tcp:8080"), "{p}");
        assert!(
            p.contains("HTTP_GET [10.0.0.22]:8080: <span class=\"bad\">down</span> (connection refused) · 30 checks, 4 failed"),
            "{p}"
        );
        assert!(p.contains("nftables baton_lvs: open"), "{p}");
        let mut s = sample();
        s.lvs = crate::north::snapshot::LvsSnapshot::default();
        assert!(!render(Some(&s)).contains("Virtual servers"));
    }

    #[test]
    fn text_from_the_configuration_is_escaped() {
        assert_eq!(esc("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        let down = render(None);
        assert!(down.contains("id=\"down\""));
    }
}
