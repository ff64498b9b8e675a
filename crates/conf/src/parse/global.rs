//! `global_defs`, the VRRP side of it (keepalived.conf(5) "Global definitions").

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use baton_wire::Version;

use super::cx::{At, Cx};
use crate::diag::Code;
use crate::model::{Command, GarpExtraIf, GlobalDefs, NotifyFifo};
use crate::syntax::{Stmt, Token};

/// `global_defs` as written, before defaults that depend on other keywords are applied.
#[derive(Debug, Default)]
pub(crate) struct RawGlobal {
    pub defs: GlobalDefs,
    pub lower_prio_repeat: Option<u32>,
    pub lower_prio_delay: Option<Duration>,
    pub min_garp: bool,
    pub fast_handover: Option<At<bool>>,
    pub strict: Option<crate::model::Span>,
    pub notify_fifo_script: Option<Command>,
    pub vrrp_notify_fifo_script: Option<Command>,
    /// The LVS keywords (`lvs_sync_daemon`, `lvs_timeouts`, …).
    pub lvs: super::lvs::global::RawLvsGlobal,
}

/// keepalived global keywords outside what baton does (SMTP, LVS, SNMP, D-Bus, the
/// scheduling of keepalived's checker and BFD processes, dump files, firewall back
/// ends…): recognised and skipped.
const NOT_IMPLEMENTED: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "no_email_faults",
    "lvs_id",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "no_checker_emails",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "snmp_socket",
    "enable_dbus",
    "dbus_service_name",
    "tmp_config_directory",
    "config_save_dir",
    "checker_process_name",
    "bfd_process_name",
    "use_symlink_paths",
    "set_supplementary_groups",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_counters",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "disable_local_igmp",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "umask",
    "random_seed",
    "checker_priority",
    "checker_rt_priority",
    "checker_no_swap",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "bfd_priority",
    "bfd_rt_priority",
    "bfd_no_swap",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "max_auto_priority",
    "min_auto_priority_delay",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "data_use_instance",
    "state_dump_file",
    "stats_dump_file",
    "json_dump_file",
    "json_version",
    "state_file_location",
    "stats_file_location",
    "json_file_location",
    "vmac_addr_prefix",
    "include_check",
    "linkbeat_use_polling",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
    "vrrp_garp_extra_if_vmac",
];

/// Whether `name` can name a namespace under /run/netns: one path component.
pub(crate) fn namespace_name_ok(name: &str) -> bool {
    !(name.is_empty() || name.contains('/') || name == "." || name == "..")
}

/// `net_namespace NAME`, at the top level or in `global_defs`: the name of a namespace
/// under /run/netns (one path component).
pub(crate) fn net_namespace(cx: &mut Cx<'_>, stmt: &Stmt, d: &mut GlobalDefs) {
    let Some(name) = cx.string_arg(stmt) else {
        return;
    };
    if !namespace_name_ok(&name.v) {
        cx.report(
            Code::InvalidValue,
            &stmt.args()[0],
            format!("net_namespace '{}' is not a namespace name", name.v),
        );
        return;
    }
    if let Some(old) = &d.net_namespace
        && *old != name.v
    {
        cx.report(
            Code::Duplicate,
            stmt.keyword(),
            format!("net_namespace given again ({old} before); this one counts"),
        );
    }
    d.net_namespace = Some(name.v);
}

fn set_bool(cx: &mut Cx<'_>, stmt: &Stmt, field: &mut bool) {
    if let Some(b) = cx.bool_arg(stmt) {
        *field = b;
    }
}

fn u32_arg(cx: &mut Cx<'_>, stmt: &Stmt, field: &mut u32) {
    if let Some(v) = cx.int_arg(stmt, 0, u32::MAX.into()) {
        *field = v as u32;
    }
}

/// The longest delay keepalived's timers accept here.
const MAX_TIMER: Duration = Duration::from_secs(u32::MAX as u64);

fn fifo(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<NotifyFifo> {
    cx.no_block(stmt);
    // `FIFO [user [group]]` sets the FIFO's owner: only the path matters to baton.
    cx.at_most(stmt, 3);
    let path: &Token = cx.arg(stmt, 0)?;
    Some(NotifyFifo {
        path: PathBuf::from(&path.text),
        script: None,
        span: path.span.clone(),
    })
}

/// Fill `g` from the lines of `global_defs`.
pub(crate) fn global_defs(cx: &mut Cx<'_>, stmt: &Stmt, g: &mut RawGlobal) {
    cx.at_most(stmt, 0);
    let Some(lines) = cx.block(stmt) else {
        return;
    };
    for line in lines {
        let d = &mut g.defs;
        let kw = line.keyword().text.as_str();
        match kw {
            "router_id" => d.router_id = cx.string_arg(line).map(|s| s.v),
            "vrrp_mcast_group4" => {
                if let Some(a) = cx.ip_arg(line) {
                    match a.v {
                        IpAddr::V4(v4) if v4.is_multicast() => d.mcast_group4 = v4,
                        _ => cx.report(
                            Code::InvalidValue,
                            &line.args()[0],
                            format!("{} is not an IPv4 multicast address", a.v),
                        ),
                    }
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(a) = cx.ip_arg(line) {
                    match a.v {
                        IpAddr::V6(v6) if v6.is_multicast() => d.mcast_group6 = v6,
                        _ => cx.report(
                            Code::InvalidValue,
                            &line.args()[0],
                            format!("{} is not an IPv6 multicast address", a.v),
                        ),
                    }
                }
            }
            "default_interface" => d.default_interface = cx.string_arg(line).map(|s| s.v),
            "net_namespace" => net_namespace(cx, line, d),
            "vrrp_version" => {
                if let Some(v) = cx.int_arg(line, 2, 3) {
                    d.vrrp_version = if v == 3 { Version::V3 } else { Version::V2 };
                }
            }
            "vrrp_garp_master_repeat" => u32_arg(cx, line, &mut d.garp.master_repeat),
            "vrrp_garp_master_delay" => {
                if let Some(t) = cx.timer_arg(line, Duration::ZERO, MAX_TIMER) {
                    d.garp.master_delay = t;
                }
            }
            "vrrp_garp_lower_prio_repeat" => {
                if let Some(v) = cx.int_arg(line, 0, u32::MAX.into()) {
                    g.lower_prio_repeat = Some(v as u32);
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                if let Some(t) = cx.timer_arg(line, Duration::ZERO, MAX_TIMER) {
                    g.lower_prio_delay = Some(t);
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(t) = cx.timer_arg(line, Duration::ZERO, MAX_TIMER) {
                    d.garp.master_refresh = (!t.is_zero()).then_some(t);
                }
            }
            "vrrp_garp_master_refresh_repeat" => {
                u32_arg(cx, line, &mut d.garp.master_refresh_repeat)
            }
            "vrrp_garp_interval" => {
                if let Some(t) = cx.timer_arg(line, Duration::ZERO, MAX_TIMER) {
                    d.garp.interval = t;
                }
            }
            "vrrp_gna_interval" => {
                if let Some(t) = cx.timer_arg(line, Duration::ZERO, MAX_TIMER) {
                    d.garp.na_interval = t;
                }
            }
            "vrrp_min_garp" => set_bool(cx, line, &mut g.min_garp),
            "vrrp_garp_extra_if" => {
                // Read and checked; the periodic GARP on other interfaces is not sent.
                cx.not_implemented(line);
                d.garp.extra_if = extra_if(cx, line)
            }
            "vrrp_down_timer_adverts" => {
                if let Some(v) = cx.int_arg(line, 1, 100) {
                    d.down_timer_adverts = v as u8;
                }
            }
            "vrrp_lower_prio_no_advert" => set_bool(cx, line, &mut d.lower_prio_no_advert),
            "vrrp_higher_prio_send_advert" => set_bool(cx, line, &mut d.higher_prio_send_advert),
            "vrrp_owner_ignore_adverts" | "owner_ignore_adverts" => {
                set_bool(cx, line, &mut d.owner_ignore_adverts)
            }
            "v3_checksum_as_v2" | "vrrp_v3_checksum_as_v2" => {
                set_bool(cx, line, &mut d.v3_checksum_as_v2)
            }
            "vrrp_check_unicast_src" => set_bool(cx, line, &mut d.check_unicast_src),
            "vrrp_skip_check_adv_addr" => set_bool(cx, line, &mut d.skip_check_adv_addr),
            "vrrp_strict" => {
                set_bool(cx, line, &mut d.strict);
                g.strict = Some(line.keyword().span.clone());
            }
            "vrrp_notify_priority_changes" => set_bool(cx, line, &mut d.notify_priority_changes),
            "script_user" => d.script_user = cx.run_as(line),
            "enable_script_security" => {
                cx.flag(line);
                d.enable_script_security = true;
            }
            "notify_fifo" => d.notify_fifo = fifo(cx, line),
            "vrrp_notify_fifo" => d.vrrp_notify_fifo = fifo(cx, line),
            "notify_fifo_script" => g.notify_fifo_script = cx.command(line),
            "vrrp_notify_fifo_script" => g.vrrp_notify_fifo_script = cx.command(line),
            "fifo_write_vrrp_states_on_reload" => {
                cx.flag(line);
                d.fifo_write_states_on_reload = true;
            }
            "vrrp_startup_delay" => {
                if let Some(t) = cx.timer_arg(line, Duration::ZERO, MAX_TIMER) {
                    d.startup_delay = t;
                }
            }
            "vrrp_delay_after_boot" => {
                if let Some(t) = cx.timer_arg(line, Duration::ZERO, MAX_TIMER) {
                    d.delay_after_boot = t;
                }
            }
            "dynamic_interfaces" => {
                cx.no_block(line);
                cx.at_most(line, 1);
                if let Some(a) = line.args().first()
                    && a.text != "allow_if_changes"
                {
                    cx.report(
                        Code::InvalidValue,
                        a,
                        format!("'{}' is not allow_if_changes", a.text),
                    );
                }
                d.dynamic_interfaces = true;
            }
            "log_unknown_vrids" => {
                cx.flag(line);
                d.log_unknown_vrids = true;
            }
            "vmac_prefix" => {
                if let Some(s) = cx.string_arg(line) {
                    d.vmac_prefix = s.v;
                }
            }
            // baton is a single process: these name it (see GlobalDefs::process_name).
            "process_name" => d.process_name = cx.string_arg(line).map(|s| s.v),
            "vrrp_process_name" => d.vrrp_process_name = cx.string_arg(line).map(|s| s.v),
            "process_names" => {
                cx.no_block(line);
                cx.at_most(line, 0);
                d.process_names = true;
            }
            "fast_handover" => {
                if let Some(b) = cx.bool_arg(line) {
                    d.fast_handover = b;
                    g.fast_handover = Some(At::new(b, line.keyword()));
                }
            }
            "baton_metrics" => metrics(cx, line, d),
            "vrrp_priority" => {
                if let Some(v) = cx.int_arg(line, -20, 19) {
                    d.scheduling.nice = v as i8;
                }
            }
            "vrrp_rt_priority" => {
                // Linux's SCHED_RR range (sched_get_priority_min/max).
                if let Some(v) = cx.int_arg(line, 1, 99) {
                    d.scheduling.rt_priority = Some(v as u8);
                }
            }
            "vrrp_rlimit_rttime" | "vrrp_rlimit_rtime" => {
                if kw == "vrrp_rlimit_rtime" {
                    cx.report(
                        Code::Deprecated,
                        line.keyword(),
                        "vrrp_rlimit_rtime is deprecated: use vrrp_rlimit_rttime",
                    );
                }
                if let Some(v) = cx.int_arg(line, 1, u32::MAX.into()) {
                    // keepalived warns at half the limit, which must not be zero.
                    d.scheduling.rlimit_rttime_us = (v as u32).max(2);
                }
            }
            "vrrp_no_swap" => {
                cx.flag(line);
                d.scheduling.no_swap = true;
            }
            "vrrp_cpu_affinity" => d.scheduling.cpu_affinity = cpu_affinity(cx, line),
            _ if super::lvs::global::keyword(cx, line, &mut g.lvs) => {}
            k if NOT_IMPLEMENTED.contains(&k) => cx.not_implemented(line),
            _ => cx.unknown(line, "global_defs"),
        }
    }
}

/// `vrrp_cpu_affinity CPU…`: CPU ids as /proc/cpuinfo numbers them. Whether they are
/// online is a question for the machine the daemon runs on, not for the file: the daemon
/// says so when it applies them. Any bad id drops the whole set, as in keepalived.
fn cpu_affinity(cx: &mut Cx<'_>, stmt: &Stmt) -> Vec<u16> {
    cx.no_block(stmt);
    if cx.arg(stmt, 0).is_none() {
        return Vec::new();
    }
    let mut cpus = Vec::new();
    for tok in stmt.args() {
        // CPU_SETSIZE: the most a cpu_set_t holds.
        match cx.int(tok, 0, 1023, "vrrp_cpu_affinity CPU") {
            Some(c) => cpus.push(c as u16),
            None => return Vec::new(),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    cpus
}

/// `baton_metrics ADDR:PORT` (baton's own keyword): the `--metrics` listener.
fn metrics(cx: &mut Cx<'_>, stmt: &Stmt, d: &mut GlobalDefs) {
    let Some(a) = cx.string_arg(stmt) else {
        return;
    };
    match a.v.parse::<std::net::SocketAddr>() {
        Ok(addr) => d.metrics = Some(addr),
        Err(_) => cx.report(
            Code::InvalidValue,
            &stmt.args()[0],
            format!(
                "baton_metrics {}: not ADDR:PORT (an IPv6 address goes in brackets: [::1]:9650)",
                a.v
            ),
        ),
    }
}

/// `garp_extra_if [all] SECS` (0 turns it off; at most a day).
pub(crate) fn extra_if(cx: &mut Cx<'_>, stmt: &Stmt) -> Option<GarpExtraIf> {
    cx.no_block(stmt);
    let args = stmt.args();
    let (all, secs) = match args.first() {
        Some(a) if a.text == "all" => (true, args.get(1)),
        first => (false, first),
    };
    let Some(secs) = secs else {
        cx.arg(stmt, usize::from(all));
        return None;
    };
    cx.at_most(stmt, usize::from(all) + 1);
    let t = cx.timer(secs, "garp_extra_if")?;
    if t > Duration::from_secs(86_400) {
        cx.report(
            Code::OutOfRange,
            secs,
            format!("garp_extra_if {} is more than a day (86400 s)", secs.text),
        );
        return None;
    }
    (!t.is_zero()).then_some(GarpExtraIf { interval: t, all })
}
