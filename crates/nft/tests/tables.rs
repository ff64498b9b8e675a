//! A table of one's own on the real kernel, with no `nft` program: claimed, given a counting
//! rule, read back with its counter, and gone with its socket. Root only; skipped with the
//! reason printed otherwise.

#![allow(clippy::unwrap_used)] // a test: a failed setup step is a failed test

use std::net::UdpSocket;

use baton_lab::{HostSpec, Lab};
use baton_nft::batch::{BaseChain, Batch, HookPoint, TABLE_GROUP, TableId};
use baton_nft::expr::{self, Action, MetaKey, NfProto, Operator, r};
use baton_nft::socket::NftSocket;
use baton_nft::table;

/// IPPROTO_UDP.
const UDP: u8 = 17;

#[test]
fn a_counting_rule_is_read_back_and_the_table_goes_with_its_socket() {
    if !baton_lab::require_root() {
        return;
    }
    let lab = Lab::new("nft-tables").unwrap();
    let sender = lab
        .add_host(HostSpec::new("sender").addr("10.9.0.1/24"))
        .unwrap();
    let filter = lab
        .add_host(HostSpec::new("filter").addr("10.9.0.2/24"))
        .unwrap();
    let t = TableId::new(NfProto::Inet, "baton_test");
    let mut sock = filter.in_netns(NftSocket::open).unwrap().unwrap();
    let mut b = Batch::new();
    table::claim(&mut b, &t);
    let input = BaseChain {
        hook: HookPoint::Input,
        kind: "filter",
        priority: 0,
    };
    b.add_chain(TABLE_GROUP, &t, "input", Some(&input));
    b.add_rule(
        TABLE_GROUP,
        &t,
        "input",
        vec![
            expr::meta(MetaKey::L4Proto, r(0)),
            expr::cmp(r(0), Operator::Equal, &[UDP]),
            expr::counter(),
            expr::verdict(&Action::Drop),
        ],
        "meta l4proto udp counter drop",
    );
    table::commit(&mut sock, &b, &t).unwrap();

    let rules = sock.rules(&t, "input").unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(expr::counted(&rules[0]), Some((0, 0)));

    // Five datagrams of 100 bytes: 5 × (20 IPv4 + 8 UDP + 100) bytes at the input hook.
    sender
        .in_netns(|| {
            let s = UdpSocket::bind("10.9.0.1:0").unwrap();
            for _ in 0..5 {
                s.send_to(&[0u8; 100], "10.9.0.2:9999").unwrap();
            }
        })
        .unwrap();
    let mut counted = None;
    for _ in 0..50 {
        counted = expr::counted(&sock.rules(&t, "input").unwrap()[0]);
        if counted == Some((5, 640)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(counted, Some((5, 640)));

    // The table is owned: another socket cannot claim it while this one lives, and the
    // kernel deletes it (rule and counter with it) when this one closes.
    let mut other = filter.in_netns(NftSocket::open).unwrap().unwrap();
    let mut claim = Batch::new();
    table::claim(&mut claim, &t);
    let refused = table::commit(&mut other, &claim, &t).unwrap_err();
    assert!(
        matches!(refused, baton_nft::Error::Owned { .. }),
        "{refused}"
    );
    drop(sock);
    let mut claimed = table::commit(&mut other, &claim, &t);
    for _ in 0..50 {
        if claimed.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        claimed = table::commit(&mut other, &claim, &t);
    }
    claimed.unwrap();
    assert!(other.rules(&t, "input").unwrap().is_empty());
    lab.teardown().unwrap();
}
