//! baton beside the real thing: Debian's keepalived and FRR's vrrpd run as peers in
//! network-namespace labs, each case playing election, crash failover, priority-0 handover
//! and preemption back with each side MASTER in turn; the configuration differences that
//! split keepalived pairs silently must be named by baton; tshark judges every frame baton
//! sends. The run writes the interop matrix, docs/INTEROP.md (see `matrix`).
//!
//! Root only (labs need namespaces); elsewhere each test prints why it is skipped. The peers
//! come from Debian's packages keepalived, frr, tcpdump and tshark, which `scripts/test`
//! installs.
#![allow(clippy::unwrap_used)]

mod baton_node;
mod conf;
mod failover;
mod frr;
mod keepalived;
mod matrix;
mod mismatch;
mod router;
mod scenario;
mod topology;
mod tshark;

use std::panic::AssertUnwindSafe;

use failover::{Failover, Mode, Peer};
use matrix::{Outcome, Row, Table};
use mismatch::Field;
use topology::{Family, Version};

/// How a case ended, when it did not fail.
#[derive(Debug)]
pub enum Verdict {
    /// Passed; the detail replaces the row's default one (the mismatch tables quote baton's
    /// log line).
    Pass(Option<String>),
    /// The installed peer cannot run the case; why.
    NotSupported(String),
}

/// A lab name from a case name (the lab crate takes at most 24 characters).
pub fn lab_name(id: &str) -> String {
    id.chars().take(24).collect()
}

/// One entry of the suite.
#[derive(Debug, Clone, Copy)]
enum Check {
    Failover(Failover),
    Mismatch(Field),
}

impl Check {
    /// The row as far as it is known before running.
    fn row(&self, id: &str) -> Row {
        let (table, peer, vrrp, family, mode, detail) = match self {
            Check::Failover(f) => (
                Table::Failover,
                f.peer.name(),
                f.version.number(),
                f.family.label(),
                f.mode_label(),
                f.roles_label(),
            ),
            Check::Mismatch(field) => (
                Table::Mismatch,
                "keepalived",
                field.version().number(),
                Family::Ipv4.label(),
                field.label(),
                String::new(),
            ),
        };
        Row {
            run: matrix::run_id().to_string(),
            id: id.to_string(),
            table,
            peer: peer.to_string(),
            peer_version: "?".into(),
            vrrp,
            family: family.to_string(),
            mode,
            detail,
            outcome: Outcome::Fail,
            reason: String::new(),
        }
    }

    fn run(&self, id: &str, peer_version: &mut String) -> anyhow::Result<Verdict> {
        match self {
            Check::Failover(f) => f.run(id, peer_version),
            Check::Mismatch(field) => field.run(id, peer_version),
        }
    }
}

/// Run one case, record its row whatever happens, then pass or fail the test.
fn run(id: &str, check: Check) {
    if !baton_lab::require_root() {
        return;
    }
    let mut row = check.row(id);
    let mut peer_version = String::from("?");
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| check.run(id, &mut peer_version)));
    row.peer_version = peer_version;
    let failure = match result {
        Ok(Ok(Verdict::Pass(detail))) => {
            row.outcome = Outcome::Pass;
            if let Some(d) = detail {
                row.detail = d;
            }
            None
        }
        Ok(Ok(Verdict::NotSupported(reason))) => {
            row.outcome = Outcome::NotSupportedByPeer;
            row.detail = "not run".into();
            row.reason = reason;
            None
        }
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(panic) => Some(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into()),
        ),
    };
    if let Some(f) = &failure {
        // The matrix gets the first line; the test output gets everything.
        let first: String = f
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        row.reason = first;
    }
    matrix::record(&row, CASES).unwrap();
    if let Some(f) = failure {
        panic!("{id} failed: {f}");
    }
}

macro_rules! suite {
    ($($name:ident: $check:expr,)*) => {
        /// Every case of the suite, by test name.
        const CASES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run(stringify!($name), $check);
            }
        )*
    };
}

const fn failover(
    peer: Peer,
    version: Version,
    family: Family,
    mode: Mode,
    baton_master: bool,
) -> Check {
    Check::Failover(Failover {
        peer,
        version,
        family,
        mode,
        baton_master,
    })
}

use Family::{Ipv4, Ipv6};
use Mode::{AuthHmac, Multicast, Pass, PlainChecksum, Unicast, Vmac};
use Peer::{Baton, Frr, Keepalived};
use Version::{V2, V3};

suite! {
    keepalived_v2_baton_master: failover(Keepalived, V2, Ipv4, Multicast, true),
    keepalived_v2_keepalived_master: failover(Keepalived, V2, Ipv4, Multicast, false),
    keepalived_v2_pass_baton_master: failover(Keepalived, V2, Ipv4, Pass, true),
    keepalived_v2_pass_keepalived_master: failover(Keepalived, V2, Ipv4, Pass, false),
    keepalived_v3_ipv4_baton_master: failover(Keepalived, V3, Ipv4, Multicast, true),
    keepalived_v3_ipv4_keepalived_master: failover(Keepalived, V3, Ipv4, Multicast, false),
    keepalived_v3_ipv6_baton_master: failover(Keepalived, V3, Ipv6, Multicast, true),
    keepalived_v3_ipv6_keepalived_master: failover(Keepalived, V3, Ipv6, Multicast, false),
    keepalived_v3_unicast_baton_master: failover(Keepalived, V3, Ipv4, Unicast, true),
    keepalived_v3_unicast_keepalived_master: failover(Keepalived, V3, Ipv4, Unicast, false),
    keepalived_v3_plain_checksum_baton_master: failover(Keepalived, V3, Ipv4, PlainChecksum, true),
    keepalived_v3_plain_checksum_keepalived_master:
        failover(Keepalived, V3, Ipv4, PlainChecksum, false),
    frr_v3_ipv4_baton_master: failover(Frr, V3, Ipv4, Multicast, true),
    frr_v3_ipv4_frr_master: failover(Frr, V3, Ipv4, Multicast, false),
    frr_v3_ipv6_baton_master: failover(Frr, V3, Ipv6, Multicast, true),
    frr_v3_ipv6_frr_master: failover(Frr, V3, Ipv6, Multicast, false),
    frr_v3_plain_checksum: failover(Frr, V3, Ipv4, PlainChecksum, true),
    baton_v3_plain_checksum: failover(Baton, V3, Ipv4, PlainChecksum, true),
    keepalived_v3_auth_hmac: failover(Keepalived, V3, Ipv4, AuthHmac, true),
    keepalived_v2_vmac_baton_master: failover(Keepalived, V2, Ipv4, Vmac, true),
    keepalived_v2_vmac_keepalived_master: failover(Keepalived, V2, Ipv4, Vmac, false),
    frr_v3_vmac_baton_master: failover(Frr, V3, Ipv4, Vmac, true),
    frr_v3_vmac_frr_master: failover(Frr, V3, Ipv4, Vmac, false),
    baton_v3_auth_hmac: failover(Baton, V3, Ipv4, AuthHmac, true),
    baton_v3_ipv6_auth_hmac: failover(Baton, V3, Ipv6, AuthHmac, true),
    mismatch_virtual_ipaddress: Check::Mismatch(Field::VirtualAddresses),
    mismatch_advert_int: Check::Mismatch(Field::AdvertInterval),
    mismatch_authentication: Check::Mismatch(Field::Authentication),
    mismatch_version: Check::Mismatch(Field::Version),
    mismatch_checksum_form: Check::Mismatch(Field::ChecksumForm),
}

/// The harness itself, without baton: keepalived and FRR's vrrpd play the same sequence, so
/// a failing baton case is baton's fault and not the harness's reading of the peers.
#[test]
fn harness_keepalived_beside_frr() {
    if !baton_lab::require_root() {
        return;
    }
    harness().unwrap();
}

fn harness() -> anyhow::Result<()> {
    use router::Router;
    let pair = topology::Pair::new("harness-ka-frr")?;
    let a4 = topology::V4;
    let mut ka =
        keepalived::Keepalived::new(&pair.r1, conf::InstanceConf::new("r1", 200, V3, a4.vip))?;
    let mut frr = frr::Frr::new(
        &pair.r2,
        frr::FrrConf {
            priority: 100,
            version: V3,
            family: Ipv4,
            interval_ms: V3.interval().as_millis(),
            vip: a4.vip.into(),
            prefix: a4.prefix,
            plain_checksum: false,
        },
    )?;
    let journal = scenario::failover(&mut ka, &mut frr, V3)?;
    eprintln!("harness: {}", journal.render());
    let complaints = [ka.complaints()?, frr.complaints()?].concat();
    anyhow::ensure!(complaints.is_empty(), "complaints: {complaints:?}");
    Ok(())
}
