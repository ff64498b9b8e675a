//! `lvs_sync_daemon`: a long HTTP download through the VIP (NAT) goes on when the master
//! director is cut off (all its links down, as if the host died) and the backup takes the
//! external VIP and the real servers' gateway VIP (one sync group), because conntrackd had
//! copied the connection to the backup and baton committed it on becoming MASTER; without
//! `lvs_sync_daemon` the same download breaks.

use std::thread;
use std::time::{Duration, Instant};

use baton_lab::{HostSpec, Lab, Nic};

use crate::common::Baton;
use crate::lvs::lab::{BIG, RealServer, VIP, addr, can_run, count, get, wait_all_alive};

const GATEWAY: &str = "10.2.0.254";

fn conf(priority: u8, sync: bool) -> String {
    let sync = if sync {
        " lvs_sync_daemon eth1 VI_INT\n"
    } else {
        ""
    };
    format!(
        "global_defs {{\n vrrp_version 3\n{sync}}}\n\
         vrrp_sync_group G {{\n group {{\n  VI_EXT\n  VI_INT\n }}\n}}\n\
         vrrp_instance VI_EXT {{\n state BACKUP\n interface eth0\n virtual_router_id 51\n\
         \x20priority {priority}\n advert_int 0.1\n virtual_ipaddress {{\n  {VIP}/32\n }}\n}}\n\
         vrrp_instance VI_INT {{\n state BACKUP\n interface eth1\n virtual_router_id 52\n\
         \x20priority {priority}\n advert_int 0.1\n virtual_ipaddress {{\n  {GATEWAY}/24\n }}\n}}\n\
         virtual_server {VIP} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         \x20real_server 10.2.0.11 8080 {{\n  TCP_CHECK {{\n   connect_timeout 1\n  }}\n }}\n\
         \x20real_server 10.2.0.12 8080 {{\n  TCP_CHECK {{\n   connect_timeout 1\n  }}\n }}\n}}\n"
    )
}

/// Two directors in front of two real servers; a download from the client through the
/// master, which is then cut off. The download's outcome.
fn failover_download(name: &str, sync: bool) -> Option<Result<usize, String>> {
    if !can_run() {
        return None;
    }
    if sync && baton_lab::require_tool("conntrackd").is_err() {
        eprintln!("skipping: conntrackd (Debian package conntrackd) is not installed");
        return None;
    }
    let lab = Lab::new(name).unwrap();
    lab.add_segment("back").unwrap();
    let client = lab
        .add_host(HostSpec::new("client").addr("10.1.0.2/24"))
        .unwrap();
    let director = |n: u8| {
        let h = lab
            .add_host(
                HostSpec::new(format!("d{n}"))
                    .addr(format!("10.1.0.1{n}/24"))
                    .nic(
                        Nic::new("eth1")
                            .segment("back")
                            .addr(format!("10.2.0.{n}/24")),
                    ),
            )
            .unwrap();
        h.sh("sysctl -qw net.ipv4.ip_forward=1").unwrap();
        h
    };
    let (d1, d2) = (director(1), director(2));
    let mut servers = Vec::new();
    for i in 1..=2 {
        let h = lab
            .add_host(
                HostSpec::new(format!("rs{i}"))
                    .segment("back")
                    .addr(format!("10.2.0.1{i}/24")),
            )
            .unwrap();
        h.sh(&format!("ip route add default via {GATEWAY}"))
            .unwrap();
        servers.push(RealServer::install(&h, &format!("rs{i}")));
    }
    let b1 = Baton::start(&d1, &conf(150, sync));
    let b2 = Baton::start(&d2, &conf(100, sync));
    b1.wait_state_of("VI_EXT", "Master", Duration::from_secs(5));
    b1.wait_state_of("VI_INT", "Master", Duration::from_secs(5));
    b2.wait_state_of("VI_INT", "Backup", Duration::from_secs(5));
    wait_all_alive(&b1, Duration::from_secs(10));
    wait_all_alive(&b2, Duration::from_secs(10));
    let vip = addr(&format!("{VIP}:80"));
    assert_eq!(
        count(&client, None, vip, 4).len(),
        2,
        "both real servers serve"
    );
    if sync {
        let s = b2.status().unwrap();
        let role = &s["lvs"]["sync_daemon"]["role"];
        assert_eq!(role, "Backup", "{:#}", s["lvs"]);
    }

    let c = client.clone();
    let started = Instant::now();
    let download =
        thread::spawn(move || get(&c, None, vip, "/big", Duration::from_secs(5)).map(|b| b.len()));
    thread::sleep(Duration::from_millis(1500));
    if sync {
        let entries = d2
            .cmd([
                "conntrackd",
                "-C",
                &b2.host.path("baton.conntrackd.conf").display().to_string(),
                "-e",
            ])
            .unwrap_or_default();
        println!(
            "d2's external cache before the cut: {} entr(ies) for {VIP}:80",
            entries.lines().filter(|l| l.contains("dport=80")).count()
        );
    }
    // d1 dies as far as the network can tell: every link down.
    d1.link_down("eth0").unwrap();
    d1.link_down("eth1").unwrap();
    let cut = started.elapsed();
    b2.wait_state_of("VI_EXT", "Master", Duration::from_secs(3));
    let took_over = started.elapsed() - cut;
    let got = download.join().unwrap();
    println!(
        "lvs_sync_daemon {}: d1 cut {cut:.1?} into the download, d2 MASTER {took_over:.1?} later; download: {got:?} of {BIG} bytes after {:.1?}",
        if sync { "on" } else { "off" },
        started.elapsed()
    );
    if sync {
        let s = b2.status().unwrap();
        let st = &s["lvs"]["sync_daemon"];
        println!("d2 sync: {st}");
        assert_eq!(st["role"], "Master", "{st:#}");
        assert_eq!(st["failed_commands"], 0, "{st:#}\n{}", b2.logs());
    }
    drop(servers);
    Some(got)
}

#[test]
fn download_survives_director_failover_with_lvs_sync_daemon() {
    let Some(got) = failover_download("lvs-sync-on", true) else {
        return;
    };
    assert_eq!(got, Ok(BIG), "the download went on through the backup");
}

#[test]
fn download_breaks_on_director_failover_without_lvs_sync_daemon() {
    let Some(got) = failover_download("lvs-sync-off", false) else {
        return;
    };
    assert!(
        got.as_ref().map_or(true, |n| *n < BIG),
        "without connection sync the download cannot go on: {got:?}"
    );
}
