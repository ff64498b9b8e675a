//! keepalived's virtual servers end to end, on the real kernel: the real `baton` binary
//! directing a client's HTTP connections to real servers running Debian's nginx-light
//! through its nftables tables, with its checkers deciding who gets traffic. Observed from
//! outside: which server answered, `baton status --json`, the wire, the daemon's log. Root
//! only; elsewhere each test prints why it is skipped.
#![allow(clippy::unwrap_used)]

mod common;

mod lvs {
    pub mod bad_input;
    pub mod dr;
    pub mod health;
    pub mod lab;
    pub mod metrics;
    pub mod reload;
    pub mod schedulers;
    pub mod sync;
}
