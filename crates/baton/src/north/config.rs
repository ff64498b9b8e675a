//! Loading keepalived.conf at start and on SIGHUP. The daemon runs a configuration that loads
//! with errors, as keepalived does, but refuses to start on one with nothing usable, and
//! refuses a reload with any error, keeping the running configuration.
//!
//! A reload reads files, and files can be slow (a network file system) or worse; the
//! loader bounds what it reads (regular files only, sizes and counts, `baton_conf::Limits`),
//! and the daemon runs [`ConfigSource::reload`] on a thread of its own (runtime's
//! `begin_reload`), so the event loop keeps advertising while it reads.

use std::path::PathBuf;

use baton_conf::{Config, LoadOptions, Loaded};

/// Where the configuration comes from (`-f`, `-i`, `-e`).
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub options: LoadOptions,
}

/// What a SIGHUP did.
#[derive(Debug)]
pub enum Reload {
    /// The new configuration, to hand to the protocol core.
    Applied(Box<Config>),
    /// The file has errors (or nothing usable); the running configuration stays.
    Refused { errors: usize },
}

impl ConfigSource {
    pub fn new(path: PathBuf, config_id: Option<String>, all_config: bool) -> ConfigSource {
        ConfigSource {
            path,
            options: LoadOptions {
                config_id,
                all_config,
                ..LoadOptions::default()
            },
        }
    }

    /// Load and log every diagnostic, one line each as `file:line:col: severity: message`.
    pub fn load(&self) -> Loaded {
        let loaded = baton_conf::load(&self.path, &self.options);
        for d in &loaded.diagnostics {
            if d.is_error() {
                tracing::error!("{}", d.log_line());
            } else {
                tracing::warn!("{}", d.log_line());
            }
        }
        loaded
    }

    /// The `net_namespace` the file names, read without a word (the real load, whose
    /// interface checks must see that namespace, comes after entering it).
    pub fn net_namespace(&self) -> Option<String> {
        baton_conf::net_namespace(&self.path, &self.options)
    }

    /// The configuration to start with; `None` (after logging why) when nothing is usable.
    pub fn initial(&self) -> Option<Config> {
        let loaded = self.load();
        if loaded.config.is_none() {
            tracing::error!(
                "Configuration {} is unusable: not starting",
                self.path.display()
            );
        }
        loaded.config
    }

    /// Re-read the file for a SIGHUP.
    pub fn reload(&self) -> Reload {
        let loaded = self.load();
        let errors = loaded.errors().count();
        match loaded.config {
            Some(c) if errors == 0 => Reload::Applied(Box::new(c)),
            _ => {
                tracing::error!(
                    "Reload refused: {} has {} error(s); keeping the running configuration",
                    self.path.display(),
                    errors.max(1)
                );
                Reload::Refused {
                    errors: errors.max(1),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
                        priority 200\n virtual_ipaddress {\n  192.168.5.10\n }\n}\n";

    #[test]
    fn reload_applies_a_clean_file_and_refuses_one_with_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepalived.conf");
        std::fs::write(&path, GOOD).unwrap();
        let src = ConfigSource::new(path.clone(), Some("lb1".into()), false);
        let c = src.initial().unwrap();
        assert_eq!(&*c.instances[0].name, "VI_1");
        match src.reload() {
            Reload::Applied(c) => assert_eq!(c.instances[0].priority, 200),
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, GOOD.replace("priority 200", "priority 900")).unwrap();
        assert!(matches!(src.reload(), Reload::Refused { errors } if errors >= 1));
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepalived.conf");
        std::fs::write(&path, GOOD).unwrap();
        let src = ConfigSource::new(path.clone(), Some("lb1".into()), false);
        assert!(src.initial().is_some());
        std::fs::remove_file(&path).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Nobody ever opens the FIFO for writing: a read would wait forever.
        let (tx, rx) = std::sync::mpsc::channel();
        let s = src.clone();
        std::thread::spawn(move || tx.send(s.reload()).unwrap());
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the reload waited on the FIFO");
        assert!(matches!(r, Reload::Refused { errors: 1 }), "{r:?}");
    }

    #[test]
    fn an_unreadable_file_gives_nothing_to_start_with() {
        let dir = tempfile::tempdir().unwrap();
        let src = ConfigSource::new(dir.path().join("absent.conf"), None, false);
        assert!(src.initial().is_none());
        assert!(matches!(src.reload(), Reload::Refused { .. }));
    }
}
