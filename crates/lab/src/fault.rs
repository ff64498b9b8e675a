//! Faults a test injects with nftables inside a host: the seed's firewall that dropped VRRP
//! (IP protocol 112), a host cut off from one peer, a host cut off from everything.
//!
//! Rules live in a table of their own (`inet baton_lab`), with input and output chains hooked
//! at filter priority, so they never disturb rules a test or daemon installs itself. Every rule
//! counts what it drops, so a test can prove the fault was real.

use std::net::IpAddr;

use crate::addr::AsIp;
use crate::{Error, Host, Result};

const TABLE: &str = "baton_lab";

/// Which way a rule filters: traffic arriving at the host, or leaving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Packets delivered to the host (`hook input`).
    Input,
    /// Packets the host sends (`hook output`).
    Output,
}

impl Chain {
    fn name(self) -> &'static str {
        match self {
            Chain::Input => "input",
            Chain::Output => "output",
        }
    }
}

/// An nftables fault installed on a host. It stays until [`Fault::remove`] (or the lab's
/// teardown); dropping the handle does not lift it.
#[derive(Debug)]
#[must_use = "a fault stays until remove() is called; keep the handle to lift it"]
pub struct Fault {
    host: Host,
    rules: Vec<(Chain, u64)>,
    what: String,
}

impl Host {
    /// Drop incoming packets of IP protocol `protocol` (IPv4 protocol or IPv6 next header):
    /// `drop_ip_protocol(112)` is the seed's firewall that silently ate VRRP and made both
    /// nodes MASTER.
    pub fn drop_ip_protocol(&self, protocol: u8) -> Result<Fault> {
        self.nft_rules(
            &format!("drop IP protocol {protocol}"),
            &[(Chain::Input, format!("meta l4proto {protocol}"))],
        )
    }

    /// Drop everything between this host and `peer`, both ways.
    pub fn block_peer(&self, peer: impl AsIp) -> Result<Fault> {
        let peer = peer.as_ip()?;
        let family = match peer {
            IpAddr::V4(_) => "ip",
            IpAddr::V6(_) => "ip6",
        };
        self.nft_rules(
            &format!("block traffic with {peer}"),
            &[
                (Chain::Input, format!("{family} saddr {peer}")),
                (Chain::Output, format!("{family} daddr {peer}")),
            ],
        )
    }

    /// Drop everything in and out of the host that passes its IP hooks, except on loopback.
    /// Frames a program hands the device itself (baton's adverts to the VRRP group, GARPs)
    /// leave anyway: cut a host off completely with [`Host::link_down`] or [`Host::unplug`].
    pub fn block_all(&self) -> Result<Fault> {
        self.nft_rules(
            "block all traffic",
            &[
                (Chain::Input, "iifname != \"lo\"".into()),
                (Chain::Output, "oifname != \"lo\"".into()),
            ],
        )
    }

    /// Install a rule of your own: `matches` is an nft match expression (`udp dport 53`);
    /// matching packets are counted and dropped. The checkers' tests drop a protocol's
    /// probes with it (a hung server).
    pub fn nft_drop(&self, chain: Chain, matches: &str) -> Result<Fault> {
        self.nft_rules(&format!("drop {matches}"), &[(chain, matches.to_string())])
    }

    fn nft_rules(&self, what: &str, rules: &[(Chain, String)]) -> Result<Fault> {
        crate::require_tool("nft")?;
        // Declaring the table and chains again is harmless, so each fault just does it.
        self.tool(
            &["nft", "-f", "-"],
            Some(&format!(
                "table inet {TABLE} {{\n\
                 chain input {{ type filter hook input priority filter; policy accept; }}\n\
                 chain output {{ type filter hook output priority filter; policy accept; }}\n\
                 }}\n"
            )),
        )?;
        let mut fault = Fault {
            host: self.clone(),
            rules: Vec::new(),
            what: what.to_string(),
        };
        for (chain, matches) in rules {
            let rule = format!("{matches} counter drop comment \"baton-lab: {what}\"");
            let mut argv = vec!["nft", "--echo", "--handle", "add", "rule", "inet", TABLE];
            argv.push(chain.name());
            argv.extend(rule.split(' '));
            // nft takes the rule as separate words; quoting survives because it rejoins them.
            let echoed = self.tool(&argv, None);
            match echoed.and_then(|out| parse_handle(&out)) {
                Ok(handle) => fault.rules.push((*chain, handle)),
                Err(e) => {
                    // Leave nothing half-installed.
                    let _ = fault.remove_rules();
                    return Err(e);
                }
            }
        }
        Ok(fault)
    }
}

impl Fault {
    /// Lift the fault.
    pub fn remove(mut self) -> Result<()> {
        self.remove_rules()
    }

    fn remove_rules(&mut self) -> Result<()> {
        while let Some((chain, handle)) = self.rules.pop() {
            let handle = handle.to_string();
            self.host.tool(
                &[
                    "nft",
                    "delete",
                    "rule",
                    "inet",
                    TABLE,
                    chain.name(),
                    "handle",
                    &handle,
                ],
                None,
            )?;
        }
        Ok(())
    }

    /// How many packets the fault's rules have dropped so far.
    pub fn dropped_packets(&self) -> Result<u64> {
        let mut total = 0;
        for chain in [Chain::Input, Chain::Output] {
            let handles: Vec<u64> = self
                .rules
                .iter()
                .filter(|(c, _)| *c == chain)
                .map(|(_, h)| *h)
                .collect();
            if handles.is_empty() {
                continue;
            }
            let listing = self.host.tool(
                &["nft", "-j", "list", "chain", "inet", TABLE, chain.name()],
                None,
            )?;
            total += counted_packets(&listing, &handles)?;
        }
        Ok(total)
    }

    /// What the fault does, for messages.
    pub fn describe(&self) -> String {
        format!("{} on {}", self.what, self.host.name())
    }
}

/// The handle from `nft --echo --handle add rule ...` output (`... # handle 7`).
fn parse_handle(echo: &str) -> Result<u64> {
    echo.lines()
        .find_map(|l| {
            l.rsplit_once("# handle ")
                .and_then(|(_, h)| h.trim().parse().ok())
        })
        .ok_or_else(|| Error::invalid("nft echo", format!("no rule handle in {echo:?}")))
}

/// Sum of the counters of the rules with these handles in `nft -j list chain` output.
fn counted_packets(listing: &str, handles: &[u64]) -> Result<u64> {
    let v: serde_json::Value = serde_json::from_str(listing)
        .map_err(|e| Error::invalid("nft -j output", e.to_string()))?;
    let rules = v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("rule"));
    Ok(rules
        .filter(|r| r["handle"].as_u64().is_some_and(|h| handles.contains(&h)))
        .flat_map(|r| r["expr"].as_array().into_iter().flatten())
        .filter_map(|e| e.get("counter")?["packets"].as_u64())
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_comes_from_the_echo() {
        let echo = "add rule inet baton_lab input meta l4proto vrrp counter packets 0 bytes 0 \
                    drop comment \"baton-lab: drop IP protocol 112\" # handle 3\n\
                    # new generation 3 by process 25598 (nft)\n";
        assert_eq!(parse_handle(echo).unwrap(), 3);
        assert!(parse_handle("add rule inet x y drop\n").is_err());
    }

    #[test]
    fn counters_are_summed_for_our_rules_only() {
        let listing = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
          {"chain": {"family": "inet", "table": "baton_lab", "name": "input", "handle": 1}},
          {"rule": {"handle": 3, "expr": [{"match": {}}, {"counter": {"packets": 6, "bytes": 300}}, {"drop": null}]}},
          {"rule": {"handle": 4, "expr": [{"counter": {"packets": 100, "bytes": 1}}, {"drop": null}]}}]}"#;
        assert_eq!(counted_packets(listing, &[3]).unwrap(), 6);
        assert_eq!(counted_packets(listing, &[3, 4]).unwrap(), 106);
        assert_eq!(counted_packets(listing, &[9]).unwrap(), 0);
    }
}
