//! One error type for every codec. Each variant says which field of which packet was wrong, so
//! a dropped packet can be counted and logged by reason.

use core::fmt;

/// A field of a packet, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The whole VRRP message (shorter than its fixed header).
    VrrpHeader,
    /// VRRP "Count IPvX Addr" against the message length.
    VrrpAddressCount,
    /// The VRRPv2 authentication data trailer.
    VrrpAuthData,
    /// IPv4 header, fixed part.
    Ipv4Header,
    /// IPv4 IHL (header length) field.
    Ipv4HeaderLength,
    /// IPv4 total length field.
    Ipv4TotalLength,
    /// Ethernet header.
    EthernetHeader,
    /// ARP packet body.
    ArpBody,
    /// ICMPv6 Neighbor Advertisement body.
    NdiscBody,
    /// An NDP option's length field.
    NdiscOption,
    /// IPv6 header, fixed part.
    Ipv6Header,
    /// IPv6 payload length field.
    Ipv6PayloadLength,
    /// ARP hardware type (must be 1, Ethernet).
    ArpHardwareType,
    /// ARP protocol type (must be 0x0800, IPv4).
    ArpProtocolType,
    /// ARP hardware address length (must be 6).
    ArpHardwareLength,
    /// ARP protocol address length (must be 4).
    ArpProtocolLength,
    /// ARP operation (1 request, 2 reply).
    ArpOperation,
    /// The buffer an `emit` writes into.
    OutputBuffer,
    /// keepalived's HMAC authentication trailer (`auth_hmac`).
    AuthTrailer,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::VrrpHeader => "VRRP header",
            Field::VrrpAddressCount => "VRRP count of addresses",
            Field::VrrpAuthData => "VRRP authentication data",
            Field::Ipv4Header => "IPv4 header",
            Field::Ipv4HeaderLength => "IPv4 header length (IHL)",
            Field::Ipv4TotalLength => "IPv4 total length",
            Field::EthernetHeader => "Ethernet header",
            Field::ArpBody => "ARP body",
            Field::NdiscBody => "neighbor advertisement body",
            Field::NdiscOption => "NDP option length",
            Field::Ipv6Header => "IPv6 header",
            Field::Ipv6PayloadLength => "IPv6 payload length",
            Field::ArpHardwareType => "ARP hardware type",
            Field::ArpProtocolType => "ARP protocol type",
            Field::ArpHardwareLength => "ARP hardware address length",
            Field::ArpProtocolLength => "ARP protocol address length",
            Field::ArpOperation => "ARP operation",
            Field::OutputBuffer => "output buffer",
            Field::AuthTrailer => "HMAC authentication trailer",
        })
    }
}

/// Why a packet was refused. Display text names the field, as in
/// `VRRP version field: 4 is not 2 or 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    #[error("{field}: truncated, need {need} bytes, have {have}")]
    Truncated {
        field: Field,
        need: usize,
        have: usize,
    },
    #[error("{field}: {have} bytes where {expected} were expected")]
    Length {
        field: Field,
        expected: usize,
        have: usize,
    },
    #[error("VRRP version field: {0} is not 2 or 3")]
    Version(u8),
    #[error("VRRP version field: VRRPv2 is defined for IPv4 only")]
    Version2OverIpv6,
    #[error("VRRP type field: {0} is not 1 (ADVERTISEMENT)")]
    Type(u8),
    #[error("VRRP checksum field: {got:#06x}, computed {expected:#06x}")]
    Checksum { got: u16, expected: u16 },
    #[error("VRRP auth type field: AH (2) authentication is not supported")]
    AuthAh,
    #[error("VRRP auth type field: {0} is not 0 (none) or 1 (PASS)")]
    AuthType(u8),
    #[error("VRRP advert interval field: 0 is not a valid interval")]
    ZeroInterval,
    #[error(
        "VRRP advert interval field: {0} does not fit (v2: 8 bits of seconds, v3: 12 bits of centiseconds)"
    )]
    IntervalRange(u16),
    #[error("VRRP count of addresses: {0} addresses do not fit in 8 bits")]
    TooManyAddresses(usize),
    #[error("not VRRP: a CARP (ucarp/OpenBSD) advertisement shares IP protocol 112")]
    Carp,
    #[error("IPv4 version field: {0} is not 4")]
    IpVersion(u8),
    #[error("IPv4 protocol field: {0} is not 112 (VRRP)")]
    IpProtocol(u8),
    #[error("Ethernet type field: {got:#06x} is not {expected:#06x}")]
    EtherType { expected: u16, got: u16 },
    #[error("{field}: unsupported value {value:#x}")]
    Arp { field: Field, value: u16 },
    #[error("IPv6 version field: {0} is not 6")]
    Ip6Version(u8),
    #[error("IPv6 next header field: {0} is not {1}")]
    NextHeader(u8, u8),
    #[error("IPv6 hop limit field: {0} is not 255")]
    HopLimit(u8),
    #[error("neighbor advertisement target field: {0} is a multicast address")]
    NdiscTarget(core::net::Ipv6Addr),
    #[error("neighbor advertisement solicited flag: set on an advert sent to a multicast group")]
    NdiscSolicitedToMulticast,
    #[error("ICMPv6 type field: {0} is not 136 (neighbor advertisement)")]
    IcmpType(u8),
    #[error("ICMPv6 code field: {0} is not 0")]
    IcmpCode(u8),
    #[error("ICMPv6 checksum field: {got:#06x}, computed {expected:#06x}")]
    IcmpChecksum { got: u16, expected: u16 },
}
