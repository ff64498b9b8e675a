//! Configuration mismatches with peers. keepalived drops an advert whose VIP list, interval,
//! authentication or version differ from its own and says little; both routers then become
//! MASTER. baton names the peer and the field once per (peer, field) until the difference
//! changes, and keeps the list for `baton status`.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::time::Instant;

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
    /// Adverts seen with this difference.
    pub count: u64,
}

/// The mismatches of one instance.
#[derive(Debug, Clone, Default)]
pub struct Mismatches {
    list: Vec<Mismatch>,
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
        let theirs = theirs.to_string();
        if let Some(m) = self
            .list
            .iter_mut()
            .find(|m| m.peer == peer && m.field == field)
        {
            m.count += 1;
            if m.theirs == theirs {
                return false;
            }
            m.theirs = theirs;
            m.ours = ours.to_string();
            m.first_seen = now;
            return true;
        }
        self.list.push(Mismatch {
            peer,
            field,
            ours: ours.to_string(),
            theirs,
            first_seen: now,
            count: 1,
        });
        true
    }

    /// A good advert from `peer`: what it disagreed on before has been fixed, except
    /// differences that do not drop adverts (the checksum form).
    pub fn clear_peer(&mut self, peer: &IpAddr) {
        if self.list.iter().any(|m| m.peer == *peer) {
            self.list
                .retain(|m| m.peer != *peer || m.field == MismatchField::ChecksumForm);
        }
    }

    pub fn list(&self) -> &[Mismatch] {
        &self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

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
        assert_eq!(m.list()[0].count, 3);
        m.clear_peer(&peer);
        assert!(m.is_empty());
        assert!(m.note(t, peer, MismatchField::AdvertInterval, &"1s", &"3s"));
    }
}
