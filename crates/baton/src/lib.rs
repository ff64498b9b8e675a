//! baton, the daemon: command line, process lifecycle and every piece of IO the VRRP engine
//! and keepalived's virtual-server (LVS) half need (raw VRRP sockets, netlink for addresses,
//! routes, rules and link events, gratuitous ARP and unsolicited NA, the real-server
//! checkers, the nftables data plane, conntrackd for `lvs_sync_daemon`, the control socket,
//! logs). Decisions live in `baton-vrrp` and `baton-lvs`; this crate turns their actions into
//! syscalls and kernel events and checker verdicts into their inputs.
//!
//! | module | what |
//! |---|---|
//! | [`cli`] | keepalived's flags and baton's subcommands |
//! | [`daemon`] | fork, logging, pid file, process name, then the event loop |
//! | [`runtime`] | the event loop: kernel events, adverts, tracker results and timers into the core, its actions out |
//! | [`south`] | the kernel side: netlink, VRRP sockets, GARP/NA, the interface table |
//! | [`north`] | the operator side: configuration loading, `baton check`, the control socket and `baton status`, `--metrics` (Prometheus text, the status page), keepalived's dump files, logs, pid file, systemd and its watchdog, process name |
//!
//! # Standing in for keepalived
//!
//! A unit file written for keepalived runs baton unchanged: same flags, default configuration
//! and pid file, `Type=notify` readiness, SIGHUP reload (a configuration with errors is refused
//! and the running one kept), SIGTERM stop (masters send priority 0 and remove their VIPs).
//! Health scripts that stop keepalived by name (`killall keepalived`, as the seed's does) reach
//! baton when it carries that name: see [`north::process_name`] for when it does.
//!
//! # Footprint
//!
//! One process and one current-thread tokio runtime: the event loop runs on the main thread.
//! Work that may wait on something outside the daemon (reading the configuration, spawning
//! a script) runs on the runtime's blocking pool, whose threads start when needed and end
//! after ten idle seconds, and `vrrp_track_process` scans /proc on a thread of its own; see [`runtime`] for what runs where, and
//! [`north::peer_log`] and `baton_vrrp::mismatch` for the bounds on what peers can make the
//! daemon keep or write. A configuration with virtual servers adds two threads: the
//! checkers' (their own runtime, so no check delays an advert) and the nftables data
//! plane's (its netlink exchanges block). `benches/footprint.sh` measures
//! the resident memory of the seed's master in steady state (MASTER, holding the VIP) next to
//! keepalived's. On the development machine (Linux 6.18, Debian's keepalived 2.2.7):
//!
//! | daemon | RSS | of which anonymous |
//! |---|---|---|
//! | baton, release profile (`opt-level = "s"`, fat LTO, one codegen unit) | 5.9 MB | 0.5 MB |
//! | keepalived 2.2.7 (parent + VRRP child) | 13.1 MB | |
//!
//! Almost all of baton's resident memory is clean pages of its own executable, so the size of
//! the code, not its data, decides the figure: that is why the release profile builds for
//! size (it was 6.8 MB built for speed, with thin LTO), and why the demo and the lab live in
//! crates of their own: with them linked in it was 5.6 MB. The `--metrics` listener (hyper,
//! prometheus-client) is linked in whether used or not: 5.3 MB before it, 5.9 MB with it,
//! without `--metrics`.
//!
//! The table is from before the virtual-server half was linked in. With it (the checkers'
//! rustls, ring and regex, the nftables data plane), `.text` grew from 2.3 to 4.3 MB and the
//! relocated `.data.rel.ro` from 92 to 267 KB, and `bench/run` measures 7.0 MB for the seed's
//! master against keepalived's 12.8 MB (docs/PERFORMANCE.md): the target of half of
//! keepalived's was no longer met, even for a configuration without virtual servers.
//!
//! Since then, regex is built as its PikeVM alone (byte-oriented, with Unicode case folding
//! and Perl classes only), tracing-subscriber without its `RUST_LOG` filter (whose
//! regex-automata DFAs were linked in, unused) and JSON, rustls without its log calls, and
//! the default script user is looked up only when a script needs it (the lookup had glibc
//! load its NSS modules, libnss_systemd and libcap, into every daemon). Before and after in
//! one sitting, twice, `bench/run --only footprint --idle 10`: the seed's master 7.4–7.6 →
//! 6.5 MB against keepalived's 13.0–13.1 MB (57–59 → 50 %), 200 instances at v3 0.1 s
//! 8.7–8.8 → 7.6–7.7 MB against 13.2–13.3 MB (65–67 → 57–58 %: not met, 1.8 MB of it is
//! heap); `benches/footprint.sh`, three runs: 6.58–6.76 MB against 13.0–13.3 MB, 50.6–50.8 %,
//! so the seed's target sits on its line, met by one measure and missed by the other. What
//! the virtual-server half still maps, about 0.9 MB of code (rustls, ring, the checkers,
//! the data plane), would leave a daemon without virtual servers only in a program of its own,
//! as keepalived's checker child is; built with `opt-level = "z"` the cold crates' code was
//! 250 KB smaller and the RSS the same within noise, so they stay at `"s"`.

pub mod cli;
pub mod daemon;
pub mod north;
pub mod runtime;
pub mod south;
