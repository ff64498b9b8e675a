//! nftables expressions, the instructions of a rule's little register machine.
//!
//! The ones netlink-packet-netfilter types (payload, meta, cmp, bitwise, lookup, immediate)
//! are built with its types; the rest (numgen, hash, byteorder, dynset, nat, masq, fwd, ct)
//! through its raw expression (`Expressions::Other`) with the attribute numbers of
//! `linux/netfilter/nf_tables.h`. Every number on the wire is big-endian, as the kernel reads
//! it (`ntohl(nla_get_be32(..))`).

use netlink_packet_core::{DefaultNla, NLA_TYPE_MASK, Nla};
use netlink_packet_netfilter::nftables::{
    Bitwise, Cmp, DataAttribute, ExpressionAttribute, Expressions, Immediate, ListAttribute,
    Lookup, Meta, Payload, Register, RuleAttribute, Verdict, VerdictAttribute,
};

/// The typed keys and operators rules are built with, so a user of this crate needs no
/// other.
pub use netlink_packet_netfilter::nftables::{MetaKey, Operator};

/// One expression of a rule, ready to go into `NFTA_RULE_EXPRESSIONS`.
pub type Expr = ListAttribute<ExpressionAttribute>;

/// A 32-bit register, `NFT_REG32_00 + n` (0..16). Wider values take consecutive ones: an
/// IPv6 address loaded into `r(4)` fills `r(4)..=r(7)`.
pub fn r(n: u32) -> Register {
    debug_assert!(n < 16, "nftables has 16 registers of 32 bits");
    Register::Other(8 + n)
}

/// The verdict register (lookups in verdict maps write it).
pub const VERDICT: Register = Register::Verdict;

/// Where a payload load starts counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The Ethernet header (netdev tables).
    Link = 0,
    /// The IP header.
    Network = 1,
    /// The TCP/UDP/SCTP header.
    Transport = 2,
}

fn raw(name: &str, attrs: Vec<DefaultNla>) -> Expr {
    Expressions::Other {
        expression_type: name.to_string(),
        attributes: attrs,
    }
    .into()
}

fn be32(kind: u16, v: u32) -> DefaultNla {
    DefaultNla::new(kind, v.to_be_bytes().to_vec())
}

fn reg32(kind: u16, reg: Register) -> DefaultNla {
    be32(kind, u32::from(reg))
}

/// Load `len` bytes at `offset` from `base` into `dreg`.
pub fn payload(base: Base, offset: u32, len: u32, dreg: Register) -> Expr {
    Expressions::Payload(vec![
        Payload::DestinationRegister(dreg),
        Payload::Base(base as u32),
        Payload::Offset(offset),
        Payload::Len(len),
    ])
    .into()
}

/// Load packet metadata (`meta l4proto`, `meta mark`, `meta iif`, ...) into `dreg`.
pub fn meta(key: MetaKey, dreg: Register) -> Expr {
    Expressions::Meta(vec![Meta::DestinationRegister(dreg), Meta::Key(key)]).into()
}

/// Compare a register with `data`: the rule stops here unless `op` holds.
pub fn cmp(sreg: Register, op: Operator, data: &[u8]) -> Expr {
    Expressions::Cmp(vec![
        Cmp::SourceRegister(sreg),
        Cmp::Op(op),
        Cmp::Data(DataAttribute::Value(data.to_vec())),
    ])
    .into()
}

/// `dreg = (sreg & mask) ^ 0` over `mask.len()` bytes.
pub fn and(sreg: Register, dreg: Register, mask: &[u8]) -> Expr {
    Expressions::Bitwise(vec![
        Bitwise::SourceRegister(sreg),
        Bitwise::DestinationRegister(dreg),
        Bitwise::Length(mask.len() as u32),
        Bitwise::Mask(DataAttribute::Value(mask.to_vec())),
        Bitwise::Xor(DataAttribute::Value(vec![0; mask.len()])),
    ])
    .into()
}

/// Look the key in `sreg` up in `set`: the rule stops on a miss; a map writes the value to
/// `dreg` (the verdict register for a verdict map, which jumps).
pub fn lookup(set: &str, sreg: Register, dreg: Option<Register>) -> Expr {
    let mut attrs = vec![Lookup::Set(set.to_string()), Lookup::SourceRegister(sreg)];
    if let Some(d) = dreg {
        attrs.push(Lookup::DestinationRegister(d));
    }
    Expressions::Lookup(attrs).into()
}

/// A verdict: the packet's fate, or a jump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Drop,
    Accept,
    Jump(String),
}

/// The nft_data of a verdict, as immediates and verdict-map elements carry it.
pub fn verdict_data(action: &Action) -> DataAttribute {
    let attrs = match action {
        Action::Drop => vec![VerdictAttribute::Code(Verdict::Other(0))],
        Action::Accept => vec![VerdictAttribute::Code(Verdict::Other(1))],
        Action::Jump(chain) => vec![
            VerdictAttribute::Code(Verdict::Jump),
            VerdictAttribute::Chain(chain.clone()),
        ],
    };
    DataAttribute::Verdict(attrs)
}

/// End the rule with a verdict.
pub fn verdict(action: &Action) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(VERDICT),
        Immediate::Data(verdict_data(action)),
    ])
    .into()
}

/// Load a constant into a register.
pub fn immediate(dreg: Register, data: &[u8]) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(dreg),
        Immediate::Data(DataAttribute::Value(data.to_vec())),
    ])
    .into()
}

// numgen: NFTA_NG_DREG, NFTA_NG_MODULUS, NFTA_NG_TYPE (NFT_NG_INCREMENTAL = 0).
/// `numgen inc mod modulus` into `dreg`: 0, 1, ... modulus-1, 0, ... one step per packet
/// that reaches it (a counter of the expression, kept while the rule lives).
pub fn numgen_inc(modulus: u32, dreg: Register) -> Expr {
    raw("numgen", vec![reg32(1, dreg), be32(2, modulus), be32(3, 0)])
}

// hash: NFTA_HASH_SREG 1, DREG 2, LEN 3, MODULUS 4, SEED 5, TYPE 7 (NFT_HASH_JENKINS = 0).
/// `jhash <len bytes at sreg> mod modulus seed seed` into `dreg`.
pub fn jhash(sreg: Register, len: u32, modulus: u32, seed: u32, dreg: Register) -> Expr {
    raw(
        "hash",
        vec![
            reg32(1, sreg),
            reg32(2, dreg),
            be32(3, len),
            be32(4, modulus),
            be32(5, seed),
            be32(7, 0),
        ],
    )
}

// byteorder: SREG 1, DREG 2, OP 3 (NFT_BYTEORDER_HTON = 1), LEN 4, SIZE 5.
/// Turn a host-order 32-bit number into network order, so interval maps (ordered by bytes)
/// see numbers in their numeric order.
pub fn hton32(sreg: Register, dreg: Register) -> Expr {
    raw(
        "byteorder",
        vec![
            reg32(1, sreg),
            reg32(2, dreg),
            be32(3, 1),
            be32(4, 4),
            be32(5, 4),
        ],
    )
}

/// What a dynset does with its element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Insert unless present.
    Add = 0,
    /// Insert unless present; refresh the timeout of a present one (its value stays).
    Update = 1,
    /// Remove if present.
    Delete = 2,
}

// dynset: SET_NAME 1, OP 3, SREG_KEY 4, SREG_DATA 5.
/// Change `set` from the packet path: the key in `key`, a map's value in `data` (the kernel
/// wants a value register for a map even to delete, and ignores it then).
/// A full set stops the rule.
pub fn dynset(set: &str, op: SetOp, key: Register, data: Option<Register>) -> Expr {
    let mut attrs = vec![
        DefaultNla::new(1, nul_terminated(set)),
        be32(3, op as u32),
        reg32(4, key),
    ];
    if let Some(d) = data {
        attrs.push(reg32(5, d));
    }
    raw("dynset", attrs)
}

/// Address families as nftables numbers them (`NFPROTO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NfProto {
    Inet = 1,
    Ipv4 = 2,
    Netdev = 5,
    Ipv6 = 10,
}

// nat: TYPE 1 (NFT_NAT_DNAT = 1), FAMILY 2, REG_ADDR_MIN 3, REG_PROTO_MIN 5, FLAGS 7.
/// Destination NAT to the address in `addr` (and the port in `port`).
pub fn dnat(family: NfProto, addr: Register, port: Option<Register>) -> Expr {
    // NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED
    let mut flags = 1;
    let mut attrs = vec![be32(1, 1), be32(2, family as u32), reg32(3, addr)];
    if let Some(p) = port {
        attrs.push(reg32(5, p));
        flags |= 2;
    }
    attrs.push(be32(7, flags));
    raw("nat", attrs)
}

/// Source NAT to the address of the interface the packet leaves by.
pub fn masquerade() -> Expr {
    raw("masq", vec![])
}

// fwd: SREG_DEV 1, SREG_ADDR 2, NFPROTO 3.
/// Send the frame out of the interface whose index is in `dev`, to the neighbour (MAC)
/// of the address in `addr`: the IP header is left as it is (LVS direct routing).
pub fn fwd(dev: Register, addr: Register, family: NfProto) -> Expr {
    raw(
        "fwd",
        vec![reg32(1, dev), reg32(2, addr), be32(3, family as u32)],
    )
}

/// Conntrack keys used here (`NFT_CT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtKey {
    Labels = 13,
}

// ct: DREG 1, KEY 2, SREG 4.
/// Load a conntrack field into `dreg`.
pub fn ct_load(key: CtKey, dreg: Register) -> Expr {
    raw("ct", vec![reg32(1, dreg), be32(2, key as u32)])
}

/// Set a conntrack field from `sreg` (labels: the bits set there are added).
pub fn ct_set(key: CtKey, sreg: Register) -> Expr {
    raw("ct", vec![be32(2, key as u32), reg32(4, sreg)])
}

/// A counter, so `nft list ruleset` shows what each rule matched.
pub fn counter() -> Expr {
    raw("counter", vec![])
}

/// What the counters of a rule, as the kernel lists it, have counted: (packets, bytes).
/// `None` for a rule without a counter.
pub fn counted(rule: &[RuleAttribute]) -> Option<(u64, u64)> {
    // NFTA_COUNTER_BYTES = 1, NFTA_COUNTER_PACKETS = 2, both big-endian u64.
    let be64 = |nla: &DefaultNla| -> Option<u64> {
        let mut v = [0u8; 8];
        (nla.value_len() == 8).then(|| {
            nla.emit_value(&mut v);
            u64::from_be_bytes(v)
        })
    };
    let mut total: Option<(u64, u64)> = None;
    for attr in rule {
        let RuleAttribute::Expressions(exprs) = attr else {
            continue;
        };
        for expr in exprs {
            let ListAttribute::Element(parts) = expr else {
                continue;
            };
            for part in parts {
                let ExpressionAttribute::Data(Expressions::Other {
                    expression_type,
                    attributes,
                }) = part
                else {
                    continue;
                };
                if expression_type != "counter" {
                    continue;
                }
                let (mut packets, mut bytes) = total.unwrap_or_default();
                for nla in attributes {
                    match nla.kind() & NLA_TYPE_MASK {
                        1 => bytes += be64(nla).unwrap_or(0),
                        2 => packets += be64(nla).unwrap_or(0),
                        _ => {}
                    }
                }
                total = Some((packets, bytes));
            }
        }
    }
    total
}

pub(crate) fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(e: &Expr) -> (String, Vec<DefaultNla>) {
        let ListAttribute::Element(attrs) = e else {
            panic!("not an element");
        };
        let mut name = String::new();
        let mut data = vec![];
        for a in attrs {
            match a {
                ExpressionAttribute::Name(n) => name = n.clone(),
                ExpressionAttribute::Data(Expressions::Other { attributes, .. }) => {
                    data = attributes.clone()
                }
                _ => {}
            }
        }
        (name, data)
    }

    #[test]
    fn a_listed_rule_tells_what_its_counter_counted() {
        let listed_counter = |packets: u64, bytes: u64| -> Expr {
            Expressions::Other {
                expression_type: "counter".into(),
                attributes: vec![
                    DefaultNla::new(1, bytes.to_be_bytes().to_vec()),
                    DefaultNla::new(2, packets.to_be_bytes().to_vec()),
                ],
            }
            .into()
        };
        let rule = vec![RuleAttribute::Expressions(vec![
            meta(MetaKey::L4Proto, r(0)),
            cmp(r(0), Operator::Equal, &[112]),
            listed_counter(7, 280),
            verdict(&Action::Drop),
        ])];
        assert_eq!(counted(&rule), Some((7, 280)));
        let uncounted = vec![RuleAttribute::Expressions(vec![verdict(&Action::Drop)])];
        assert_eq!(counted(&uncounted), None);
    }

    #[test]
    fn raw_expressions_carry_their_name_and_big_endian_numbers() {
        let (name, attrs) = parts(&numgen_inc(6, r(0)));
        assert_eq!(name, "numgen");
        assert_eq!(attrs[0], DefaultNla::new(1, vec![0, 0, 0, 8]));
        assert_eq!(attrs[1], DefaultNla::new(2, vec![0, 0, 0, 6]));
        let (name, attrs) = parts(&dynset("s", SetOp::Delete, r(4), None));
        // (a plain set: no value register)
        assert_eq!(name, "dynset");
        assert_eq!(attrs[0], DefaultNla::new(1, b"s\0".to_vec()));
        assert_eq!(attrs[1], DefaultNla::new(3, vec![0, 0, 0, 2]));
        assert_eq!(attrs.len(), 3);
        let (_, attrs) = parts(&dnat(NfProto::Ipv6, r(0), Some(r(4))));
        assert_eq!(attrs.last(), Some(&DefaultNla::new(7, vec![0, 0, 0, 3])));
    }
}
