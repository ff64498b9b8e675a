//! Bad input: wrong addresses, ports and options of a virtual server are named by
//! file:line:col; a service nftables refuses is logged with the kernel's reason while the
//! rest serves, and is programmed once what it lacked appears.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{BATON, Baton, POLL};
use crate::lvs::lab::{VIP, addr, count, nat_lab, virtual_servers, wait_log};

const BAD: &str = "virtual_server 10.1.0.300 80 {
  protocol TCP
  real_server 10.2.0.11 8080 {
  }
}
virtual_server 10.1.0.100 99999 {
  protocol TCP
}
virtual_server 10.1.0.101 80 {
  lb_algo fastest
  delay_loop -3
  protocol TCPX
  real_server 10.2.0.11 8080 {
    weight heavy
    TCP_CHECK {
      connect_port 70000
    }
  }
}
";

#[test]
fn wrong_virtual_servers_are_named_by_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, BAD).unwrap();
    let out = Command::new(BATON)
        .arg("-f")
        .arg(&path)
        .arg("-t")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    let p = path.display();
    for line in [
        format!("{p}:1:16: error: virtual_server address '10.1.0.300' is not an IP address"),
        format!("{p}:6:27: error: virtual_server port 99999 is outside 1..65535"),
        format!("{p}:10:11: error: 'fastest' is not a scheduler"),
        format!("{p}:11:14: error: delay_loop '-3' is not a time in seconds"),
        format!("{p}:12:12: error: 'TCPX' is not a protocol (TCP, UDP or SCTP)"),
        format!("{p}:14:12: error: weight 'heavy' is not a number"),
        format!("{p}:16:20: error: connect_port 70000 is outside 1..65535"),
    ] {
        assert!(report.contains(&line), "missing {line:?} in:\n{report}");
    }
    // keepalived's real code for "errors, but it would run" (docs/CHECK.md).
    assert_eq!(out.status.code(), Some(5), "{report}");
}

#[test]
fn a_service_the_data_plane_refuses_is_logged_and_the_rest_serves() {
    let Some(l) = nat_lab("lvs-refused", 2) else {
        return;
    };
    // One real server names a port, the other keeps the client's: nftables NAT cannot
    // mix them in one service (loading warns; the data plane refuses that service).
    let conf = format!(
        "virtual_server {VIP} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         \x20real_server 10.2.0.11 8080 {{\n  TCP_CHECK {{\n  }}\n }}\n}}\n\
         virtual_server fwmark 5 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n\
         \x20real_server 10.2.0.11 8080 {{\n }}\n real_server 10.2.0.12 {{\n }}\n}}\n"
    );
    let b = Baton::start(&l.director, &conf);
    wait_log(
        &b,
        "LVS data plane: virtual server FWM 5",
        Duration::from_secs(5),
    );
    let logs = b.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("LVS data plane: virtual server FWM 5"))
        .unwrap_or_default();
    println!("logged: {line}");
    assert!(line.contains("mix port 0"), "the reason: {line}");
    assert!(line.contains("the rest is programmed"), "{line}");
    let served = count(&l.client, None, addr(&format!("{VIP}:80")), 3);
    assert_eq!(
        served.get("rs1"),
        Some(&3),
        "the other service serves: {served:?}"
    );
    let fwm = virtual_servers(&b)
        .into_iter()
        .find(|v| v["name"] == "FWM 5")
        .unwrap();
    assert_eq!(fwm["programmed"], false, "{fwm:#}");
    let s = b.status().unwrap();
    assert!(
        s["lvs"]["dataplane"]["refused"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("FWM 5")),
        "{:#}",
        s["lvs"]
    );
}

/// nftables refuses the whole data plane: another process owns baton's table in this
/// network namespace (a second baton here). The reason is logged; the daemon runs its VRRP
/// instance and answers status all the same.
#[test]
fn a_data_plane_nftables_refuses_is_logged_and_the_daemon_serves() {
    let Some(l) = nat_lab("lvs-owned", 1) else {
        return;
    };
    let vs = format!(
        "virtual_server {VIP} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         \x20real_server 10.2.0.11 8080 {{\n }}\n}}\n"
    );
    let first = Baton::start(&l.director, &vs);
    crate::lvs::lab::wait_all_alive(&first, Duration::from_secs(10));
    let conf2 = l
        .director
        .write_file(
            "second.conf",
            format!(
                "vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 77\n priority 100\n\
             \x20virtual_ipaddress {{\n  10.1.0.77/32\n }}\n}}\n{vs}"
            ),
        )
        .unwrap();
    let pid2 = l.director.path("second.pid");
    let second = l
        .director
        .spawn(
            Command::new(BATON)
                .args(["-n", "-l", "-f"])
                .arg(&conf2)
                .arg("-p")
                .arg(&pid2),
        )
        .unwrap();
    let status2 = || {
        Command::new(BATON)
            .args(["status", "--json", "-p"])
            .arg(&pid2)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
    };
    let t = Instant::now();
    loop {
        let s = status2();
        let master = s
            .as_ref()
            .is_some_and(|s| s["instances"][0]["state"] == "Master");
        if master {
            let dp = &s.as_ref().unwrap()["lvs"]["dataplane"];
            assert_eq!(dp["open"], false, "{dp:#}");
            let e = dp["error"].as_str().unwrap_or_default();
            println!("second daemon's data plane: {e}");
            assert!(e.contains("belongs to another process"), "{dp:#}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "second daemon: {s:?}\n{}",
            second.stderr().unwrap_or_default()
        );
        std::thread::sleep(POLL);
    }
    let logs = second.stderr().unwrap_or_default();
    assert!(
        logs.contains("LVS data plane: cannot create nftables table inet baton_lvs"),
        "{logs}"
    );
    // The first daemon's table is untouched and serves.
    let served = count(&l.client, None, addr(&format!("{VIP}:80")), 2);
    assert_eq!(served.get("rs1"), Some(&2), "{served:?}");
}

/// `baton genhash` prints the digest keepalived's own `genhash` prints for the same page,
/// with keepalived's options.
#[test]
fn genhash_prints_what_keepalived_genhash_prints() {
    let Some(l) = nat_lab("lvs-genhash", 1) else {
        return;
    };
    if baton_lab::require_tool("genhash").is_err() {
        eprintln!("skipping: genhash (Debian package keepalived) is not installed");
        return;
    }
    let args = ["-s", "10.2.0.11", "-p", "8080", "-u", "/"];
    let ours = l
        .director
        .cmd(
            std::iter::once(BATON)
                .chain(std::iter::once("genhash"))
                .chain(args),
        )
        .unwrap();
    let theirs = l
        .director
        .cmd(std::iter::once("genhash").chain(args))
        .unwrap();
    let digest = |out: &str| {
        out.lines()
            .rev()
            .find_map(|l| {
                let w = l.trim().rsplit(' ').next()?;
                (w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit())).then(|| w.to_string())
            })
            .unwrap_or_else(|| panic!("no digest in {out:?}"))
    };
    println!(
        "baton genhash: {}; keepalived's genhash: {}",
        ours.trim(),
        theirs.trim()
    );
    assert_eq!(digest(&ours), digest(&theirs));
}
