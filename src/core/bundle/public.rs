//! The public bundle: what the public gets (no tier or private attribute of an object that was
//! not drawn), derived from the full bundle, and its verification from what it carries alone.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::full::FullBundle;
use super::report::{Checker, Mismatch, Report, check_caps_field, check_seed};
use super::{Artefact, HexBytes, HexHash, hashes, unhex};
use crate::core::beacon::BeaconRecord;
use crate::core::draw::{self, DrawResult, ReplacementRequest};
use crate::core::encode::{Hash, hex_bytes, hex32};
use crate::core::inspector_leaf::{PublicInspector, PublishedInspectors};
use crate::core::merkle::{self, Tree};
use crate::core::model::{Label, Object, ObjectId, PublicObject, Snapshot};
use crate::core::policy::{CooldownAction, Policy};
use crate::core::pool::{self, Commitment, CommittedPool, Placement};
use crate::core::{CoreError, Protocol};

/// One drawn object as published: its public record, the private digest that completes its
/// leaf, the proof of that leaf in its stratum's tree, and its ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawnObject {
    pub stratum: u32,
    pub leaf_index: u64,
    pub object: PublicObject,
    #[serde(with = "hex32")]
    pub private_digest: Hash,
    #[serde(with = "hex32")]
    pub ticket: Hash,
    pub proof: Vec<HexHash>,
}

/// What the public gets: no tier or private attribute of any object that was not drawn.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublicBundle {
    pub format: String,
    pub task_id: String,
    pub policy: Policy,
    pub commitment: Commitment,
    #[serde(with = "hex32")]
    pub commitment_hash: Hash,
    #[serde(with = "hex_bytes")]
    pub secret: Vec<u8>,
    pub entropy: Vec<HexBytes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beacons: Vec<BeaconRecord>,
    pub result: DrawResult,
    #[serde(with = "hex32")]
    pub result_digest: Hash,
    pub drawn: Vec<DrawnObject>,
    /// v1: every inspector whole; v2: public parts, keyed private digests, and only the
    /// conflicts that touch a drawn object (draw-spec §13).
    pub inspectors: PublishedInspectors,
    /// v2, daemon draws only: the commitment's log entry proven in the first signed checkpoint
    /// that held it (draw-spec §22); outside the result digest. Checked by `commitment_log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_log: Option<CommitmentLog>,
}

/// A log entry with its RFC 6962 inclusion proof in a signed checkpoint (the shape of
/// `tlog::InclusionProof`, which this file cannot name: `tlog` checks bundles).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitmentLog {
    pub checkpoint: String,
    pub index: u64,
    pub size: u64,
    pub entry: String,
    pub proof: Vec<String>,
}

fn drawn_ids(result: &DrawResult) -> Vec<ObjectId> {
    let mut ids: Vec<ObjectId> = result
        .strata
        .iter()
        .flat_map(|s| s.selected.iter().cloned())
        .collect();
    for r in &result.replacements {
        if let ReplacementRequest::Object { .. } = r.request {
            ids.push(
                ObjectId::parse(&r.replacement).expect("replacement ids come from the snapshot"),
            );
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

impl PublicBundle {
    pub fn from_full(full: &FullBundle, pool: &CommittedPool) -> Self {
        let snapshot = &full.snapshot;
        let seed = full.result.seed;
        let protocol = pool.protocol;
        let prefix = pool::private_prefix(protocol, &full.salt_key.0);
        let mut trees: BTreeMap<usize, Tree> = BTreeMap::new();
        let ids = drawn_ids(&full.result);
        let drawn = ids
            .iter()
            .map(|id| {
                let idx = snapshot
                    .object_index(id)
                    .expect("drawn objects are in the snapshot");
                let Placement::Stratum(s) = pool.placements[idx] else {
                    unreachable!("drawn objects are in a stratum")
                };
                let stratum = &pool.strata[s];
                let o = &snapshot.objects()[idx];
                let leaf_hash = pool::leaf_of(&prefix, o, None);
                let leaf =
                    pool.leaf_index(&stratum.members, &stratum.leaves, idx as u32, &leaf_hash);
                let tree = trees
                    .entry(s)
                    .or_insert_with(|| pool::stratum_tree(stratum));
                DrawnObject {
                    stratum: s as u32,
                    leaf_index: leaf as u64,
                    object: o.public_part(),
                    private_digest: pool::private_digest(&prefix, o),
                    ticket: draw::ticket(protocol, &seed, &o.id, &leaf_hash),
                    proof: hashes(tree.proof(leaf)),
                }
            })
            .collect();
        let inspectors = match protocol {
            Protocol::V1 => PublishedInspectors::V1(snapshot.inspectors().to_vec()),
            Protocol::V2 => {
                let drawn: std::collections::BTreeSet<&ObjectId> = ids.iter().collect();
                PublishedInspectors::V2(
                    snapshot
                        .inspectors()
                        .iter()
                        .map(|i| {
                            PublicInspector::of(i, &full.salt_key.0, full.policy.draw_date, &drawn)
                        })
                        .collect(),
                )
            }
        };
        PublicBundle {
            format: Artefact::Public.format(full.commitment.protocol).into(),
            task_id: full.task_id.clone(),
            policy: full.policy.clone(),
            commitment: full.commitment.clone(),
            commitment_hash: full.commitment_hash,
            secret: full.secret.clone(),
            entropy: full.entropy.clone(),
            beacons: full.beacons.clone(),
            result: full.result.clone(),
            result_digest: full.result_digest,
            drawn,
            inspectors,
            commitment_log: None,
        }
    }
}

/// A drawn object as the matching sees it: public fields only.
fn public_object(p: &PublicObject) -> Object {
    Object {
        id: p.id.clone(),
        name: p.name.as_str().into(),
        kind: p.kind.clone(),
        region: p.region.clone(),
        industry: p.industry.clone(),
        tier: Label::new(""),
        status: p.status,
        last_inspected: None,
        last_inspectors: p.last_inspectors.clone().into(),
        attributes: BTreeMap::new(),
    }
}

pub(super) fn object_leaf(o: &PublicObject, private_digest: &Hash, reason: Option<&str>) -> Hash {
    pool::object_leaf(private_digest, |e| o.encode_to(e), reason)
}

/// One drawn object of a public bundle: its stratum, leaf inclusion, ticket and eligibility.
fn check_drawn(b: &PublicBundle, seed: &Hash, i: usize, d: &DrawnObject) -> Option<Mismatch> {
    let fail = |what: &str, expected: String, found: String| {
        Some(Mismatch {
            field: format!("drawn[{i}].{what}"),
            expected,
            found,
        })
    };
    let Some(head) = b.commitment.strata.get(d.stratum as usize) else {
        return fail(
            "stratum",
            "a committed stratum".into(),
            d.stratum.to_string(),
        );
    };
    let leaf = object_leaf(&d.object, &d.private_digest, None);
    if !merkle::verify_inclusion(
        d.leaf_index,
        head.count,
        &leaf,
        &unhex(&d.proof),
        &head.root,
    ) {
        return fail(
            "proof",
            format!(
                "inclusion in stratum {} root {}",
                d.stratum,
                hex::encode(head.root)
            ),
            format!("{} does not verify", d.object.id),
        );
    }
    let ticket = draw::ticket(b.commitment.protocol, seed, &d.object.id, &leaf);
    if ticket != d.ticket {
        return fail("ticket", hex::encode(ticket), hex::encode(d.ticket));
    }
    if let Some(why) = pool::public_exclusion(&b.policy, &d.object) {
        return fail(
            "object",
            "an active object within the policy's scope".into(),
            format!("{} is excluded: {}", d.object.id, why.code()),
        );
    }
    None
}

pub fn verify_public(b: &PublicBundle) -> Report {
    let mut c = Checker::new();
    c.eq(
        "format",
        "format",
        Artefact::Public.format(b.commitment.protocol),
        b.format.as_str(),
    );
    let seed = check_seed(
        &mut c,
        &b.task_id,
        &b.commitment,
        &b.commitment_hash,
        &b.secret,
        &b.entropy,
        &b.beacons,
    );
    let protocol = b.commitment.protocol;
    check_caps_field(&mut c, protocol, &b.policy);
    c.hash(
        "policy hash",
        "commitment.policy_hash",
        &b.policy.hash(protocol),
        &b.commitment.policy_hash,
    );
    c.hash("seed", "result.seed", &seed, &b.result.seed);
    let digest = b.result.digest(protocol, &b.commitment_hash);
    c.hash("result digest", "result_digest", &digest, &b.result_digest);
    let drawn: std::collections::BTreeSet<&ObjectId> =
        b.drawn.iter().map(|d| &d.object.id).collect();
    let inspectors = match b
        .inspectors
        .for_replay(protocol, b.policy.draw_date, &drawn)
    {
        Ok(list) => list,
        Err((field, expected, found)) => {
            c.fail(&field, expected, found);
            return c.report("public bundle", Some(digest), None);
        }
    };
    let snapshot = match Snapshot::new(
        b.drawn.iter().map(|d| public_object(&d.object)).collect(),
        inspectors,
    ) {
        Ok(s) => s,
        Err(e) => {
            c.fail("drawn/inspectors", "unique ids", e.to_string());
            return c.report("public bundle", Some(digest), None);
        }
    };
    let leaves = b.inspectors.leaves(snapshot.inspectors());
    c.eq(
        "inspector list matches the committed inspector root",
        "inspectors",
        &b.commitment.inspectors,
        &pool::TreeHead {
            count: leaves.len() as u64,
            root: merkle::root(&leaves),
        },
    );

    // Strata: the policy's layout (two per tier), populations from the commitment, sample sizes
    // recomputed from the policy.
    let layout: Vec<(String, bool)> = (0..b.policy.tiers.len() * 2)
        .map(|i| (b.policy.tiers[i / 2].name.clone(), i % 2 == 1))
        .collect();
    let heads: Vec<(String, bool)> = b
        .commitment
        .strata
        .iter()
        .map(|h| (h.tier.clone(), h.cooled))
        .collect();
    c.eq(
        "strata follow the policy's tiers",
        "commitment.strata",
        &layout,
        &heads,
    );
    let downweight =
        matches!(&b.policy.cooldown, Some(cd) if cd.action == CooldownAction::Downweight);
    if let Some((i, h)) = b
        .commitment
        .strata
        .iter()
        .enumerate()
        .find(|(_, h)| h.cooled && !downweight && h.count > 0)
    {
        c.fail(
            &format!("commitment.strata[{i}].count"),
            "0 (the policy does not down-weight recently inspected objects)",
            h.count.to_string(),
        );
    }
    let eligible: u128 = b.commitment.strata.iter().map(|h| h.count as u128).sum();
    c.eq(
        "every committed id is in exactly one stratum or the excluded tree",
        "commitment.ids.count",
        &(eligible + b.commitment.excluded.count as u128),
        &(b.commitment.ids.count as u128),
    );
    if eligible > u32::MAX as u128 {
        c.fail(
            "commitment.strata",
            "at most 2^32 - 1 objects",
            eligible.to_string(),
        );
    }
    let got: Vec<(String, bool, u64)> = b
        .result
        .strata
        .iter()
        .map(|s| (s.tier.clone(), s.cooled, s.population))
        .collect();
    let heads: Vec<(String, bool, u64)> = b
        .commitment
        .strata
        .iter()
        .map(|h| (h.tier.clone(), h.cooled, h.count))
        .collect();
    c.eq(
        "strata and populations match the commitment",
        "result.strata",
        &heads,
        &got,
    );
    if !c.ok() {
        return c.report("public bundle", Some(digest), None);
    }
    let populations: Vec<(usize, bool, u64)> = b
        .commitment
        .strata
        .iter()
        .enumerate()
        .map(|(i, h)| (i / 2, h.cooled, h.count))
        .collect();
    let sizes = draw::sample_sizes(protocol, &b.policy, &populations, &seed);
    let found: Vec<u64> = b.result.strata.iter().map(|s| s.sample).collect();
    c.eq(
        "sample size of every stratum recomputed from the policy",
        "result.strata[].sample",
        &sizes,
        &found,
    );
    let listed: Vec<u64> = b
        .result
        .strata
        .iter()
        .map(|s| s.selected.len() as u64)
        .collect();
    c.eq(
        "each stratum lists exactly its sample size",
        "result.strata[].selected.length",
        &sizes,
        &listed,
    );

    // v2: object replacements within the policy's cap (recusals per slot are counted in the
    // replay below, which knows each recused inspector's slot).
    let objects = b
        .result
        .replacements
        .iter()
        .filter(|r| matches!(r.request, ReplacementRequest::Object { .. }))
        .count() as u64;
    let cap = b.policy.caps().object_cap(sizes.iter().sum());
    if protocol == Protocol::V2 && objects > cap {
        c.fail(
            "result.replacements",
            format!(
                "at most {cap} object replacements (replacements.object_cap_bp = {} of a total sample of {}, at least 1)",
                b.policy.caps().object_cap_bp,
                sizes.iter().sum::<u64>()
            ),
            format!("{objects} object replacements"),
        );
    }

    // Every drawn object: leaf in its stratum's committed tree, ticket from the seed. Checked on
    // all cores; the first failure in list order is the one reported.
    let failures: Vec<Option<Mismatch>> = b
        .drawn
        .par_iter()
        .enumerate()
        .map(|(i, d)| check_drawn(b, &seed, i, d))
        .collect();
    if let Some(m) = failures.into_iter().flatten().next() {
        c.fail(&m.field, m.expected, m.found);
    }
    let by_id: BTreeMap<&ObjectId, &DrawnObject> =
        b.drawn.iter().map(|d| (&d.object.id, d)).collect();
    if c.ok() {
        c.checks.push(format!("{} drawn objects: leaf inclusion proofs against the committed stratum roots and tickets", b.drawn.len()));
    }

    // Per stratum: the drawn tickets, ascending, end at the cutoff; replacements come after it.
    let mut listed = 0usize;
    for (si, s) in b.result.strata.iter().enumerate() {
        if !c.ok() {
            break;
        }
        let mut prev: Option<(Hash, &ObjectId)> = None;
        for id in &s.selected {
            match by_id.get(id) {
                Some(d)
                    if d.stratum as usize == si
                        && prev.is_none_or(|p| (p.0, p.1) < (d.ticket, id)) =>
                {
                    prev = Some((d.ticket, id));
                    listed += 1;
                }
                _ => {
                    c.fail(
                        &format!("result.strata[{si}].selected"),
                        "drawn objects of this stratum in ticket order, each with a proof",
                        id.to_string(),
                    );
                    break;
                }
            }
        }
        c.eq(
            "",
            &format!("result.strata[{si}].cutoff"),
            &prev.map(|p| hex::encode(p.0)),
            &s.cutoff.map(hex::encode),
        );
    }
    let mut taken: BTreeMap<u32, Hash> = BTreeMap::new();
    for (k, r) in b.result.replacements.iter().enumerate() {
        if !c.ok() {
            break;
        }
        let ReplacementRequest::Object { object, .. } = &r.request else {
            continue;
        };
        let (Some(old), Some(new)) = (
            by_id.get(object),
            ObjectId::parse(&r.replacement)
                .ok()
                .and_then(|n| by_id.get(&n).copied()),
        ) else {
            c.fail(
                &format!("result.replacements[{k}]"),
                "replaced and replacement objects with proofs",
                r.replacement.clone(),
            );
            break;
        };
        let floor = taken
            .get(&old.stratum)
            .copied()
            .or(b.result.strata[old.stratum as usize].cutoff);
        if new.stratum != old.stratum || floor.is_some_and(|f| new.ticket <= f) {
            c.fail(
                &format!("result.replacements[{k}].replacement"),
                "the next ticket after the cutoff, in the same stratum",
                r.replacement.clone(),
            );
            break;
        }
        taken.insert(old.stratum, new.ticket);
        listed += 1;
    }
    for (si, s) in b.result.strata.iter().enumerate() {
        c.eq(
            "",
            &format!("result.strata[{si}].extended_cutoff"),
            &taken.get(&(si as u32)).map(hex::encode),
            &s.extended_cutoff.map(hex::encode),
        );
    }
    c.eq("", "drawn.length", &listed, &b.drawn.len());
    if c.ok() {
        c.checks.push(
            "selection: tickets ascending to each cutoff; replacements beyond it, in order".into(),
        );
    }

    // Matching: replayed on the drawn objects' public records and the inspector list.
    if c.ok() {
        let mut order: Vec<(Hash, &ObjectId)> = b
            .result
            .strata
            .iter()
            .flat_map(|s| s.selected.iter())
            .map(|id| (by_id[id].ticket, id))
            .collect();
        order.sort();
        let order: Vec<u32> = order
            .iter()
            .map(|(_, id)| snapshot.object_index(id).expect("drawn") as u32)
            .collect();
        let mut next = |k: usize, _replaced: u32| {
            snapshot
                .object_index(
                    &ObjectId::parse(&b.result.replacements[k].replacement)
                        .map_err(|e| CoreError::Input(e.to_string()))?,
                )
                .map(|i| i as u32)
                .ok_or_else(|| CoreError::Input("replacement not in drawn list".into()))
        };
        let requests: Vec<ReplacementRequest> = b
            .result
            .replacements
            .iter()
            .map(|r| r.request.clone())
            .collect();
        match draw::assign_teams(
            protocol, &snapshot, &b.policy, &seed, &order, &requests, &mut next,
        ) {
            Ok(t) => {
                c.checks.push(format!("replacements: {}", t.counts));
                c.eq(
                    "inspector matching recomputed",
                    "result.assignments",
                    &t.assignments,
                    &b.result.assignments,
                );
                c.eq(
                    "replacements replayed from the seed",
                    "result.replacements",
                    &t.replacements,
                    &b.result.replacements,
                );
                c.eq(
                    "final teams",
                    "result.final_assignments",
                    &t.final_assignments,
                    &b.result.final_assignments,
                );
            }
            Err(e) => {
                c.fail("result.assignments", "a matching", e.to_string());
            }
        }
    }
    let mut report = c.report("public bundle", Some(digest), None);
    report.limits.push(
        "that no object left out of the bundle had a ticket under its stratum's cutoff: each enterprise checks that with its own proof".into(),
    );
    report
}
