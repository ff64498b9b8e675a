//! End to end: the seed's whole system, through the real binary's `baton demo --script`
//! (which runs `baton-demo` beside it, which runs that `baton` on the load balancers).
//! A client sends a steady, bounded stream of HTTP requests (200 a second, for the script's
//! ~20 s) through the VIP while nginx is killed on the master and, separately, the master's
//! baton is SIGKILLed; the VIP must end on lb2 each time, and the requests that failed must
//! stay under bounds derived below from the configuration's timers. Root only (the demo
//! builds network namespaces); prints the counts.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The `baton` binary beside `baton-demo`, built now if it is missing or stale: cargo builds
/// a package's own binaries for its tests, not another package's (a no-op after
/// `cargo test --workspace`, which built both).
fn baton() -> &'static Path {
    static BATON: OnceLock<PathBuf> = OnceLock::new();
    BATON.get_or_init(|| {
        let demo = Path::new(env!("CARGO_BIN_EXE_baton-demo"));
        let dir = demo.parent().unwrap();
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "-p", "baton", "--bin", "baton"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().unwrap();
        assert!(status.success(), "building baton: {status}");
        let baton = dir.join("baton");
        assert!(baton.is_file(), "no {}", baton.display());
        baton
    })
}
/// Requests per second the test asks the demo's client for.
const RATE: u64 = 200;

// The timers, from the seed's configurations the demo runs (VRRPv2, advert_int 1; lb1
// priority 200, lb2 100; the post's check_nginx adds 2 to each while it passes):
//
// * Master_Down_Interval of lb2 = 3 × advert_int + (256 − 102)/256 s = 3.602 s
//   (RFC 3768 §6.1; keepalived's vrrp.h).
// * baton's fast handover: a backup that hears a master advertise a lower priority takes
//   over after (256 − prio) × 20 ms / 256 = 12.0 ms for lb2 at 102.
// * The demo's client gives a request 300 ms before it counts it as failed; on the lab's
//   veth a request takes well under 20 ms, so at most RATE × 20 ms = 4 are in flight.
const ADVERT_INT: Duration = Duration::from_secs(1);
const MDI_LB2: Duration = Duration::from_nanos(3_601_562_500);
const FAST_TAKEOVER_LB2: Duration = Duration::from_nanos(12_031_250);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);
const IN_FLIGHT: u64 = 4;
/// Room for scheduling on a loaded two-core machine, beyond the protocol's timers.
const SLACK: Duration = Duration::from_millis(150);
/// How late a loaded machine may send an advert; only loosens the "not too early" check.
const EARLY_SLACK: Duration = Duration::from_millis(500);

fn per_rate(d: Duration) -> u64 {
    (RATE as f64 * d.as_secs_f64()).ceil() as u64
}

/// kill nginx on lb1: its pidfd tells baton at once, lb1 advertises 52, lb2 takes over after
/// the fast-handover delay and announces the VIP. Requests fail from the kill until then (lb1
/// refuses connections to port 80), plus the ones in flight on the killed nginx.
fn nginx_kill_bound() -> u64 {
    per_rate(FAST_TAKEOVER_LB2 + SLACK) + IN_FLIGHT
}

/// SIGKILL lb1's baton: nothing removes the VIP from lb1, whose nginx keeps serving, until
/// lb2 takes over after Master_Down_Interval and moves the VIP with gratuitous ARP. Only
/// requests caught on a connection while the client's ARP entry switches can fail: those
/// started within one request timeout of the switch. (Had lb1 died whole, the bound would be
/// RATE × Master_Down_Interval = 721; baton and nginx surviving apart is what makes it small.)
fn baton_kill_bound() -> u64 {
    per_rate(REQUEST_TIMEOUT) + IN_FLIGHT
}

/// One row of the summary table: `key | what | took | keepalived | ok | failed | verdict`.
fn row<'a>(out: &'a str, key: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} row in:\n{out}"));
    line.split('|').map(str::trim).collect()
}

/// The detail line `key: …` under the table.
fn detail<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} detail in:\n{out}"))
}

/// `… VIP on lb2 after 14 ms …` → 14 ms.
fn vip_after(detail: &str, lb: &str) -> Duration {
    let marker = format!("VIP on {lb} after ");
    let rest = &detail[detail
        .find(&marker)
        .unwrap_or_else(|| panic!("the VIP did not reach {lb}: {detail}"))
        + marker.len()..];
    let mut words = rest.split([' ', ',', ';']);
    let value: f64 = words.next().unwrap().parse().unwrap();
    match words.next().unwrap() {
        "ms" => Duration::from_secs_f64(value / 1000.0),
        "s" => Duration::from_secs_f64(value),
        other => panic!("unit {other} in {detail}"),
    }
}

fn run_demo(extra: &[&str]) -> (bool, String) {
    let out = Command::new(baton())
        .args(["demo", "--script", "--rate", &RATE.to_string()])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Nothing of the lab is left: no namespace, no directory.
fn assert_removed(out: &str) {
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("removed lab "))
        .unwrap_or_else(|| panic!("the demo did not say it removed its lab:\n{out}"))
        .trim();
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    assert!(!netns.contains(id), "namespaces of {id} left:\n{netns}");
    let dir = std::env::temp_dir().join(id);
    assert!(!dir.exists(), "{} left", dir.display());
}

fn check_failovers(out: &str) {
    // Killing nginx on the master moves the VIP to lb2 within the fast handover.
    let nginx = row(out, "kill-nginx");
    let took = vip_after(detail(out, "kill-nginx"), "lb2");
    let failed: u64 = nginx[5].parse().unwrap();
    let answered: u64 = nginx[4].parse().unwrap();
    eprintln!(
        "kill nginx on lb1: VIP on lb2 after {took:?}; {answered} answered, {failed} failed (bound {})",
        nginx_kill_bound()
    );
    assert!(
        took <= FAST_TAKEOVER_LB2 + SLACK,
        "VIP on lb2 {took:?} after nginx died\n{out}"
    );
    assert!(
        failed <= nginx_kill_bound(),
        "{failed} requests failed\n{out}"
    );
    assert!(answered > 0, "nothing answered around the kill\n{out}");

    // SIGKILL of the master's baton: lb2 takes over once it has missed three adverts, not
    // before (the last one it heard left lb1 at most one interval before the kill, plus
    // however late a busy machine sent it: EARLY_SLACK).
    let crash = row(out, "kill-baton");
    let took = vip_after(detail(out, "kill-baton"), "lb2");
    let failed: u64 = crash[5].parse().unwrap();
    let answered: u64 = crash[4].parse().unwrap();
    eprintln!(
        "SIGKILL lb1's baton: VIP on lb2 after {took:?}; {answered} answered, {failed} failed (bound {})",
        baton_kill_bound()
    );
    assert!(
        took <= MDI_LB2 + SLACK,
        "lb2 took {took:?} to take over\n{out}"
    );
    assert!(
        took + ADVERT_INT + EARLY_SLACK >= MDI_LB2,
        "lb2 took over after {took:?}, before its Master_Down_Interval\n{out}"
    );
    assert!(
        failed <= baton_kill_bound(),
        "{failed} requests failed\n{out}"
    );
    // The demo's client kept sending the whole time: the step lasted about MDI.
    assert!(
        answered + failed >= per_rate(MDI_LB2) / 2,
        "only {answered} + {failed} requests during the crash step\n{out}"
    );

    // The totals line: a bounded stream, nearly all answered.
    let totals = out
        .lines()
        .find(|l| l.starts_with("requests: "))
        .unwrap_or_else(|| panic!("no totals in:\n{out}"));
    eprintln!("{totals}");
    let sent: u64 = totals["requests: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent >= RATE * 10, "{totals}");
}

#[test]
fn the_seeds_system_fails_over_under_load() {
    if !baton_lab::require_root() {
        return;
    }
    let (ok, out) = run_demo(&[]);
    assert!(ok, "baton demo --script failed:\n{out}");
    if baton_lab::which("nginx").is_some() {
        assert!(out.contains("proxies: Debian's nginx/"), "{out}");
    }
    assert!(out.contains("all 7 steps behaved"), "{out}");
    check_failovers(&out);
    // The seed's split brain was shown, and baton said so.
    let split = detail(&out, "drop-vrrp");
    assert!(split.contains("both MASTER"), "{split}");
    assert!(split.contains("with lower priority"), "{split}");
    assert_removed(&out);
}

#[test]
fn the_built_in_proxy_stands_in_for_nginx() {
    if !baton_lab::require_root() {
        return;
    }
    let (ok, out) = run_demo(&["--proxy", "builtin"]);
    assert!(ok, "baton demo --script --proxy builtin failed:\n{out}");
    assert!(out.contains("built-in proxy"), "{out}");
    check_failovers(&out);
    assert_removed(&out);
}

/// `baton demo --lvs`: the directors balance both backends through LVS-NAT, a dead backend
/// is checked out and back in, and the VIP moves with the load balancing when the master
/// dies.
#[test]
fn the_directors_balance_through_lvs_nat_and_fail_over() {
    if !baton_lab::require_root() {
        return;
    }
    let out = Command::new(baton())
        .args(["demo", "--lvs"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "baton demo --lvs failed:\n{text}");
    assert_eq!(text.matches("✔ ").count(), 4, "{text}");
    assert!(text.contains("every step behaved"), "{text}");
    assert!(
        text.contains("Removing service [10.5.0.22]:tcp:8080 from VS [192.168.5.10]:tcp:80"),
        "{text}"
    );
    assert_removed(&text);
}

#[test]
fn without_root_the_demo_says_so() {
    if nix::unistd::geteuid().is_root() {
        // Drop to nobody for this one run, if the system has it.
        let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
            eprintln!("skipping: no user nobody to run the demo as");
            return;
        };
        use std::os::unix::process::CommandExt;
        let out = match Command::new(baton())
            .args(["demo", "--script"])
            .uid(nobody.uid.as_raw())
            .gid(nobody.gid.as_raw())
            .output()
        {
            Ok(out) => out,
            Err(e) => {
                eprintln!("skipping: nobody cannot run {}: {e}", baton().display());
                return;
            }
        };
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("needs root"), "{err}");
        return;
    }
    let out = Command::new(baton())
        .args(["demo", "--script"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root"), "{err}");
}
