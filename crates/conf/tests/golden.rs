//! Golden tests: every `tests/golden/*.conf` is checked and its report compared with the
//! `.out` file next to it; together they exercise every diagnostic code. A first line
//! `# options: -i ID -e` sets the config id and all-config. A `NAME.missing` file stands for
//! a configuration `NAME.conf` that does not exist.
//!
//! `BATON_BLESS=1 cargo test -p baton-conf --test golden` rewrites the `.out` files.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use baton_conf::{Code, FakeHost, FakeScript, FsSources, LoadOptions, Loaded, load_with};

/// The machine the golden configurations are checked against.
fn host() -> FakeHost {
    FakeHost::new()
        .hostname("lb1.example.net")
        .interface("eth0")
        .interface("eth1")
        .interface("ens33")
        .user("nobody")
        .group("nogroup")
        .script("/usr/local/bin/ok.sh", FakeScript::Executable)
        .script("/usr/local/bin/noexec.sh", FakeScript::NotExecutable)
        .script(
            "/usr/local/bin/insecure.sh",
            FakeScript::Insecure("it is writable by any user".to_string()),
        )
        .shell_dev_tcp(false)
        .key_file(
            "/etc/keepalived/vrrp51.key",
            b"0123456789abcdef0123456789abcdef\n",
            0o644,
        )
}

fn options(text: &str) -> LoadOptions {
    let mut opts = LoadOptions::default();
    let Some(first) = text.lines().next() else {
        return opts;
    };
    let Some(flags) = first.strip_prefix("# options:") else {
        return opts;
    };
    let mut words = flags.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "-i" => opts.config_id = words.next().map(str::to_string),
            "-e" => opts.all_config = true,
            "--files" => opts.limits.files = words.next().unwrap().parse().unwrap(),
            "--diagnostics" => opts.limits.diagnostics = words.next().unwrap().parse().unwrap(),
            other => panic!("unknown golden option {other}"),
        }
    }
    opts
}

fn report(l: &Loaded) -> String {
    let mut out = String::new();
    for d in &l.diagnostics {
        out.push_str(&format!("[{}] ", d.code));
        out.push_str(&d.render());
        out.push('\n');
    }
    out.push_str(&format!("status: {}\n", l.status() as u8));
    out
}

#[test]
fn golden_reports_match_and_cover_every_code() {
    let dir = Path::new("tests/golden");
    let bless = std::env::var_os("BATON_BLESS").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("conf" | "missing")
            )
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "golden cases went missing: {cases:?}");
    let mut seen = BTreeSet::new();
    let mut mismatches = Vec::new();
    for case in &cases {
        let conf = case.with_extension("conf");
        let text = std::fs::read_to_string(&conf).unwrap_or_default();
        let loaded = load_with(&conf, &options(&text), &FsSources, &host());
        seen.extend(loaded.diagnostics.iter().map(|d| d.code));
        let got = report(&loaded);
        let out = case.with_extension("out");
        if bless {
            std::fs::write(&out, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        if got != want {
            mismatches.push(format!(
                "--- {} (want)\n{want}\n+++ got\n{got}",
                out.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !seen.contains(c))
        .map(|c| c.name())
        .collect();
    assert!(missing.is_empty(), "no golden case produces: {missing:?}");
}
