//! An instance's configuration as the protocol uses it: the fields it reads on every advert,
//! the advert interval as its wire field, the VIP list pre-encoded. keepalived's rules
//! (owner, strict mode, IPv6 only in v3, defaults from `global_defs`) were applied once, by
//! `baton-conf` when it loaded the configuration; this copies, it does not decide again.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use baton_conf::{
    AuthHmac, Authentication, Config, GarpSettings, InitialState, Notify, UnicastPeer,
    VirtualAddress, VirtualRoute, VirtualRule, VrrpInstance,
};
use baton_wire::{Auth, ChecksumForm, Family, Version};
use smallvec::SmallVec;

use crate::timers::advert_interval_field;

/// Settings most instances have in common, kept once: with tens of thousands of instances a
/// copy each is a good part of an instance's memory.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    notify: Option<Arc<Notify>>,
    /// Interface names: thousands of instances usually run on a handful of interfaces.
    names: Vec<Arc<str>>,
}

impl Shared {
    fn interface(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.names.iter().find(|n| ***n == *name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        // Bounded, so a configuration with an interface per instance does not make this
        // quadratic; such names are simply not shared.
        if self.names.len() < 16 {
            self.names.push(n.clone());
        }
        n
    }

    fn notify(&mut self, n: &Notify) -> Arc<Notify> {
        let n = Notify {
            priority_changes: None,
            ..n.clone()
        };
        match &self.notify {
            Some(last) if **last == n => last.clone(),
            _ => self.notify.insert(Arc::new(n)).clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub vrid: u8,
    pub family: Family,
    pub version: Version,
    /// `""` when the instance has no interface (unicast with `dev` on every VIP).
    pub interface: Arc<str>,
    /// Where adverts go and come from: the VMAC, unless `vmac_xmit_base` (else `interface`).
    pub advert_interface: Arc<str>,
    pub base_priority: u8,
    pub owner: bool,
    /// `state MASTER` on an owner: become MASTER at once.
    pub immediate_master: bool,
    pub advert_field: u16,
    pub auth: Auth,
    /// `auth_hmac`, shared with the configuration it came from.
    pub hmac: Option<Arc<AuthHmac>>,
    /// The VIPs as they travel, compared with every advert received: inline up to four IPv4
    /// addresses or one IPv6 (nearly every instance), so the check reads no second
    /// allocation (that cache miss was about a tenth of a backup's CPU per advert).
    pub vip_bytes: SmallVec<[u8; 16]>,
    /// The configuration this instance was built from, shared with the daemon that keeps
    /// it: the addresses, routes, rules and peers are read there rather than copied (with
    /// tens of thousands of instances a copy each was a few hundred bytes an instance).
    config: Arc<Config>,
    /// This instance's entry in `config.instances`.
    index: u32,
    /// The instance has unicast peers: read on every advert, so kept here rather than
    /// looked up in the configuration (another cache line per advert).
    unicast: bool,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub accept: bool,
    pub fast: bool,
    pub down_timer_adverts: u8,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub owner_ignore_adverts: bool,
    pub skip_check_adv_addr: bool,
    pub check_unicast_src: bool,
    pub unicast_ttl: u8,
    pub unicast_fault_no_peer: bool,
    pub mcast_group: IpAddr,
    pub src_ip: Option<IpAddr>,
    pub track_src_ip: bool,
    pub dont_track_primary: bool,
    pub send_checksum: ChecksumForm,
    /// Cold and large: boxed to keep the per-advert fields of an instance in few cache lines.
    /// Shared with the configuration (and there with the instances that have the same
    /// settings, usually all).
    pub garp: Arc<GarpSettings>,
    /// Shared like `garp`; `priority_changes` is read from `notify_priority_changes`.
    pub notify: Arc<Notify>,
    pub notify_priority_changes: bool,
}

impl Params {
    /// The parameters of `config.instances[index]`.
    pub fn new(config: &Arc<Config>, index: usize, shared: &mut Shared) -> Params {
        let c = &config.instances[index];
        let owner = c.is_owner();
        let (advert_field, _) = advert_interval_field(c.version, c.advert_int);
        let auth = match c.auth.as_deref() {
            Some(Authentication::Pass(p)) => Auth::pass(p.as_bytes()),
            // AH is reported by the configuration and never sent.
            Some(Authentication::Ah(_)) | None => Auth::None,
        };
        let vip_addrs: Vec<IpAddr> = c.vips.iter().map(|v| v.addr).collect();
        let vip_bytes =
            SmallVec::from_slice(&baton_wire::advert::encode_addresses(c.family, &vip_addrs));
        Params {
            vrid: c.vrid,
            family: c.family,
            version: c.version,
            interface: shared.interface(c.interface.as_deref().unwrap_or("")),
            advert_interface: shared.interface(c.advert_interface().unwrap_or("")),
            base_priority: c.priority,
            owner,
            immediate_master: owner && c.state == InitialState::Master,
            advert_field,
            auth,
            hmac: c.auth_hmac.as_deref().cloned().map(Arc::new),
            vip_bytes,
            config: config.clone(),
            index: index as u32,
            unicast: !c.unicast_peers.is_empty(),
            nopreempt: c.nopreempt,
            preempt_delay: c.preempt_delay,
            accept: c.accept,
            fast: c.fast_handover,
            down_timer_adverts: c.down_timer_adverts,
            lower_prio_no_advert: c.lower_prio_no_advert,
            higher_prio_send_advert: c.higher_prio_send_advert,
            owner_ignore_adverts: c.owner_ignore_adverts,
            skip_check_adv_addr: c.skip_check_adv_addr,
            check_unicast_src: c.check_unicast_src,
            unicast_ttl: c.unicast_ttl.unwrap_or(baton_wire::VRRP_TTL),
            unicast_fault_no_peer: c.unicast_fault_no_peer,
            mcast_group: c.mcast_group,
            src_ip: c.src_ip,
            track_src_ip: c.track_src_ip,
            dont_track_primary: c.dont_track_primary,
            send_checksum: if c.v3_checksum_as_v2 {
                ChecksumForm::Plain
            } else {
                ChecksumForm::PseudoHeader
            },
            garp: c.garp.clone(),
            notify: shared.notify(&c.notify),
            notify_priority_changes: c.notify.priority_changes == Some(true),
        }
    }

    /// The advertisement interval as it travels ([`Params::advert_field`]): whole seconds
    /// in v2, centiseconds in v3. Worked out when asked: a daemon of tens of thousands of
    /// instances would spend 16 bytes each keeping it.
    pub fn advert_int(&self) -> Duration {
        baton_wire::advert::interval_duration(self.version, self.advert_field)
    }

    /// The instance's name, read from the configuration (not kept here: 16 bytes an
    /// instance, and only logs, notifications and status want it).
    pub fn name(&self) -> &str {
        &self.conf().name
    }

    /// The name as the actions that carry it hold it: shared with the configuration, so a
    /// log line or a notification costs no copy of it.
    pub fn name_arc(&self) -> Arc<str> {
        self.conf().name.clone()
    }

    /// The instance as configured.
    pub fn conf(&self) -> &VrrpInstance {
        &self.config.instances[self.index as usize]
    }

    pub fn vips(&self) -> &[VirtualAddress] {
        &self.conf().vips
    }

    pub fn excluded(&self) -> &[VirtualAddress] {
        &self.conf().excluded_vips
    }

    pub fn routes(&self) -> &[VirtualRoute] {
        &self.conf().virtual_routes
    }

    pub fn rules(&self) -> &[VirtualRule] {
        &self.conf().virtual_rules
    }

    pub fn unicast_peers(&self) -> &[UnicastPeer] {
        &self.conf().unicast_peers
    }

    pub fn unicast(&self) -> bool {
        self.unicast
    }

    /// The interface an address or route goes on: its own `dev`, else the instance's.
    pub fn dev_of(&self, dev: &Option<String>) -> Arc<str> {
        match dev {
            Some(d) => Arc::from(d.as_str()),
            None => self.interface.clone(),
        }
    }
}
