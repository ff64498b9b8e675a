//! The pid file: written at start, removed at exit, and locked with `flock` while the daemon
//! runs, so a second daemon on the same file is refused even when a crash left the file
//! behind (a stale file has no lock holder and is simply taken over). It is opened as
//! [`super::files`] opens files written as root: a symbolic link, a FIFO, a hard link or a
//! file of another user at its path is refused, naming what was found.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::files::{self, Mode, OpenError};

#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error("daemon already running: pid file {path} is locked by pid {pid}")]
    AlreadyRunning { path: PathBuf, pid: u32 },
    #[error("daemon already running: pid file {path} is locked (its holder wrote no pid)")]
    AlreadyRunningUnknownPid { path: PathBuf },
    #[error("pid file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pid file {0}")]
    Refused(OpenError),
}

/// A pid file held by this process. Dropping it removes the file and releases the lock.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    /// Create or take over `path`, lock it and write our pid into it.
    pub fn acquire(path: &Path) -> Result<PidFile, PidFileError> {
        Self::acquire_for(path, std::process::id())
    }

    fn acquire_for(path: &Path, pid: u32) -> Result<PidFile, PidFileError> {
        let io = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        // The previous holder may unlink the file between our open and our lock; then we hold
        // a lock on a file nobody can see, so open again until the locked file is the one at
        // `path`.
        loop {
            let mut file = match files::open_for_writing(path, Mode::ReadWrite, true) {
                Ok(f) => f,
                Err(OpenError::Io { source, .. }) => return Err(io(source)),
                Err(refused) => return Err(PidFileError::Refused(refused)),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    return Err(match text.trim().parse::<u32>() {
                        Ok(pid) => PidFileError::AlreadyRunning {
                            path: path.to_path_buf(),
                            pid,
                        },
                        Err(_) => PidFileError::AlreadyRunningUnknownPid {
                            path: path.to_path_buf(),
                        },
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            let locked = file.metadata().map_err(io)?;
            match std::fs::metadata(path) {
                Ok(now) if now.ino() == locked.ino() && now.dev() == locked.dev() => {}
                _ => continue,
            }
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.write_all(format!("{pid}\n").as_bytes()).map_err(io)?;
            file.flush().map_err(io)?;
            return Ok(PidFile {
                path: path.to_path_buf(),
                file,
            });
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so nobody can lock the old inode and then
        // see it vanish; the lock goes with the descriptor.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_our_pid_and_removes_the_file_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.pid");
        let pf = PidFile::acquire(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(pf);
        assert!(!path.exists());
    }

    #[test]
    fn second_daemon_on_the_same_file_is_refused_naming_file_and_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pid");
        let first = PidFile::acquire_for(&path, 4242).unwrap();
        let err = PidFile::acquire_for(&path, 4343).unwrap_err();
        match &err {
            PidFileError::AlreadyRunning { path: p, pid } => {
                assert_eq!(p, &path);
                assert_eq!(*pid, 4242);
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("4242"), "{msg}");
        // The refused attempt must not have clobbered the running daemon's pid.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
        drop(first);
        // Once the first is gone the file can be taken again.
        let again = PidFile::acquire_for(&path, 4343).unwrap();
        assert_eq!(std::fs::read_to_string(again.path()).unwrap(), "4343\n");
    }

    #[test]
    fn stale_file_without_a_lock_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.pid");
        std::fs::write(&path, "99999999\nleftover garbage\n").unwrap();
        let pf = PidFile::acquire_for(&path, 7).unwrap();
        assert_eq!(std::fs::read_to_string(pf.path()).unwrap(), "7\n");
    }

    #[test]
    fn a_symlink_planted_at_the_pid_file_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("shadow");
        std::fs::write(&victim, "secret\n").unwrap();
        let path = dir.path().join("baton.pid");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = PidFile::acquire_for(&path, 4242).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "pid file {}: it is a symbolic link; refused",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret\n");
        // The link is left for the operator to look at.
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn a_fifo_at_the_pid_file_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.pid");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
        let err = PidFile::acquire_for(&path, 4242).unwrap_err();
        assert!(err.to_string().ends_with("it is a FIFO; refused"), "{err}");
    }

    #[test]
    fn unwritable_location_is_an_io_error_naming_the_file() {
        let path = Path::new("/nonexistent-dir-for-baton-test/x.pid");
        let err = PidFile::acquire(path).unwrap_err();
        assert!(matches!(err, PidFileError::Io { .. }));
        assert!(
            err.to_string()
                .contains("/nonexistent-dir-for-baton-test/x.pid")
        );
    }
}
