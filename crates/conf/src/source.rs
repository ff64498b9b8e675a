//! Where configuration text comes from. The loader reads nothing but configuration files, and
//! only through [`Sources`], so tests feed it strings and the daemon feeds it the file system.
//!
//! Only regular files are read, as keepalived does: a FIFO, a device, a socket or a
//! directory named as a configuration file (or matched by an `include`) is refused before it
//! is opened, so nothing can make a read wait for a writer or run forever. A file larger than
//! the loader's limit is refused too, by its size and again while reading (it may grow).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Why a configuration file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// It exists but is not a regular file (`what` says what it is: "a FIFO").
    NotRegular { what: &'static str },
    /// It holds more than `limit` bytes.
    TooLarge { limit: u64 },
    /// Reading it would pass one of the loader's limits over all files (named in the text).
    Limit(String),
    /// The file system said no.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRegular { what } => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge { limit } => {
                write!(f, "it is larger than the {limit}-byte limit for one file")
            }
            ReadError::Limit(what) => f.write_str(what),
            ReadError::Io(e) => e.fmt(f),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// Read access to configuration files (and the environment, for `${_ENV X}`).
pub trait Sources {
    /// The whole text of one regular file of at most `limit` bytes.
    fn read(&self, path: &Path, limit: u64) -> Result<String, ReadError>;

    /// The files matching a shell glob (`*`, `?`, `[…]`; braces are expanded before this is
    /// called), sorted. An empty list is not an error.
    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>>;

    /// An environment variable, for `${_ENV NAME}`.
    fn env(&self, name: &str) -> Option<String>;
}

/// The real file system and process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsSources;

impl Sources for FsSources {
    fn read(&self, path: &Path, limit: u64) -> Result<String, ReadError> {
        use std::os::unix::fs::OpenOptionsExt;
        // Look before opening: opening a FIFO waits for a writer, opening a device may do
        // something. A symbolic link is followed, as keepalived follows it.
        regular(&std::fs::metadata(path)?)?;
        // Non-blocking, and checked again on what was opened, in case the path was swapped
        // for a FIFO in between.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_flags::NONBLOCK | libc_flags::NOCTTY)
            .open(path)?;
        let meta = file.metadata()?;
        regular(&meta)?;
        if meta.len() > limit {
            return Err(ReadError::TooLarge { limit });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(ReadError::TooLarge { limit });
        }
        // keepalived reads bytes; a stray invalid byte in a comment must not make the whole
        // file unreadable.
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>> {
        let paths =
            glob::glob(pattern).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut out: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        out.sort();
        Ok(out)
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The open(2) flags the reader needs (nix re-exports libc's values).
mod libc_flags {
    pub const NONBLOCK: i32 = nix::fcntl::OFlag::O_NONBLOCK.bits();
    pub const NOCTTY: i32 = nix::fcntl::OFlag::O_NOCTTY.bits();
}

/// Refuse anything but a regular file, naming what it is.
fn regular(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(ReadError::NotRegular { what })
}

/// Files held in memory, for tests and fuzzing.
#[derive(Debug, Default, Clone)]
pub struct MemSources {
    files: BTreeMap<PathBuf, String>,
    /// Paths that exist but are not regular files, and what they are.
    special: BTreeMap<PathBuf, &'static str>,
    env: BTreeMap<String, String>,
}

impl MemSources {
    pub fn new() -> MemSources {
        MemSources::default()
    }

    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemSources {
        self.files.insert(normalise(&path.into()), text.into());
        self
    }

    /// A path that exists but is not a regular file (`what`: "a FIFO"), to test refusal.
    pub fn with_special(mut self, path: impl Into<PathBuf>, what: &'static str) -> MemSources {
        self.special.insert(normalise(&path.into()), what);
        self
    }

    pub fn with_env(mut self, name: &str, value: &str) -> MemSources {
        self.env.insert(name.to_string(), value.to_string());
        self
    }
}

impl Sources for MemSources {
    fn read(&self, path: &Path, limit: u64) -> Result<String, ReadError> {
        let path = normalise(path);
        if let Some(what) = self.special.get(&path) {
            return Err(ReadError::NotRegular { what });
        }
        let text = self
            .files
            .get(&path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))?;
        if text.len() as u64 > limit {
            return Err(ReadError::TooLarge { limit });
        }
        Ok(text.clone())
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>> {
        let pat = glob::Pattern::new(pattern)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let opts = glob::MatchOptions {
            require_literal_separator: true,
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        Ok(self
            .files
            .keys()
            .chain(self.special.keys())
            .filter(|p| pat.matches_path_with(p, opts))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// Drop `.` components and fold `..` so in-memory paths compare equal however they were
/// joined (the file system does this for [`FsSources`]).
pub(crate) fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_sources_glob_matches_within_one_directory() {
        let s = MemSources::new()
            .with_file("/etc/k/conf.d/a.conf", "")
            .with_file("/etc/k/conf.d/b.conf", "")
            .with_file("/etc/k/conf.d/sub/c.conf", "")
            .with_file("/etc/k/other.conf", "");
        let got = s.glob("/etc/k/conf.d/*.conf").unwrap();
        assert_eq!(
            got,
            vec![
                PathBuf::from("/etc/k/conf.d/a.conf"),
                PathBuf::from("/etc/k/conf.d/b.conf")
            ]
        );
    }

    #[test]
    fn mem_sources_read_normalises_dot_components() {
        let s = MemSources::new().with_file("/etc/k/a.conf", "x");
        assert_eq!(
            s.read(Path::new("/etc/k/./sub/../a.conf"), 10).unwrap(),
            "x"
        );
        assert!(s.read(Path::new("/etc/k/b.conf"), 10).is_err());
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Opening the FIFO for reading would wait for a writer: the refusal must come first.
        let e = FsSources.read(&fifo, 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "it is a FIFO, not a regular file");
        let e = FsSources.read(dir.path(), 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "it is a directory, not a regular file");
        let e = FsSources.read(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is a character device, not a regular file"
        );
        // Followed, as keepalived follows it, to a regular file.
        let real = dir.path().join("real.conf");
        std::fs::write(&real, "abc").unwrap();
        let link = dir.path().join("link.conf");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(FsSources.read(&link, 10).unwrap(), "abc");
        // And to a FIFO it is refused all the same.
        let to_fifo = dir.path().join("to_fifo.conf");
        std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
        assert!(matches!(
            FsSources.read(&to_fifo, 10),
            Err(ReadError::NotRegular { what: "a FIFO" })
        ));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.conf");
        std::fs::write(&big, "x".repeat(101)).unwrap();
        assert_eq!(FsSources.read(&big, 101).unwrap().len(), 101);
        let e = FsSources.read(&big, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is larger than the 100-byte limit for one file"
        );
        let m = MemSources::new().with_file("/a", "x".repeat(101));
        assert!(matches!(
            m.read(Path::new("/a"), 100),
            Err(ReadError::TooLarge { limit: 100 })
        ));
    }
}
