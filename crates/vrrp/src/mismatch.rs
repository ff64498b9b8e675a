//! Configuration mismatches with peers. keepalived drops an advert whose VIP list, interval,
//! authentication or version differ from its own and says little; both routers then become
//! MASTER. baton names the peer and the field once per (peer, field) until the difference
//! changes, and keeps the list for `baton status`.
//!
//! The table is keyed by the advert's source address, which anyone on the segment can forge
//! without knowing a password. So it is bounded ([`CAPACITY`] entries an instance), looked up
//! by hash, and forgets: an entry not seen for [`EXPIRY`] goes, and when the table is full
//! the entry seen longest ago makes room (counted in [`Mismatches::evicted`]). A flood from
//! a hundred thousand forged sources costs the same memory as one from a single source; a
//! real mismatched peer, advertising every interval, is seen again at once and listed again.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::time::Instant;

/// Peers × fields listed per instance.
pub const CAPACITY: usize = 32;
/// An entry not seen for this long is forgotten: longer than the longest VRRPv2 interval
/// (255 s), so a real peer's mismatch is not reported again on every advert.
pub const EXPIRY: Duration = Duration::from_secs(300);
/// Longest `ours`/`theirs` text kept (an advert can list 255 addresses).
pub const TEXT_MAX: usize = 160;

/// Which part of the configuration differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MismatchField {
    /// `virtual_ipaddress` (count or addresses).
    VirtualAddresses,
    /// `advert_int`.
    AdvertInterval,
    /// `authentication` (type or password).
    Authentication,
    /// `version`.
    Version,
    /// The VRRPv3/IPv4 checksum form (`v3_checksum_as_v2`).
    ChecksumForm,
}

impl MismatchField {
    /// The fields a good advert from the peer shows to be fixed (all but the checksum form,
    /// which does not drop adverts).
    const DROPPING: [MismatchField; 4] = [
        MismatchField::VirtualAddresses,
        MismatchField::AdvertInterval,
        MismatchField::Authentication,
        MismatchField::Version,
    ];
}

impl fmt::Display for MismatchField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MismatchField::VirtualAddresses => "virtual_ipaddress",
            MismatchField::AdvertInterval => "advert_int",
            MismatchField::Authentication => "authentication",
            MismatchField::Version => "version",
            MismatchField::ChecksumForm => "v3_checksum_as_v2",
        })
    }
}

/// One detected difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub peer: IpAddr,
    pub field: MismatchField,
    pub ours: String,
    pub theirs: String,
    pub first_seen: Instant,
    pub last_seen: Instant,
    /// Adverts seen with this difference.
    pub count: u64,
}

/// The mismatches of one instance: made on the first one (most instances never see one, and
/// a daemon may run tens of thousands of them).
#[derive(Debug, Clone, Default)]
pub struct Mismatches(Option<Box<Table>>);

#[derive(Debug, Clone, Default)]
struct Table {
    table: HashMap<(IpAddr, MismatchField), Mismatch>,
    evicted: u64,
    expired: u64,
}

impl Mismatches {
    /// Record a difference. Returns true when it is new or changed (time to log it).
    pub fn note(
        &mut self,
        now: Instant,
        peer: IpAddr,
        field: MismatchField,
        ours: &dyn fmt::Display,
        theirs: &dyn fmt::Display,
    ) -> bool {
        self.0
            .get_or_insert_default()
            .note(now, peer, field, ours, theirs)
    }

    /// A good advert from `peer`: what it disagreed on before has been fixed, except
    /// differences that do not drop adverts (the checksum form).
    pub fn clear_peer(&mut self, peer: &IpAddr) {
        if let Some(t) = &mut self.0 {
            t.clear_peer(peer);
        }
    }

    /// The entries, oldest first (the order they were found in).
    pub fn list(&self) -> Vec<Mismatch> {
        self.0.as_ref().map(|t| t.list()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.table.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries dropped to make room for a new one while the table was full.
    pub fn evicted(&self) -> u64 {
        self.0.as_ref().map_or(0, |t| t.evicted)
    }

    /// Entries forgotten after [`EXPIRY`] without an advert.
    pub fn expired(&self) -> u64 {
        self.0.as_ref().map_or(0, |t| t.expired)
    }
}

impl Table {
    fn note(
        &mut self,
        now: Instant,
        peer: IpAddr,
        field: MismatchField,
        ours: &dyn fmt::Display,
        theirs: &dyn fmt::Display,
    ) -> bool {
        let theirs = clipped(theirs);
        if let Some(m) = self.table.get_mut(&(peer, field)) {
            m.count += 1;
            m.last_seen = now;
            if m.theirs == theirs {
                return false;
            }
            m.theirs = theirs;
            m.ours = clipped(ours);
            m.first_seen = now;
            return true;
        }
        if self.table.len() >= CAPACITY {
            self.make_room(now);
        }
        self.table.insert(
            (peer, field),
            Mismatch {
                peer,
                field,
                ours: clipped(ours),
                theirs,
                first_seen: now,
                last_seen: now,
                count: 1,
            },
        );
        true
    }

    /// Forget what expired; if the table is still full, the entry seen longest ago.
    fn make_room(&mut self, now: Instant) {
        let before = self.table.len();
        self.table
            .retain(|_, m| now.saturating_duration_since(m.last_seen) < EXPIRY);
        self.expired += (before - self.table.len()) as u64;
        if self.table.len() < CAPACITY {
            return;
        }
        let oldest = self
            .table
            .iter()
            .min_by_key(|(_, m)| m.last_seen)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.table.remove(&k);
            self.evicted += 1;
        }
    }

    fn clear_peer(&mut self, peer: &IpAddr) {
        for field in MismatchField::DROPPING {
            self.table.remove(&(*peer, field));
        }
    }

    fn list(&self) -> Vec<Mismatch> {
        let mut v: Vec<Mismatch> = self.table.values().cloned().collect();
        v.sort_by(|a, b| {
            (a.first_seen, a.peer, a.field as u8).cmp(&(b.first_seen, b.peer, b.field as u8))
        });
        v
    }
}

/// A value as text, cut at [`TEXT_MAX`] characters.
fn clipped(v: &dyn fmt::Display) -> String {
    let mut s = v.to_string();
    if let Some((at, _)) = s.char_indices().nth(TEXT_MAX) {
        s.truncate(at);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn reports_once_per_peer_and_field_until_it_changes() {
        let peer = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 11));
        let mut m = Mismatches::default();
        let t = Instant::ZERO;
        assert!(m.note(t, peer, MismatchField::AdvertInterval, &"1s", &"2s"));
        assert!(!m.note(t, peer, MismatchField::AdvertInterval, &"1s", &"2s"));
        assert!(m.note(t, peer, MismatchField::Authentication, &"PASS", &"none"));
        assert!(m.note(t, peer, MismatchField::AdvertInterval, &"1s", &"3s"));
        assert_eq!(m.list().len(), 2);
        let interval = m
            .list()
            .into_iter()
            .find(|e| e.field == MismatchField::AdvertInterval)
            .unwrap();
        assert_eq!(interval.count, 3);
        m.clear_peer(&peer);
        assert!(m.is_empty());
        assert!(m.note(t, peer, MismatchField::AdvertInterval, &"1s", &"3s"));
    }

    #[test]
    fn a_good_advert_keeps_the_checksum_form() {
        let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let mut m = Mismatches::default();
        m.note(Instant::ZERO, peer, MismatchField::ChecksumForm, &"a", &"b");
        m.note(Instant::ZERO, peer, MismatchField::Version, &"3", &"2");
        m.clear_peer(&peer);
        assert_eq!(m.list()[0].field, MismatchField::ChecksumForm);
        assert_eq!(m.len(), 1);
    }

    fn spoofed(i: u32) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(
            0xfd00_0000_0000_0000_0000_0000_0000_0000 | u128::from(i),
        ))
    }

    #[test]
    fn forged_sources_never_grow_the_table_and_evictions_are_counted() {
        let real = IpAddr::V4(Ipv4Addr::new(192, 168, 5, 12));
        let mut m = Mismatches::default();
        let mut t = Instant::ZERO;
        for i in 0..100_000u32 {
            t = t + Duration::from_micros(10);
            assert!(m.note(t, spoofed(i), MismatchField::Authentication, &"PASS", &"x"));
            assert!(m.len() <= CAPACITY);
        }
        assert_eq!(m.evicted(), 100_000 - CAPACITY as u64);
        // The real peer, advertising every second, gets its place back at once and is
        // reported (once) again.
        assert!(m.note(t, real, MismatchField::AdvertInterval, &"1s", &"2s"));
        assert!(!m.note(t, real, MismatchField::AdvertInterval, &"1s", &"2s"));
        assert_eq!(m.len(), CAPACITY);
    }

    #[test]
    fn the_entry_seen_longest_ago_makes_room_and_expired_ones_go_first() {
        let mut m = Mismatches::default();
        let t0 = Instant::ZERO;
        for i in 0..CAPACITY as u32 {
            m.note(
                t0 + Duration::from_secs(u64::from(i)),
                spoofed(i),
                MismatchField::Version,
                &"3",
                &"2",
            );
        }
        // Seen again: no longer the oldest.
        m.note(
            t0 + Duration::from_secs(100),
            spoofed(0),
            MismatchField::Version,
            &"3",
            &"2",
        );
        m.note(
            t0 + Duration::from_secs(101),
            spoofed(999),
            MismatchField::Version,
            &"3",
            &"2",
        );
        let peers: Vec<IpAddr> = m.list().iter().map(|e| e.peer).collect();
        assert!(peers.contains(&spoofed(0)));
        assert!(
            !peers.contains(&spoofed(1)),
            "spoofed(1) was seen longest ago"
        );
        assert_eq!((m.evicted(), m.expired()), (1, 0));
        // Long after: everything but what is seen again has expired.
        let later = t0 + EXPIRY + Duration::from_secs(200);
        for i in 0..CAPACITY as u32 {
            m.note(
                later,
                spoofed(10_000 + i),
                MismatchField::Version,
                &"3",
                &"2",
            );
        }
        assert_eq!(m.expired(), CAPACITY as u64);
        assert_eq!(m.evicted(), 1);
    }

    #[test]
    fn long_texts_are_clipped() {
        let mut m = Mismatches::default();
        let long = "10.0.0.1, ".repeat(200);
        m.note(
            Instant::ZERO,
            spoofed(1),
            MismatchField::VirtualAddresses,
            &"x",
            &long,
        );
        let e = &m.list()[0];
        assert_eq!(e.theirs.chars().count(), TEXT_MAX + 1);
        assert!(e.theirs.ends_with('…'));
    }
}
