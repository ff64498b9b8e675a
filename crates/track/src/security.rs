//! Checking a script before it is ever run: it must exist (a bare name is looked up in PATH),
//! be executable by the user it runs as, and, when it runs with root's powers, sit on a path
//! no non-root user can change (`enable_script_security`, keepalived's rule).

use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tracing::warn;

use crate::error::{CommandError, InsecureReason, Insecurity};
use crate::user::ScriptUser;

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;
const S_IWGRP: u32 = 0o020;
const S_IWOTH: u32 = 0o002;
const S_IXUSR: u32 = 0o100;
const S_IXGRP: u32 = 0o010;
const S_IXOTH: u32 = 0o001;

/// glibc's `_CS_PATH`, what execvp searches when PATH is unset.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// A script that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedScript {
    /// What to exec: the resolved real path of the script.
    pub exec_path: PathBuf,
    /// `argv[0]` as the script will see it: the configured name, or its PATH resolution.
    pub argv0: String,
    /// Set when the script runs as root from a path a non-root user could change, and
    /// `enable_script_security` is off (with it on, such a script is refused).
    pub insecurity: Option<Insecurity>,
}

/// Check `argv0` for running as `user`. `path_env` is the PATH to search for a bare name.
pub fn check_script(
    argv0: &str,
    user: &ScriptUser,
    security: bool,
    path_env: Option<&OsStr>,
) -> Result<CheckedScript, CommandError> {
    if argv0.is_empty() {
        return Err(CommandError::Empty);
    }
    let configured = if argv0.contains('/') {
        PathBuf::from(argv0)
    } else {
        let found = search_path(argv0, user, path_env)?;
        warn!(
            "WARNING - script `{argv0}` resolved by path search to `{}`. Please specify full path.",
            found.display()
        );
        found
    };

    let real = fs::canonicalize(&configured).map_err(|source| CommandError::Inaccessible {
        path: configured.clone(),
        source: source.into(),
    })?;
    let meta = fs::metadata(&real).map_err(|source| CommandError::Inaccessible {
        path: configured.clone(),
        source: source.into(),
    })?;
    if !meta.is_file() {
        return Err(CommandError::NotAFile { path: configured });
    }
    if !is_executable(&meta, user) {
        return Err(CommandError::NotExecutable {
            path: configured,
            uid: user.uid,
            gid: user.gid,
        });
    }

    let mode = meta.mode();
    let runs_privileged = user.is_privileged()
        || (meta.uid() == 0 && mode & S_ISUID != 0 && mode & S_IXUSR != 0)
        || (meta.gid() == 0 && mode & S_ISGID != 0 && mode & S_IXGRP != 0);

    let mut insecurity = None;
    if runs_privileged {
        // Both the path as written and the path it resolves to must be safe: either could
        // be redirected by whoever can write one of their directories.
        let as_written = std::path::absolute(&configured).unwrap_or_else(|_| configured.clone());
        insecurity = first_insecure_component(&as_written)
            .or_else(|| first_insecure_component(&real))
            .map(|(offender, why)| Insecurity {
                script: PathBuf::from(argv0),
                offender,
                why,
            });
    }
    match insecurity {
        Some(found) if security => Err(CommandError::Insecure(found)),
        insecurity => Ok(CheckedScript {
            exec_path: real,
            argv0: if argv0.contains('/') {
                argv0.to_string()
            } else {
                configured.to_string_lossy().into_owned()
            },
            insecurity,
        }),
    }
}

/// keepalived's executable test: root may run anything with an x bit; others need the x bit
/// of the class (owner, group, other) they fall in.
fn is_executable(meta: &Metadata, user: &ScriptUser) -> bool {
    let mode = meta.permissions().mode();
    (user.uid == 0 && mode & (S_IXUSR | S_IXGRP | S_IXOTH) != 0)
        || (user.uid == meta.uid() && mode & S_IXUSR != 0)
        || (user.uid != meta.uid()
            && ((user.gid == meta.gid() && mode & S_IXGRP != 0)
                || (user.gid != meta.gid() && mode & S_IXOTH != 0)))
}

/// execvp's search, done up front so a missing script is reported at start-up by name.
fn search_path(
    name: &str,
    user: &ScriptUser,
    path_env: Option<&OsStr>,
) -> Result<PathBuf, CommandError> {
    let path = path_env.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut denied = false;
    for dir in std::env::split_paths(path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        if let Ok(meta) = fs::metadata(&candidate) {
            if meta.is_file() && is_executable(&meta, user) {
                return Ok(candidate);
            }
            denied = true;
        }
    }
    if denied {
        Err(CommandError::PathPermission {
            name: name.to_string(),
            uid: user.uid,
            gid: user.gid,
        })
    } else {
        Err(CommandError::NotInPath {
            name: name.to_string(),
        })
    }
}

/// Walk `/`, `/a`, `/a/b`, … `path` and return the first component a non-root user could
/// change. Symbolic links are not judged themselves (nobody can retarget a link in place;
/// replacing it needs write access to its directory, which is judged), and what they point
/// to is covered by walking the resolved path too.
fn first_insecure_component(path: &Path) -> Option<(PathBuf, InsecureReason)> {
    let mut prefix = PathBuf::new();
    let mut components = path.components().peekable();
    while let Some(component) = components.next() {
        match component {
            Component::RootDir | Component::Normal(_) => prefix.push(component),
            Component::ParentDir => {
                prefix.pop();
                continue;
            }
            Component::CurDir | Component::Prefix(_) => continue,
        }
        let is_last = components.peek().is_none();
        // A path that cannot be examined was already reported by canonicalize().
        let meta = fs::symlink_metadata(&prefix).ok()?;
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            continue;
        }
        if (!is_last && !file_type.is_dir()) || (is_last && !file_type.is_file()) {
            return Some((prefix, InsecureReason::WrongType));
        }
        if let Some(why) = insecure_reason(&meta) {
            return Some((prefix, why));
        }
    }
    None
}

fn insecure_reason(meta: &Metadata) -> Option<InsecureReason> {
    if meta.uid() != 0 {
        return Some(InsecureReason::NotOwnedByRoot { uid: meta.uid() });
    }
    let mode = meta.mode();
    // A sticky directory (like /tmp) lets others create entries but not replace ours.
    let replaceable = meta.is_file() || (meta.is_dir() && mode & S_ISVTX == 0);
    if !replaceable {
        return None;
    }
    if meta.gid() != 0 && mode & S_IWGRP != 0 {
        return Some(InsecureReason::GroupWritable { gid: meta.gid() });
    }
    if mode & S_IWOTH != 0 {
        return Some(InsecureReason::WorldWritable);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn root() -> ScriptUser {
        ScriptUser {
            name: "root".into(),
            uid: 0,
            gid: 0,
        }
    }

    fn nobody() -> ScriptUser {
        ScriptUser {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
        }
    }

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn script(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn missing_script_is_named() {
        let err = check_script("/nonexistent/baton/check.sh", &root(), false, None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/baton/check.sh"), "{msg}");
        assert!(msg.contains("No such file"), "{msg}");
    }

    #[test]
    fn not_executable_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "chk.sh", 0o644);
        let err = check_script(path.to_str().unwrap(), &root(), false, None).unwrap_err();
        assert!(matches!(err, CommandError::NotExecutable { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("is not executable for uid:gid 0:0")
        );
    }

    #[test]
    fn executable_bits_follow_the_user_class() {
        let dir = tempfile::tempdir().unwrap();
        // Owner-only execute: root may, nobody (other) may not.
        let path = script(dir.path(), "chk.sh", 0o744);
        let p = path.to_str().unwrap();
        assert!(check_script(p, &root(), false, None).is_ok());
        if is_root() {
            let err = check_script(p, &nobody(), false, None).unwrap_err();
            assert!(matches!(err, CommandError::NotExecutable { .. }), "{err}");
        }
    }

    #[test]
    fn bare_name_is_found_in_path() {
        let checked = check_script("sh", &root(), true, Some(OsStr::new("/nonexistent:/bin")));
        let checked = checked.unwrap();
        assert!(checked.argv0.ends_with("/sh"), "{}", checked.argv0);
        let err = check_script("no-such-cmd-baton", &root(), false, None).unwrap_err();
        assert!(matches!(err, CommandError::NotInPath { .. }), "{err}");
    }

    #[test]
    fn world_writable_script_run_as_root_is_refused_with_security() {
        if !is_root() {
            eprintln!("skipped: ownership checks need files owned by root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "chk.sh", 0o777);
        let err = check_script(path.to_str().unwrap(), &root(), true, None).unwrap_err();
        let CommandError::Insecure(found) = &err else {
            panic!("expected insecure, got {err}");
        };
        assert_eq!(found.offender, path);
        assert_eq!(found.why, InsecureReason::WorldWritable);
        assert!(
            err.to_string().contains("is writable by every user"),
            "{err}"
        );
        // Without the setting it runs, flagged.
        let ok = check_script(path.to_str().unwrap(), &root(), false, None).unwrap();
        assert_eq!(ok.insecurity.unwrap().why, InsecureReason::WorldWritable);
    }

    #[test]
    fn directory_writable_by_others_is_named() {
        if !is_root() {
            eprintln!("skipped: ownership checks need files owned by root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("scripts");
        fs::create_dir(&sub).unwrap();
        let path = script(&sub, "chk.sh", 0o755);
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_script(path.to_str().unwrap(), &root(), true, None).unwrap_err();
        let CommandError::Insecure(found) = err else {
            panic!("expected insecure");
        };
        assert_eq!(found.offender, sub);
        // The sticky bit makes the same directory acceptable, as /tmp is.
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(check_script(path.to_str().unwrap(), &root(), true, None).is_ok());
    }

    #[test]
    fn script_owned_by_another_user_is_insecure_for_root() {
        if !is_root() {
            eprintln!("skipped: chown needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "chk.sh", 0o755);
        nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(nobody().uid)), None).unwrap();
        let err = check_script(path.to_str().unwrap(), &root(), true, None).unwrap_err();
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        // Run as nobody it needs no protection.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_script(path.to_str().unwrap(), &nobody(), true, None).is_ok());
    }

    #[test]
    fn symlink_target_is_checked_too() {
        if !is_root() {
            eprintln!("skipped: ownership checks need files owned by root");
            return;
        }
        let safe = tempfile::tempdir().unwrap();
        let unsafe_dir = tempfile::tempdir().unwrap();
        let target = script(unsafe_dir.path(), "real.sh", 0o755);
        fs::set_permissions(unsafe_dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let link = safe.path().join("chk.sh");
        symlink(&target, &link).unwrap();
        let err = check_script(link.to_str().unwrap(), &root(), true, None).unwrap_err();
        let CommandError::Insecure(found) = err else {
            panic!("expected insecure");
        };
        assert_eq!(found.offender, unsafe_dir.path());
        // The exec path is the resolved one.
        fs::set_permissions(unsafe_dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let ok = check_script(link.to_str().unwrap(), &root(), true, None).unwrap();
        assert_eq!(ok.exec_path, fs::canonicalize(&target).unwrap());
        assert_eq!(ok.argv0, link.to_str().unwrap());
    }
}
