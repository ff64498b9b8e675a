//! Parsing allocates nothing: a counting global allocator watches every parser run over the
//! captured keepalived packets and over garbage.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use baton_wire::advert::Packet;
use baton_wire::ipv4::Ipv4Repr;
use baton_wire::ipv6::Ipv6Repr;
use baton_wire::{AdvertRepr, ChecksumPolicy, Family, arp, ndisc};

struct Counting;

thread_local! {
    /// Allocations made by this thread while counting is on; other test threads don't count.
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap()
}

const V4: [&[u8]; 4] = [
    include_bytes!("vectors/v2_pass.ip"),
    include_bytes!("vectors/v2_pass_prio0.ip"),
    include_bytes!("vectors/v2_noauth.ip"),
    include_bytes!("vectors/v3_ipv4.ip"),
];

#[test]
fn parsers_do_not_allocate() {
    // The counter itself must work, or a zero below would prove nothing.
    assert_eq!(allocations(|| drop(Box::new(1u64))), 1);

    let v6: &[u8] = include_bytes!("vectors/v3_ipv6.ip");
    let garp: &[u8] = include_bytes!("vectors/garp.eth");
    let na: &[u8] = include_bytes!("vectors/unsolicited_na.eth");
    let garbage: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
    let mut accepted = 0;
    let n = allocations(|| {
        for datagram in V4 {
            let (ip, vrrp) = Ipv4Repr::parse_vrrp(datagram).unwrap();
            let packet = Packet::new_checked(vrrp, Family::Ipv4).unwrap();
            let parsed = AdvertRepr::parse(
                &packet,
                Family::Ipv4,
                ip.src.into(),
                ip.dst.into(),
                ChecksumPolicy::Either,
            );
            accepted += usize::from(parsed.is_ok());
            // Walking the addresses borrows them.
            accepted += parsed.map_or(0, |(r, _)| r.addresses.iter().count().min(1));
        }
        let (ip, vrrp) = Ipv6Repr::parse(v6).unwrap();
        let packet = Packet::new_checked(vrrp, Family::Ipv6).unwrap();
        let (src, dst) = (ip.src.into(), ip.dst.into());
        accepted += usize::from(
            AdvertRepr::parse(&packet, Family::Ipv6, src, dst, ChecksumPolicy::Either).is_ok(),
        );
        accepted += usize::from(arp::FrameRepr::parse(garp).is_ok());
        accepted += usize::from(ndisc::FrameRepr::parse(na).is_ok());
        for cut in 0..garbage.len() {
            let g = &garbage[..cut];
            let _ = Ipv4Repr::parse(g);
            let _ = Ipv6Repr::parse(g);
            let _ = arp::FrameRepr::parse(g);
            let _ = ndisc::FrameRepr::parse(g);
            for family in [Family::Ipv4, Family::Ipv6] {
                let p = Packet::new_unchecked(g);
                let _ = AdvertRepr::parse(&p, family, src, dst, ChecksumPolicy::Either);
            }
        }
    });
    assert_eq!(
        accepted, 11,
        "the vectors must parse, or this test measures nothing"
    );
    assert_eq!(n, 0, "parsing allocated {n} times");
}
