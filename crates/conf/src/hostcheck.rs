//! Checks that need the host: scripts that do not exist, are not executable or are insecure,
//! users that do not exist, interfaces that are absent. keepalived disables a script it
//! cannot run; so do we, and say where it is tracked.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic};
use crate::host::{Host, ScriptLookup};
use crate::model::{Command, Config, GlobalDefs, Notify, Span};
use crate::parse::RawConfig;
use crate::parse::cx::Cx;

/// keepalived runs scripts as this user when it exists and no `script_user` is set.
const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

struct Checker<'h> {
    host: &'h dyn Host,
    /// Looked up at the first command that needs it: a configuration without scripts
    /// never asks the user database (whose NSS modules a daemon then keeps mapped).
    default_user: std::cell::OnceCell<bool>,
}

impl Checker<'_> {
    fn default_user_exists(&self) -> bool {
        *self
            .default_user
            .get_or_init(|| self.host.user_exists(DEFAULT_SCRIPT_USER))
    }
}

/// What checking a command found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// It cannot run: disabled (reported).
    Disabled,
    /// A script file that runs (counts for keepalived's "SECURITY VIOLATION" warning).
    Script,
    /// A "system" command (`</dev/tcp/…`), run through the shell: no file, and not a
    /// script for `enable_script_security`, as in keepalived.
    System,
}

impl Checker<'_> {
    /// Whether `cmd` can run; reports why not. `what` names it ("vrrp_script chk"), `notes`
    /// say who uses it.
    fn command(
        &self,
        cx: &mut Cx<'_>,
        g: &GlobalDefs,
        cmd: &Command,
        what: &str,
        users: &str,
        notes: &[(Span, String)],
    ) -> Verdict {
        let with_notes = |mut d: Diagnostic| {
            for (span, msg) in notes {
                d = d.with_note(span.clone(), msg.clone());
            }
            d
        };
        let Some(program) = cmd.argv.first().filter(|p| !p.is_empty()) else {
            cx.diags.push(with_notes(Diagnostic::new(
                Code::InvalidValue,
                cmd.span.clone(),
                format!("{what}: the command is empty; disabled{users}"),
            )));
            return Verdict::Disabled;
        };
        let run_as = cmd.run_as.as_ref().or(g.script_user.as_ref());
        if let Some(ra) = run_as {
            if !self.host.user_exists(&ra.user) {
                cx.diags.push(with_notes(Diagnostic::new(
                    Code::ScriptUserUnknown,
                    cmd.span.clone(),
                    format!("{what}: user '{}' does not exist; disabled{users}", ra.user),
                )));
                return Verdict::Disabled;
            }
            if let Some(group) = &ra.group
                && !self.host.group_exists(group)
            {
                cx.diags.push(with_notes(Diagnostic::new(
                    Code::ScriptUserUnknown,
                    cmd.span.clone(),
                    format!("{what}: group '{group}' does not exist; disabled{users}"),
                )));
                return Verdict::Disabled;
            }
        }
        // keepalived looks up its default user as it reads each command without a user of
        // its own; with enable_script_security a default user that does not exist removes
        // the command ("Unable to set default user for vrrp script"), it never runs as root.
        if run_as.is_none() && g.enable_script_security && !self.default_user_exists() {
            cx.diags.push(with_notes(Diagnostic::new(
                Code::ScriptUserUnknown,
                cmd.span.clone(),
                format!(
                    "{what}: enable_script_security is set but the default script user '{DEFAULT_SCRIPT_USER}' does not exist and no script_user is given; disabled{users} (create the user or set script_user)"
                ),
            )));
            return Verdict::Disabled;
        }
        if cmd.runs_through_shell() {
            let target = cmd.shell_redirection_target().unwrap_or_default();
            if (target.starts_with("/dev/tcp/") || target.starts_with("/dev/udp/"))
                && self.host.shell_has_dev_tcp() == Some(false)
            {
                cx.diags.push(with_notes(Diagnostic::new(
                    Code::ShellScript,
                    cmd.span.clone(),
                    format!(
                        "{what}: '{program}' runs through /bin/sh, which on this host is not bash and has no /dev/tcp: it always fails (under keepalived too); write \"bash -c '{program}'\" or \"nc -z HOST PORT\""
                    ),
                )));
            }
            return Verdict::System;
        }
        let path = match self.host.find_script(program) {
            ScriptLookup::Found(p) => p,
            ScriptLookup::NotFound => {
                cx.diags.push(with_notes(Diagnostic::new(
                    Code::ScriptNotFound,
                    cmd.span.clone(),
                    format!("{what}: script '{program}' does not exist; disabled{users}"),
                )));
                return Verdict::Disabled;
            }
            ScriptLookup::NotExecutable(p) => {
                cx.diags.push(with_notes(Diagnostic::new(
                    Code::ScriptNotExecutable,
                    cmd.span.clone(),
                    format!(
                        "{what}: script '{}' is not executable (chmod +x it); disabled{users}",
                        p.display()
                    ),
                )));
                return Verdict::Disabled;
            }
        };
        let as_root = || run_as.map_or_else(|| !self.default_user_exists(), |ra| ra.user == "root");
        if g.enable_script_security
            && as_root()
            && let Some((bad, reason)) = self.host.insecure_component(&path)
        {
            cx.diags.push(with_notes(Diagnostic::new(
                Code::ScriptInsecure,
                cmd.span.clone(),
                format!(
                    "{what}: script '{}' would run as root but {} can be changed by other users ({reason}); disabled{users}",
                    path.display(),
                    if bad == path { "it".to_string() } else { bad.display().to_string() }
                ),
            )));
            return Verdict::Disabled;
        }
        Verdict::Script
    }
}

fn tracked_by(users: &[(String, Span)]) -> String {
    if users.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = users.iter().map(|(n, _)| n.as_str()).collect();
    format!(" (tracked by {})", names.join(", "))
}

/// Keep the first of two places in the same file (the first file otherwise).
fn earliest(slot: &mut Option<Span>, span: &Span) {
    match slot {
        Some(s) if s.file != span.file || (s.line, s.col) <= (span.line, span.col) => {}
        _ => *slot = Some(span.clone()),
    }
}

/// Check every script that will run; drop those that cannot, and their references.
pub(crate) fn scripts(
    cx: &mut Cx<'_>,
    c: &mut Config,
    host: &dyn Host,
    referenced: &std::collections::BTreeSet<String>,
) {
    let checker = Checker {
        host,
        default_user: std::cell::OnceCell::new(),
    };
    // Who tracks each vrrp_script, in configuration order.
    let mut users: BTreeMap<String, Vec<(String, Span)>> = BTreeMap::new();
    for i in &c.instances {
        for r in &i.tracking.scripts {
            users
                .entry(r.name.clone())
                .or_default()
                .push((format!("vrrp_instance {}", i.name), r.span.clone()));
        }
    }
    for g in &c.sync_groups {
        for r in &g.tracking.scripts {
            users
                .entry(r.name.clone())
                .or_default()
                .push((format!("vrrp_sync_group {}", g.name), r.span.clone()));
        }
    }
    let mut disabled = BTreeSet::new();
    let mut any_script = false;
    let mut first_script: Option<Span> = None;
    for s in &c.scripts {
        let Some(u) = users.get(&s.name) else {
            // Tracked, but every reference was dropped (and reported): it will not run.
            if referenced.contains(&s.name) {
                continue;
            }
            cx.diags.push(
                Diagnostic::new(
                    Code::Unused,
                    s.span.clone(),
                    format!(
                        "vrrp_script {} is not tracked by any instance or group; it will not run",
                        s.name
                    ),
                )
                .with_len(s.name.chars().count() as u32),
            );
            continue;
        };
        let notes: Vec<(Span, String)> = u
            .iter()
            .map(|(who, span)| (span.clone(), format!("tracked by {who} here")))
            .collect();
        let what = format!("vrrp_script {}", s.name);
        match checker.command(cx, &c.global, &s.command, &what, &tracked_by(u), &notes) {
            Verdict::Script => {
                any_script = true;
                earliest(&mut first_script, &s.command.span);
            }
            Verdict::System => {}
            Verdict::Disabled => {
                disabled.insert(s.name.clone());
            }
        }
    }
    if !disabled.is_empty() {
        c.scripts.retain(|s| !disabled.contains(&s.name));
        for i in &mut c.instances {
            if i.tracking
                .scripts
                .iter()
                .any(|r| disabled.contains(&r.name))
            {
                std::sync::Arc::make_mut(&mut i.tracking)
                    .scripts
                    .retain(|r| !disabled.contains(&r.name));
            }
        }
        for g in &mut c.sync_groups {
            g.tracking.scripts.retain(|r| !disabled.contains(&r.name));
        }
    }

    // Notify commands.
    let g = c.global.clone();
    let check_notify =
        |cx: &mut Cx<'_>, n: &mut Notify, who: &str, any: &mut bool, first: &mut Option<Span>| {
            let slots: [(&mut Option<Box<Command>>, &str); 7] = [
                (&mut n.master, "notify_master"),
                (&mut n.backup, "notify_backup"),
                (&mut n.fault, "notify_fault"),
                (&mut n.stop, "notify_stop"),
                (&mut n.any, "notify"),
                (&mut n.master_rx_lower_pri, "notify_master_rx_lower_pri"),
                (&mut n.deleted_script, "notify_deleted"),
            ];
            for (slot, kw) in slots {
                let Some(cmd) = slot.as_ref() else { continue };
                match checker.command(cx, &g, cmd, &format!("({who}) {kw}"), "", &[]) {
                    Verdict::Script => {
                        *any = true;
                        earliest(first, &cmd.span);
                    }
                    Verdict::System => {}
                    Verdict::Disabled => *slot = None,
                }
            }
        };
    for i in &mut c.instances {
        let who = i.name.clone();
        // Checked on a copy: the commands are shared by the instances that set the same,
        // and only a changed set (a command disabled) is this instance's own.
        let mut notify = (*i.notify).clone();
        check_notify(cx, &mut notify, &who, &mut any_script, &mut first_script);
        if notify != *i.notify {
            i.notify = std::sync::Arc::new(notify);
        }
    }
    for grp in &mut c.sync_groups {
        let who = grp.name.clone();
        check_notify(
            cx,
            &mut grp.notify,
            &who,
            &mut any_script,
            &mut first_script,
        );
    }
    for (fifo, kw) in [
        (&mut c.global.notify_fifo, "notify_fifo_script"),
        (&mut c.global.vrrp_notify_fifo, "vrrp_notify_fifo_script"),
    ] {
        let Some(f) = fifo else { continue };
        let Some(cmd) = &f.script else { continue };
        match checker.command(cx, &g, cmd, kw, "", &[]) {
            Verdict::Script => {
                any_script = true;
                earliest(&mut first_script, &cmd.span);
            }
            Verdict::System => {}
            Verdict::Disabled => f.script = None,
        }
    }

    lvs_scripts(cx, c, &checker, &g, &mut any_script, &mut first_script);

    if any_script
        && !g.enable_script_security
        && let Some(span) = first_script
    {
        cx.diags.push(Diagnostic::new(
            Code::ScriptSecurity,
            span,
            "scripts are configured but enable_script_security is not set in global_defs (keepalived -t exits 6 for this)",
        ));
    }
}

/// The scripts of the LVS half: quorum_up/quorum_down, notify_up/notify_down, MISC_CHECK
/// programs and the lvs_notify_fifo script, under the same rule as every other script. A
/// MISC_CHECK that cannot run is removed, as keepalived does.
fn lvs_scripts(
    cx: &mut Cx<'_>,
    c: &mut Config,
    checker: &Checker<'_>,
    g: &GlobalDefs,
    any: &mut bool,
    first: &mut Option<Span>,
) {
    let mut check = |cx: &mut Cx<'_>, slot: &mut Option<Command>, what: String| {
        let Some(cmd) = slot.as_ref() else { return };
        match checker.command(cx, g, cmd, &what, "", &[]) {
            Verdict::Script => {
                *any = true;
                earliest(first, &cmd.span);
            }
            Verdict::System => {}
            Verdict::Disabled => *slot = None,
        }
    };
    let mut removed = false;
    for vs in &mut c.lvs.virtual_servers {
        let name = vs.to_string();
        check(cx, &mut vs.quorum_up, format!("(VS {name}) quorum_up"));
        check(cx, &mut vs.quorum_down, format!("(VS {name}) quorum_down"));
        let protocol = vs.protocol;
        for rs in &mut vs.real_servers {
            let rs_name = format!(
                "(RS {} of VS {name})",
                crate::lvs::service_name(&rs.address, protocol)
            );
            check(cx, &mut rs.notify_up, format!("{rs_name} notify_up"));
            check(cx, &mut rs.notify_down, format!("{rs_name} notify_down"));
            let before = rs.checkers.len();
            rs.checkers.retain(|ch| {
                let crate::lvs::CheckKind::Misc(m) = &ch.kind else {
                    return true;
                };
                let mut slot = Some(m.command.clone());
                check(cx, &mut slot, format!("{rs_name} MISC_CHECK"));
                slot.is_some()
            });
            removed |= rs.checkers.len() != before;
        }
    }
    if removed {
        crate::resolve::lvs::renumber_all(&mut c.lvs);
    }
    if let Some(f) = &mut c.lvs.global.notify_fifo {
        check(cx, &mut f.script, "lvs_notify_fifo_script".to_string());
    }
}

/// Interfaces named anywhere that this host does not have (a warning: they may appear
/// later; `dynamic_interfaces` says they are expected to).
pub(crate) fn interfaces(cx: &mut Cx<'_>, raw: &RawConfig, host: &dyn Host) {
    if raw.global.defs.dynamic_interfaces {
        return;
    }
    let mut refs: Vec<(&str, &Span, &str)> = Vec::new();
    for i in &raw.instances {
        if let Some(ifname) = &i.interface {
            refs.push((&ifname.v, &ifname.span, "interface"));
        }
        for t in &i.tracking.interfaces {
            refs.push((&t.name, &t.span, "track_interface"));
        }
        for v in i.vips.iter().chain(&i.excluded_vips) {
            if let Some(d) = &v.dev {
                refs.push((d, &v.span, "dev"));
            }
        }
        for r in &i.routes {
            if let Some(d) = &r.dev {
                refs.push((d, &r.span, "dev"));
            }
        }
    }
    for g in &raw.sync_groups {
        for t in &g.tracking.interfaces {
            refs.push((&t.name, &t.span, "track_interface"));
        }
    }
    for v in &raw.static_addresses {
        if let Some(d) = &v.dev {
            refs.push((d, &v.span, "dev"));
        }
    }
    for r in &raw.static_routes {
        if let Some(d) = &r.dev {
            refs.push((d, &r.span, "dev"));
        }
    }
    for l in &raw.linkbeat_interfaces {
        refs.push((&l.interface, &l.span, "linkbeat_interfaces"));
    }
    for d in &raw.interface_delays {
        refs.push((&d.interface, &d.span, "interface_up_down_delays"));
    }
    if let Some(s) = &raw.global.lvs.defs.sync_daemon {
        refs.push((&s.interface, &s.span, "lvs_sync_daemon"));
    }
    for i in &raw.instances {
        if let Some(ifname) = &i.lvs_sync_daemon_interface {
            refs.push((&ifname.v, &ifname.span, "lvs_sync_daemon_interface"));
        }
    }
    for vs in &raw.virtual_servers {
        for rs in &vs.real_servers {
            for c in &rs.checkers {
                if let Some(ifname) = c.connection.as_ref().and_then(|co| co.bind_if.as_ref()) {
                    refs.push((ifname, &c.span, "bind_if"));
                }
            }
        }
    }
    let mut answers: BTreeMap<&str, Option<bool>> = BTreeMap::new();
    for (name, span, what) in refs {
        let exists = *answers
            .entry(name)
            .or_insert_with(|| host.interface_exists(name));
        if exists == Some(false) {
            cx.diags.push(Diagnostic::new(
                Code::InterfaceMissing,
                span.clone(),
                format!("{what} {name} does not exist on this host (yet)"),
            ));
        }
    }
}
