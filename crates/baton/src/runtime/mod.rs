//! The event loop: kernel events, received adverts, tracker results, timers and signals go
//! into the protocol core (`baton-vrrp`) as inputs; the actions it returns are carried out in
//! order, and one sleep is re-armed on the core's next deadline. No protocol decision is made
//! here.
//!
//! ```text
//! loop select! {
//!     adverts on a VRRP socket → parse (baton-wire)  → Input::Advert (runtime::receive)
//!     netlink monitor event   → interface table     → Input::LinkUp/LinkDown/AddressAdded/…
//!     tracker observation     → Input::Script/ProcessCount/FileValue
//!     checker verdict         → the LVS core (runtime::lvs), its table to nftables
//!     next_deadline() reached → Input::Deadline (and spaced GARP/NA frames)
//!     SIGHUP                  → read the configuration on a blocking thread
//!     configuration read      → Input::Reload (refused on errors)
//!     control request         → node.status()
//!     SIGTERM / SIGINT        → Input::Shutdown, then exit
//! }
//! ```
//!
//! Everything runs on one current-thread tokio runtime: VRRP work is small and ordered, and
//! one loop keeps the daemon's memory and its behaviour easy to reason about. Netlink and
//! socket failures are logged with context and never stop the daemon.
//!
//! Nothing that can wait on something outside the daemon runs inside a branch of the loop,
//! because a loop that stops advertising makes the backup take over while the master still
//! holds the VIP. Reading the configuration and spawning scripts happen on the runtime's
//! blocking pool (a thread started when needed), process tracking's /proc scans on a
//! thread of its own; listing the kernel's interfaces again runs
//! as a task of its own and reports back; control clients are served on a task of their
//! own, each with deadlines. The real-server checkers run on a thread of their own and
//! send verdicts; the nftables data plane programs on a thread of its own; conntrackd's
//! client commands run as child processes awaited beside the loop. What stays in the loop
//! is bounded: kernel requests for addresses, routes and rules (each with a deadline, in
//! the order the core asked), sends on non-blocking sockets, the cores' own work, and, when
//! `lvs_sync_daemon`'s instance becomes MASTER, conntrackd's commit (at most
//! `south::conntrackd::MASTER_WAIT`, after the adverts and before the VIPs).

mod actions;
mod adverts;
mod alarm;
pub mod clock;
mod heap;
mod lvs;
pub(crate) mod lvs_status;
mod observe;
mod receive;
mod status;
mod sync;
pub mod tracking;

use std::collections::HashSet;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use baton_conf::Config;
use baton_track::{ScriptPolicy, TrackEvent, TrackOptions};
use baton_vrrp::{Action, Input, Node, State};
use serde_json::value::RawValue;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::cli::RunOptions;
use crate::north::config::{ConfigSource, Reload};
use crate::north::control::ControlServer;
use crate::north::notify_systemd::{self, Lifecycle};
use crate::north::peer_log::PeerLogLimit;
use crate::south::announce::Announcements;
use crate::south::conntrackd::ConntrackSync;
use crate::south::links::{self, Interfaces, LinkInput};
use crate::south::netlink::{Monitor, NetEvent, Netlink};
use crate::south::sockets::Sockets;
use clock::Clock;
use lvs::LvsHalf;
use tracking::Tracking;

/// keepalived's exit code for "could not initialise".
const EXIT_INIT_FAILED: u8 = 2;
/// The largest advert baton can emit.
const SEND_BUFFER: usize = 8 + 255 * 16 + 8 + baton_wire::auth_ext::TRAILER_LEN;

/// One running daemon: the protocol core and every piece of IO it drives.
#[derive(Debug)]
pub struct Daemon {
    clock: Clock,
    node: Node,
    /// The configuration as loaded: the core and the trackers run this one. Shared with the
    /// core's instances, which read their addresses, routes and rules from it.
    config: std::sync::Arc<Config>,
    actions: Vec<Action>,
    /// Actions taken from the core whose turn has not come yet (adverts never wait here).
    waiting: std::collections::VecDeque<Action>,
    /// Freed memory goes back to the kernel now and then.
    trim: heap::Trim,
    netlink: Netlink,
    monitor: Option<Monitor>,
    /// Interfaces and addresses being listed again after the monitor stopped.
    relisting: Option<JoinHandle<Relisted>>,
    ifaces: Interfaces,
    sockets: Sockets,
    announce: Announcements,
    /// Log lines about what peers sent, limited per kind.
    peer_log: PeerLogLimit,
    tracking: Tracking,
    track_options: TrackOptions,
    /// Datagrams in: the batch buffers and whether the sockets are parked.
    rx: receive::Receiver,
    /// Adverts built and waiting to go out together.
    adverts: adverts::AdvertBatch,
    info: status::Info,
    /// `use_vmac`: the macvlans made for the configuration.
    vmacs: crate::south::vmac::Vmacs,
    /// `no_accept`: the addresses of non-owner masters dropped by nftables.
    accept_mode: crate::south::accept_mode::AcceptMode,
    /// An instance changed state in the last batch of actions: tell systemd.
    states_changed: bool,
    /// systemd has been told READY=1; status lines before it would come first.
    ready: bool,
    /// keepalived's virtual servers: checkers, the core, the nftables data plane.
    lvs: LvsHalf,
    /// `lvs_sync_daemon`: conntrackd following a VRRP instance.
    sync: Option<ConntrackSync>,
    /// The pid file: the sync daemon's files sit beside it.
    pidfile: PathBuf,
    /// Instances that changed state in the batch being carried out, for the LVS half.
    vrrp_transitions: Vec<(String, State)>,
    /// What the operator views need beyond the core's status (state change history).
    views: observe::Views,
    /// `vrrp_rt_priority` and the other scheduling keywords, as applied.
    scheduler: crate::south::scheduling::Scheduler,
}

/// Run the daemon until SIGTERM or SIGINT (after the pid file is held and the configuration
/// is loaded).
pub async fn run(opts: &RunOptions, source: &ConfigSource, config: Config) -> ExitCode {
    tracing::info!(
        "Starting baton v{} (keepalived-compatible VRRP), pid {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    // SIGXCPU comes at half of vrrp_rlimit_rttime: caught, it is a warning (its default
    // would end the daemon), as in keepalived.
    let (mut term, mut int, mut hup, mut xcpu) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::from_raw(libc::SIGXCPU)),
    ) {
        (Ok(t), Ok(i), Ok(h), Ok(x)) => (t, i, h, x),
        _ => {
            tracing::error!("cannot install signal handlers");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    let control = match ControlServer::bind(&opts.control_socket) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    // `--metrics` wins over the file's `baton_metrics`.
    let metrics = opts.metrics.or(config.global.metrics);
    let mut observers = match crate::north::observe::Observers::start(metrics) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    let mut d = match Daemon::start(
        config,
        opts.config.clone(),
        &opts.pidfile,
        TrackOptions::default(),
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    // Status requests go through the loop, so the state is never shared.
    let (queries, mut asked) = mpsc::channel::<oneshot::Sender<Box<RawValue>>>(4);
    let serve = control.serve_async(async || {
        let (tx, rx) = oneshot::channel();
        if queries.send(tx).await.is_err() {
            return None;
        }
        rx.await.ok()
    });
    tokio::pin!(serve);
    let mut alarm = match alarm::Alarm::new() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("cannot create the deadline timer: {e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    // Once started: the start's work (every instance, socket and address) is long for a
    // realtime thread that may not run vrrp_rlimit_rttime without blocking.
    let scheduling = d.config.global.scheduling.clone();
    d.scheduler.apply(&scheduling);
    notify_systemd::notify(Lifecycle::Ready, &d.summary());
    d.ready = true;
    // The configuration being read for a reload, and whether another SIGHUP came meanwhile.
    let mut reading: Option<JoinHandle<ReadReload>> = None;
    let mut read_again = false;
    loop {
        if let Err(e) = alarm.set(d.wake_at()) {
            tracing::error!("cannot set the deadline timer: {e}");
        }
        tokio::select! {
            () = &mut serve => {}
            Some(reply) = asked.recv() => {
                let _ = reply.send(d.status_json());
            }
            r = observers.next() => d.answer(r, &observers.dump_dir),
            (i, r) = std::future::poll_fn(|cx| d.sockets.poll_recv(cx, &mut d.rx.batch)) => {
                d.on_datagrams(i, r).await;
            }
            ev = next_net_event(&mut d.monitor) => match ev {
                Some(ev) => d.on_net_event(ev).await,
                None => d.resync_links(),
            },
            listed = finished(&mut d.relisting) => d.on_relisted(listed).await,
            Some(ev) = d.tracking.events.recv() => d.on_track_event(ev).await,
            Some(v) = d.lvs.verdicts.recv() => d.on_verdict(v).await,
            r = alarm.rung() => match r {
                Ok(()) => {
                    d.drain_datagrams().await;
                    d.on_deadline().await
                }
                Err(e) => tracing::error!("deadline timer: {e}"),
            },
            _ = hup.recv() => {
                if reading.is_some() {
                    // One more read when this one is done: a storm of SIGHUPs costs one
                    // read at a time and ends with the file as it is last.
                    tracing::info!("Reload already in progress; reading again when it is done");
                    read_again = true;
                } else {
                    reading = Some(d.begin_reload(source));
                }
            }
            read = finished(&mut reading) => {
                d.apply_reload(read).await;
                if std::mem::take(&mut read_again) {
                    reading = Some(d.begin_reload(source));
                }
            }
            _ = xcpu.recv() => tracing::warn!(
                "The advert loop used half of vrrp_rlimit_rttime ({} µs) of CPU without \
                 blocking; at all of it the kernel kills the daemon",
                d.config.global.scheduling.rlimit_rttime_us
            ),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    if let Some(r) = reading.take() {
        // Let a read that hangs go with the process rather than wait for it.
        r.abort();
    }
    notify_systemd::notify(Lifecycle::Stopping, "stopping");
    d.shutdown().await;
    tracing::info!("Stopped baton v{}", env!("CARGO_PKG_VERSION"));
    ExitCode::SUCCESS
}

/// The result of a background job once it finishes (and the slot emptied); pending forever
/// while there is none.
/// A reload's reading task's result: the configuration, and its commands checked.
struct ReadReload {
    read: Reload,
    policy: Option<ScriptPolicy>,
}

async fn finished<T>(job: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    let Some(handle) = job.as_mut() else {
        return std::future::pending().await;
    };
    let r = handle.await;
    *job = None;
    r
}

/// The monitor's next event; pending forever while there is no monitor (it is reopened on
/// the next deadline).
async fn next_net_event(monitor: &mut Option<Monitor>) -> Option<NetEvent> {
    match monitor {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

/// A fresh monitor with the interfaces and addresses listed after it subscribed.
type Relisted = Result<
    (
        Monitor,
        Vec<crate::south::netlink::Link>,
        Vec<crate::south::netlink::InterfaceAddress>,
    ),
    crate::south::netlink::NetlinkError,
>;

/// What went wrong opening the daemon's kernel interfaces.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Netlink(#[from] crate::south::netlink::NetlinkError),
}

impl Daemon {
    /// Open netlink, learn the interfaces, open the VRRP sockets, start the trackers, and
    /// start the core (which first removes whatever a previous run left).
    pub async fn start(
        config: Config,
        config_path: PathBuf,
        pidfile: &Path,
        track_options: TrackOptions,
    ) -> Result<Daemon, StartError> {
        let netlink = Netlink::connect()?;
        // Subscribe before listing, so nothing falls between the listing and the events.
        let mut monitor = Monitor::start(&[])?;
        // VMACs first: the interface table and the sockets must see them.
        let mut vmacs = crate::south::vmac::Vmacs::default();
        vmacs.apply(&netlink, &config).await;
        let links = netlink.links().await?;
        let addrs = netlink.addresses(None).await?;
        monitor.set_known(&links);
        let ifaces = Interfaces::new(links, addrs);
        let policy = ScriptPolicy::new(&config.global, &track_options);
        let clock = Clock::start();
        let config = std::sync::Arc::new(config);
        let mut node = Node::with_config(config.clone(), ifaces.environment());
        node.booted_ago(clock::since_boot());
        crate::south::links::promote_secondaries(&config);
        let mut sockets = Sockets::plan(&node);
        sockets.open_available(&ifaces);
        let tracking = Tracking::start(&config, &policy, track_options.clone());
        let lvs = LvsHalf::new(&config, &track_options);
        let instances = config.instances.len();
        let mut d = Daemon {
            clock,
            node,
            info: status::Info::new(config_path, &config),
            config,
            actions: Vec::new(),
            waiting: std::collections::VecDeque::new(),
            trim: heap::Trim::new(),
            netlink,
            monitor: Some(monitor),
            relisting: None,
            ifaces,
            sockets,
            announce: Announcements::default(),
            peer_log: PeerLogLimit::default(),
            tracking,
            track_options,
            rx: receive::Receiver::default(),
            adverts: adverts::AdvertBatch::new(),
            vmacs,
            accept_mode: Default::default(),
            states_changed: false,
            ready: false,
            lvs,
            sync: None,
            pidfile: pidfile.to_path_buf(),
            vrrp_transitions: Vec::new(),
            views: observe::Views::new(instances),
            scheduler: crate::south::scheduling::Scheduler::new(),
        };
        d.first_tracker_values().await;
        // Crash recovery: routes an earlier run left (it was killed, or its configuration
        // has changed since) go before anything is installed; the core then removes the
        // configured VIPs, routes and rules at `Start` as keepalived does.
        match d.netlink.flush_keepalived_routes().await {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} stale route(s) of protocol keepalived"),
            Err(e) => tracing::warn!("cannot remove stale routes: {e}"),
        }
        let statics = d.config.clone();
        d.static_config(&statics, true).await;
        d.sync_start(&statics);
        d.start_lvs().await;
        let now = d.clock.now();
        d.node.handle(now, Input::Start, &mut d.actions);
        d.execute().await;
        heap::release_free_pages();
        Ok(d)
    }

    /// Feed the first count of every process tracker and value of every file tracker before
    /// `Start`, as the core asks, waiting a bounded time for them.
    async fn first_tracker_values(&mut self) {
        let mut waiting = Tracking::first_reports(&self.config);
        let deadline = tokio::time::Instant::now() + tracking::FIRST_VALUES_WAIT;
        while !waiting.is_empty() {
            let ev = match tokio::time::timeout_at(deadline, self.tracking.events.recv()).await {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(_) => {
                    let mut names: Vec<_> = waiting.into_iter().collect();
                    names.sort();
                    tracing::warn!(
                        "no first report from tracker(s) {} after {:?}; starting without",
                        names.join(", "),
                        tracking::FIRST_VALUES_WAIT
                    );
                    break;
                }
            };
            waiting.remove(ev.name());
            self.feed_track_event(ev);
        }
    }

    /// When the loop must wake: the core's next deadline, the next spaced GARP/NA frame, the
    /// end of a window of peer log lines with a summary due, or parked sockets to read.
    fn wake_at(&self) -> tokio::time::Instant {
        let next = [
            self.node.next_deadline(),
            self.announce.next_due(),
            self.peer_log.next_due(),
            self.rx.next_due(),
        ]
        .into_iter()
        .flatten()
        .min();
        self.clock.wake_at(next)
    }

    async fn on_deadline(&mut self) {
        let now = self.clock.now();
        self.node.handle(now, Input::Deadline, &mut self.actions);
        self.execute().await;
        if self.monitor.is_none() {
            self.resync_links();
        }
    }

    async fn on_net_event(&mut self, ev: NetEvent) {
        let ch = self.ifaces.apply(ev);
        self.follow_link_changes(ch).await;
    }

    async fn follow_link_changes(&mut self, ch: links::Changes) {
        if let Some(name) = &ch.vanished {
            self.sockets.close_interface(name);
        }
        if ch.appeared.is_some() {
            self.sockets.open_available(&self.ifaces);
            self.lvs_reprogram();
        }
        let now = self.clock.now();
        for input in &ch.inputs {
            match input {
                LinkInput::AddressAdded(_, a) => self.lvs_local_address(*a, true),
                LinkInput::AddressRemoved(_, a) => self.lvs_local_address(*a, false),
                _ => {}
            }
            let input = match input {
                LinkInput::Up(i) => Input::LinkUp { interface: i },
                LinkInput::Down(i) => Input::LinkDown { interface: i },
                LinkInput::AddressAdded(i, a) => Input::AddressAdded {
                    interface: i,
                    addr: *a,
                },
                LinkInput::AddressRemoved(i, a) => Input::AddressRemoved {
                    interface: i,
                    addr: *a,
                },
            };
            self.node.handle(now, input, &mut self.actions);
        }
        self.execute().await;
        self.execute_lvs().await;
    }

    /// The monitor stopped (its socket failed, e.g. after the kernel dropped notifications
    /// it could not queue): subscribe again and catch up by listing everything, so no link
    /// or address change is lost. The listing is a dump as long as the host has addresses,
    /// so it runs as a task of its own and [`Daemon::on_relisted`] takes its result.
    fn resync_links(&mut self) {
        self.monitor = None;
        if self.relisting.is_some() {
            return;
        }
        let netlink = self.netlink.clone();
        self.relisting = Some(tokio::spawn(async move {
            let mut monitor = Monitor::start(&[])?;
            let links = netlink.links().await?;
            let addrs = netlink.addresses(None).await?;
            monitor.set_known(&links);
            Ok((monitor, links, addrs))
        }));
    }

    async fn on_relisted(&mut self, listed: Result<Relisted, tokio::task::JoinError>) {
        let (monitor, links, addrs) = match listed {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                tracing::warn!("netlink monitor: {e}; retrying");
                return;
            }
            Err(e) => {
                tracing::error!("netlink monitor: the listing failed: {e}; retrying");
                return;
            }
        };
        tracing::info!("netlink monitor restarted; interfaces listed again");
        self.monitor = Some(monitor);
        let mut events = Vec::new();
        for link in &links {
            events.push(NetEvent::LinkChanged(link.clone()));
        }
        // Links and addresses that went away while nobody listened (looked up by key: a
        // host may have many thousands of addresses).
        let listed_links: HashSet<u32> = links.iter().map(|l| l.index).collect();
        let gone: Vec<u32> = self
            .ifaces
            .indexes()
            .filter(|i| !listed_links.contains(i))
            .collect();
        for index in gone {
            events.push(NetEvent::LinkRemoved {
                index,
                name: String::new(),
            });
        }
        let listed_addrs: HashSet<(u32, std::net::IpAddr)> =
            addrs.iter().map(|n| (n.ifindex, n.addr)).collect();
        for a in self.ifaces.addresses() {
            if !listed_addrs.contains(&(a.ifindex, a.addr)) {
                events.push(NetEvent::AddressRemoved(a.clone()));
            }
        }
        events.extend(addrs.into_iter().map(NetEvent::AddressAdded));
        for ev in events {
            let ch = self.ifaces.apply(ev);
            self.follow_link_changes(ch).await;
        }
    }

    fn feed_track_event(&mut self, ev: TrackEvent) {
        let now = self.clock.now();
        if let TrackEvent::ScriptResult { name, .. } = &ev {
            self.views.script_ended(name);
        }
        let input = match &ev {
            TrackEvent::ScriptResult { name, outcome } => Input::Script {
                name,
                result: tracking::script_result(outcome),
            },
            TrackEvent::ProcessCount { name, count } => Input::ProcessCount {
                name,
                count: *count,
            },
            TrackEvent::FileValue { name, value } => Input::FileValue {
                name,
                value: *value,
            },
            TrackEvent::ScriptStarted { name } => {
                self.views.script_started(name);
                return;
            }
            TrackEvent::Disabled { kind, name, reason } => {
                tracing::warn!("{kind} {name} disabled: {reason}");
                return;
            }
        };
        self.node.handle(now, input, &mut self.actions);
    }

    async fn on_track_event(&mut self, ev: TrackEvent) {
        self.feed_track_event(ev);
        self.execute().await;
    }

    /// SIGHUP: start reading the configuration off the loop. The new configuration's
    /// commands are checked there too (user lookups and path checks may wait).
    fn begin_reload(&mut self, source: &ConfigSource) -> JoinHandle<ReadReload> {
        tracing::info!("Reloading");
        notify_systemd::notify(Lifecycle::Reloading, "reloading");
        // Between RELOADING=1 and READY=1 systemd wants nothing else.
        self.ready = false;
        self.info.reloading_since = Some(std::time::Instant::now());
        let source = source.clone();
        let options = self.track_options.clone();
        tokio::task::spawn_blocking(move || {
            let read = source.reload();
            let policy = match &read {
                Reload::Applied(new) => {
                    let policy = ScriptPolicy::new(&new.global, &options);
                    policy.check_ahead(new.commands());
                    Some(policy)
                }
                Reload::Refused { .. } => None,
            };
            ReadReload { read, policy }
        })
    }

    /// The configuration has been read: apply it through the core's diff, or refuse it and
    /// keep running the old one.
    async fn apply_reload(&mut self, read: Result<ReadReload, tokio::task::JoinError>) {
        self.info.reloading_since = None;
        let (read, policy) = match read {
            Ok(ReadReload { read, policy }) => (read, policy),
            Err(e) => {
                tracing::error!("Reload refused: reading the configuration failed: {e}");
                (Reload::Refused { errors: 1 }, None)
            }
        };
        match read {
            Reload::Applied(new) => {
                let new = std::sync::Arc::<Config>::from(new);
                // A reload of many instances is long work for a realtime thread: done as a
                // normal task, and the new configuration's scheduling applied after.
                self.scheduler.leave_realtime();
                if new.global.net_namespace != self.config.global.net_namespace {
                    tracing::warn!(
                        "net_namespace cannot change on reload; staying in {}",
                        self.config
                            .global
                            .net_namespace
                            .as_deref()
                            .unwrap_or("the namespace baton started in")
                    );
                }
                if new.global.metrics != self.config.global.metrics {
                    tracing::warn!(
                        "baton_metrics is read at start only; the listener stays as it was until a restart"
                    );
                }
                let policy =
                    policy.unwrap_or_else(|| ScriptPolicy::new(&new.global, &self.track_options));
                self.tracking.reload(&self.config, &new, &policy);
                self.vmacs.apply(&self.netlink, &new).await;
                self.static_reload(&new).await;
                crate::south::links::promote_secondaries(&new);
                let now = self.clock.now();
                self.node.reload(now, new.clone(), &mut self.actions);
                self.sockets.replan(&self.node);
                self.adverts.forget_endpoints();
                self.sockets.open_available(&self.ifaces);
                self.info.reloaded(&new);
                self.reload_lvs(&new).await;
                let old: Vec<&str> = self.config.instances.iter().map(|i| &*i.name).collect();
                let names: Vec<&str> = new.instances.iter().map(|i| &*i.name).collect();
                self.views.history.reindex(&old, &names);
                self.config = new;
                self.execute().await;
                self.scheduler.apply(&self.config.global.scheduling);
                heap::release_free_pages();
                notify_systemd::notify(
                    Lifecycle::Ready,
                    &format!("{}; configuration reloaded", self.summary()),
                );
                self.ready = true;
            }
            Reload::Refused { errors } => {
                self.info.reloads_refused += 1;
                notify_systemd::notify(
                    Lifecycle::Ready,
                    &format!(
                        "{}; reload refused: {errors} error(s) in the configuration",
                        self.summary()
                    ),
                );
                self.ready = true;
            }
        }
    }

    /// SIGTERM: masters send priority 0 and release what they hold, STOP notifications run,
    /// trackers stop.
    pub async fn shutdown(mut self) {
        let now = self.clock.now();
        self.node.handle(now, Input::Shutdown, &mut self.actions);
        self.execute().await;
        // After the VIPs have gone (a backup takes over from the priority-0 advert), the
        // virtual servers leave the table and the data plane removes it.
        self.shutdown_lvs().await;
        let statics = self.config.clone();
        self.static_config(&statics, false).await;
        self.vmacs.remove_all(&self.netlink).await;
        self.tracking.stop().await;
    }
}
