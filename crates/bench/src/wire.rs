//! What a capture on the switch's bridge says: every VRRP advert (who, which VRID, what
//! priority, when) and every gratuitous ARP (whose MAC, for which address, when). Both daemons
//! are timed from the same frames.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use baton_lab::{MacAddr, Pcap};

/// IP protocol number of VRRP.
const VRRP: u8 = 112;
const ETHERTYPE_ARP: u16 = 0x0806;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    pub at: SystemTime,
    pub src: IpAddr,
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Garp {
    pub at: SystemTime,
    /// The Ethernet source: who announced.
    pub mac: MacAddr,
    /// The address announced (sender = target protocol address).
    pub ip: Ipv4Addr,
}

/// The frames of a capture that matter here, in capture order.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    pub adverts: Vec<Advert>,
    pub garps: Vec<Garp>,
}

impl Wire {
    pub fn from_pcap(pcap: &Pcap) -> Wire {
        let mut wire = Wire::default();
        for r in &pcap.records {
            if let Some(ip) = r.ip() {
                if ip.protocol == VRRP && ip.payload.len() >= 8 {
                    wire.adverts.push(Advert {
                        at: r.ts,
                        src: ip.src,
                        version: ip.payload[0] >> 4,
                        vrid: ip.payload[1],
                        priority: ip.payload[2],
                    });
                }
                continue;
            }
            if let Some((_, src, ethertype, arp)) = r.ethernet()
                && ethertype == ETHERTYPE_ARP
                && let Some(ip) = gratuitous(arp)
            {
                wire.garps.push(Garp {
                    at: r.ts,
                    mac: src,
                    ip,
                });
            }
        }
        wire
    }

    /// The first advert from `src` at or after `t` with a priority above 0 (a master's).
    pub fn first_advert(&self, src: IpAddr, t: SystemTime) -> Option<&Advert> {
        self.adverts
            .iter()
            .find(|a| a.src == src && a.at >= t && a.priority > 0)
    }

    /// The last advert from `src` before `t`.
    pub fn last_advert_before(&self, src: IpAddr, t: SystemTime) -> Option<&Advert> {
        self.adverts.iter().rfind(|a| a.src == src && a.at < t)
    }

    /// The first priority-0 advert from `src` at or after `t` (a master stepping down).
    pub fn first_zero(&self, src: IpAddr, t: SystemTime) -> Option<&Advert> {
        self.adverts
            .iter()
            .find(|a| a.src == src && a.at >= t && a.priority == 0)
    }

    /// The first gratuitous ARP for `ip` from `mac` at or after `t`.
    pub fn first_garp(&self, mac: MacAddr, ip: Ipv4Addr, t: SystemTime) -> Option<&Garp> {
        self.garps
            .iter()
            .find(|g| g.mac == mac && g.ip == ip && g.at >= t)
    }
}

/// The address of a gratuitous ARP (request or reply whose sender and target protocol
/// addresses are equal), from the ARP payload of an Ethernet frame.
fn gratuitous(arp: &[u8]) -> Option<Ipv4Addr> {
    // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4.
    if arp.len() < 28 || arp[0..6] != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let spa = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    let tpa = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
    (spa == tpa).then_some(spa)
}

/// `later − earlier`, or `None` if `later` came first.
pub fn between(earlier: SystemTime, later: SystemTime) -> Option<Duration> {
    later.duration_since(earlier).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_lab::{LINKTYPE_ETHERNET, Record};

    const LB1: [u8; 4] = [192, 168, 5, 11];
    const LB2: [u8; 4] = [192, 168, 5, 12];
    const MAC2: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_000 + ms)
    }

    fn frame(src_mac: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&src_mac);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn advert(src: [u8; 4], priority: u8) -> Vec<u8> {
        let mut ip = vec![0x45, 0xc0, 0, 28, 0, 0, 0, 0, 255, VRRP, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&[224, 0, 0, 18]);
        ip.extend_from_slice(&[0x31, 51, priority, 1, 0, 10, 0, 0]);
        frame([2, 0, 0, 0, 0, src[3]], 0x0800, &ip)
    }

    fn garp(mac: [u8; 6], ip: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
        a.extend_from_slice(&mac);
        a.extend_from_slice(&ip);
        a.extend_from_slice(&[0xff; 6]);
        a.extend_from_slice(&target);
        frame(mac, ETHERTYPE_ARP, &a)
    }

    fn pcap(frames: Vec<(u64, Vec<u8>)>) -> Pcap {
        Pcap {
            linktype: LINKTYPE_ETHERNET,
            records: frames
                .into_iter()
                .map(|(ms, data)| Record {
                    ts: at(ms),
                    orig_len: data.len() as u32,
                    data,
                    linktype: LINKTYPE_ETHERNET,
                })
                .collect(),
        }
    }

    #[test]
    fn a_crash_reads_off_the_wire() {
        let vip = [192, 168, 5, 10];
        let w = Wire::from_pcap(&pcap(vec![
            (0, advert(LB1, 200)),
            (100, advert(LB1, 200)),
            (461, advert(LB2, 100)),
            (462, garp(MAC2, vip, [192, 168, 5, 1])), // not gratuitous: target differs
            (463, garp(MAC2, vip, vip)),
            (561, advert(LB2, 100)),
        ]));
        assert_eq!(w.adverts.len(), 4);
        assert_eq!(w.garps.len(), 1);
        let lb1 = IpAddr::from(LB1);
        let lb2 = IpAddr::from(LB2);
        let first = w.first_advert(lb2, at(150)).unwrap();
        assert_eq!(first.at, at(461));
        assert_eq!((first.version, first.vrid, first.priority), (3, 51, 100));
        let last = w.last_advert_before(lb1, first.at).unwrap();
        assert_eq!(last.at, at(100));
        let g = w
            .first_garp(MacAddr(MAC2), Ipv4Addr::from(vip), at(150))
            .unwrap();
        assert_eq!(between(last.at, g.at), Some(Duration::from_millis(363)));
        assert_eq!(between(g.at, last.at), None);
        assert!(w.first_zero(lb1, at(0)).is_none());
    }

    #[test]
    fn a_priority_zero_advert_is_found() {
        let w = Wire::from_pcap(&pcap(vec![
            (0, advert(LB1, 200)),
            (50, advert(LB1, 0)),
            (62, advert(LB2, 100)),
        ]));
        let lb1 = IpAddr::from(LB1);
        assert_eq!(w.first_zero(lb1, at(1)).unwrap().at, at(50));
        // A priority-0 advert is no master's advert.
        assert!(w.first_advert(lb1, at(1)).is_none());
    }
}
