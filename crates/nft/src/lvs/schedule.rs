//! How a scheduler becomes a number and a map: each new client gets a slot number (a counter
//! for round robin, a hash of its address for the hashing schedulers), and an interval map
//! turns slot ranges into real servers. The map's contents are all that weights change.

use std::net::SocketAddr;

use super::model::Scheduler;

/// A server to schedule: the caller's number for it, its address and its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: u32,
    pub addr: SocketAddr,
    pub weight: u32,
}

/// What the slot number is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotSource {
    /// `numgen inc`: one step per new client.
    Counter,
    /// `jhash` of the client's address (and port).
    SourceHash { port: bool },
    /// `jhash` of the destination address.
    DestinationHash,
}

/// The slot layout of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Nothing to schedule to.
    Nobody,
    /// One server takes every new client.
    One(u32),
    /// `slot = source mod modulus`, then `runs` (first slot, last slot, id) map slots to ids.
    Slots {
        source: SlotSource,
        modulus: u32,
        runs: Vec<(u32, u32, u32)>,
    },
}

/// Interleave weighted round robin as IPVS does when a cycle is at most this long; longer
/// cycles give each server one contiguous run (two map elements per server).
const MAX_INTERLEAVED: u64 = 1024;

/// The slot layout for scheduler `sched` (one nftables can run, see
/// [`super::limits::scheduler_used`]) over `servers` (weights above 0, in order).
pub fn pick(sched: Scheduler, hash_port: bool, servers: &[Candidate]) -> Pick {
    let servers: Vec<Candidate> = servers.iter().copied().filter(|c| c.weight > 0).collect();
    if servers.is_empty() {
        return Pick::Nobody;
    }
    if sched == Scheduler::Fo {
        // The first of the heaviest, as IPVS's fo.
        let max = servers.iter().map(|c| c.weight).max().unwrap_or(0);
        return servers
            .iter()
            .find(|c| c.weight == max)
            .map_or(Pick::Nobody, |c| Pick::One(c.id));
    }
    if servers.len() == 1 {
        return Pick::One(servers[0].id);
    }
    let weights: Vec<u32> = match sched {
        Scheduler::Rr => vec![1; servers.len()],
        _ => reduce(&servers.iter().map(|c| c.weight).collect::<Vec<_>>()),
    };
    let ids: Vec<u32> = servers.iter().map(|c| c.id).collect();
    match sched {
        Scheduler::Mh => {
            let table = maglev(&servers, &weights);
            Pick::Slots {
                source: SlotSource::SourceHash { port: hash_port },
                modulus: table.len() as u32,
                runs: runs(table.iter().map(|&i| ids[i])),
            }
        }
        Scheduler::Sh | Scheduler::Dh => {
            let (modulus, runs) = contiguous(&ids, &weights);
            let source = if sched == Scheduler::Dh {
                SlotSource::DestinationHash
            } else {
                SlotSource::SourceHash { port: hash_port }
            };
            Pick::Slots {
                source,
                modulus,
                runs,
            }
        }
        _ => {
            let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
            let (modulus, runs) = if total <= MAX_INTERLEAVED {
                let seq = interleaved(&weights);
                (seq.len() as u32, runs(seq.iter().map(|&i| ids[i])))
            } else {
                contiguous(&ids, &weights)
            };
            Pick::Slots {
                source: SlotSource::Counter,
                modulus,
                runs,
            }
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Divide weights by their greatest common divisor, and scale them down in proportion when
/// their sum does not fit 32 bits (every weight stays at least 1).
fn reduce(weights: &[u32]) -> Vec<u32> {
    let g = weights.iter().copied().fold(0, gcd).max(1);
    let mut w: Vec<u32> = weights.iter().map(|&x| x / g).collect();
    let total: u64 = w.iter().map(|&x| u64::from(x)).sum();
    if total > u64::from(u32::MAX) {
        let scale = total.div_ceil(u64::from(u32::MAX) / 2);
        w = w
            .iter()
            .map(|&x| ((u64::from(x) / scale).max(1)) as u32)
            .collect();
    }
    w
}

/// IPVS's weighted round robin order: rounds from the largest weight down, each round taking
/// every server whose weight reaches it. Weights 3, 1 give A A A B; 2, 2, 1 give A B A B C.
fn interleaved(weights: &[u32]) -> Vec<usize> {
    let max = weights.iter().copied().max().unwrap_or(0);
    let mut seq = Vec::new();
    for cw in (1..=max).rev() {
        for (i, &w) in weights.iter().enumerate() {
            if w >= cw {
                seq.push(i);
            }
        }
    }
    seq
}

/// One run per server, as long as its weight.
fn contiguous(ids: &[u32], weights: &[u32]) -> (u32, Vec<(u32, u32, u32)>) {
    let mut start = 0u32;
    let mut out = Vec::new();
    for (&id, &w) in ids.iter().zip(weights) {
        out.push((start, start + w - 1, id));
        start += w;
    }
    (start, out)
}

/// Collapse a slot sequence into runs of equal ids.
fn runs(seq: impl Iterator<Item = u32>) -> Vec<(u32, u32, u32)> {
    let mut out: Vec<(u32, u32, u32)> = Vec::new();
    for (slot, id) in seq.enumerate() {
        let slot = slot as u32;
        match out.last_mut() {
            Some(last) if last.2 == id && last.1 + 1 == slot => last.1 = slot,
            _ => out.push((slot, slot, id)),
        }
    }
    out
}

/// The Maglev table size: IPVS's default (a prime). It never changes with the number of
/// servers, or a change of servers would move every client.
const MAGLEV_SIZE: usize = 4093;

/// The Maglev lookup table (Eisenbud et al., NSDI 2016) with weights, as IPVS's mh builds it:
/// each server walks its own permutation of the slots (from a hash of its address), taking
/// free ones in turns, `weight` slots per turn. Removing a server moves only its own slots.
fn maglev(servers: &[Candidate], weights: &[u32]) -> Vec<usize> {
    let n = servers.len();
    let m = MAGLEV_SIZE;
    // Turns per round: weights relative to the largest, at least 1.
    let maxw = weights.iter().copied().max().unwrap_or(1);
    let scale = maxw.div_ceil(64).max(1);
    let turns: Vec<u32> = weights.iter().map(|&w| (w / scale).max(1)).collect();
    let perm: Vec<(usize, usize)> = servers
        .iter()
        .map(|c| {
            let key = addr_key(&c.addr);
            let offset = (fnv1a(&key, 0xcbf2_9ce4_8422_2325) % m as u64) as usize;
            let skip = (fnv1a(&key, 0x8422_2325_cbf2_9ce4) % (m as u64 - 1)) as usize + 1;
            (offset, skip)
        })
        .collect();
    let mut next = vec![0usize; n];
    let mut table = vec![usize::MAX; m];
    let mut filled = 0;
    'fill: loop {
        for i in 0..n {
            for _ in 0..turns[i] {
                let (offset, skip) = perm[i];
                let mut c = (offset + next[i] * skip) % m;
                while table[c] != usize::MAX {
                    next[i] += 1;
                    c = (offset + next[i] * skip) % m;
                }
                table[c] = i;
                next[i] += 1;
                filled += 1;
                if filled == m {
                    break 'fill;
                }
            }
        }
    }
    table
}

fn addr_key(a: &SocketAddr) -> Vec<u8> {
    let mut k = match a.ip() {
        std::net::IpAddr::V4(v) => v.octets().to_vec(),
        std::net::IpAddr::V6(v) => v.octets().to_vec(),
    };
    k.extend_from_slice(&a.port().to_be_bytes());
    k
}

/// FNV-1a: a hash that stays the same across builds and hosts, so two directors build the
/// same Maglev table.
fn fnv1a(data: &[u8], basis: u64) -> u64 {
    data.iter().fold(basis, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Candidate {
                id: i as u32 + 1,
                addr: SocketAddr::from(([10, 0, 0, i as u8 + 1], 80)),
                weight: w,
            })
            .collect()
    }

    fn share(p: &Pick) -> Vec<(u32, u32)> {
        let Pick::Slots { runs, .. } = p else {
            panic!("{p:?}")
        };
        let mut per: std::collections::BTreeMap<u32, u32> = Default::default();
        for &(a, b, id) in runs {
            *per.entry(id).or_default() += b - a + 1;
        }
        per.into_iter().collect()
    }

    #[test]
    fn weighted_round_robin_interleaves_like_ipvs() {
        assert_eq!(interleaved(&[3, 1]), [0, 0, 0, 1]);
        assert_eq!(interleaved(&[2, 2, 1]), [0, 1, 0, 1, 2]);
        let p = pick(Scheduler::Wrr, false, &cands(&[100, 200, 300]));
        // gcd 100: a cycle of 6 slots, 1:2:3.
        assert_eq!(share(&p), [(1, 1), (2, 2), (3, 3)]);
        assert!(matches!(
            p,
            Pick::Slots {
                modulus: 6,
                source: SlotSource::Counter,
                ..
            }
        ));
    }

    #[test]
    fn round_robin_ignores_weights_and_skips_weight_zero() {
        let p = pick(Scheduler::Rr, false, &cands(&[5, 0, 1]));
        assert_eq!(share(&p), [(1, 1), (3, 1)]);
        assert_eq!(pick(Scheduler::Rr, false, &cands(&[0, 0])), Pick::Nobody);
        assert_eq!(pick(Scheduler::Wrr, false, &cands(&[0, 7])), Pick::One(2));
    }

    #[test]
    fn long_cycles_are_contiguous_runs() {
        let p = pick(Scheduler::Wrr, false, &cands(&[1000, 999]));
        let Pick::Slots { modulus, runs, .. } = &p else {
            panic!()
        };
        assert_eq!(*modulus, 1999);
        assert_eq!(runs, &[(0, 999, 1), (1000, 1998, 2)]);
    }

    #[test]
    fn huge_weights_are_scaled_to_fit() {
        let w = reduce(&[u32::MAX, u32::MAX - 1, 1]);
        let total: u64 = w.iter().map(|&x| u64::from(x)).sum();
        assert!(total <= u64::from(u32::MAX));
        assert_eq!(w[2], 1);
    }

    #[test]
    fn failover_takes_the_heaviest() {
        assert_eq!(pick(Scheduler::Fo, false, &cands(&[1, 5, 5])), Pick::One(2));
    }

    #[test]
    fn maglev_is_balanced_and_moves_little_when_a_server_goes() {
        let all = cands(&[1, 1, 1, 1]);
        let t4 = maglev(&all, &[1, 1, 1, 1]);
        assert_eq!(t4.len(), 4093);
        for i in 0..4 {
            let n = t4.iter().filter(|&&x| x == i).count();
            assert!((1000..=1050).contains(&n), "server {i} has {n} of 4093");
        }
        // Without server 3, the others keep nearly all of their slots.
        let t3 = maglev(&all[..3], &[1, 1, 1]);
        let kept = (0..t4.len())
            .filter(|&s| t4[s] != 3 && t4[s] == t3[s])
            .count();
        let had = t4.iter().filter(|&&x| x != 3).count();
        assert!(kept * 100 / had >= 90, "kept {kept} of {had}");
    }

    #[test]
    fn maglev_honours_weights() {
        let t = maglev(&cands(&[1, 3]), &[1, 3]);
        let b = t.iter().filter(|&&x| x == 1).count();
        assert!((b * 100 / t.len()).abs_diff(75) <= 2, "{b} of {}", t.len());
    }
}
