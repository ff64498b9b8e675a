//! Quorum (ipwrapper.c `update_quorum_state`, `update_vs_notifies`), the sorry server
//! and the notifies of real and virtual servers (`do_rs_notifies`, `do_vs_notifies`).

use crate::action::{Action, NotifyKind};
use crate::services::{STOPPING_SCRIPT_TIMEOUT, Services};

impl Services {
    // ---- quorum ----------------------------------------------------------------------

    /// ipwrapper.c `update_quorum_state`: quorum is gained at `quorum + hysteresis` and
    /// lost below `quorum - hysteresis` (or with no live weight at all); the sorry server
    /// goes in while it is lost.
    pub(crate) fn update_quorum(&mut self, v: usize, init: bool) {
        let vs = self.vs(v);
        let (q, h) = (i64::from(vs.quorum), i64::from(vs.hysteresis));
        let has_sorry = vs.sorry_server.is_some();
        let st = &self.state[v];
        let sum = st.live_weight() as i64;
        let threshold = if st.quorum_up { q - h } else { q + h };
        // keepalived also gains quorum with no live weight when quorum is 0 (all real
        // servers weigh 0), and loses it again at the next event: baton needs some
        // live weight, so such a service does not flap.
        if !st.quorum_up && sum >= threshold && sum > 0 {
            self.state[v].quorum_up = true;
            let line = format!(
                "Gained quorum {q}+{h}={threshold} <= {sum} for VS {}",
                self.vs(v)
            );
            self.log(line);
            if has_sorry && self.state[v].sorry_alive {
                self.sorry_server_out(v);
            }
            self.vs_notifies(v, false);
        } else if (st.quorum_up && (sum == 0 || sum < threshold))
            || (init && !st.quorum_up && has_sorry && !st.sorry_alive)
        {
            self.state[v].quorum_up = false;
            let line = format!(
                "{} {q}-{h}={threshold} > {sum} for VS {}",
                if init {
                    "Starting with quorum down"
                } else {
                    "Lost quorum"
                },
                self.vs(v)
            );
            self.log(line);
            if has_sorry && !self.state[v].sorry_alive {
                self.sorry_server_in(v);
            }
            self.vs_notifies(v, false);
        }
    }

    fn sorry_server_in(&mut self, v: usize) {
        let Some(s) = self.vs(v).sorry_server.clone() else {
            return;
        };
        let line = format!(
            "{} sorry server {} to VS {}",
            if s.inhibit { "Enabling" } else { "Adding" },
            self.vs(v).service_name(&s.address),
            self.vs(v)
        );
        self.log(line);
        let line = format!("Removing alive servers from the pool for VS {}", self.vs(v));
        self.log(line);
        self.state[v].sorry_alive = true;
    }

    pub(crate) fn sorry_server_out(&mut self, v: usize) {
        let Some(s) = self.vs(v).sorry_server.clone() else {
            return;
        };
        let line = format!(
            "{} sorry server {} from VS {}",
            if s.inhibit { "Disabling" } else { "Removing" },
            self.vs(v).service_name(&s.address),
            self.vs(v)
        );
        self.log(line);
        self.state[v].sorry_alive = false;
        let line = format!("Adding alive servers to the pool for VS {}", self.vs(v));
        self.log(line);
    }

    // ---- notifies --------------------------------------------------------------------

    /// ipwrapper.c `do_rs_notifies`: notify_up or notify_down by the real server's
    /// state, and the FIFO line.
    pub(crate) fn rs_notifies(&mut self, v: usize, r: usize, stopping: bool) {
        let alive = self.state[v].real_servers[r].alive;
        let rs = &self.vs(v).real_servers[r];
        let (command, kind) = if alive {
            (rs.notify_up.clone(), NotifyKind::RealServerUp(rs.id))
        } else {
            (rs.notify_down.clone(), NotifyKind::RealServerDown(rs.id))
        };
        if let Some(command) = command {
            self.pending.push(Action::RunNotify {
                kind,
                command,
                timeout: stopping.then_some(STOPPING_SCRIPT_TIMEOUT),
            });
        }
        let line = format!(
            "RS {} {} {}",
            self.rs_name(v, r),
            self.vs(v),
            if alive { "UP" } else { "DOWN" }
        );
        self.pending.push(Action::WriteFifo(line));
    }

    /// ipwrapper.c `do_vs_notifies`: quorum_up or quorum_down by the quorum state, and
    /// the FIFO line; while stopping only with `omega`.
    pub(crate) fn vs_notifies(&mut self, v: usize, stopping: bool) {
        let vs = self.vs(v);
        if stopping && !vs.omega {
            return;
        }
        let up = self.state[v].quorum_up;
        let (command, kind) = if up {
            (vs.quorum_up.clone(), NotifyKind::QuorumUp(vs.id))
        } else {
            (vs.quorum_down.clone(), NotifyKind::QuorumDown(vs.id))
        };
        if let Some(command) = command {
            self.pending.push(Action::RunNotify {
                kind,
                command,
                timeout: stopping.then_some(STOPPING_SCRIPT_TIMEOUT),
            });
        }
        let line = format!("VS {} {}", self.vs(v), if up { "UP" } else { "DOWN" });
        self.pending.push(Action::WriteFifo(line));
    }

    /// ipwrapper.c `update_vs_notifies`: after real servers went away, quorum may be
    /// lost (no sorry server is put in then: the service is on its way out).
    pub(crate) fn quorum_after_removal(&mut self, v: usize, stopping: bool) {
        let vs = self.vs(v);
        let threshold = i64::from(vs.quorum) - i64::from(vs.hysteresis);
        let sum = self.state[v].live_weight() as i64;
        let st = &self.state[v];
        if stopping || (st.quorum_up && (sum == 0 || sum < threshold)) {
            self.state[v].quorum_up = false;
            self.vs_notifies(v, stopping);
        }
    }
}
