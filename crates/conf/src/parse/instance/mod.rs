//! `vrrp_instance NAME { … }` as written. Defaults that depend on other keywords or on
//! `global_defs` are applied by `resolve`.

use std::net::IpAddr;
use std::time::Duration;

use baton_wire::Version;

use super::address::Owner;
use super::cx::{At, Cx};
use super::global::extra_if;
use super::trackers::{RawTracking, TrackKind, track_block};
use crate::diag::Code;
use crate::model::{
    Authentication, GarpExtraIf, InitialState, Notify, Span, UnicastPeer, VirtualAddress,
    VirtualRoute, VirtualRule,
};
use crate::syntax::{Stmt, Token};

pub(crate) mod auth_hmac;
mod blocks;

use blocks::{address_block, authentication, mac, unicast_peers};

/// Per-instance GARP overrides.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawGarp {
    pub master_delay: Option<Duration>,
    pub master_repeat: Option<u32>,
    pub lower_prio_delay: Option<Duration>,
    pub lower_prio_repeat: Option<At<u32>>,
    pub master_refresh: Option<Duration>,
    pub master_refresh_repeat: Option<u32>,
    pub extra_if: Option<Option<GarpExtraIf>>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawInstance {
    pub name: String,
    pub span: Span,
    pub name_len: u32,
    pub state: Option<At<InitialState>>,
    pub interface: Option<At<String>>,
    pub vrid: Option<At<u8>>,
    /// `virtual_router_id` was given but invalid (already reported).
    pub vrid_invalid: bool,
    pub priority: Option<At<u8>>,
    pub priority_invalid: bool,
    pub advert_int: Option<At<Duration>>,
    pub version: Option<At<Version>>,
    pub auth: Option<At<Authentication>>,
    pub auth_hmac: Option<auth_hmac::RawAuthHmac>,
    pub nopreempt: Option<Span>,
    pub preempt_delay: Option<At<Duration>>,
    pub src_ip: Option<At<IpAddr>>,
    pub unicast_peers: Vec<At<UnicastPeer>>,
    pub unicast_ttl: Option<u8>,
    pub unicast_fault_no_peer: bool,
    pub check_unicast_src: Option<bool>,
    pub mcast_dst: Option<At<IpAddr>>,
    pub track_src_ip: bool,
    pub dont_track_primary: bool,
    pub tracking: RawTracking,
    pub vips: Vec<VirtualAddress>,
    pub excluded_vips: Vec<VirtualAddress>,
    pub no_virtual_ipaddress: bool,
    pub routes: Vec<VirtualRoute>,
    pub rules: Vec<VirtualRule>,
    pub accept: Option<At<bool>>,
    pub promote_secondaries: bool,
    pub strict: Option<At<bool>>,
    pub use_vmac: bool,
    pub vmac_name: Option<String>,
    /// A VMAC MAC; five octets get the VRID as sixth.
    pub vmac_mac: Option<(Vec<u8>, Span)>,
    pub vmac_xmit_base: Option<Span>,
    pub garp: RawGarp,
    pub down_timer_adverts: Option<At<u8>>,
    pub lower_prio_no_advert: Option<At<bool>>,
    pub higher_prio_send_advert: Option<At<bool>>,
    pub owner_ignore_adverts: Option<At<bool>>,
    pub skip_check_adv_addr: Option<bool>,
    pub v3_checksum_as_v2: Option<bool>,
    pub fast_handover: Option<At<bool>>,
    pub notify: Notify,
    /// `lvs_sync_daemon_interface IF`: the old way to set `lvs_sync_daemon IF inst NAME`.
    pub lvs_sync_daemon_interface: Option<At<String>>,
}

/// Instance keywords of keepalived that baton skips.
const NOT_IMPLEMENTED: &[&str] = &[
    "vrf",
    "use_vmac_addr",
    "use_ipvlan",
    "native_ipv6",
    "track_bfd",
    "old_unicast_checksum",
    "unicast_chksum_compat",
    "vmac_garp_intvl",
    "debug",
    "smtp_alert",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
    "timer_expired_backup",
];

fn set<T>(cx: &mut Cx<'_>, slot: &mut Option<At<T>>, v: T, kw: &Token) {
    if slot.is_some() {
        cx.report(
            Code::Duplicate,
            kw,
            format!("'{}' given again; this one counts", kw.text),
        );
    }
    *slot = Some(At::new(v, kw));
}

fn bool_at(cx: &mut Cx<'_>, stmt: &Stmt, slot: &mut Option<At<bool>>) {
    if let Some(b) = cx.bool_arg(stmt) {
        set(cx, slot, b, stmt.keyword());
    }
}

/// The longest delay keepalived's timers accept here.
const MAX_TIMER: Duration = Duration::from_secs(u32::MAX as u64);

pub(crate) fn vrrp_instance(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<RawInstance> {
    let name = cx.arg(stmt, 0)?.clone();
    cx.at_most(stmt, 1);
    let lines = cx.block(stmt)?;
    let mut r = RawInstance {
        name: name.text.clone(),
        span: name.span.clone(),
        name_len: name.len,
        state: None,
        interface: None,
        vrid: None,
        vrid_invalid: false,
        priority: None,
        priority_invalid: false,
        advert_int: None,
        version: None,
        auth: None,
        auth_hmac: None,
        nopreempt: None,
        preempt_delay: None,
        src_ip: None,
        unicast_peers: Vec::new(),
        unicast_ttl: None,
        unicast_fault_no_peer: false,
        check_unicast_src: None,
        mcast_dst: None,
        track_src_ip: false,
        dont_track_primary: false,
        tracking: RawTracking::default(),
        vips: Vec::new(),
        excluded_vips: Vec::new(),
        no_virtual_ipaddress: false,
        routes: Vec::new(),
        rules: Vec::new(),
        accept: None,
        promote_secondaries: false,
        strict: None,
        use_vmac: false,
        vmac_name: None,
        vmac_mac: None,
        vmac_xmit_base: None,
        garp: RawGarp::default(),
        down_timer_adverts: None,
        lower_prio_no_advert: None,
        higher_prio_send_advert: None,
        owner_ignore_adverts: None,
        skip_check_adv_addr: None,
        v3_checksum_as_v2: None,
        fast_handover: None,
        notify: Notify::default(),
        lvs_sync_daemon_interface: None,
    };
    for line in lines {
        keyword(cx, line, &mut r);
    }
    Some(r)
}

fn keyword(cx: &mut Cx<'_>, line: &Stmt, r: &mut RawInstance) {
    let kw = line.keyword();
    match kw.text.as_str() {
        "state" => {
            cx.no_block(line);
            cx.at_most(line, 1);
            let Some(tok) = cx.arg(line, 0) else { return };
            let state = match tok.text.as_str() {
                "MASTER" => InitialState::Master,
                "BACKUP" => InitialState::Backup,
                t => {
                    cx.report(
                        Code::InvalidState,
                        tok,
                        format!(
                            "({}) unknown state '{t}' (MASTER or BACKUP, in capitals); using BACKUP",
                            r.name
                        ),
                    );
                    InitialState::Backup
                }
            };
            set(cx, &mut r.state, state, kw);
        }
        "interface" => {
            if let Some(s) = cx.string_arg(line) {
                if r.interface.is_some() {
                    cx.report(
                        Code::Duplicate,
                        kw,
                        "'interface' given again; this one counts",
                    );
                }
                r.interface = Some(s);
            }
        }
        "virtual_router_id" => {
            cx.no_block(line);
            cx.at_most(line, 1);
            let Some(tok) = cx.arg(line, 0) else {
                r.vrid_invalid = true;
                return;
            };
            match tok.text.parse::<i64>() {
                Ok(v @ 1..=255) => set(cx, &mut r.vrid, v as u8, kw),
                Ok(v) => {
                    r.vrid_invalid = true;
                    cx.report(
                        Code::VridRange,
                        tok,
                        format!("({}) virtual_router_id {v} is outside 1..255", r.name),
                    );
                }
                Err(_) => {
                    r.vrid_invalid = true;
                    cx.report(
                        Code::InvalidValue,
                        tok,
                        format!(
                            "({}) virtual_router_id '{}' is not a number",
                            r.name, tok.text
                        ),
                    );
                }
            }
        }
        "priority" => {
            cx.no_block(line);
            cx.at_most(line, 1);
            let Some(tok) = cx.arg(line, 0) else { return };
            match tok.text.parse::<i64>() {
                Ok(v @ 1..=255) => set(cx, &mut r.priority, v as u8, kw),
                Ok(v) => {
                    r.priority_invalid = true;
                    cx.report(
                        Code::PriorityRange,
                        tok,
                        format!("({}) priority {v} is outside 1..255; using 100", r.name),
                    );
                }
                Err(_) => {
                    r.priority_invalid = true;
                    cx.report(
                        Code::InvalidValue,
                        tok,
                        format!(
                            "({}) priority '{}' is not a number; using 100",
                            r.name, tok.text
                        ),
                    );
                }
            }
        }
        "advert_int" => {
            cx.no_block(line);
            cx.at_most(line, 1);
            let Some(tok) = cx.arg(line, 0) else { return };
            if let Some(d) = cx.timer(tok, "advert_int") {
                set(cx, &mut r.advert_int, d, tok);
            }
        }
        "version" => {
            cx.no_block(line);
            cx.at_most(line, 1);
            let Some(tok) = cx.arg(line, 0) else { return };
            match tok.text.as_str() {
                "2" => set(cx, &mut r.version, Version::V2, tok),
                "3" => set(cx, &mut r.version, Version::V3, tok),
                t => cx.report(
                    Code::VersionInvalid,
                    tok,
                    format!("({}) version '{t}' is not 2 or 3", r.name),
                ),
            }
        }
        "authentication" => authentication(cx, line, r),
        "auth_hmac" => {
            if r.auth_hmac.is_some() {
                cx.report(
                    Code::Duplicate,
                    kw,
                    "'auth_hmac' given again; this one counts",
                );
            }
            let name = r.name.clone();
            r.auth_hmac = auth_hmac::auth_hmac(cx, line, &name);
        }
        "nopreempt" | "no_preempt" => {
            cx.flag(line);
            r.nopreempt = Some(kw.span.clone());
        }
        "preempt" => {
            cx.flag(line);
            r.nopreempt = None;
        }
        "preempt_delay" => {
            if let Some(d) = cx.timer_arg(line, Duration::ZERO, Duration::from_secs(1000)) {
                set(cx, &mut r.preempt_delay, d, kw);
            }
        }
        "mcast_src_ip" | "unicast_src_ip" => {
            if let Some(a) = cx.ip_arg(line) {
                r.src_ip = Some(a);
            }
        }
        "mcast_dst_ip" => {
            if let Some(a) = cx.ip_arg(line) {
                if a.v.is_multicast() {
                    r.mcast_dst = Some(a);
                } else {
                    cx.report(
                        Code::InvalidValue,
                        &line.args()[0],
                        format!("mcast_dst_ip {} is not a multicast address", a.v),
                    );
                }
            }
        }
        "unicast_peer" => unicast_peers(cx, line, r),
        "unicast_ttl" => {
            if let Some(v) = cx.int_arg(line, 0, 255) {
                r.unicast_ttl = Some(v as u8);
            }
        }
        "unicast_fault_no_peer" => {
            cx.flag(line);
            r.unicast_fault_no_peer = true;
        }
        "check_unicast_src" => {
            cx.flag(line);
            r.check_unicast_src = Some(true);
        }
        "track_src_ip" => {
            cx.flag(line);
            r.track_src_ip = true;
        }
        "lvs_sync_daemon_interface" => {
            cx.report(
                Code::Deprecated,
                line.keyword(),
                "lvs_sync_daemon_interface is deprecated: use 'lvs_sync_daemon IF inst NAME' in global_defs",
            );
            r.lvs_sync_daemon_interface = cx.string_arg(line);
        }
        "dont_track_primary" => {
            cx.flag(line);
            r.dont_track_primary = true;
        }
        "track_interface" => {
            track_block(cx, line, TrackKind::Interface, &mut r.tracking.interfaces)
        }
        "track_script" => track_block(cx, line, TrackKind::Script, &mut r.tracking.scripts),
        "track_file" => track_block(cx, line, TrackKind::File, &mut r.tracking.files),
        "track_process" => track_block(cx, line, TrackKind::Process, &mut r.tracking.processes),
        "virtual_ipaddress" => address_block(cx, line, &mut r.vips),
        "virtual_ipaddress_excluded" => address_block(cx, line, &mut r.excluded_vips),
        "no_virtual_ipaddress" => {
            cx.flag(line);
            r.no_virtual_ipaddress = true;
        }
        "virtual_routes" => {
            cx.at_most(line, 0);
            if let Some(lines) = cx.block(line) {
                r.routes.extend(
                    lines
                        .iter()
                        .filter_map(|l| super::route::route(cx, l, Owner::Instance)),
                );
            }
        }
        "virtual_rules" => {
            cx.at_most(line, 0);
            if let Some(lines) = cx.block(line) {
                r.rules.extend(
                    lines
                        .iter()
                        .filter_map(|l| super::rule::rule(cx, l, Owner::Instance)),
                );
            }
        }
        "accept" => {
            cx.flag(line);
            set(cx, &mut r.accept, true, kw);
        }
        "no_accept" => {
            cx.flag(line);
            set(cx, &mut r.accept, false, kw);
        }
        "promote_secondaries" => {
            cx.flag(line);
            r.promote_secondaries = true;
        }
        "strict_mode" => bool_at(cx, line, &mut r.strict),
        "use_vmac" => {
            cx.no_block(line);
            cx.at_most(line, 2);
            r.use_vmac = true;
            for a in line.args() {
                match mac(&a.text) {
                    Some(m) => r.vmac_mac = Some((m, a.span.clone())),
                    None if r.vmac_name.is_none() => {
                        if a.text.len() >= 16 {
                            cx.report(
                                Code::InvalidValue,
                                a,
                                format!("VMAC name '{}' is longer than 15 characters", a.text),
                            );
                        } else {
                            r.vmac_name = Some(a.text.clone());
                        }
                    }
                    None => cx.report(
                        Code::InvalidValue,
                        a,
                        format!("'{}' is not a MAC address", a.text),
                    ),
                }
            }
        }
        "vmac_xmit_base" => {
            cx.flag(line);
            r.vmac_xmit_base = Some(kw.span.clone());
        }
        "garp_master_delay" => r.garp.master_delay = cx.timer_arg(line, Duration::ZERO, MAX_TIMER),
        "garp_master_repeat" => {
            r.garp.master_repeat = cx.int_arg(line, 0, u32::MAX.into()).map(|v| v as u32)
        }
        "garp_lower_prio_delay" => {
            r.garp.lower_prio_delay = cx.timer_arg(line, Duration::ZERO, MAX_TIMER)
        }
        "garp_lower_prio_repeat" => {
            if let Some(v) = cx.int_arg(line, 0, u32::MAX.into()) {
                r.garp.lower_prio_repeat = Some(At::new(v as u32, kw));
            }
        }
        "garp_master_refresh" => {
            r.garp.master_refresh = cx.timer_arg(line, Duration::ZERO, MAX_TIMER)
        }
        "garp_master_refresh_repeat" => {
            r.garp.master_refresh_repeat = cx.int_arg(line, 0, u32::MAX.into()).map(|v| v as u32)
        }
        "garp_extra_if" => {
            // Read and checked; the periodic GARP on other interfaces is not sent.
            cx.not_implemented(line);
            r.garp.extra_if = Some(extra_if(cx, line))
        }
        "down_timer_adverts" => {
            if let Some(v) = cx.int_arg(line, 1, 100) {
                set(cx, &mut r.down_timer_adverts, v as u8, kw);
            }
        }
        "lower_prio_no_advert" => bool_at(cx, line, &mut r.lower_prio_no_advert),
        "higher_prio_send_advert" => bool_at(cx, line, &mut r.higher_prio_send_advert),
        "owner_ignore_adverts" => bool_at(cx, line, &mut r.owner_ignore_adverts),
        "skip_check_adv_addr" => r.skip_check_adv_addr = cx.bool_arg(line),
        "v3_checksum_as_v2" => r.v3_checksum_as_v2 = cx.bool_arg(line),
        "fast_handover" => bool_at(cx, line, &mut r.fast_handover),
        "notify_master" => r.notify.master = cx.command(line).map(Box::new),
        "notify_backup" => r.notify.backup = cx.command(line).map(Box::new),
        "notify_fault" => r.notify.fault = cx.command(line).map(Box::new),
        "notify_stop" => r.notify.stop = cx.command(line).map(Box::new),
        "notify" => r.notify.any = cx.command(line).map(Box::new),
        "notify_master_rx_lower_pri" => {
            r.notify.master_rx_lower_pri = cx.command(line).map(Box::new)
        }
        "notify_deleted" => {
            r.notify.deleted = true;
            if !line.args().is_empty() {
                r.notify.deleted_script = cx.command(line).map(Box::new);
            } else {
                cx.no_block(line);
            }
        }
        "notify_priority_changes" => r.notify.priority_changes = cx.bool_arg(line),
        k if NOT_IMPLEMENTED.contains(&k) => {
            cx.not_implemented(line);
        }
        _ => cx.unknown(line, "vrrp_instance"),
    }
}
