//! `no_accept` (and `vrrp_strict`, which implies it below priority 255): while an instance
//! that is not the address owner is master, traffic to and from its addresses is dropped by
//! baton's own nftables table (`inet baton_vrrp`, baton-nft's `VipFilter`), as keepalived
//! does with its `keepalived` table. The table is claimed the first time an instance needs
//! it and goes away with the daemon (it is owned by its netlink socket).
//!
//! An nftables commit waits for the kernel's commit lock, which anyone else's `nft -f` or
//! the virtual servers' data plane may hold for as long as their batch takes: the loop only
//! records what each instance wants, and a thread of its own brings the table there, newest
//! wish first, skipping the ones overtaken while it waited.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use baton_nft::VipFilter;

/// Addresses blocked or not, per instance name.
type Wishes = BTreeMap<String, (Vec<IpAddr>, bool)>;

#[derive(Debug, Default)]
pub struct AcceptMode {
    worker: Option<Arc<Shared>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    wanted: Wishes,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AcceptMode {
    /// Block (`true`) or let through again the addresses of instance `name`. Returns at
    /// once; the table follows on the filter's thread.
    pub fn set(&mut self, name: &str, addrs: &[IpAddr], block: bool) {
        if self.worker.is_none() {
            if !block {
                return;
            }
            // Spawned from the loop's thread, so it works in the loop's network namespace.
            let shared = Arc::new(Shared::default());
            let theirs = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("no_accept".into())
                .spawn(move || run(&theirs));
            if let Err(e) = spawned {
                tracing::error!(
                    "({name}) no_accept: cannot start the nftables thread: {e}; traffic to the virtual addresses is not filtered"
                );
                return;
            }
            self.worker = Some(shared);
        }
        let Some(shared) = &self.worker else { return };
        shared
            .lock()
            .wanted
            .insert(name.to_string(), (addrs.to_vec(), block));
        shared.wake.notify_one();
    }
}

impl Drop for AcceptMode {
    fn drop(&mut self) {
        if let Some(shared) = &self.worker {
            shared.lock().closed = true;
            shared.wake.notify_one();
        }
    }
}

/// The filter's thread: bring the table to what the loop wants, until the daemon goes.
fn run(shared: &Shared) {
    let filter = match VipFilter::new() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(
                "no_accept: cannot set up the nftables table: {e}; traffic to the virtual addresses is not filtered"
            );
            return;
        }
    };
    let mut table = Table {
        filter,
        applied: Wishes::new(),
    };
    loop {
        let wanted = {
            let mut state = shared.lock();
            while !state.closed && state.wanted == table.applied {
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if state.closed {
                return;
            }
            state.wanted.clone()
        };
        table.follow(&wanted);
    }
}

struct Table {
    filter: VipFilter,
    applied: Wishes,
}

impl Table {
    /// Change what differs between what is applied and `wanted`. A change the kernel
    /// refuses is logged and recorded as done: trying it again on every wake would repeat
    /// the refusal, and the next transition asks again.
    fn follow(&mut self, wanted: &Wishes) {
        for (name, (addrs, block)) in wanted {
            let before = self.applied.get(name);
            if before == Some(&(addrs.clone(), *block)) {
                continue;
            }
            if let Some((old, true)) = before {
                let old = old.clone();
                self.change(name, &old, false);
            }
            if *block {
                self.change(name, addrs, true);
            }
            self.applied.insert(name.clone(), (addrs.clone(), *block));
        }
    }

    fn change(&mut self, name: &str, addrs: &[IpAddr], block: bool) {
        let r = if block {
            self.filter.block(addrs)
        } else {
            self.filter.unblock(addrs)
        };
        match r {
            Ok(()) => tracing::debug!(
                "({name}) {} firewall drop rule",
                if block { "setting" } else { "removing" }
            ),
            Err(e) => tracing::warn!(
                "({name}) no_accept: cannot {} {addrs:?}: {e}",
                if block { "block" } else { "unblock" }
            ),
        }
    }
}
