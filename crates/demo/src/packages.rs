//! What the demo needs on the machine besides baton, and installing it on a fresh Debian the
//! way `scripts/test` does: say which packages, `apt-get install` them without recommends,
//! and keep their services from starting on the host (the demo runs its own, inside the
//! lab). nginx is not installed: without it the load balancers run the built-in proxy.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// The programs the demo runs: `ip` builds the lab, and the post's check script needs bash,
/// `ps` and `killall`. (The post's firewall is programmed over netlink, `firewall`: no
/// `nft`.) Which Debian package ships each is the lab's to say ([`baton_lab::package_of`]).
pub const TOOLS: &[&str] = &["ip", "bash", "ps", "killall"];

/// The packages whose tools are missing, each once, in [`TOOLS`] order.
pub fn missing() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for tool in TOOLS {
        let package = baton_lab::package_of(tool);
        if baton_lab::which(tool).is_none() && !out.contains(&package) {
            out.push(package);
        }
    }
    out
}

/// Make sure every tool is there: install the missing packages (unless `install` is false,
/// then name them), saying what is installed and why.
pub fn ensure(install: bool) -> Result<()> {
    let missing = missing();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    if !install {
        bail!(
            "missing Debian packages: {list} (apt-get install {list}, or run without --no-install)"
        );
    }
    if baton_lab::which("apt-get").is_none() {
        bail!(
            "missing packages {list}, and this is not a Debian-like system with apt-get: install them and run again"
        );
    }
    println!(
        "baton demo: installing {list} with apt-get (the lab's network tools and the post's check script's ps/killall)"
    );
    let apt = |args: &[&str]| -> Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .with_context(|| format!("running apt-get {}", args.join(" ")))?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    // A package's service must not start on the host (procps' would apply the host's sysctl
    // files): policy-rc.d refuses every start for the length of the install.
    let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
    let ours = !policy.exists();
    if ours {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(policy, "#!/bin/sh\nexit 101\n").context("writing policy-rc.d")?;
        std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755))
            .context("making policy-rc.d executable")?;
    }
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(missing.iter().copied());
    let result = apt(&args);
    if ours {
        let _ = std::fs::remove_file(policy);
    }
    result?;
    let still = self::missing();
    if !still.is_empty() {
        bail!("still missing after the install: {}", still.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_package() {
        for tool in TOOLS {
            assert_ne!(baton_lab::package_of(tool), "?", "{tool}");
        }
    }
}
