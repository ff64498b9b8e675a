//! The demo's command line: `baton-demo [--script] [--rate N] [--proxy …] [--baton PATH]`
//! (what `baton demo` runs), and the built-in HTTP services it starts inside its lab hosts
//! (`baton-demo service backend|proxy …`, hidden).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "baton demo",
    about = "Build the seed's system in network namespaces (a client, two nginx load balancers \
             running baton, two backends) and show it failing over, live. Needs root.",
    version
)]
pub struct Cli {
    #[command(flatten)]
    pub demo: DemoArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One of the demo's built-in HTTP services, run inside its lab hosts.
    #[command(hide = true)]
    Service(ServiceArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Run the scripted sequence unattended, print a summary table and exit 0 only if every
    /// step behaved.
    #[arg(long)]
    pub script: bool,
    /// keepalived's other half instead: the two directors balance the backends through
    /// LVS-NAT on nftables (virtual_server), a backend is killed and checked out, the
    /// master is killed and the VIP moves with its load balancing. Printed step by step;
    /// exit 0 only if every step behaved.
    #[arg(long, conflicts_with_all = ["script", "proxy"])]
    pub lvs: bool,
    /// Requests per second the client sends to the VIP, each on a fresh connection.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub rate: u32,
    /// The load balancers' reverse proxy: Debian's nginx when it is installed, else the
    /// built-in one.
    #[arg(long, value_enum, default_value_t = DemoProxy::Auto)]
    pub proxy: DemoProxy,
    /// The baton binary the load balancers run (default: the `baton` beside this program,
    /// else the one on PATH). `baton demo` passes itself.
    #[arg(long, env = "BATON_DEMO_BATON", value_name = "PATH")]
    pub baton: Option<PathBuf>,
    /// Do not install missing Debian packages; stop and name them instead.
    #[arg(long)]
    pub no_install: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoProxy {
    Auto,
    Nginx,
    Builtin,
}

#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    #[arg(value_enum)]
    pub role: Role,
    /// Address and port to listen on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// The backend's body, or the proxy's `X-LB` header.
    #[arg(long)]
    pub name: String,
    /// The proxy's backends, tried in turn.
    #[arg(long = "upstream")]
    pub upstreams: Vec<SocketAddr>,
    /// Go to the background once listening, as nginx does.
    #[arg(long)]
    pub daemon: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    Backend,
    Proxy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_and_its_services_parse() {
        let c = Cli::try_parse_from(["baton-demo", "--script", "--rate", "50"]).unwrap();
        assert!(c.demo.script);
        assert_eq!(c.demo.rate, 50);
        assert_eq!(c.demo.proxy, DemoProxy::Auto);
        assert!(c.command.is_none());
        assert!(Cli::try_parse_from(["baton-demo", "--rate", "0"]).is_err());
        let c = Cli::try_parse_from([
            "baton-demo",
            "service",
            "proxy",
            "--listen",
            "0.0.0.0:80",
            "--name",
            "lb1",
            "--upstream",
            "192.168.5.21:8080",
            "--upstream",
            "192.168.5.22:8080",
            "--daemon",
        ])
        .unwrap();
        match c.command {
            Some(Command::Service(a)) => {
                assert_eq!(a.role, Role::Proxy);
                assert_eq!(a.upstreams.len(), 2);
                assert!(a.daemon);
            }
            other => panic!("{other:?}"),
        }
    }
}
