//! What the demo watches on the load balancers:
//!
//! * the VIP, as the kernel holds it: a netlink subscription to address events inside each
//!   load balancer's namespace, so the moment an address is added or removed is known to
//!   the millisecond without polling `ip addr`;
//! * each daemon's own view, read from its control socket (`baton status --json`): instance
//!   state, effective priority, trackers, counters.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use baton::north::control::{self, Request};
use baton::south::netlink::{Monitor, NetEvent, Netlink};
use baton_lab::Host;
use serde_json::Value;

/// The VIP appeared on or left one load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipEvent {
    pub at: Instant,
    /// 0 for lb1, 1 for lb2.
    pub lb: usize,
    pub present: bool,
}

#[derive(Debug, Default)]
struct VipState {
    events: Vec<VipEvent>,
    present: [bool; 2],
    errors: Vec<String>,
}

/// The VIP's whereabouts on both load balancers.
#[derive(Debug)]
pub struct VipWatch {
    state: Arc<Mutex<VipState>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl VipWatch {
    /// Watch `vip` on `lbs` (lb1, lb2). Returns once both subscriptions are in place.
    pub fn start(lbs: [&Host; 2], vip: IpAddr) -> Result<VipWatch> {
        let state = Arc::new(Mutex::new(VipState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (i, host) in lbs.into_iter().enumerate() {
            let (h, st, sp) = (host.clone(), state.clone(), stop.clone());
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let t = std::thread::Builder::new()
                .name(format!("demo-vip-{}", i + 1))
                .spawn(move || {
                    let r = h.in_netns(|| watch(i, vip, &st, &sp, &ready_tx));
                    let error = match r {
                        Ok(Ok(())) => return,
                        Ok(Err(e)) => format!("{e:#}"),
                        Err(e) => e.to_string(),
                    };
                    let _ = ready_tx.send(Err(error.clone()));
                    lock(&st)
                        .errors
                        .push(format!("watching the VIP on lb{}: {error}", i + 1));
                })
                .context("starting a VIP watch thread")?;
            threads.push(t);
            match ready_rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(anyhow!("watching the VIP on {}: {e}", host.name())),
                Err(_) => return Err(anyhow!("watching the VIP on {}: no answer", host.name())),
            }
        }
        Ok(VipWatch {
            state,
            stop,
            threads,
        })
    }

    /// Which load balancers hold the VIP now.
    pub fn holders(&self) -> [bool; 2] {
        lock(&self.state).present
    }

    /// When the VIP was first added to `lb` after `after`.
    pub fn added_on(&self, lb: usize, after: Instant) -> Option<Instant> {
        lock(&self.state)
            .events
            .iter()
            .find(|e| e.lb == lb && e.present && e.at >= after)
            .map(|e| e.at)
    }

    /// Every change so far, oldest first.
    pub fn events(&self) -> Vec<VipEvent> {
        lock(&self.state).events.clone()
    }

    /// Problems the watch threads ran into.
    pub fn errors(&self) -> Vec<String> {
        lock(&self.state).errors.clone()
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for VipWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(m: &Mutex<VipState>) -> std::sync::MutexGuard<'_, VipState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs inside one load balancer's network namespace.
fn watch(
    lb: usize,
    vip: IpAddr,
    state: &Mutex<VipState>,
    stop: &AtomicBool,
    ready: &std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the watch's runtime")?;
    rt.block_on(async {
        // Subscribe first, then list: nothing can fall between the two.
        let mut monitor = Monitor::start(&[]).context("subscribing to address events")?;
        let netlink = Netlink::connect().context("connecting to netlink")?;
        let now = netlink
            .addresses(None)
            .await
            .context("listing addresses")?
            .iter()
            .any(|a| a.addr == vip);
        {
            let mut st = lock(state);
            st.present[lb] = now;
        }
        let _ = ready.send(Ok(()));
        while !stop.load(Ordering::SeqCst) {
            let Ok(event) = tokio::time::timeout(Duration::from_millis(100), monitor.next()).await
            else {
                continue;
            };
            let present = match event {
                None => return Err(anyhow!("the netlink subscription ended")),
                Some(NetEvent::AddressAdded(a)) if a.addr == vip => true,
                Some(NetEvent::AddressRemoved(a)) if a.addr == vip => false,
                Some(_) => continue,
            };
            let mut st = lock(state);
            if st.present[lb] != present {
                st.present[lb] = present;
                st.events.push(VipEvent {
                    at: Instant::now(),
                    lb,
                    present,
                });
            }
        }
        Ok(())
    })
}

/// One instance as its daemon reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    /// `Master`, `Backup`, `Fault`, ...
    pub state: String,
    pub priority: u64,
    pub base_priority: u64,
    pub master: Option<String>,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub faults: Vec<String>,
}

/// A daemon's answer to `status`, reduced to what the screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub pid: Option<u64>,
    /// The kernel's name for it (what `killall` matches).
    pub process_name: Option<String>,
    pub instance: Option<InstanceView>,
    /// Trackers as `name: state`.
    pub trackers: Vec<(String, String)>,
}

impl NodeView {
    /// Read the parts the demo uses from the daemon's JSON; missing fields stay empty.
    pub fn from_status(v: &Value) -> NodeView {
        let instance = v["instances"]
            .as_array()
            .and_then(|a| a.first())
            .map(|i| InstanceView {
                state: i["state"].as_str().unwrap_or("?").to_string(),
                priority: i["effective_priority"].as_u64().unwrap_or(0),
                base_priority: i["base_priority"].as_u64().unwrap_or(0),
                master: i["master"]["address"].as_str().map(str::to_string),
                adverts_sent: i["counters"]["adverts_sent"].as_u64().unwrap_or(0),
                adverts_received: i["counters"]["adverts_received"].as_u64().unwrap_or(0),
                faults: i["faults"]
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        let trackers = v["trackers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| {
                        (
                            t["name"].as_str().unwrap_or("?").to_string(),
                            t["state"].as_str().unwrap_or("?").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        NodeView {
            pid: v["daemon"]["pid"].as_u64(),
            process_name: v["daemon"]["process_name"].as_str().map(str::to_string),
            instance,
            trackers,
        }
    }

    pub fn state(&self) -> Option<&str> {
        self.instance.as_ref().map(|i| i.state.as_str())
    }

    pub fn is_master(&self) -> bool {
        self.state() == Some("Master")
    }
}

/// Asks the daemons over their control sockets.
#[derive(Debug)]
pub struct StatusClient {
    rt: tokio::runtime::Runtime,
}

impl StatusClient {
    pub fn new() -> Result<StatusClient> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the status client's runtime")?;
        Ok(StatusClient { rt })
    }

    /// The daemon's status, or why there is none (not running, not answering).
    pub fn status(&self, socket: &Path) -> Result<NodeView> {
        let answer = self.rt.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(500),
                control::request(socket, &Request::Status),
            )
            .await
        });
        match answer {
            Err(_) => Err(anyhow!("no answer from {}", socket.display())),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(v)) => Ok(NodeView::from_status(&v)),
        }
    }
}

/// The control socket that goes with a pid file.
pub fn socket_for(pidfile: &Path) -> PathBuf {
    baton::cli::control_socket_for(pidfile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_status_answer_reduces_to_what_the_screen_shows() {
        let v = json!({
            "daemon": {"pid": 7, "process_name": "keepalived"},
            "instances": [{
                "name": "VI_1", "state": "Master", "effective_priority": 202,
                "base_priority": 200,
                "master": {"address": "192.168.5.11", "priority": 202},
                "faults": [],
                "counters": {"adverts_sent": 12, "adverts_received": 3}
            }],
            "trackers": [
                {"kind": "script", "name": "check_nginx", "state": "ok"},
                {"kind": "process", "name": "nginx", "state": "1 running"}
            ]
        });
        let n = NodeView::from_status(&v);
        assert_eq!(n.pid, Some(7));
        assert_eq!(n.process_name.as_deref(), Some("keepalived"));
        assert!(n.is_master());
        let i = n.instance.unwrap();
        assert_eq!((i.priority, i.base_priority), (202, 200));
        assert_eq!(i.master.as_deref(), Some("192.168.5.11"));
        assert_eq!((i.adverts_sent, i.adverts_received), (12, 3));
        assert_eq!(n.trackers.len(), 2);
        assert_eq!(
            n.trackers[1],
            ("nginx".to_string(), "1 running".to_string())
        );

        let empty = NodeView::from_status(&json!({}));
        assert_eq!(empty.state(), None);
        assert!(!empty.is_master());
    }
}
