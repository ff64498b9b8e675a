//! The live view: a frame of plain text with ANSI colours, built from a snapshot of the
//! system (no IO here, so it is tested as text), and the one-line form printed instead when
//! standard output is not a terminal.

use std::fmt::Write as _;
use std::time::Duration;

use super::client::Tally;
use super::timers::secs;

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const REVERSE_RED: &str = "\x1b[1;41;97m";
const RESET: &str = "\x1b[0m";

/// baton on one load balancer, as far as the demo knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Daemon {
    /// Answering on its control socket.
    Running {
        pid: u64,
        /// The kernel's name for it.
        name: String,
    },
    /// Killed by the demo (or exited).
    Stopped,
    /// Running but not answering (yet).
    Silent,
}

/// One load balancer's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub name: &'static str,
    pub addr: String,
    pub daemon: Daemon,
    /// `Master`, `Backup`, `Fault`; empty when unknown.
    pub state: String,
    pub priority: Option<u64>,
    pub base: Option<u64>,
    /// The kernel holds the VIP on this host.
    pub vip: bool,
    pub proxy_up: bool,
    pub adverts: Option<(u64, u64)>,
    /// `check_nginx ok, nginx 2 running`.
    pub trackers: String,
    pub faults: Vec<String>,
    /// How long ago check_nginx last ran.
    pub check_ran: Option<Duration>,
}

/// The client's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub target: String,
    pub rate: u32,
    pub timeout: Duration,
    pub last_second: Tally,
    pub totals: Tally,
    /// One tally per second, oldest first.
    pub history: Vec<Tally>,
}

/// Everything one frame shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What is running: `interactive`, or the scripted step under way.
    pub mode: String,
    pub elapsed: Duration,
    pub lab_id: String,
    pub vip: String,
    pub proxy: String,
    /// One line per health tracker in use.
    pub tracking: Vec<String>,
    pub nodes: [NodeRow; 2],
    pub client: Option<ClientRow>,
    pub last_failover: Option<String>,
    /// Set while both load balancers are MASTER: what says so.
    pub split_brain: Option<String>,
    pub firewall: Option<String>,
    pub events: Vec<String>,
    /// The key line, when keys are read.
    pub keys: Option<String>,
}

fn state_colour(state: &str) -> &'static str {
    match state {
        "Master" => GREEN,
        "Fault" => RED,
        "Backup" => "",
        _ => DIM,
    }
}

/// The frame as at most `rows` lines of at most `cols` characters for the terminal.
pub fn render(f: &Frame, rows: usize, cols: usize) -> Vec<String> {
    let mut l = Vec::new();
    l.push(format!(
        "{BOLD}baton demo{RESET} — the seed's nginx pair and its VIP   {DIM}{} · {}{RESET}",
        f.mode,
        secs_whole(f.elapsed)
    ));
    l.push(format!(
        "{DIM}lab {} · client 192.168.5.100 · backends tomcat1 192.168.5.21:8080, tomcat2 192.168.5.22:8080{RESET}",
        f.lab_id
    ));
    l.push(format!("proxy:  {}", f.proxy));
    for (i, t) in f.tracking.iter().enumerate() {
        l.push(format!(
            "{}{t}",
            if i == 0 { "health: " } else { "        " }
        ));
    }
    l.push(String::new());
    l.push(format!(
        "{BOLD}{:<5} {:<15} {:<22} {:<7} {:<9} {:<4} {:<6} {}{RESET}",
        "node", "address", "baton", "state", "prio", "VIP", "nginx", "adverts sent/received"
    ));
    for n in &f.nodes {
        let daemon = match &n.daemon {
            Daemon::Running { pid, name } => format!("pid {pid} as {name}"),
            Daemon::Stopped => format!("{RED}killed{RESET}"),
            Daemon::Silent => format!("{YELLOW}not answering{RESET}"),
        };
        let daemon_pad = pad_visible(&daemon, 22);
        let state = if n.state.is_empty() { "-" } else { &n.state };
        let prio = match (n.priority, n.base) {
            (Some(p), Some(b)) if p != b => format!("{p} ({b})"),
            (Some(p), _) => p.to_string(),
            _ => "-".into(),
        };
        let vip = if n.vip {
            format!("{GREEN}{BOLD}yes{RESET} ")
        } else {
            "-   ".to_string()
        };
        let proxy = if n.proxy_up {
            "up    ".to_string()
        } else {
            format!("{RED}down{RESET}  ")
        };
        let adverts = n
            .adverts
            .map_or("-".into(), |(tx, rx)| format!("{tx}/{rx}"));
        let mut trackers = n.trackers.clone();
        if let Some(ago) = n.check_ran {
            let _ = write!(trackers, " {DIM}(check ran {} ago){RESET}", secs_whole(ago));
        }
        l.push(format!(
            "{:<5} {:<15} {daemon_pad} {}{:<7}{RESET} {:<9} {vip} {proxy} {adverts}",
            n.name,
            n.addr,
            state_colour(state),
            state,
            prio,
        ));
        if !trackers.is_empty() {
            l.push(format!("      trackers: {trackers}"));
        }
        if !n.faults.is_empty() {
            l.push(format!("      {RED}faults: {}{RESET}", n.faults.join("; ")));
        }
    }
    // A crashed daemon leaves its VIP on the interface (keepalived's too): say so.
    let holders: Vec<String> = f
        .nodes
        .iter()
        .filter(|n| n.vip)
        .map(|n| match n.daemon {
            Daemon::Stopped => format!("{} (left over by its killed baton)", n.name),
            _ => n.name.to_string(),
        })
        .collect();
    l.push(String::new());
    l.push(match holders.as_slice() {
        [] => format!("VIP {} is {RED}held by nobody{RESET}", f.vip),
        [one] => format!("VIP {} is on {BOLD}{one}{RESET}", f.vip),
        many => format!(
            "VIP {} is on {RED}{BOLD}{}{RESET}",
            f.vip,
            many.join(" and ")
        ),
    });
    if let Some(sb) = &f.split_brain {
        l.push(format!(
            "{REVERSE_RED} SPLIT BRAIN {RESET} {RED}{sb}{RESET}"
        ));
    }
    if let Some(fw) = &f.firewall {
        l.push(format!("{YELLOW}firewall: {fw}{RESET}"));
    }
    l.push(String::new());
    match &f.client {
        None => l.push(format!("{DIM}client: not started yet{RESET}")),
        Some(c) => {
            l.push(format!(
                "requests to {} ({}/s, a fresh connection each, {} timeout)",
                c.target,
                c.rate,
                secs(c.timeout)
            ));
            let s = &c.last_second;
            let failed = if s.failed > 0 {
                format!("{RED}{} failed ({}){RESET}", s.failed, s.failure_kinds())
            } else {
                "0 failed".to_string()
            };
            l.push(format!(
                "  last second: {:>4} ok (lb1 {}, lb2 {}; backend 1 {}, backend 2 {}), {failed}",
                s.ok, s.by_lb[0], s.by_lb[1], s.by_backend[0], s.by_backend[1]
            ));
            let t = &c.totals;
            l.push(format!(
                "  since start: {:>4} ok, {} failed{}",
                t.ok,
                t.failed,
                if t.failed > 0 {
                    format!(" ({})", t.failure_kinds())
                } else {
                    String::new()
                }
            ));
            l.push(format!(
                "  last {:>2} s:    {}",
                c.history.len(),
                sparkline(&c.history, c.rate)
            ));
        }
    }
    l.push(format!(
        "last failover: {}",
        f.last_failover.as_deref().unwrap_or("none yet")
    ));
    l.push(String::new());
    let mut tail = Vec::new();
    if let Some(k) = &f.keys {
        tail.push(String::new());
        tail.push(format!("{BOLD}{k}{RESET}"));
    }
    // The newest events that fit on the screen.
    let room = rows.saturating_sub(l.len() + tail.len());
    for e in &f.events[f.events.len().saturating_sub(room)..] {
        l.push(format!("{DIM}{e}{RESET}"));
    }
    l.extend(tail);
    l.truncate(rows);
    l.iter().map(|line| fit(line, cols)).collect()
}

/// `line` cut to `cols` visible characters (colour sequences kept, colour reset after a cut).
pub fn fit(line: &str, cols: usize) -> String {
    let mut out = String::with_capacity(line.len());
    let mut visible = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            for d in chars.by_ref() {
                out.push(d);
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        if visible == cols {
            out.push_str(RESET);
            break;
        }
        out.push(c);
        visible += 1;
    }
    out
}

/// One character per second: the height is the share of the rate answered, red when any
/// request failed that second.
pub fn sparkline(history: &[Tally], rate: u32) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let mut out = String::new();
    for t in history {
        let share = t.ok as f64 / f64::from(rate.max(1));
        let i = ((share * 7.0).round() as usize).min(7);
        if t.failed > 0 {
            let _ = write!(out, "{RED}{}{RESET}", BARS[i]);
        } else if t.total() == 0 {
            out.push(' ');
        } else {
            out.push(BARS[i]);
        }
    }
    out
}

/// Pad `s` to `width` visible characters (ANSI sequences take no room).
fn pad_visible(s: &str, width: usize) -> String {
    let visible = strip_ansi(s).chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(visible)))
}

/// `s` without ANSI colour sequences.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn secs_whole(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// The one-line form for a log: `t=12.3s lb1 Master 202 VIP | lb2 Backup 102 | 200 ok 0 failed`.
pub fn line(f: &Frame) -> String {
    let mut out = format!("t={:.1}s", f.elapsed.as_secs_f64());
    for n in &f.nodes {
        let state = match &n.daemon {
            Daemon::Stopped => "killed".to_string(),
            Daemon::Silent => "silent".to_string(),
            Daemon::Running { .. } if n.state.is_empty() => "?".to_string(),
            Daemon::Running { .. } => n.state.clone(),
        };
        let _ = write!(
            out,
            " | {} {} {}{}{}",
            n.name,
            state,
            n.priority.map_or("-".into(), |p| p.to_string()),
            if n.vip { " VIP" } else { "" },
            if n.proxy_up { "" } else { " nginx-down" }
        );
    }
    if let Some(c) = &f.client {
        let _ = write!(
            out,
            " | last 1 s: {} ok (lb1 {}, lb2 {}), {} failed",
            c.last_second.ok, c.last_second.by_lb[0], c.last_second.by_lb[1], c.last_second.failed
        );
    }
    if f.split_brain.is_some() {
        out.push_str(" | SPLIT BRAIN");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Failure, Outcome, Served};

    fn node(name: &'static str, state: &str, prio: u64, vip: bool) -> NodeRow {
        NodeRow {
            name,
            addr: "192.168.5.11".into(),
            daemon: Daemon::Running {
                pid: 9,
                name: "keepalived".into(),
            },
            state: state.into(),
            priority: Some(prio),
            base: Some(200),
            vip,
            proxy_up: true,
            adverts: Some((5, 0)),
            trackers: "check_nginx ok".into(),
            faults: vec![],
            check_ran: None,
        }
    }

    fn frame() -> Frame {
        let mut second = Tally::default();
        for _ in 0..3 {
            second.add(Outcome::Ok {
                lb: Served::Lb1,
                backend: 1,
            });
        }
        second.add(Outcome::Failed(Failure::Refused));
        Frame {
            mode: "interactive".into(),
            elapsed: Duration::from_secs(42),
            lab_id: "baton-lab-1-demo".into(),
            vip: "192.168.5.10".into(),
            proxy: "Debian's nginx/1.22.1".into(),
            tracking: vec!["check_nginx".into(), "vrrp_track_process nginx".into()],
            nodes: [
                node("lb1", "Master", 202, true),
                node("lb2", "Backup", 102, false),
            ],
            client: Some(ClientRow {
                target: "http://192.168.5.10/".into(),
                rate: 4,
                timeout: Duration::from_millis(300),
                last_second: second.clone(),
                totals: second.clone(),
                history: vec![Tally::default(), second],
            }),
            last_failover: None,
            split_brain: None,
            firewall: None,
            events: vec!["12:00:01 started".into()],
            keys: Some("q quit".into()),
        }
    }

    #[test]
    fn the_frame_shows_states_priorities_the_vip_and_requests() {
        let text: Vec<String> = render(&frame(), 100, 200)
            .iter()
            .map(|l| strip_ansi(l))
            .collect();
        let all = text.join("\n");
        let lb1 = text.iter().find(|l| l.starts_with("lb1 ")).unwrap();
        assert!(lb1.contains("pid 9 as keepalived"), "{lb1}");
        assert!(lb1.contains("Master"), "{lb1}");
        assert!(lb1.contains("202 (200)"), "{lb1}");
        assert!(lb1.contains("yes"), "{lb1}");
        let lb2 = text.iter().find(|l| l.starts_with("lb2 ")).unwrap();
        assert!(lb2.contains("Backup") && !lb2.contains("yes"), "{lb2}");
        assert!(all.contains("VIP 192.168.5.10 is on lb1"), "{all}");
        assert!(all.contains("last second:    3 ok (lb1 3, lb2 0"), "{all}");
        assert!(all.contains("1 failed (1 refused)"), "{all}");
        assert!(all.contains("last failover: none yet"));
        assert!(!all.contains("SPLIT BRAIN"));
        assert!(all.ends_with("q quit"));
    }

    #[test]
    fn two_holders_and_a_split_brain_are_said_loudly() {
        let mut f = frame();
        f.nodes[1] = node("lb2", "Master", 102, true);
        f.split_brain = Some("lb1 and lb2 are both MASTER".into());
        let all: String = render(&f, 100, 200)
            .iter()
            .map(|l| strip_ansi(l) + "\n")
            .collect();
        assert!(all.contains("VIP 192.168.5.10 is on lb1 and lb2"), "{all}");
        assert!(
            all.contains(" SPLIT BRAIN  lb1 and lb2 are both MASTER"),
            "{all}"
        );
        assert!(line(&f).ends_with("| SPLIT BRAIN"));

        f.split_brain = None;
        f.nodes[0].daemon = Daemon::Stopped;
        let all: String = render(&f, 100, 200)
            .iter()
            .map(|l| strip_ansi(l) + "\n")
            .collect();
        assert!(
            all.contains("VIP 192.168.5.10 is on lb1 (left over by its killed baton) and lb2"),
            "{all}"
        );
    }

    #[test]
    fn the_log_line_names_each_node() {
        let mut f = frame();
        f.nodes[1].daemon = Daemon::Stopped;
        f.nodes[0].proxy_up = false;
        assert_eq!(
            line(&f),
            "t=42.0s | lb1 Master 202 VIP nginx-down | lb2 killed 102 | last 1 s: 3 ok (lb1 3, lb2 0), 1 failed"
        );
    }

    #[test]
    fn a_small_terminal_gets_a_cut_frame_with_the_keys_kept() {
        let mut f = frame();
        f.events = (0..30).map(|i| format!("event {i}")).collect();
        let lines = render(&f, 30, 40);
        assert_eq!(lines.len(), 30);
        assert!(lines.iter().all(|l| strip_ansi(l).chars().count() <= 40));
        assert_eq!(strip_ansi(&lines[29]), "q quit");
        // The newest events are the ones kept.
        let text: Vec<String> = lines.iter().map(|l| strip_ansi(l)).collect();
        assert!(text.contains(&"event 29".to_string()), "{text:?}");
        assert!(!text.contains(&"event 0".to_string()));
        assert_eq!(fit("\x1b[1mabcdef\x1b[0m", 3), "\x1b[1mabc\x1b[0m");
        assert_eq!(fit("ab", 3), "ab");
    }

    #[test]
    fn sparkline_scales_to_the_rate() {
        let mut full = Tally::default();
        for _ in 0..4 {
            full.add(Outcome::Ok {
                lb: Served::Lb2,
                backend: 2,
            });
        }
        assert_eq!(sparkline(&[Tally::default(), full], 4), " █");
        assert_eq!(strip_ansi("\x1b[1;41mX\x1b[0m"), "X");
    }
}
