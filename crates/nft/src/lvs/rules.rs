//! The rules of a service chain and of its servers' chains.
//!
//! Every rule is one nft itself could have written: keys come from packet data, values
//! written into maps are constants of the server's own chain, and only statements (dnat,
//! fwd, a verdict map) consume a lookup's result. That is what keeps `nft list ruleset`
//! able to print baton's tables for an administrator.
//!
//! Registers (32-bit numbers): the server's address (and port) 0..5, the persistence key
//! 5..9, the connection key (client address and port, also the hash input) 9..14, the input
//! interface 14.

use netlink_packet_netfilter::nftables::{MetaKey, Operator};

use super::model::Family;
use super::render::{
    HASH_SEED, MASQ_LABEL, Member, Place, addr_bytes, daddr_offset, family_check, port_bytes,
    saddr_offset,
};
use super::schedule::{Pick, SlotSource};
use crate::expr::{
    self, Action, Base, CtKey, Expr, NfProto, SetOp, and, cmp, counter, dynset, immediate, lookup,
    meta, payload, r, verdict,
};

const VALUE: u32 = 0;
const PERS_KEY: u32 = 5;
const CONN_KEY: u32 = 9;
const IIF: u32 = 14;

pub(crate) type Rule = (String, Vec<Expr>);

/// What the rules of one service need to know.
pub(crate) struct Rules {
    pub place: Place,
    pub family: Family,
    pub sched_set: String,
    /// DR: the connection map.
    pub conn: Option<String>,
    pub tcp: bool,
    /// Persistence mask, when the service is persistent.
    pub mask: Option<Vec<u8>>,
    pub masquerade: bool,
}

impl Rules {
    fn a(&self) -> u32 {
        self.family.addr_len()
    }

    fn nfproto(&self) -> NfProto {
        match self.family {
            Family::Ipv4 => NfProto::Ipv4,
            Family::Ipv6 => NfProto::Ipv6,
        }
    }

    /// The family check: firewall-mark services take packets of both families from the
    /// mark map and keep theirs; for address services it also lets `nft list` name fields
    /// (`ip saddr` rather than `@nh,96,32`).
    fn prefix(&self) -> Vec<Expr> {
        family_check(&self.place, self.family)
    }

    /// The client's address under the persistence mask.
    fn pers_key(&self, mask: &[u8]) -> Vec<Expr> {
        vec![
            payload(
                Base::Network,
                saddr_offset(self.family),
                self.a(),
                r(PERS_KEY),
            ),
            and(r(PERS_KEY), r(PERS_KEY), mask),
        ]
    }

    /// The client's address (and port).
    fn client(&self, with_port: bool) -> Vec<Expr> {
        let mut e = vec![payload(
            Base::Network,
            saddr_offset(self.family),
            self.a(),
            r(CONN_KEY),
        )];
        if with_port {
            e.push(payload(Base::Transport, 0, 2, r(CONN_KEY + self.a() / 4)));
        }
        e
    }

    /// Load a server's address into the value register.
    fn server_addr(&self, m: &Member) -> Expr {
        immediate(r(VALUE), &addr_bytes(&m.addr))
    }

    /// NAT to the server: its address (and port) as constants.
    fn dnat(&self, m: &Member) -> Vec<Expr> {
        let mut e = Vec::new();
        if self.masquerade {
            e.push(immediate(r(CONN_KEY), &MASQ_LABEL));
            e.push(expr::ct_set(CtKey::Labels, r(CONN_KEY)));
        }
        e.push(self.server_addr(m));
        let port = m.port.map(|p| {
            let reg = r(VALUE + self.a() / 4);
            e.push(immediate(reg, &port_bytes(p)[..2]));
            reg
        });
        e.push(counter());
        e.push(expr::dnat(self.nfproto(), r(VALUE), port));
        e
    }

    /// DR: send the frame to the server out of the interface it came in by.
    fn forward(&self, m: &Member) -> Vec<Expr> {
        vec![
            self.server_addr(m),
            meta(MetaKey::Iif, r(IIF)),
            counter(),
            expr::fwd(r(IIF), r(VALUE), self.nfproto()),
        ]
    }

    /// DR: remember the connection's server (replacing what a reused client port had).
    fn remember(&self, conn: &str, m: &Member) -> Vec<Expr> {
        let mut e = self.client(true);
        e.push(self.server_addr(m));
        e.push(dynset(conn, SetOp::Delete, r(CONN_KEY), Some(r(VALUE))));
        e.push(dynset(conn, SetOp::Add, r(CONN_KEY), Some(r(VALUE))));
        e
    }

    /// TCP: stop unless the segment is not a bare SYN (a SYN opens a new connection).
    fn not_syn(&self) -> Vec<Expr> {
        if !self.tcp {
            return Vec::new();
        }
        vec![
            payload(Base::Transport, 13, 1, r(VALUE)),
            and(r(VALUE), r(VALUE), &[0x12]),
            cmp(r(VALUE), Operator::NotEqual, &[0x02]),
        ]
    }

    /// The service chain.
    pub fn service(&self, members: &[Member], choice: &Pick) -> Vec<Rule> {
        let mut rules = Vec::new();
        if let Some(conn) = &self.conn {
            // DR: packets of known connections, refreshing the entry while its server is
            // in the service.
            for m in members {
                let mut e = self.prefix();
                e.extend(self.not_syn());
                e.extend(self.client(true));
                e.push(lookup(conn, r(CONN_KEY), Some(r(VALUE))));
                e.push(cmp(r(VALUE), Operator::Equal, &addr_bytes(&m.addr)));
                e.push(self.server_addr(m));
                e.push(dynset(conn, SetOp::Update, r(CONN_KEY), Some(r(VALUE))));
                e.extend(self.forward(m));
                rules.push((format!("connection to {}", m.addr), e));
            }
            // Connections to a server that left: they keep going until idle.
            let mut e = self.prefix();
            e.extend(self.not_syn());
            e.extend(self.client(true));
            e.push(lookup(conn, r(CONN_KEY), Some(r(VALUE))));
            e.push(meta(MetaKey::Iif, r(IIF)));
            e.push(counter());
            e.push(expr::fwd(r(IIF), r(VALUE), self.nfproto()));
            rules.push(("connection to a server that left".into(), e));
        }
        if let Some(mask) = &self.mask {
            // Pinned clients back to their server, refreshing the pin.
            for m in members {
                let Some(set) = &m.pers_set else { continue };
                let mut e = self.prefix();
                e.extend(self.pers_key(mask));
                e.push(lookup(set, r(PERS_KEY), None));
                e.push(dynset(set, SetOp::Update, r(PERS_KEY), None));
                match &self.conn {
                    Some(conn) => {
                        e.extend(self.remember(conn, m));
                        e.extend(self.forward(m));
                    }
                    None => e.extend(self.dnat(m)),
                }
                rules.push((format!("client pinned to {}", m.addr), e));
            }
        }
        let mut e = self.prefix();
        match choice {
            Pick::Nobody => {}
            Pick::One(i) => {
                e.push(counter());
                e.push(verdict(&Action::Jump(members[*i as usize].chain.clone())));
                rules.push(("new client".into(), e));
            }
            Pick::Slots {
                source, modulus, ..
            } => {
                let v = r(VALUE);
                match source {
                    SlotSource::Counter => e.push(expr::numgen_inc(*modulus, v)),
                    SlotSource::SourceHash { port } => {
                        e.extend(self.client(*port));
                        let len = self.a() + if *port { 4 } else { 0 };
                        e.push(expr::jhash(r(CONN_KEY), len, *modulus, HASH_SEED, v));
                    }
                    SlotSource::DestinationHash => {
                        e.push(payload(
                            Base::Network,
                            daddr_offset(self.family),
                            self.a(),
                            r(CONN_KEY),
                        ));
                        e.push(expr::jhash(r(CONN_KEY), self.a(), *modulus, HASH_SEED, v));
                    }
                }
                e.push(expr::hton32(v, v));
                e.push(lookup(&self.sched_set, v, Some(expr::VERDICT)));
                rules.push(("new client".into(), e));
            }
        }
        rules.push((
            "no real server can take new clients".into(),
            vec![counter(), verdict(&Action::Drop)],
        ));
        rules
    }

    /// A server's chain: pin the client (when persistent) and send it there. The second
    /// rule serves a client the full persistence set could not pin.
    pub fn server(&self, m: &Member) -> Vec<Rule> {
        let mut rules = Vec::new();
        let send = |e: &mut Vec<Expr>| match &self.conn {
            Some(conn) => {
                e.extend(self.remember(conn, m));
                e.extend(self.forward(m));
            }
            None => e.extend(self.dnat(m)),
        };
        if let (Some(mask), Some(set)) = (&self.mask, &m.pers_set) {
            let mut e = self.pers_key(mask);
            e.push(dynset(set, SetOp::Update, r(PERS_KEY), None));
            send(&mut e);
            rules.push(("pin the client and send it".into(), e));
        }
        let mut e = Vec::new();
        send(&mut e);
        rules.push(("send the client".into(), e));
        rules
    }
}
