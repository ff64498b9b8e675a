//! LVS-DR through the daemon: the director forwards the client's frames to a real server's
//! MAC and the reply comes straight from the real server, source the virtual address.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use baton_lab::{HostSpec, Lab};

use crate::common::Baton;
use crate::lvs::lab::{RealServer, addr, can_run, count, get, wait_all_alive};

const VIP: &str = "10.3.0.100";
const VIP6: &str = "fd03::100";

#[test]
fn direct_routing_replies_come_straight_from_the_real_server() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("lvs-dr").unwrap();
    let client = lab
        .add_host(
            HostSpec::new("client")
                .addr("10.3.0.2/24")
                .addr("fd03::2/64"),
        )
        .unwrap();
    let director = lab
        .add_host(
            HostSpec::new("director")
                .addr("10.3.0.1/24")
                .addr(format!("{VIP}/32"))
                .addr("fd03::1/64"),
        )
        .unwrap();
    // Deprecated, as keepalived adds an IPv6 VIP: the director's own connections (the
    // checkers') keep their source address, not the VIP (which the real servers hold too).
    director
        .sh(&format!(
            "ip addr add {VIP6}/128 dev eth0 nodad preferred_lft 0"
        ))
        .unwrap();
    let mut servers = Vec::new();
    let mut macs = Vec::new();
    for i in 1..=2 {
        let h = lab
            .add_host(
                HostSpec::new(format!("rs{i}"))
                    .addr(format!("10.3.0.1{i}/24"))
                    .addr(format!("fd03::1{i}/64")),
            )
            .unwrap();
        // As LVS-DR wants: the VIP on loopback, no ARP answers for it.
        h.sh(&format!(
            "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 && \
             ip addr add {VIP}/32 dev lo && ip addr add {VIP6}/128 dev lo"
        ))
        .unwrap();
        macs.push(h.interface("eth0").unwrap().mac);
        servers.push(RealServer::install(&h, &format!("rs{i}")));
    }
    let director_mac = director.interface("eth0").unwrap().mac;
    let real = |a: &str| {
        format!(
            "  real_server {a} 80 {{\n   HTTP_GET {{\n    url {{\n     path /\n    }}\n   }}\n  }}\n"
        )
    };
    let conf = format!(
        "virtual_server {VIP} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind DR\n protocol TCP\n{}{}}}\n\
         virtual_server {VIP6} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind DR\n protocol TCP\n{}{}}}\n",
        real("10.3.0.11"),
        real("10.3.0.12"),
        real("fd03::11"),
        real("fd03::12"),
    );
    let b = Baton::start(&director, &conf);
    wait_all_alive(&b, Duration::from_secs(10));

    let cap = client.capture("eth0", "tcp src port 80").unwrap();
    let v4 = count(&client, None, addr(&format!("{VIP}:80")), 10);
    let v6 = count(&client, None, addr(&format!("[{VIP6}]:80")), 10);
    let body = get(
        &client,
        None,
        addr(&format!("{VIP}:80")),
        "/",
        Duration::from_secs(2),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pcap = cap.stop().unwrap();
    let body = String::from_utf8_lossy(&body).trim().to_string();
    println!("DR rr: IPv4 {v4:?}, IPv6 {v6:?}; a real server saw {body:?}");
    assert_eq!(v4.values().copied().collect::<Vec<_>>(), [5, 5], "{v4:?}");
    assert_eq!(v6.values().copied().collect::<Vec<_>>(), [5, 5], "{v6:?}");
    assert!(
        body.ends_with("10.3.0.2"),
        "no NAT: the server sees the client: {body}"
    );

    let vips: [IpAddr; 2] = [VIP.parse().unwrap(), VIP6.parse().unwrap()];
    let mut from = BTreeMap::new();
    for rec in &pcap.records {
        let (Some((_, src, _, _)), Some(ip)) = (rec.ethernet(), rec.ip()) else {
            continue;
        };
        assert!(vips.contains(&ip.src), "reply from {}", ip.src);
        assert_ne!(src, director_mac, "a reply came through the director");
        assert!(macs.contains(&src), "reply from unknown MAC {src}");
        *from.entry(src.to_string()).or_insert(0) += 1;
    }
    println!("reply frames by source MAC: {from:?} (director {director_mac})");
    assert_eq!(from.len(), 2, "both real servers replied directly");
    let rules = director
        .cmd(["nft", "list", "table", "netdev", "baton_lvs"])
        .unwrap();
    assert!(rules.contains("fwd ip to 10.3.0.11 device iif"), "{rules}");
    drop(servers);
}
