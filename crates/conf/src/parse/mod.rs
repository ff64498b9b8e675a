//! The recursive-descent parser: top-level blocks and their keywords, into a configuration as
//! written. Unknown keywords are reported and skipped, as keepalived does.

pub(crate) mod address;
pub(crate) mod cx;
pub(crate) mod global;
pub(crate) mod groups;
pub(crate) mod instance;
pub(crate) mod lvs;
pub(crate) mod route;
pub(crate) mod rule;
pub(crate) mod trackers;

use std::collections::HashMap;

use cx::Cx;
use global::RawGlobal;
use groups::{RawSyncGroup, RawTrackGroup};
use instance::RawInstance;

use crate::diag::{Code, Diagnostic};
use crate::model::{
    GarpGroup, InterfaceDelay, LinkbeatInterface, Span, TrackFile, TrackProcess, VirtualAddress,
    VirtualRoute, VirtualRule, VrrpScript,
};
use crate::syntax::Stmt;

/// A configuration as written.
#[derive(Debug, Default)]
pub(crate) struct RawConfig {
    pub global: RawGlobal,
    pub scripts: Vec<VrrpScript>,
    pub track_processes: Vec<TrackProcess>,
    pub track_files: Vec<TrackFile>,
    pub sync_groups: Vec<RawSyncGroup>,
    pub instances: Vec<RawInstance>,
    pub static_addresses: Vec<VirtualAddress>,
    pub static_routes: Vec<VirtualRoute>,
    pub static_rules: Vec<VirtualRule>,
    pub garp_groups: Vec<GarpGroup>,
    pub track_groups: Vec<RawTrackGroup>,
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
    pub interface_delays: Vec<InterfaceDelay>,
    pub virtual_server_groups: Vec<crate::lvs::VirtualServerGroup>,
    pub virtual_servers: Vec<lvs::RawVirtualServer>,
    pub ssl: Option<crate::lvs::SslContext>,
}

/// Top-level blocks of keepalived that are not VRRP: skipped, said once.
const NOT_IMPLEMENTED: &[&str] = &[
    "bfd_instance",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "linkbeat_use_polling",
    "child_wait_time",
];

/// Remembers names of one kind of block to refuse duplicates, as keepalived does ("already
/// defined"; the later one is skipped).
#[derive(Default)]
struct Names(HashMap<String, Span>);

impl Names {
    fn fresh(&mut self, cx: &mut Cx<'_>, kind: &str, name: &str, span: &Span, len: u32) -> bool {
        if let Some(first) = self.0.get(name) {
            cx.diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    span.clone(),
                    format!("{kind} {name} is already defined; this one is ignored"),
                )
                .with_len(len)
                .with_note(first.clone(), "first defined here"),
            );
            return false;
        }
        self.0.insert(name.to_string(), span.clone());
        true
    }
}

pub(crate) fn parse(cx: &mut Cx<'_>, stmts: &[Stmt]) -> RawConfig {
    let mut c = RawConfig::default();
    let mut scripts = Names::default();
    let mut processes = Names::default();
    let mut files = Names::default();
    let mut groups = Names::default();
    let mut instances = Names::default();
    let mut track_groups = Names::default();
    let mut vs_groups = Names::default();
    for stmt in stmts {
        let kw = stmt.keyword();
        match kw.text.as_str() {
            "global_defs" => global::global_defs(cx, stmt, &mut c.global),
            "net_namespace" => global::net_namespace(cx, stmt, &mut c.global.defs),
            "vrrp_script" => {
                if let Some(s) = trackers::vrrp_script(cx, stmt)
                    && scripts.fresh(cx, "vrrp_script", &s.name, &s.span, s.name.len() as u32)
                {
                    c.scripts.push(s);
                }
            }
            "vrrp_track_process" => {
                if let Some(p) = trackers::track_process(cx, stmt)
                    && processes.fresh(
                        cx,
                        "vrrp_track_process",
                        &p.name,
                        &p.span,
                        p.name.len() as u32,
                    )
                {
                    c.track_processes.push(p);
                }
            }
            "track_file" | "vrrp_track_file" => {
                if kw.text == "vrrp_track_file" {
                    cx.report(
                        Code::Deprecated,
                        kw,
                        "vrrp_track_file is a deprecated name of track_file",
                    );
                }
                if let Some(f) = trackers::track_file(cx, stmt)
                    && files.fresh(cx, "track_file", &f.name, &f.span, f.name.len() as u32)
                {
                    c.track_files.push(f);
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = groups::sync_group(cx, stmt)
                    && groups.fresh(cx, "vrrp_sync_group", &g.name, &g.span, g.name_len)
                {
                    c.sync_groups.push(g);
                }
            }
            "vrrp_instance" => {
                if let Some(i) = instance::vrrp_instance(cx, stmt)
                    && instances.fresh(cx, "vrrp_instance", &i.name, &i.span, i.name_len)
                {
                    c.instances.push(i);
                }
            }
            "static_ipaddress" => {
                cx.at_most(stmt, 0);
                if let Some(lines) = cx.block(stmt) {
                    c.static_addresses.extend(
                        lines
                            .iter()
                            .filter_map(|l| address::address(cx, l, address::Owner::Static)),
                    );
                }
            }
            "static_routes" => {
                cx.at_most(stmt, 0);
                if let Some(lines) = cx.block(stmt) {
                    c.static_routes.extend(
                        lines
                            .iter()
                            .filter_map(|l| route::route(cx, l, address::Owner::Static)),
                    );
                }
            }
            "static_rules" => {
                cx.at_most(stmt, 0);
                if let Some(lines) = cx.block(stmt) {
                    c.static_rules.extend(
                        lines
                            .iter()
                            .filter_map(|l| rule::rule(cx, l, address::Owner::Static)),
                    );
                }
            }
            "garp_group" => c.garp_groups.extend(groups::garp_group(cx, stmt)),
            "track_group" => {
                // Read and checked, but a static address, route or rule that disappears
                // does not yet put the group's instances in FAULT.
                cx.not_implemented(stmt);
                if let Some(g) = groups::track_group(cx, stmt)
                    && track_groups.fresh(cx, "track_group", &g.name, &g.span, g.name.len() as u32)
                {
                    c.track_groups.push(g);
                }
            }
            // Read and checked, not acted on: baton follows link state through netlink
            // (no MII/ethtool polling) and does not delay link changes.
            "linkbeat_interfaces" => {
                cx.not_implemented(stmt);
                groups::linkbeat_interfaces(cx, stmt, &mut c.linkbeat_interfaces)
            }
            "interface_up_down_delays" => {
                cx.not_implemented(stmt);
                groups::interface_delays(cx, stmt, &mut c.interface_delays)
            }
            "virtual_server" => c.virtual_servers.extend(lvs::virtual_server(cx, stmt)),
            "virtual_server_group" => {
                if let Some(g) = lvs::virtual_server_group(cx, stmt)
                    && vs_groups.fresh(
                        cx,
                        "virtual_server_group",
                        &g.name,
                        &g.span,
                        g.name.len() as u32,
                    )
                {
                    c.virtual_server_groups.push(g);
                }
            }
            "SSL" => {
                if let Some(s) = lvs::ssl(cx, stmt) {
                    if let Some(prev) = &c.ssl {
                        cx.diags.push(
                            Diagnostic::new(
                                Code::Duplicate,
                                s.span.clone(),
                                "SSL is already defined; this one replaces it",
                            )
                            .with_len(3)
                            .with_note(prev.span.clone(), "first defined here"),
                        );
                    }
                    c.ssl = Some(s);
                }
            }
            k if NOT_IMPLEMENTED.contains(&k) => cx.not_implemented(stmt),
            _ => cx.unknown(stmt, "the top level"),
        }
    }
    c
}
