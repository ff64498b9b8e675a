//! The VRRP receive path must not allocate per packet: with the adverts already queued, reading
//! them (IPv4 header parse, IPv6 ancillary data) counts zero heap allocations on this thread.
//! A binary of its own because it installs a counting global allocator. Root only.
#![allow(clippy::unwrap_used)]

#[path = "kernel/netns.rs"]
#[allow(dead_code)] // shared with the kernel tests, which use all of it
mod netns;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use baton::south::vrrp_socket::{RECV_BUFFER, RecvBatch};
use baton_wire::{Family, MCAST_GROUP_V4, MCAST_GROUP_V6};

use netns::{Netns, VrrpEnds, in_thread, root_or_skip, runtime, veth_pair};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call unchanged to the system allocator; the counter has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PACKETS: usize = 50;

#[test]
fn receiving_adverts_allocates_nothing() {
    if !root_or_skip("receiving_adverts_allocates_nothing") {
        return;
    }
    let (a, b) = (Netns::new("alloca"), Netns::new("allocb"));
    veth_pair(&a, &b);
    a.ip(&["addr", "add", "10.6.0.1/24", "dev", "va"]);
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
        let advert = [
            0x21u8, 51, 200, 1, 1, 1, 0, 0, 192, 168, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let src4: IpAddr = "10.6.0.1".parse().unwrap();
        // PACKETS adverts of each family, from `va` to the groups.
        let burst = async || {
            for _ in 0..PACKETS {
                tx4.send(src4, IpAddr::V4(MCAST_GROUP_V4), &advert)
                    .await
                    .unwrap();
                tx6.send(src6, IpAddr::V6(MCAST_GROUP_V6), &advert[..8])
                    .await
                    .unwrap();
            }
        };
        rt.block_on(async {
            let mut buf = [0u8; RECV_BUFFER];
            // Uncounted batches first, so the runtime's lazily grown state (the list of
            // tasks that used up their cooperative budget) is in place: two, since where the
            // budget runs out depends on how much of it the sends used.
            for _ in 0..2 {
                burst().await;
                for _ in 0..PACKETS {
                    rx4.recv(&mut buf).await.unwrap();
                    rx6.recv(&mut buf).await.unwrap();
                }
            }
            burst().await;
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            COUNTING.with(|c| c.set(true));
            let mut ttl_sum = 0usize;
            for _ in 0..PACKETS {
                ttl_sum += usize::from(rx4.recv(&mut buf).await.unwrap().ttl);
                ttl_sum += usize::from(rx6.recv(&mut buf).await.unwrap().ttl);
            }
            COUNTING.with(|c| c.set(false));
            let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
            assert_eq!(
                ttl_sum,
                2 * PACKETS * 255,
                "every datagram read with TTL 255"
            );
            assert_eq!(
                allocated,
                0,
                "{allocated} allocations for {} datagrams",
                2 * PACKETS
            );

            // The daemon's way: parked sockets read in batches. The batch grows while it
            // fills (once, uncounted); after that a read allocates nothing.
            let mut batch = RecvBatch::new();
            rx4.park();
            rx6.park();
            for counted in [false, true] {
                burst().await;
                let before = ALLOCATIONS.load(Ordering::Relaxed);
                COUNTING.with(|c| c.set(counted));
                let mut ttl_sum = 0usize;
                for (rx, family) in [(&rx4, Family::Ipv4), (&rx6, Family::Ipv6)] {
                    loop {
                        let n = rx.recv_waiting(&mut batch).unwrap();
                        if n == 0 {
                            break;
                        }
                        for k in 0..n {
                            ttl_sum += usize::from(batch.received(k, family).unwrap().ttl);
                        }
                    }
                }
                COUNTING.with(|c| c.set(false));
                let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
                assert_eq!(ttl_sum, 2 * PACKETS * 255, "every datagram read in batches");
                if counted {
                    assert_eq!(
                        allocated,
                        0,
                        "{allocated} allocations for {} datagrams read in batches",
                        2 * PACKETS
                    );
                }
            }
        });
    });
}
