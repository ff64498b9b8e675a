//! The seed's system in a lab: two load balancers, each running nginx and the real `baton`
//! with the seed's configuration plus a tracker on nginx, and a client on the same segment
//! that asks who answers for the VIP.

use std::path::Path;
use std::time::{Duration, Instant};

use baton_lab::{Host, HostSpec, Lab, Probe, Prober, Sample};

use crate::common::*;
use crate::health::nginx::Nginx;

/// The client's address on the seed's segment.
pub const CLIENT: &str = "192.168.5.20";
/// The seed's advertisement interval.
pub const ADVERT_INT: Duration = Duration::from_secs(1);
/// How often the client asks who holds the VIP.
pub const PROBE_EVERY: Duration = Duration::from_millis(1);
/// The environment variable that sets how many kill/restart rounds a failover test runs
/// (the measurement runs at least 5).
pub const RUNS_ENV: &str = "BATON_HEALTH_RUNS";

/// Add a tracker definition before the seed's instance and a reference to it inside it.
pub fn with_tracker(seed: &str, definition: &str, reference: &str) -> String {
    let conf = seed
        .replace(
            "vrrp_instance VI_1 {",
            &format!("{definition}\n\nvrrp_instance VI_1 {{"),
        )
        .replace(
            "virtual_ipaddress {",
            &format!("{reference}\nvirtual_ipaddress {{"),
        );
    assert_ne!(conf, seed, "the seed's configuration changed shape");
    conf
}

/// The seed's lab plus a client host on the same segment, or `None` when not root.
pub fn seed_lab_with_client(name: &str) -> Option<(Lab, Host, Host, Host)> {
    let (lab, lb1, lb2) = seed_lab(name)?;
    let client = lab
        .add_host(
            HostSpec::new("client")
                .ifname("eth0")
                .addr(format!("{CLIENT}/24")),
        )
        .unwrap();
    Some((lab, lb1, lb2, client))
}

/// Both load balancers with nginx running and baton settled: lb1 (priority 200) master
/// holding the VIP, lb2 backup.
#[derive(Debug)]
pub struct NginxPair {
    pub b1: Baton,
    pub b2: Baton,
    pub nginx1: Nginx,
    pub nginx2: Nginx,
    pub client: Host,
    pub lb1: Host,
    pub lb2: Host,
    pub lab: Lab,
}

impl NginxPair {
    /// `conf(seed, host)` makes a host's configuration from its seed configuration.
    pub fn start(name: &str, conf: impl Fn(&str, &Host) -> String) -> Option<NginxPair> {
        NginxPair::start_with(name, conf, Baton::start)
    }

    /// The same, each daemon started by `start_daemon(host, configuration)`.
    pub fn start_with(
        name: &str,
        conf: impl Fn(&str, &Host) -> String,
        start_daemon: impl Fn(&Host, &str) -> Baton,
    ) -> Option<NginxPair> {
        let (lab, lb1, lb2, client) = seed_lab_with_client(name)?;
        let nginx1 = Nginx::install(&lb1, LB1);
        let nginx2 = Nginx::install(&lb2, LB2);
        nginx1.start();
        nginx2.start();
        let b1 = start_daemon(&lb1, &conf(SEED_MASTER, &lb1));
        let b2 = start_daemon(&lb2, &conf(SEED_BACKUP, &lb2));
        b1.wait_state("Master", mdi_v2(200, ADVERT_INT) + Duration::from_secs(2));
        b2.wait_state("Backup", ADVERT_INT);
        assert!(holds(&lb1, VIP) && !holds(&lb2, VIP));
        Some(NginxPair {
            b1,
            b2,
            nginx1,
            nginx2,
            client,
            lb1,
            lb2,
            lab,
        })
    }

    /// ARP for the VIP from the client every millisecond.
    pub fn probe(&self) -> Prober {
        self.client
            .start_probe(Probe::arp("eth0", VIP).unwrap(), PROBE_EVERY)
            .unwrap()
    }
}

/// The MAC of a load balancer's `ens33`, as the probe reports responders.
pub fn mac(host: &Host) -> String {
    host.interface("ens33").unwrap().mac.to_string()
}

/// The first probe round at or after `since` that `mac` answered; fails after `timeout`.
pub fn answered_by(
    probe: &Prober,
    mac: &str,
    since: Instant,
    timeout: Duration,
    what: &str,
) -> Sample {
    probe
        .wait_for(what, timeout, |s| {
            s.at >= since && s.responders.iter().any(|r| r == mac)
        })
        .unwrap()
}

/// The first round at or after `since` answered by `mac` alone (the other host no longer
/// answers for the VIP).
pub fn answered_only_by(
    probe: &Prober,
    mac: &str,
    since: Instant,
    timeout: Duration,
    what: &str,
) -> Sample {
    probe
        .wait_for(what, timeout, |s| s.at >= since && s.responders == [mac])
        .unwrap()
}

/// From `from` to the end of the probe round `s` (the answer came within that round, so this
/// never understates).
pub fn until_answer(from: Instant, s: &Sample) -> Duration {
    (s.at + PROBE_EVERY).saturating_duration_since(from)
}

/// How many kill/restart rounds to run: `BATON_HEALTH_RUNS`, else `default`.
pub fn runs(default: usize) -> usize {
    match std::env::var(RUNS_ENV) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{RUNS_ENV}={v:?} is not a number of runs")),
        Err(_) => default,
    }
}

/// The median of some durations (the lower middle one for an even count).
pub fn median(durations: &[Duration]) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    sorted[(sorted.len() - 1) / 2]
}

/// Print a measurement in one greppable line.
pub fn report(what: &str, durations: &[Duration]) {
    let ms: Vec<String> = durations
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
        .collect();
    eprintln!(
        "{what}: median {:.1} ms over {} runs [{} ms]",
        median(durations).as_secs_f64() * 1e3,
        durations.len(),
        ms.join(", ")
    );
}

/// Write an executable script into the host's directory.
pub fn write_script(host: &Host, name: &str, body: &str) -> std::path::PathBuf {
    let path = host.write_file(name, body).unwrap();
    set_mode(&path, 0o755);
    path
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Start the real `baton` under another name: through a symlink called `name` in the
/// host's directory (`keepalived`, as a distribution's alias would install it), so the
/// kernel names the process after the link. Ready once its control socket answers.
pub fn start_baton_as(host: &Host, name: &str, conf: &str) -> Baton {
    let link = host.path(format!("sbin/{name}"));
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(BATON, &link).unwrap();
    Baton::start_program(host, &link, conf, &[])
}
