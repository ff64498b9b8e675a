//! `ha_suspend` (check_api.c `update_checker_activity`): the checkers of such a service
//! run only while its address is on this host, as a VRRP master's VIP or otherwise.

use std::net::IpAddr;

use baton_conf::{GroupEntry, VirtualServer, VirtualServerAddress};

use crate::action::Action;
use crate::services::{Phase, Services};

impl Services {
    // ---- ha_suspend ------------------------------------------------------------------

    fn address_present(&self, a: &IpAddr) -> bool {
        self.local.contains(a)
            || self
                .masters
                .iter()
                .filter_map(|m| self.vips.get(m))
                .any(|vips| vips.contains(a))
    }

    /// Whether the address of `vs` is on this host (check_api.c `addr_matches`).
    fn vs_address_present(&self, vs: &VirtualServer) -> bool {
        match &vs.address {
            VirtualServerAddress::Ip(a) => self.address_present(&a.ip()),
            VirtualServerAddress::Fwmark(_) => true,
            VirtualServerAddress::Group { name, .. } => {
                let Some(g) = self.lvs.group(name) else {
                    return false;
                };
                let present: Vec<IpAddr> = self
                    .local
                    .iter()
                    .copied()
                    .chain(
                        self.masters
                            .iter()
                            .filter_map(|m| self.vips.get(m))
                            .flatten()
                            .copied(),
                    )
                    .collect();
                g.entries.iter().any(|e| match e {
                    GroupEntry::Addresses { first, last, .. } => {
                        present.iter().any(|a| a >= first && a <= last)
                    }
                    GroupEntry::Fwmark { .. } => false,
                })
            }
        }
    }

    pub(crate) fn refresh_suspension_quiet(&mut self) {
        for v in 0..self.state.len() {
            let vs = self.vs(v);
            self.state[v].suspended = vs.ha_suspend && !self.vs_address_present(vs);
        }
    }

    /// check_api.c `update_checker_activity`: checkers of `ha_suspend` services run only
    /// while the service's address is here.
    pub(crate) fn refresh_suspension(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        for v in 0..self.state.len() {
            let vs = self.vs(v);
            let suspended = vs.ha_suspend && !self.vs_address_present(vs);
            if suspended == self.state[v].suspended {
                continue;
            }
            self.state[v].suspended = suspended;
            for r in 0..self.vs(v).real_servers.len() {
                for _ in 0..self.vs(v).real_servers[r].checkers.len() {
                    let line = format!(
                        "{}ing healthchecker for service {} for VS {}",
                        if suspended { "Suspend" } else { "Activat" },
                        self.rs_name(v, r),
                        self.vs(v)
                    );
                    self.log(line);
                }
            }
            let id = self.vs(v).id;
            self.pending.push(Action::CheckersEnabled {
                vs: id,
                enabled: !suspended,
            });
        }
    }
}
