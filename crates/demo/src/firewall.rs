//! The post's firewall bug on a load balancer: VRRP (IP protocol 112) dropped as it arrives.
//!
//! The rule goes into an nftables table of the demo's own (`inet baton_demo`), programmed
//! over netlink with baton-nft as the daemon programs its own tables, so the demo needs no
//! `nft` program on the machine. The table belongs to the demo's netlink socket: nobody
//! else can change it, and the kernel deletes it if the demo dies. The rule counts what it
//! drops, so the demo can show the fault was real.

use std::sync::Mutex;

use anyhow::{Context, Result};
use baton_lab::Host;
use baton_nft::batch::{BaseChain, Batch, HookPoint, TABLE_GROUP, TableId};
use baton_nft::expr::{self, Action, MetaKey, NfProto, Operator, r};
use baton_nft::socket::NftSocket;
use baton_nft::table;

/// The demo's table, in the load balancer's network namespace.
const TABLE: &str = "baton_demo";
/// Its one chain, hooked where packets for the host itself pass.
const CHAIN: &str = "input";
/// VRRP's IP protocol number.
const VRRP: u8 = 112;

/// VRRP dropped on one host until [`Firewall::remove`] (or the demo's end).
#[derive(Debug)]
pub struct Firewall {
    sock: Mutex<NftSocket>,
    table: TableId,
}

impl Firewall {
    /// `meta l4proto 112 counter drop` on input, at filter priority, on `host`.
    pub fn drop_vrrp(host: &Host) -> Result<Firewall> {
        // A netlink socket talks to the namespace it was opened in, whichever thread uses it.
        let mut sock = host
            .in_netns(NftSocket::open)?
            .context("opening an nf_tables netlink socket")?;
        let t = TableId::new(NfProto::Inet, TABLE);
        let mut b = Batch::new();
        table::claim(&mut b, &t);
        let input = BaseChain {
            hook: HookPoint::Input,
            kind: "filter",
            priority: 0,
        };
        b.add_chain(TABLE_GROUP, &t, CHAIN, Some(&input));
        b.add_rule(
            TABLE_GROUP,
            &t,
            CHAIN,
            vec![
                expr::meta(MetaKey::L4Proto, r(0)),
                expr::cmp(r(0), Operator::Equal, &[VRRP]),
                expr::counter(),
                expr::verdict(&Action::Drop),
            ],
            "meta l4proto 112 counter drop",
        );
        table::commit(&mut sock, &b, &t)?;
        Ok(Firewall {
            sock: Mutex::new(sock),
            table: t,
        })
    }

    /// How many packets (adverts) the rule has dropped so far.
    pub fn dropped(&self) -> Result<u64> {
        let mut sock = self
            .sock
            .lock()
            .map_err(|_| anyhow::anyhow!("the firewall's socket was poisoned"))?;
        let rules = sock
            .rules(&self.table, CHAIN)
            .with_context(|| format!("listing chain {} {CHAIN}", self.table))?;
        Ok(rules
            .iter()
            .filter_map(|rule| expr::counted(rule))
            .map(|(packets, _)| packets)
            .sum())
    }

    /// Delete the table (closing the socket would too; this one reports a failure).
    pub fn remove(self) -> Result<()> {
        let mut sock = self
            .sock
            .into_inner()
            .map_err(|_| anyhow::anyhow!("the firewall's socket was poisoned"))?;
        let mut b = Batch::new();
        b.delete_table(TABLE_GROUP, &self.table);
        table::commit(&mut sock, &b, &self.table)?;
        Ok(())
    }
}
