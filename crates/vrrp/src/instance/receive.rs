//! A received advert in BACKUP and in MASTER (RFC 5798 §6.4.2 / §6.4.3 and keepalived's
//! vrrp_state_backup / vrrp_state_master_rx).

use core::cmp::Ordering;

use baton_wire::{Auth, ChecksumForm, Family, Version};

use super::{Instance, Outcome, State};
use crate::action::{Action, Level, LogText, NotifyState, PeerLogKind};
use crate::advert_check;
use crate::counters::DropReason;
use crate::election::compare_addresses;
use crate::input::ReceivedAdvert;
use crate::mismatch::MismatchField;
use crate::time::Instant;

impl Instance {
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        rx: &ReceivedAdvert<'_>,
        out: &mut Vec<Action>,
    ) -> Outcome {
        if !matches!(self.state, State::Backup | State::Master) {
            self.counters.rare().dropped.count(DropReason::NotRunning);
            return Outcome::Nothing;
        }
        if Some(rx.src) == self.src {
            self.counters.rare().dropped.count(DropReason::OwnAddress);
            return Outcome::Nothing;
        }
        // skip_check_adv_addr: a backup may skip the VIP-list check for adverts from the
        // master it already follows; a master always checks.
        let check_addresses = self.state == State::Master
            || !self.p.skip_check_adv_addr
            || self.master.map(|m| m.0) != Some(rx.src);
        if let Err(reason) = advert_check::check_header(&self.p, rx) {
            self.counters.rare().dropped.count(reason);
            self.report_mismatch(now, rx, reason, out);
            return Outcome::Nothing;
        }
        if self.p.hmac.is_some() && !self.authenticate(rx, out) {
            return Outcome::Nothing;
        }
        if let Err(reason) = advert_check::check(&self.p, rx, check_addresses) {
            self.counters.rare().dropped.count(reason);
            self.report_mismatch(now, rx, reason, out);
            return Outcome::Nothing;
        }
        if rx.advert.version == Version::V3 && self.p.family == Family::Ipv4 {
            self.note_checksum_form(now, rx, out);
        }
        self.counters.adverts_received += 1;
        if rx.advert.priority == 0 {
            self.counters.rare().priority_zero_received += 1;
        }
        if !self.mismatches.is_empty() {
            self.mismatches.clear_peer(&rx.src);
        }
        if self.p.owner && self.p.owner_ignore_adverts && !self.demoted {
            // keepalived's owner_ignore_adverts (forced by vrrp_strict): the owner ignores
            // every advert.
            self.counters.rare().dropped.count(DropReason::OwnerIgnores);
            return Outcome::Nothing;
        }
        match self.state {
            State::Backup => self.backup_rx(now, rx, out),
            _ => self.master_rx(now, rx, out),
        }
    }

    fn backup_rx(
        &mut self,
        now: Instant,
        rx: &ReceivedAdvert<'_>,
        out: &mut Vec<Action>,
    ) -> Outcome {
        let prio = rx.advert.priority;
        self.heard = Some(now);
        if prio == 0 {
            // RFC 5798 §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then: Set the
            // Master_Down_Timer to Skew_Time" (fast handover: the short priority-ordered delay).
            self.timer = Some(now + self.takeover_delay());
            self.master = Some((rx.src, 0));
            return Outcome::Nothing;
        }
        let delay = self.p.preempt_delay;
        let preempt_window = !delay.is_zero() && self.preempt_until.is_none_or(|t| t > now);
        if self.p.nopreempt || prio >= self.prio || preempt_window {
            // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
            // than or equal to the local Priority, then: ... Set Master_Adver_Interval to Adver
            // Interval contained in the ADVERTISEMENT, Recompute the Master_Down_Interval,
            // Reset the Master_Down_Timer".
            if rx.advert.version == Version::V3 {
                self.master_adver_field = rx.advert.interval;
            }
            self.timer = Some(now + self.master_down_interval());
            self.master = Some((rx.src, prio));
            self.want_master = false;
            if !delay.is_zero() {
                if prio >= self.prio {
                    self.preempt_until = None;
                } else if self.preempt_until.is_none() {
                    self.preempt_until = Some(now + delay);
                }
            }
            if self.p.fast && !self.p.nopreempt && prio < self.prio {
                // Fast handover: preempt as soon as the preempt_delay window closes.
                if let Some(until) = self.preempt_until {
                    let at = until + self.takeover_delay();
                    self.timer = self.timer.map(|t| t.min(at));
                }
            }
        } else {
            // "Otherwise: Discard the ADVERTISEMENT" and let the down timer run out; under
            // fast handover take over after the short delay instead.
            self.log_peer(
                out,
                Level::Info,
                PeerLogKind::LowerPriority,
                rx.src,
                LogText::Owned(format!(
                    "received lower priority ({prio}) advert from {} - discarding",
                    rx.src
                )),
            );
            self.master = Some((rx.src, prio));
            if self.p.fast {
                let at = now + self.takeover_delay();
                self.timer = Some(self.timer.map_or(at, |t| t.min(at)));
            }
        }
        Outcome::Nothing
    }

    fn master_rx(
        &mut self,
        now: Instant,
        rx: &ReceivedAdvert<'_>,
        out: &mut Vec<Action>,
    ) -> Outcome {
        let prio = rx.advert.priority;
        let cmp = self
            .src
            .map_or(Ordering::Greater, |ours| compare_addresses(&rx.src, &ours));
        if prio == 0 {
            // RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send an
            // ADVERTISEMENT".
            self.send_advert(out, self.prio);
            return Outcome::Nothing;
        }
        let higher = prio > self.prio || (prio == self.prio && cmp == Ordering::Greater);
        // keepalived's higher_prio_send_advert, and always under fast handover: one advert
        // at our priority before yielding, so the winner hears a lower master and
        // re-announces its addresses. After a healed split brain the neighbours' caches
        // point at us; without it nobody would correct them.
        if higher && (self.p.higher_prio_send_advert || self.p.fast) {
            self.send_advert(out, self.prio);
        }
        if prio == self.prio {
            if cmp == Ordering::Equal {
                self.log_peer(
                    out,
                    Level::Warn,
                    PeerLogKind::Conflict,
                    rx.src,
                    LogText::Static("WARNING - equal priority advert received from remote host with our IP address."),
                );
                return Outcome::Nothing;
            }
            if self.prio == 255 {
                // Two address owners on one segment: the one with the lower address backs
                // off to 254 until it is alone again; the higher one stays owner.
                self.log_peer(
                    out,
                    Level::Error,
                    PeerLogKind::Conflict,
                    rx.src,
                    LogText::Owned(format!(
                        "CONFIGURATION ERROR: local instance and a remote instance ({}) are both configured as address owner, please fix{}",
                        rx.src,
                        if higher { " - reducing local priority" } else { "" }
                    )),
                );
                if higher {
                    self.demoted = true;
                    self.prio = 254;
                }
            }
        }
        if !higher {
            let forcing = if self.p.lower_prio_no_advert {
                ""
            } else {
                ", forcing new election"
            };
            self.log_peer(
                out,
                Level::Info,
                PeerLogKind::LowerPriority,
                rx.src,
                LogText::Owned(format!(
                    "Received advert from {} with lower priority {prio}, ours {}{forcing}",
                    rx.src, self.prio
                )),
            );
            // RFC 9568 / keepalived: answer at once so the lower router backs off now.
            if !self.p.lower_prio_no_advert {
                self.send_advert(out, self.prio);
            }
            self.heard_lower_master(now, rx, prio, out);
            self.lower_priority_garp(now, out);
            self.notify(out, NotifyState::MasterRxLowerPri);
            return Outcome::HeardLowerPriority;
        }
        let text = if prio > self.prio {
            format!(
                "Master received advert from {} with higher priority {prio}, ours {}",
                rx.src, self.prio
            )
        } else {
            format!(
                "Master received advert from {} with same priority {prio} but higher IP address than ours",
                rx.src
            )
        };
        self.log(out, Level::Info, LogText::Owned(text));
        let interval = (rx.advert.version == Version::V3).then_some(rx.advert.interval);
        self.enter_backup(now, out, "higher priority advert", interval);
        self.master = Some((rx.src, prio));
        Outcome::LeftMaster
    }

    /// `auth_hmac`: check the trailer (or its absence). A failure is counted and logged
    /// (at the 1st, 2nd, 4th, 8th… of its kind, so a flood cannot flood the log).
    fn authenticate(&mut self, rx: &ReceivedAdvert<'_>, out: &mut Vec<Action>) -> bool {
        let Some(cfg) = self.p.hmac.clone() else {
            return true;
        };
        let check = crate::auth_hmac::Message {
            version: self.p.version,
            vrid: self.p.vrid,
            src: rx.src,
            message: rx.message,
            trailer: rx.trailer.as_ref(),
            unix_time: rx.unix_time,
        };
        match self.hmac.get_or_insert_with(Default::default).verify(
            &cfg,
            self.p.unicast_peers(),
            &check,
        ) {
            Ok(skew) => {
                if rx.trailer.is_some() {
                    self.counters.rare().auth_ext.verified += 1;
                }
                if let Some(delta) = skew {
                    self.log_peer(
                        out,
                        Level::Warn,
                        PeerLogKind::Mismatch,
                        rx.src,
                        LogText::Owned(format!(
                            "auth_hmac: clock of {} differs from ours by {delta} s (window {} s): check NTP",
                            rx.src, cfg.time_window
                        )),
                    );
                }
                true
            }
            Err(crate::auth_hmac::AuthFailure::NotAPeer) => {
                self.counters.rare().dropped.count(DropReason::NotAPeer);
                false
            }
            Err(f) => {
                let n = self.counters.rare().auth_ext.count(f);
                if n.is_power_of_two() {
                    self.log_peer(
                        out,
                        Level::Warn,
                        PeerLogKind::Mismatch,
                        rx.src,
                        LogText::Owned(format!(
                            "auth_hmac: dropped advert from {}: {f} ({n} so far)",
                            rx.src
                        )),
                    );
                }
                false
            }
        }
    }

    /// A lower-priority master spoke while we are master: one more piece of evidence that
    /// it does not hear us; said once the evidence is in.
    fn heard_lower_master(
        &mut self,
        now: Instant,
        rx: &ReceivedAdvert<'_>,
        prio: u8,
        out: &mut Vec<Action>,
    ) {
        use crate::split_brain::{DualMaster, EVIDENCE, explain};
        match &mut self.dual {
            Some(d) if d.peer == rx.src => {
                d.last = now;
                d.priority = prio;
                d.adverts += 1;
            }
            _ => self.dual = Some(Box::new(DualMaster::new(now, rx.src, prio))),
        }
        let unicast = self.p.unicast();
        if let Some(d) = self
            .dual
            .as_mut()
            .filter(|d| !d.reported && d.adverts >= EVIDENCE)
        {
            d.reported = true;
            let text = format!("two masters: {}", explain(d, unicast));
            self.log(out, Level::Warn, LogText::Owned(text));
        }
    }

    /// On our advert timer: a lower-priority master silent for three of our intervals has
    /// heard us (or stopped).
    pub(crate) fn check_dual_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(d) = &self.dual else { return };
        if now.saturating_duration_since(d.last) <= 3 * self.p.advert_int() {
            return;
        }
        if d.reported {
            let text = format!(
                "{} no longer advertises after {} s as a second master: it hears us again (or it stopped)",
                d.peer,
                d.deaf_for().as_secs()
            );
            self.log(out, Level::Info, LogText::Owned(text));
        }
        self.dual = None;
    }

    /// keepalived's `garp_lower_prio_repeat` burst and its delayed repeat.
    pub(crate) fn lower_priority_garp(&mut self, now: Instant, out: &mut Vec<Action>) {
        let g = &self.p.garp;
        if g.lower_prio_repeat > 0 {
            let (repeat, delay) = (g.lower_prio_repeat, g.lower_prio_delay);
            self.announce(out, repeat);
            if !delay.is_zero() {
                self.garp_lower_second = Some(now + delay);
                self.garp_changed();
            }
        }
    }

    fn note_checksum_form(&mut self, now: Instant, rx: &ReceivedAdvert<'_>, out: &mut Vec<Action>) {
        match rx.checksum {
            ChecksumForm::PseudoHeader => self.counters.checksum_pseudo_header += 1,
            ChecksumForm::Plain => self.counters.checksum_plain += 1,
        }
        if rx.checksum == self.p.send_checksum {
            return;
        }
        let show = |f: ChecksumForm| match f {
            ChecksumForm::Plain => "message only (v3_checksum_as_v2)",
            ChecksumForm::PseudoHeader => "with pseudo-header",
        };
        if self.mismatches.note(
            now,
            rx.src,
            MismatchField::ChecksumForm,
            &show(self.p.send_checksum),
            &show(rx.checksum),
        ) {
            self.log_peer(
                out,
                Level::Warn,
                PeerLogKind::Mismatch,
                rx.src,
                LogText::Owned(format!(
                    "{} computes the VRRPv3 checksum {}, we compute it {}: accepted, but a peer that accepts only its own form drops our adverts - set v3_checksum_as_v2 alike on both",
                    rx.src,
                    show(rx.checksum),
                    show(self.p.send_checksum)
                )),
            );
        }
    }

    /// Name the peer and the field when an advert was dropped for a configuration
    /// difference, once per (peer, field) until it changes.
    fn report_mismatch(
        &mut self,
        now: Instant,
        rx: &ReceivedAdvert<'_>,
        reason: DropReason,
        out: &mut Vec<Action>,
    ) {
        let adv = &rx.advert;
        let auth = |a: &Auth| match a {
            Auth::None => "none",
            Auth::Pass(_) => "PASS",
        };
        let (field, ours, theirs): (MismatchField, String, String) = match reason {
            DropReason::Version => (
                MismatchField::Version,
                self.p.version.to_string(),
                adv.version.to_string(),
            ),
            DropReason::AuthType => (
                MismatchField::Authentication,
                auth(&self.p.auth).to_string(),
                auth(&adv.auth).to_string(),
            ),
            DropReason::AuthFailure => (
                MismatchField::Authentication,
                "PASS".to_string(),
                "PASS with a different password".to_string(),
            ),
            DropReason::Interval => (
                MismatchField::AdvertInterval,
                format!("{}s", self.p.advert_field),
                format!("{}s", adv.interval),
            ),
            DropReason::AddressCount | DropReason::AddressList => {
                let ours = baton_wire::Addresses::new(self.p.family, &self.p.vip_bytes)
                    .unwrap_or(baton_wire::Addresses::empty(self.p.family));
                (
                    MismatchField::VirtualAddresses,
                    format!("{ours:?}"),
                    format!("{:?}", adv.addresses),
                )
            }
            _ => return,
        };
        if self.mismatches.note(now, rx.src, field, &ours, &theirs) {
            self.log_peer(
                out,
                Level::Warn,
                PeerLogKind::Mismatch,
                rx.src,
                LogText::Owned(format!(
                    "adverts from {} are dropped: its {field} differs (ours {ours}, theirs {theirs}) - both routers may become MASTER until the configurations agree",
                    rx.src
                )),
            );
        }
    }
}
