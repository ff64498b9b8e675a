//! keepalived's dump interface, for the tools that read it (the keepalived exporters, scripts
//! that grep `keepalived.data`): a signal asks for a file in keepalived's temporary directory
//! (`$TMPDIR` when it is an absolute path to a directory, else `/tmp`, as keepalived 2.2):
//!
//! | `--signum=` | signal | file |
//! |---|---|---|
//! | DATA | SIGUSR1 | `keepalived.data`: the instances and scripts, keepalived's layout |
//! | STATS | SIGUSR2 | `keepalived.stats`: keepalived's per-instance counters |
//! | STATS_CLEAR | SIGRTMAX-1 | the same file; baton's counters are not cleared (they only grow, as Prometheus expects), and the log says so |
//! | JSON | SIGRTMIN+2 | `keepalived.json`: keepalived 2.x's JSON dump, `[{"data":…,"stats":…}]` |
//! | STOP, RELOAD | SIGTERM, SIGHUP | (stop, reload) |
//!
//! Only the lines and fields baton has a true value for are written; the layouts are the
//! ones the exporters parse. The files are written as root into a directory anyone may
//! write to, so they are opened without following a symbolic link (`O_NOFOLLOW`), without
//! waiting on a FIFO, and only when what is there is a regular file with one link that is
//! ours, created with mode 0644. The event loop takes the snapshot; the writing happens on
//! the blocking pool.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use baton_vrrp::State;
use serde_json::json;

use crate::north::page::utc;
use crate::north::snapshot::{InstanceView, Snapshot, keepalived_state};

/// A dump keepalived's signals ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    Data,
    Stats,
    /// keepalived clears its counters after this dump; baton does not.
    StatsClear,
    Json,
}

impl Dump {
    pub fn file_name(self) -> &'static str {
        match self {
            Dump::Data => "keepalived.data",
            Dump::Stats | Dump::StatsClear => "keepalived.stats",
            Dump::Json => "keepalived.json",
        }
    }
}

/// keepalived's signal numbers by `--signum` name (keepalived 2.2.7 on Linux).
pub fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => libc::SIGRTMAX() - 1,
        "JSON" => libc::SIGRTMIN() + 2,
        _ => return None,
    })
}

/// `--signum=NAME`: the number on standard output, or keepalived's complaint and exit 1.
pub fn print_signum(name: &str) -> std::process::ExitCode {
    match signum(name) {
        Some(n) => {
            println!("{n}");
            std::process::ExitCode::SUCCESS
        }
        None => {
            eprintln!("Unknown sigfunc {name}");
            std::process::ExitCode::from(1)
        }
    }
}

/// keepalived's temporary directory: `$TMPDIR` when absolute and a directory, else /tmp.
pub fn tmp_dir() -> PathBuf {
    match std::env::var_os("TMPDIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() && d.is_dir() => d,
        _ => PathBuf::from("/tmp"),
    }
}

/// Write the dump `what` of `s` into `dir`; the path written.
pub fn write(what: Dump, s: &Snapshot, dir: &Path) -> io::Result<PathBuf> {
    let text = match what {
        Dump::Data => data(s),
        Dump::Stats | Dump::StatsClear => stats(s),
        Dump::Json => {
            let mut t = serde_json::to_string_pretty(&json(s)).map_err(io::Error::other)?;
            t.push('\n');
            t
        }
    };
    let path = dir.join(what.file_name());
    let mut f = open_dump_file(&path)?;
    f.set_len(0)?;
    f.write_all(text.as_bytes())?;
    Ok(path)
}

/// Open a dump file for writing without following what others may have planted at its path
/// (see [`crate::north::files`], which opens every file written as root).
fn open_dump_file(path: &Path) -> io::Result<File> {
    use crate::north::files::{Mode, OpenError, open_for_writing};
    open_for_writing(path, Mode::ReadWrite, true).map_err(|e| {
        let kind = match &e {
            OpenError::Io { source, .. } => source.kind(),
            OpenError::Refused { .. } => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, e.to_string())
    })
}

fn epoch_secs(s: &Snapshot, at: baton_vrrp::Instant) -> f64 {
    s.wall(at)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `keepalived.data`, in keepalived 2.2's layout (the lines baton knows).
pub fn data(s: &Snapshot) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "------< Global definitions >------");
    let _ = writeln!(o, " Daemon = baton v{} (pid {})", s.version, s.pid);
    let _ = writeln!(o, " Configuration file = {}", s.config.display());
    let _ = writeln!(o, "------< VRRP Topology >------");
    for (i, v) in s.instances() {
        let _ = writeln!(o, " VRRP Instance = {}", i.name);
        let _ = writeln!(
            o,
            "   VRRP Version = {}",
            i.version.trim_start_matches("VRRPv")
        );
        if i.family == "IPv6" {
            let _ = writeln!(o, "   Using Native IPv6");
        }
        let _ = writeln!(o, "   State = {}", i.state);
        if i.state == State::Backup
            && let Some(m) = &i.master
        {
            let _ = writeln!(o, "   Master router = {}", m.address);
            let _ = writeln!(o, "   Master priority = {}", m.priority);
        }
        let _ = writeln!(o, "   Wantstate = {}", i.state);
        let _ = writeln!(
            o,
            "   Number of interface and track script faults = {}",
            i.faults.len()
        );
        if let Some(t) = &i.last_transition {
            let _ = writeln!(
                o,
                "   Last transition = {:.6} ({})",
                epoch_secs(s, t.at),
                utc(s.wall(t.at))
            );
        }
        let _ = writeln!(o, "   Interface = {}", i.interface);
        if let Some(src) = i.source {
            let _ = writeln!(o, "   Using src_ip = {src}");
        }
        let _ = writeln!(o, "   Gratuitous ARP delay = {}", v.garp_delay.as_secs());
        let _ = writeln!(o, "   Virtual Router ID = {}", i.vrid);
        let _ = writeln!(o, "   Priority = {}", i.base_priority);
        let _ = writeln!(o, "   Effective priority = {}", i.effective_priority);
        let _ = writeln!(o, "   Advert interval = {} milli-sec", i.advert_interval_ms);
        let held = i.state == State::Master;
        let set = if held { " set" } else { "" };
        let _ = writeln!(o, "   Virtual IP ({}):", v.vips.len());
        for a in &v.vips {
            let _ = writeln!(o, "     {}{set}", a.line());
        }
        if !v.excluded.is_empty() {
            let _ = writeln!(o, "   Virtual IP Excluded ({}):", v.excluded.len());
            for a in &v.excluded {
                let _ = writeln!(o, "     {}{set}", a.line());
            }
        }
        if !v.track_scripts.is_empty() {
            let _ = writeln!(o, "   Tracked scripts :");
            for (n, w) in &v.track_scripts {
                let _ = writeln!(o, "     {n} weight {w}");
            }
        }
    }
    let scripts: Vec<_> = s
        .node
        .trackers
        .iter()
        .filter(|t| t.kind == "script")
        .collect();
    if !scripts.is_empty() {
        let _ = writeln!(o, "------< VRRP Scripts >------");
        for t in scripts {
            let _ = writeln!(o, " VRRP Script = {}", t.name);
            let status = match t.state.as_str() {
                "ok" => "GOOD",
                "failed" => "BAD",
                _ => "INIT",
            };
            let _ = writeln!(o, "   Status = {status}");
            let running = s.scripts_running.contains(&t.name);
            let _ = writeln!(o, "   State = {}", if running { "running" } else { "idle" });
        }
    }
    o
}

/// keepalived's counters of one instance (`vrrp_stats`), from baton's.
fn kstats(i: &baton_vrrp::InstanceStatus, v: &InstanceView) -> serde_json::Value {
    let c = &i.counters;
    let socket =
        |f: fn(&crate::south::sockets::WireErrors) -> u64| v.socket_errors.as_ref().map_or(0, f);
    let current = u64::from(i.state == State::Master);
    json!({
        "advert_rcvd": c.adverts_received,
        "advert_sent": c.adverts_sent,
        "become_master": c.transitions.master,
        "release_master": c.transitions.master.saturating_sub(current),
        "packet_len_err": socket(|w| w.truncated),
        "advert_interval_err": c.dropped.interval,
        "ip_ttl_err": c.dropped.ttl,
        "invalid_type_rcvd": socket(|w| w.msg_type),
        "addr_list_err": c.dropped.address_list + c.dropped.address_count,
        "invalid_authtype": socket(|w| w.auth_type + w.auth_ah),
        "authtype_mismatch": c.dropped.auth_type,
        "auth_failure": c.dropped.auth_failure,
        "pri_zero_rcvd": c.priority_zero_received,
        "pri_zero_sent": c.priority_zero_sent,
    })
}

/// `keepalived.stats`.
pub fn stats(s: &Snapshot) -> String {
    let mut o = String::new();
    for (i, v) in s.instances() {
        let k = kstats(i, v);
        let n = |f: &str| k.get(f).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let _ = writeln!(o, "VRRP Instance: {}", i.name);
        let _ = writeln!(o, "  Advertisements:");
        let _ = writeln!(o, "    Received: {}", n("advert_rcvd"));
        let _ = writeln!(o, "    Sent: {}", n("advert_sent"));
        let _ = writeln!(o, "  Became master: {}", n("become_master"));
        let _ = writeln!(o, "  Released master: {}", n("release_master"));
        let _ = writeln!(o, "  Packet Errors:");
        let _ = writeln!(o, "    Length: {}", n("packet_len_err"));
        let _ = writeln!(o, "    TTL: {}", n("ip_ttl_err"));
        let _ = writeln!(o, "    Invalid Type: {}", n("invalid_type_rcvd"));
        let _ = writeln!(
            o,
            "    Advertisement Interval: {}",
            n("advert_interval_err")
        );
        let _ = writeln!(o, "    Address List: {}", n("addr_list_err"));
        let _ = writeln!(o, "  Authentication Errors:");
        let _ = writeln!(o, "    Invalid Type: {}", n("invalid_authtype"));
        let _ = writeln!(o, "    Type Mismatch: {}", n("authtype_mismatch"));
        let _ = writeln!(o, "    Failure: {}", n("auth_failure"));
        let _ = writeln!(o, "  Priority Zero:");
        let _ = writeln!(o, "    Received: {}", n("pri_zero_rcvd"));
        let _ = writeln!(o, "    Sent: {}", n("pri_zero_sent"));
    }
    o
}

/// keepalived 2.x's JSON dump: one `{"data", "stats"}` object per instance.
pub fn json(s: &Snapshot) -> serde_json::Value {
    let list: Vec<serde_json::Value> = s
        .instances()
        .map(|(i, v)| {
            let state = keepalived_state(i.state);
            let vips: Vec<String> = v.vips.iter().map(|a| a.line()).collect();
            let evips: Vec<String> = v.excluded.iter().map(|a| a.line()).collect();
            let scripts: Vec<&str> = v.track_scripts.iter().map(|(n, _)| n.as_str()).collect();
            let mut data = json!({
                "iname": i.name,
                "ifp_ifname": i.interface,
                "master_priority": i.master.as_ref().map_or(0, |m| m.priority),
                "last_transition": i.last_transition.as_ref().map_or(0.0, |t| epoch_secs(s, t.at)),
                "garp_delay": v.garp_delay.as_secs(),
                "vrid": i.vrid,
                "base_priority": i.base_priority,
                "effective_priority": i.effective_priority,
                "vipset": i.state == State::Master && !v.vips.is_empty(),
                "adver_int": i.advert_interval_ms as f64 / 1000.0,
                "master_adver_int": i.master_adver_interval_ms as f64 / 1000.0,
                "state": state,
                "wantstate": state,
                "version": i.version.trim_start_matches("VRRPv").parse::<u8>().unwrap_or(0),
            });
            if let Some(d) = data.as_object_mut() {
                // keepalived leaves out empty lists.
                if !vips.is_empty() {
                    d.insert("vips".into(), json!(vips));
                }
                if !evips.is_empty() {
                    d.insert("evips".into(), json!(evips));
                }
                if !scripts.is_empty() {
                    d.insert("track_script".into(), json!(scripts));
                }
            }
            json!({ "data": data, "stats": kstats(i, v) })
        })
        .collect();
    serde_json::Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::north::snapshot::sample;

    #[test]
    fn signal_numbers_are_keepalived_2_2_7s() {
        // `keepalived --signum=X` on Debian's 2.2.7, x86_64.
        for (name, n) in [
            ("STOP", 15),
            ("RELOAD", 1),
            ("DATA", 10),
            ("STATS", 12),
            ("STATS_CLEAR", 63),
            ("JSON", 36),
        ] {
            assert_eq!(signum(name), Some(n), "{name}");
        }
        assert_eq!(signum("TDUMP"), None);
    }

    /// The data file, read as the keepalived exporter reads it: instance lines ` VRRP
    /// Instance = X`, properties `   Key = value`, VIPs under `   Virtual IP (n):`.
    #[test]
    fn data_reads_as_the_exporter_reads_it() {
        let d = data(&sample());
        let mut lines = d.lines();
        assert!(lines.any(|l| l == " VRRP Instance = VI_1"), "{d}");
        let after: Vec<&str> = d
            .split(" VRRP Instance = VI_1\n")
            .nth(1)
            .unwrap()
            .lines()
            .collect();
        assert!(after.contains(&"   State = MASTER"), "{d}");
        assert!(after.contains(&"   Interface = ens33"), "{d}");
        assert!(after.contains(&"   Virtual Router ID = 51"), "{d}");
        assert!(after.contains(&"   Gratuitous ARP delay = 5"), "{d}");
        let vip = after
            .iter()
            .position(|l| *l == "   Virtual IP (1):")
            .unwrap();
        assert_eq!(
            after[vip + 1],
            "     192.168.5.10 dev ens33 scope global set"
        );
        assert!(
            d.contains(" VRRP Instance = VI_2\n   VRRP Version = 2\n   State = FAULT\n"),
            "{d}"
        );
        // The scripts' section starts with its own header, which ends the last instance.
        assert!(
            d.contains("------< VRRP Scripts >------\n VRRP Script = chk_nginx\n   Status = GOOD\n   State = running\n"),
            "{d}"
        );
    }

    #[test]
    fn stats_and_json_carry_keepalived_names() {
        let s = stats(&sample());
        assert!(s.starts_with(
            "VRRP Instance: VI_1\n  Advertisements:\n    Received: 7\n    Sent: 42\n  Became master: 2\n  Released master: 1\n"
        ), "{s}");
        assert!(s.contains("    Failure: 4\n"), "{s}");
        let j = json(&sample());
        let first = &j[0];
        assert_eq!(first["data"]["iname"], "VI_1");
        assert_eq!(first["data"]["state"], 2);
        assert_eq!(first["data"]["vrid"], 51);
        assert_eq!(first["data"]["ifp_ifname"], "ens33");
        assert_eq!(first["data"]["garp_delay"], 5);
        assert_eq!(
            first["data"]["vips"][0],
            "192.168.5.10 dev ens33 scope global"
        );
        assert_eq!(first["stats"]["auth_failure"], 4);
        assert_eq!(first["stats"]["addr_list_err"], 6);
        assert_eq!(j[1]["data"]["state"], 3);
        assert!(j[1]["data"].get("vips").is_none());
    }

    #[test]
    fn files_are_written_0644_and_planted_links_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let s = sample();
        let p = write(Dump::Stats, &s, dir.path()).unwrap();
        assert_eq!(p, dir.path().join("keepalived.stats"));
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644 & !umask(), "{mode:o}");
        // A second dump replaces the first, whatever its length.
        std::fs::write(&p, "x".repeat(100_000)).unwrap();
        write(Dump::Stats, &s, dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), stats(&s));
        // A symbolic link planted where the data file goes is not followed.
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("keepalived.data")).unwrap();
        let e = write(Dump::Data, &s, dir.path()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        // A hard link too.
        std::fs::hard_link(&target, dir.path().join("keepalived.json")).unwrap();
        let e = write(Dump::Json, &s, dir.path()).unwrap_err();
        assert!(e.to_string().contains("hard links"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }

    fn umask() -> u32 {
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        nix::sys::stat::umask(old);
        old.bits()
    }
}
