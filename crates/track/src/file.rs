//! `track_file`: a number in a file, re-read whenever the file is written, replaced, renamed
//! or removed (inotify on its directory, so a file that does not exist yet is seen when it
//! appears). The value is read the way keepalived reads it.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_conf::TrackFile;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::event::{TrackEvent, TrackerKind};

/// keepalived reads at most this much of a track file.
const READ_MAX: u64 = 127;
/// keepalived clamps a track file's value to this range.
const VALUE_LIMIT: i64 = 254;

/// How a file's content fell short of "one integer".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueIssue {
    /// Something other than a number: read as 0.
    NoNumber,
    /// A number followed by other text, which is ignored.
    TrailingText,
    /// Outside -254..=254: clamped.
    Clamped(i128),
}

/// Read a track file's content as keepalived does (`strtol(buf, NULL, 0)`): leading blanks,
/// a sign, then decimal, `0x` hexadecimal or `0` octal digits; no digits means 0. The result
/// is clamped to -254..=254. The issue, if any, is for the log.
pub fn parse_value(content: &[u8]) -> (i64, Option<ValueIssue>) {
    let mut i = 0;
    while i < content.len()
        && matches!(content[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
    {
        i += 1;
    }
    let mut negative = false;
    if i < content.len() && (content[i] == b'+' || content[i] == b'-') {
        negative = content[i] == b'-';
        i += 1;
    }
    let hex_digit_follows = content.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let radix = if content.get(i) == Some(&b'0')
        && matches!(content.get(i + 1), Some(b'x' | b'X'))
        && hex_digit_follows
    {
        i += 2;
        16
    } else if content.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let start = i;
    let mut magnitude: i128 = 0;
    while let Some(digit) = content.get(i).and_then(|&b| (b as char).to_digit(radix)) {
        // Saturate far beyond the clamp instead of overflowing.
        magnitude = (magnitude * i128::from(radix) + i128::from(digit)).min(i128::from(u64::MAX));
        i += 1;
    }
    if i == start {
        let blank = content.iter().all(|b| b.is_ascii_whitespace());
        return (0, (!blank).then_some(ValueIssue::NoNumber));
    }
    let value = if negative { -magnitude } else { magnitude };
    let clamped = value.clamp(-i128::from(VALUE_LIMIT), i128::from(VALUE_LIMIT));
    let issue = if clamped != value {
        Some(ValueIssue::Clamped(value))
    } else if content[i..].iter().any(|b| !b.is_ascii_whitespace()) {
        Some(ValueIssue::TrailingText)
    } else {
        None
    };
    // The clamp keeps it within i64.
    (clamped as i64, issue)
}

/// The value of the file at `path` now: 0 when it does not exist or cannot be read.
pub fn read_value(path: &Path) -> (i64, Option<String>) {
    let mut buf = Vec::with_capacity(READ_MAX as usize);
    // Non-blocking so that a FIFO or device planted at the path cannot stall the daemon.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let read = opened.and_then(|f| f.take(READ_MAX).read_to_end(&mut buf));
    match read {
        Ok(_) => {
            let (value, issue) = parse_value(&buf);
            let note = issue.map(|issue| {
                let shown = String::from_utf8_lossy(&buf);
                let shown = shown.trim();
                match issue {
                    ValueIssue::NoNumber => format!("holds no number ('{shown}'), using 0"),
                    ValueIssue::TrailingText => {
                        format!("holds text after its number ('{shown}'), using {value}")
                    }
                    ValueIssue::Clamped(raw) => format!("value {raw} out of range, using {value}"),
                }
            });
            (value, note)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (0, None),
        Err(e) => (0, Some(format!("cannot be read ({e}), using 0"))),
    }
}

/// One `track_file` being watched.
#[derive(Debug)]
struct Watched {
    name: Arc<str>,
    path: PathBuf,
    file_name: OsString,
    wd: WatchDescriptor,
    value: i64,
}

/// Lets tokio poll the inotify descriptor.
struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Watch every `track_file` in `configured` until the receiver of `events` is gone.
pub(crate) async fn run(configured: Vec<TrackFile>, events: mpsc::Sender<TrackEvent>) {
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(io::Error::from)
        .and_then(|i| {
            // SAFETY: InotifyFd owns the inotify descriptor and always returns that same
            // descriptor from as_raw_fd, for as long as the AsyncFd owns it.
            unsafe { AsyncFd::register_with_interest(InotifyFd(i), tokio::io::Interest::READABLE) }
                .map_err(|e| e.into_parts().1)
        });
    let inotify = match inotify {
        Ok(fd) => fd,
        Err(e) => {
            error!("Unable to monitor vrrp track files: {e}");
            for tf in configured {
                let reason = format!("inotify unavailable: {e}");
                if !disabled(&events, &tf.name, reason).await {
                    return;
                }
            }
            return;
        }
    };

    let mut watched = Vec::new();
    for tf in &configured {
        match watch(&inotify.get_ref().0, tf) {
            Ok(w) => watched.push(w),
            Err(reason) => {
                warn!("track_file {}: {reason} - removing", tf.name);
                if !disabled(&events, &tf.name, reason).await {
                    return;
                }
            }
        }
    }
    for w in &watched {
        if !report(&events, w).await {
            return;
        }
    }

    loop {
        let Ok(mut ready) = inotify.readable().await else {
            error!("inotify descriptor failed; track files no longer followed");
            return;
        };
        let batch = match ready.try_io(|fd| fd.get_ref().0.read_events().map_err(io::Error::from)) {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => {
                error!("inotify read failed: {e}");
                continue;
            }
            Err(_would_block) => continue,
        };
        for event in batch {
            for index in affected(&watched, &event) {
                let w = &mut watched[index];
                let gone = event.mask.intersects(
                    AddWatchFlags::IN_DELETE
                        | AddWatchFlags::IN_MOVED_FROM
                        | AddWatchFlags::IN_DELETE_SELF
                        | AddWatchFlags::IN_MOVE_SELF,
                );
                let value = if gone {
                    debug!("track file {} removed, value 0", w.path.display());
                    0
                } else {
                    let (value, note) = read_value(&w.path);
                    if let Some(note) = note {
                        warn!("track file {} ({}) {note}", w.name, w.path.display());
                    }
                    value
                };
                if value != w.value {
                    w.value = value;
                    if !report(&events, w).await {
                        return;
                    }
                }
            }
        }
    }
}

/// The watched files an inotify event concerns.
fn affected(watched: &[Watched], event: &InotifyEvent) -> Vec<usize> {
    if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
        // Events were lost: look at everything again.
        return (0..watched.len()).collect();
    }
    if event.mask.contains(AddWatchFlags::IN_ISDIR) {
        return Vec::new();
    }
    let whole_dir = event.mask.intersects(
        AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF | AddWatchFlags::IN_IGNORED,
    );
    if whole_dir {
        warn!("a directory holding track files was removed or renamed; their values are now 0");
    }
    watched
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            w.wd == event.wd
                && (whole_dir || event.name.as_deref() == Some(w.file_name.as_os_str()))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Write `init_file`'s value as root without following what someone may have put at the
/// path (track files often live in /tmp): a symbolic link or hard link to a file elsewhere,
/// a FIFO or a device is refused, as keepalived refuses to write through a symbolic link.
fn init_file(path: &Path, value: i64) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other("it is a symbolic link; refused"),
            Some(libc::ENXIO) => io::Error::other("it is a FIFO; refused"),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        let what = if meta.file_type().is_fifo() {
            "a FIFO"
        } else {
            "not a regular file"
        };
        return Err(io::Error::other(format!("it is {what}; refused")));
    }
    if meta.nlink() > 1 {
        return Err(io::Error::other(format!(
            "it has {} hard links; refused",
            meta.nlink()
        )));
    }
    file.set_len(0)?;
    file.write_all(format!("{value}\n").as_bytes())
}

/// Prepare one file: `init_file`, resolve its directory, watch it, read the value.
fn watch(inotify: &Inotify, tf: &TrackFile) -> Result<Watched, String> {
    if let Some((value, overwrite)) = tf.init_file
        && (overwrite || !tf.path.exists())
        && let Err(e) = init_file(&tf.path, value)
    {
        warn!(
            "track_file {}: cannot initialise {}: {e}",
            tf.name,
            tf.path.display()
        );
    }
    // As keepalived: follow a link to the file itself; otherwise resolve the directory.
    let path = match std::fs::canonicalize(&tf.path) {
        Ok(real) => real,
        Err(_) => {
            let file_name = tf
                .path
                .file_name()
                .ok_or_else(|| format!("{} names no file", tf.path.display()))?;
            let dir = match tf.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let dir = std::fs::canonicalize(dir)
                .ok()
                .filter(|d| d.is_dir())
                .ok_or_else(|| format!("directory of {} does not exist", tf.path.display()))?;
            dir.join(file_name)
        }
    };
    let (Some(dir), Some(file_name)) = (path.parent(), path.file_name()) else {
        return Err(format!("{} names no file", tf.path.display()));
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
    let (value, note) = read_value(&path);
    if let Some(note) = note {
        warn!("track file {} ({}) {note}", tf.name, path.display());
    }
    Ok(Watched {
        name: tf.name.as_str().into(),
        file_name: file_name.to_os_string(),
        path,
        wd,
        value,
    })
}

async fn report(events: &mpsc::Sender<TrackEvent>, w: &Watched) -> bool {
    info!("Track file {}: value {}", w.name, w.value);
    let event = TrackEvent::FileValue {
        name: w.name.clone(),
        value: w.value,
    };
    events.send(event).await.is_ok()
}

async fn disabled(events: &mpsc::Sender<TrackEvent>, name: &str, reason: String) -> bool {
    let event = TrackEvent::Disabled {
        kind: TrackerKind::File,
        name: name.into(),
        reason,
    };
    events.send(event).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_strtol_base_zero() {
        assert_eq!(parse_value(b"42\n"), (42, None));
        assert_eq!(parse_value(b"  -7"), (-7, None));
        assert_eq!(parse_value(b"+3"), (3, None));
        assert_eq!(parse_value(b"0x10"), (16, None));
        assert_eq!(parse_value(b"010"), (8, None));
        assert_eq!(parse_value(b"0"), (0, None));
    }

    #[test]
    fn garbage_reads_as_zero_and_says_so() {
        assert_eq!(parse_value(b"abc"), (0, Some(ValueIssue::NoNumber)));
        assert_eq!(parse_value(b"-"), (0, Some(ValueIssue::NoNumber)));
        assert_eq!(parse_value(b"\xff\xfe"), (0, Some(ValueIssue::NoNumber)));
        assert_eq!(parse_value(b""), (0, None));
        assert_eq!(parse_value(b" \n"), (0, None));
    }

    #[test]
    fn text_after_the_number_is_ignored() {
        assert_eq!(parse_value(b"12abc"), (12, Some(ValueIssue::TrailingText)));
        // "0x" without hex digits is the number 0 followed by "x".
        assert_eq!(parse_value(b"0xg"), (0, Some(ValueIssue::TrailingText)));
        // Octal stops at 8, as strtol does.
        assert_eq!(parse_value(b"08"), (0, Some(ValueIssue::TrailingText)));
    }

    #[test]
    fn values_are_clamped() {
        assert_eq!(parse_value(b"1000"), (254, Some(ValueIssue::Clamped(1000))));
        assert_eq!(
            parse_value(b"-300"),
            (-254, Some(ValueIssue::Clamped(-300)))
        );
        let (v, _) = parse_value(b"99999999999999999999999999999999");
        assert_eq!(v, 254);
    }

    #[test]
    fn missing_file_is_zero_without_complaint() {
        assert_eq!(read_value(Path::new("/nonexistent/baton/track")), (0, None));
    }

    #[test]
    fn init_file_writes_through_no_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("passwd");
        std::fs::write(&victim, "root:x:0:0\n").unwrap();
        let link = dir.path().join("track");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = init_file(&link, 7).unwrap_err();
        assert_eq!(e.to_string(), "it is a symbolic link; refused");
        let hard = dir.path().join("hard");
        std::fs::hard_link(&victim, &hard).unwrap();
        let e = init_file(&hard, 7).unwrap_err();
        assert_eq!(e.to_string(), "it has 2 hard links; refused");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "123456\n").unwrap();
        init_file(&plain, 7).unwrap();
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), "7\n");
    }
}
