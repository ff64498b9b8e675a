//! A configured command made ready to run: checked once at start-up, then spawned as often
//! as needed in its own process group, as its user, with no shell unless it asks for one.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Stdio;

use baton_conf::Command;

use crate::error::{CommandError, Insecurity};
use crate::security::check_script;
use crate::user::{ScriptUser, UserResolver};

/// The shell keepalived hands redirection-only commands to (it uses `system()`).
const SHELL: &str = "/bin/sh";

/// Environment variables keepalived drops before exec: they change how the loader or a
/// shell behaves and so could subvert a script running as root.
const SCRUBBED_ENV: [&str; 3] = ["IFS", "LD_PRELOAD", "LD_LIBRARY_PATH"];

/// A command ready to spawn.
#[derive(Debug, Clone)]
pub struct Program {
    /// The command line as configured, for log lines.
    pub text: String,
    exec: PathBuf,
    argv: Vec<String>,
    /// Run through `/bin/sh -c`: keepalived's "system" commands (`</dev/tcp/…`), as
    /// `baton_conf::Command::runs_through_shell` decides.
    shell: bool,
    pub user: ScriptUser,
}

impl Program {
    /// Resolve the user and check the script. With `security` off an insecure script is
    /// still returned, with what makes it insecure, so the caller can warn.
    pub fn prepare(
        command: &Command,
        users: &UserResolver,
        security: bool,
    ) -> Result<(Program, Option<Insecurity>), CommandError> {
        let user = users.resolve(command.run_as.as_ref())?;
        let Some(first) = command.argv.first() else {
            return Err(CommandError::Empty);
        };
        if command.runs_through_shell() {
            // keepalived runs `</dev/tcp/host/port`-style tests through the shell and does
            // not check them: there is no script file to check.
            return Ok((
                Program {
                    text: command.text.clone(),
                    exec: PathBuf::from(SHELL),
                    argv: command.argv.clone(),
                    shell: true,
                    user,
                },
                None,
            ));
        }
        let path_env = std::env::var_os("PATH");
        let checked = check_script(first, &user, security, path_env.as_deref())?;
        let mut argv = command.argv.clone();
        argv[0] = checked.argv0;
        Ok((
            Program {
                text: command.text.clone(),
                exec: checked.exec_path,
                argv,
                shell: false,
                user,
            },
            checked.insecurity,
        ))
    }

    /// The command to spawn, with `extra` arguments appended (notify's `INSTANCE name STATE
    /// prio`, a FIFO script's FIFO path). stdin, stdout and stderr are /dev/null: output is
    /// never buffered, so a script printing megabytes costs nothing and cannot block.
    pub(crate) fn command(&self, extra: &[&str]) -> tokio::process::Command {
        let mut cmd = if self.shell {
            let mut cmd = tokio::process::Command::new(&self.exec);
            let mut line = shell_line(&self.argv);
            for arg in extra {
                line.push(' ');
                push_quoted(&mut line, arg);
            }
            cmd.arg0("sh").arg("-c").arg(line);
            cmd
        } else {
            let mut cmd = tokio::process::Command::new(&self.exec);
            cmd.arg0(&self.argv[0]).args(&self.argv[1..]).args(extra);
            cmd
        };
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so a timeout can kill everything it started.
            .process_group(0)
            .kill_on_drop(true);
        // Our own ids, not ScriptUser::current(): that also looks our name up (NSS, which
        // may ask a directory server), and every script run would wait for it.
        if self.user.gid != nix::unistd::getegid().as_raw() {
            cmd.gid(self.user.gid);
        }
        if self.user.uid != nix::unistd::geteuid().as_raw() {
            // std clears supplementary groups before setuid when we are root.
            cmd.uid(self.user.uid);
        }
        // SAFETY: the closure runs in the child between fork and exec and only calls
        // prctl(2), which is async-signal-safe; it touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                // If the daemon dies, its scripts should not outlive it.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }

    /// The executable this program runs.
    pub fn exec_path(&self) -> &OsStr {
        self.exec.as_os_str()
    }
}

/// keepalived's `cmd_str`: the first word verbatim when it is a redirection, every other
/// word single-quoted so the shell sees exactly the words the parser split.
fn shell_line(argv: &[String]) -> String {
    let mut line = String::new();
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        if i == 0 && (arg.starts_with('<') || arg.starts_with('>')) {
            line.push_str(arg);
        } else {
            push_quoted(&mut line, arg);
        }
    }
    line
}

fn push_quoted(line: &mut String, arg: &str) {
    line.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            line.push_str("'\\''");
        } else {
            line.push(c);
        }
    }
    line.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn shell_line_quotes_every_word_but_a_leading_redirection() {
        assert_eq!(
            shell_line(&argv(&["</dev/tcp/10.0.0.1/80", "it's", "a b"])),
            r#"</dev/tcp/10.0.0.1/80 'it'\''s' 'a b'"#
        );
        assert_eq!(shell_line(&argv(&["/bin/x", "$(id)"])), "'/bin/x' '$(id)'");
    }
}
