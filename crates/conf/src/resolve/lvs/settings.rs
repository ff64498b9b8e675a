//! Settings of a virtual server keepalived corrects (check_data.c
//! `validate_check_config`): ha_suspend with firewall marks, the protocol, one-packet
//! scheduling, persistence implied by a missing port, the default scheduler.

use super::{DEFAULT_PERSISTENCE, push, push_sev};
use crate::diag::{Code, Severity};
use crate::lvs::{
    GroupEntry, Persistence, Protocol, Scheduler, VirtualServer, VirtualServerAddress,
    VirtualServerGroup,
};
use crate::parse::cx::Cx;
use crate::parse::lvs::RawVirtualServer;

/// What the service's address says about it.
pub(super) struct Kind<'a> {
    pub group: Option<&'a VirtualServerGroup>,
    pub has_fwmarks: bool,
    pub has_addresses: bool,
}

pub(super) fn service(
    cx: &mut Cx<'_>,
    vs: &mut VirtualServer,
    r: &mut RawVirtualServer,
    kind: &Kind<'_>,
    who: &str,
    len: u32,
) {
    let (group, has_fwmarks, has_addresses) = (kind.group, kind.has_fwmarks, kind.has_addresses);
    if let Some(span) = &r.ha_suspend
        && has_fwmarks
    {
        push(
            cx,
            Code::LvsAdjusted,
            span,
            10,
            format!(
                "{who}: ha_suspend cannot work with firewall marks (there is no address to watch); ignored"
            ),
        );
        vs.ha_suspend = false;
    }

    // Persistence as written; zero ports make it implicit below.
    let mut persistence = r
        .persistence_timeout
        .as_ref()
        .map(|t| t.v)
        .or(r.granularity.as_ref().map(|_| DEFAULT_PERSISTENCE));

    if has_addresses {
        if vs.protocol.is_none() {
            push_sev(
                cx,
                Code::LvsDefaulted,
                Severity::Error,
                &r.span,
                len,
                format!(
                    "{who} has no protocol; keepalived's default UDP applies (add 'protocol TCP' for TCP services)"
                ),
            );
            vs.protocol = Some(Protocol::Udp);
        }
        if let Some(span) = &r.ops
            && vs.protocol != Some(Protocol::Udp)
        {
            push_sev(
                cx,
                Code::LvsAdjusted,
                Severity::Error,
                span,
                3,
                format!("{who}: one-packet scheduling (ops) needs protocol UDP; ignored"),
            );
            vs.scheduler_flags.one_packet = false;
        }
        let zero_port = match (&vs.address, group) {
            (VirtualServerAddress::Ip(a), _) => a.port() == 0,
            (_, Some(g)) => g
                .entries
                .iter()
                .any(|e| matches!(e, GroupEntry::Addresses { port: 0, .. })),
            _ => false,
        };
        if zero_port && persistence.is_none() {
            push_sev(
                cx,
                Code::LvsAdjusted,
                Severity::Error,
                &r.span,
                len,
                format!(
                    "{who}: a service without a port must be persistent; persistence_timeout 360 applies"
                ),
            );
            persistence = Some(DEFAULT_PERSISTENCE);
        }
    }
    if let Some(p) = &r.protocol
        && has_fwmarks
        && !has_addresses
    {
        push(
            cx,
            Code::LvsAdjusted,
            &p.span,
            4,
            format!("{who}: protocol has no meaning for a firewall-mark service; ignored"),
        );
        vs.protocol = None;
    }
    vs.persistence = persistence.map(|timeout| Persistence {
        timeout,
        granularity: r.granularity.as_ref().map(|g| g.v),
        engine: r.persistence_engine.take(),
    });
    if vs.persistence.is_none() && r.persistence_engine.is_some() {
        push_sev(
            cx,
            Code::LvsAdjusted,
            Severity::Warning,
            &r.span,
            len,
            format!("{who}: persistence_engine without persistence has no effect"),
        );
    }

    match &r.scheduler {
        Some(s) => vs.scheduler = s.v,
        None => {
            let eq = Scheduler::Wlc.nftables_equivalent();
            push(
                cx,
                Code::LvsDefaulted,
                &r.span,
                len,
                format!(
                    "{who} has no lb_algo; keepalived's default wlc applies, which baton's nftables data plane schedules as {eq} (it has no connection counts)"
                ),
            );
        }
    }
}
