//! Replays the committed fuzz corpora of the checkers' targets (fuzz/corpus/check_*) and
//! any crash artifacts through the same property functions the targets run, so a fixed
//! finding stays fixed under plain `cargo test`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    out.sort();
    out
}

fn replay(target: &str, property: fn(&[u8]) -> bool, min_accepted: usize) {
    let corpus = files(&format!("corpus/{target}"));
    assert!(corpus.len() >= 4, "the {target} corpus went missing");
    let mut accepted = 0;
    for file in corpus.iter().chain(&files(&format!("artifacts/{target}"))) {
        if property(&std::fs::read(file).unwrap()) {
            accepted += 1;
        }
    }
    assert!(
        accepted >= min_accepted,
        "{target}: only {accepted} seeds get past the first checks"
    );
}

#[test]
fn http_response_corpus() {
    replay("check_http_response", baton_check::fuzz::http_response, 4);
}

#[test]
fn dns_reply_corpus() {
    replay("check_dns_reply", baton_check::fuzz::dns_reply, 4);
}

#[test]
fn smtp_reply_corpus() {
    replay("check_smtp_reply", baton_check::fuzz::smtp_reply, 3);
}

#[test]
fn icmp_corpus() {
    replay("check_icmp", baton_check::fuzz::icmp, 3);
}
