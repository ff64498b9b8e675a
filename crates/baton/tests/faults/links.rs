//! The kernel side moving under the daemon: an interface deleted and created again, and a
//! flood of netlink events (thousands of addresses added and removed at once).

use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use crate::measure::{mb, rss_kb};
use crate::pair::{INTERVAL, Pair, backup_mdi, conf};

/// lb1's pair instance, plus one on an interface of its own (a veth pair with both ends on
/// lb1: the kernel here may have no dummy driver).
fn with_lab0() -> String {
    format!(
        "{}vrrp_instance VI_9 {{\n    state MASTER\n    interface lab0\n    virtual_router_id 9\n    \
         priority 200\n    version 3\n    advert_int 0.2\n    virtual_ipaddress {{\n        \
         10.77.0.10/24\n    }}\n}}\n",
        conf("MASTER", 200)
    )
}

fn add_lab0(p: &Pair) {
    p.lb1
        .sh(
            "ip link add lab0 type veth peer name lab0p && ip addr add 10.77.0.1/24 dev lab0 \
             && ip link set lab0p up && ip link set lab0 up",
        )
        .unwrap();
}

#[test]
fn an_interface_deleted_and_created_again_is_taken_back_into_use() {
    let Some(p) = Pair::start("ifrecreate") else {
        return;
    };
    add_lab0(&p);
    std::fs::write(&p.b1.conf, with_lab0()).unwrap();
    p.b1.signal(baton_lab::Signal::SIGHUP);
    // The file is read beside the loop: the instance exists once the reload is applied.
    baton_lab::wait_until("the reload", Duration::from_secs(3), POLL, || {
        Ok::<_, baton_lab::Error>(p.b1.status().unwrap()["daemon"]["reloads"] == 1)
    })
    .unwrap();
    p.b1.wait_state_of("VI_9", "Master", backup_mdi() + Duration::from_secs(2));
    let from = SystemTime::now();
    p.lb1.sh("ip link del lab0").unwrap();
    p.b1.wait_state_of("VI_9", "Fault", Duration::from_secs(2));
    let t = Instant::now();
    add_lab0(&p);
    p.b1.wait_state_of("VI_9", "Master", backup_mdi() + Duration::from_secs(2));
    let back = t.elapsed();
    wait_addr(&p.lb1, "10.77.0.10", true, Duration::from_secs(1));
    let f = p.figures(from);
    figure!(
        "fault interface-recreated: VI_9 master again {back:?} after its interface came \
         back; VI_1 on ens33 longest without a master {:?}",
        f.without_master
    );
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    let s = p.b1.status().unwrap();
    assert!(
        s["daemon"]["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["interface"] == "lab0" && k["open"] == true),
        "{s}"
    );
    p.one_master_again();
}

#[test]
fn a_flood_of_netlink_events_does_not_stall_adverts() {
    let Some(p) = Pair::start("nlflood") else {
        return;
    };
    let pid = p.b1.proc.pid();
    let idle = rss_kb(pid);
    let from = SystemTime::now();
    let n = 5_000;
    let mut batch =
        String::from("link add flood0 type veth peer name flood0p\nlink set flood0 up\n");
    for i in 0..n {
        batch.push_str(&format!(
            "addr add 10.{}.{}.1/32 dev flood0\n",
            100 + i / 250,
            i % 250
        ));
    }
    let file = p.lb1.write_file("flood.batch", &batch).unwrap();
    p.lb1
        .cmd(["ip".as_ref(), "-batch".as_ref(), file.as_os_str()])
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // All of them removed at once.
    p.lb1.sh("ip link del flood0").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let peak = rss_kb(pid);
    let f = p.figures(from);
    let t = Instant::now();
    let s = p.b1.status().unwrap();
    figure!(
        "fault netlink-flood: {n} addresses added and removed; longest without a master {:?}, \
         RSS {} after (idle {}), status in {:?}",
        f.without_master,
        mb(peak),
        mb(idle),
        t.elapsed()
    );
    assert_eq!(s["instances"][0]["state"], "Master");
    assert!(f.without_master <= INTERVAL * 2, "{:?}", f.without_master);
    assert!(
        peak <= idle + 8 * 1024,
        "RSS {peak} kB after, {idle} kB before"
    );
    p.one_master_again();
}
