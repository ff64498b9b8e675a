use std::process::ExitCode;

use baton::cli::{Action, Cli};
use clap::Parser;

fn main() -> ExitCode {
    match Cli::parse().action() {
        Action::Check { options, report_to } => {
            if let Some(path) = report_to
                && let Err(e) = redirect_stderr(&path)
            {
                eprintln!("baton: cannot write the report to {}: {e}", path.display());
                return ExitCode::from(2);
            }
            baton::north::check::run(&options)
        }
        Action::Run(options) => baton::daemon::run(options),
        Action::Status {
            control_socket,
            watch: Some(every),
            ..
        } => baton::north::watch::run(&control_socket, every),
        Action::Status {
            control_socket,
            json,
            watch: None,
        } => baton::north::status::run(&control_socket, json),
        Action::Demo(args) => demo(&args.args),
        Action::Genhash(args) => genhash(&args.args),
        Action::Version => {
            print!("{}", baton::cli::version_text());
            ExitCode::SUCCESS
        }
        Action::Signum(name) => baton::north::dump::print_signum(&name),
    }
}

/// `baton genhash`: keepalived's genhash, by the HTTP_GET checker's own code.
fn genhash(args: &[std::ffi::OsString]) -> ExitCode {
    let mut argv = vec![std::ffi::OsString::from("baton genhash")];
    argv.extend(args.iter().cloned());
    let cli = baton::cli::GenhashCli::parse_from(argv);
    let code = baton_check::genhash::run(
        &cli.args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `baton demo`: the demo is a program of its own, `baton-demo`, built beside this one; it
/// runs this binary in its lab. The daemon carries none of its code.
fn demo(args: &[std::ffi::OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let me = std::env::current_exe();
    let beside = me
        .as_ref()
        .ok()
        .and_then(|m| m.parent().map(|d| d.join("baton-demo")))
        .filter(|p| p.is_file());
    let Some(program) = beside else {
        eprintln!(
            "baton demo: baton-demo is not installed beside {}: build both with \
             `cargo build --release` and run target/release/baton demo",
            me.as_ref()
                .map_or_else(|_| "baton".into(), |m| m.display().to_string())
        );
        return ExitCode::from(1);
    };
    let mut cmd = std::process::Command::new(&program);
    cmd.args(args);
    if let Ok(me) = &me {
        cmd.env("BATON_DEMO_BATON", me);
    }
    let err = cmd.exec();
    eprintln!("baton demo: cannot run {}: {err}", program.display());
    ExitCode::from(1)
}

/// `-t LOGFILE`: the configuration report goes to LOGFILE instead of standard error. Opened
/// as every file written as root is (no symbolic link, FIFO or hard link followed).
fn redirect_stderr(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use baton::north::files::{Mode, open_for_writing};
    use std::os::fd::AsFd;
    let file = open_for_writing(path, Mode::Append, false)?;
    nix::unistd::dup2_stderr(file.as_fd())?;
    Ok(())
}
