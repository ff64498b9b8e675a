//! Running the tools that build a lab (`ip`, `nft`) and turning their failures into errors that
//! quote the command line and what it printed.

use std::io::Write;
use std::process::{Command, ExitStatus, Output, Stdio};

use crate::error::IoContext;
use crate::{Error, Result};

/// A command line for messages: program and arguments separated by spaces.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "exit 1", "signal 9 (SIGKILL)" and so on.
pub(crate) fn status_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => format!("signal {sig} ({s})"),
            Err(_) => format!("signal {sig}"),
        },
        _ => status.to_string(),
    }
}

/// Stdout of a finished command, or an error with its status and stderr.
pub(crate) fn checked(command: String, out: Output) -> Result<String> {
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(Error::Command {
        command,
        status: status_text(out.status),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Run a command to completion with `stdin` fed to it, capturing stdout and stderr.
pub(crate) fn output_with_stdin(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<Output> {
    let what = describe(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().ctx(|| format!("starting `{what}`"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input)
            .ctx(|| format!("writing to `{what}`"))?;
    }
    child
        .wait_with_output()
        .ctx(|| format!("waiting for `{what}`"))
}

/// Run a tool in the test process's own namespaces; stdout on success.
pub(crate) fn run_tool(argv: &[&str]) -> Result<String> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Error::invalid("command", "empty"))?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = output_with_stdin(&mut cmd, None)?;
    checked(describe(&cmd), out)
}

/// Build a `Command` from an argument vector.
pub(crate) fn command<S: AsRef<std::ffi::OsStr>>(argv: &[S]) -> Result<Command> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Error::invalid("command", "empty"))?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_quote_command_status_and_stderr() {
        let err = run_tool(&["sh", "-c", "echo oops >&2; exit 3"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sh -c echo oops >&2; exit 3` failed (exit 3): oops"
        );
        assert_eq!(run_tool(&["sh", "-c", "echo hi"]).unwrap(), "hi\n");
        assert!(run_tool(&[]).is_err());
    }

    #[test]
    fn signals_are_named() {
        let err = run_tool(&["sh", "-c", "kill -KILL $$"]).unwrap_err();
        assert!(err.to_string().contains("signal 9 (SIGKILL)"), "{err}");
    }
}
