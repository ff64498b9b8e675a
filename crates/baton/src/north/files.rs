//! Files the daemon writes as root (the pid file, the `-t` report), opened so that nobody
//! else can choose what gets written. The directory may be one other users can write to, so
//! the path may hold anything they put there:
//!
//! - a symbolic link (to /etc/passwd, say): never followed (`O_NOFOLLOW`), refused, as
//!   keepalived refuses since its 2018 fix for the same attack;
//! - a FIFO or a device: opening never waits (`O_NONBLOCK`), and anything but a regular
//!   file is refused;
//! - a hard link to a file elsewhere: refused (more than one link);
//! - a file someone else owns, where the caller asks: refused. keepalived takes such a file
//!   over (chown to root); refusing is stricter and says why.
//!
//! Every refusal names the path and what was found there.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// How the file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read and write, created if missing, kept as it is (the pid file, locked first).
    ReadWrite,
    /// Written at the end, created if missing (a report or log).
    Append,
}

/// Why a file was not opened.
#[derive(Debug)]
pub enum OpenError {
    /// Something is at the path that must not be written through.
    Refused {
        path: PathBuf,
        found: String,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Refused { path, found } => {
                write!(f, "{}: {found}; refused", path.display())
            }
            OpenError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for OpenError {}

/// Open `path` for writing as described above; with `own`, a file that exists must belong
/// to the daemon's effective user.
pub fn open_for_writing(path: &Path, mode: Mode, own: bool) -> Result<File, OpenError> {
    let refused = |found: String| OpenError::Refused {
        path: path.to_path_buf(),
        found,
    };
    let mut o = OpenOptions::new();
    match mode {
        Mode::ReadWrite => o.read(true).write(true),
        Mode::Append => o.append(true),
    };
    let file = o
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refused("it is a symbolic link".into()),
            // O_NONBLOCK write-only on a FIFO nobody reads.
            Some(libc::ENXIO) => refused("it is a FIFO".into()),
            _ => OpenError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
    let meta = file.metadata().map_err(|e| OpenError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let t = meta.file_type();
    if !t.is_file() {
        let what = if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(refused(format!("it is {what}")));
    }
    if meta.nlink() > 1 {
        return Err(refused(format!(
            "it has {} hard links (one may be a file elsewhere)",
            meta.nlink()
        )));
    }
    let me = nix::unistd::geteuid().as_raw();
    if own && meta.uid() != me {
        return Err(refused(format!(
            "it belongs to uid {}, not to us (uid {me})",
            meta.uid()
        )));
    }
    // The non-blocking flag only mattered for the open itself.
    let _ = nix::fcntl::fcntl(
        &file,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    );
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("passwd");
        std::fs::write(&victim, "root:x:0:0\n").unwrap();
        let path = dir.path().join("baton.pid");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        for mode in [Mode::ReadWrite, Mode::Append] {
            let e = open_for_writing(&path, mode, true).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("{}: it is a symbolic link; refused", path.display())
            );
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
    }

    #[test]
    fn a_fifo_a_hard_link_and_a_directory_are_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        // Read-write never waits for a reader; append (write-only) would without O_NONBLOCK.
        for mode in [Mode::ReadWrite, Mode::Append] {
            let e = open_for_writing(&fifo, mode, true).unwrap_err();
            assert!(e.to_string().ends_with("it is a FIFO; refused"), "{e}");
        }
        let other = dir.path().join("other");
        std::fs::write(&other, "keep").unwrap();
        let linked = dir.path().join("linked");
        std::fs::hard_link(&other, &linked).unwrap();
        let e = open_for_writing(&linked, Mode::Append, false).unwrap_err();
        assert!(e.to_string().contains("2 hard links"), "{e}");
        let e = open_for_writing(dir.path(), Mode::ReadWrite, false).unwrap_err();
        assert!(matches!(
            e,
            OpenError::Io { .. } | OpenError::Refused { .. }
        ));
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep");
    }

    #[test]
    fn a_regular_file_of_ours_is_opened_and_created_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.pid");
        let mut f = open_for_writing(&path, Mode::ReadWrite, true).unwrap();
        f.write_all(b"42\n").unwrap();
        let mut again = open_for_writing(&path, Mode::ReadWrite, true).unwrap();
        let mut s = String::new();
        again.read_to_string(&mut s).unwrap();
        assert_eq!(s, "42\n");
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o022, 0, "writable by others: {mode:o}");
    }

    #[test]
    fn a_file_someone_else_owns_is_refused_when_ours_is_required() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to give a file away");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("theirs.pid");
        std::fs::write(&path, "").unwrap();
        nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let e = open_for_writing(&path, Mode::ReadWrite, true).unwrap_err();
        assert!(e.to_string().contains("belongs to uid 65534"), "{e}");
        assert!(open_for_writing(&path, Mode::ReadWrite, false).is_ok());
    }
}
