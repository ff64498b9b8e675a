//! The one table, and docs/PERFORMANCE.md around it.

use std::fmt::Write as _;

use crate::machine::Machine;

/// One line of the table: a measure, its bound, each daemon's figure, and whether baton met
/// its target.
#[derive(Debug, Clone)]
pub struct Row {
    pub section: &'static str,
    pub measure: String,
    pub bound: String,
    pub baton: String,
    pub keepalived: String,
    pub target: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Anything a reader needs beside the table: failed runs, what could not be measured.
    pub notes: Vec<String>,
}

/// "met (≤ bound + 2 ms)", "MISSED (…)", or "–" when there is nothing to judge.
pub fn target(met: Option<bool>, what: &str) -> String {
    match met {
        Some(true) => format!("met ({what})"),
        Some(false) => format!("MISSED ({what})"),
        None => format!("– ({what}: no data)"),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Report {
    /// The table, in markdown (readable as it is in a terminal).
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| section | measure | bound | baton | keepalived | baton's target |\n|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.section,
                cell(&r.measure),
                cell(&r.bound),
                cell(&r.baton),
                cell(&r.keepalived),
                cell(&r.target)
            );
        }
        s
    }

    pub fn notes_text(&self) -> String {
        /// A failed run's note quotes logs; the start says why, the rest is in the lab's logs.
        const LONGEST: usize = 400;
        let mut s = String::new();
        for n in &self.notes {
            let mut line = n.replace('\n', " ");
            if let Some((cut, _)) = line.char_indices().nth(LONGEST) {
                line.truncate(cut);
                line.push_str(" …");
            }
            let _ = writeln!(s, "- {line}");
        }
        s
    }

    /// docs/PERFORMANCE.md: the table, the command, the machine, and how each figure is taken.
    pub fn markdown(
        &self,
        command: &str,
        quick: bool,
        machine: &Machine,
        elapsed: std::time::Duration,
    ) -> String {
        let mut s = String::from("# Performance: baton beside keepalived\n\n");
        if quick {
            s.push_str(
                "*A `--quick` smoke run: fewer runs and shorter windows than the full run.*\n\n",
            );
        }
        s.push_str(
            "Produced by the benchmark runner, not written by hand: both daemons run in the same \
             network-namespace lab, one after the other, in one run, and every figure below comes \
             from that run. Regenerate it (as root) with:\n\n",
        );
        let _ = writeln!(s, "```sh\n{command}\n```\n");
        let _ = writeln!(s, "## Machine\n\n{}", machine.markdown());
        let _ = writeln!(s, "Run took {:.1} min.\n", elapsed.as_secs_f64() / 60.0);
        s.push_str("## Results\n\n");
        s.push_str(&self.table());
        s.push('\n');
        if !self.notes.is_empty() {
            s.push_str("## Notes from this run\n\n");
            s.push_str(&self.notes_text());
            s.push('\n');
        }
        s.push_str(METHOD);
        s
    }
}

/// How each figure is taken; fixed text, part of the generated file.
const METHOD: &str = "## How the figures are taken

- **Lab.** `baton-lab` hosts, each with its own network and PID namespace: `lb1`
  (192.168.5.11, priority 200, `state MASTER`) and `lb2` (192.168.5.12, priority 100,
  `state BACKUP`) on `ens33`, VIP 192.168.5.10, and a client, on one bridge. Both daemons run
  the same generated `keepalived.conf` (the seed's instance; `v2 1 s` is the seed's
  `advert_int 1` with PASS authentication, `v3 0.1 s` is `version 3`, `advert_int 0.1`).
  keepalived is Debian's, started as its unit does (`keepalived --dont-fork`, plus `-l` and
  pid files in the host's directory); baton is the release build, `baton -n -l -f … -p …`.
- **Wire timings** come from one tcpdump capture on the lab's bridge per run (`vrrp or arp`,
  microsecond timestamps). Crash: `SIGKILL` to every process of the master's daemon
  (keepalived's VRRP child first), measured from the old master's last advert. Graceful:
  `SIGTERM` to the master's main process, measured from its priority-0 advert. \"VIP up\" is
  the new master's first gratuitous ARP for the VIP (both daemons send it after adding the
  address). Each cell is the median of the runs, with min–max and the count.
- **RFC bounds.** Crash: Master_Down_Interval = 3 × interval + Skew_Time; graceful:
  Skew_Time; Skew_Time = (256 − 100)/256 s for v2 and (256 − 100) × interval/256 for v3 (the
  backup's priority is 100). baton's fast handover (its default, off under `vrrp_strict`)
  waits (256 − priority) × 20 ms/256 = 12.2 ms after a priority-0 advert instead of Skew_Time.
- **Service death.** nginx (Debian's nginx-light, one worker) runs on both load balancers
  answering with the host's name; every nginx process on lb1 is SIGKILLed at once. Figures
  run from the kill: to lb2's first GARP for the VIP, and to the first HTTP answer from lb2
  through the VIP seen by a client opening a fresh connection every millisecond. baton uses
  `vrrp_track_process` (weight 0: FAULT, priority-0 advert). keepalived runs the seed's
  script (every 2 s; nginx cannot be restarted because its configuration was broken first,
  so the script runs `killall keepalived`: a priority-0 advert) at v2 1 s, and at v3 0.1 s the
  fastest check it can run here: `vrrp_script` `pgrep -x nginx` every second (2.2.7 refuses
  intervals under 1 s), weight 0. keepalived's own `vrrp_track_process` is tried too; it
  needs the proc connector, which is refused in a network namespace. Bounds: baton's is its
  fast handover (the master's tracker sees the death at once; a priority-0 advert; the
  backup waits 12.2 ms); keepalived's is the script interval (the death may come just after
  a run) plus Skew_Time, since both of its scripts end in a priority-0 advert (FAULT, or
  `killall keepalived`, which is SIGTERM).
- **Footprint.** Each daemon alone on a segment of its own, master of its instances, all
  measured in the same window. The idle window is split over three starts of both daemons,
  since which of a program's pages are resident moves by a few hundred kB from one start of
  the same binary to the next. Memory, summed over all of the daemon's processes and read at
  the end of each start's window, is the median of the starts (their spread beside it):
  `VmRSS` (/proc/<pid>/status; the target is judged on it), `Pss`
  (/proc/<pid>/smaps_rollup: pages shared with other processes split between them, so it
  also depends on what else runs on the machine, other keepalived processes included) and
  `Anonymous` (smaps_rollup: heap and stacks, what the daemon itself allocated). Most of a
  daemon's RSS is its program's pages, which is why baton's release profile builds for size
  (opt-level \"s\", fat LTO, one codegen unit). CPU: the sum of `utime + stime`
  (/proc/<pid>/stat) over the starts' windows.
- **Scale.** A master (priority 200) and a backup (priority 100) of the same daemon, N
  instances on one interface at VRRPv3 (0.1 s unless `--interval` says otherwise), one VIP
  each; VRIDs 1–255, each further block of 255 instances on its own multicast group
  (`mcast_dst_ip`). The backup is started once the master holds every VIP. A step passes if,
  over the window after convergence, no instance of either daemon changed state (baton: the
  status counters of transitions; keepalived: its `Entering … STATE` log lines) and the
  backup sent no advert. Adverts are counted on the bridge by an nftables counter (bridge
  family, prerouting, per source address), which costs the daemons nothing; CPU per advert
  sent is the master daemon's CPU time over the window (utime + stime, so the kernel's work
  on the packets counts) divided by the adverts it put on the wire; CPU per advert received
  is the backup's CPU time divided by the adverts the kernel handed it (those sent, less the
  drops at its full socket in /proc/net/raw over the window). The *raw-send floor* is
  measured in the same lab right after the window, both daemons still running: a plain raw
  socket (protocol 112, bound to the master's interface and address, TOS 0xc0, TTL 255)
  sends VI_1's very advert with one `sendto` per packet, 20,000 times in bursts of 100, and
  its thread's CPU time (/proc/thread-self/schedstat) is divided by the sends. Memory per
  instance is the slope of the master's VmRSS between the smallest and the largest step it
  held. The *fast run* holds 1,000 instances at 0.01 s (100,000 adverts/s from the master)
  for the window, then SIGKILLs the master with a capture running on the bridge: each
  instance's takeover is its last advert from the master to the backup's first (keyed by
  group and VRID), against its bound 3 × 10 ms + Skew_Time (priority 100); the distribution
  is printed in the notes, per millisecond.
- **Virtual servers (LVS).** A client (10.1.0.2), a director (10.1.0.1, VIP 10.1.0.100, and
  10.2.0.1 towards the real servers) and two real servers running Debian's nginx-light (one
  worker each, `return 200`), routing through the director. *Throughput:* baton on the
  director with `virtual_server 10.1.0.100 80` (rr, NAT, TCP_CHECK) beside nginx on the same
  director as a reverse proxy to the same two servers (`worker_processes auto`, upstream
  keepalive 64), as the seed runs it; 16 client threads send `GET /` one after the other for
  the window, over kept-alive HTTP/1.1 connections or with a new connection per request,
  first through the VIP, then through the proxy; every request's latency is kept for p50 and
  p99. Everything shares the machine's cores, the client included. *Deaths:* four virtual
  servers on ports 80–83 over the same two real servers, each with one checker kind; rs2's
  nginx is SIGKILLed at a random point of the cycle; detection is the kill to the daemon's
  \"Removing service … from VS …\" line (read from its log every 2 ms); the last failed
  request is the last of a client's fresh connections to port 80 (one every 2 ms) that
  failed. The bound is one check cycle: delay_loop + connect_timeout × (retry + 1) +
  delay_before_retry × retry, plus 50 ms. keepalived's checker (`keepalived -C`) is started
  on the same configuration; where it cannot run, its own log lines say why (in the notes).
  *CPU:* 1,000 virtual servers with one checker each against rs1 at delay_loop 1; the whole
  baton process's `utime + stime` over the window, and the probes its checkers made.
- **Routed VIPs.** The lab of `cargo test -p baton --test routed` (`baton_lab::routed`;
  configurations in docs/ROUTED.md): lb1 (10.0.1.2) and lb2 (10.0.2.2) in different subnets,
  each putting the VIP 10.100.0.1/32 in routing table 100 while MASTER and announcing that
  table by BGP (FRR 8.4's zebra + bgpd, or BIRD 2) to an upstream FRR router, with a client
  behind the router; keepalive 1 s, hold 3 s, BFD (where on) 100 ms × 3. Every time is read
  off netlink route notifications stamped as they arrive in the load balancer's and the
  router's namespaces, from the moment just before the kill (or before `ip link set dev eth0
  down` runs, so starting `ip` is included).
  *Service death:* a primary/backup pair (unicast VRRP across the router, v3 0.2 s); lb1's
  nginx is SIGKILLed; → the route gone from lb1's kernel table 100 (the daemon's part), → the
  router's route through lb1 gone or replaced, → the first HTTP answer from lb2 to a client
  opening a fresh connection every millisecond. baton watches nginx with
  `vrrp_track_process`; keepalived 2.2.7 runs the same instance and `virtual_routes` with
  `vrrp_script` `pgrep -x nginx` every second (its track_process needs the proc connector,
  refused in a network namespace) and a placeholder address 192.0.2.1/32 on `lo` (2.2.7
  wants a VIP and has no `no_virtual_ipaddress`), after baton, in the same lab. Each kill
  comes 50–1,050 ms (pseudo-random) after the watchers start, so it lands anywhere in
  keepalived's script cycle. The notes split baton's part by its own log (the tracker's
  \"Tracked process chk_nginx: 0 running\", and \"Entering FAULT STATE\", logged after the
  route delete is acknowledged) and give the time its threads spent runnable but waiting for a
  CPU (/proc schedstat) from the kill to the survivor's answer. *Cut off:*
  an anycast pair (an instance each, no election); lb2's uplink is set down, so no BGP
  message can leave it: the router drops lb2's next hop when BFD (or, without BFD, the hold
  timer) declares the session down. The link is then brought back and the next run waits for
  the session and both next hops.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_line_per_row_and_escapes_pipes() {
        let r = Report {
            rows: vec![Row {
                section: "failover",
                measure: "a | b".into(),
                bound: "1 s".into(),
                baton: "2 s".into(),
                keepalived: "3 s".into(),
                target: target(Some(false), "≤ 1 s"),
            }],
            notes: vec![],
        };
        let t = r.table();
        assert_eq!(t.lines().count(), 3);
        assert!(t.contains("a \\| b"));
        assert!(t.contains("MISSED (≤ 1 s)"));
        assert_eq!(target(None, "x"), "– (x: no data)");
    }

    #[test]
    fn long_notes_are_cut() {
        let r = Report {
            rows: vec![],
            notes: vec!["é".repeat(1000), "short".into()],
        };
        let text = r.notes_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0].chars().count(),
            "- ".len() + 400 + " …".chars().count()
        );
        assert_eq!(lines[1], "- short");
    }
}
