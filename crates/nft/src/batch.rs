//! A transaction: nftables messages between a batch begin and a batch end, which the kernel
//! applies all together or not at all.
//!
//! Every message carries a label (what object it touches, and which part of the caller's
//! model it belongs to), so a refusal can be reported as "chain netdev baton_lvs ingress_eth9
//! of service X: No such file or directory" and the caller can retry without that part.

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, DataAttribute, DevHookNumber, ExpressionAttribute, Hook,
    HookNumber, InetHookNumber, ListAttribute, NfTablesMessage, RuleAttribute, RuleMessage,
    SetAttribute, SetDescription, SetElementAttribute, SetElementFlags, SetElementList,
    SetElementMessage, SetFlags, SetMessage, TableAttribute, TableFlags, TableMessage,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterProtoFamily, none::ControlMessage,
};

use crate::expr::{Action, Expr, NfProto, verdict_data};

/// `NFNL_SUBSYS_NFTABLES`: the batch begin names the subsystem the batch is for.
const NFNL_SUBSYS_NFTABLES: u16 = 10;

/// Who a message belongs to, in the terms of the table's user (a service, an interface).
pub type Group = u32;

/// The group of messages whose failure fails the whole transaction (the table itself).
pub const TABLE_GROUP: Group = 0;

/// What one message of a batch does, for error reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub group: Group,
    /// e.g. `add chain inet baton_lvs vs_10_0_0_1_tcp_80`.
    pub what: String,
}

/// A table: its family and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    pub family: NfProto,
    pub name: String,
}

impl TableId {
    pub fn new(family: NfProto, name: &str) -> TableId {
        TableId {
            family,
            name: name.to_string(),
        }
    }

    fn family_name(&self) -> &'static str {
        match self.family {
            NfProto::Inet => "inet",
            NfProto::Ipv4 => "ip",
            NfProto::Ipv6 => "ip6",
            NfProto::Netdev => "netdev",
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.family_name(), self.name)
    }
}

/// Where a base chain hooks into the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookPoint {
    Prerouting,
    /// Packets delivered to the host itself (`hook input`).
    Input,
    Output,
    Postrouting,
    /// netdev ingress on one interface.
    Ingress(String),
}

/// A base chain: hooked into the stack, with a type (`nat`, `filter`) and a priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChain {
    pub hook: HookPoint,
    pub kind: &'static str,
    pub priority: i32,
}

/// A set or map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSpec {
    pub name: String,
    /// nft's datatype of the key (for `nft list`), and its length in bytes.
    pub key_type: u32,
    pub key_len: u32,
    /// For a map: the value's datatype and length (`None` length: a verdict map).
    pub data: Option<(u32, Option<u32>)>,
    pub interval: bool,
    /// Elements added from the packet path expire after this long without an update.
    pub timeout_ms: Option<u64>,
    /// Most elements; the packet path cannot add beyond it.
    pub size: Option<u32>,
    /// Changed from the packet path (dynset).
    pub dynamic: bool,
}

/// A set element: key, and for a map its value; `interval_end` closes the interval the
/// previous element opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<u8>,
    pub value: Option<ElementValue>,
    pub interval_end: bool,
}

/// A map element's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementValue {
    Data(Vec<u8>),
    Verdict(Action),
}

impl Element {
    pub fn map(key: Vec<u8>, value: Vec<u8>) -> Element {
        Element {
            key,
            value: Some(ElementValue::Data(value)),
            interval_end: false,
        }
    }

    pub fn verdict(key: Vec<u8>, action: Action) -> Element {
        Element {
            key,
            value: Some(ElementValue::Verdict(action)),
            interval_end: false,
        }
    }

    pub fn key(key: Vec<u8>) -> Element {
        Element {
            key,
            value: None,
            interval_end: false,
        }
    }

    pub fn end(key: Vec<u8>) -> Element {
        Element {
            key,
            value: None,
            interval_end: true,
        }
    }

    fn attrs(&self) -> Vec<SetElementAttribute> {
        let mut a = vec![SetElementAttribute::Key(DataAttribute::Value(
            self.key.clone(),
        ))];
        match &self.value {
            Some(ElementValue::Data(d)) => {
                a.push(SetElementAttribute::Data(DataAttribute::Value(d.clone())))
            }
            Some(ElementValue::Verdict(v)) => a.push(SetElementAttribute::Data(verdict_data(v))),
            None => {}
        }
        if self.interval_end {
            a.push(SetElementAttribute::Flags(SetElementFlags::IntervalEnd));
        }
        a
    }
}

/// Elements go to the kernel in messages of at most this many, as nft does, so one message
/// stays well under a netlink page budget.
const ELEMENTS_PER_MESSAGE: usize = 256;

/// One transaction being built.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    msgs: Vec<(NfTablesMessage, NfProto, u16, Label)>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// The label of message `i` (as counted from 0 after the batch begin).
    pub fn label(&self, i: usize) -> Option<&Label> {
        self.msgs.get(i).map(|m| &m.3)
    }

    /// Append another batch's messages.
    pub fn extend(&mut self, other: Batch) {
        self.msgs.extend(other.msgs);
    }

    /// Keep only the messages of groups `keep` says yes to.
    pub fn retain_groups(&mut self, keep: impl Fn(Group) -> bool) {
        self.msgs.retain(|m| keep(m.3.group));
    }

    fn push(
        &mut self,
        group: Group,
        family: NfProto,
        flags: u16,
        msg: NfTablesMessage,
        what: String,
    ) {
        self.msgs.push((msg, family, flags, Label { group, what }));
    }

    /// Create the table unless it exists. `owner`: the table belongs to this netlink socket;
    /// nobody else may change it, and the kernel removes it when the socket closes (a crash
    /// included).
    pub fn add_table(&mut self, group: Group, t: &TableId, owner: bool) {
        let mut attrs = vec![TableAttribute::Name(t.name.clone())];
        if owner {
            attrs.push(TableAttribute::Flags(TableFlags::Owner));
        }
        self.push(
            group,
            t.family,
            NLM_F_CREATE,
            NfTablesMessage::NewTable(TableMessage { attributes: attrs }),
            format!("add table {t}"),
        );
    }

    /// Delete the table with everything in it (it must exist).
    pub fn delete_table(&mut self, group: Group, t: &TableId) {
        self.push(
            group,
            t.family,
            0,
            NfTablesMessage::DeleteTable(TableMessage {
                attributes: vec![TableAttribute::Name(t.name.clone())],
            }),
            format!("delete table {t}"),
        );
    }

    /// Add a chain; a base chain hooks into the stack with policy accept.
    pub fn add_chain(&mut self, group: Group, t: &TableId, name: &str, base: Option<&BaseChain>) {
        let mut attrs = vec![
            ChainAttribute::Table(t.name.clone()),
            ChainAttribute::Name(name.to_string()),
        ];
        let mut what = format!("add chain {t} {name}");
        if let Some(b) = base {
            let mut hook = vec![];
            match &b.hook {
                HookPoint::Ingress(dev) => {
                    hook.push(Hook::Number(HookNumber::Dev(DevHookNumber::Ingress)));
                    hook.push(Hook::Priority(b.priority as u32));
                    hook.push(Hook::NetDeviceName(dev.clone()));
                    what = format!("{what} (ingress hook on device {dev})");
                }
                p => {
                    let n = match p {
                        HookPoint::Prerouting => InetHookNumber::PreRouting,
                        HookPoint::Input => InetHookNumber::LocalIn,
                        HookPoint::Output => InetHookNumber::LocalOut,
                        _ => InetHookNumber::PostRouting,
                    };
                    hook.push(Hook::Number(HookNumber::Inet(n)));
                    hook.push(Hook::Priority(b.priority as u32));
                }
            }
            attrs.push(ChainAttribute::Hook(hook));
            attrs.push(ChainAttribute::Type(b.kind.to_string()));
            attrs.push(ChainAttribute::Policy(1)); // NF_ACCEPT
        }
        self.push(
            group,
            t.family,
            NLM_F_CREATE,
            NfTablesMessage::NewChain(ChainMessage { attributes: attrs }),
            what,
        );
    }

    /// Delete a chain and its rules (nothing may jump to it any more).
    pub fn delete_chain(&mut self, group: Group, t: &TableId, name: &str) {
        self.push(
            group,
            t.family,
            0,
            NfTablesMessage::DeleteChain(ChainMessage {
                attributes: vec![
                    ChainAttribute::Table(t.name.clone()),
                    ChainAttribute::Name(name.to_string()),
                ],
            }),
            format!("delete chain {t} {name}"),
        );
    }

    /// Remove every rule of a chain.
    pub fn flush_chain(&mut self, group: Group, t: &TableId, name: &str) {
        self.push(
            group,
            t.family,
            0,
            NfTablesMessage::DeleteRule(RuleMessage {
                attributes: vec![
                    RuleAttribute::Table(t.name.clone()),
                    RuleAttribute::Chain(name.to_string()),
                ],
            }),
            format!("flush chain {t} {name}"),
        );
    }

    /// Append a rule to a chain.
    pub fn add_rule(
        &mut self,
        group: Group,
        t: &TableId,
        chain: &str,
        exprs: Vec<Expr>,
        note: &str,
    ) {
        let exprs: Vec<ListAttribute<ExpressionAttribute>> = exprs;
        self.push(
            group,
            t.family,
            NLM_F_CREATE | netlink_packet_core::NLM_F_APPEND,
            NfTablesMessage::NewRule(RuleMessage {
                attributes: vec![
                    RuleAttribute::Table(t.name.clone()),
                    RuleAttribute::Chain(chain.to_string()),
                    RuleAttribute::Expressions(exprs),
                ],
            }),
            format!("add rule {t} {chain} ({note})"),
        );
    }

    /// Create a set or map.
    pub fn add_set(&mut self, group: Group, t: &TableId, s: &SetSpec) {
        let mut flags = SetFlags::empty();
        if s.interval {
            flags |= SetFlags::Interval;
        }
        if s.data.is_some() {
            flags |= SetFlags::Map;
        }
        if s.timeout_ms.is_some() {
            flags |= SetFlags::Timeout;
        }
        if s.dynamic {
            flags |= SetFlags::Eval;
        }
        let mut attrs = vec![
            SetAttribute::Table(t.name.clone()),
            SetAttribute::Name(s.name.clone()),
            SetAttribute::Flags(flags),
            SetAttribute::KeyType(s.key_type),
            SetAttribute::KeyLen(s.key_len),
            // A set needs an id unique within the transaction.
            SetAttribute::Id(self.msgs.len() as u32 + 1),
        ];
        if let Some((ty, len)) = s.data {
            attrs.push(SetAttribute::DataType(ty));
            if let Some(len) = len {
                attrs.push(SetAttribute::DataLen(len));
            }
        }
        if let Some(ms) = s.timeout_ms {
            attrs.push(SetAttribute::Timeout(ms));
        }
        if let Some(size) = s.size {
            attrs.push(SetAttribute::Description(vec![SetDescription::Size(size)]));
        }
        self.push(
            group,
            t.family,
            NLM_F_CREATE,
            NfTablesMessage::NewSet(SetMessage { attributes: attrs }),
            format!("add set {t} {}", s.name),
        );
    }

    /// Delete a set (no rule may use it any more).
    pub fn delete_set(&mut self, group: Group, t: &TableId, name: &str) {
        self.push(
            group,
            t.family,
            0,
            NfTablesMessage::DeleteSet(SetMessage {
                attributes: vec![
                    SetAttribute::Table(t.name.clone()),
                    SetAttribute::Name(name.to_string()),
                ],
            }),
            format!("delete set {t} {name}"),
        );
    }

    /// Remove every element of a set.
    pub fn flush_set(&mut self, group: Group, t: &TableId, name: &str) {
        self.push(
            group,
            t.family,
            0,
            NfTablesMessage::DeleteSetElement(SetElementMessage {
                attributes: vec![
                    SetElementList::Table(t.name.clone()),
                    SetElementList::Set(name.to_string()),
                ],
            }),
            format!("flush set {t} {name}"),
        );
    }

    /// Add elements to a set.
    pub fn add_elements(&mut self, group: Group, t: &TableId, set: &str, elems: &[Element]) {
        self.elements(group, t, set, elems, true);
    }

    /// Delete elements from a set.
    pub fn delete_elements(&mut self, group: Group, t: &TableId, set: &str, elems: &[Element]) {
        self.elements(group, t, set, elems, false);
    }

    fn elements(&mut self, group: Group, t: &TableId, set: &str, elems: &[Element], add: bool) {
        for chunk in elems.chunks(ELEMENTS_PER_MESSAGE) {
            let list = chunk
                .iter()
                .map(|e| ListAttribute::Element(e.attrs()))
                .collect();
            let attributes = vec![
                SetElementList::Table(t.name.clone()),
                SetElementList::Set(set.to_string()),
                SetElementList::Elements(list),
            ];
            let msg = SetElementMessage { attributes };
            let (msg, flags, verb) = if add {
                (NfTablesMessage::NewSetElement(msg), NLM_F_CREATE, "add")
            } else {
                (NfTablesMessage::DeleteSetElement(msg), 0, "delete")
            };
            let what = format!("{verb} {} element(s) of set {t} {set}", chunk.len());
            self.push(group, t.family, flags, msg, what);
        }
    }

    /// The batch as netlink bytes, messages numbered from `seq` (the batch begin) on; every
    /// message asks for an acknowledgement, so each one is answered.
    pub fn encode(&self, seq: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let control = |inner: ControlMessage, seq: u32| {
            let mut m = NetlinkMessage::from(NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
                inner,
            ));
            m.header.flags = NLM_F_REQUEST;
            m.header.sequence_number = seq;
            m
        };
        append(&mut out, control(ControlMessage::BatchBegin, seq));
        for (i, (msg, family, flags, _)) in self.msgs.iter().enumerate() {
            let mut header = NetlinkHeader::default();
            header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
            header.sequence_number = seq.wrapping_add(1 + i as u32);
            let payload = NetlinkPayload::InnerMessage(NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::from(*family as u8), 0, 0),
                msg.clone(),
            ));
            append(&mut out, NetlinkMessage::new(header, payload));
        }
        let end = seq.wrapping_add(1 + self.msgs.len() as u32);
        append(&mut out, control(ControlMessage::BatchEnd, end));
        out
    }

    /// How many sequence numbers [`encode`](Self::encode) uses.
    pub fn seq_span(&self) -> u32 {
        self.msgs.len() as u32 + 2
    }
}

fn append(out: &mut Vec<u8>, mut m: NetlinkMessage<NetfilterMessage>) {
    m.finalize();
    let start = out.len();
    out.resize(start + m.buffer_len(), 0);
    m.serialize(&mut out[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_framed_by_begin_and_end_and_numbered() {
        let t = TableId::new(NfProto::Inet, "baton_test");
        let mut b = Batch::new();
        b.add_table(TABLE_GROUP, &t, true);
        b.add_chain(7, &t, "c", None);
        let bytes = b.encode(100);
        // nlmsghdr: len u32, type u16, flags u16, seq u32, pid u32 (host order).
        let ty = |off: usize| u16::from_ne_bytes([bytes[off + 4], bytes[off + 5]]);
        let seq = |off: usize| u32::from_ne_bytes(bytes[off + 8..off + 12].try_into().unwrap());
        let len = |off: usize| u32::from_ne_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        let mut off = 0;
        let mut seen = vec![];
        while off < bytes.len() {
            seen.push((ty(off), seq(off)));
            off += (len(off) + 3) & !3;
        }
        // 0x10 batch begin, 0x0a00 = NFT_MSG_NEWTABLE, 0x0a03 = NEWCHAIN, 0x11 batch end.
        assert_eq!(
            seen,
            [(0x10, 100), (0x0a00, 101), (0x0a03, 102), (0x11, 103)]
        );
        // The begin names the nftables subsystem in network order (res_id).
        assert_eq!(&bytes[18..20], &[0, 10]);
        assert_eq!(b.label(1).map(|l| l.group), Some(7));
        assert_eq!(b.seq_span(), 4);
    }
}
