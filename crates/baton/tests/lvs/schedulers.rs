//! Scheduling through baton's nftables NAT: rr and wrr split new connections by weight,
//! sh and persistence pin a client, IPv6 works; `baton status` shows it all.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use crate::common::{BATON, Baton};
use crate::lvs::lab::{VIP, VIP6, addr, count, nat_lab, wait_all_alive};

fn rs(i: usize, weight: u32) -> String {
    format!(
        "  real_server 10.2.0.1{i} 8080 {{\n   weight {weight}\n   TCP_CHECK {{\n    connect_timeout 1\n   }}\n  }}\n"
    )
}

fn vs(port: u16, body: &str, servers: &str) -> String {
    format!(
        "virtual_server {VIP} {port} {{\n delay_loop 1\n lb_kind NAT\n protocol TCP\n{body}{servers}}}\n"
    )
}

#[test]
fn schedulers_split_by_weight_and_pin_clients() {
    let Some(l) = nat_lab("lvs-sched", 3) else {
        return;
    };
    let all = |w: [u32; 3]| rs(1, w[0]) + &rs(2, w[1]) + &rs(3, w[2]);
    let conf = vs(80, " lb_algo rr\n", &all([1, 1, 1]))
        + &vs(81, " lb_algo wrr\n", &all([1, 2, 3]))
        + &vs(82, " lb_algo sh\n", &all([1, 1, 1]))
        + &vs(
            83,
            " lb_algo rr\n persistence_timeout 60\n",
            &all([1, 1, 1]),
        )
        + &format!(
            "virtual_server {VIP6} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
             \x20 real_server fd02::11 8080 {{\n   TCP_CHECK {{\n   }}\n  }}\n\
             \x20 real_server fd02::12 8080 {{\n   TCP_CHECK {{\n   }}\n  }}\n}}\n"
        );
    let b = Baton::start(&l.director, &conf);
    wait_all_alive(&b, Duration::from_secs(10));

    let rr = count(&l.client, None, addr(&format!("{VIP}:80")), 30);
    println!("rr 1:1:1 over 30 connections: {rr:?}");
    assert_eq!(
        rr.values().copied().collect::<Vec<_>>(),
        [10, 10, 10],
        "{rr:?}"
    );

    let wrr = count(&l.client, None, addr(&format!("{VIP}:81")), 60);
    println!("wrr 1:2:3 over 60 connections: {wrr:?}");
    assert_eq!(
        wrr,
        BTreeMap::from([("rs1".into(), 10), ("rs2".into(), 20), ("rs3".into(), 30)])
    );

    // sh: each source address always reaches one server; the sources spread.
    let sources: Vec<IpAddr> = (10..18)
        .map(|i| format!("10.1.0.{i}").parse().unwrap())
        .collect();
    for s in &sources {
        l.client
            .cmd(["ip", "addr", "add", &format!("{s}/24"), "dev", "eth0"])
            .unwrap();
    }
    let mut reached = BTreeMap::new();
    for s in &sources {
        let c = count(&l.client, Some(*s), addr(&format!("{VIP}:82")), 5);
        assert_eq!(c.len(), 1, "sh: {s} reached {c:?}");
        *reached.entry(c.into_keys().next().unwrap()).or_insert(0) += 1;
    }
    println!("sh: 8 sources x 5 connections, sources per server {reached:?}");
    assert!(reached.len() >= 2, "sh spreads sources: {reached:?}");

    // Persistence: one client stays on one server, another client may land elsewhere.
    let pinned = count(&l.client, Some(sources[0]), addr(&format!("{VIP}:83")), 12);
    println!("persistence_timeout 60, one client, 12 connections: {pinned:?}");
    assert_eq!(pinned.len(), 1, "{pinned:?}");

    let v6 = count(&l.client, None, addr(&format!("[{VIP6}]:80")), 10);
    println!("IPv6 rr over 10 connections: {v6:?}");
    assert_eq!(v6.values().copied().collect::<Vec<_>>(), [5, 5], "{v6:?}");

    // The table as an operator sees it.
    let out = Command::new(BATON)
        .args(["status", "-p"])
        .arg(&b.pidfile)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        text.contains("VS [10.1.0.100]:tcp:81 wrr NAT quorum up (6/1)"),
        "{text}"
    );
    assert!(
        text.contains("  RS [10.2.0.13]:tcp:8080 UP weight 3 (configured 3)"),
        "{text}"
    );
    assert!(text.contains("TCP_CHECK [10.2.0.13]:8080 up"), "{text}");
    assert!(text.contains("nftables inet baton_lvs: open"), "{text}");
    let rules = l
        .director
        .cmd(["nft", "list", "table", "inet", "baton_lvs"])
        .unwrap();
    assert!(rules.contains("numgen inc mod 6"), "{rules}");
}
