//! The VRRP protocol core: one state machine per instance (RFC 5798 §6 for v3, RFC 3768 for
//! v2, with keepalived's rules on top), effective priority from trackers, sync groups,
//! graceful shutdown and reload, and a deterministic simulator of a LAN ([`sim`]).
//!
//! It is sans-IO: no sockets, no clocks, no threads, no unseeded randomness. Time is a
//! parameter ([`Instant`], nanoseconds from an epoch the caller picks) and everything the
//! protocol decides comes out as [`Action`]s that the daemon carries out blindly.
//!
//! # Driving a node
//!
//! ```no_run
//! # use baton_vrrp::*;
//! # fn now() -> Instant { Instant::ZERO }
//! # let config = baton_conf::Config::build(|_| {});
//! let env = Environment::new().with_interface("eth0", true, &["192.168.5.11".parse().unwrap()]);
//! let mut node = Node::new(&config, env);
//! let mut actions = Vec::new();
//! node.handle(now(), Input::Start, &mut actions);
//! loop {
//!     for action in actions.drain(..) {
//!         // SendAdvert: node.advert(id, prio) gives the AdvertRepr to emit;
//!         // Add/RemoveAddress, routes, rules, Announce, RunNotify, WriteFifo, Log ...
//!     }
//!     // Sleep until node.next_deadline() or an event (advert, tracker, link, address,
//!     // signal), then feed it: node.handle(now(), Input::Deadline | Input::Advert(..) | ..)
//! #   break;
//! }
//! ```
//!
//! * Received adverts are addressed by interface, family and VRID ([`ReceivedAdvert`]); the
//!   node finds the instance ([`Node::lookup`]) and counts adverts for unknown VRIDs.
//! * Trackers come in by name: script results feed keepalived's rise/fall counter, process
//!   counts its quorum, file values `value × weight`; link and address events come from
//!   netlink as they are (the node picks each instance's source address and notices VIPs
//!   deleted behind its back). Feed initial process counts and file values before `Start`.
//! * Per-advert work allocates nothing: [`Action::SendAdvert`] carries ids and addresses,
//!   and [`Node::advert`] borrows the instance's pre-encoded address list.
//! * [`Node::status`] is the serialisable snapshot for `baton status`.
//! * [`Node::next_deadline`] may be early (a timer pushed back leaves its old entry), never
//!   late; an early [`Input::Deadline`] costs nothing. Map the runtime clock onto
//!   [`Instant`] once, e.g. `Instant::from_nanos(started.elapsed().as_nanos() as u64)`.
//! * Instance ids ([`InstanceId`]) index the node's instances and change on reload: look
//!   them up again after [`Input::Reload`].
//! * [`Action::StateChanged`] needs no IO: the daemon updates its systemd status line on it,
//!   the simulator records it.
//!
//! # keepalived's behaviour, and where baton differs
//!
//! keepalived's semantics are the default, the RFC's under `vrrp_strict`:
//! * all instances start in BACKUP with a full Master_Down_Interval (plus `preempt_delay`),
//!   except an owner (priority 255) with `state MASTER`, which becomes MASTER at once;
//! * a master answers a lower-priority advert with an advert at once (RFC 9568; off with
//!   `lower_prio_no_advert`, and under `vrrp_strict`) and a GARP burst;
//! * a BACKUP accepts equal priority without a tie-break; a MASTER breaks ties on the
//!   numerically higher primary address;
//! * entering FAULT from MASTER and shutting down send a priority-0 advert, then release.
//!
//! Where baton goes further:
//! * **Fast handover** (on unless `vrrp_strict` or `fast_handover off`): a master whose
//!   effective priority drops advertises at once; a preempting backup that sees a master
//!   advertising below its own priority takes over after a short priority-ordered delay
//!   (after `preempt_delay`) instead of waiting out Master_Down_Interval, and a priority-0
//!   advert is followed by the same short delay instead of Skew_Time. See [`timers`] for
//!   the delay and its trade-off. A master that yields to a higher priority sends one
//!   advert first (keepalived's `higher_prio_send_advert`), so after a healed split brain
//!   the winner hears a lower master and re-announces its addresses
//!   ([`split_brain`]). keepalived's timing is kept exactly when it is off.
//!
//!   The seed's pair (VRRPv2, `advert_int 1`, master 200, backup 100), nginx dies on the
//!   master and its tracker reports it at `t`:
//!
//!   | tracker | keepalived / `vrrp_strict` | baton, fast handover |
//!   |---|---|---|
//!   | weight −150 (master drops to 50) | next advert (≤ 1 s), discarded; backup waits out Master_Down_Interval (3.61 s) from the last accepted advert: `t` + 2.61…3.61 s | advert at `t`; backup takes over at `t` + 12.2 ms |
//!   | weight 0 (master to FAULT) | priority-0 advert at `t`; backup waits Skew_Time: `t` + 0.61 s | backup takes over at `t` + 12.2 ms |
//!
//!   (plus the one-way delay of the wire; tests/takeover.rs checks both columns exactly.)
//! * **Mismatch reports**: an advert dropped because the peer's VIP list, interval,
//!   authentication or version differs is named once per peer and field, and listed in
//!   status; keepalived drops such adverts almost silently and the pair splits.
//! * **A VIP deleted behind our back** is put back and announced at once; keepalived leaves
//!   MASTER and the address is missing until another router takes over. `no_track` VIPs are
//!   left alone as in keepalived.
//! * **Two owners on one segment**: the one with the lower address backs off to 254 until
//!   it is the only master again; the higher one stays owner.
#![forbid(unsafe_code)]

pub mod action;
mod advert_check;
pub mod auth_hmac;
pub mod counters;
pub mod election;
mod environment;
mod input;
mod instance;
pub mod mismatch;
mod node;
mod reload;
pub mod sim;
pub mod split_brain;
mod status;
mod sync_group;
pub mod time;
pub mod timers;
pub mod tracking;

pub use action::{
    Action, AddressKind, Destination, FifoLine, InstanceId, Level, LogLine, LogText, NotifyArgs,
    NotifyState, NotifyTarget, PeerLog, PeerLogKind, SendAdvert, Transition,
};
pub use counters::{Counters, DropReason};
pub use environment::{Environment, InterfaceFacts};
pub use input::{Input, ReceivedAdvert};
pub use instance::{FaultReason, Instance, State, notify_actions};
pub use mismatch::{Mismatch, MismatchField};
pub use node::trackers::TrackerStatus;
pub use node::{Node, SegmentUse};
pub use status::{GroupStatus, InstanceStatus, MasterStatus, NodeStatus};
pub use time::Instant;
pub use tracking::ScriptResult;
