//! `notify_fifo` / `vrrp_notify_fifo`: one line per event, `INSTANCE "VI_1" MASTER 100`,
//! written without ever blocking. The FIFO is opened read-write, as keepalived does, so
//! opening never waits for a reader and a reader going away never raises SIGPIPE; when
//! nobody reads and the pipe is full, lines are dropped (and said to be).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::stat::Mode;
use nix::unistd::{geteuid, mkfifo};
use tracing::{info, warn};

use crate::child::{Running, Supervised};
use crate::program::Program;

#[derive(Debug)]
pub(crate) struct NotifyFifo {
    path: PathBuf,
    file: File,
    /// We made it, so we remove it at the end.
    created: bool,
    reader: Option<Supervised>,
    dropped: u64,
}

impl NotifyFifo {
    /// Create (if missing) and open the FIFO, then start its reader script with the FIFO's
    /// path as last argument. `None`, with the reason logged, when it cannot be used.
    pub(crate) fn open(
        kind: &str,
        path: &Path,
        reader: Option<&Program>,
        grace: Duration,
    ) -> Option<NotifyFifo> {
        let created = match mkfifo(path, Mode::from_bits_truncate(0o644)) {
            Ok(()) => true,
            Err(nix::errno::Errno::EEXIST) => false,
            Err(e) => {
                warn!(
                    "Unable to create {kind} {}: {e} - not using it",
                    path.display()
                );
                return None;
            }
        };
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path);
        let file = match opened {
            Ok(file) => file,
            Err(e) => {
                warn!(
                    "Unable to open {kind} {}: {e} - not using it",
                    path.display()
                );
                remove_if(created, path);
                return None;
            }
        };
        // A pre-existing path may be anything somebody planted: only a FIFO owned by us or
        // by the reader script's user is written to.
        let owner_ok =
            |uid: u32| uid == geteuid().as_raw() || reader.is_some_and(|r| r.user.uid == uid);
        match file.metadata() {
            Ok(meta) if meta.file_type().is_fifo() && owner_ok(meta.uid()) => {}
            _ => {
                warn!(
                    "{kind} {} is not a fifo we own - not using it",
                    path.display()
                );
                return None;
            }
        }
        let reader = reader.and_then(|program| {
            let fifo_arg = path.to_string_lossy();
            match Running::spawn(program, &[&fifo_arg]) {
                Ok(run) => Some(Supervised::start(
                    run,
                    format!("{kind} script `{}`", program.text),
                    grace,
                )),
                Err(e) => {
                    warn!("Unable to start {kind} script `{}`: {e}", program.text);
                    None
                }
            }
        });
        info!("Writing notify events to {kind} {}", path.display());
        Some(NotifyFifo {
            path: path.to_path_buf(),
            file,
            created,
            reader,
            dropped: 0,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Write one whole line or nothing (lines are far below PIPE_BUF, so never torn).
    pub(crate) fn write_line(&mut self, line: &str) {
        match self.file.write(line.as_bytes()) {
            Ok(n) if n == line.len() => {
                if self.dropped > 0 {
                    info!(
                        "notify fifo {} is being read again; {} event(s) were dropped",
                        self.path.display(),
                        self.dropped
                    );
                    self.dropped = 0;
                }
            }
            Ok(_) => warn!("short write to notify fifo {}", self.path.display()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if self.dropped == 0 {
                    warn!(
                        "notify fifo {} is full (nobody reading?); dropping events until it drains",
                        self.path.display()
                    );
                }
                self.dropped += 1;
            }
            Err(e) => warn!("write to notify fifo {} failed: {e}", self.path.display()),
        }
    }

    /// Remove the FIFO now if we created it (what [`NotifyFifo::close`] does first).
    pub(crate) fn unlink(&mut self) {
        remove_if(self.created, &self.path);
        self.created = false;
    }

    /// Stop the reader script and remove the FIFO if we created it.
    pub(crate) async fn close(mut self) {
        // Removed first, so a reader that loops reopening it cannot find it again.
        remove_if(self.created, &self.path);
        self.created = false;
        if let Some(reader) = self.reader.take() {
            reader.stop().await;
        }
    }
}

impl Drop for NotifyFifo {
    fn drop(&mut self) {
        remove_if(self.created, &self.path);
    }
}

fn remove_if(created: bool, path: &Path) {
    if created {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_or_a_file_planted_at_the_fifo_path_is_not_written_to() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("passwd");
        std::fs::write(&victim, "root:x:0:0\n").unwrap();
        let link = dir.path().join("notify.fifo");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(NotifyFifo::open("notify_fifo", &link, None, Duration::ZERO).is_none());
        // Not followed, not removed: the link stays for the operator to look at.
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let plain = dir.path().join("plain.fifo");
        std::fs::write(&plain, "").unwrap();
        assert!(NotifyFifo::open("notify_fifo", &plain, None, Duration::ZERO).is_none());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
        // A FIFO of our own is used, and removed when closed since we made it.
        let ours = dir.path().join("ours.fifo");
        let mut f = NotifyFifo::open("notify_fifo", &ours, None, Duration::ZERO).unwrap();
        f.write_line("INSTANCE \"VI_1\" MASTER 100\n");
        f.unlink();
        assert!(!ours.exists());
    }
}
