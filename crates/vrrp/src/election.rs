//! Who wins an election: priority first, then the primary address (RFC 5798 §6.4.3: "If the
//! Priority in the ADVERTISEMENT is equal to the local Priority and the primary IPvX Address
//! of the sender is greater than the local primary IPvX Address, then ..."). keepalived
//! compares addresses as unsigned numbers; IPv6 word by word, which for big-endian words is
//! the same order as comparing the 128-bit value.

use core::cmp::Ordering;
use std::net::IpAddr;

/// Numeric order of two addresses of one family. Mixed families (which never meet on one
/// VRRP segment) order IPv4 first so the function stays total.
pub fn compare_addresses(a: &IpAddr, b: &IpAddr) -> Ordering {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(*a).cmp(&u32::from(*b)),
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            // Word by word, most significant first, as keepalived does.
            let (a, b) = (a.segments(), b.segments());
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| x.cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => Ordering::Less,
        (IpAddr::V6(_), IpAddr::V4(_)) => Ordering::Greater,
    }
}

/// Order of two routers by `(priority, primary address)`: `Greater` means `a` wins.
pub fn compare_routers(a: (u8, &IpAddr), b: (u8, &IpAddr)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| compare_addresses(a.1, b.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// keepalived: "IP comparison = unsigned numeric compare", so 10.0.0.10 beats 10.0.0.9
    /// although "10.0.0.10" < "10.0.0.9" as text.
    #[test]
    fn ipv4_tie_break_is_numeric_not_textual() {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(compare_addresses(&a, &b), Ordering::Greater);
        assert_eq!(compare_routers((100, &b), (100, &a)), Ordering::Less);
        assert_eq!(compare_routers((101, &b), (100, &a)), Ordering::Greater);
    }

    /// IPv6 is compared word by word from the most significant word.
    #[test]
    fn ipv6_tie_break_is_word_by_word() {
        let a: IpAddr = "fe80::2:1".parse().unwrap();
        let b: IpAddr = "fe80::1:ffff".parse().unwrap();
        assert_eq!(compare_addresses(&a, &b), Ordering::Greater);
        let c = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10));
        let d = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x9));
        assert_eq!(compare_addresses(&c, &d), Ordering::Greater);
        assert_eq!(compare_addresses(&c, &c), Ordering::Equal);
    }
}
