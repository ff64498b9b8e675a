//! `lvs_sync_daemon` in the loop: conntrackd ([`crate::south::conntrackd`]) follows the
//! state of the VRRP instance the setting names. Becoming MASTER commits the synced
//! connections before the batch that brings the VIPs up is carried out; the other
//! transitions run beside the loop.

use std::net::IpAddr;

use baton_conf::{Config, LvsSyncDaemon};
use baton_vrrp::{Action, State};

use super::Daemon;
use crate::south::conntrackd::{self, ConntrackSync, Role};

impl Daemon {
    /// Start conntrackd when the configuration asks for `lvs_sync_daemon`.
    pub(super) fn sync_start(&mut self, config: &Config) {
        let Some(setting) = config.lvs.global.sync_daemon.clone() else {
            return;
        };
        if setting.instance.is_none() {
            tracing::error!(
                "{}: lvs_sync_daemon {} names no VRRP instance to follow; connections are not synced",
                setting.span,
                setting.interface
            );
            return;
        }
        let local = self.ifaces.by_name(&setting.interface).and_then(|link| {
            self.ifaces
                .addresses()
                .iter()
                .filter(|a| a.ifindex == link.index)
                .find_map(|a| match a.addr {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
        });
        let Some(local) = local else {
            tracing::error!(
                "{}: lvs_sync_daemon: interface {} has no IPv4 address for conntrackd's multicast; connections are not synced",
                setting.span,
                setting.interface
            );
            return;
        };
        match ConntrackSync::start(
            setting,
            local,
            &self.pidfile,
            std::path::Path::new(conntrackd::CONNTRACKD),
        ) {
            Ok(s) => self.sync = Some(s),
            Err(e) => tracing::error!("lvs_sync_daemon: {e}; connections are not synced"),
        }
    }

    fn sync_instance(&self) -> Option<&str> {
        self.sync.as_ref()?.setting.instance.as_deref()
    }

    /// Before a batch of VRRP actions: if it makes the followed instance MASTER, commit
    /// the synced connections first, so they are in the kernel before the VIPs move.
    pub(super) async fn sync_before_batch(&mut self) {
        let Some(name) = self.sync_instance() else {
            return;
        };
        let becomes_master = self.actions.iter().any(|a| match a {
            Action::StateChanged { instance, to, .. } => {
                *to == State::Master
                    && self
                        .node
                        .instance(*instance)
                        .is_some_and(|i| i.name() == name)
            }
            _ => false,
        });
        if !becomes_master {
            return;
        }
        // The adverts go first, so the other routers hear the new master at once whatever
        // the commit takes; the VIPs (and their gratuitous ARPs) wait for it.
        let (adverts, rest): (Vec<Action>, Vec<Action>) = std::mem::take(&mut self.actions)
            .into_iter()
            .partition(|a| matches!(a, Action::SendAdvert(_)));
        self.actions = rest;
        for a in adverts {
            if let Action::SendAdvert(s) = a {
                self.queue_advert(s).await;
            }
        }
        self.flush_adverts().await;
        if let Some(s) = &mut self.sync {
            s.transition(Role::Master).await;
        }
    }

    /// After a batch: BACKUP and FAULT of the followed instance (MASTER went first).
    pub(super) async fn sync_follow_vrrp(&mut self, changes: &[(String, State)]) {
        let Some(name) = self.sync_instance().map(str::to_string) else {
            return;
        };
        for (instance, state) in changes {
            if *instance != name {
                continue;
            }
            let role = match state {
                State::Backup => Role::Backup,
                State::Fault => Role::Fault,
                _ => continue,
            };
            if let Some(s) = &mut self.sync {
                s.transition(role).await;
            }
        }
    }

    /// A reload that changes the setting restarts conntrackd with the new one.
    pub(super) async fn sync_reload(&mut self, new: &Config) {
        let same = |s: &LvsSyncDaemon| Some(s) == new.lvs.global.sync_daemon.as_ref();
        if self.sync.as_ref().is_some_and(|s| same(&s.setting)) {
            return;
        }
        if self.sync.is_none() && new.lvs.global.sync_daemon.is_none() {
            return;
        }
        self.sync_shutdown().await;
        self.sync_start(new);
        // The new conntrackd takes the instance's present role.
        let Some(name) = self.sync_instance().map(str::to_string) else {
            return;
        };
        let role = self
            .node
            .instances()
            .iter()
            .find(|i| i.name() == name)
            .and_then(|i| match i.state() {
                State::Master => Some(Role::Master),
                State::Backup => Some(Role::Backup),
                State::Fault => Some(Role::Fault),
                _ => None,
            });
        if let (Some(role), Some(s)) = (role, &mut self.sync) {
            s.transition(role).await;
        }
    }

    pub(super) async fn sync_shutdown(&mut self) {
        if let Some(s) = self.sync.take() {
            s.stop().await;
        }
    }
}
