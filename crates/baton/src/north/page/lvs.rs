//! The status page's virtual servers: one table each, a row per real server with its state,
//! weights, transitions and checkers, under a line with the service's quorum, sorry server
//! and whether nftables forwards it; then the data plane's record.

use std::fmt::Write as _;

use super::{duration, esc};
use crate::north::snapshot::LvsSnapshot;
use crate::runtime::lvs_status::{CheckView, VirtualServerView};

fn ago(ms: Option<u64>) -> String {
    ms.map_or("-".into(), |ms| {
        format!("{} ago", duration(std::time::Duration::from_millis(ms)))
    })
}

fn checker(c: &CheckView) -> String {
    let class = match c.state {
        "up" => "",
        "down" => " class=\"bad\"",
        _ => " class=\"muted\"",
    };
    format!(
        "{} {}: <span{class}>{}</span>{}{} · {} checks, {} failed · {}",
        esc(c.keyword),
        esc(&c.target),
        c.state,
        c.weight
            .as_ref()
            .map_or(String::new(), |w| format!(" (weight {})", esc(w))),
        c.reason
            .as_ref()
            .map_or(String::new(), |r| format!(" ({})", esc(r))),
        c.probes,
        c.failures,
        ago(c.since_ms),
    )
}

fn virtual_server(o: &mut String, vs: &VirtualServerView) {
    let quorum = if vs.quorum_up {
        format!("quorum up ({} of {})", vs.live_weight, vs.quorum)
    } else {
        format!(
            "<span class=\"bad\">quorum down ({} of {})</span>",
            vs.live_weight, vs.quorum
        )
    };
    let sorry = match &vs.sorry_server {
        Some(s) if vs.sorry_server_in_use => {
            format!(
                " · <span class=\"bad\">sorry server {} in use</span>",
                esc(s)
            )
        }
        Some(s) => format!(" · sorry server {}", esc(s)),
        None => String::new(),
    };
    let programmed = if vs.programmed {
        "in nftables".to_string()
    } else {
        "<span class=\"bad\">not in nftables</span>".to_string()
    };
    let _ = write!(
        o,
        "<div class=\"inst\" id=\"vs-{id}\" data-quorum=\"{q}\"><h2>{name}</h2>\
         <p class=\"meta\">{sched} · {fwd}{persist} · {quorum}{sorry} · {programmed}{susp}</p>\
         <table><tr><th>real server</th><th>state</th><th>weight</th><th>down / up</th>\
         <th>last change</th><th>checkers</th></tr>",
        id = esc(&vs.name),
        q = if vs.quorum_up { "up" } else { "down" },
        name = esc(&vs.name),
        sched = esc(&vs.scheduler),
        fwd = vs.forwarding,
        persist = vs
            .persistence_timeout_s
            .map_or(String::new(), |t| format!(" · persistent {t} s")),
        susp = if vs.checkers_suspended {
            " · checkers suspended (ha_suspend)"
        } else {
            ""
        },
    );
    for rs in &vs.real_servers {
        let state = if rs.alive {
            "<span class=\"state MASTER\">UP</span>"
        } else {
            "<span class=\"state FAULT\">DOWN</span>"
        };
        let checks: Vec<String> = rs.checkers.iter().map(checker).collect();
        let _ = write!(
            o,
            "<tr class=\"rs\" data-rs=\"{name}\" data-alive=\"{alive}\"><td>{name}</td><td>{state}</td>\
             <td>{w} in table, {e} effective, {c} configured</td><td>{down} / {up}</td>\
             <td>{since}</td><td>{checks}</td></tr>",
            name = esc(&rs.name),
            alive = rs.alive,
            w = if rs.alive { rs.weight } else { 0 },
            e = rs.effective_weight,
            c = rs.configured_weight,
            down = rs.went_down,
            up = rs.came_up,
            since = ago(rs.since_change_ms),
            checks = if checks.is_empty() {
                "-".into()
            } else {
                checks.join("<br>")
            },
        );
    }
    o.push_str("</table></div>");
}

/// The virtual servers' section; nothing without any.
pub fn virtual_servers(o: &mut String, lvs: &LvsSnapshot) {
    if lvs.virtual_servers.is_empty() && lvs.dataplane.is_none() {
        return;
    }
    o.push_str("<h2>Virtual servers</h2>");
    for vs in &lvs.virtual_servers {
        virtual_server(o, vs);
    }
    if let Some(d) = &lvs.dataplane {
        let _ = write!(
            o,
            "<p class=\"meta\" id=\"dataplane\">nftables {}: {} · {} tables programmed, \
             {} refused{}{}</p>",
            esc(&d.table),
            if d.open {
                "open".to_string()
            } else {
                format!(
                    "<span class=\"bad\">not open{}</span>",
                    d.error
                        .as_ref()
                        .map_or(String::new(), |e| format!(": {}", esc(e)))
                )
            },
            d.programmed,
            d.apply_errors,
            d.refused
                .iter()
                .chain(&d.left_out)
                .map(|r| format!(" · <span class=\"bad\">{}</span>", esc(&r.reason)))
                .collect::<String>(),
            format_args!(" · {} verdicts", lvs.verdicts),
        );
    }
}
