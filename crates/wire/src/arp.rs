//! ARP for Ethernet and IPv4 (RFC 826), and the gratuitous ARP a new VRRP master broadcasts
//! for each virtual IPv4 address so that neighbours and switches learn where it now lives.
//!
//! keepalived 2.2 sends the gratuitous ARP as an ARP *request* in a whole Ethernet frame on an
//! AF_PACKET socket: Ethernet destination ff:ff:ff:ff:ff:ff, source the interface MAC; sender
//! hardware address the MAC, sender and target protocol address both the VIP, target hardware
//! address ff:ff:ff:ff:ff:ff (not the zeros RFC 5227 uses for announcements). 42 bytes, no
//! padding (the NIC pads to 60). The captured `tests/vectors/garp.eth` is byte-identical to
//! [`FrameRepr::gratuitous`].
//!
//! ```text
//!  0      2      4    5    6      8            14       18           24       28
//!  | hrd  | pro  |hln |pln | op   | sender MAC | sender | target MAC | target |
//!  | 1    |0x0800| 6  | 4  | 1/2  |            |  IPv4  |            |  IPv4  |
//! ```

use core::net::Ipv4Addr;

use crate::ethernet::{self, ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetRepr, MacAddr};
use crate::{Error, Field, Result};

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an ARP body for Ethernet and IPv4.
pub const PACKET_LEN: usize = 28;
/// Length of a whole gratuitous ARP frame (Ethernet header + ARP body), as keepalived sends it.
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + PACKET_LEN;

/// ARP hardware type of Ethernet.
const HTYPE_ETHERNET: u16 = 1;

/// ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Request,
    Reply,
}

impl Operation {
    pub const fn code(self) -> u16 {
        match self {
            Operation::Request => 1,
            Operation::Reply => 2,
        }
    }
}

/// A zero-copy view of an ARP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn mac(b: &[u8]) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    MacAddr(m)
}

fn ipv4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer, checking it holds a whole Ethernet/IPv4 ARP body so that no accessor can
    /// panic. Trailing bytes (Ethernet padding) are allowed.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let have = buffer.as_ref().len();
        if have < PACKET_LEN {
            return Err(Error::Truncated {
                field: Field::ArpBody,
                need: PACKET_LEN,
                have,
            });
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn hardware_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::HTYPE])
    }

    pub fn protocol_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PTYPE])
    }

    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    pub fn operation(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::OPER])
    }

    pub fn sender_hardware_addr(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::SHA])
    }

    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        ipv4(&self.buffer.as_ref()[field::SPA])
    }

    pub fn target_hardware_addr(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::THA])
    }

    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ipv4(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_hardware_type(&mut self, v: u16) {
        self.buffer.as_mut()[field::HTYPE].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_protocol_type(&mut self, v: u16) {
        self.buffer.as_mut()[field::PTYPE].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    pub fn set_operation(&mut self, v: u16) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_sender_hardware_addr(&mut self, v: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&v.0);
    }

    pub fn set_sender_protocol_addr(&mut self, v: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&v.octets());
    }

    pub fn set_target_hardware_addr(&mut self, v: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&v.0);
    }

    pub fn set_target_protocol_addr(&mut self, v: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&v.octets());
    }
}

/// A validated Ethernet/IPv4 ARP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    pub operation: Operation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// The gratuitous ARP keepalived sends for `vip` from an interface with address `mac`.
    pub const fn gratuitous(mac: MacAddr, vip: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            operation: Operation::Request,
            sender_mac: mac,
            sender_ip: vip,
            target_mac: MacAddr::BROADCAST,
            target_ip: vip,
        }
    }

    /// A gratuitous ARP announces the sender's own address: sender and target IP agree.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }

    /// Validate a checked packet: Ethernet hardware, IPv4 protocol, request or reply.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<ArpRepr> {
        let checks = [
            (
                Field::ArpHardwareType,
                packet.hardware_type(),
                HTYPE_ETHERNET,
            ),
            (
                Field::ArpProtocolType,
                packet.protocol_type(),
                ETHERTYPE_IPV4,
            ),
            (Field::ArpHardwareLength, packet.hardware_len().into(), 6),
            (Field::ArpProtocolLength, packet.protocol_len().into(), 4),
        ];
        for (field, value, want) in checks {
            if value != want {
                return Err(Error::Arp { field, value });
            }
        }
        let operation = match packet.operation() {
            1 => Operation::Request,
            2 => Operation::Reply,
            value => {
                return Err(Error::Arp {
                    field: Field::ArpOperation,
                    value,
                });
            }
        };
        Ok(ArpRepr {
            operation,
            sender_mac: packet.sender_hardware_addr(),
            sender_ip: packet.sender_protocol_addr(),
            target_mac: packet.target_hardware_addr(),
            target_ip: packet.target_protocol_addr(),
        })
    }

    /// Write the [`PACKET_LEN`]-byte body into `packet` (at least that long).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(ETHERTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation.code());
        packet.set_sender_hardware_addr(self.sender_mac);
        packet.set_sender_protocol_addr(self.sender_ip);
        packet.set_target_hardware_addr(self.target_mac);
        packet.set_target_protocol_addr(self.target_ip);
    }
}

/// A whole ARP frame for an AF_PACKET socket: Ethernet header and ARP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRepr {
    pub eth_dst: MacAddr,
    pub eth_src: MacAddr,
    pub arp: ArpRepr,
}

impl FrameRepr {
    /// The gratuitous ARP frame keepalived broadcasts for `vip` on an interface with `mac`.
    pub const fn gratuitous(mac: MacAddr, vip: Ipv4Addr) -> FrameRepr {
        FrameRepr {
            eth_dst: MacAddr::BROADCAST,
            eth_src: mac,
            arp: ArpRepr::gratuitous(mac, vip),
        }
    }

    /// Parse a received frame. Bytes past the ARP body (padding to the 60-byte minimum) are
    /// ignored.
    pub fn parse(frame: &[u8]) -> Result<FrameRepr> {
        let (eth, payload) = EthernetRepr::parse_expecting(frame, ETHERTYPE_ARP)?;
        let arp = ArpRepr::parse(&Packet::new_checked(payload)?)?;
        Ok(FrameRepr {
            eth_dst: eth.dst,
            eth_src: eth.src,
            arp,
        })
    }

    /// Bytes this frame takes ([`FRAME_LEN`]).
    pub const fn buffer_len(&self) -> usize {
        FRAME_LEN
    }

    /// Write the frame into `buf` (at least [`FRAME_LEN`] bytes); returns the length written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < FRAME_LEN {
            return Err(Error::Truncated {
                field: Field::OutputBuffer,
                need: FRAME_LEN,
                have: buf.len(),
            });
        }
        let eth = EthernetRepr {
            dst: self.eth_dst,
            src: self.eth_src,
            ethertype: ETHERTYPE_ARP,
        };
        let body = eth.emit(&mut buf[..FRAME_LEN])?;
        self.arp.emit(&mut Packet::new_unchecked(body));
        Ok(FRAME_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b]);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 5, 10);

    /// The seed's VIP announced from MAC 02:00:5e:10:00:0b, laid out by hand from RFC 826.
    static FRAME: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination: broadcast
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b, // Ethernet source: interface MAC
        0x08, 0x06, // ethertype ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, // Ethernet, IPv4, 6, 4
        0x00, 0x01, // request
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x0b, 192, 168, 5, 10, // sender MAC, VIP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 168, 5, 10, // target broadcast, VIP
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&FRAME[14..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!(p.hardware_len(), 6);
        assert_eq!(p.protocol_len(), 4);
        assert_eq!(p.operation(), 1);
        assert_eq!(p.sender_hardware_addr(), MAC);
        assert_eq!(p.sender_protocol_addr(), VIP);
        assert_eq!(p.target_hardware_addr(), MacAddr::BROADCAST);
        assert_eq!(p.target_protocol_addr(), VIP);
    }

    #[test]
    fn construct() {
        let mut buf = [0u8; PACKET_LEN];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_hardware_type(1);
        p.set_protocol_type(0x0800);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(1);
        p.set_sender_hardware_addr(MAC);
        p.set_sender_protocol_addr(VIP);
        p.set_target_hardware_addr(MacAddr::BROADCAST);
        p.set_target_protocol_addr(VIP);
        assert_eq!(buf, FRAME[14..]);
    }

    #[test]
    fn parse() {
        let repr = FrameRepr::parse(&FRAME).unwrap();
        assert_eq!(repr, FrameRepr::gratuitous(MAC, VIP));
        assert!(repr.arp.is_gratuitous());
        // Ethernet padding to 60 bytes is ignored.
        let mut padded = [0u8; 60];
        padded[..42].copy_from_slice(&FRAME);
        assert_eq!(FrameRepr::parse(&padded).unwrap(), repr);
    }

    #[test]
    fn emit() {
        let mut buf = [0xaau8; 64];
        let n = FrameRepr::gratuitous(MAC, VIP).emit(&mut buf).unwrap();
        assert_eq!(n, FRAME_LEN);
        assert_eq!(buf[..n], FRAME);
        assert_eq!(buf[n], 0xaa, "emit must not write past the frame");
        assert!(matches!(
            FrameRepr::gratuitous(MAC, VIP).emit(&mut buf[..41]),
            Err(Error::Truncated {
                need: 42,
                have: 41,
                ..
            })
        ));
    }

    #[test]
    fn refuses_what_is_not_ethernet_ipv4_arp() {
        let cases: [(usize, u8, Field); 5] = [
            (15, 6, Field::ArpHardwareType),
            (17, 0xdd, Field::ArpProtocolType),
            (18, 8, Field::ArpHardwareLength),
            (19, 16, Field::ArpProtocolLength),
            (21, 3, Field::ArpOperation),
        ];
        for (at, value, want) in cases {
            let mut f = FRAME;
            f[at] = value;
            match FrameRepr::parse(&f) {
                Err(Error::Arp { field, .. }) => assert_eq!(field, want),
                other => panic!("byte {at} = {value}: {other:?}"),
            }
        }
        let mut f = FRAME;
        f[13] = 0x00;
        assert_eq!(
            FrameRepr::parse(&f),
            Err(Error::EtherType {
                expected: 0x0806,
                got: 0x0800
            })
        );
        assert!(matches!(
            FrameRepr::parse(&FRAME[..41]),
            Err(Error::Truncated {
                field: Field::ArpBody,
                ..
            })
        ));
    }
}
