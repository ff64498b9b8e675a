//! Where configuration text comes from. The loader reads nothing but configuration files, and
//! only through [`Sources`], so tests feed it strings and the daemon feeds it the file system.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Read access to configuration files (and the environment, for `${_ENV X}`).
pub trait Sources {
    /// The whole text of one file.
    fn read(&self, path: &Path) -> io::Result<String>;

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
    fn read(&self, path: &Path) -> io::Result<String> {
        let bytes = std::fs::read(path)?;
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

/// Files held in memory, for tests and fuzzing.
#[derive(Debug, Default, Clone)]
pub struct MemSources {
    files: BTreeMap<PathBuf, String>,
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

    pub fn with_env(mut self, name: &str, value: &str) -> MemSources {
        self.env.insert(name.to_string(), value.to_string());
        self
    }
}

impl Sources for MemSources {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&normalise(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
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
            .filter(|p| pat.matches_path_with(p, opts))
            .cloned()
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
        assert_eq!(s.read(Path::new("/etc/k/./sub/../a.conf")).unwrap(), "x");
        assert!(s.read(Path::new("/etc/k/b.conf")).is_err());
    }
}
