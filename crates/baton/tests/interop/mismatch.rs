//! The configuration differences that split keepalived pairs without a clear word: beside a
//! keepalived configured differently in one field, baton must name the peer and the field in
//! exactly one log line however many adverts keep coming, and list the same difference in
//! `baton status`. keepalived's own log shows why it matters: it drops baton's adverts.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_lab::{ms, require_tools, wait_for, wait_until};
use serde_json::Value;

use crate::baton_node::{BATON, Baton};
use crate::conf::InstanceConf;
use crate::keepalived::{self, Keepalived};
use crate::router::{Router, tail};
use crate::topology::{IFNAME, Pair, V4, Version};
use crate::tshark;
use crate::{Verdict, lab_name};

/// The field that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    VirtualAddresses,
    AdvertInterval,
    Authentication,
    Version,
    ChecksumForm,
}

/// Adverts the difference must have been seen in before the log is counted: one line for
/// several adverts, not one per advert.
const SEEN_AT_LEAST: u64 = 3;

impl Field {
    /// The name `baton status --json` gives it.
    fn status_name(self) -> &'static str {
        match self {
            Field::VirtualAddresses => "VirtualAddresses",
            Field::AdvertInterval => "AdvertInterval",
            Field::Authentication => "Authentication",
            Field::Version => "Version",
            Field::ChecksumForm => "ChecksumForm",
        }
    }

    /// The keepalived.conf keyword, which baton's log line names.
    pub fn keyword(self) -> &'static str {
        match self {
            Field::VirtualAddresses => "virtual_ipaddress",
            Field::AdvertInterval => "advert_int",
            Field::Authentication => "authentication",
            Field::Version => "version",
            Field::ChecksumForm => "v3_checksum_as_v2",
        }
    }

    /// baton's VRRP version in this case.
    pub fn version(self) -> Version {
        match self {
            Field::AdvertInterval | Field::Authentication => Version::V2,
            _ => Version::V3,
        }
    }

    /// The matrix's field column: the keyword and both settings.
    pub fn label(self) -> String {
        let both = match self {
            Field::VirtualAddresses => format!("baton {}, keepalived {}", V4.vip, V4.other_vip),
            Field::AdvertInterval => "baton 2 s, keepalived 1 s".into(),
            Field::Authentication => "baton none, keepalived PASS".into(),
            Field::Version => "baton 3, keepalived 2 (both 1 s)".into(),
            Field::ChecksumForm => {
                "baton without pseudo-header, keepalived with (its only form)".into()
            }
        };
        format!("{} ({both})", self.keyword())
    }

    /// What keepalived logs about baton's adverts with this difference.
    fn keepalived_complaint(self) -> &'static [&'static str] {
        match self {
            Field::VirtualAddresses => &["not present in MASTER advert", "VIPs but received"],
            Field::AdvertInterval => &["advertisement interval mismatch"],
            Field::Authentication => &["auth, expecting"],
            Field::Version => &["wrong version"],
            Field::ChecksumForm => &["Invalid VRRPv3 checksum"],
        }
    }

    /// baton at `baton_prio` and keepalived at `peer_prio`, differing in this field only.
    fn configs(self, baton_prio: u8, peer_prio: u8) -> (InstanceConf, InstanceConf) {
        let v = self.version();
        let mut baton = InstanceConf::new("r1", baton_prio, v, V4.vip);
        let mut peer = InstanceConf::new("r2", peer_prio, v, V4.vip);
        match self {
            Field::VirtualAddresses => peer.vips = vec![V4.other_vip.into()],
            Field::AdvertInterval => baton.interval = Duration::from_secs(2),
            Field::Authentication => peer.auth_pass = Some("1111".into()),
            Field::Version => {
                // The same interval on both sides, so the version is all that differs.
                peer.version = Version::V2;
                peer.interval = Version::V2.interval();
                baton.interval = Version::V2.interval();
            }
            Field::ChecksumForm => baton.checksum_as_v2 = true,
        }
        (baton, peer)
    }

    /// Whether a line of baton's log is its report of this difference with `peer`.
    fn is_report(self, line: &str, peer: &str) -> bool {
        let mentions_peer = line.contains(&format!("{peer} ")) || line.ends_with(peer);
        mentions_peer
            && match self {
                Field::ChecksumForm => {
                    line.contains("computes the VRRPv3 checksum") && line.contains(self.keyword())
                }
                _ => line.contains(&format!("its {} differs", self.keyword())),
            }
    }

    pub fn run(self, id: &str, peer_version: &mut String) -> Result<Verdict> {
        require_tools(&["keepalived", "nft", "tcpdump", "tshark"])?;
        *peer_version = keepalived::version(std::path::Path::new(keepalived::SYSTEM))?;
        // For the checksum form baton is MASTER: baton accepts keepalived's form, so only a
        // MASTER baton advertises for keepalived to judge. In the other cases each drops the
        // other's adverts and both end up MASTER anyway.
        let (baton_prio, peer_prio) = if self == Field::ChecksumForm {
            (200, 100)
        } else {
            (100, 200)
        };
        let (bconf, pconf) = self.configs(baton_prio, peer_prio);
        let pair = Pair::new(&lab_name(id))?;
        let capture = pair.lab.capture_segment("lan", "")?;
        let pcap = capture.path().to_path_buf();
        // Phase 1: keepalived does not hear baton (the seed's firewall). keepalived 2.2.7 as
        // MASTER re-arms its advert timer on every advert it receives, rejected ones too, so
        // a peer it rejects advertising as often silences it (one advert in 25 s on the wire).
        let deaf = pair.r2.drop_ip_protocol(112)?;
        let mut peer = Keepalived::new(&pair.r2, pconf)?;
        let mut baton = Baton::new(&pair.r1, bconf)?;
        peer.start()?;
        baton.start()?;

        let peer_addr = V4.r2;
        let wanted = self.status_name();
        let timeout = Duration::from_secs(25);
        let found = wait_for(
            format!(
                "baton status to list a {wanted} mismatch with {peer_addr} seen {SEEN_AT_LEAST} times"
            ),
            timeout,
            ms(50),
            || -> Result<Option<Value>> {
                let i = baton.instance()?;
                Ok(i["mismatches"].as_array().and_then(|list| {
                    list.iter()
                        .find(|m| {
                            m["peer"] == peer_addr
                                && m["field"] == wanted
                                && m["count"].as_u64().is_some_and(|c| c >= SEEN_AT_LEAST)
                        })
                        .cloned()
                }))
            },
        );
        let entry = match found {
            Ok((entry, _)) => entry,
            Err(e) => bail!(
                "{e}\nbaton status: {}\n--- baton's log ---\n{}",
                baton
                    .status()
                    .map_or_else(|e| e.to_string(), |s| s.to_string()),
                tail(&baton.log(), 30)
            ),
        };
        let lines = self.reports(&baton.log(), peer_addr, &entry)?;
        // And only this difference: nothing else was misnamed.
        let all = baton.instance()?["mismatches"].clone();
        if all.as_array().map_or(0, Vec::len) != 1 {
            bail!("baton status lists more than the {wanted} difference: {all}");
        }
        // `baton status` (the table) shows it too.
        let pidfile = pair.r1.path("baton/baton.pid").display().to_string();
        let table = pair.r1.cmd([BATON, "status", "-p", &pidfile])?;
        if !table
            .lines()
            .any(|l| l.trim_start().starts_with("mismatches:") && l.contains(peer_addr))
        {
            bail!("`baton status` does not show the mismatch:\n{table}");
        }

        // Phase 2: keepalived hears baton, and drops its adverts for the same reason.
        deaf.remove()?;
        let complaint = self.keepalived_complaint();
        let heard = wait_until(
            format!("keepalived to log one of {complaint:?}"),
            timeout,
            ms(50),
            || {
                peer.log()
                    .lines()
                    .any(|l| complaint.iter().any(|c| l.contains(c)))
            },
        );
        if let Err(e) = heard {
            bail!("{e}\n--- keepalived's log ---\n{}", tail(&peer.log(), 30));
        }
        // Still one line from baton.
        let entry = baton.instance()?["mismatches"][0].clone();
        self.reports(&baton.log(), peer_addr, &entry)?;
        peer.stop()?;
        baton.stop()?;

        // Whatever it disagrees with, baton's own frames are well formed.
        capture.stop()?;
        let plain = self == Field::ChecksumForm;
        let frames = tshark::frames(&pcap, plain)?;
        let mac = pair.r1.interface(IFNAME)?.mac.to_string();
        tshark::check_sender(&pcap, &frames, &mac, self.version().number(), plain, false)
            .context("baton's frames")?;
        let line = &lines[0];
        let message = line
            .find("adverts from")
            .or_else(|| line.find(peer_addr))
            .map_or(line.as_str(), |at| &line[at..]);
        Ok(Verdict::Pass(Some(message.to_string())))
    }

    /// baton's report lines about this difference with `peer`: exactly one, however many
    /// adverts (`entry["count"]`) carried it.
    fn reports(self, log: &str, peer: &str, entry: &Value) -> Result<Vec<String>> {
        let lines: Vec<String> = log
            .lines()
            .filter(|l| self.is_report(l, peer))
            .map(str::to_string)
            .collect();
        if lines.len() != 1 {
            bail!(
                "baton logged {} lines about the {} difference with {peer} (want 1) after {} \
                 adverts:\n{}\n--- log ---\n{}",
                lines.len(),
                self.keyword(),
                entry["count"],
                lines.join("\n"),
                tail(log, 30)
            );
        }
        Ok(lines)
    }
}
