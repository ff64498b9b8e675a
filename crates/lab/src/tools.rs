//! The external programs a lab drives, and the root check tests start with.
//!
//! Labs shell out to the distribution's tools (`ip`, `nft`, `tcpdump`) rather than re-implementing
//! them: they are what an operator uses, their output is what a bug report quotes, and they are
//! the reference the daemon is compared against.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Debian packages that ship the tools tests are likely to need.
const PACKAGES: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("bridge", "iproute2"),
    ("nft", "nftables"),
    ("tcpdump", "tcpdump"),
    ("tshark", "tshark"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("ps", "procps"),
    ("pidof", "sysvinit-utils"),
    ("killall", "psmisc"),
    ("keepalived", "keepalived"),
    ("nginx", "nginx-light"),
    ("vrrpd", "frr"),
    ("zebra", "frr"),
    ("sh", "dash"),
    ("bash", "bash"),
];

/// The Debian package that ships `tool`, or `"?"` when the lab does not know it.
pub fn package_of(tool: &str) -> &'static str {
    PACKAGES
        .iter()
        .find(|(t, _)| *t == tool)
        .map_or("?", |(_, p)| p)
}

/// Where `tool` is in `PATH` (plus the sbin directories, which a root shell has but a test
/// harness's environment may lack), or `None`.
pub fn which(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let p = Path::new(tool);
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of `tool`, or an error naming the Debian package to install.
///
/// ```no_run
/// baton_lab::require_tool("keepalived")?;
/// # Ok::<(), baton_lab::Error>(())
/// ```
pub fn require_tool(tool: &str) -> Result<PathBuf> {
    which(tool).ok_or_else(|| Error::MissingTool {
        tool: tool.into(),
        package: package_of(tool),
    })
}

/// Check several tools at once; the error names the first one missing.
pub fn require_tools(tools: &[&str]) -> Result<()> {
    tools.iter().try_for_each(|t| require_tool(t).map(drop))
}

/// True when the process may build labs (it is root). Otherwise prints why the calling test is
/// skipped and returns false, so a test starts with
///
/// ```no_run
/// if !baton_lab::require_root() {
///     return;
/// }
/// ```
///
/// CI runs as root, so there these tests always run.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    eprintln!("skipping {test}: needs root (network namespaces, veth, nftables, raw sockets)");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_names_its_package() {
        match require_tool("nft-that-does-not-exist") {
            Err(Error::MissingTool { tool, package }) => {
                assert_eq!(tool, "nft-that-does-not-exist");
                assert_eq!(package, "?");
            }
            other => panic!("expected MissingTool, got {other:?}"),
        }
        assert_eq!(package_of("tcpdump"), "tcpdump");
        assert_eq!(package_of("nsenter"), "util-linux");
    }

    #[test]
    fn finds_a_shell() {
        assert!(which("sh").is_some());
        assert!(which("/bin/sh").is_some());
        assert!(which("/nonexistent/sh").is_none());
    }
}
