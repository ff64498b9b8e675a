//! The LVS keywords of `global_defs` once everything is known: the sync daemon follows an
//! instance that exists, the FIFO script has its FIFO.

use super::{Context, push};
use crate::diag::Code;
use crate::lvs::LvsGlobal;
use crate::parse::cx::Cx;
use crate::parse::lvs::global::RawLvsGlobal;

pub(super) fn global(cx: &mut Cx<'_>, raw: RawLvsGlobal, ctx: &Context<'_>) -> LvsGlobal {
    let mut g = raw.defs;
    for (instance, ifname) in raw.legacy_sync {
        if let Some(s) = &g.sync_daemon {
            push(
                cx,
                Code::Duplicate,
                &ifname.span,
                ifname.v.len() as u32,
                format!(
                    "lvs_sync_daemon is already set to {}; this lvs_sync_daemon_interface is ignored",
                    s.interface
                ),
            );
            continue;
        }
        g.sync_daemon = Some(crate::lvs::LvsSyncDaemon {
            interface: ifname.v,
            instance: Some(instance),
            sync_id: None,
            max_len: None,
            port: None,
            ttl: None,
            group: None,
            span: ifname.span,
        });
    }
    if let Some(script) = raw.notify_fifo_script {
        match &mut g.notify_fifo {
            Some(f) => f.script = Some(script),
            None => push(
                cx,
                Code::MissingArgument,
                &script.span,
                1,
                "lvs_notify_fifo_script without lvs_notify_fifo; ignored",
            ),
        }
    }
    if let Some(s) = &mut g.sync_daemon {
        match &s.instance {
            None => push(
                cx,
                Code::MissingArgument,
                &s.span,
                s.interface.len() as u32,
                "lvs_sync_daemon names no vrrp_instance (inst NAME): it has no state to follow; ignored",
            ),
            Some(name) => match ctx.instances.iter().find(|i| *i.name == **name) {
                None => push(
                    cx,
                    Code::TrackUndefined,
                    &s.span,
                    s.interface.len() as u32,
                    format!(
                        "lvs_sync_daemon follows vrrp_instance {name}, which is not defined; ignored"
                    ),
                ),
                Some(i) => {
                    s.sync_id.get_or_insert(i.vrid);
                }
            },
        }
        if s.instance.is_none() || s.sync_id.is_none() {
            g.sync_daemon = None;
        }
    }
    g
}
