//! `FILE_CHECK`: a number in a `track_file`, followed with inotify. The number times the
//! check's weight is added to the real server's weight; with weight 0 any non-zero number
//! (with `reverse`, zero) takes the server down. One inotify descriptor watches the
//! directories of every file; the files are read on the blocking pool, so a file on a slow
//! or hung filesystem never stalls the checkers.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use baton_track::ValueIssue;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;
use tracing::warn;

use crate::verdict::{CheckState, WeightEffect};
use baton_conf::{FileCheck, TrackFile};

/// keepalived reads at most this much of the file.
const READ_MAX: u64 = 127;

/// What a file's value means for one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// keepalived's `IPVS_WEIGHT_FAULT`: the server is down.
    Fault,
    /// Added to the server's weight.
    Offset(i64),
}

impl FileStatus {
    pub fn state(self) -> CheckState {
        match self {
            FileStatus::Fault => CheckState::Down,
            FileStatus::Offset(w) => CheckState::Up(WeightEffect::Offset(w)),
        }
    }
}

/// keepalived's `update_track_file_status` for a checker.
pub fn status(value: i64, weight: i32, reverse: bool) -> FileStatus {
    if weight == 0 {
        let fault = if reverse { value == 0 } else { value != 0 };
        return if fault {
            FileStatus::Fault
        } else {
            FileStatus::Offset(0)
        };
    }
    let multiplier: i128 = if reverse { -1 } else { 1 };
    let product = i128::from(value) * i128::from(weight) * multiplier;
    let clamped = product.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    if clamped == i128::from(i32::MIN) {
        FileStatus::Fault
    } else {
        FileStatus::Offset(clamped as i64)
    }
}

/// The file's value as keepalived's checker reads it (`strtol(buf, NULL, 0)` on its first
/// 127 bytes): 0 when missing or holding no number; `Err` for a number out of range, which
/// keepalived ignores (the previous value stands).
pub fn parse(content: &[u8]) -> Result<i64, String> {
    let (value, issue) = baton_track::parse_value(content);
    let raw = match issue {
        Some(ValueIssue::Clamped(raw)) => raw,
        _ => i128::from(value),
    };
    if raw < i128::from(i32::MIN) || raw > i128::from(i32::MAX) + 1 {
        return Err(format!("Invalid number {raw}"));
    }
    Ok(raw as i64)
}

/// Read `path` (blocking: call it on the blocking pool).
pub fn read(path: &Path) -> Result<i64, String> {
    let mut buf = Vec::with_capacity(READ_MAX as usize);
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    match opened.and_then(|f| f.take(READ_MAX).read_to_end(&mut buf)) {
        Ok(_) => parse(&buf),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(_) => Ok(0),
    }
}

async fn read_async(path: PathBuf) -> Result<i64, String> {
    tokio::task::spawn_blocking(move || read(&path))
        .await
        .unwrap_or_else(|e| Err(format!("read task failed: {e}")))
}

/// A FILE_CHECK and the `track_file` it names.
#[derive(Debug, Clone, PartialEq)]
pub struct FileTarget {
    pub check: FileCheck,
    pub file: TrackFile,
}

/// One file check being followed.
#[derive(Debug)]
pub struct Watched {
    pub target: FileTarget,
    /// The file as watched (symlinks to the file followed, as keepalived).
    path: PathBuf,
    dir_wd: Option<WatchDescriptor>,
    file_name: OsString,
    pub status: Option<FileStatus>,
    /// The number last read.
    pub value: i64,
}

/// Lets tokio poll the inotify descriptor.
struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Follows a set of file checks. `changed` is called with the index of each check whose
/// status changed (and once for each at start).
pub struct FileWatcher {
    inotify: AsyncFd<InotifyFd>,
    pub checks: Vec<Watched>,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher")
            .field("checks", &self.checks)
            .finish()
    }
}

impl FileWatcher {
    /// Set up the watches. A check whose directory cannot be watched is returned in the
    /// second list with the reason (keepalived drops such a track file).
    pub fn new(targets: Vec<FileTarget>) -> io::Result<(FileWatcher, Vec<(usize, String)>)> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let mut checks = Vec::new();
        let mut refused = Vec::new();
        for (i, target) in targets.into_iter().enumerate() {
            let mut w = Watched {
                path: target.file.path.clone(),
                file_name: OsString::new(),
                dir_wd: None,
                target,
                status: None,
                value: 0,
            };
            if let Err(e) = init_file(&w.target.file) {
                warn!(
                    "track_file {}: cannot initialise {}: {e}",
                    w.target.file.name,
                    w.target.file.path.display()
                );
            }
            match watch(&inotify, &w.target.file.path) {
                Ok((path, wd, name)) => {
                    w.path = path;
                    w.dir_wd = Some(wd);
                    w.file_name = name;
                }
                Err(e) => refused.push((i, e)),
            }
            checks.push(w);
        }
        // SAFETY: InotifyFd owns the descriptor and returns that same one from as_raw_fd
        // for as long as the AsyncFd owns it.
        let inotify = unsafe {
            AsyncFd::register_with_interest(InotifyFd(inotify), tokio::io::Interest::READABLE)
        }
        .map_err(|e| e.into_parts().1)?;
        Ok((FileWatcher { inotify, checks }, refused))
    }

    /// Read every watched file now; the indices whose status changed.
    pub async fn read_all(&mut self) -> Vec<usize> {
        let all: Vec<usize> = (0..self.checks.len())
            .filter(|&i| self.checks[i].dir_wd.is_some())
            .collect();
        self.reread(all).await
    }

    async fn reread(&mut self, which: Vec<usize>) -> Vec<usize> {
        let mut changed = Vec::new();
        for i in which {
            let w = &mut self.checks[i];
            match read_async(w.path.clone()).await {
                Ok(value) => {
                    let s = status(value, w.target.check.weight, w.target.check.reverse);
                    w.value = value;
                    if w.status != Some(s) {
                        w.status = Some(s);
                        changed.push(i);
                    }
                }
                Err(e) => warn!("{e} read from {} - ignoring", w.path.display()),
            }
        }
        changed
    }

    /// Wait for the next change; the indices whose status changed (possibly none).
    pub async fn next(&mut self) -> io::Result<Vec<usize>> {
        let mut ready = self.inotify.readable().await?;
        let batch = match ready.try_io(|fd| fd.get_ref().0.read_events().map_err(io::Error::from)) {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => return Ok(Vec::new()),
        };
        let mut affected: HashMap<usize, ()> = HashMap::new();
        for event in batch {
            if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                // Events were lost: look at everything again.
                affected.extend((0..self.checks.len()).map(|i| (i, ())));
                continue;
            }
            let whole_dir = event.mask.intersects(
                AddWatchFlags::IN_DELETE_SELF
                    | AddWatchFlags::IN_MOVE_SELF
                    | AddWatchFlags::IN_IGNORED,
            );
            for (i, w) in self.checks.iter().enumerate() {
                if w.dir_wd == Some(event.wd)
                    && (whole_dir || event.name.as_deref() == Some(w.file_name.as_os_str()))
                {
                    affected.insert(i, ());
                }
            }
        }
        let mut which: Vec<usize> = affected.into_keys().collect();
        which.sort_unstable();
        Ok(self.reread(which).await)
    }
}

fn init_file(file: &TrackFile) -> io::Result<()> {
    if let Some((value, overwrite)) = file.init_file
        && (overwrite || !file.path.exists())
    {
        std::fs::write(&file.path, format!("{value}\n"))?;
    }
    Ok(())
}

/// Watch the directory holding `path`; the path watched, the watch and the file's name.
fn watch(inotify: &Inotify, path: &Path) -> Result<(PathBuf, WatchDescriptor, OsString), String> {
    // As keepalived: follow a link to the file itself; otherwise resolve the directory.
    let real = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(_) => {
            let name = path
                .file_name()
                .ok_or_else(|| format!("{} names no file", path.display()))?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let dir = std::fs::canonicalize(dir)
                .ok()
                .filter(|d| d.is_dir())
                .ok_or_else(|| format!("directory of {} does not exist", path.display()))?;
            dir.join(name)
        }
    };
    let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
        return Err(format!("{} names no file", path.display()));
    };
    let wd = inotify
        .add_watch(
            dir,
            AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_DELETE_SELF
                | AddWatchFlags::IN_MOVE_SELF,
        )
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    Ok((real.clone(), wd, name.to_os_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_zero_means_non_zero_is_down() {
        assert_eq!(status(0, 0, false), FileStatus::Offset(0));
        assert_eq!(status(3, 0, false), FileStatus::Fault);
        assert_eq!(status(0, 0, true), FileStatus::Fault);
        assert_eq!(status(3, 0, true), FileStatus::Offset(0));
    }

    #[test]
    fn weighted_values_offset_the_weight() {
        assert_eq!(status(5, 2, false), FileStatus::Offset(10));
        assert_eq!(status(5, 2, true), FileStatus::Offset(-10));
        assert_eq!(status(-3, 4, false), FileStatus::Offset(-12));
        // Down only at keepalived's fault value, the bottom of the range.
        assert_eq!(status(i64::from(i32::MIN), 1, false), FileStatus::Fault);
        assert_eq!(
            status(i64::from(i32::MAX), 2, false),
            FileStatus::Offset(i64::from(i32::MAX))
        );
    }

    #[test]
    fn values_read_like_strtol_and_big_ones_are_refused() {
        assert_eq!(parse(b"42\n"), Ok(42));
        assert_eq!(parse(b"0x10"), Ok(16));
        assert_eq!(parse(b"1000"), Ok(1000), "no VRRP clamp here");
        assert_eq!(parse(b"junk"), Ok(0));
        assert_eq!(parse(b""), Ok(0));
        assert!(parse(b"99999999999").is_err());
        assert_eq!(read(Path::new("/nonexistent/baton/file")), Ok(0));
    }
}
