//! Addresses as a lab spells them: MAC addresses, interface addresses with a prefix length, and
//! "anything that names an IP address" so tests can write `host.has_addr("192.168.5.10")`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::{Error, Result};

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("MAC address", format!("{s:?}"));
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.is_empty() || part.len() > 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

impl MacAddr {
    /// A locally administered unicast MAC derived from a host name and interface index, so a
    /// host keeps its MAC from one run to the next (captures and golden files stay stable).
    /// `salt` resolves the rare collision inside one lab.
    pub(crate) fn for_host(host: &str, nic: usize, salt: u32) -> MacAddr {
        // FNV-1a: tiny, stable across Rust versions (unlike std's hasher).
        let mut h: u32 = 0x811c_9dc5;
        for b in host.bytes().chain(salt.to_le_bytes()) {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let [h0, h1, h2, _] = h.to_le_bytes();
        // 02:.. = locally administered, unicast.
        MacAddr([0x02, 0xba, h0, h1, h2, nic as u8])
    }
}

/// An address on an interface: `192.168.5.11/24` or `fd00::11/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = Error;
    /// Parses `address/prefix`. The prefix is required: a lab host's subnet is part of the
    /// scenario and a silent default would hide a typo.
    fn from_str(s: &str) -> Result<Self> {
        let (a, p) = s.split_once('/').ok_or_else(|| {
            Error::invalid(
                "interface address",
                format!("{s:?} needs a prefix length, e.g. /24"),
            )
        })?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| Error::invalid("interface address", format!("{s:?}")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| Error::invalid("prefix length", format!("{s:?}")))?;
        Ok(Cidr { addr, prefix })
    }
}

/// An address held by an interface of a host, as `ip addr` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// The interface holding the address.
    pub ifname: String,
    /// The address and prefix.
    pub cidr: Cidr,
}

/// Anything that names an IP address: `IpAddr`, `Ipv4Addr`, `Ipv6Addr`, or a string to parse.
pub trait AsIp {
    /// The address, or an error saying the string is not one.
    fn as_ip(&self) -> Result<IpAddr>;
}

impl AsIp for IpAddr {
    fn as_ip(&self) -> Result<IpAddr> {
        Ok(*self)
    }
}
impl AsIp for Ipv4Addr {
    fn as_ip(&self) -> Result<IpAddr> {
        Ok(IpAddr::V4(*self))
    }
}
impl AsIp for Ipv6Addr {
    fn as_ip(&self) -> Result<IpAddr> {
        Ok(IpAddr::V6(*self))
    }
}
impl AsIp for str {
    fn as_ip(&self) -> Result<IpAddr> {
        // Accept "a.b.c.d/nn" too, so a host's configured address can be passed as written.
        let a = self.split_once('/').map_or(self, |(a, _)| a);
        a.parse()
            .map_err(|_| Error::invalid("IP address", format!("{self:?}")))
    }
}
impl AsIp for String {
    fn as_ip(&self) -> Result<IpAddr> {
        self.as_str().as_ip()
    }
}
impl<T: AsIp + ?Sized> AsIp for &T {
    fn as_ip(&self) -> Result<IpAddr> {
        (**self).as_ip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips_and_rejects_junk() {
        let m: MacAddr = "02:ba:00:1f:a0:01".parse().unwrap();
        assert_eq!(m.0, [0x02, 0xba, 0x00, 0x1f, 0xa0, 0x01]);
        assert_eq!(m.to_string(), "02:ba:00:1f:a0:01");
        for bad in [
            "",
            "02:ba:00:1f:a0",
            "02:ba:00:1f:a0:01:02",
            "02:ba:00:1f:a0:zz",
            "002:b",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn host_macs_are_stable_local_unicast_and_distinct() {
        let a = MacAddr::for_host("lb1", 0, 0);
        assert_eq!(a, MacAddr::for_host("lb1", 0, 0));
        assert_ne!(a, MacAddr::for_host("lb2", 0, 0));
        assert_ne!(a, MacAddr::for_host("lb1", 1, 0));
        assert_ne!(a, MacAddr::for_host("lb1", 0, 1));
        assert_eq!(a.0[0] & 0x03, 0x02, "locally administered unicast");
    }

    #[test]
    fn cidr_needs_a_valid_prefix() {
        let c: Cidr = "192.168.5.11/24".parse().unwrap();
        assert_eq!(c.addr, "192.168.5.11".parse::<IpAddr>().unwrap());
        assert_eq!(c.prefix, 24);
        assert_eq!(c.to_string(), "192.168.5.11/24");
        assert_eq!("fd00::11/64".parse::<Cidr>().unwrap().prefix, 64);
        for bad in [
            "192.168.5.11",
            "192.168.5.11/33",
            "fd00::1/129",
            "x/24",
            "1.2.3.4/",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn as_ip_accepts_strings_and_addresses() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!("10.0.0.1".as_ip().unwrap(), v4);
        assert_eq!("10.0.0.1/24".as_ip().unwrap(), v4);
        assert_eq!(Ipv4Addr::new(10, 0, 0, 1).as_ip().unwrap(), v4);
        assert!("nope".as_ip().is_err());
    }
}
