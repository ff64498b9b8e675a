//! The checks a received advert must pass before it counts (RFC 5798 §7.1, RFC 3768 §7.1,
//! keepalived's vrrp_check_packet), in keepalived's order. The codec has already checked
//! length, type and checksum; these are the checks that need the instance's configuration.

use std::net::IpAddr;

use baton_wire::{Auth, Family, Version};

use crate::counters::DropReason;
use crate::input::ReceivedAdvert;
use crate::instance::Params;

/// The checks keepalived makes before `auth_hmac`'s: TTL (multicast) and version.
pub(crate) fn check_header(p: &Params, rx: &ReceivedAdvert<'_>) -> Result<(), DropReason> {
    // RFC 5798 §7.1: "MUST verify that the IPvX TTL/Hop Limit is 255"; keepalived only for
    // multicast, and for unicast only within a peer's min_ttl..max_ttl.
    if !p.unicast() && rx.ttl != baton_wire::VRRP_TTL {
        return Err(DropReason::Ttl);
    }
    // "MUST verify the VRRP version".
    if rx.advert.version != p.version {
        return Err(DropReason::Version);
    }
    Ok(())
}

/// Validate the rest of `rx` against `p`, after [`check_header`] and the HMAC.
/// `check_addresses` is false when `skip_check_adv_addr` lets an advert from the master we
/// already know skip the VIP-list and peer checks.
pub(crate) fn check(
    p: &Params,
    rx: &ReceivedAdvert<'_>,
    check_addresses: bool,
) -> Result<(), DropReason> {
    let adv = &rx.advert;
    if p.version == Version::V2 {
        // RFC 2338 §7.1: "MUST perform authentication specified by Auth Type".
        match (adv.auth, p.auth) {
            (Auth::None, Auth::None) => {}
            (Auth::Pass(theirs), Auth::Pass(ours)) => {
                if theirs != ours {
                    return Err(DropReason::AuthFailure);
                }
            }
            _ => return Err(DropReason::AuthType),
        }
        // RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same as
        // the locally configured for this virtual router".
        if adv.interval != p.advert_field {
            return Err(DropReason::Interval);
        }
    }
    // keepalived checks the count before the checksum and the destination.
    if check_addresses && adv.addresses.len() != p.vip_count() {
        return Err(DropReason::AddressCount);
    }
    if is_multicast(&rx.dst) == p.unicast() {
        return Err(DropReason::Destination);
    }
    if check_addresses {
        // "MAY verify that the IP address(es) associated with the VRID are valid": every
        // one of ours must be in the advert (keepalived compares as sets).
        if !same_set(p.family, &p.vip_bytes, adv.addresses.as_bytes()) {
            return Err(DropReason::AddressList);
        }
        if p.unicast() && p.check_unicast_src {
            let Some(peer) = p.unicast_peers().iter().find(|u| u.addr == rx.src) else {
                return Err(DropReason::NotAPeer);
            };
            let low = peer.min_ttl.unwrap_or(0);
            let high = peer.max_ttl.unwrap_or(255);
            if rx.ttl < low || rx.ttl > high {
                return Err(DropReason::Ttl);
            }
        }
    }
    Ok(())
}

/// The same addresses in any order (keepalived compares as sets). Addresses are compared
/// as integers: this runs for every received advert.
fn same_set(family: Family, ours: &[u8], theirs: &[u8]) -> bool {
    if ours.len() != theirs.len() {
        return false;
    }
    match family {
        Family::Ipv4 => {
            let word = |c: &[u8]| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
            ours.chunks_exact(4)
                .all(|o| theirs.chunks_exact(4).any(|t| word(t) == word(o)))
        }
        Family::Ipv6 => {
            let word = |c: &[u8]| {
                let mut b = [0u8; 16];
                b.copy_from_slice(c);
                u128::from_ne_bytes(b)
            };
            ours.chunks_exact(16)
                .all(|o| theirs.chunks_exact(16).any(|t| word(t) == word(o)))
        }
    }
}

fn is_multicast(a: &IpAddr) -> bool {
    a.is_multicast()
}

impl Params {
    pub(crate) fn vip_count(&self) -> usize {
        self.vip_bytes.len() / self.family.addr_len()
    }
}
