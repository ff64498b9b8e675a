//! keepalived's LVS half in the loop: checker verdicts (baton-check, on its own thread) go
//! into the virtual-server core (baton-lvs); its table changes go to the nftables data
//! plane (baton-nft, on its own thread, through [`NftBackend`]), its notify commands and
//! FIFO lines to the notifier, its log lines to the log. VRRP state changes and local
//! addresses come in for `ha_suspend`; checkers are paused and resumed as the core says.
//!
//! ```text
//! checker thread ──verdict──▶ loop: Services::handle ──Apply──▶ data-plane thread
//!                                                    ──RunNotify / WriteFifo──▶ notifier
//!                                                    ──CheckersEnabled──▶ checker thread
//! ```
//!
//! Nothing here blocks the loop: the checkers and the data plane run on threads of their
//! own, and both are handed work over channels.

use std::collections::HashMap;
use std::net::IpAddr;

use baton_check::{CheckState, Checkers, WeightEffect};
use baton_conf::{CheckKind, Config, RealServerId};
use baton_lvs::{Action as LvsAction, Input as LvsInput, Level, NotifyKind, Services, Table};
use baton_track::{NotifyTarget as TrackTarget, TrackOptions};
use baton_vrrp::State;
use serde::Serialize;
use tokio::sync::mpsc;

use super::Daemon;
use crate::south::links::Interfaces;
use crate::south::lvs::{DataplaneStatus, DataplaneThread, DrInterfaces, NftBackend};

/// Verdicts waiting for the loop; checkers wait (without blocking the VRRP core, which
/// runs elsewhere) when it is full.
const VERDICT_QUEUE: usize = 4096;

/// Counts `baton status` shows beside the core's state.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LvsCounters {
    /// Verdicts the checkers gave.
    pub verdicts: u64,
    /// Batches of table changes handed to the data plane.
    pub table_changes: u64,
}

/// How often each real server went down and came back.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Transitions {
    pub went_down: u64,
    pub came_up: u64,
    /// When it last went down or came back.
    #[serde(skip)]
    pub last_change: Option<std::time::Instant>,
}

/// The LVS half of the daemon.
#[derive(Debug)]
pub struct LvsHalf {
    pub services: Services,
    /// The table as handed to the backend.
    table: Table,
    pub checkers: Option<Checkers>,
    pub verdicts: mpsc::Receiver<baton_check::Verdict>,
    verdict_tx: mpsc::Sender<baton_check::Verdict>,
    pub dataplane: Option<DataplaneThread>,
    actions: Vec<LvsAction>,
    pub counters: LvsCounters,
    pub transitions: HashMap<RealServerId, Transitions>,
    /// "The data plane is not running" was said.
    said_stopped: bool,
}

impl LvsHalf {
    /// The services of `config`, not started; the checkers and the data plane start only
    /// when there is a virtual server.
    pub fn new(config: &Config, options: &TrackOptions) -> LvsHalf {
        let (verdict_tx, verdicts) = mpsc::channel(VERDICT_QUEUE);
        let mut half = LvsHalf {
            services: Services::new(config),
            table: Table::default(),
            checkers: None,
            verdicts,
            verdict_tx,
            dataplane: None,
            actions: Vec::new(),
            counters: LvsCounters::default(),
            transitions: HashMap::new(),
            said_stopped: false,
        };
        half.follow_config(config, options);
        half
    }

    /// Start what a configuration with virtual servers needs, or move the running checkers
    /// to it.
    fn follow_config(&mut self, config: &Config, options: &TrackOptions) {
        if config.lvs.virtual_servers.is_empty() && self.dataplane.is_none() {
            return;
        }
        if self.dataplane.is_none() {
            match DataplaneThread::start(baton_nft::Options::default()) {
                Ok(t) => self.dataplane = Some(t),
                Err(e) => tracing::error!("cannot start the LVS data-plane thread: {e}"),
            }
        }
        match &self.checkers {
            Some(c) => {
                if let Err(e) = c.reload_config(config, options) {
                    tracing::error!("real-server checkers: {e}");
                }
            }
            None => match Checkers::for_config(config, options, self.verdict_tx.clone()) {
                Ok(c) => self.checkers = Some(c),
                Err(e) => tracing::error!("real-server checkers not started: {e}"),
            },
        }
    }

    pub fn dataplane_status(&self) -> Option<DataplaneStatus> {
        self.dataplane.as_ref().map(DataplaneThread::status)
    }
}

/// The core's verdict for a checker's.
fn verdict_of(kind: Option<&CheckKind>, v: &baton_check::Verdict) -> Option<baton_lvs::Verdict> {
    let file = matches!(kind, Some(CheckKind::File(_)));
    match (v.state, v.file_value) {
        (_, Some(value)) if file => Some(baton_lvs::Verdict::FileValue(value)),
        // A FILE_CHECK that cannot follow its file is dropped, as keepalived does: the
        // real server keeps the state the file's last value gave.
        (CheckState::Removed, _) if file => None,
        (CheckState::Up(WeightEffect::Set(w)), _) => Some(baton_lvs::Verdict::Weight(w)),
        (CheckState::Up(_), _) => Some(baton_lvs::Verdict::Up),
        (CheckState::Down, _) => Some(baton_lvs::Verdict::Down),
        // keepalived removes a checker that can never run: the real server is judged by
        // its other checkers, as if this one always passed.
        (CheckState::Removed, _) => Some(baton_lvs::Verdict::Up),
    }
}

/// Where DR traffic for a service arrives: the interface of the VRRP instance that holds
/// the virtual address, else the interface holding it, else the interface on the first
/// real server's segment.
struct DrLookup<'a> {
    config: &'a Config,
    ifaces: &'a Interfaces,
}

impl DrInterfaces for DrLookup<'_> {
    fn for_service(&self, vip: Option<IpAddr>, first_server: Option<IpAddr>) -> Option<String> {
        if let Some(vip) = vip {
            for i in &self.config.instances {
                if let Some(v) = i.vips.iter().find(|v| v.addr == vip)
                    && let Some(dev) = v.dev.clone().or_else(|| i.interface.clone())
                {
                    return Some(dev);
                }
            }
            let held = self.ifaces.addresses().iter().find(|a| a.addr == vip);
            if let Some(link) = held.and_then(|a| self.ifaces.by_index(a.ifindex))
                && link.name != "lo"
            {
                return Some(link.name.clone());
            }
        }
        let server = first_server?;
        self.ifaces
            .addresses()
            .iter()
            .find(|a| same_prefix(a.addr, server, a.prefix_len))
            .and_then(|a| self.ifaces.by_index(a.ifindex))
            .map(|l| l.name.clone())
    }
}

fn same_prefix(a: IpAddr, b: IpAddr, len: u8) -> bool {
    let (x, y, bits) = match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (u128::from(u32::from(x)), u128::from(u32::from(y)), 32),
        (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x), u128::from(y), 128),
        _ => return false,
    };
    let len = u32::from(len).min(bits);
    if len == 0 {
        return false;
    }
    let shift = bits - len;
    (x >> shift) == (y >> shift)
}

impl Daemon {
    /// Put the services in the table: local addresses first (`ha_suspend`), then `Start`.
    pub(super) async fn start_lvs(&mut self) {
        let now = self.lvs_now();
        let addrs: Vec<IpAddr> = self.ifaces.addresses().iter().map(|a| a.addr).collect();
        for address in addrs {
            self.lvs.services.handle(
                now,
                LvsInput::LocalAddress {
                    address,
                    present: true,
                },
                &mut self.lvs.actions,
            );
        }
        self.lvs
            .services
            .handle(now, LvsInput::Start, &mut self.lvs.actions);
        self.execute_lvs().await;
    }

    fn lvs_now(&self) -> baton_lvs::Instant {
        baton_lvs::Instant::from_nanos(self.clock.now().since_epoch().as_nanos() as u64)
    }

    /// A checker's verdict.
    pub(super) async fn on_verdict(&mut self, v: baton_check::Verdict) {
        self.feed_verdict(&v);
        self.execute_lvs().await;
    }

    fn feed_verdict(&mut self, v: &baton_check::Verdict) {
        self.lvs.counters.verdicts += 1;
        let id = v.checker;
        let kind = self
            .lvs
            .services
            .config()
            .virtual_servers
            .get(id.rs.vs.0 as usize)
            .and_then(|vs| vs.real_servers.get(id.rs.index as usize))
            .and_then(|rs| rs.checkers.get(id.index as usize))
            .map(|c| c.kind.clone());
        let Some(verdict) = verdict_of(kind.as_ref(), v) else {
            return;
        };
        let alive = |s: &Services| {
            s.state(id.rs.vs)
                .and_then(|st| st.real_servers.get(id.rs.index as usize))
                .map(|r| r.alive)
        };
        let before = alive(&self.lvs.services);
        let now = self.lvs_now();
        // The checker has logged its own line in keepalived's words; the core adds only
        // what it does about it ("Removing service …").
        self.lvs.services.handle(
            now,
            LvsInput::Verdict {
                checker: id,
                verdict,
                reason: None,
            },
            &mut self.lvs.actions,
        );
        let after = alive(&self.lvs.services);
        if let (Some(b), Some(a)) = (before, after)
            && a != b
        {
            let t = self.lvs.transitions.entry(id.rs).or_default();
            t.last_change = Some(std::time::Instant::now());
            if a {
                t.came_up += 1;
            } else {
                t.went_down += 1;
            }
        }
    }

    /// VRRP instances that changed state in the last batch: masters hold their VIPs
    /// (`ha_suspend`), and the connection sync follows them.
    pub(super) async fn lvs_follow_vrrp(&mut self, changes: Vec<(String, State)>) {
        let now = self.lvs_now();
        for (instance, state) in &changes {
            self.lvs.services.handle(
                now,
                LvsInput::VrrpState {
                    instance,
                    master: *state == State::Master,
                },
                &mut self.lvs.actions,
            );
        }
        self.sync_follow_vrrp(&changes).await;
        self.execute_lvs().await;
    }

    /// An address came or went on this host (`ha_suspend` of services on addresses no VRRP
    /// instance owns).
    pub(super) fn lvs_local_address(&mut self, address: IpAddr, present: bool) {
        let now = self.lvs_now();
        self.lvs.services.handle(
            now,
            LvsInput::LocalAddress { address, present },
            &mut self.lvs.actions,
        );
    }

    /// SIGHUP with a new configuration: verdicts already queued are judged under the
    /// configuration they were given for, then the core, the checkers and the data plane
    /// move to the new one (the table changes only where the configuration did).
    pub(super) async fn reload_lvs(&mut self, new: &Config) {
        while let Ok(v) = self.lvs.verdicts.try_recv() {
            self.feed_verdict(&v);
        }
        self.execute_lvs().await;
        let now = self.lvs_now();
        self.lvs
            .services
            .handle(now, LvsInput::Reload(new), &mut self.lvs.actions);
        self.lvs.transitions.clear();
        self.lvs.follow_config(new, &self.track_options);
        self.execute_lvs().await;
        self.sync_reload(new).await;
    }

    /// Stop: the core takes every service out (with `omega`, notify_down and
    /// quorum_down run), the checkers stop, and the data plane deletes its tables.
    pub(super) async fn shutdown_lvs(&mut self) {
        let now = self.lvs_now();
        self.lvs
            .services
            .handle(now, LvsInput::Shutdown, &mut self.lvs.actions);
        self.execute_lvs().await;
        if let Some(c) = self.lvs.checkers.take() {
            c.shutdown().await;
        }
        if let Some(dp) = self.lvs.dataplane.take() {
            dp.close().await;
        }
        self.sync_shutdown().await;
    }

    /// Carry out the LVS core's actions in order.
    pub(super) async fn execute_lvs(&mut self) {
        let actions = std::mem::take(&mut self.lvs.actions);
        for a in actions {
            match a {
                LvsAction::Apply(changes) => self.lvs_apply(&changes),
                LvsAction::RunNotify { kind, command, .. } => {
                    // keepalived gives these one second while stopping; the notifier's
                    // drain at stop (NOTIFY_DRAIN) bounds them here.
                    let target = self.notify_target(kind);
                    self.tracking.run_lvs_notify(target, &command);
                }
                LvsAction::WriteFifo(line) => self.tracking.write_lvs_fifo(&line),
                LvsAction::CheckersEnabled { vs, enabled } => {
                    if let Some(c) = &self.lvs.checkers
                        && let Err(e) = c.set_enabled(vs, enabled)
                    {
                        tracing::warn!("real-server checkers: {e}");
                    }
                }
                LvsAction::Log(line) => match line.level {
                    Level::Info => tracing::info!("{line}"),
                    Level::Warning => tracing::warn!("{line}"),
                },
            }
        }
    }

    fn notify_target(&self, kind: NotifyKind) -> TrackTarget {
        let lvs = self.lvs.services.config();
        let vs_name = |id: baton_conf::VirtualServerId| {
            lvs.virtual_servers
                .get(id.0 as usize)
                .map(|vs| vs.to_string())
                .unwrap_or_default()
        };
        let rs_name = |id: RealServerId| {
            lvs.virtual_servers
                .get(id.vs.0 as usize)
                .and_then(|vs| {
                    vs.real_servers
                        .get(id.index as usize)
                        .map(|rs| format!("{} {vs}", vs.service_name(&rs.address)))
                })
                .unwrap_or_default()
        };
        match kind {
            NotifyKind::RealServerUp(id) | NotifyKind::RealServerDown(id) => {
                TrackTarget::RealServer(rs_name(id).into())
            }
            NotifyKind::QuorumUp(id) | NotifyKind::QuorumDown(id) => {
                TrackTarget::VirtualServer(vs_name(id).into())
            }
        }
    }

    /// Hand the data plane the whole table again: an interface a DR service needs has
    /// appeared, so what the kernel refused before may be programmed now.
    pub(super) fn lvs_reprogram(&mut self) {
        use baton_lvs::Backend as _;
        let Some(thread) = &self.lvs.dataplane else {
            return;
        };
        if self.lvs.table.services.is_empty() {
            return;
        }
        let dr = DrLookup {
            config: &self.config,
            ifaces: &self.ifaces,
        };
        let table = self.lvs.table.clone();
        let mut backend = NftBackend {
            table: &mut self.lvs.table,
            lvs: self.lvs.services.config(),
            thread,
            dr: &dr,
        };
        if let Err(e) = backend.resync(&table) {
            tracing::debug!("{e}");
        }
    }

    fn lvs_apply(&mut self, changes: &[baton_lvs::Change]) {
        use baton_lvs::Backend as _;
        self.lvs.counters.table_changes += 1;
        let Some(thread) = &self.lvs.dataplane else {
            // No data plane thread: keep the table current for status all the same.
            self.lvs.table.apply(changes);
            return;
        };
        let dr = DrLookup {
            config: &self.config,
            ifaces: &self.ifaces,
        };
        let mut backend = NftBackend {
            table: &mut self.lvs.table,
            lvs: self.lvs.services.config(),
            thread,
            dr: &dr,
        };
        if let Err(e) = backend.apply(changes) {
            if !self.lvs.said_stopped {
                tracing::error!("{e}: the virtual servers' table changes are not programmed");
                self.lvs.said_stopped = true;
            }
        } else {
            self.lvs.said_stopped = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_compare_only_their_bits() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(same_prefix(ip("10.2.0.1"), ip("10.2.0.11"), 24));
        assert!(!same_prefix(ip("10.2.0.1"), ip("10.2.1.11"), 24));
        assert!(!same_prefix(ip("10.2.0.1"), ip("10.2.0.1"), 0));
        assert!(same_prefix(ip("fd02::1"), ip("fd02::11"), 64));
        assert!(!same_prefix(ip("fd02::1"), ip("10.2.0.1"), 24));
    }

    #[test]
    fn checker_verdicts_become_the_cores() {
        let v = |state, file_value| baton_check::Verdict {
            checker: baton_conf::CheckerId {
                rs: RealServerId {
                    vs: baton_conf::VirtualServerId(0),
                    index: 0,
                },
                index: 0,
            },
            state,
            reason: String::new(),
            at: std::time::Instant::now(),
            file_value,
        };
        use baton_lvs::Verdict as V;
        let tcp = CheckKind::Tcp;
        assert_eq!(
            verdict_of(
                Some(&tcp),
                &v(CheckState::Up(WeightEffect::Configured), None)
            ),
            Some(V::Up)
        );
        assert_eq!(
            verdict_of(Some(&tcp), &v(CheckState::Up(WeightEffect::Set(7)), None)),
            Some(V::Weight(7))
        );
        assert_eq!(
            verdict_of(Some(&tcp), &v(CheckState::Down, None)),
            Some(V::Down)
        );
        assert_eq!(
            verdict_of(Some(&tcp), &v(CheckState::Removed, None)),
            Some(V::Up)
        );
    }
}
