use std::process::ExitCode;

use baton::cli::{Action, Cli};
use clap::Parser;

mod demo;

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
            json,
        } => baton::north::status::run(&control_socket, json),
        Action::Demo(args) => demo::run(&args),
        Action::DemoService(args) => demo::service::run(&args),
    }
}

/// `-t LOGFILE`: the configuration report goes to LOGFILE instead of standard error.
fn redirect_stderr(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    nix::unistd::dup2_stderr(file.as_fd())?;
    Ok(())
}
