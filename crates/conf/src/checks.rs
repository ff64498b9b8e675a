//! Checks across blocks: VRID collisions, VIPs claimed twice, sync and track group members,
//! and `track_*` references resolved against the trackers defined.

use std::collections::{HashMap, HashSet};

use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{Config, Span, SyncGroup, TrackGroup, TrackRef, Tracking, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::groups::{RawSyncGroup, RawTrackGroup};
use crate::parse::trackers::{RawTrackRef, RawTracking};

/// Two instances that would answer each other's adverts: same VRID, interface and family,
/// and the same multicast group or overlapping unicast peers. The later one is dropped.
pub(crate) fn vrid_collisions(cx: &mut Cx<'_>, instances: &mut Vec<(VrrpInstance, RawTracking)>) {
    let mut keep = vec![true; instances.len()];
    // Index multicast instances by their socket; unicast ones are compared pairwise.
    let mut seen: HashMap<(Option<&str>, baton_wire::Family, u8, std::net::IpAddr), usize> =
        HashMap::new();
    let mut errors = Vec::new();
    for (j, (b, _)) in instances.iter().enumerate() {
        if b.unicast_peers.is_empty() {
            let key = (b.interface.as_deref(), b.family, b.vrid, b.mcast_group);
            if let Some(&i) = seen.get(&key) {
                errors.push((i, j));
                keep[j] = false;
            } else {
                seen.insert(key, j);
            }
            continue;
        }
        for (i, (a, _)) in instances[..j].iter().enumerate() {
            if keep[i]
                && !a.unicast_peers.is_empty()
                && a.vrid == b.vrid
                && a.family == b.family
                && a.interface == b.interface
                && a.unicast_peers
                    .iter()
                    .any(|p| b.unicast_peers.iter().any(|q| q.addr == p.addr))
            {
                errors.push((i, j));
                keep[j] = false;
                break;
            }
        }
    }
    for (i, j) in errors {
        let (a, b) = (&instances[i].0, &instances[j].0);
        let on = b
            .interface
            .as_deref()
            .map_or("without interface".to_string(), |i| format!("on {i}"));
        cx.diags.push(
            Diagnostic::new(
                Code::VridDuplicate,
                b.span.clone(),
                format!(
                    "vrrp_instance {} uses virtual_router_id {} {on} ({}), like {}; instance ignored",
                    b.name, b.vrid, b.family, a.name
                ),
            )
            .with_len(b.name.chars().count() as u32)
            .with_note(a.span.clone(), format!("{} is defined here", a.name)),
        );
    }
    let mut k = keep.into_iter();
    instances.retain(|_| k.next().unwrap_or(true));
}

/// The same VIP in two instances: both would add it.
pub(crate) fn vip_duplicates(cx: &mut Cx<'_>, instances: &[(VrrpInstance, RawTracking)]) {
    let mut owner: HashMap<std::net::IpAddr, (&str, &Span)> = HashMap::new();
    for (inst, _) in instances {
        for v in &inst.vips {
            match owner.get(&v.addr) {
                Some((other, span)) => cx.diags.push(
                    Diagnostic::new(
                        Code::VipDuplicate,
                        v.span.clone(),
                        format!(
                            "({}) {} is also a virtual address of {other}",
                            inst.name, v.addr
                        ),
                    )
                    .with_note((*span).clone(), format!("in {other}")),
                ),
                None => {
                    owner.insert(v.addr, (&inst.name, &v.span));
                }
            }
        }
    }
}

/// Members of a group: they must be instances, each in one group only.
fn members(
    cx: &mut Cx<'_>,
    kind: &str,
    group: &str,
    raw: Vec<crate::parse::cx::At<String>>,
    instances: &HashSet<&str>,
    taken: &mut HashMap<String, String>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut listed: HashSet<String> = HashSet::new();
    for m in raw {
        if !instances.contains(m.v.as_str()) {
            cx.diags.push(
                Diagnostic::new(
                    Code::SyncMemberInvalid,
                    m.span.clone(),
                    format!("{kind} {group}: '{}' is not a vrrp_instance; ignored", m.v),
                )
                .with_len(m.v.chars().count() as u32),
            );
            continue;
        }
        if listed.contains(&m.v) {
            cx.diags.push(
                Diagnostic::new(
                    Code::SyncMemberInvalid,
                    m.span.clone(),
                    format!("{kind} {group}: '{}' is listed twice; ignored", m.v),
                )
                .with_len(m.v.chars().count() as u32),
            );
            continue;
        }
        if let Some(other) = taken.get(&m.v) {
            cx.diags.push(
                Diagnostic::new(
                    Code::SyncMemberInvalid,
                    m.span.clone(),
                    format!(
                        "{kind} {group}: '{}' is already in {kind} {other}; an instance can be in only one",
                        m.v
                    ),
                )
                .with_len(m.v.chars().count() as u32),
            );
            continue;
        }
        taken.insert(m.v.clone(), group.to_string());
        listed.insert(m.v.clone());
        out.push(m.v);
    }
    out
}

/// The names of the instances, for looking members up by name.
fn names(instances: &[(VrrpInstance, RawTracking)]) -> HashSet<&str> {
    instances.iter().map(|(i, _)| &*i.name).collect()
}

pub(crate) fn sync_groups(
    cx: &mut Cx<'_>,
    raw: Vec<RawSyncGroup>,
    instances: &[(VrrpInstance, RawTracking)],
) -> Vec<(SyncGroup, RawTracking)> {
    let mut taken = HashMap::new();
    let mut out = Vec::new();
    let names = names(instances);
    for g in raw {
        let list = members(
            cx,
            "vrrp_sync_group",
            &g.name,
            g.members,
            &names,
            &mut taken,
        );
        if list.is_empty() {
            cx.diags.push(
                Diagnostic::new(
                    Code::SyncGroupEmpty,
                    g.span.clone(),
                    format!("vrrp_sync_group {} has no members (list them in group {{ … }}); group ignored", g.name),
                )
                .with_len(g.name_len),
            );
            continue;
        }
        out.push((
            SyncGroup {
                name: g.name,
                span: g.span,
                members: list,
                tracking: Tracking::default(),
                notify: g.notify,
                tracking_weight: g.tracking_weight,
            },
            g.tracking,
        ));
    }
    out
}

pub(crate) fn track_groups(
    cx: &mut Cx<'_>,
    raw: Vec<RawTrackGroup>,
    instances: &[(VrrpInstance, RawTracking)],
) -> Vec<TrackGroup> {
    let mut out = Vec::new();
    let names = names(instances);
    for g in raw {
        // An instance may be in several track groups.
        let mut taken = HashMap::new();
        let list = members(cx, "track_group", &g.name, g.members, &names, &mut taken);
        out.push(TrackGroup {
            name: g.name,
            members: list,
            span: g.span,
        });
    }
    out
}

/// Static addresses, routes and rules naming a track group that does not exist.
pub(crate) fn static_track_groups(cx: &mut Cx<'_>, c: &mut Config) {
    let known: Vec<String> = c.track_groups.iter().map(|g| g.name.clone()).collect();
    let check = |cx: &mut Cx<'_>, tg: &mut Option<String>, span: &Span| {
        if let Some(name) = tg
            && !known.contains(name)
        {
            cx.diags.push(Diagnostic::new(
                Code::TrackUndefined,
                span.clone(),
                format!("track_group {name} is not defined; ignored"),
            ));
            *tg = None;
        }
    };
    for a in &mut c.static_addresses {
        check(cx, &mut a.track_group, &a.span);
    }
    for r in &mut c.static_routes {
        check(cx, &mut r.track_group, &r.span);
    }
    for r in &mut c.static_rules {
        check(cx, &mut r.track_group, &r.span);
    }
}

/// What an instance or group is, for tracker rules and messages.
pub(crate) struct Tracker<'a> {
    pub who: &'a str,
    /// The address owner: weighted trackers are dropped.
    pub owner: bool,
    /// A sync group member without `sync_group_tracking_weight`: weights are ignored.
    pub sync_member_of: Option<&'a str>,
}

/// Defined trackers by name, with their own weight and direction.
pub(crate) struct Defined {
    pub scripts: HashMap<String, (i32, bool)>,
    pub files: HashMap<String, (i32, bool)>,
    pub processes: HashMap<String, (i32, bool)>,
}

impl Defined {
    pub fn of(c: &Config) -> Defined {
        Defined {
            scripts: c
                .scripts
                .iter()
                .map(|s| (s.name.clone(), (s.weight, s.reverse)))
                .collect(),
            files: c
                .track_files
                .iter()
                .map(|s| (s.name.clone(), (s.weight, s.reverse)))
                .collect(),
            processes: c
                .track_processes
                .iter()
                .map(|s| (s.name.clone(), (s.weight, s.reverse)))
                .collect(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Interface,
    Script,
    File,
    Process,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::Interface => "track_interface",
            Kind::Script => "track_script",
            Kind::File => "track_file",
            Kind::Process => "track_process",
        }
    }

    fn definition(self) -> &'static str {
        match self {
            Kind::Interface => "interface",
            Kind::Script => "vrrp_script",
            Kind::File => "track_file",
            Kind::Process => "vrrp_track_process",
        }
    }
}

/// Resolve `track_*` entries: undefined names are dropped; weights and directions default to
/// the tracker's; the owner's and sync members' weights follow keepalived's rules.
pub(crate) fn tracking(
    cx: &mut Cx<'_>,
    raw: RawTracking,
    defs: &Defined,
    t: &Tracker<'_>,
) -> Tracking {
    Tracking {
        interfaces: refs(cx, raw.interfaces, None, Kind::Interface, t),
        scripts: refs(cx, raw.scripts, Some(&defs.scripts), Kind::Script, t),
        files: refs(cx, raw.files, Some(&defs.files), Kind::File, t),
        processes: refs(cx, raw.processes, Some(&defs.processes), Kind::Process, t),
    }
}

fn refs(
    cx: &mut Cx<'_>,
    raw: Vec<RawTrackRef>,
    defs: Option<&HashMap<String, (i32, bool)>>,
    kind: Kind,
    t: &Tracker<'_>,
) -> Vec<TrackRef> {
    let mut out = Vec::new();
    for r in raw {
        let (weight, reverse) = match defs {
            None => (r.weight, r.reverse.unwrap_or(false)),
            Some(defs) => {
                let Some(&(w, rev)) = defs.get(&r.name) else {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::TrackUndefined,
                            r.span.clone(),
                            format!(
                                "({}) {} '{}': no {} of that name is defined; ignored",
                                t.who,
                                kind.keyword(),
                                r.name,
                                kind.definition()
                            ),
                        )
                        .with_len(r.len),
                    );
                    continue;
                };
                let reverse = r
                    .reverse
                    .unwrap_or(if r.weight.is_some() { false } else { rev });
                (Some(r.weight.unwrap_or(w)), reverse)
            }
        };
        let weighted = weight.is_some_and(|w| w != 0);
        let mut tref = TrackRef {
            name: r.name.clone(),
            weight,
            reverse,
            span: r.span.clone(),
        };
        if weighted && t.owner {
            cx.diags.push(
                Diagnostic::new(
                    Code::OwnerAdjusted,
                    r.span.clone(),
                    format!(
                        "({}) the address owner (priority 255) cannot change priority; weighted {} '{}' dropped",
                        t.who,
                        kind.keyword(),
                        r.name
                    ),
                )
                .with_len(r.len),
            );
            continue;
        }
        if weighted && let Some(group) = t.sync_member_of {
            let dropped = kind == Kind::Script;
            cx.diags.push(
                Diagnostic::new(
                    Code::SyncWeightIgnored,
                    r.span.clone(),
                    format!(
                        "({}) member of vrrp_sync_group {group}: weighted {} '{}' {} (set sync_group_tracking_weight on the group to allow weights)",
                        t.who,
                        kind.keyword(),
                        r.name,
                        if dropped { "dropped" } else { "made unweighted" }
                    ),
                )
                .with_len(r.len)
                .with_severity(Severity::Warning),
            );
            if dropped {
                continue;
            }
            tref.weight = Some(0);
        }
        out.push(tref);
    }
    out
}

/// The tracker names written in `track_*` blocks, before any reference is dropped.
#[derive(Debug, Default)]
pub(crate) struct Referenced {
    pub scripts: std::collections::BTreeSet<String>,
    pub files: std::collections::BTreeSet<String>,
    pub processes: std::collections::BTreeSet<String>,
}

impl Referenced {
    /// Track files named by FILE_CHECKs are in use too.
    pub fn add_file_checks(&mut self, vss: &[crate::parse::lvs::RawVirtualServer]) {
        for vs in vss {
            for rs in &vs.real_servers {
                for c in &rs.checkers {
                    if let crate::parse::lvs::checkers::RawKind::File {
                        track_file: Some(f),
                        ..
                    } = &c.kind
                    {
                        self.files.insert(f.v.clone());
                    }
                }
            }
        }
    }

    pub fn add(&mut self, t: &RawTracking) {
        self.scripts
            .extend(t.scripts.iter().map(|r| r.name.clone()));
        self.files.extend(t.files.iter().map(|r| r.name.clone()));
        self.processes
            .extend(t.processes.iter().map(|r| r.name.clone()));
    }
}

/// `track_file` and `vrrp_track_process` blocks nobody tracks: they do nothing.
pub(crate) fn unused_trackers(cx: &mut Cx<'_>, c: &Config, referenced: &Referenced) {
    for f in &c.track_files {
        if !referenced.files.contains(&f.name) {
            cx.diags.push(
                Diagnostic::new(
                    Code::Unused,
                    f.span.clone(),
                    format!(
                        "track_file {} is not tracked by any instance or group",
                        f.name
                    ),
                )
                .with_len(f.name.chars().count() as u32),
            );
        }
    }
    for p in &c.track_processes {
        if !referenced.processes.contains(&p.name) {
            cx.diags.push(
                Diagnostic::new(
                    Code::Unused,
                    p.span.clone(),
                    format!(
                        "vrrp_track_process {} is not tracked by any instance or group",
                        p.name
                    ),
                )
                .with_len(p.name.chars().count() as u32),
            );
        }
    }
}
