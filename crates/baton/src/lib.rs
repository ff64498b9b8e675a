//! baton, the daemon: command line, process lifecycle and every piece of IO the VRRP engine
//! needs (raw VRRP sockets, netlink for addresses, routes, rules and link events, gratuitous
//! ARP and unsolicited NA, the control socket, logs). Protocol decisions live in `baton-vrrp`;
//! this crate turns its actions into syscalls and kernel events into its inputs.

pub mod check;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod garp;
pub mod logging;
pub mod netlink;
pub mod notify_systemd;
pub mod pidfile;
pub mod process_name;
pub mod runtime;
pub mod status;
pub mod vrrp_socket;
