//! The kernel side: everything the daemon says to and hears from the kernel on the protocol
//! core's behalf. Nothing here decides anything; each module carries out one kind of action
//! or turns one kind of kernel event into the core's inputs.
//!
//! | module | what |
//! |---|---|
//! | [`netlink`] | interfaces, VIPs, routes, rules; the link and address monitor |
//! | [`links`] | the interface table kept current from the monitor, and the core's link inputs |
//! | [`vrrp_socket`] | a raw IP protocol 112 socket per interface and family |
//! | [`sockets`] | the sockets the core's instances need, with their counters |
//! | [`garp`] | gratuitous ARP and unsolicited NA frames on AF_PACKET |
//! | [`announce`] | GARP/NA bursts spaced per interface |
//! | [`lvs`] | the LVS data plane: baton-nft's nftables tables on a thread of their own |
//! | [`conntrackd`] | `lvs_sync_daemon`: conntrackd run and driven on VRRP transitions |
//! | [`vmac`] | `use_vmac`: the macvlan interfaces with the virtual router's MAC, and their sysctls |
//! | [`accept_mode`] | `no_accept`: the nftables table that drops traffic to a master's addresses |

pub mod accept_mode;
pub mod advert_frames;
pub mod announce;
pub mod conntrackd;
pub mod garp;
pub mod links;
pub mod lvs;
pub mod netlink;
pub mod scheduling;
pub mod sockets;
pub mod vmac;
pub mod vrrp_socket;
