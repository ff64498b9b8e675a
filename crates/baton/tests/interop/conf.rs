//! One keepalived.conf for both sides: baton reads keepalived's language, so baton and
//! keepalived run from configurations built by the same code and differing only where a case
//! makes them differ.

use std::fmt::Write as _;
use std::time::Duration;

use crate::topology::{IFNAME, VRID, Version};

/// One `vrrp_instance VI_1` and the global knobs it needs.
#[derive(Debug, Clone)]
pub struct InstanceConf {
    pub router_id: String,
    pub priority: u8,
    pub version: Version,
    pub interval: Duration,
    /// `authentication { auth_type PASS; auth_pass ... }`.
    pub auth_pass: Option<String>,
    /// `unicast_src_ip` and the one `unicast_peer`.
    pub unicast: Option<(String, String)>,
    pub vips: Vec<String>,
    /// `v3_checksum_as_v2` in global_defs.
    pub checksum_as_v2: bool,
    /// `auth_hmac` (keepalived 2.4.2+) with [`HMAC_KEY`] as key 1.
    pub auth_hmac: bool,
    /// `use_vmac`: the VRRP virtual MAC on a macvlan.
    pub use_vmac: bool,
}

/// The key both sides share in the `auth_hmac` cases: 32 bytes, written in hex.
pub const HMAC_KEY: &str = "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

impl InstanceConf {
    /// The seed's shape: MASTER at 200 or BACKUP at 100, the VIP of `family`.
    pub fn new(router_id: &str, priority: u8, version: Version, vip: &str) -> InstanceConf {
        InstanceConf {
            router_id: router_id.to_string(),
            priority,
            version,
            interval: version.interval(),
            auth_pass: None,
            unicast: None,
            vips: vec![vip.to_string()],
            checksum_as_v2: false,
            auth_hmac: false,
            use_vmac: false,
        }
    }

    pub fn render(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "global_defs {{\n    router_id {}", self.router_id);
        if self.checksum_as_v2 {
            c.push_str("    v3_checksum_as_v2\n");
        }
        c.push_str("}\n\nvrrp_instance VI_1 {\n");
        let state = if self.priority >= 200 {
            "MASTER"
        } else {
            "BACKUP"
        };
        let _ = writeln!(c, "    state {state}");
        let _ = writeln!(c, "    interface {IFNAME}");
        let _ = writeln!(c, "    virtual_router_id {VRID}");
        let _ = writeln!(c, "    priority {}", self.priority);
        let _ = writeln!(c, "    advert_int {}", self.interval.as_secs_f64());
        let _ = writeln!(c, "    version {}", self.version.number());
        if let Some(pass) = &self.auth_pass {
            let _ = writeln!(
                c,
                "    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}"
            );
        }
        if self.use_vmac {
            c.push_str("    use_vmac\n");
        }
        if self.auth_hmac {
            let _ = writeln!(
                c,
                "    auth_hmac {{\n        key 1 {HMAC_KEY}\n        active_key 1\n    }}"
            );
        }
        if let Some((src, peer)) = &self.unicast {
            let _ = writeln!(c, "    unicast_src_ip {src}");
            let _ = writeln!(c, "    unicast_peer {{\n        {peer}\n    }}");
        }
        c.push_str("    virtual_ipaddress {\n");
        for vip in &self.vips {
            let _ = writeln!(c, "        {vip}");
        }
        c.push_str("    }\n}\n");
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_seed_shape() {
        let mut conf = InstanceConf::new("r1", 200, Version::V2, "192.168.5.10");
        conf.auth_pass = Some("1111".into());
        let text = conf.render();
        assert!(text.contains("    state MASTER\n"), "{text}");
        assert!(text.contains("    advert_int 1\n"), "{text}");
        assert!(
            text.contains("auth_type PASS\n        auth_pass 1111\n"),
            "{text}"
        );
        assert!(!text.contains("unicast"), "{text}");
        let mut v3 = InstanceConf::new("r2", 100, Version::V3, "192.168.5.10");
        v3.unicast = Some(("192.168.5.12".into(), "192.168.5.11".into()));
        v3.checksum_as_v2 = true;
        let text = v3.render();
        assert!(text.contains("    state BACKUP\n"), "{text}");
        assert!(text.contains("    advert_int 0.2\n"), "{text}");
        assert!(text.contains("    v3_checksum_as_v2\n"), "{text}");
        assert!(
            text.contains("unicast_peer {\n        192.168.5.11\n    }"),
            "{text}"
        );
    }
}
