//! Reload as a diff (ipwrapper.c `clear_diff_services`, `migrate_checkers`,
//! `clear_diff_s_srv`): services and real servers keep their state when keepalived
//! would call them the same, removed ones leave with their notifies, new ones start as at
//! start, and the table changes only where the configuration did.

use std::collections::HashMap;

use baton_conf::{CheckKind, Checker, Config, Connection, HttpCheck, VirtualServerAddress};

use crate::services::{Phase, Services, vips_of};
use crate::state::{CheckerState, RealServerState, VirtualServerState};

/// Whether two checkers are the same check (keepalived's per-kind `compare`): kind,
/// what it checks and where it connects; timings and where it was written do not count.
/// FILE_CHECKs are never the same (keepalived re-reads the file instead).
pub fn same_check(a: &Checker, b: &Checker) -> bool {
    fn conn(c: &Checker) -> Option<&Connection> {
        c.connection.as_ref()
    }
    if conn(a) != conn(b) {
        return false;
    }
    match (&a.kind, &b.kind) {
        (CheckKind::File(_), _) | (_, CheckKind::File(_)) => false,
        (CheckKind::Http(x), CheckKind::Http(y)) => same_http(x, y),
        (x, y) => x == y,
    }
}

fn same_http(a: &HttpCheck, b: &HttpCheck) -> bool {
    a.tls == b.tls
        && a.sni_name == b.sni_name
        && a.urls.len() == b.urls.len()
        && a.urls.iter().zip(&b.urls).all(|(u, v)| {
            u.path == v.path
                && u.digest == v.digest
                && u.status_codes == v.status_codes
                && u.virtualhost == v.virtualhost
                && u.regex == v.regex
        })
}

impl Services {
    pub(crate) fn reload(&mut self, config: &Config) {
        let old_lvs = std::mem::replace(&mut self.lvs, config.lvs.clone());
        let old_state = std::mem::take(&mut self.state);
        self.vips = vips_of(config);
        let files = self.files.clone();
        let file_value = |f: &str| files.get(f).copied().unwrap_or(0);
        self.state = self
            .lvs
            .virtual_servers
            .iter()
            .map(|vs| VirtualServerState::initial(vs, file_value))
            .collect();
        if self.phase != Phase::Running {
            return;
        }

        // Old services by identity.
        let mut old_by_key: HashMap<_, usize> = old_lvs
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(i, vs)| (vs.key(), i))
            .collect();
        let mut matched: Vec<Option<usize>> = vec![None; self.lvs.virtual_servers.len()];
        for (v, vs) in self.lvs.virtual_servers.iter().enumerate() {
            matched[v] = old_by_key.remove(&vs.key());
        }

        // Services that are gone: their real servers leave, with notifies.
        let mut gone: Vec<usize> = old_by_key.into_values().collect();
        gone.sort_unstable();
        for o in gone {
            let vs = &old_lvs.virtual_servers[o];
            let line = match &vs.address {
                VirtualServerAddress::Group { name, .. } => {
                    format!("Removing Virtual Server Group [{name}]")
                }
                _ => format!("Removing Virtual Server {vs}"),
            };
            self.log(line);
            self.leave(&old_lvs, &old_state, o, None);
        }

        for (v, m) in matched.into_iter().enumerate() {
            match m {
                Some(o) => self.migrate(&old_lvs, &old_state, o, v),
                None => self.init_virtual_server(v, true),
            }
        }
        self.refresh_suspension();
    }

    /// Real servers of old service `o` that do not carry on (all of them when `kept` is
    /// `None`) are removed; live ones run notify_down; then quorum may be lost
    /// (ipwrapper.c `clear_service_rs`, `update_vs_notifies`).
    fn leave(
        &mut self,
        old_lvs: &baton_conf::Lvs,
        old_state: &[VirtualServerState],
        o: usize,
        kept: Option<usize>,
    ) {
        let vs = &old_lvs.virtual_servers[o];
        let st = &old_state[o];
        let mut quorum_up = st.quorum_up;
        let mut live: u64 = 0;
        for (r, rs) in vs.real_servers.iter().enumerate() {
            let rst = &st.real_servers[r];
            let carries_on = kept.is_some_and(|v| {
                self.lvs.virtual_servers[v]
                    .real_servers
                    .iter()
                    .any(|n| n.address == rs.address)
            });
            if carries_on {
                if rst.alive {
                    live += u64::from(crate::state::real_weight(rst.effective_weight));
                }
                continue;
            }
            let name = vs.service_name(&rs.address);
            if kept.is_some() {
                self.log(format!("service {name} no longer exist"));
            }
            let in_table = rst.alive || rs.inhibit_on_failure;
            if in_table {
                self.log(format!(
                    "Removing {}service {name} from VS {vs}",
                    if rs.inhibit_on_failure && !rst.alive {
                        "(inhibited) "
                    } else {
                        ""
                    }
                ));
            }
            if rst.alive {
                if let Some(cmd) = rs.notify_down.clone() {
                    self.pending.push(crate::Action::RunNotify {
                        kind: crate::NotifyKind::RealServerDown(rs.id),
                        command: cmd,
                        timeout: None,
                    });
                }
                self.pending
                    .push(crate::Action::WriteFifo(format!("RS {name} {vs} DOWN")));
            }
        }
        let threshold = i64::from(vs.quorum) - i64::from(vs.hysteresis);
        let sum = live as i64;
        if quorum_up && (sum == 0 || sum < threshold) {
            quorum_up = false;
            if let Some(cmd) = vs.quorum_down.clone() {
                self.pending.push(crate::Action::RunNotify {
                    kind: crate::NotifyKind::QuorumDown(vs.id),
                    command: cmd,
                    timeout: None,
                });
            }
            self.pending
                .push(crate::Action::WriteFifo(format!("VS {vs} DOWN")));
        }
        if let Some(v) = kept {
            self.state[v].quorum_up = quorum_up;
        }
    }

    /// Service `v` is old service `o`: state carries over.
    fn migrate(
        &mut self,
        old_lvs: &baton_conf::Lvs,
        old_state: &[VirtualServerState],
        o: usize,
        v: usize,
    ) {
        let old_vs = &old_lvs.virtual_servers[o];
        let ost = &old_state[o];
        self.state[v].sorry_alive = ost.sorry_alive;
        self.state[v].suspended = ost.suspended;
        self.leave(old_lvs, old_state, o, Some(v));

        let mut comes_up = Vec::new();
        for r in 0..self.lvs.virtual_servers[v].real_servers.len() {
            let rs = self.lvs.virtual_servers[v].real_servers[r].clone();
            let Some(or) = old_vs
                .real_servers
                .iter()
                .position(|x| x.address == rs.address)
            else {
                // A new real server: as at start, alpha checkers count as failed.
                continue;
            };
            let ors = &old_vs.real_servers[or];
            let orst = &ost.real_servers[or];
            let mut nst = RealServerState {
                alive: orst.alive,
                effective_weight: i64::from(rs.weight),
                checkers: Vec::with_capacity(rs.checkers.len()),
            };
            let mut used = vec![false; ors.checkers.len()];
            for c in &rs.checkers {
                let old = ors
                    .checkers
                    .iter()
                    .enumerate()
                    .find(|(i, oc)| !used[*i] && same_check(oc, c));
                let cs = match (old, &c.kind) {
                    (_, CheckKind::File(f)) => CheckerState::of_file(
                        f,
                        self.files.get(&f.track_file).copied().unwrap_or(0),
                    ),
                    (Some((i, _)), _) => {
                        used[i] = true;
                        let ocs = &orst.checkers[i];
                        let mut cs = CheckerState::initial(c);
                        // keepalived's migrate_checkers takes a checker that has not run
                        // as up, so a reload brings up a server whose alpha checker has
                        // not yet passed; baton keeps the checker's state as it was.
                        cs.is_up = ocs.is_up;
                        cs.has_run = ocs.has_run;
                        cs.cur_weight = ocs.cur_weight;
                        cs.last_status = ocs.last_status;
                        cs
                    }
                    // keepalived starts a checker of a reloaded real server up; see below.
                    (None, _) => CheckerState {
                        is_up: true,
                        ..CheckerState::initial(c)
                    },
                };
                nst.effective_weight += cs.cur_weight;
                nst.checkers.push(cs);
            }
            // migrate_checkers: a failed checker (or a server down that no checker has
            // judged yet) makes new alpha checkers wait for their first success.
            let any_run = nst.checkers.iter().any(|c| c.has_run);
            let failed = nst.checkers.iter().any(|c| c.has_run && !c.is_up);
            if failed || (!nst.alive && !any_run) {
                for (cs, c) in nst.checkers.iter_mut().zip(&rs.checkers) {
                    if !cs.has_run && c.alpha {
                        cs.is_up = false;
                    }
                }
            }
            let weight_changed = crate::state::real_weight(nst.effective_weight)
                != crate::state::real_weight(orst.effective_weight);
            let up = nst.failed_checkers() == 0 && !nst.alive;
            let down = nst.failed_checkers() > 0 && nst.alive;
            self.state[v].real_servers[r] = nst;
            if weight_changed && self.state[v].real_servers[r].alive {
                let (old, new) = (
                    crate::state::real_weight(orst.effective_weight),
                    crate::state::real_weight(self.state[v].real_servers[r].effective_weight),
                );
                let line = format!(
                    "Changing weight from {old} to {new} for active service {} of VS {}",
                    self.rs_name(v, r),
                    self.vs(v)
                );
                self.log(line);
            }
            if up {
                comes_up.push(r);
            } else if down {
                self.real_server_state(v, r, false);
            }
        }
        for r in comes_up {
            self.real_server_state(v, r, true);
        }

        // The sorry server (clear_diff_s_srv): a different one, or none, takes the old
        // one out; with none, live real servers go back in.
        let same_sorry = match (&old_vs.sorry_server, &self.vs(v).sorry_server) {
            (Some(a), Some(b)) => a.address == b.address,
            _ => false,
        };
        if ost.sorry_alive && !same_sorry {
            let old = old_vs
                .sorry_server
                .as_ref()
                .map(|s| old_vs.service_name(&s.address));
            if let Some(old) = old {
                let line = format!("Removing sorry server {old} from VS {old_vs}");
                self.log(line);
            }
            self.state[v].sorry_alive = false;
            if self.vs(v).sorry_server.is_none() {
                let line = format!("Adding alive servers to the pool for VS {}", self.vs(v));
                self.log(line);
            }
        }
        // New real servers, then quorum under the new settings (init_service_vs).
        for r in 0..self.state[v].real_servers.len() {
            let address = self.vs(v).real_servers[r].address;
            if old_vs.real_servers.iter().any(|x| x.address == address) {
                continue;
            }
            let rst = &mut self.state[v].real_servers[r];
            if rst.failed_checkers() == 0 && !rst.alive {
                rst.alive = true;
                if self.lvs.global.rs_init_notifies {
                    self.rs_notifies(v, r, false);
                }
            }
        }
        self.update_quorum(v, true);
    }
}
