//! The fault suite: baton on the real kernel in network namespaces, under what an attacker
//! or an unlucky operator does to it. Each case checks its invariants (at most one master
//! once the fault ends, the segment never without a master longer than the protocol allows,
//! memory and CPU per packet bounded, the daemon alive and answering `status`) and prints
//! the figure it checks on a line starting with `fault`. Root only.
#![allow(clippy::unwrap_used)]

/// Print a case's figure where CI shows it: straight to standard error, which the test
/// harness does not capture (it captures `println!`, and shows it only for a failure).
macro_rules! figure {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

#[path = "../common/mod.rs"]
mod common;

mod clock;
mod conflict;
mod flood;
mod forge;
mod limits;
mod links;
mod measure;
mod pair;
mod reload;
mod stall;
