//! Wireshark's dissectors judge what baton-wire emits: every advert must decode as VRRP with
//! the fields we put in and the checksum marked good, the IPv4 header checksum good, the GARP
//! recognised as gratuitous and the NA's ICMPv6 checksum good. Deliberately broken packets in
//! the same capture must be marked bad, which shows tshark really checked.
//!
//! Frames are written to a pcap with the small writer below and read back with
//! `tshark -r`; nothing is sent anywhere. Without tshark the test is skipped with a reason when
//! not root; as root (CI) tshark is required, since scripts/test installs it.
#![allow(clippy::unwrap_used)]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use baton_wire::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetRepr};
use baton_wire::ipv4::{Ipv4Repr, TOS_INTERNETWORK_CONTROL};
use baton_wire::ipv6::Ipv6Repr;
use baton_wire::{
    Addresses, AdvertRepr, Auth, ChecksumForm, Family, IPPROTO_VRRP, MCAST_GROUP_V4,
    MCAST_GROUP_V6, MacAddr, VRRP_TTL, Version, arp, ndisc,
};

const MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b]);
const SRC4: Ipv4Addr = Ipv4Addr::new(192, 168, 5, 11);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x5eff, 0xfe10, 0x000b);

/// A classic (microsecond, little-endian) pcap file of Ethernet frames.
struct Pcap {
    bytes: Vec<u8>,
    frames: u32,
}

impl Pcap {
    fn new() -> Pcap {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic
        b.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        b.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        b.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
        b.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        Pcap {
            bytes: b,
            frames: 0,
        }
    }

    /// One record: a second apart, captured whole.
    fn push(&mut self, frame: &[u8]) {
        let len = frame.len() as u32;
        for word in [1_700_000_000 + self.frames, 0, len, len] {
            self.bytes.extend_from_slice(&word.to_le_bytes());
        }
        self.bytes.extend_from_slice(frame);
        self.frames += 1;
    }
}

/// An advert inside Ethernet and IP, as it would cross the wire.
fn advert_frame(repr: &AdvertRepr<'_>, form: ChecksumForm, corrupt: bool) -> Vec<u8> {
    let mut vrrp = vec![0u8; repr.buffer_len()];
    let family = repr.addresses.family();
    let (src, dst): (IpAddr, IpAddr) = match family {
        Family::Ipv4 => (SRC4.into(), MCAST_GROUP_V4.into()),
        Family::Ipv6 => (SRC6.into(), MCAST_GROUP_V6.into()),
    };
    repr.emit(&mut vrrp, src, dst, form).unwrap();
    if corrupt {
        vrrp[7] ^= 0x5a;
    }
    let mut frame = vec![0u8; 14 + 40 + vrrp.len()];
    let (dst_mac, ethertype) = match family {
        Family::Ipv4 => (
            MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]),
            ETHERTYPE_IPV4,
        ),
        Family::Ipv6 => (MacAddr::ipv6_multicast(&MCAST_GROUP_V6), ETHERTYPE_IPV6),
    };
    let eth = EthernetRepr {
        dst: dst_mac,
        src: MAC,
        ethertype,
    };
    let rest = eth.emit(&mut frame).unwrap();
    let ip_len = match family {
        Family::Ipv4 => Ipv4Repr {
            src: SRC4,
            dst: MCAST_GROUP_V4,
            ttl: VRRP_TTL,
            protocol: IPPROTO_VRRP,
            header_len: 20,
            payload_len: vrrp.len(),
        }
        .emit(rest, TOS_INTERNETWORK_CONTROL, 1)
        .unwrap(),
        Family::Ipv6 => {
            Ipv6Repr {
                traffic_class: 0xc0,
                flow_label: 0,
                next_header: IPPROTO_VRRP,
                hop_limit: VRRP_TTL,
                src: SRC6,
                dst: MCAST_GROUP_V6,
                payload_len: vrrp.len(),
            }
            .emit(rest)
            .unwrap();
            40
        }
    };
    let start = 14 + ip_len;
    frame[start..start + vrrp.len()].copy_from_slice(&vrrp);
    frame.truncate(start + vrrp.len());
    frame
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Removes the capture file however the test ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Decode `pcap` with tshark and return one row of `fields` per frame.
fn decode(pcap: &Pcap, name: &str, prefs: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let path = TempFile(std::env::temp_dir().join(format!(
        "baton-wire-tshark-{}-{name}.pcap",
        std::process::id()
    )));
    std::fs::write(&path.0, &pcap.bytes).unwrap();
    let out = run_tshark(&path.0, prefs, fields);
    out.lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

fn run_tshark(path: &Path, prefs: &[&str], fields: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path);
    for p in prefs {
        cmd.args(["-o", p]);
    }
    cmd.args([
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const VRRP_FIELDS: [&str; 8] = [
    "vrrp.version",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.addr_count",
    "vrrp.checksum.status",
    "ip.checksum.status",
    "vrrp.ip_addr",
    "vrrp.ipv6_addr",
];

/// tshark's checksum status values.
const GOOD: &str = "1";
const BAD: &str = "0";

fn skip_reason() -> Option<&'static str> {
    if tshark_available() {
        return None;
    }
    assert!(
        !is_root(),
        "tshark is not installed; as root it is required (scripts/test installs it)"
    );
    Some("tshark not installed and not root: skipping the Wireshark cross-check")
}

#[test]
fn tshark_marks_our_adverts_good_and_broken_ones_bad() {
    if let Some(reason) = skip_reason() {
        eprintln!("{reason}");
        return;
    }
    let vips4: Vec<u8> = [[192, 168, 5, 10], [192, 168, 5, 20]].concat();
    let vips6: Vec<u8> = [
        "fe80::56".parse::<Ipv6Addr>().unwrap().octets(),
        "fd00:5::56".parse::<Ipv6Addr>().unwrap().octets(),
    ]
    .concat();
    let v2_pass = AdvertRepr {
        version: Version::V2,
        vrid: 51,
        priority: 200,
        interval: 1,
        auth: Auth::pass(b"1111"),
        addresses: Addresses::new(Family::Ipv4, &vips4[..4]).unwrap(),
    };
    let v2_none = AdvertRepr {
        vrid: 52,
        priority: 0,
        auth: Auth::None,
        addresses: Addresses::new(Family::Ipv4, &vips4).unwrap(),
        ..v2_pass
    };
    let v3_v4 = AdvertRepr {
        version: Version::V3,
        vrid: 53,
        priority: 255,
        interval: 50,
        auth: Auth::None,
        addresses: Addresses::new(Family::Ipv4, &vips4).unwrap(),
    };
    let v3_v4_empty = AdvertRepr {
        vrid: 54,
        addresses: Addresses::empty(Family::Ipv4),
        ..v3_v4
    };
    let v3_v6 = AdvertRepr {
        vrid: 56,
        priority: 100,
        interval: 4095,
        addresses: Addresses::new(Family::Ipv6, &vips6).unwrap(),
        ..v3_v4
    };

    // Default preferences: v2, v3/IPv4 with the pseudo-header (Wireshark's default, like
    // keepalived's), v3/IPv6.
    let mut pcap = Pcap::new();
    let pseudo = ChecksumForm::PseudoHeader;
    let good = [&v2_pass, &v2_none, &v3_v4, &v3_v4_empty, &v3_v6];
    for repr in good {
        pcap.push(&advert_frame(repr, pseudo, false));
    }
    pcap.push(&advert_frame(&v2_pass, pseudo, true)); // broken on purpose
    pcap.push(&advert_frame(&v3_v4, ChecksumForm::Plain, false)); // the other form
    let rows = decode(&pcap, "default", &["ip.check_checksum:TRUE"], &VRRP_FIELDS);
    assert_eq!(rows.len(), 7, "{rows:?}");
    let want: [[&str; 8]; 7] = [
        ["2", "51", "200", "1", GOOD, GOOD, "192.168.5.10", ""],
        [
            "2",
            "52",
            "0",
            "2",
            GOOD,
            GOOD,
            "192.168.5.10,192.168.5.20",
            "",
        ],
        [
            "3",
            "53",
            "255",
            "2",
            GOOD,
            GOOD,
            "192.168.5.10,192.168.5.20",
            "",
        ],
        ["3", "54", "255", "0", GOOD, GOOD, "", ""],
        ["3", "56", "100", "2", GOOD, "", "", "fe80::56,fd00:5::56"],
        ["2", "51", "200", "1", BAD, GOOD, "192.168.5.10", ""],
        [
            "3",
            "53",
            "255",
            "2",
            BAD,
            GOOD,
            "192.168.5.10,192.168.5.20",
            "",
        ],
    ];
    for (i, (row, want)) in rows.iter().zip(want).enumerate() {
        assert_eq!(row, &want, "frame {}", i + 1);
    }

    // `vrrp.v3_checksum_as_in_v2`: Wireshark's name for keepalived's `v3_checksum_as_v2`.
    let mut pcap = Pcap::new();
    pcap.push(&advert_frame(&v3_v4, ChecksumForm::Plain, false));
    pcap.push(&advert_frame(&v3_v4_empty, ChecksumForm::Plain, false));
    pcap.push(&advert_frame(&v3_v4, ChecksumForm::PseudoHeader, false));
    let rows = decode(
        &pcap,
        "plain",
        &["ip.check_checksum:TRUE", "vrrp.v3_checksum_as_in_v2:TRUE"],
        &["vrrp.version", "vrrp.virt_rtr_id", "vrrp.checksum.status"],
    );
    assert_eq!(
        rows,
        [["3", "53", GOOD], ["3", "54", GOOD], ["3", "53", BAD]]
    );

    // Interval fields, v2 seconds and v3 centiseconds.
    let mut pcap = Pcap::new();
    pcap.push(&advert_frame(&v2_pass, pseudo, false));
    pcap.push(&advert_frame(&v3_v6, pseudo, false));
    let rows = decode(
        &pcap,
        "intervals",
        &[],
        &[
            "vrrp.adver_int",
            "vrrp.short_adver_int",
            "vrrp.auth_type",
            "vrrp.auth_string",
        ],
    );
    assert_eq!(rows, [["1", "", "1", "1111"], ["", "4095", "", ""]]);
}

#[test]
fn tshark_decodes_our_garp_and_unsolicited_na() {
    if let Some(reason) = skip_reason() {
        eprintln!("{reason}");
        return;
    }
    let vip6: Ipv6Addr = "fd00:5::56".parse().unwrap();
    let mut pcap = Pcap::new();
    let mut buf = [0u8; 128];
    let n = arp::FrameRepr::gratuitous(MAC, Ipv4Addr::new(192, 168, 5, 10))
        .emit(&mut buf)
        .unwrap();
    pcap.push(&buf[..n]);
    for router in [false, true] {
        let n = ndisc::FrameRepr::unsolicited(MAC, vip6, router)
            .emit(&mut buf)
            .unwrap();
        pcap.push(&buf[..n]);
    }
    let n = ndisc::FrameRepr::unsolicited(MAC, vip6, false)
        .emit(&mut buf)
        .unwrap();
    buf[n - 1] ^= 0xff; // breaks the ICMPv6 checksum
    pcap.push(&buf[..n]);
    let rows = decode(
        &pcap,
        "announce",
        &[],
        &[
            "arp.isgratuitous",
            "arp.src.proto_ipv4",
            "icmpv6.type",
            "icmpv6.checksum.status",
            "icmpv6.nd.na.flag.r",
            "icmpv6.nd.na.flag.s",
            "icmpv6.nd.na.flag.o",
            "icmpv6.nd.na.target_address",
            "icmpv6.opt.linkaddr",
        ],
    );
    let mac = "02:00:5e:10:00:0b";
    let mut bad_mac = MAC;
    bad_mac.0[5] ^= 0xff;
    let bad_mac = bad_mac.to_string();
    let want: [[&str; 9]; 4] = [
        ["1", "192.168.5.10", "", "", "", "", "", "", ""],
        ["", "", "136", GOOD, "0", "0", "1", "fd00:5::56", mac],
        ["", "", "136", GOOD, "1", "0", "1", "fd00:5::56", mac],
        ["", "", "136", BAD, "0", "0", "1", "fd00:5::56", &bad_mac],
    ];
    assert_eq!(rows.len(), want.len(), "{rows:?}");
    for (i, (row, want)) in rows.iter().zip(want).enumerate() {
        assert_eq!(row, &want, "frame {}", i + 1);
    }
}
