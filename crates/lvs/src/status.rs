//! A serialisable snapshot of the virtual services for `baton status`.

use serde::Serialize;

use crate::services::Services;
use crate::state::real_weight;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealServerStatus {
    /// keepalived's name: `[10.0.0.21]:tcp:8080`.
    pub name: String,
    pub alive: bool,
    /// The weight in the table while alive.
    pub weight: u32,
    pub effective_weight: i64,
    pub failed_checkers: usize,
    pub checkers: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerStatus {
    /// keepalived's name: `[192.168.5.10]:tcp:80`.
    pub name: String,
    pub quorum_up: bool,
    pub live_weight: u64,
    pub quorum: u32,
    pub hysteresis: u32,
    pub sorry_server_in_use: bool,
    pub checkers_suspended: bool,
    pub real_servers: Vec<RealServerStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub virtual_servers: Vec<VirtualServerStatus>,
}

impl Services {
    pub fn status(&self) -> Status {
        let virtual_servers = self
            .config()
            .virtual_servers
            .iter()
            .zip(&self.state)
            .map(|(vs, st)| VirtualServerStatus {
                name: vs.to_string(),
                quorum_up: st.quorum_up,
                live_weight: st.live_weight(),
                quorum: vs.quorum,
                hysteresis: vs.hysteresis,
                sorry_server_in_use: st.sorry_alive,
                checkers_suspended: st.suspended,
                real_servers: vs
                    .real_servers
                    .iter()
                    .zip(&st.real_servers)
                    .map(|(rs, rst)| RealServerStatus {
                        name: vs.service_name(&rs.address),
                        alive: rst.alive,
                        weight: real_weight(rst.effective_weight),
                        effective_weight: rst.effective_weight,
                        failed_checkers: rst.failed_checkers(),
                        checkers: rst.checkers.len(),
                    })
                    .collect(),
            })
            .collect();
        Status { virtual_servers }
    }
}
