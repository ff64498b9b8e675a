//! The VRRP side's table: keepalived's `no_accept` (and `vrrp_strict`, which implies it below
//! priority 255). RFC 5798's Accept_Mode false: a master that is not the address owner must
//! not accept packets addressed to the virtual addresses, so while such an instance is master
//! its addresses are in a set that the input and output hooks drop, as keepalived's own
//! `keepalived` table does.
//!
//! ```text
//! table inet baton_vrrp {
//!   flags owner
//!   set vips4 { type ipv4_addr; }
//!   set vips6 { type ipv6_addr; }
//!   chain in  { type filter hook input priority -1; policy accept;
//!     icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
//!     ip daddr @vips4 drop
//!     ip6 daddr @vips6 drop }
//!   chain out { type filter hook output priority -1; policy accept;
//!     icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
//!     ip saddr @vips4 drop
//!     ip6 saddr @vips6 drop }
//! }
//! ```
//!
//! Neighbour discovery passes, as in keepalived, so the segment can still resolve the
//! address to the master that holds it. One table for both families (keepalived keeps an
//! `ip` and an `ip6` table); priority -1, keepalived's default, runs before a `filter`
//! table at 0 so an administrator's accept cannot let the traffic through.

use std::collections::BTreeMap;
use std::net::IpAddr;

use netlink_packet_netfilter::nftables::{MetaKey, Operator};

use crate::Error;
use crate::batch::{BaseChain, Batch, Element, HookPoint, SetSpec, TABLE_GROUP, TableId};
use crate::expr::{self, Action, Base, NfProto, cmp, lookup, meta, payload, r};
use crate::socket::NftSocket;
use crate::table;

/// The table's name.
pub const TABLE: &str = "baton_vrrp";
/// keepalived's default `nftables_priority`.
pub const PRIORITY: i32 = -1;

const TYPE_IPADDR: u32 = 7;
const TYPE_IP6ADDR: u32 = 8;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
const IPPROTO_ICMPV6: u8 = 58;
const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;

/// The addresses whose traffic is dropped, in a table this process owns.
#[derive(Debug)]
pub struct VipFilter {
    sock: NftSocket,
    table: TableId,
    /// Each address with how many instances ask for it to be blocked.
    blocked: BTreeMap<IpAddr, u32>,
}

fn set_name(a: &IpAddr) -> &'static str {
    match a {
        IpAddr::V4(_) => "vips4",
        IpAddr::V6(_) => "vips6",
    }
}

fn key(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

impl VipFilter {
    /// Claim `inet baton_vrrp` in the calling thread's network namespace (replacing a table
    /// a crashed run left) with its sets, chains and rules, and nothing blocked yet.
    pub fn new() -> Result<VipFilter, Error> {
        let sock = NftSocket::open().map_err(Error::Socket)?;
        let mut f = VipFilter {
            sock,
            table: TableId::new(NfProto::Inet, TABLE),
            blocked: BTreeMap::new(),
        };
        let mut b = Batch::new();
        table::claim(&mut b, &f.table);
        f.skeleton(&mut b);
        f.commit(&b)?;
        Ok(f)
    }

    /// The addresses blocked now.
    pub fn blocked(&self) -> impl Iterator<Item = &IpAddr> {
        self.blocked.keys()
    }

    fn skeleton(&self, b: &mut Batch) {
        let t = &self.table;
        for (name, key_type, key_len) in [("vips4", TYPE_IPADDR, 4), ("vips6", TYPE_IP6ADDR, 16)] {
            b.add_set(
                TABLE_GROUP,
                t,
                &SetSpec {
                    name: name.to_string(),
                    key_type,
                    key_len,
                    data: None,
                    interval: false,
                    timeout_ms: None,
                    size: None,
                    dynamic: false,
                },
            );
        }
        for (chain, hook, v4_addr, v6_addr) in [
            // Destination address on the way in, source address on the way out.
            ("in", HookPoint::Input, 16u32, 24u32),
            ("out", HookPoint::Output, 12, 8),
        ] {
            let base = BaseChain {
                hook,
                kind: "filter",
                priority: PRIORITY,
            };
            b.add_chain(TABLE_GROUP, t, chain, Some(&base));
            for nd in [ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT] {
                b.add_rule(
                    TABLE_GROUP,
                    t,
                    chain,
                    vec![
                        meta(MetaKey::L4Proto, r(0)),
                        cmp(r(0), Operator::Equal, &[IPPROTO_ICMPV6]),
                        payload(Base::Transport, 0, 1, r(0)),
                        cmp(r(0), Operator::Equal, &[nd]),
                        expr::verdict(&Action::Accept),
                    ],
                    "neighbour discovery passes",
                );
            }
            for (proto, offset, len, set) in [
                (NFPROTO_IPV4, v4_addr, 4, "vips4"),
                (NFPROTO_IPV6, v6_addr, 16, "vips6"),
            ] {
                b.add_rule(
                    TABLE_GROUP,
                    t,
                    chain,
                    vec![
                        meta(MetaKey::Nfproto, r(0)),
                        cmp(r(0), Operator::Equal, &[proto]),
                        payload(Base::Network, offset, len, r(0)),
                        lookup(set, r(0), None),
                        expr::verdict(&Action::Drop),
                    ],
                    "virtual addresses of a master without accept mode",
                );
            }
        }
    }

    /// Drop traffic to and from `addrs` (one instance's addresses, as it becomes master).
    pub fn block(&mut self, addrs: &[IpAddr]) -> Result<(), Error> {
        let mut b = Batch::new();
        for a in addrs {
            let n = self.blocked.get(a).copied().unwrap_or(0);
            if n == 0 {
                b.add_elements(
                    TABLE_GROUP,
                    &self.table,
                    set_name(a),
                    &[Element::key(key(a))],
                );
            }
        }
        self.commit(&b)?;
        for a in addrs {
            *self.blocked.entry(*a).or_insert(0) += 1;
        }
        Ok(())
    }

    /// Let `addrs` through again (the instance left master, or stopped).
    pub fn unblock(&mut self, addrs: &[IpAddr]) -> Result<(), Error> {
        let mut b = Batch::new();
        let mut gone = Vec::new();
        for a in addrs {
            if self.blocked.get(a) == Some(&1) {
                b.delete_elements(
                    TABLE_GROUP,
                    &self.table,
                    set_name(a),
                    &[Element::key(key(a))],
                );
                gone.push(*a);
            }
        }
        self.commit(&b)?;
        for a in addrs {
            if let Some(n) = self.blocked.get_mut(a) {
                *n -= 1;
                if *n == 0 {
                    self.blocked.remove(a);
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self, b: &Batch) -> Result<(), Error> {
        table::commit(&mut self.sock, b, &self.table)
    }
}

impl Drop for VipFilter {
    fn drop(&mut self) {
        // The kernel deletes an owned table when its socket closes; say so explicitly too,
        // so nothing is left even if the socket outlives us in a fork.
        let mut b = Batch::new();
        b.delete_table(TABLE_GROUP, &self.table);
        let _ = self.sock.commit(&b);
    }
}
