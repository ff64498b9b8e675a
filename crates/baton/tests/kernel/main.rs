//! The daemon's IO against the real kernel, each test in network namespaces of its own.
//! Root only: elsewhere every test prints why it skips.
#![allow(clippy::unwrap_used)]

mod garp;
mod netlink;
mod netns;
mod vrrp_socket;
