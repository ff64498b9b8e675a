//! Facts about the machine the configuration will run on: its name, interfaces, users and
//! script files. Validation asks these through [`Host`] so tests use [`FakeHost`] and the
//! daemon and `baton check` use [`RealHost`].

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What looking up a script's program found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptLookup {
    /// The program exists and is executable, at this path.
    Found(PathBuf),
    /// No such file (for a bare name: not in any directory of the search path).
    NotFound,
    /// The file exists but has no execute permission (or is not a regular file).
    NotExecutable(PathBuf),
}

/// Questions validation asks about the host.
pub trait Host {
    /// The host name, for the default config id (`@id` lines, `${_INSTANCE}`).
    fn hostname(&self) -> Option<String>;

    /// Whether a network interface exists; `None` if that cannot be told.
    fn interface_exists(&self, name: &str) -> Option<bool>;

    fn user_exists(&self, name: &str) -> bool;

    fn group_exists(&self, name: &str) -> bool;

    /// Find a script's program: a path as written, or a bare name searched in the `PATH`.
    fn find_script(&self, program: &str) -> ScriptLookup;

    /// For `enable_script_security`: the first component of `path` (the file or one of its
    /// directories) that a non-root user could modify or replace, with the reason.
    fn insecure_component(&self, path: &Path) -> Option<(PathBuf, String)>;

    /// The contents of an `auth_hmac` key file (`file:PATH`), at most `limit` bytes (a
    /// longer file is an error of kind `FileTooLarge`), and its permission bits.
    fn read_key_file(&self, path: &Path, limit: usize) -> std::io::Result<KeyFile>;

    /// Whether `/bin/sh` (which runs keepalived's "system" commands) understands bash's
    /// `/dev/tcp/HOST/PORT` redirections; `None` if that cannot be told.
    fn shell_has_dev_tcp(&self) -> Option<bool>;
}

/// An `auth_hmac` key file as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    pub bytes: Vec<u8>,
    /// Permission bits (`st_mode & 0o777`).
    pub mode: u32,
}

/// The machine we run on.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealHost;

/// keepalived's search path for scripts given by bare name when `PATH` is unset.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl RealHost {
    fn check_executable(path: &Path) -> ScriptLookup {
        match std::fs::metadata(path) {
            Err(_) => ScriptLookup::NotFound,
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {
                ScriptLookup::Found(path.to_path_buf())
            }
            Ok(_) => ScriptLookup::NotExecutable(path.to_path_buf()),
        }
    }
}

impl Host for RealHost {
    fn hostname(&self) -> Option<String> {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
    }

    fn interface_exists(&self, name: &str) -> Option<bool> {
        if name.is_empty() || name.len() >= 16 || name.contains(['/', '\0']) {
            return Some(false);
        }
        Some(nix::net::if_::if_nametoindex(name).is_ok())
    }

    fn user_exists(&self, name: &str) -> bool {
        matches!(nix::unistd::User::from_name(name), Ok(Some(_)))
    }

    fn group_exists(&self, name: &str) -> bool {
        matches!(nix::unistd::Group::from_name(name), Ok(Some(_)))
    }

    fn find_script(&self, program: &str) -> ScriptLookup {
        if program.contains('/') {
            return RealHost::check_executable(Path::new(program));
        }
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
        let mut not_exec = None;
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            match RealHost::check_executable(&Path::new(dir).join(program)) {
                found @ ScriptLookup::Found(_) => return found,
                ScriptLookup::NotExecutable(p) => not_exec = not_exec.or(Some(p)),
                ScriptLookup::NotFound => {}
            }
        }
        not_exec.map_or(ScriptLookup::NotFound, ScriptLookup::NotExecutable)
    }

    fn insecure_component(&self, path: &Path) -> Option<(PathBuf, String)> {
        let mut here = Some(path);
        while let Some(p) = here {
            if p.as_os_str().is_empty() {
                break;
            }
            let Ok(m) = std::fs::metadata(p) else {
                here = p.parent();
                continue;
            };
            let mode = m.permissions().mode();
            // A sticky directory (like /tmp) is safe for files root owns: others may not
            // replace them.
            let sticky_dir = m.is_dir() && mode & 0o1000 != 0;
            if m.uid() != 0 {
                return Some((p.to_path_buf(), format!("it is owned by uid {}", m.uid())));
            }
            if mode & 0o002 != 0 && !sticky_dir {
                return Some((p.to_path_buf(), "it is writable by any user".to_string()));
            }
            if mode & 0o020 != 0 && m.gid() != 0 && !sticky_dir {
                return Some((
                    p.to_path_buf(),
                    format!("it is writable by group {}", m.gid()),
                ));
            }
            here = p.parent();
        }
        None
    }

    fn read_key_file(&self, path: &Path, limit: usize) -> std::io::Result<KeyFile> {
        use std::io::Read;
        let file = std::fs::File::open(path)?;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        let mut bytes = Vec::new();
        // One byte past the limit tells a file that is too large from one that fits.
        file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
        if bytes.len() > limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("longer than {limit} bytes"),
            ));
        }
        Ok(KeyFile { bytes, mode })
    }

    fn shell_has_dev_tcp(&self) -> Option<bool> {
        // /dev/tcp is a bash feature; dash (Debian's /bin/sh), busybox ash and the others
        // open it as a file, which does not exist.
        let real = std::fs::canonicalize("/bin/sh").ok()?;
        let name = real.file_name()?.to_str()?;
        Some(name.starts_with("bash"))
    }
}

/// A script as [`FakeHost`] knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeScript {
    Executable,
    NotExecutable,
    /// Executable, but modifiable by a non-root user for this reason.
    Insecure(String),
}

/// A host described in code, for tests: nothing exists unless added.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    pub hostname: Option<String>,
    /// `None`: interfaces cannot be checked (every lookup answers "unknown").
    pub interfaces: Option<BTreeSet<String>>,
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    /// Scripts by the path or bare name written in the configuration.
    pub scripts: BTreeMap<String, FakeScript>,
    /// `auth_hmac` key files by path.
    pub key_files: BTreeMap<PathBuf, KeyFile>,
    /// What [`Host::shell_has_dev_tcp`] answers.
    pub shell_dev_tcp: Option<bool>,
}

impl FakeHost {
    /// A host with no interfaces and no scripts, and only the root user and group.
    pub fn new() -> FakeHost {
        FakeHost {
            interfaces: Some(BTreeSet::new()),
            users: BTreeSet::from(["root".to_string()]),
            groups: BTreeSet::from(["root".to_string()]),
            ..FakeHost::default()
        }
    }

    pub fn hostname(mut self, name: &str) -> FakeHost {
        self.hostname = Some(name.to_string());
        self
    }

    pub fn interface(mut self, name: &str) -> FakeHost {
        self.interfaces
            .get_or_insert_with(BTreeSet::new)
            .insert(name.to_string());
        self
    }

    pub fn user(mut self, name: &str) -> FakeHost {
        self.users.insert(name.to_string());
        self
    }

    pub fn group(mut self, name: &str) -> FakeHost {
        self.groups.insert(name.to_string());
        self
    }

    pub fn script(mut self, program: &str, state: FakeScript) -> FakeHost {
        self.scripts.insert(program.to_string(), state);
        self
    }

    pub fn shell_dev_tcp(mut self, has: bool) -> FakeHost {
        self.shell_dev_tcp = Some(has);
        self
    }

    pub fn key_file(mut self, path: &str, bytes: &[u8], mode: u32) -> FakeHost {
        self.key_files.insert(
            PathBuf::from(path),
            KeyFile {
                bytes: bytes.to_vec(),
                mode,
            },
        );
        self
    }
}

impl Host for FakeHost {
    fn hostname(&self) -> Option<String> {
        self.hostname.clone()
    }

    fn interface_exists(&self, name: &str) -> Option<bool> {
        self.interfaces.as_ref().map(|s| s.contains(name))
    }

    fn user_exists(&self, name: &str) -> bool {
        self.users.contains(name)
    }

    fn group_exists(&self, name: &str) -> bool {
        self.groups.contains(name)
    }

    fn find_script(&self, program: &str) -> ScriptLookup {
        match self.scripts.get(program) {
            None => ScriptLookup::NotFound,
            Some(FakeScript::NotExecutable) => ScriptLookup::NotExecutable(program.into()),
            Some(_) => ScriptLookup::Found(program.into()),
        }
    }

    fn insecure_component(&self, path: &Path) -> Option<(PathBuf, String)> {
        match self.scripts.get(path.to_str()?) {
            Some(FakeScript::Insecure(reason)) => Some((path.to_path_buf(), reason.clone())),
            _ => None,
        }
    }

    fn read_key_file(&self, path: &Path, limit: usize) -> std::io::Result<KeyFile> {
        match self.key_files.get(path) {
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            )),
            Some(k) if k.bytes.len() > limit => Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("longer than {limit} bytes"),
            )),
            Some(k) => Ok(k.clone()),
        }
    }

    fn shell_has_dev_tcp(&self) -> Option<bool> {
        self.shell_dev_tcp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn real_host_finds_executables_and_refuses_plain_files() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("check.sh");
        std::fs::write(&exe, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("plain.sh");
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();

        let host = RealHost;
        assert_eq!(
            host.find_script(exe.to_str().unwrap()),
            ScriptLookup::Found(exe.clone())
        );
        assert_eq!(
            host.find_script(plain.to_str().unwrap()),
            ScriptLookup::NotExecutable(plain.clone())
        );
        assert_eq!(
            host.find_script(dir.path().join("nope").to_str().unwrap()),
            ScriptLookup::NotFound
        );
        // A bare name is searched in PATH; `sh` is everywhere.
        assert!(matches!(host.find_script("sh"), ScriptLookup::Found(_)));
    }

    #[test]
    fn real_host_reports_world_writable_script() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("w.sh");
        std::fs::write(&exe, "").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (path, reason) = RealHost.insecure_component(&exe).unwrap();
        // Either the file itself (world writable) or, when tests do not run as root, its
        // owner is reported; both are reasons keepalived refuses the script.
        assert!(path.starts_with(dir.path()), "{path:?}");
        assert!(
            reason.contains("writable") || reason.contains("owned"),
            "{reason}"
        );
    }

    #[test]
    fn real_host_knows_loopback() {
        assert_eq!(RealHost.interface_exists("lo"), Some(true));
        assert_eq!(RealHost.interface_exists("no-such-if-0"), Some(false));
        assert!(RealHost.user_exists("root"));
        assert!(!RealHost.user_exists("no-such-user-baton"));
    }
}
