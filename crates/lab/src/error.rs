//! The lab's one error type. Every variant says what the lab was doing, so a failing test reads
//! like a sentence ("timed out after 5s waiting for lb2 to hold 192.168.5.10").

use std::time::Duration;

/// Result with the lab's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building, driving or tearing down a lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A program the lab drives is not installed.
    #[error(
        "`{tool}` is not installed (not found in PATH); install the Debian package `{package}`"
    )]
    MissingTool {
        /// The program, e.g. `tcpdump`.
        tool: String,
        /// The Debian package that ships it.
        package: &'static str,
    },
    /// A file-system or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the lab was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What the lab was doing.
        what: String,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// A command ran but exited unsuccessfully.
    #[error("`{command}` failed ({status}){}", stderr_suffix(.stderr))]
    Command {
        /// The command line, for the message.
        command: String,
        /// How it ended (exit code or signal).
        status: String,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// A condition did not become true in time.
    #[error("timed out after {after:?} waiting for {what}{}", last_suffix(.last))]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the lab waited.
        after: Duration,
        /// The last error the condition reported, if any.
        last: Option<String>,
    },
    /// A name, address or other argument is not acceptable.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The lab this handle belongs to has already been torn down.
    #[error("lab {0} has been torn down")]
    TornDown(String),
    /// A capture file is not a pcap file this reader understands.
    #[error("malformed pcap: {0}")]
    Pcap(String),
    /// Teardown finished but could not undo everything.
    #[error("teardown of lab {lab} was incomplete: {}", .problems.join("; "))]
    Teardown {
        /// The lab id.
        lab: String,
        /// One line per thing left behind.
        problems: Vec<String>,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

fn last_suffix(last: &Option<String>) -> String {
    last.as_ref()
        .map(|e| format!(" (last error: {e})"))
        .unwrap_or_default()
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn sys(what: impl Into<String>, source: nix::Error) -> Self {
        Error::Sys {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// So `?` works on what a closure run by [`Host::in_netns`](crate::Host::in_netns) returns.
impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::io("I/O inside a lab host", source)
    }
}

/// Attach "what the lab was doing" to io results.
pub(crate) trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_was_awaited_and_why() {
        let e = Error::Timeout {
            what: "lb2 to hold 192.168.5.10".into(),
            after: Duration::from_secs(5),
            last: Some("ip failed".into()),
        };
        assert_eq!(
            e.to_string(),
            "timed out after 5s waiting for lb2 to hold 192.168.5.10 (last error: ip failed)"
        );
        let e = Error::MissingTool {
            tool: "tcpdump".into(),
            package: "tcpdump",
        };
        assert!(
            e.to_string()
                .contains("install the Debian package `tcpdump`")
        );
        let e = Error::Command {
            command: "nft list".into(),
            status: "exit 1".into(),
            stderr: "".into(),
        };
        assert_eq!(e.to_string(), "`nft list` failed (exit 1)");
    }
}
