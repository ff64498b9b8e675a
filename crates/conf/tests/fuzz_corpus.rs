//! Replays the committed fuzz corpus of the `conf_parse` target (fuzz/corpus/conf_parse/*:
//! seeds and any input that once broke it) and any crash artifacts through the same
//! `fuzz_one` the target runs, so a fixed finding stays fixed under plain `cargo test`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

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

/// Longest one input may take in a debug build: an input that expands without bound or a
/// quadratic path shows up here as a failure, not as a slow suite.
const PER_INPUT: Duration = Duration::from_secs(2);
/// Longest the whole corpus may take.
const ALL: Duration = Duration::from_secs(60);

#[test]
fn committed_corpus_replays_without_panic_within_its_time() {
    let corpus = files("corpus/conf_parse");
    assert!(corpus.len() >= 10, "the conf_parse corpus went missing");
    let started = Instant::now();
    let mut slowest = (Duration::ZERO, PathBuf::new());
    for file in corpus.iter().chain(&files("artifacts/conf_parse")) {
        let data = std::fs::read(file).unwrap();
        let t = Instant::now();
        baton_conf::fuzz_one(&data);
        let took = t.elapsed();
        assert!(took < PER_INPUT, "{} took {took:?}", file.display());
        if took > slowest.0 {
            slowest = (took, file.clone());
        }
    }
    let all = started.elapsed();
    eprintln!(
        "{} inputs in {all:?}; slowest {:?} ({})",
        corpus.len(),
        slowest.0,
        slowest.1.display()
    );
    assert!(all < ALL, "the corpus took {all:?}");
}

#[test]
fn seeds_reach_the_model() {
    // The seeds are real configurations: they must load, or the fuzzer starts from nothing.
    for name in [
        "seed_master",
        "seed_backup",
        "sample_vrrp.sync",
        "preprocessor_mix",
        "lvs_sample",
        "lvs_group",
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/conf_parse")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let host = baton_conf::FakeHost::new()
            .interface("eth0")
            .interface("ens33");
        let loaded =
            baton_conf::load_str("k.conf", &text, &baton_conf::LoadOptions::default(), &host);
        assert!(loaded.config.is_some(), "{name}: {:#?}", loaded.diagnostics);
    }
}
