//! The running demo: the system, the client, the watches, and the view kept up to date about
//! five times a second. The scripted sequence and the keys both act through it, and every
//! wait goes through [`Live::wait_for`], so the screen keeps moving, `q` and signals are
//! honoured, and nothing blocks for long.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, bail};

use super::client::{Client, Served};
use super::system::{HTTP_PORT, System, VIP};
use super::terminal::Terminal;
use super::timers::{Timers, secs};
use super::view::{self, ClientRow, Daemon, Frame, NodeRow};
use super::watch::{NodeView, StatusClient, VipWatch};
use super::{cleanup, seed};

/// How often the view is redrawn and the daemons asked.
pub const REFRESH: Duration = Duration::from_millis(200);
/// Without a terminal, a status line this often.
const LINE_EVERY: Duration = Duration::from_secs(1);
/// Seconds of request history on screen.
const HISTORY: u32 = 40;
/// Events kept on screen.
const EVENTS: usize = 8;
/// How long after an action a VIP move still counts as its result.
const CAUSE_WINDOW: Duration = Duration::from_secs(15);

/// A VIP move seen on the wire of events.
#[derive(Debug, Clone)]
pub struct Failover {
    pub from: usize,
    pub to: usize,
    pub at: Instant,
    /// The action that caused it, if one came shortly before.
    pub cause: Option<(Instant, String)>,
}

/// The demo while it runs.
#[derive(Debug)]
pub struct Live {
    pub sys: System,
    pub timers: Timers,
    pub client: Option<Client>,
    pub vip: VipWatch,
    pub term: Terminal,
    pub started: Instant,
    /// What the screen's title says is going on.
    pub mode: String,
    /// The key line, when keys work.
    pub keys: Option<String>,
    status: StatusClient,
    nodes: [Result<NodeView, String>; 2],
    proxy_up: [bool; 2],
    events: Vec<String>,
    last_action: Option<(Instant, String)>,
    failovers: Vec<Failover>,
    /// How many VIP events have been read into `failovers`.
    vip_seen: usize,
    /// The VIP on each host after the events read so far, and when it last arrived.
    vip_held: [bool; 2],
    vip_arrived: [Instant; 2],
    /// Whether "on both" has been said for the current episode.
    both_noted: bool,
    sole_holder: Option<usize>,
    last_refresh: Option<Instant>,
    /// Whether one refresh has been done (so changes seen after it are news).
    last_refresh_done: bool,
    last_line: Option<Instant>,
}

impl Live {
    pub fn new(sys: System, timers: Timers, vip: VipWatch, term: Terminal) -> Result<Live> {
        Ok(Live {
            sys,
            timers,
            client: None,
            vip,
            term,
            started: Instant::now(),
            mode: String::new(),
            keys: None,
            status: StatusClient::new()?,
            nodes: [Err("not asked yet".into()), Err("not asked yet".into())],
            proxy_up: [false; 2],
            events: Vec::new(),
            last_action: None,
            failovers: Vec::new(),
            vip_seen: 0,
            vip_held: [false; 2],
            vip_arrived: [Instant::now(); 2],
            both_noted: false,
            sole_holder: None,
            last_refresh: None,
            last_refresh_done: false,
            last_line: None,
        })
    }

    /// Start the client's request loop against the VIP.
    pub fn start_client(&mut self, rate: u32, timeout: Duration) -> Result<()> {
        let target = SocketAddr::new(IpAddr::V4(VIP), HTTP_PORT);
        self.client = Some(Client::start(&self.sys.client, target, rate, timeout)?);
        self.note(format!(
            "client: {rate} requests/s to http://{VIP}/, each on a fresh connection"
        ));
        Ok(())
    }

    /// Something worth a line: on screen among the events, or printed at once.
    pub fn note(&mut self, text: String) {
        let line = format!("{:>6.2}s  {text}", self.started.elapsed().as_secs_f64());
        if !self.term.live {
            println!("{line}");
        }
        self.events.push(line);
        if self.events.len() > EVENTS {
            self.events.remove(0);
        }
    }

    /// Something the demo did to the system: noted, and remembered as the cause of what
    /// follows. Returns when it was done.
    pub fn act(&mut self, text: String) -> Instant {
        let at = Instant::now();
        self.note(text.clone());
        self.last_action = Some((at, text));
        at
    }

    /// When the demo last did something to the system.
    pub fn last_action_at(&self) -> Option<Instant> {
        self.last_action.as_ref().map(|(t, _)| *t)
    }

    /// The daemons' last answers.
    pub fn node(&self, lb: usize) -> Option<&NodeView> {
        self.nodes[lb].as_ref().ok()
    }

    /// Ask the daemons now.
    pub fn poll_nodes(&mut self) {
        for lb in 0..2 {
            self.nodes[lb] = if self.sys.baton_running(lb) {
                self.status
                    .status(&self.sys.lbs[lb].socket)
                    .map_err(|e| e.to_string())
            } else {
                Err("killed".into())
            };
        }
    }

    /// The load balancers whose daemon says MASTER.
    pub fn masters(&self) -> Vec<usize> {
        (0..2)
            .filter(|&lb| self.node(lb).is_some_and(NodeView::is_master))
            .collect()
    }

    /// Which load balancer the daemons and the kernel agree holds the VIP alone.
    pub fn sole_master(&self) -> Option<usize> {
        let holders = self.vip.holders();
        match (self.masters().as_slice(), holders) {
            ([m], h) if h[*m] && !h[1 - *m] => Some(*m),
            _ => None,
        }
    }

    /// Refresh what the screen shows (every [`REFRESH`]) and draw it.
    pub fn refresh(&mut self) {
        let now = Instant::now();
        if self.last_refresh.is_some_and(|t| now - t < REFRESH) {
            return;
        }
        self.last_refresh = Some(now);
        self.poll_nodes();
        for lb in 0..2 {
            let up = self.sys.proxy_running(lb);
            if up != self.proxy_up[lb] && self.last_refresh_done {
                let name = self.sys.lbs[lb].name;
                self.note(if up {
                    format!("nginx running on {name}")
                } else {
                    format!("nginx gone on {name}")
                });
            }
            self.proxy_up[lb] = up;
        }
        self.last_refresh_done = true;
        self.track_failovers();
        for e in self.vip.errors() {
            if !self.events.iter().any(|x| x.ends_with(&e)) {
                self.note(e);
            }
        }
        let frame = self.frame();
        if self.term.live {
            let (rows, cols) = self.term.size();
            self.term.draw(&view::render(&frame, rows, cols));
        } else if self.last_line.is_none_or(|t| now - t >= LINE_EVERY) {
            self.last_line = Some(now);
            println!("        {}", view::line(&frame));
        }
    }

    /// Read the VIP events into failovers. A copy of the VIP on a host whose baton the demo
    /// killed does not count: a crashed daemon leaves its addresses behind (keepalived's
    /// too), and the VIP has moved once the other host holds it. A failover is the one
    /// remaining holder changing; it is timed from the VIP's arrival on the new holder.
    fn track_failovers(&mut self) {
        let events = self.vip.events();
        let alive = [self.sys.baton_running(0), self.sys.baton_running(1)];
        for e in events.iter().skip(self.vip_seen) {
            self.vip_held[e.lb] = e.present;
            if e.present {
                self.vip_arrived[e.lb] = e.at;
            }
            let counted = [self.vip_held[0] && alive[0], self.vip_held[1] && alive[1]];
            let sole = match counted {
                [true, false] => Some(0),
                [false, true] => Some(1),
                _ => None,
            };
            if let Some(to) = sole
                && let Some(from) = self.sole_holder
                && from != to
            {
                let at = self.vip_arrived[to];
                let cause = self
                    .last_action
                    .clone()
                    .filter(|(t, _)| *t <= at && at - *t <= CAUSE_WINDOW);
                let after = cause
                    .as_ref()
                    .map(|(t, what)| format!(", {} after \"{what}\"", secs(at - *t)))
                    .unwrap_or_default();
                self.failovers.push(Failover {
                    from,
                    to,
                    at,
                    cause,
                });
                let text = format!(
                    "VIP moved from {} to {}{after}",
                    self.sys.lbs[from].name, self.sys.lbs[to].name
                );
                self.note(text);
            }
            if sole.is_some() {
                self.sole_holder = sole;
            }
        }
        self.vip_seen = events.len();
        // Both holding it with both daemons running is the split brain; say it once.
        let both = self.vip_held == [true, true] && alive == [true, true];
        if both && !self.both_noted {
            self.note("the VIP is on lb1 and on lb2".into());
        }
        self.both_noted = both;
    }

    /// The last VIP move, described with its times and the requests it cost.
    fn last_failover(&self) -> Option<String> {
        let f = self.failovers.last()?;
        let (from, to) = (self.sys.lbs[f.from].name, self.sys.lbs[f.to].name);
        let Some((cause_at, cause)) = &f.cause else {
            return Some(format!("{from} → {to}, {} ago", secs(f.at.elapsed())));
        };
        let mut text = format!(
            "{from} → {to}: VIP on {to} {} after \"{cause}\"",
            secs(f.at - *cause_at)
        );
        if let Some(c) = &self.client {
            let served = if f.to == 0 { Served::Lb1 } else { Served::Lb2 };
            if let Some(first) = c.first_served_by(served, *cause_at) {
                let failed = c.started_between(*cause_at, first).failed;
                text.push_str(&format!(
                    ", first answer from {to} after {}, {failed} request(s) failed",
                    secs(first - *cause_at)
                ));
            }
        }
        Some(text)
    }

    /// What makes this a split brain, if it is one: both daemons MASTER.
    pub fn split_brain(&self) -> Option<String> {
        if self.masters().len() < 2 {
            return None;
        }
        let mut text = "lb1 and lb2 are both MASTER".to_string();
        if let Some(line) = last_lower_priority_line(&self.sys.baton_log(0)) {
            text.push_str(&format!(" — lb1's log: \"{line}\""));
        }
        Some(text)
    }

    fn frame(&self) -> Frame {
        let now = Instant::now();
        let nodes = [0, 1].map(|lb| self.node_row(lb));
        let client = self.client.as_ref().map(|c| ClientRow {
            target: format!("http://{}/", c.target.ip()),
            rate: c.rate,
            timeout: c.timeout,
            last_second: c.ended_between(now - Duration::from_secs(1), now),
            totals: c.totals(),
            history: c.per_second(now, HISTORY),
        });
        Frame {
            mode: self.mode.clone(),
            elapsed: self.started.elapsed(),
            lab_id: self.sys.lab_id.clone(),
            vip: VIP.to_string(),
            proxy: self.sys.proxy.describe(),
            tracking: vec![
                format!(
                    "vrrp_script check_nginx — the post's check, every {}: restarts nginx, else killall keepalived",
                    secs(self.timers.script_interval)
                ),
                format!(
                    "vrrp_track_process {} — baton's pidfd tracker, weight {}: failover in milliseconds",
                    seed::TRACK_PROCESS,
                    self.timers.process_weight
                ),
            ],
            nodes,
            client,
            last_failover: self.last_failover(),
            split_brain: self.split_brain(),
            firewall: self.sys.firewall().map(|(lb, n)| {
                format!(
                    "VRRP (IP protocol 112) dropped on {}: {n} adverts eaten",
                    self.sys.lbs[lb].name
                )
            }),
            events: self.events.clone(),
            keys: self.keys.clone(),
        }
    }

    fn node_row(&self, lb: usize) -> NodeRow {
        let l = &self.sys.lbs[lb];
        let view = self.node(lb);
        let daemon = match (&self.nodes[lb], self.sys.baton_running(lb)) {
            (_, false) => Daemon::Stopped,
            (Ok(v), true) => Daemon::Running {
                pid: v.pid.unwrap_or(0),
                name: v.process_name.clone().unwrap_or_else(|| "?".into()),
            },
            (Err(_), true) => Daemon::Silent,
        };
        let inst = view.and_then(|v| v.instance.as_ref());
        let trackers = view
            .map(|v| {
                v.trackers
                    .iter()
                    .map(|(n, s)| format!("{n} {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        NodeRow {
            name: l.name,
            addr: l.addr.to_string(),
            daemon,
            state: inst.map(|i| i.state.clone()).unwrap_or_default(),
            priority: inst.map(|i| i.priority),
            base: inst.map(|i| i.base_priority),
            vip: self.vip.holders()[lb],
            proxy_up: self.proxy_up[lb],
            adverts: inst.map(|i| (i.adverts_sent, i.adverts_received)),
            trackers,
            faults: inst.map(|i| i.faults.clone()).unwrap_or_default(),
            check_ran: self
                .sys
                .check_ran(lb)
                .and_then(|t| SystemTime::now().duration_since(t).ok()),
        }
    }

    /// Keep the view going for `wait`, returning the first key pressed. Errors once the
    /// demo is asked to stop (a signal, `q`, Ctrl-C).
    pub fn pause(&mut self, wait: Duration) -> Result<Option<u8>> {
        let until = Instant::now() + wait;
        loop {
            if cleanup::stop_requested() {
                bail!("stopped");
            }
            self.refresh();
            let left = until.saturating_duration_since(Instant::now());
            let slice = left.min(Duration::from_millis(20));
            if let Some(k) = self.term.key(slice) {
                if k == b'q' || k == 3 {
                    cleanup::request_stop();
                    bail!("stopped");
                }
                return Ok(Some(k));
            }
            if left.is_zero() {
                return Ok(None);
            }
        }
    }

    /// Poll `check` every `poll` until it gives a value or `timeout` passes (`None`), the
    /// view kept going meanwhile. Errors if the demo is asked to stop.
    pub fn wait_for<T>(
        &mut self,
        timeout: Duration,
        poll: Duration,
        mut check: impl FnMut(&mut Live) -> Option<T>,
    ) -> Result<Option<T>> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(v) = check(self) {
                return Ok(Some(v));
            }
            if Instant::now() >= until {
                return Ok(None);
            }
            let _ = self.pause(poll)?;
        }
    }

    /// Stop the client and the watches, remove the lab.
    pub fn finish(mut self) -> Result<()> {
        if let Some(mut c) = self.client.take() {
            c.stop();
        }
        self.vip.stop();
        self.sys.teardown()
    }
}

/// The last line where lb1's baton says it heard another master with a lower priority:
/// keepalived's "Received advert from X with lower priority N, ours M, forcing new election".
pub fn last_lower_priority_line(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .find(|l| l.contains("Received advert from") && l.contains("with lower priority"))
        .map(|l| {
            // From "Received" on: the timestamp and level are the log's, not the news.
            l.find("Received").map_or(l, |i| &l[i..]).trim().to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_priority_line_is_found_in_the_log() {
        let log = "2026-01-01T00:00:00Z INFO (VI_1) Entering MASTER STATE\n\
            2026-01-01T00:00:03Z INFO vrrp{instance=VI_1}: (VI_1) Received advert from 192.168.5.12 with lower priority 102, ours 202, forcing new election\n\
            2026-01-01T00:00:04Z INFO (VI_1) Received advert from 192.168.5.12 with lower priority 102, ours 202, forcing new election\n";
        assert_eq!(
            last_lower_priority_line(log).as_deref(),
            Some(
                "Received advert from 192.168.5.12 with lower priority 102, ours 202, forcing new election"
            )
        );
        assert_eq!(last_lower_priority_line("nothing here\n"), None);
    }
}
