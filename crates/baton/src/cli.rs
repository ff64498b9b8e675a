//! The command line. keepalived's common flags are accepted as keepalived spells them, so a unit
//! file written for keepalived (Debian's runs `keepalived --dont-fork $DAEMON_ARGS`) starts baton
//! unchanged; baton's own subcommands sit beside them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::north::check::CheckOptions;
use crate::north::logging::Facility;

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";
/// keepalived's default pid file (its parent process's), so `PIDFile=` lines keep working.
pub const DEFAULT_PIDFILE: &str = "/run/keepalived.pid";

#[derive(Debug, Parser)]
#[command(
    name = "baton",
    about = "A keepalived-compatible VRRP high-availability daemon",
    version,
    disable_version_flag = true,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// `-t, --config-test[=LOGFILE]`: check the configuration and exit, as `baton check` does.
    /// With LOGFILE, the report goes to that file instead of standard error.
    #[arg(
        short = 't',
        long = "config-test",
        value_name = "LOGFILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        global = true
    )]
    pub config_test: Option<String>,

    /// Print the version and exit, with a first line tools can parse (`baton vX.Y.Z
    /// (keepalived-compatible A.B.C)`).
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    /// Print the number of the signal that asks for NAME (STOP, RELOAD, DATA, STATS,
    /// STATS_CLEAR, JSON) and exit, as keepalived's `--signum` does.
    #[arg(long = "signum", value_name = "NAME")]
    pub signum: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every subcommand understands, keepalived's spelling first.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG, global = true)]
    pub config: PathBuf,

    /// Stay in the foreground.
    #[arg(short = 'n', long = "dont-fork", global = true)]
    pub dont_fork: bool,

    /// Log to the console instead of syslog.
    #[arg(short = 'l', long = "log-console", global = true)]
    pub log_console: bool,

    /// Detailed logging.
    #[arg(short = 'D', long = "log-detail", global = true)]
    pub log_detail: bool,

    /// Syslog facility: 0-7 (local0-7), local0-7, user or daemon.
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY", default_value = "daemon", value_parser = parse_facility, global = true)]
    pub log_facility: Facility,

    /// Pid file; a second daemon on the same file is refused.
    #[arg(short = 'p', long = "pid", value_name = "FILE", default_value = DEFAULT_PIDFILE, global = true)]
    pub pidfile: PathBuf,

    /// Run only the VRRP subsystem (the only one baton has; accepted for compatibility).
    #[arg(short = 'P', long = "vrrp", global = true)]
    pub vrrp_only: bool,

    /// Config id for `@ID` lines (default: the short hostname).
    #[arg(short = 'i', long = "config-id", value_name = "ID", global = true)]
    pub config_id: Option<String>,

    /// Fail if any configuration or include file is missing.
    #[arg(short = 'e', long = "all-config", global = true)]
    pub all_config: bool,

    /// Control socket (default: the pid file with `.sock` in place of `.pid`).
    #[arg(long = "control-socket", value_name = "PATH", global = true)]
    pub control_socket: Option<PathBuf>,

    /// Serve Prometheus metrics (`/metrics`, with the keepalived exporter's names), a
    /// read-only status page (`/`) and `/healthz` over HTTP on ADDR:PORT. Off unless given.
    #[arg(long = "metrics", value_name = "ADDR:PORT", global = true)]
    pub metrics: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default when no subcommand is given).
    Run,
    /// Check the configuration and exit with keepalived's `-t` codes.
    #[command(after_help = crate::north::check::EXIT_CODES)]
    Check(CheckArgs),
    /// Ask a running daemon for the state of its instances.
    Status(StatusArgs),
    /// Build the seed's system in network namespaces (a client, two nginx load balancers
    /// running baton, two backends) and show it failing over, live. Needs root. Runs the
    /// `baton-demo` program beside this one (`baton demo --help` for its options).
    #[command(disable_help_flag = true)]
    Demo(DemoArgs),
    /// keepalived's genhash: print the MD5 digest of a web page, for HTTP_GET's and
    /// SSL_GET's `digest`, fetched as the checker fetches it. keepalived's options
    /// (`baton genhash --help`): -s SERVER -p PORT -u URL [-S] [-I] [-V HOST] [-P 1.0|1.0c|1.1]
    /// [-m FWMARK] [-t SECS] [-v].
    #[command(disable_help_flag = true)]
    Genhash(DemoArgs),
}

/// `baton genhash`'s own command line: exactly keepalived's `genhash` (whose short flags
/// clash with the daemon's, so it is parsed apart).
#[derive(Debug, Parser)]
#[command(
    name = "baton genhash",
    about = "Print the MD5 digest of a web page for HTTP_GET's `digest` (keepalived's genhash)"
)]
pub struct GenhashCli {
    #[command(flatten)]
    pub args: baton_check::genhash::GenhashArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print the effective configuration as JSON.
    #[arg(long)]
    pub dump: bool,
    /// Print what the firewall must let through so both routers hear each other (the
    /// seed's split brain), for firewalld and nftables.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print the daemon's JSON answer instead of a table.
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
    /// Keep the table on screen and redraw it in place, like `watch` without the flicker.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Seconds between redraws with `--watch`.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_interval)]
    pub interval: f64,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.1..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds from 0.1 to 3600")),
    }
}

/// `baton demo`'s arguments, passed to `baton-demo` as they are.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<std::ffi::OsString>,
}

fn parse_facility(s: &str) -> Result<Facility, String> {
    s.parse()
}

/// What the process has been asked to do, once the command line is understood.
#[derive(Debug)]
pub enum Action {
    /// Check the configuration; `report_to` is `-t`'s LOGFILE.
    Check {
        options: CheckOptions,
        report_to: Option<PathBuf>,
    },
    Run(RunOptions),
    Status {
        control_socket: PathBuf,
        json: bool,
        /// `--watch`: redraw every this long.
        watch: Option<Duration>,
    },
    Demo(DemoArgs),
    Genhash(DemoArgs),
    /// `-v`: print [`version_text`] on standard error.
    Version,
    /// `--signum=NAME`.
    Signum(String),
}

/// The keepalived release whose interface (flags, signals, dump files, exit codes) baton
/// follows; tools that parse `keepalived -v` learn it from the first line.
pub const KEEPALIVED_COMPATIBLE: &str = "2.2.7";

/// What `-v` prints, on standard output. The first line reads `baton v0.1.0
/// (keepalived-compatible 2.2.7)`: its second word is baton's own version, never a keepalived
/// release baton is not. keepalived prints its version on standard error, where the keepalived
/// exporter reads it; finding none there, the exporter assumes a current keepalived and asks
/// `--signum` for each signal, which baton answers, so every series it has works (with 0.1.0
/// it would take baton for a keepalived older than 1.3.8 and drop the script state and its
/// JSON mode). The dump line says which of keepalived's dumps answer (`--enable-json` is
/// the string the exporter looks for before it uses the JSON dump).
pub fn version_text() -> String {
    format!(
        "baton v{} (keepalived-compatible {KEEPALIVED_COMPATIBLE})\n\n\
         A keepalived-compatible VRRP high-availability daemon. MIT OR Apache-2.0.\n\
         Dumps: DATA STATS STATS_CLEAR JSON (as keepalived built with --enable-json)\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Everything the daemon needs from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    pub config_id: Option<String>,
    pub all_config: bool,
    pub dont_fork: bool,
    pub log_console: bool,
    pub log_detail: bool,
    pub log_facility: Facility,
    pub pidfile: PathBuf,
    pub control_socket: PathBuf,
    /// `--metrics ADDR:PORT`.
    pub metrics: Option<SocketAddr>,
}

impl Cli {
    /// Resolve flags and subcommand into one action. `-t` wins over everything, as in
    /// keepalived, so `baton -f X -t` and `baton check -f X` do the same thing.
    pub fn action(self) -> Action {
        let c = self.common;
        let control_socket = c
            .control_socket
            .clone()
            .unwrap_or_else(|| control_socket_for(&c.pidfile));
        let check = |json: bool, dump: bool, explain: bool| CheckOptions {
            config: c.config.clone(),
            config_id: c.config_id.clone(),
            all_config: c.all_config,
            json,
            dump,
            explain,
        };
        if self.version {
            return Action::Version;
        }
        if let Some(name) = self.signum {
            return Action::Signum(name);
        }
        if let Some(log) = self.config_test {
            let report_to = (!log.is_empty()).then(|| PathBuf::from(log));
            return Action::Check {
                options: check(false, false, false),
                report_to,
            };
        }
        match self.command {
            Some(Command::Check(a)) => Action::Check {
                options: check(a.format == Format::Json, a.dump, a.explain),
                report_to: None,
            },
            Some(Command::Status(a)) => Action::Status {
                control_socket,
                json: a.json,
                watch: a.watch.then(|| Duration::from_secs_f64(a.interval)),
            },
            Some(Command::Demo(a)) => Action::Demo(a),
            Some(Command::Genhash(a)) => Action::Genhash(a),
            Some(Command::Run) | None => Action::Run(RunOptions {
                config: c.config,
                config_id: c.config_id,
                all_config: c.all_config,
                dont_fork: c.dont_fork,
                log_console: c.log_console,
                log_detail: c.log_detail,
                log_facility: c.log_facility,
                pidfile: c.pidfile,
                control_socket,
                metrics: c.metrics,
            }),
        }
    }
}

/// The control socket that goes with a pid file: `/run/x.pid` → `/run/x.sock`. Daemons in
/// different namespaces are started with different `-p`, so their sockets never collide.
pub fn control_socket_for(pidfile: &Path) -> PathBuf {
    if pidfile.extension().is_some_and(|e| e == "pid") {
        pidfile.with_extension("sock")
    } else {
        let mut s = pidfile.as_os_str().to_owned();
        s.push(".sock");
        PathBuf::from(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(args: &[&str]) -> Action {
        let mut argv = vec!["baton"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().action()
    }

    fn expect_check(a: Action) -> (CheckOptions, Option<PathBuf>) {
        match a {
            Action::Check { options, report_to } => (options, report_to),
            other => panic!("expected check, got {other:?}"),
        }
    }

    fn expect_run(a: Action) -> RunOptions {
        match a {
            Action::Run(o) => o,
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn config_test_flag_and_check_subcommand_reach_the_same_check() {
        let (a, log_a) = expect_check(action(&["-f", "/x/k.conf", "-t"]));
        let (b, log_b) = expect_check(action(&["check", "-f", "/x/k.conf"]));
        let (c, _) = expect_check(action(&["-t", "-f", "/x/k.conf"]));
        for o in [&a, &b, &c] {
            assert_eq!(o.config, PathBuf::from("/x/k.conf"));
            assert!(!o.json && !o.dump && !o.all_config);
        }
        assert_eq!(log_a, None);
        assert_eq!(log_b, None);
    }

    #[test]
    fn config_test_takes_an_optional_log_file_with_equals() {
        let (_, log) = expect_check(action(&["--config-test=/tmp/t.log", "-f", "k.conf"]));
        assert_eq!(log, Some(PathBuf::from("/tmp/t.log")));
        let (_, log) = expect_check(action(&["-t=/tmp/u.log"]));
        assert_eq!(log, Some(PathBuf::from("/tmp/u.log")));
    }

    #[test]
    fn check_passes_config_id_all_config_and_format() {
        let (o, _) = expect_check(action(&[
            "check", "-i", "lb1", "-e", "--format", "json", "--dump", "-f", "a.conf",
        ]));
        assert_eq!(o.config_id.as_deref(), Some("lb1"));
        assert!(o.all_config && o.json && o.dump);
    }

    #[test]
    fn plain_invocation_runs_the_daemon_with_keepalived_defaults() {
        let o = expect_run(action(&[]));
        assert_eq!(o.config, PathBuf::from(DEFAULT_CONFIG));
        assert_eq!(o.pidfile, PathBuf::from(DEFAULT_PIDFILE));
        assert_eq!(o.control_socket, PathBuf::from("/run/keepalived.sock"));
        assert_eq!(o.log_facility, Facility::Daemon);
        assert!(!o.dont_fork && !o.log_console && !o.log_detail);
    }

    #[test]
    fn debian_unit_file_command_line_runs_the_daemon() {
        // ExecStart=/usr/sbin/keepalived --dont-fork $DAEMON_ARGS, with typical DAEMON_ARGS.
        let o = expect_run(action(&["--dont-fork", "-D", "-S", "local3", "-P"]));
        assert!(o.dont_fork && o.log_detail);
        assert_eq!(o.log_facility, Facility::Local(3));
    }

    #[test]
    fn run_subcommand_accepts_flags_before_and_after_it() {
        let o = expect_run(action(&[
            "-n",
            "run",
            "-l",
            "-p",
            "/run/b/ns1.pid",
            "-f",
            "c",
        ]));
        assert!(o.dont_fork && o.log_console);
        assert_eq!(o.pidfile, PathBuf::from("/run/b/ns1.pid"));
        assert_eq!(o.control_socket, PathBuf::from("/run/b/ns1.sock"));
        assert_eq!(o.config, PathBuf::from("c"));
    }

    #[test]
    fn control_socket_flag_overrides_the_derived_path() {
        let o = expect_run(action(&[
            "-p",
            "/run/a.pid",
            "--control-socket",
            "/tmp/c.sock",
        ]));
        assert_eq!(o.control_socket, PathBuf::from("/tmp/c.sock"));
        match action(&["status", "--json", "-p", "/run/ns2.pid"]) {
            Action::Status {
                control_socket,
                json,
                watch,
            } => {
                assert_eq!(control_socket, PathBuf::from("/run/ns2.sock"));
                assert!(json);
                assert_eq!(watch, None);
            }
            other => panic!("expected status, got {other:?}"),
        }
    }

    #[test]
    fn facility_numbers_mean_local_facilities_like_keepalived() {
        let o = expect_run(action(&["-S", "5"]));
        assert_eq!(o.log_facility, Facility::Local(5));
        let o = expect_run(action(&["--log-facility=user"]));
        assert_eq!(o.log_facility, Facility::User);
        assert!(Cli::try_parse_from(["baton", "-S", "local9"]).is_err());
        assert!(Cli::try_parse_from(["baton", "-S", "8"]).is_err());
    }

    #[test]
    fn version_flag_is_lowercase_v_like_keepalived() {
        assert!(matches!(action(&["-v"]), Action::Version));
        assert!(matches!(action(&["--version"]), Action::Version));
        let err = Cli::try_parse_from(["baton", "-h"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn version_first_line_parses_as_the_keepalived_exporter_parses_it() {
        // The exporter: first line, split on spaces, second word without its first letter.
        let text = version_text();
        let (first, rest) = text.split_once('\n').unwrap();
        assert!(!rest.is_empty());
        let word = first.split(' ').nth(1).unwrap();
        assert_eq!(&word[1..], env!("CARGO_PKG_VERSION"));
        assert!(first.contains(KEEPALIVED_COMPATIBLE), "{first}");
        assert!(text.contains("--enable-json"));
    }

    #[test]
    fn signum_and_metrics_and_watch() {
        match action(&["--signum=JSON"]) {
            Action::Signum(n) => assert_eq!(n, "JSON"),
            other => panic!("expected signum, got {other:?}"),
        }
        let o = expect_run(action(&["-n", "--metrics", "192.168.5.11:9165"]));
        assert_eq!(o.metrics, Some("192.168.5.11:9165".parse().unwrap()));
        assert_eq!(expect_run(action(&[])).metrics, None);
        assert!(Cli::try_parse_from(["baton", "--metrics", "nowhere"]).is_err());
        match action(&["status", "--watch", "--interval", "0.5"]) {
            Action::Status { watch, json, .. } => {
                assert_eq!(watch, Some(Duration::from_millis(500)));
                assert!(!json);
            }
            other => panic!("expected status, got {other:?}"),
        }
        assert!(Cli::try_parse_from(["baton", "status", "--watch", "--json"]).is_err());
        assert!(Cli::try_parse_from(["baton", "status", "--interval", "0"]).is_err());
    }

    #[test]
    fn control_socket_for_a_pid_file_without_extension() {
        assert_eq!(
            control_socket_for(Path::new("/run/baton")),
            PathBuf::from("/run/baton.sock")
        );
    }

    #[test]
    fn demo_passes_every_argument_on() {
        match action(&["demo", "--script", "--rate", "50", "--help"]) {
            Action::Demo(a) => assert_eq!(a.args, ["--script", "--rate", "50", "--help"]),
            other => panic!("expected demo, got {other:?}"),
        }
    }

    #[test]
    fn genhash_takes_keepalived_flags_that_clash_with_the_daemons() {
        let raw = match action(&[
            "genhash", "-s", "10.0.0.1", "-p", "8080", "-u", "/x", "-S", "-t", "3", "-P", "1.1",
            "-v",
        ]) {
            Action::Genhash(a) => a.args,
            other => panic!("expected genhash, got {other:?}"),
        };
        let mut argv = vec![std::ffi::OsString::from("baton genhash")];
        argv.extend(raw);
        let g = GenhashCli::try_parse_from(argv).unwrap().args;
        assert_eq!(g.server, "10.0.0.1".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(g.port, 8080);
        assert_eq!(g.url, "/x");
        assert!(g.use_ssl && g.verbose);
        assert_eq!(g.timeout, 3);
        assert_eq!(g.protocol, baton_conf::HttpProtocol::Http11);
        use clap::CommandFactory;
        GenhashCli::command().debug_assert();
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn check_help_documents_the_exit_codes() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        let check = cli.find_subcommand_mut("check").unwrap();
        let help = check.render_long_help().to_string();
        assert!(help.contains(crate::north::check::EXIT_CODES), "{help}");
        assert!(help.contains("5  the configuration has errors"), "{help}");
    }
}
