//! What a loaded configuration always satisfies, whatever the input: the promises consumers
//! rely on. Checked by the fuzz target, the property tests and debug builds.

use std::time::Duration;

use baton_wire::{Family, Version};

use crate::lvs::{CheckKind, Forwarding, VirtualServerAddress};
use crate::model::{Config, InitialState, Tracking};

fn tracked_names(t: &Tracking) -> impl Iterator<Item = (&'static str, &str)> {
    t.scripts
        .iter()
        .map(|r| ("script", r.name.as_str()))
        .chain(t.files.iter().map(|r| ("file", r.name.as_str())))
        .chain(t.processes.iter().map(|r| ("process", r.name.as_str())))
}

pub(crate) fn check(c: &Config) -> Result<(), String> {
    let defined = |kind: &str, name: &str| match kind {
        "script" => c.script(name).is_some(),
        "file" => c.track_file(name).is_some(),
        _ => c.track_process(name).is_some(),
    };
    for i in &c.instances {
        let n = &i.name;
        if i.vrid == 0 || i.priority == 0 {
            return Err(format!("{n}: vrid {} priority {}", i.vrid, i.priority));
        }
        if i.advert_int < Duration::from_millis(10) {
            return Err(format!("{n}: advert_int {:?}", i.advert_int));
        }
        match i.version {
            Version::V2 => {
                if i.family != Family::Ipv4
                    || i.advert_int.subsec_nanos() != 0
                    || i.advert_int > Duration::from_secs(255)
                {
                    return Err(format!(
                        "{n}: bad v2 instance {:?} {:?}",
                        i.family, i.advert_int
                    ));
                }
            }
            Version::V3 => {
                if i.auth.is_some()
                    || i.advert_int > Duration::from_millis(40_950)
                    || i.advert_int.as_micros() % 10_000 != 0
                {
                    return Err(format!("{n}: bad v3 instance {:?}", i.advert_int));
                }
            }
        }
        if let Some(v) = i.vips.iter().find(|v| Family::of(&v.addr) != i.family) {
            return Err(format!("{n}: VIP {} of the wrong family", v.addr));
        }
        if let Some(p) = i
            .unicast_peers
            .iter()
            .find(|p| Family::of(&p.addr) != i.family)
        {
            return Err(format!("{n}: peer {} of the wrong family", p.addr));
        }
        if i.interface.is_none() && i.unicast_peers.is_empty() {
            return Err(format!("{n}: neither interface nor unicast peers"));
        }
        if !(1..=100).contains(&i.down_timer_adverts) {
            return Err(format!("{n}: down_timer_adverts {}", i.down_timer_adverts));
        }
        if i.is_owner() {
            let weighted = [
                &i.tracking.scripts,
                &i.tracking.files,
                &i.tracking.processes,
                &i.tracking.interfaces,
            ]
            .iter()
            .any(|refs| refs.iter().any(|r| r.weight.is_some_and(|w| w != 0)));
            if i.nopreempt || !i.preempt_delay.is_zero() || weighted {
                return Err(format!(
                    "{n}: owner with nopreempt, preempt_delay or weights"
                ));
            }
        }
        if i.state == InitialState::Master
            && !i.is_owner()
            && (i.nopreempt || !i.preempt_delay.is_zero())
        {
            return Err(format!("{n}: nopreempt/preempt_delay with state MASTER"));
        }
        if i.is_owner() && !i.accept {
            return Err(format!("{n}: owner without accept"));
        }
        if i.nopreempt && !i.preempt_delay.is_zero() {
            return Err(format!("{n}: preempt_delay with nopreempt"));
        }
        if i.notify.priority_changes.is_none() {
            return Err(format!("{n}: notify_priority_changes not resolved"));
        }
        if i.strict
            && (i.fast_handover
                || !i.owner_ignore_adverts
                || i.garp.lower_prio_repeat != 0
                || i.vmac_xmit_base
                || i.down_timer_adverts != 3
                || !i.unicast_peers.is_empty()
                || i.auth.is_some()
                || !i.preempt_delay.is_zero()
                || !i.lower_prio_no_advert
                || i.higher_prio_send_advert)
        {
            return Err(format!("{n}: strict mode rule broken"));
        }
        if let Some((kind, name)) = tracked_names(&i.tracking).find(|(k, nm)| !defined(k, nm)) {
            return Err(format!("{n}: tracks undefined {kind} {name}"));
        }
        if i.use_vmac
            && (i.vmacs.first().map(|v| &v.name) != i.vmac_name.as_ref()
                || (!i.unicast_peers.is_empty() && !i.vmac_xmit_base))
        {
            return Err(format!("{n}: use_vmac not resolved"));
        }
        if let Some(h) = &i.auth_hmac
            && (i.auth.is_some()
                || h.key(h.active_key).is_none()
                || h.keys.iter().any(|k| !(32..=64).contains(&k.secret.len()))
                || !(1..=300).contains(&h.time_window)
                || (i.strict && h.mode != crate::model::HmacMode::Enforce))
        {
            return Err(format!("{n}: auth_hmac rule broken"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for g in &c.sync_groups {
        if g.members.is_empty() {
            return Err(format!("sync group {} is empty", g.name));
        }
        for m in &g.members {
            if c.instance(m).is_none() || !seen.insert(m.as_str()) {
                return Err(format!("sync group {}: bad member {m}", g.name));
            }
        }
        if let Some((kind, name)) = tracked_names(&g.tracking).find(|(k, nm)| !defined(k, nm)) {
            return Err(format!(
                "sync group {}: tracks undefined {kind} {name}",
                g.name
            ));
        }
    }
    if c.global.strict && c.global.fast_handover {
        return Err("vrrp_strict with fast_handover".to_string());
    }
    lvs(c)
}

/// What consumers of the LVS half rely on: identifiers are positions, every service has
/// real servers, quorum can be reached, families agree, checkers are complete.
fn lvs(c: &Config) -> Result<(), String> {
    let mut keys = std::collections::HashSet::new();
    for (v, vs) in c.lvs.virtual_servers.iter().enumerate() {
        let n = vs.to_string();
        if vs.id.0 as usize != v || !keys.insert(vs.key()) {
            return Err(format!("{n}: id {} at {v} or a duplicate key", vs.id));
        }
        if vs.real_servers.is_empty() {
            return Err(format!("{n}: no real servers"));
        }
        if u64::from(vs.quorum) > vs.total_weight()
            || (vs.hysteresis > 0 && vs.hysteresis >= vs.quorum)
        {
            return Err(format!(
                "{n}: quorum {} hysteresis {}",
                vs.quorum, vs.hysteresis
            ));
        }
        if let VirtualServerAddress::Group { name, .. } = &vs.address
            && c.lvs.group(name).is_none()
        {
            return Err(format!("{n}: undefined group"));
        }
        if let Some(s) = &vs.sorry_server
            && let Some(d) = s.duplicates
            && c.lvs.real_server(d).map(|r| r.address) != Some(s.address)
        {
            return Err(format!("{n}: sorry server duplicates {d} wrongly"));
        }
        for (r, rs) in vs.real_servers.iter().enumerate() {
            if rs.id.vs != vs.id || rs.id.index as usize != r {
                return Err(format!("{n}: real server id {}", rs.id));
            }
            let tunnelled = matches!(rs.forwarding, Forwarding::Tun { .. });
            if !tunnelled && Family::of(&rs.address.ip()) != vs.family {
                return Err(format!(
                    "{n}: real server {} of the wrong family",
                    rs.address
                ));
            }
            for (k, ch) in rs.checkers.iter().enumerate() {
                if ch.id.rs != rs.id || ch.id.index as usize != k {
                    return Err(format!("{n}: checker id {}", ch.id));
                }
                let complete = match &ch.kind {
                    CheckKind::Http(h) => {
                        !h.urls.is_empty() && h.urls.iter().all(|u| !u.status_codes.is_empty())
                    }
                    CheckKind::Misc(m) => !m.command.argv.is_empty(),
                    CheckKind::File(f) => c.track_file(&f.track_file).is_some(),
                    _ => true,
                };
                let connects = !matches!(ch.kind, CheckKind::Misc(_) | CheckKind::File(_));
                if !complete || connects != ch.connection.is_some() {
                    return Err(format!("{n}: incomplete {} {}", ch.kind.keyword(), ch.id));
                }
            }
        }
    }
    Ok(())
}
