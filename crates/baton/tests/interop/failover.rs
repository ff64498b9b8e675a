//! A failover case: baton on r1, the peer on r2, one of them MASTER at priority 200 and the
//! other BACKUP at 100, the segment captured from before the first advert to after the last
//! step; then the peer's log, baton's own mismatch report and tshark judge the run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use baton_lab::require_tools;

use crate::baton_node::{self, Baton};
use crate::conf::InstanceConf;
use crate::frr::{Frr, FrrConf};
use crate::keepalived::{self, Keepalived};
use crate::router::Router;
use crate::scenario;
use crate::topology::{Family, IFNAME, Pair, Version, master_down_interval};
use crate::tshark;
use crate::{Verdict, lab_name};

/// Which implementation sits beside baton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Keepalived,
    Frr,
    Baton,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Keepalived => "keepalived",
            Peer::Frr => "FRRouting vrrpd",
            Peer::Baton => "baton",
        }
    }
}

/// Transport and options of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Multicast,
    /// VRRPv2 PASS authentication on both sides.
    Pass,
    /// `unicast_src_ip` + `unicast_peer` on both sides.
    Unicast,
    /// VRRPv3/IPv4 checksum without the pseudo-header (`v3_checksum_as_v2`) on both sides.
    PlainChecksum,
    /// keepalived 2.4's `auth_hmac` (HMAC-SHA256 trailer) on both sides.
    AuthHmac,
    /// `use_vmac`: the VRRP virtual MAC on a macvlan, on both sides (FRR's vrrpd always
    /// works that way).
    Vmac,
}

/// Every VRRP advert from IP address `src` left with Ethernet source `vmac`.
fn check_vmac_source(pcap: &Path, src: &str, vmac: &str) -> Result<()> {
    let p = baton_lab::Pcap::read(pcap)?;
    let src: std::net::IpAddr = src.parse()?;
    let mut n = 0;
    for r in p.with_protocol(112) {
        let (Some(ip), Some((_, eth_src, _, _))) = (r.ip(), r.ethernet()) else {
            continue;
        };
        if ip.src != src {
            continue;
        }
        n += 1;
        if eth_src.to_string() != vmac {
            bail!("an advert from {src} left with MAC {eth_src}, not the virtual MAC {vmac}");
        }
    }
    if n == 0 {
        bail!("no advert from {src} in the capture");
    }
    Ok(())
}

/// One failover case.
#[derive(Debug, Clone, Copy)]
pub struct Failover {
    pub peer: Peer,
    pub version: Version,
    pub family: Family,
    pub mode: Mode,
    /// baton is the higher priority (MASTER at 200) when true, the peer when false.
    pub baton_master: bool,
}

impl Failover {
    /// The matrix's mode column.
    pub fn mode_label(&self) -> String {
        let transport = match self.mode {
            Mode::Unicast => "unicast peers",
            _ => "multicast",
        };
        let option = match (self.mode, self.version, self.family) {
            (Mode::Pass, _, _) => ", PASS authentication",
            (Mode::AuthHmac, _, _) => ", auth_hmac (HMAC-SHA256 trailer) on both sides",
            (Mode::Vmac, _, _) => match self.peer {
                Peer::Frr => {
                    ", baton with use_vmac beside FRR's macvlan (VRRP virtual MAC on both)"
                }
                _ => ", use_vmac on both sides (VRRP virtual MAC on a macvlan)",
            },
            (Mode::PlainChecksum, _, _) => {
                ", v3_checksum_as_v2 on both sides (checksum without pseudo-header)"
            }
            (_, Version::V2, _) => ", no authentication",
            (_, Version::V3, Family::Ipv4) => ", checksum with pseudo-header",
            (_, Version::V3, Family::Ipv6) => "",
        };
        format!("{transport}{option}")
    }

    /// The matrix's role sequence column.
    pub fn roles_label(&self) -> String {
        // baton beside baton: name them by host.
        let (ours, peer) = match self.peer {
            Peer::Baton => ("baton on r1", "baton on r2"),
            other => ("baton", other.name()),
        };
        let (a, b) = if self.baton_master {
            (ours, peer)
        } else {
            (peer, ours)
        };
        format!(
            "{a} MASTER (200), {b} BACKUP (100) → SIGKILL {a} → {b} MASTER → restart → {a} \
             MASTER → SIGTERM {a} (priority 0) → {b} MASTER → restart → {a} MASTER"
        )
    }

    fn plain(&self) -> bool {
        self.mode == Mode::PlainChecksum
    }

    fn instance(&self, router_id: &str, priority: u8, src: &str, peer: &str) -> InstanceConf {
        let vip = self.family.addresses().vip;
        let mut c = InstanceConf::new(router_id, priority, self.version, vip);
        match self.mode {
            Mode::Multicast => {}
            Mode::Pass => c.auth_pass = Some("1111".into()),
            Mode::Unicast => c.unicast = Some((src.into(), peer.into())),
            Mode::PlainChecksum => c.checksum_as_v2 = true,
            Mode::AuthHmac => c.auth_hmac = true,
            Mode::Vmac => c.use_vmac = true,
        }
        c
    }

    /// Run the case; `peer_version` is filled in as soon as it is known.
    pub fn run(&self, id: &str, peer_version: &mut String) -> Result<Verdict> {
        require_tools(&["tcpdump", "tshark", "keepalived", "vtysh"])?;
        let addrs = self.family.addresses();
        let (baton_prio, peer_prio) = if self.baton_master {
            (200, 100)
        } else {
            (100, 200)
        };
        let pair = Pair::new(&lab_name(id))?;
        let capture = pair.lab.capture_segment("lan", "")?;
        let pcap = capture.path().to_path_buf();

        let mut baton = Baton::new(
            &pair.r1,
            self.instance("r1", baton_prio, addrs.r1, addrs.r2),
        )?;
        let peer_conf = self.instance("r2", peer_prio, addrs.r2, addrs.r1);
        let mut peer: Box<dyn Router> = match self.peer {
            Peer::Keepalived => {
                // Debian bookworm's keepalived (2.2.7) predates v3_checksum_as_v2: that case
                // runs against the keepalived scripts/build-keepalived builds from Debian
                // trixie's source.
                if self.mode == Mode::AuthHmac {
                    // No keepalived with auth_hmac (2.4.0 and later) is packaged for this
                    // machine; say which ones were asked.
                    let mut answers = Vec::new();
                    for (binary, v) in keepalived::installed(&pair.r2)? {
                        match keepalived::rejects_instance_keyword(
                            &pair.r2,
                            &binary,
                            &format!(
                                "auth_hmac {{\n        key 1 {}\n        active_key 1\n    }}",
                                crate::conf::HMAC_KEY
                            ),
                        )? {
                            Some(line) => answers.push(format!("keepalived {v}: \"{line}\"")),
                            None => bail!(
                                "keepalived {v} at {} knows auth_hmac: this case can run now",
                                binary.display()
                            ),
                        }
                        *peer_version = v;
                    }
                    return Ok(Verdict::NotSupported(format!(
                        "no installed keepalived knows auth_hmac ({}); it arrived in keepalived \
                         2.4.0 and no package of 2.4 exists for this machine; baton is checked \
                         against keepalived's own test vectors instead (crates/wire/tests/vectors/auth_hmac.json)",
                        answers.join("; ")
                    )));
                }
                let binary = if self.plain() {
                    match keepalived::knowing_global_keyword(&pair.r2, "v3_checksum_as_v2")? {
                        Ok(binary) => binary,
                        Err(why) => {
                            *peer_version = keepalived::version(Path::new(keepalived::SYSTEM))?;
                            return Ok(Verdict::NotSupported(format!(
                                "{why}; without it keepalived always checksums VRRPv3 with the \
                                 pseudo-header and drops adverts in the other form (see the \
                                 checksum mismatch row)"
                            )));
                        }
                    }
                } else {
                    PathBuf::from(keepalived::SYSTEM)
                };
                *peer_version = keepalived::version(&binary)?;
                Box::new(Keepalived::with_binary(&pair.r2, peer_conf, &binary)?)
            }
            Peer::Frr => {
                if !matches!(self.mode, Mode::Multicast | Mode::Vmac) && !self.plain() {
                    bail!("FRR cases run multicast only");
                }
                let frr = Frr::new(
                    &pair.r2,
                    FrrConf {
                        priority: peer_prio,
                        version: self.version,
                        family: self.family,
                        interval_ms: self.version.interval().as_millis(),
                        vip: addrs.vip.into(),
                        prefix: addrs.prefix,
                        plain_checksum: self.plain(),
                    },
                )?;
                *peer_version = frr.version()?;
                if self.plain()
                    && let Some(line) = frr.rejects_interface_command(&format!(
                        "no vrrp {} checksum-with-ipv4-pseudoheader",
                        crate::topology::VRID
                    ))?
                {
                    return Ok(Verdict::NotSupported(format!(
                        "FRRouting {peer_version} has no `no vrrp N checksum-with-ipv4-pseudoheader` \
                         (vtysh: \"{line}\"); its VRRPv3/IPv4 checksum always includes the \
                         pseudo-header"
                    )));
                }
                Box::new(frr)
            }
            Peer::Baton => {
                *peer_version = baton_node::version()?;
                Box::new(Baton::new(&pair.r2, peer_conf)?)
            }
        };

        let (a, b): (&mut dyn Router, &mut dyn Router) = if self.baton_master {
            (&mut baton, peer.as_mut())
        } else {
            (peer.as_mut(), &mut baton)
        };
        let journal = scenario::failover(a, b, self.version)?;
        let context = || format!("after {}", journal.render());

        // Neither side objected to the other's adverts.
        let complaints = peer.complaints()?;
        if !complaints.is_empty() {
            bail!(
                "{} complained about baton's adverts:\n{}",
                peer.label(),
                complaints.join("\n")
            );
        }
        let ours = baton.complaints()?;
        let mismatches = baton.instance()?["mismatches"].clone();
        if !ours.is_empty() || mismatches.as_array().is_none_or(|m| !m.is_empty()) {
            bail!(
                "baton reported a difference with {}: {ours:?} {mismatches}",
                peer.label()
            );
        }

        capture.stop().context("stopping the capture")?;
        let frames = tshark::frames(&pcap, self.plain())?;
        // (who, MAC, whether it was the master stopped with SIGTERM)
        let mut senders = vec![(
            baton.label(),
            pair.r1.interface(IFNAME)?.mac.to_string(),
            self.baton_master,
        )];
        if self.mode == Mode::Vmac {
            // Both masters speak from the one virtual MAC: judge every frame of it, and
            // check that baton's adverts (its source address) left with it.
            let vmac = format!(
                "00:00:5e:00:{:02x}:{:02x}",
                if self.family == Family::Ipv4 { 1 } else { 2 },
                crate::topology::VRID
            );
            check_vmac_source(&pcap, addrs.r1, &vmac)?;
            senders = vec![(
                format!("{} and {}", baton.label(), peer.label()),
                vmac,
                true,
            )];
        }
        if self.peer == Peer::Baton {
            senders.push((
                peer.label(),
                pair.r2.interface(IFNAME)?.mac.to_string(),
                !self.baton_master,
            ));
        }
        for (who, mac, stopped) in &senders {
            let hmac_v4 = self.mode == Mode::AuthHmac && self.family == Family::Ipv4;
            let sent = tshark::check_sender(
                &pcap,
                &frames,
                mac,
                self.version.number(),
                self.plain(),
                hmac_v4,
            )
            .with_context(|| format!("{who}'s frames"))?;
            if *stopped && sent.priority_zero == 0 {
                bail!("{who} sent no priority-0 advert on SIGTERM");
            }
        }
        if self.mode == Mode::AuthHmac && self.family == Family::Ipv4 {
            for src in [addrs.r1, addrs.r2] {
                let n = tshark::check_message_checksums(&pcap, src.parse()?)?;
                if n == 0 {
                    bail!("no signed advert from {src} in the capture");
                }
            }
        }
        // The handover on priority 0 beats Master_Down_Interval, on the wire.
        let backup_prio = 100;
        let handover = tshark::priority_zero_handover(&frames, backup_prio)?;
        let mdi = master_down_interval(self.version, backup_prio);
        if handover >= mdi {
            bail!(
                "priority-0 handover took {:.3} s on the wire, not less than \
                 Master_Down_Interval {:.3} s ({})",
                handover.as_secs_f64(),
                mdi.as_secs_f64(),
                context()
            );
        }
        eprintln!(
            "{id}: {}; priority-0 handover {:.1} ms on the wire",
            journal.render(),
            handover.as_secs_f64() * 1000.0
        );
        Ok(Verdict::Pass(None))
    }
}
