//! The draw (draw-spec §6–§10): seed, tickets, per-stratum sample sizes, selection by smallest
//! tickets, inspector matching, and replacements replayed from the same seed.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::encode::{Encoder, Hash, hex32, sha256};
use super::matching::Matcher;
use super::model::{InspectorId, ObjectId, Snapshot};
use super::policy::{CooldownAction, Mode, Policy, Rounding};
use super::pool::{Commitment, CommittedPool, Placement, Stratum};
use super::replacement::Tally;
pub use super::replacement::{ReplacementRecord, ReplacementRequest};
use super::rng::Stream;
use super::{CoreError, Protocol};

/// The commitment carries SHA-256(secret); the secret itself is revealed with the result.
pub fn secret_hash(secret: &[u8]) -> Hash {
    sha256(secret)
}

/// seed = SHA-256(lp("double-random/vN seed") ‖ lp(protocol) ‖ lp(task id) ‖ lp(commitment) ‖
/// lp(secret) ‖ u32 n ‖ lp(entropy_1) … lp(entropy_n)).
pub fn derive_seed(commitment: &Commitment, secret: &[u8], entropy: &[Vec<u8>]) -> Hash {
    let mut e = Encoder::with_domain(&commitment.protocol.label("seed"));
    e.str(commitment.protocol.id())
        .str(&commitment.task_id)
        .bytes(&commitment.encode())
        .bytes(secret)
        .count(entropy.len());
    for v in entropy {
        e.bytes(v);
    }
    e.sha256()
}

/// An object's ticket (draw-spec §6.4). v1: SHA-256(SHA-256("double-random/v1 ticket") ‖ seed ‖
/// lp(id)), which anyone can compute for any id. v2: SHA-256(SHA-256("double-random/v2 ticket")
/// ‖ seed ‖ leaf), keyed by the object's stratum leaf: only a drawn object's leaf is published,
/// so no other object's ticket (nor, with the cutoffs, its stratum) can be computed.
/// The first 64 bytes fill one SHA-256 block, so each ticket costs a single block after the
/// shared prefix.
pub fn ticket(protocol: Protocol, seed: &Hash, id: &ObjectId, leaf: &Hash) -> Hash {
    ticket_from(&ticket_hasher(protocol, seed), protocol, id.as_str(), leaf)
}

fn ticket_from(prefix: &Sha256, protocol: Protocol, id: &str, leaf: &Hash) -> Hash {
    let h = prefix.clone();
    match protocol {
        Protocol::V1 => h
            .chain_update((id.len() as u32).to_be_bytes())
            .chain_update(id),
        Protocol::V2 => h.chain_update(leaf),
    }
    .finalize()
    .into()
}

fn ticket_hasher(protocol: Protocol, seed: &Hash) -> Sha256 {
    static LABELS: LazyLock<[Hash; 2]> =
        LazyLock::new(|| Protocol::ALL.map(|p| sha256(p.label("ticket").as_bytes())));
    let mut h = Sha256::new();
    h.update(LABELS[protocol as usize]);
    h.update(seed);
    h
}

/// Sample size of each stratum (draw-spec §8).
/// `strata` holds (tier index, cooled, population) per stratum.
pub fn sample_sizes(
    protocol: Protocol,
    policy: &Policy,
    strata: &[(usize, bool, u64)],
    seed: &Hash,
) -> Vec<u64> {
    let percent = match &policy.cooldown {
        Some(c) if c.action == CooldownAction::Downweight => c.percent.unwrap_or(100) as u128,
        _ => 100,
    };
    let scale = |cooled: bool| if cooled { percent } else { 100 };
    match policy.mode {
        Mode::Ratio => strata
            .iter()
            .map(|&(tier, cooled, n_pop)| {
                let tier = &policy.tiers[tier];
                // ratio_bp/10_000 · scale/100, in integers.
                let num = n_pop as u128 * tier.ratio_bp as u128 * scale(cooled);
                let den = 1_000_000u128;
                let n = match policy.rounding {
                    Rounding::Up => num.div_ceil(den),
                    Rounding::Down => num / den,
                    Rounding::Nearest => (2 * num + den) / (2 * den),
                } as u64;
                let n = n.max(tier.min.min(n_pop));
                tier.max.map_or(n, |m| n.min(m)).min(n_pop)
            })
            .collect(),
        Mode::Count => strata
            .iter()
            .map(|&(tier, _, n_pop)| policy.tiers[tier].count.min(n_pop))
            .collect(),
        Mode::Weighted => {
            // Successive sampling at stratum level: each step picks a stratum with probability
            // weight · remaining / Σ weight · remaining; which member follows from the tickets.
            let weights: Vec<u128> = strata
                .iter()
                .map(|&(tier, cooled, _)| policy.tiers[tier].weight as u128 * scale(cooled))
                .collect();
            let mut remaining: Vec<u64> = strata.iter().map(|s| s.2).collect();
            let mut sizes = vec![0u64; strata.len()];
            let total = policy.total.min(remaining.iter().sum());
            let mut stream = Stream::new(protocol, seed, "strata", 0);
            for _ in 0..total {
                let mass: u128 = weights
                    .iter()
                    .zip(&remaining)
                    .map(|(w, r)| w * *r as u128)
                    .sum();
                let mut x =
                    stream.below(u64::try_from(mass).expect("weights bounded by policy")) as u128;
                let s = (0..strata.len())
                    .find(|&i| {
                        let m = weights[i] * remaining[i] as u128;
                        if x < m {
                            true
                        } else {
                            x -= m;
                            false
                        }
                    })
                    .expect("x < total mass");
                sizes[s] += 1;
                remaining[s] -= 1;
            }
            sizes
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StratumResult {
    pub tier: String,
    pub cooled: bool,
    pub population: u64,
    pub sample: u64,
    /// Largest selected ticket: an object of this stratum was drawn iff its ticket ≤ cutoff.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex32")]
    pub cutoff: Option<Hash>,
    /// After replacements: the largest ticket taken from this stratum so far.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex32")]
    pub extended_cutoff: Option<Hash>,
    /// Drawn objects in ticket order.
    pub selected: Vec<ObjectId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub object: ObjectId,
    pub inspectors: Vec<InspectorId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawResult {
    #[serde(with = "hex32")]
    pub seed: Hash,
    pub strata: Vec<StratumResult>,
    /// Teams as first drawn, in matching (ticket) order.
    pub assignments: Vec<Assignment>,
    pub replacements: Vec<ReplacementRecord>,
    /// Teams after every replacement: what is to be inspected.
    pub final_assignments: Vec<Assignment>,
}

impl DrawResult {
    /// Canonical encoding (draw-spec §11) under the commitment's protocol; its SHA-256 is the
    /// `result_digest`.
    pub fn encode(&self, protocol: Protocol, commitment_hash: &Hash) -> Vec<u8> {
        let mut e = Encoder::with_domain(&protocol.label("result"));
        e.hash(commitment_hash)
            .hash(&self.seed)
            .count(self.strata.len());
        for s in &self.strata {
            e.str(&s.tier)
                .bool(s.cooled)
                .u64(s.population)
                .u64(s.sample);
            for c in [&s.cutoff, &s.extended_cutoff] {
                match c {
                    None => e.u8(0),
                    Some(h) => e.u8(1).hash(h),
                };
            }
            e.strs(&s.selected.iter().map(ObjectId::as_str).collect::<Vec<_>>());
        }
        let teams = |e: &mut Encoder, list: &[Assignment]| {
            e.count(list.len());
            for a in list {
                e.str(a.object.as_str()).strs(
                    &a.inspectors
                        .iter()
                        .map(InspectorId::as_str)
                        .collect::<Vec<_>>(),
                );
            }
        };
        teams(&mut e, &self.assignments);
        e.count(self.replacements.len());
        for r in &self.replacements {
            r.request.encode_to(protocol, &mut e);
            e.str(&r.replacement).strs(
                &r.inspectors
                    .iter()
                    .map(InspectorId::as_str)
                    .collect::<Vec<_>>(),
            );
        }
        teams(&mut e, &self.final_assignments);
        e.into_bytes()
    }

    pub fn digest(&self, protocol: Protocol, commitment_hash: &Hash) -> Hash {
        sha256(&self.encode(protocol, commitment_hash))
    }
}

/// Tickets of a stratum's members, sorted by (ticket, object index).
fn sorted_tickets(
    protocol: Protocol,
    snapshot: &Snapshot,
    s: &Stratum,
    seed: &Hash,
    take: usize,
) -> Vec<(Hash, u32)> {
    let n = s.members.len();
    if take == 0 {
        return Vec::new();
    }
    let objects = snapshot.objects();
    let prefix = ticket_hasher(protocol, seed);
    // Members and leaves are in the same (tree) order.
    let ticket = |pos: usize| -> (Hash, u32) {
        let i = s.members[pos];
        let id = objects[i as usize].id.as_str();
        (ticket_from(&prefix, protocol, id, &s.leaves[pos]), i)
    };
    // Tickets are uniform, so the `take` smallest almost surely start below a bound set for about
    // twice as many. Keeping only those avoids holding every ticket; when too few pass, the
    // full list is used, so the result is exact either way.
    let keep_below = ((2 * take as u128 + 64) << 64) / n as u128;
    let mut t: Vec<(Hash, u32)> = if keep_below < 1 << 64 {
        let bound = keep_below as u64;
        (0..n)
            .into_par_iter()
            .map(ticket)
            .filter(|(h, _)| u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) < bound)
            .collect()
    } else {
        Vec::new()
    };
    if t.len() < take {
        t = (0..n).into_par_iter().map(ticket).collect();
    }
    if take < t.len() {
        t.select_nth_unstable(take - 1);
        t.truncate(take);
    }
    t.par_sort_unstable();
    t
}

/// Selection (draw-spec §8): each stratum's `sample` smallest tickets. Returns the stratum
/// results and every drawn object as (ticket, object index), in ticket order.
pub fn select(
    snapshot: &Snapshot,
    policy: &Policy,
    pool: &CommittedPool,
    seed: &Hash,
) -> (Vec<StratumResult>, Vec<(Hash, u32)>) {
    let objects = snapshot.objects();
    let populations: Vec<(usize, bool, u64)> = pool
        .strata
        .iter()
        .map(|s| (s.tier, s.cooled, s.members.len() as u64))
        .collect();
    let sizes = sample_sizes(pool.protocol, policy, &populations, seed);
    let mut strata = Vec::with_capacity(pool.strata.len());
    let mut order: Vec<(Hash, u32)> = Vec::new();
    for (s, &n) in pool.strata.iter().zip(&sizes) {
        let picked = sorted_tickets(pool.protocol, snapshot, s, seed, n as usize);
        strata.push(StratumResult {
            tier: policy.tiers[s.tier].name.clone(),
            cooled: s.cooled,
            population: s.members.len() as u64,
            sample: n,
            cutoff: picked.last().map(|p| p.0),
            extended_cutoff: None,
            selected: picked
                .iter()
                .map(|p| objects[p.1 as usize].id.clone())
                .collect(),
        });
        order.extend(picked);
    }
    // Matching follows ticket order across strata, so no list position gets first choice.
    order.sort_unstable();
    (strata, order)
}

/// Teams, replacements and final teams (draw-spec §9, §10).
pub struct Teams {
    pub assignments: Vec<Assignment>,
    pub replacements: Vec<ReplacementRecord>,
    pub final_assignments: Vec<Assignment>,
    /// The replacements counted against the policy's caps, for the verifier's report.
    pub counts: String,
}

/// Matches inspectors to `order` (object indices of `snapshot`, in ticket order), then replays
/// `requests`. `next_object(k, replaced)` yields the object that replaces `replaced` in request `k`.
/// In v2 the requests are held to the policy's caps and each draws from a stream fixed by what
/// it replaces, not by its position in the list (draw-spec §10).
pub fn assign_teams(
    protocol: Protocol,
    snapshot: &Snapshot,
    policy: &Policy,
    seed: &Hash,
    order: &[u32],
    requests: &[ReplacementRequest],
    next_object: &mut dyn FnMut(usize, u32) -> Result<u32, CoreError>,
) -> Result<Teams, CoreError> {
    let objects = snapshot.objects();
    let inspectors = snapshot.inspectors();
    let mut matcher = Matcher::new(snapshot, policy);
    let mut stream = Stream::new(protocol, seed, "match", 0);
    // Teams in matching order; `sequence[i]` is the object of `teams[i]` (None once replaced).
    let mut sequence: Vec<u32> = order.to_vec();
    let mut teams: Vec<Option<Vec<u32>>> = Vec::with_capacity(order.len());
    for &obj in order {
        teams.push(Some(matcher.assign(obj, &mut stream)?));
    }
    let to_assignment = |obj: u32, team: &[u32]| Assignment {
        object: objects[obj as usize].id.clone(),
        inspectors: team
            .iter()
            .map(|&i| inspectors[i as usize].id.clone())
            .collect(),
    };
    let assignments: Vec<Assignment> = sequence
        .iter()
        .zip(&teams)
        .map(|(o, t)| to_assignment(*o, t.as_deref().expect("just matched")))
        .collect();
    let mut tally = Tally::new(protocol, policy.caps(), order.len() as u64);
    if requests.is_empty() {
        return Ok(Teams {
            final_assignments: assignments.clone(),
            assignments,
            replacements: Vec::new(),
            counts: tally.summary(),
        });
    }

    // Object index → position in `sequence` of its current team, for the replacement requests.
    let mut at: BTreeMap<u32, usize> = sequence.iter().enumerate().map(|(i, &o)| (o, i)).collect();
    let mut replacements = Vec::with_capacity(requests.len());
    for (k, req) in requests.iter().enumerate() {
        let fail = |reason: String| CoreError::Replacement { index: k, reason };
        let find = |id: &ObjectId| {
            snapshot
                .object_index(id)
                .and_then(|i| at.get(&(i as u32)).copied())
                .filter(|&pos| teams[pos].is_some())
                .ok_or_else(|| fail(format!("object {id} is not among the drawn objects")))
        };
        req.check(protocol).map_err(fail)?;
        let object = req.object();
        let pos = find(object)?;
        let obj = sequence[pos];
        let record = match req {
            ReplacementRequest::Object { .. } => {
                tally.object().map_err(fail)?;
                let new = next_object(k, obj)?;
                let mut stream = match protocol {
                    Protocol::V1 => Stream::new(protocol, seed, "replacement", k as u32),
                    Protocol::V2 => Stream::for_object(
                        seed,
                        "replacement",
                        objects[new as usize].id.as_str(),
                        0,
                        0,
                    ),
                };
                for i in teams[pos].take().expect("drawn") {
                    matcher.release(i);
                }
                let team = matcher
                    .assign(new, &mut stream)
                    .map_err(|e| fail(e.to_string()))?;
                let record = ReplacementRecord {
                    request: req.clone(),
                    replacement: objects[new as usize].id.to_string(),
                    inspectors: to_assignment(new, &team).inspectors,
                };
                at.insert(new, sequence.len());
                sequence.push(new);
                teams.push(Some(team));
                record
            }
            ReplacementRequest::Inspector { inspector, .. } => {
                let team = teams[pos].as_mut().expect("drawn");
                let slot = snapshot
                    .inspector_index(inspector)
                    .and_then(|i| team.iter().position(|&t| t as usize == i))
                    .ok_or_else(|| {
                        fail(format!(
                            "inspector {inspector} is not on the team of {object}"
                        ))
                    })?;
                let number = tally.recusal(object, obj, slot as u32).map_err(fail)?;
                let mut stream = match protocol {
                    Protocol::V1 => Stream::new(protocol, seed, "replacement", k as u32),
                    Protocol::V2 => {
                        Stream::for_object(seed, "recusal", object.as_str(), slot as u32, number)
                    }
                };
                matcher.recuse(obj, team[slot]);
                let others: Vec<u32> = team
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != slot)
                    .map(|(_, &i)| i)
                    .collect();
                let new = matcher
                    .fill_slot(obj, slot as u32, &others, &mut stream)
                    .map_err(|e| fail(e.to_string()))?;
                team[slot] = new;
                ReplacementRecord {
                    request: req.clone(),
                    replacement: inspectors[new as usize].id.to_string(),
                    inspectors: to_assignment(obj, team).inspectors,
                }
            }
        };
        replacements.push(record);
    }
    let final_assignments = sequence
        .iter()
        .zip(&teams)
        .filter_map(|(o, t)| t.as_deref().map(|t| to_assignment(*o, t)))
        .collect();
    Ok(Teams {
        assignments,
        replacements,
        final_assignments,
        counts: tally.summary(),
    })
}

/// The whole draw on a committed pool: selection, matching, replacements.
pub fn run(
    snapshot: &Snapshot,
    policy: &Policy,
    pool: &CommittedPool,
    seed: &Hash,
    requests: &[ReplacementRequest],
) -> Result<DrawResult, CoreError> {
    run_counted(snapshot, policy, pool, seed, requests).map(|(r, _)| r)
}

/// [`run`], with the replacements counted against the policy's caps (for a verifier's report).
pub fn run_counted(
    snapshot: &Snapshot,
    policy: &Policy,
    pool: &CommittedPool,
    seed: &Hash,
    requests: &[ReplacementRequest],
) -> Result<(DrawResult, String), CoreError> {
    let (mut strata, order) = select(snapshot, policy, pool, seed);
    let order: Vec<u32> = order.into_iter().map(|(_, o)| o).collect();
    let mut taken: Vec<u64> = strata.iter().map(|s| s.sample).collect();
    // An object replacement takes the next ticket of the replaced object's stratum.
    let mut next_object = |k: usize, replaced: u32| {
        let Placement::Stratum(s) = pool.placements[replaced as usize] else {
            unreachable!("drawn objects are in a stratum")
        };
        let next = taken[s] as usize;
        if next >= pool.strata[s].members.len() {
            return Err(CoreError::Replacement {
                index: k,
                reason: format!(
                    "stratum {} has no object left to replace {}",
                    strata[s].tier,
                    snapshot.objects()[replaced as usize].id
                ),
            });
        }
        let (t, new) = *sorted_tickets(pool.protocol, snapshot, &pool.strata[s], seed, next + 1)
            .last()
            .expect("next < population");
        taken[s] += 1;
        strata[s].extended_cutoff = Some(t);
        Ok(new)
    };
    let teams = assign_teams(
        pool.protocol,
        snapshot,
        policy,
        seed,
        &order,
        requests,
        &mut next_object,
    )?;
    Ok((
        DrawResult {
            seed: *seed,
            strata,
            assignments: teams.assignments,
            replacements: teams.replacements,
            final_assignments: teams.final_assignments,
        },
        teams.counts,
    ))
}

mod opt_hex32 {
    use super::Hash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match h {
            Some(h) => s.serialize_str(&hex::encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::super::encode::hex32::parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}
