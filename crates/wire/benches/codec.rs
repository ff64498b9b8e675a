//! Parse and emit costs of the codecs on the packets a router handles every interval.
//! `cargo bench -p baton-wire --bench codec`; criterion prints the median as the middle value
//! of `time: [low median high]`.

use core::hint::black_box;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use baton_wire::advert::Packet;
use baton_wire::ipv4::Ipv4Repr;
use baton_wire::{
    Addresses, AdvertRepr, Auth, ChecksumForm, ChecksumPolicy, Family, MacAddr, Version, arp, ndisc,
};
use criterion::{Criterion, criterion_group, criterion_main};

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 11));
const DST4: IpAddr = IpAddr::V4(baton_wire::MCAST_GROUP_V4);
const MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b]);
const VIP: [u8; 4] = [192, 168, 5, 10];

fn v3_one_address() -> AdvertRepr<'static> {
    AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 200,
        interval: 100,
        auth: Auth::None,
        addresses: Addresses::new(Family::Ipv4, &VIP).unwrap_or(Addresses::empty(Family::Ipv4)),
    }
}

fn emitted(repr: &AdvertRepr<'_>, form: ChecksumForm) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    if repr.emit(&mut buf, SRC4, DST4, form).is_err() {
        panic!("benchmark advert does not emit");
    }
    buf
}

fn parse(c: &mut Criterion) {
    let v3 = v3_one_address();
    let pseudo = emitted(&v3, ChecksumForm::PseudoHeader);
    let plain = emitted(&v3, ChecksumForm::Plain);
    let v2 = emitted(
        &AdvertRepr {
            version: Version::V2,
            interval: 1,
            auth: Auth::pass(b"1111"),
            ..v3
        },
        ChecksumForm::Plain,
    );
    let v3_ipv6: &[u8] = include_bytes!("../tests/vectors/v3_ipv6.ip");
    let (src6, dst6) = (
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x5eff, 0xfe10, 0x000b)),
        IpAddr::V6(baton_wire::MCAST_GROUP_V6),
    );
    let datagram: &[u8] = include_bytes!("../tests/vectors/v3_ipv4.ip");

    let mut g = c.benchmark_group("parse");
    let cases: [(&str, &[u8], ChecksumPolicy); 4] = [
        // The target case: v3/IPv4, one address, keepalived's default checksum.
        ("v3_ipv4_1addr", &pseudo, ChecksumPolicy::Either),
        (
            "v3_ipv4_1addr_strict",
            &pseudo,
            ChecksumPolicy::Expect(ChecksumForm::PseudoHeader),
        ),
        // Worst case of the accept-either mode: the pseudo-header sum fails first.
        ("v3_ipv4_1addr_plain_either", &plain, ChecksumPolicy::Either),
        ("v2_pass_1addr", &v2, ChecksumPolicy::Either),
    ];
    for (name, bytes, policy) in cases {
        g.bench_function(name, |b| {
            b.iter(|| {
                let bytes = black_box(bytes);
                let packet = Packet::new_checked(bytes, Family::Ipv4);
                packet.and_then(|p| AdvertRepr::parse(&p, Family::Ipv4, SRC4, DST4, policy))
            })
        });
    }
    g.bench_function("v3_ipv6_2addr", |b| {
        b.iter(|| {
            let packet = Packet::new_checked(black_box(&v3_ipv6[40..]), Family::Ipv6);
            packet.and_then(|p| {
                AdvertRepr::parse(&p, Family::Ipv6, src6, dst6, ChecksumPolicy::Either)
            })
        })
    });
    // What the daemon does per received IPv4 datagram: header, then advert.
    g.bench_function("ipv4_datagram_v3_2addr", |b| {
        b.iter(|| {
            let (ip, vrrp) = Ipv4Repr::parse_vrrp(black_box(datagram))?;
            let packet = Packet::new_checked(vrrp, Family::Ipv4)?;
            let (src, dst) = (ip.src.into(), ip.dst.into());
            AdvertRepr::parse(&packet, Family::Ipv4, src, dst, ChecksumPolicy::Either)
        })
    });
    g.finish();
}

fn emit(c: &mut Criterion) {
    let v3 = v3_one_address();
    let v2 = AdvertRepr {
        version: Version::V2,
        interval: 1,
        auth: Auth::pass(b"1111"),
        ..v3
    };
    let mut g = c.benchmark_group("emit");
    let mut buf = [0u8; 128];
    g.bench_function("v3_ipv4_1addr", |b| {
        b.iter(|| black_box(&v3).emit(&mut buf, SRC4, DST4, ChecksumForm::PseudoHeader))
    });
    g.bench_function("v2_pass_1addr", |b| {
        b.iter(|| black_box(&v2).emit(&mut buf, SRC4, DST4, ChecksumForm::Plain))
    });
    let garp = arp::FrameRepr::gratuitous(MAC, Ipv4Addr::from(VIP));
    g.bench_function("garp_frame", |b| b.iter(|| black_box(&garp).emit(&mut buf)));
    let na =
        ndisc::FrameRepr::unsolicited(MAC, Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x56), false);
    g.bench_function("unsolicited_na_frame", |b| {
        b.iter(|| black_box(&na).emit(&mut buf))
    });
    g.finish();
}

fn config() -> Criterion {
    // Short runs: these are nanosecond operations and the suite shares two cores.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse, emit
}
criterion_main!(benches);
