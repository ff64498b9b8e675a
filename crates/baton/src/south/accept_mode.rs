//! `no_accept` (and `vrrp_strict`, which implies it below priority 255): while an instance
//! that is not the address owner is master, traffic to and from its addresses is dropped by
//! baton's own nftables table (`inet baton_vrrp`, baton-nft's `VipFilter`), as keepalived
//! does with its `keepalived` table. The table is claimed the first time an instance needs
//! it and goes away with the daemon.

use std::net::IpAddr;

use baton_nft::VipFilter;

#[derive(Debug, Default)]
pub struct AcceptMode {
    filter: Option<VipFilter>,
    /// The table could not be claimed: said once, not on every transition.
    failed: bool,
}

impl AcceptMode {
    /// Block (`true`) or let through again the addresses of instance `name`.
    pub fn set(&mut self, name: &str, addrs: &[IpAddr], block: bool) {
        if self.filter.is_none() {
            if !block || self.failed {
                return;
            }
            match VipFilter::new() {
                Ok(f) => self.filter = Some(f),
                Err(e) => {
                    self.failed = true;
                    tracing::error!(
                        "({name}) no_accept: cannot set up the nftables table: {e}; traffic to the virtual addresses is not filtered"
                    );
                    return;
                }
            }
        }
        let Some(f) = self.filter.as_mut() else {
            return;
        };
        let r = if block {
            f.block(addrs)
        } else {
            f.unblock(addrs)
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
