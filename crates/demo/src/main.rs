//! `baton demo`: the seed's system, end to end, in one command.
//!
//! The post baton starts from puts two nginx load balancers in front of a tomcat cluster and
//! floats 192.168.5.10 between them with keepalived. The demo builds exactly that in network
//! namespaces on this machine — a client, a switch, lb1 (192.168.5.11, priority 200) and lb2
//! (192.168.5.12, priority 100) running the post's two keepalived.conf files under baton, each
//! with nginx proxying to two backends — sends a steady stream of HTTP requests through the
//! VIP, and shows the system working and failing over:
//!
//! * `baton demo`: a live view (node states, priorities, who holds the VIP, requests per second
//!   and errors, the last failover and how long it took) and keys to kill nginx or baton on the
//!   master, drop VRRP with a firewall rule (the post's split brain) and restore;
//! * `baton demo --script`: the same breakages in sequence, unattended, ending in a summary
//!   table with each failover's time beside what keepalived would take, and the requests that
//!   failed; exit status 0 only if every step behaved;
//! * `baton demo --lvs`: keepalived's other half, printed step by step ([`lvs`]): the two
//!   directors balance the backends through LVS-NAT on nftables, a backend is killed and
//!   checked out, the master is killed and the VIP moves with its load balancing.
//!
//! Everything runs inside namespaces the demo creates (traffic never leaves them) and is
//! removed when it ends, however it ends. Needs root; on a fresh Debian it installs the few
//! packages it runs (`packages`).
//!
//! This is its own program, `baton-demo`, beside the daemon: `baton demo` runs it, and the
//! load balancers run the real `baton` binary (`--baton`, else the one beside this program).
//! The daemon links none of it, nor the lab.
#![forbid(unsafe_code)]

mod cleanup;
mod cli;
mod client;
mod firewall;
mod http;
mod interactive;
mod live;
mod lvs;
mod packages;
mod script;
mod seed;
mod service;
mod summary;
mod system;
mod terminal;
mod timers;
mod view;
mod watch;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, DemoArgs};

use live::Live;
use system::{System, VIP};
use terminal::Terminal;
use timers::Timers;
use watch::VipWatch;

/// How long a client request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

/// How the demo ended.
enum Ending {
    /// The script ran; whether every step behaved.
    Script(bool),
    /// The user or a signal stopped it.
    Stopped,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Service(args)) => service::run(&args),
        None => run(&cli.demo),
    }
}

/// `baton demo`.
fn run(args: &DemoArgs) -> ExitCode {
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "baton demo: needs root — it builds network namespaces, veth cables, a bridge and \
             firewall rules. Run it as root, e.g. sudo $(command -v baton) demo"
        );
        return ExitCode::from(1);
    }
    let baton = match system::find_baton(args.baton.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("baton demo: {e:#}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = packages::ensure(!args.no_install) {
        eprintln!("baton demo: {e:#}");
        return ExitCode::from(1);
    }
    if let Err(e) = cleanup::catch_signals() {
        eprintln!("baton demo: {e:#}");
        return ExitCode::from(1);
    }
    cleanup::install_panic_hook();
    let result = demo(args, &baton);
    // Whatever happened above, nothing stays behind.
    terminal::restore();
    if let Some(lab) = cleanup::take_lab() {
        let id = lab.id().to_string();
        match lab.teardown() {
            Ok(()) => println!("removed lab {id}"),
            Err(e) => eprintln!("baton demo: removing lab {id}: {e}"),
        }
    }
    match result {
        Ok(Ending::Script(true)) => ExitCode::SUCCESS,
        Ok(Ending::Script(false)) => ExitCode::from(1),
        Ok(Ending::Stopped) => match cleanup::signal_received() {
            Some(sig) => ExitCode::from(128 + sig as u8),
            None if args.script => ExitCode::from(1),
            None => ExitCode::SUCCESS,
        },
        Err(e) => {
            eprintln!("baton demo: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn demo(args: &DemoArgs, baton: &std::path::Path) -> Result<Ending> {
    if args.lvs {
        println!("baton demo --lvs: the seed's directors in front of the backends through LVS-NAT");
        println!("  baton: {}", baton.display());
        return lvs::run(baton).map(Ending::Script);
    }
    let proxy = system::choose_proxy(args.proxy)?;
    println!("baton demo: building the seed's system in network namespaces");
    println!("  baton: {}", baton.display());
    let sys = System::build(proxy, baton, &mut |s| println!("  {s}"))?;
    let timers = Timers::from_configs(&sys.lbs[0].config, &sys.lbs[1].config)?;
    let vip = VipWatch::start([&sys.lbs[0].host, &sys.lbs[1].host], IpAddr::V4(VIP))
        .context("watching the VIP")?;
    let lab_id = sys.lab_id.clone();
    let mut live = Live::new(sys, timers, vip, Terminal::open())?;
    let outcome = if args.script {
        script::run(&mut live, args.rate, REQUEST_TIMEOUT).map(Some)
    } else {
        interactive::run(&mut live, args.rate, REQUEST_TIMEOUT).map(|()| None)
    };
    let totals = live.client.as_ref().map(|c| c.totals()).unwrap_or_default();
    let client_error = live.client.as_ref().and_then(|c| c.error());
    terminal::restore();
    let teardown = live.finish();
    println!("removed lab {lab_id}");
    teardown?;
    if let Some(e) = client_error {
        eprintln!("baton demo: the client stopped: {e}");
    }
    match outcome {
        Ok(Some(steps)) => {
            print!("{}", summary::render(&steps, &totals, args.rate));
            let all = steps.len() == 7 && steps.iter().all(|s| s.ok());
            Ok(Ending::Script(all))
        }
        Ok(None) => Ok(Ending::Stopped),
        Err(_) if cleanup::stop_requested() => {
            println!(
                "stopped; requests: {} ok, {} failed",
                totals.ok, totals.failed
            );
            Ok(Ending::Stopped)
        }
        Err(e) => Err(e),
    }
}
