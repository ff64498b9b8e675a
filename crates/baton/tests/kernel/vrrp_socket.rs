//! Two namespaces joined by a veth exchange VRRP adverts built with baton-wire; the receiver
//! must see source, destination and TTL / hop limit exactly.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use baton::south::vrrp_socket::{MAX_RECV_BATCH, RECV_BUFFER, Received, RecvBatch, VrrpSocket};
use baton_wire::advert::{Packet, encode_addresses};
use baton_wire::{
    Addresses, AdvertRepr, Auth, ChecksumForm, ChecksumPolicy, Family, MCAST_GROUP_V4,
    MCAST_GROUP_V6, Version,
};
use socket2::{Domain, Protocol, Socket, Type};

use crate::netns::{Netns, VrrpEnds, in_thread, root_or_skip, runtime, veth_pair};

fn pair(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    veth_pair(&a, &b);
    a.ip(&["addr", "add", "10.3.0.1/24", "dev", "va"]);
    b.ip(&["addr", "add", "10.3.0.2/24", "dev", "vb"]);
    (a, b)
}

fn ifindex(ns: &Netns, dev: &str) -> u32 {
    ns.ip_json(&["link", "show", "dev", dev])[0]["ifindex"]
        .as_u64()
        .unwrap() as u32
}

async fn recv_within<'b>(s: &mut VrrpSocket, buf: &'b mut [u8]) -> Received<'b> {
    tokio::time::timeout(Duration::from_secs(5), s.recv(buf))
        .await
        .expect("no datagram within 5 s")
        .expect("receive failed")
}

/// The seed's advert: VRRPv2, VRID 51, priority 200, PASS "1111", VIP 192.168.5.10.
fn seed_advert(vips: &[u8]) -> AdvertRepr<'_> {
    AdvertRepr {
        version: Version::V2,
        vrid: 51,
        priority: 200,
        interval: 1,
        auth: Auth::pass(b"1111"),
        addresses: Addresses::new(Family::Ipv4, vips).unwrap(),
    }
}

#[test]
fn ipv4_advert_crosses_with_ttl_255_multicast_and_unicast() {
    if !root_or_skip("ipv4_advert_crosses_with_ttl_255_multicast_and_unicast") {
        return;
    }
    let (a, b) = pair("v4");
    let (ia, ib) = (ifindex(&a, "va"), ifindex(&b, "vb"));
    in_thread(|| {
        let rt = runtime();
        let _guard = rt.enter();
        b.enter();
        let mut rx = VrrpSocket::open("vb", ib, Family::Ipv4).unwrap();
        rx.join(IpAddr::V4(MCAST_GROUP_V4)).unwrap();
        a.enter();
        let tx = VrrpSocket::open("va", ia, Family::Ipv4).unwrap();
        rt.block_on(async {
            let vips =
                encode_addresses(Family::Ipv4, &[IpAddr::V4(Ipv4Addr::new(192, 168, 5, 10))]);
            let advert = seed_advert(&vips);
            let src: IpAddr = "10.3.0.1".parse().unwrap();
            for dst in [IpAddr::V4(MCAST_GROUP_V4), "10.3.0.2".parse().unwrap()] {
                let mut out = [0u8; 64];
                let n = advert
                    .emit(&mut out, src, dst, ChecksumForm::Plain)
                    .unwrap();
                tx.send(src, dst, &out[..n]).await.unwrap();

                let mut buf = [0u8; RECV_BUFFER];
                let got = recv_within(&mut rx, &mut buf).await;
                assert_eq!(got.src, src);
                assert_eq!(got.dst, dst);
                assert_eq!(got.ttl, 255);
                assert_eq!(got.payload, &out[..n]);
                let packet = Packet::new_checked(got.payload, Family::Ipv4).unwrap();
                let (parsed, _) = AdvertRepr::parse(
                    &packet,
                    Family::Ipv4,
                    got.src,
                    got.dst,
                    ChecksumPolicy::Either,
                )
                .unwrap();
                assert_eq!(parsed, advert);
            }
        });
    });
}

#[test]
fn ipv6_advert_crosses_with_hop_limit_255_multicast_and_unicast() {
    if !root_or_skip("ipv6_advert_crosses_with_hop_limit_255_multicast_and_unicast") {
        return;
    }
    let (a, b) = pair("v6");
    let (ia, ib) = (ifindex(&a, "va"), ifindex(&b, "vb"));
    let src = IpAddr::V6(a.link_local("va"));
    let peer = b.link_local("vb");
    in_thread(|| {
        let rt = runtime();
        let _guard = rt.enter();
        b.enter();
        let mut rx = VrrpSocket::open("vb", ib, Family::Ipv6).unwrap();
        rx.join(IpAddr::V6(MCAST_GROUP_V6)).unwrap();
        a.enter();
        let tx = VrrpSocket::open("va", ia, Family::Ipv6).unwrap();
        rt.block_on(async {
            let vips = encode_addresses(Family::Ipv6, &["fd00::10".parse().unwrap()]);
            let advert = AdvertRepr {
                version: Version::V3,
                vrid: 51,
                priority: 200,
                interval: 100,
                auth: Auth::None,
                addresses: Addresses::new(Family::Ipv6, &vips).unwrap(),
            };
            // To the group, then to the peer's link-local address (a unicast_peer).
            for dst in [IpAddr::V6(MCAST_GROUP_V6), IpAddr::V6(peer)] {
                let mut out = [0u8; 64];
                let n = advert
                    .emit(&mut out, src, dst, ChecksumForm::PseudoHeader)
                    .unwrap();
                tx.send(src, dst, &out[..n]).await.unwrap();

                let mut buf = [0u8; RECV_BUFFER];
                let got = recv_within(&mut rx, &mut buf).await;
                assert_eq!(got.src, src);
                assert_eq!(got.dst, dst);
                assert_eq!(got.ttl, 255);
                let packet = Packet::new_checked(got.payload, Family::Ipv6).unwrap();
                let (parsed, form) = AdvertRepr::parse(
                    &packet,
                    Family::Ipv6,
                    got.src,
                    got.dst,
                    ChecksumPolicy::Either,
                )
                .unwrap();
                assert_eq!(parsed, advert);
                assert_eq!(form, ChecksumForm::PseudoHeader);
            }
        });
    });
}

#[test]
fn packet_sent_with_ttl_1_is_seen_with_ttl_1_so_the_core_can_drop_it() {
    if !root_or_skip("packet_sent_with_ttl_1_is_seen_with_ttl_1_so_the_core_can_drop_it") {
        return;
    }
    let (a, b) = pair("ttl");
    let ib = ifindex(&b, "vb");
    let src6 = a.link_local("va");
    in_thread(|| {
        let rt = runtime();
        let _guard = rt.enter();
        b.enter();
        let mut rx4 = VrrpSocket::open("vb", ib, Family::Ipv4).unwrap();
        rx4.join(IpAddr::V4(MCAST_GROUP_V4)).unwrap();
        let mut rx6 = VrrpSocket::open("vb", ib, Family::Ipv6).unwrap();
        rx6.join(IpAddr::V6(MCAST_GROUP_V6)).unwrap();
        a.enter();
        // A sender that sets nothing but TTL 1, as a misconfigured or remote router would.
        let plain4 = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        plain4.bind_device(Some(b"va")).unwrap();
        plain4.set_multicast_ttl_v4(1).unwrap();
        let plain6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112))).unwrap();
        plain6.bind_device(Some(b"va")).unwrap();
        plain6.set_multicast_hops_v6(1).unwrap();
        rt.block_on(async {
            let vips =
                encode_addresses(Family::Ipv4, &[IpAddr::V4(Ipv4Addr::new(192, 168, 5, 10))]);
            let mut out = [0u8; 64];
            let src: IpAddr = "10.3.0.1".parse().unwrap();
            let n = seed_advert(&vips)
                .emit(
                    &mut out,
                    src,
                    IpAddr::V4(MCAST_GROUP_V4),
                    ChecksumForm::Plain,
                )
                .unwrap();
            let to = std::net::SocketAddr::new(IpAddr::V4(MCAST_GROUP_V4), 0);
            plain4.send_to(&out[..n], &to.into()).unwrap();
            let mut buf = [0u8; RECV_BUFFER];
            let got = recv_within(&mut rx4, &mut buf).await;
            assert_eq!(got.ttl, 1);
            assert_eq!(got.src, src);

            let to6 = std::net::SocketAddrV6::new(MCAST_GROUP_V6, 0, 0, ifindex(&a, "va"));
            plain6
                .send_to(&[0x31, 51, 200, 0, 0, 100, 0, 0], &to6.into())
                .unwrap();
            let mut buf = [0u8; RECV_BUFFER];
            let got = recv_within(&mut rx6, &mut buf).await;
            assert_eq!(got.ttl, 1);
            assert_eq!(got.src, IpAddr::V6(src6));
            assert_eq!(got.payload, &[0x31, 51, 200, 0, 0, 100, 0, 0]);
        });
    });
}

/// A socket behind many instances gets room for a burst of one advert each: masters send all
/// their instances' adverts at once every interval.
#[test]
fn receive_room_grows_past_the_default_and_never_shrinks() {
    if !root_or_skip("receive_room_grows_past_the_default_and_never_shrinks") {
        return;
    }
    let (a, _b) = pair("room");
    let ia = ifindex(&a, "va");
    in_thread(|| {
        let rt = runtime();
        let _guard = rt.enter();
        a.enter();
        let s = VrrpSocket::open("va", ia, Family::Ipv4).unwrap();
        let default = s.receive_buffer().unwrap();
        // 8 MiB: far past the usual net.core.rmem_max, which only SO_RCVBUFFORCE passes.
        let wanted = 8 << 20;
        s.reserve_receive_room(wanted).unwrap();
        let grown = s.receive_buffer().unwrap();
        assert!(grown >= wanted, "{grown} < {wanted} (default {default})");
        s.reserve_receive_room(1024).unwrap();
        assert_eq!(s.receive_buffer().unwrap(), grown, "shrank");
    });
}

/// The wall clock, as the arrival stamps read it.
fn wall_clock() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
}

/// A v2 advert's bytes for `vrid`, one VIP (192.168.5.10): its VRID shows the order of
/// arrival.
fn v2_advert(vrid: u8) -> [u8; 12] {
    [0x21, vrid, 200, 1, 1, 1, 0, 0, 192, 168, 5, 10]
}

/// A parked socket wakes nobody: polled, it stays pending with datagrams waiting. Read
/// without waiting, it hands over everything that arrived, in one `recvmmsg` per batch (the
/// batch grows to take a burst), each datagram with its source, destination, TTL and the
/// kernel's arrival time; unparked, the next datagram makes it ready again.
#[test]
fn parked_socket_keeps_its_datagrams_for_a_batched_read() {
    if !root_or_skip("parked_socket_keeps_its_datagrams_for_a_batched_read") {
        return;
    }
    let (a, b) = pair("park");
    let src6 = IpAddr::V6(a.link_local("va"));
    in_thread(|| {
        let rt = runtime();
        let _guard = rt.enter();
        let VrrpEnds {
            mut rx4,
            mut rx6,
            tx4,
            tx6,
        } = VrrpEnds::open(&a, &b);
        let src4: IpAddr = "10.3.0.1".parse().unwrap();
        const BURST: usize = 100;
        rt.block_on(async {
            rx4.park();
            rx6.park();
            assert!(rx4.is_parked() && rx6.is_parked());
            // The kernel turns arrival stamping on for the whole host a little after the
            // first socket asks for it (a deferred static key); until then a datagram is
            // stamped when it is read. Wait until a datagram read 5 ms after it was sent
            // carries its arrival time.
            let mut warm = RecvBatch::new();
            let mut stamped = false;
            for _ in 0..200 {
                tx4.send(src4, IpAddr::V4(MCAST_GROUP_V4), &v2_advert(250))
                    .await
                    .unwrap();
                let sent = wall_clock();
                tokio::time::sleep(Duration::from_millis(5)).await;
                let n = rx4.recv_waiting(&mut warm).unwrap();
                let arrived = (0..n).filter_map(|k| warm.received(k, Family::Ipv4).ok()?.arrived);
                stamped = arrived
                    .max()
                    .is_some_and(|a| a < sent + Duration::from_millis(2));
                if stamped {
                    break;
                }
            }
            assert!(stamped, "no datagram stamped on arrival within a second");
            let sent_from = wall_clock();
            for k in 0..BURST {
                tx4.send(src4, IpAddr::V4(MCAST_GROUP_V4), &v2_advert(k as u8 + 1))
                    .await
                    .unwrap();
                let v6 = [0x31u8, k as u8 + 1, 200, 0, 0, 100, 0, 0];
                tx6.send(src6, IpAddr::V6(MCAST_GROUP_V6), &v6)
                    .await
                    .unwrap();
            }
            let sent_by = wall_clock();
            // Delivery through the veth is synchronous with the send; give it a moment anyway.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut batch = RecvBatch::new();
            let polled = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(rx4.poll_recv_batch(cx, &mut batch).is_pending())
            })
            .await;
            assert!(polled, "a parked socket is never ready");
            for (rx, family) in [(&rx4, Family::Ipv4), (&rx6, Family::Ipv6)] {
                let mut vrids = Vec::new();
                let mut reads = 0;
                loop {
                    let n = rx.recv_waiting(&mut batch).unwrap();
                    if n == 0 {
                        break;
                    }
                    reads += 1;
                    for k in 0..n {
                        let got = batch.received(k, family).unwrap();
                        assert_eq!(got.ttl, 255);
                        let src = if family == Family::Ipv4 { src4 } else { src6 };
                        assert_eq!(got.src, src);
                        let arrived = got.arrived.expect("an arrival time");
                        assert!(
                            arrived >= sent_from - Duration::from_millis(1)
                                && arrived <= sent_by + Duration::from_millis(1),
                            "{family}: arrival {arrived:?} outside the send window \
                             {sent_from:?}..{sent_by:?}"
                        );
                        vrids.push(got.payload[1]);
                    }
                }
                let want: Vec<u8> = (1..=BURST as u8).collect();
                assert_eq!(vrids, want, "{family}: every datagram, in order");
                // 1 + 2 + 4 + 8 + 16 + 32 slots, then 32 a read: far fewer reads than datagrams.
                assert!(reads <= 8, "{family}: {reads} reads for {BURST} datagrams");
            }
            assert_eq!(
                batch.slots(),
                MAX_RECV_BATCH,
                "the batch grew to take the burst"
            );
            rx4.unpark().unwrap();
            assert!(!rx4.is_parked());
            tx4.send(src4, IpAddr::V4(MCAST_GROUP_V4), &v2_advert(7))
                .await
                .unwrap();
            let n = tokio::time::timeout(
                Duration::from_secs(5),
                std::future::poll_fn(|cx| rx4.poll_recv_batch(cx, &mut batch)),
            )
            .await
            .expect("unparked, the socket is ready again")
            .unwrap();
            assert_eq!(n, 1);
            assert_eq!(batch.received(0, Family::Ipv4).unwrap().payload[1], 7);
        });
    });
}

/// IPv4 adverts carry the header baton writes: TTL 255 to the group, the configured
/// `unicast_ttl` to a unicast peer, TOS 0xc0, DF clear, an identification counted up by the
/// socket (never zero), and a right header checksum — through the raw socket to the peer, as
/// a frame to the group.
#[test]
fn ipv4_header_carries_unicast_ttl_ident_and_checksum() {
    if !root_or_skip("ipv4_header_carries_unicast_ttl_ident_and_checksum") {
        return;
    }
    let (a, b) = pair("uttl");
    let ia = ifindex(&a, "va");
    in_thread(|| {
        let rt = runtime();
        let _guard = rt.enter();
        b.enter();
        let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        raw.bind_device(Some(b"vb")).unwrap();
        raw.join_multicast_v4(&MCAST_GROUP_V4, &Ipv4Addr::new(10, 3, 0, 2))
            .unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        a.enter();
        let tx = VrrpSocket::open("va", ia, Family::Ipv4).unwrap();
        tx.set_unicast_ttl(7).unwrap();
        let src: IpAddr = "10.3.0.1".parse().unwrap();
        let vips = encode_addresses(Family::Ipv4, &[IpAddr::V4(Ipv4Addr::new(192, 168, 5, 10))]);
        let mut idents = Vec::new();
        for (dst, ttl) in [
            ("10.3.0.2".parse::<IpAddr>().unwrap(), 7u8),
            (IpAddr::V4(MCAST_GROUP_V4), 255),
        ] {
            let mut out = [0u8; 64];
            let n = seed_advert(&vips)
                .emit(&mut out, src, dst, ChecksumForm::Plain)
                .unwrap();
            rt.block_on(tx.send(src, dst, &out[..n])).unwrap();
            let mut bytes = [0u8; 256];
            let got = nix::sys::socket::recv(
                std::os::fd::AsRawFd::as_raw_fd(&raw),
                &mut bytes,
                nix::sys::socket::MsgFlags::empty(),
            )
            .unwrap();
            assert_eq!(got, 20 + n, "header and advert");
            let h = &bytes[..20];
            assert_eq!(h[0], 0x45, "version 4, no options");
            assert_eq!(h[1], 0xc0, "TOS");
            assert_eq!(
                u16::from_be_bytes([h[2], h[3]]) as usize,
                20 + n,
                "total length"
            );
            assert_eq!(h[6] & 0x40, 0, "DF clear");
            idents.push(u16::from_be_bytes([h[4], h[5]]));
            assert_eq!(h[8], ttl, "TTL to {dst}");
            assert_eq!(h[9], 112);
            assert_eq!(&h[12..16], &[10, 3, 0, 1]);
            assert!(
                baton_wire::ipv4::header_checksum_ok(&bytes[..got]),
                "the header checksum"
            );
            assert_eq!(&bytes[20..got], &out[..n]);
        }
        assert_eq!(idents, [1, 2], "identifications, one per advert sent");
    });
}

/// An IPv4 advert to the group leaves as a frame ([`baton::south::advert_frames`]): on the
/// wire an Ethernet header from the sender's MAC to 01:00:5e:00:00:12, type IPv4, then the
/// same datagram the raw socket sends (checked field by field above); the receiver's raw
/// VRRP socket takes it as before. An OUTPUT rule dropping VRRP in the sender's namespace
/// stops the unicast advert (routed through the IP output path) but not the group's, which no
/// longer passes that hook. IPv6 adverts to the group likewise, to 33:33:00:00:00:12 with the
/// header the kernel would write. A loopback interface (not Ethernet) sends everything the old
/// way.
#[test]
fn group_adverts_leave_as_frames_past_the_output_hook() {
    if !root_or_skip("group_adverts_leave_as_frames_past_the_output_hook") {
        return;
    }
    let (a, b) = pair("frm");
    let (ia, ib) = (ifindex(&a, "va"), ifindex(&b, "vb"));
    let mac_a = a.mac("va");
    let src6 = IpAddr::V6(a.link_local("va"));
    a.exec(&[
        "nft",
        "add table ip frm; add chain ip frm out { type filter hook output priority 0; }; \
         add rule ip frm out ip protocol 112 drop",
    ]);
    in_thread(|| {
        let rt = runtime();
        let _guard = rt.enter();
        b.enter();
        let mut rx = VrrpSocket::open("vb", ib, Family::Ipv4).unwrap();
        rx.join(IpAddr::V4(MCAST_GROUP_V4)).unwrap();
        // Every frame arriving on vb, link-layer header included.
        let tap = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from((libc::ETH_P_ALL as u16).to_be()))),
        )
        .unwrap();
        tap.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        a.enter();
        let tx = VrrpSocket::open("va", ia, Family::Ipv4).unwrap();
        assert!(tx.sends_frames(), "a veth is an Ethernet-type interface");
        let lo = VrrpSocket::open("lo", 1, Family::Ipv4).unwrap();
        assert!(!lo.sends_frames(), "loopback is not Ethernet");
        let vips = encode_addresses(Family::Ipv4, &[IpAddr::V4(Ipv4Addr::new(192, 168, 5, 10))]);
        let src: IpAddr = "10.3.0.1".parse().unwrap();
        let emit = |dst: IpAddr| {
            let mut out = [0u8; 64];
            let n = seed_advert(&vips)
                .emit(&mut out, src, dst, ChecksumForm::Plain)
                .unwrap();
            (out, n)
        };
        let unicast: IpAddr = "10.3.0.2".parse().unwrap();
        let (out, n) = emit(unicast);
        let dropped = rt.block_on(tx.send(src, unicast, &out[..n]));
        assert!(dropped.is_err(), "the OUTPUT rule drops the unicast advert");
        let group = IpAddr::V4(MCAST_GROUP_V4);
        let (out, n) = emit(group);
        rt.block_on(tx.send(src, group, &out[..n])).unwrap();
        let frame = next_frame(&tap, |f| {
            f.len() > 23 && f[12..14] == [0x08, 0x00] && f[23] == 112
        });
        assert_eq!(&frame[..6], &[1, 0, 0x5e, 0, 0, 0x12], "the group's MAC");
        assert_eq!(&frame[6..12], &mac_a, "the sender's MAC");
        assert!(baton_wire::ipv4::header_checksum_ok(&frame[14..]));
        assert_eq!(frame[14 + 8], 255, "TTL");
        assert_eq!(&frame[34..34 + n], &out[..n], "the advert");
        let mut buf = [0u8; RECV_BUFFER];
        let got = rt.block_on(recv_within(&mut rx, &mut buf));
        assert_eq!((got.src, got.dst, got.ttl), (src, group, 255));
        assert_eq!(got.payload, &out[..n]);

        let tx6 = VrrpSocket::open("va", ia, Family::Ipv6).unwrap();
        assert!(tx6.sends_frames());
        let vips6 = encode_addresses(Family::Ipv6, &["fd00::10".parse().unwrap()]);
        let advert6 = AdvertRepr {
            version: Version::V3,
            vrid: 51,
            priority: 200,
            interval: 100,
            auth: Auth::None,
            addresses: Addresses::new(Family::Ipv6, &vips6).unwrap(),
        };
        let group6 = IpAddr::V6(MCAST_GROUP_V6);
        let mut out6 = [0u8; 64];
        let n6 = advert6
            .emit(&mut out6, src6, group6, ChecksumForm::PseudoHeader)
            .unwrap();
        rt.block_on(tx6.send(src6, group6, &out6[..n6])).unwrap();
        let frame = next_frame(&tap, |f| {
            f.len() > 54 && f[12..14] == [0x86, 0xdd] && f[20] == 112
        });
        assert_eq!(&frame[..6], &[0x33, 0x33, 0, 0, 0, 0x12], "the group's MAC");
        assert_eq!(&frame[6..12], &mac_a, "the sender's MAC");
        let (ip6, payload) = baton_wire::ipv6::Ipv6Repr::parse(&frame[14..]).unwrap();
        assert_eq!(ip6.hop_limit, 255);
        assert_eq!((IpAddr::V6(ip6.src), IpAddr::V6(ip6.dst)), (src6, group6));
        assert_eq!(payload, &out6[..n6], "the advert");
    });
}

/// The next frame `tap` reads that `wanted` picks, skipping the kernel's own traffic on the
/// link (router solicitations, MLD reports); each read waits at most the tap's timeout.
fn next_frame(tap: &Socket, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    loop {
        let mut bytes = [std::mem::MaybeUninit::<u8>::uninit(); 256];
        let got = tap.recv(&mut bytes).expect("a frame within the timeout");
        // SAFETY: recv initialised the first `got` bytes.
        let f: Vec<u8> = bytes[..got]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        if wanted(&f) {
            return f;
        }
    }
}
