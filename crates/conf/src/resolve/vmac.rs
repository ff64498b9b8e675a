//! `use_vmac` as it will run, across instances: the VMAC interfaces' names (keepalived's
//! `create_vmac_name`: `vrrp.<VRID>`, then `vrrp6.<VRID>` for IPv6, then `vrrp1.<VRID>`…
//! until a name no other VMAC uses), their MACs (00:00:5e:00:01:VRID, IPv6 …:02:VRID), and
//! which addresses go on them: the instance's VIPs and eVIPs of its family that name no
//! other interface, and every address marked `use_vmac`, on a VMAC of its own `dev`.

use std::collections::BTreeSet;

use baton_wire::Family;

use super::{diag, warn};
use crate::diag::Code;
use crate::model::{GlobalDefs, VirtualAddress, Vmac, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::trackers::RawTracking;

/// Linux's longest interface name.
const IFNAMSIZ: usize = 16;

/// keepalived's `create_vmac_name`: the first free name of `prefix.vrid`, then (IPv6)
/// `prefix6.vrid`, then `prefix1.vrid`, `prefix2.vrid`…, shortening the prefix to fit.
fn vmac_name(prefix: &str, vrid: u8, family: Family, used: &BTreeSet<String>) -> String {
    let fit = |num: Option<u32>| {
        let tail = match num {
            Some(n) => format!("{n}.{vrid}"),
            None => format!(".{vrid}"),
        };
        let room = (IFNAMSIZ - 1).saturating_sub(tail.len());
        let head: String = prefix.chars().take(room).collect();
        format!("{head}{tail}")
    };
    let mut name = fit(None);
    let mut num = 0u32;
    while used.contains(&name) {
        num = match (family, num) {
            (Family::Ipv6, 0) => 6,
            (Family::Ipv6, 6) => 1,
            (Family::Ipv6, n) if n + 1 == 6 => 7,
            (_, n) => n + 1,
        };
        name = fit(Some(num));
    }
    name
}

/// Resolve every instance's VMACs, in configuration order (so the first instance gets
/// `vrrp.<VRID>`, as in keepalived).
pub(crate) fn resolve(
    cx: &mut Cx<'_>,
    instances: &mut [(VrrpInstance, RawTracking)],
    g: &GlobalDefs,
) {
    let mut used: BTreeSet<String> = instances
        .iter()
        .filter(|(i, _)| i.use_vmac)
        .filter_map(|(i, _)| i.vmac_name.clone())
        .collect();
    for (inst, _) in instances.iter_mut() {
        instance(cx, inst, g, &mut used);
    }
}

fn instance(cx: &mut Cx<'_>, inst: &mut VrrpInstance, g: &GlobalDefs, used: &mut BTreeSet<String>) {
    let name = inst.name.clone();
    if inst.use_vmac && inst.interface.is_none() {
        diag(
            cx,
            Code::InvalidValue,
            &inst.span,
            format!("({name}) use_vmac needs the instance's interface; no VMAC used"),
        );
        inst.use_vmac = false;
    }
    if inst.use_vmac && !inst.unicast_peers.is_empty() && !inst.vmac_xmit_base {
        warn(
            cx,
            Code::InvalidValue,
            &inst.span,
            format!(
                "({name}) use_vmac with unicast peers needs vmac_xmit_base (keepalived); adverts go out on the base interface"
            ),
        );
        inst.vmac_xmit_base = true;
    }
    let Some(base) = inst.interface.clone() else {
        return;
    };
    if inst.use_vmac {
        let vname = match inst.vmac_name.clone() {
            Some(n) => n,
            None => {
                let n = vmac_name(&g.vmac_prefix, inst.vrid, inst.family, used);
                used.insert(n.clone());
                n
            }
        };
        let mac = inst
            .vmac_mac
            .unwrap_or_else(|| Vmac::default_mac(inst.vrid, inst.family));
        inst.vmac_name = Some(vname.clone());
        inst.vmac_mac = Some(mac);
        inst.vmacs.push(Vmac {
            name: vname.clone(),
            base: base.clone(),
            mac,
            family: inst.family,
        });
        let family = inst.family;
        for a in inst.vips.iter_mut().chain(inst.excluded_vips.iter_mut()) {
            let on_base = a.dev.as_deref().is_none_or(|d| d == base);
            if on_base && Family::of(&a.addr) == family {
                if a.use_vmac {
                    diag(
                        cx,
                        Code::InvalidValue,
                        &a.span,
                        format!(
                            "({name}) use_vmac given for {} and for the instance; it goes on {vname}",
                            a.addr
                        ),
                    );
                    a.use_vmac = false;
                }
                a.dev = Some(vname.clone());
            }
        }
    }
    // Addresses with a VMAC of their own, on their own interface.
    let explicit_mac = inst.use_vmac.then_some(inst.vmac_mac).flatten();
    let (vrid, prefix) = (inst.vrid, g.vmac_prefix.clone());
    let mut extra: Vec<Vmac> = Vec::new();
    let place = |a: &mut VirtualAddress, extra: &mut Vec<Vmac>, used: &mut BTreeSet<String>| {
        if !a.use_vmac {
            return;
        }
        let family = Family::of(&a.addr);
        let on = a.dev.clone().unwrap_or_else(|| base.clone());
        let v = match extra.iter().find(|v| v.base == on && v.family == family) {
            Some(v) => v.name.clone(),
            None => {
                let n = vmac_name(&prefix, vrid, family, used);
                used.insert(n.clone());
                extra.push(Vmac {
                    name: n.clone(),
                    base: on,
                    mac: explicit_mac.unwrap_or_else(|| Vmac::default_mac(vrid, family)),
                    family,
                });
                n
            }
        };
        a.dev = Some(v);
    };
    for a in inst.vips.iter_mut().chain(inst.excluded_vips.iter_mut()) {
        place(a, &mut extra, used);
    }
    inst.vmacs.extend(extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_keepalived() {
        let mut used = BTreeSet::new();
        assert_eq!(vmac_name("vrrp", 51, Family::Ipv4, &used), "vrrp.51");
        used.insert("vrrp.51".to_string());
        assert_eq!(vmac_name("vrrp", 51, Family::Ipv6, &used), "vrrp6.51");
        assert_eq!(vmac_name("vrrp", 51, Family::Ipv4, &used), "vrrp1.51");
        used.insert("vrrp6.51".to_string());
        assert_eq!(vmac_name("vrrp", 51, Family::Ipv6, &used), "vrrp1.51");
        assert_eq!(
            vmac_name("averyverylongprefix", 255, Family::Ipv4, &BTreeSet::new()),
            "averyverylo.255"
        );
    }
}
