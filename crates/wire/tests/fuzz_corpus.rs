//! Replays the committed fuzz corpus (fuzz/corpus/<target>/*: seeds and any input that once
//! crashed a target) through the same checks the fuzz targets run, so a fixed finding stays
//! fixed under plain `cargo test`.
#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/src/lib.rs"]
mod targets;

use std::path::PathBuf;

type Target = fn(&[u8]) -> bool;

const TARGETS: [(&str, Target); 5] = [
    ("advert_v4", targets::advert_v4),
    ("advert_v6", targets::advert_v6),
    ("ipv4_header", targets::ipv4_header),
    ("arp_frame", targets::arp_frame),
    ("ndisc_frame", targets::ndisc_frame),
];

/// Seeds that are not valid packets on purpose; every other seed named here must be accepted.
const REFUSED: [&str; 2] = ["carp", "v2_ah_fixed_checksum"];
const ACCEPTED: [&str; 11] = [
    "v2_pass",
    "v2_pass_prio0",
    "v2_noauth",
    "v3_ipv4",
    "v3_ipv4_plain",
    "v3_ipv6",
    "v2_pass_router_alert",
    "garp",
    "garp_padded",
    "unsolicited_na",
    "unsolicited_na_router_fixed_checksum",
];
// Any other file (an input that once crashed a target) is only required not to panic.

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn committed_corpus_replays_without_panic() {
    let started = std::time::Instant::now();
    let mut seen = 0;
    for (name, target) in TARGETS {
        let dir = corpus_dir(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: empty corpus");
        let mut accepted = 0;
        for file in &files {
            let data = std::fs::read(file).unwrap();
            let ok = target(&data);
            accepted += usize::from(ok);
            let stem = file.file_name().unwrap().to_string_lossy();
            if REFUSED.contains(&stem.as_ref()) {
                assert!(!ok, "{}: must be refused", file.display());
            } else if ACCEPTED.contains(&stem.as_ref()) {
                assert!(ok, "{}: must be accepted", file.display());
            }
            seen += 1;
        }
        assert!(accepted > 0, "{name}: no seed gets past parsing");
    }
    assert!(seen >= 15, "only {seen} corpus files found");
    // Parsing a packet is microseconds: seconds would mean a slow path to find.
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(10),
        "{seen} inputs took {took:?}"
    );
}
