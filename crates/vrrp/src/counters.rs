//! Per-instance statistics, keepalived's `stats` plus a counter for every reason an advert
//! was dropped, so `baton status` can say why a pair split.

use serde::Serialize;

/// Why a received advert was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DropReason {
    /// TTL / hop limit not 255 on a multicast advert (RFC 5798 §7.1), or outside a unicast
    /// peer's `min_ttl`..`max_ttl`.
    Ttl,
    /// The advert's version is not ours.
    Version,
    /// VRRPv2: the advert's authentication type is not ours.
    AuthType,
    /// VRRPv2 PASS: the first 8 bytes of the password differ.
    AuthFailure,
    /// VRRPv2: the advert's interval is not ours ("advertisement interval mismatch").
    Interval,
    /// The number of addresses is not the number of our VIPs.
    AddressCount,
    /// One of our VIPs is not in the advert ("ip address associated with VRID not present
    /// in MASTER advert").
    AddressList,
    /// A multicast advert for a unicast instance, or the other way round.
    Destination,
    /// `check_unicast_src`: the sender is not one of our unicast peers.
    NotAPeer,
    /// An address owner under `owner_ignore_adverts` (or `vrrp_strict`) ignores adverts.
    OwnerIgnores,
    /// The advert came from our own source address.
    OwnAddress,
    /// The instance was not running (initialising, in FAULT, or stopped).
    NotRunning,
}

impl DropReason {
    pub const ALL: [DropReason; 12] = [
        DropReason::Ttl,
        DropReason::Version,
        DropReason::AuthType,
        DropReason::AuthFailure,
        DropReason::Interval,
        DropReason::AddressCount,
        DropReason::AddressList,
        DropReason::Destination,
        DropReason::NotAPeer,
        DropReason::OwnerIgnores,
        DropReason::OwnAddress,
        DropReason::NotRunning,
    ];
}

/// Drops by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DropCounters {
    pub ttl: u64,
    pub version: u64,
    pub auth_type: u64,
    pub auth_failure: u64,
    pub interval: u64,
    pub address_count: u64,
    pub address_list: u64,
    pub destination: u64,
    pub not_a_peer: u64,
    pub owner_ignores: u64,
    pub own_address: u64,
    pub not_running: u64,
}

impl DropCounters {
    pub fn count(&mut self, reason: DropReason) {
        *self.slot(reason) += 1;
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Ttl => self.ttl,
            DropReason::Version => self.version,
            DropReason::AuthType => self.auth_type,
            DropReason::AuthFailure => self.auth_failure,
            DropReason::Interval => self.interval,
            DropReason::AddressCount => self.address_count,
            DropReason::AddressList => self.address_list,
            DropReason::Destination => self.destination,
            DropReason::NotAPeer => self.not_a_peer,
            DropReason::OwnerIgnores => self.owner_ignores,
            DropReason::OwnAddress => self.own_address,
            DropReason::NotRunning => self.not_running,
        }
    }

    pub fn total(&self) -> u64 {
        DropReason::ALL.iter().map(|r| self.get(*r)).sum()
    }

    fn slot(&mut self, reason: DropReason) -> &mut u64 {
        match reason {
            DropReason::Ttl => &mut self.ttl,
            DropReason::Version => &mut self.version,
            DropReason::AuthType => &mut self.auth_type,
            DropReason::AuthFailure => &mut self.auth_failure,
            DropReason::Interval => &mut self.interval,
            DropReason::AddressCount => &mut self.address_count,
            DropReason::AddressList => &mut self.address_list,
            DropReason::Destination => &mut self.destination,
            DropReason::NotAPeer => &mut self.not_a_peer,
            DropReason::OwnerIgnores => &mut self.owner_ignores,
            DropReason::OwnAddress => &mut self.own_address,
            DropReason::NotRunning => &mut self.not_running,
        }
    }
}

/// Transitions into each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TransitionCounters {
    pub master: u64,
    pub backup: u64,
    pub fault: u64,
    pub stop: u64,
}

/// Everything an instance counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub adverts_sent: u64,
    /// Adverts that passed the checks (keepalived's `advert_rcvd`).
    pub adverts_received: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    /// VRRPv3/IPv4 adverts whose checksum covered the pseudo-header (keepalived's default).
    pub checksum_pseudo_header: u64,
    /// VRRPv3/IPv4 adverts whose checksum covered the message only (RFC 9568, FRR, Cisco).
    pub checksum_plain: u64,
    pub dropped: DropCounters,
    pub transitions: TransitionCounters,
    /// VIPs deleted behind our back and put back.
    pub vips_restored: u64,
    /// `auth_hmac`: keepalived's "Authentication Extension Errors".
    pub auth_ext: crate::auth_hmac::AuthCounters,
}

/// What an instance counts, as the instance keeps it: the counters adverts and state changes
/// move are inline; the rest (drops, priority-0 adverts, restored VIPs, `auth_hmac`) is
/// boxed and made on its first count. Most instances never count one of those, and a daemon
/// may run tens of thousands of instances: inline, they were a fifth of each instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub checksum_pseudo_header: u64,
    pub checksum_plain: u64,
    pub transitions: TransitionCounters,
    rare: Option<Box<Rare>>,
}

/// The counters of [`Tally`] that most instances never move.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rare {
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub dropped: DropCounters,
    pub vips_restored: u64,
    pub auth_ext: crate::auth_hmac::AuthCounters,
}

impl Tally {
    /// The rarely moved counters, made on first use.
    pub fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Every counter, as status and metrics show them.
    pub fn counters(&self) -> Counters {
        let rare = self.rare.as_deref().cloned().unwrap_or_default();
        Counters {
            adverts_sent: self.adverts_sent,
            adverts_received: self.adverts_received,
            priority_zero_sent: rare.priority_zero_sent,
            priority_zero_received: rare.priority_zero_received,
            checksum_pseudo_header: self.checksum_pseudo_header,
            checksum_plain: self.checksum_plain,
            dropped: rare.dropped,
            transitions: self.transitions.clone(),
            vips_restored: rare.vips_restored,
            auth_ext: rare.auth_ext,
        }
    }
}
