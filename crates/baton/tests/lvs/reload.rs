//! SIGHUP with a changed real-server set: the change is applied as a diff (one service's
//! objects rewritten, the others untouched), a download through an unchanged service runs
//! on, and a bad reload keeps everything serving.

use std::thread;
use std::time::Duration;

use baton_lab::Signal;

use crate::common::Baton;
use crate::lvs::lab::{BIG, VIP, addr, count, get, nat_lab, wait_all_alive, wait_log};

fn conf(web_servers: &[usize], weight3: u32) -> String {
    let real = |i: usize, w: u32| {
        format!("  real_server 10.2.0.1{i} 8080 {{\n   weight {w}\n   TCP_CHECK {{\n   }}\n  }}\n")
    };
    let web: String = web_servers
        .iter()
        .map(|i| real(*i, if *i == 3 { weight3 } else { 1 }))
        .collect();
    format!(
        "virtual_server {VIP} 80 {{\n delay_loop 1\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n{web}}}\n\
         virtual_server {VIP} 88 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n{}}}\n",
        real(1, 1)
    )
}

/// The handle (nftables' rule number) of every rule of `chain`: rules left alone by a
/// change keep theirs.
fn handles(director: &baton_lab::Host, chain: &str) -> Vec<String> {
    let out = director
        .cmd(["nft", "-a", "list", "chain", "inet", "baton_lvs", chain])
        .unwrap();
    out.lines()
        .filter_map(|l| l.split("# handle ").nth(1).map(str::to_string))
        .collect()
}

#[test]
fn reload_applies_the_real_server_diff_and_keeps_flows() {
    let Some(l) = nat_lab("lvs-reload", 3) else {
        return;
    };
    let b = Baton::start(&l.director, &conf(&[1, 2], 1));
    wait_all_alive(&b, Duration::from_secs(10));
    let web = addr(&format!("{VIP}:80"));
    let other = addr(&format!("{VIP}:88"));
    let before = count(&l.client, None, web, 4);
    assert_eq!(before.keys().collect::<Vec<_>>(), ["rs1", "rs2"]);
    let untouched = handles(&l.director, "vs_10_1_0_100_tcp_88");

    // A download through :88 runs across the reload.
    let client = l.client.clone();
    let download = thread::spawn(move || {
        get(&client, None, other, "/big", Duration::from_secs(10)).map(|b| b.len())
    });
    thread::sleep(Duration::from_millis(500));

    // rs3 joins :80 with weight 2, rs2 leaves it.
    b.rewrite(&conf(&[1, 3], 2));
    b.signal(Signal::SIGHUP);
    wait_log(
        &b,
        "Removing service [10.2.0.12]:tcp:8080 from VS [10.1.0.100]:tcp:80",
        Duration::from_secs(5),
    );
    wait_all_alive(&b, Duration::from_secs(10));
    let after = count(&l.client, None, web, 30);
    println!("after the reload, wrr rs1:rs3 = 1:2 over 30 connections: {after:?}");
    assert_eq!(
        after.into_iter().collect::<Vec<_>>(),
        [("rs1".to_string(), 10), ("rs3".to_string(), 20)]
    );
    assert_eq!(
        handles(&l.director, "vs_10_1_0_100_tcp_88"),
        untouched,
        "the unchanged service's rules were not rewritten"
    );
    let got = download.join().unwrap();
    println!("download through the unchanged :88 across the reload: {got:?} of {BIG} bytes");
    assert_eq!(got, Ok(BIG));

    // A configuration with an error is refused; everything keeps serving as it was.
    b.rewrite(&conf(&[1, 3], 2).replace("lb_algo wrr", "lb_algo wrr\n weight banana"));
    b.signal(Signal::SIGHUP);
    wait_log(&b, "Reload refused", Duration::from_secs(5));
    let still = count(&l.client, None, web, 6);
    assert_eq!(
        still.into_iter().collect::<Vec<_>>(),
        [("rs1".to_string(), 2), ("rs3".to_string(), 4)]
    );
}
