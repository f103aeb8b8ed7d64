//! An enterprise's proof of its own outcome (in the pool or not, stratum, ticket, cutoff),
//! made from the full bundle, and its verification on its own or against the public bundle.

use serde::{Deserialize, Serialize};

use super::full::FullBundle;
use super::public::{PublicBundle, object_leaf, verify_public};
use super::report::{Checker, Report, check_seed};
use super::{Artefact, HexBytes, HexHash, Outcome, hashes, present, unhex};
use crate::core::beacon::BeaconRecord;
use crate::core::draw::{self, DrawResult, ReplacementRequest, StratumResult};
use crate::core::encode::{Hash, hex_bytes, hex32};
use crate::core::merkle::{self, Tree};
use crate::core::model::{InspectorId, Object, ObjectId, PublicObject};
use crate::core::pool::{self, Commitment, CommittedPool, Placement};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeKind {
    Stratum,
    Excluded,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub tree: TreeKind,
    pub leaf_index: u64,
    pub object: PublicObject,
    #[serde(with = "hex32")]
    pub private_digest: Hash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub proof: Vec<HexHash>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbour {
    pub leaf_index: u64,
    pub id: ObjectId,
    pub proof: Vec<HexHash>,
}

/// Not in the pool: the two ids on either side of it in the sorted id tree, adjacent leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    pub left: Option<Neighbour>,
    pub right: Option<Neighbour>,
}

/// A stratum's outcome without its list of drawn ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StratumClaim {
    pub index: u32,
    pub tier: String,
    pub cooled: bool,
    pub population: u64,
    pub sample: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<HexHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_cutoff: Option<HexHash>,
}

impl StratumClaim {
    fn of(index: usize, s: &StratumResult) -> Self {
        StratumClaim {
            index: index as u32,
            tier: s.tier.clone(),
            cooled: s.cooled,
            population: s.population,
            sample: s.sample,
            cutoff: s.cutoff.map(HexHash),
            extended_cutoff: s.extended_cutoff.map(HexHash),
        }
    }
}

/// An enterprise's proof of its own outcome, checkable with the public bundle alone.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnterpriseProof {
    pub format: String,
    pub object_id: ObjectId,
    pub task_id: String,
    pub outcome: Outcome,
    pub explanation: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub ticket: Option<HexHash>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub stratum: Option<StratumClaim>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub membership: Option<Membership>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub absence: Option<Absence>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub replaced_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inspectors: Vec<InspectorId>,
    pub commitment: Commitment,
    #[serde(with = "hex32")]
    pub commitment_hash: Hash,
    #[serde(with = "hex_bytes")]
    pub secret: Vec<u8>,
    pub entropy: Vec<HexBytes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beacons: Vec<BeaconRecord>,
    #[serde(with = "hex32")]
    pub result_digest: Hash,
}

/// What a proof's `replaced_reason` must say for `id`: the reason of the object replacement
/// that replaced it, as the result records it (draw-spec §14). The one place this is decided,
/// so a richer reason (a code) is compared whole wherever proofs are checked.
pub(super) fn replaced_reason(result: &DrawResult, id: &ObjectId) -> Option<String> {
    result.replacements.iter().find_map(|r| match &r.request {
        ReplacementRequest::Object { object, reason, .. } if object == id => Some(reason.clone()),
        _ => None,
    })
}

fn membership(
    tree: TreeKind,
    index: usize,
    t: &Tree,
    o: &Object,
    private_digest: Hash,
    reason: Option<&str>,
) -> Membership {
    Membership {
        tree,
        leaf_index: index as u64,
        object: o.public_part(),
        private_digest,
        reason: reason.map(str::to_owned),
        proof: hashes(t.proof(index)),
    }
}

/// Classifies a stratum member's ticket against its stratum's cutoffs.
fn outcome_of_ticket(ticket: &Hash, s: &StratumClaim) -> Outcome {
    match (s.cutoff, s.extended_cutoff) {
        (Some(c), _) if ticket <= &c.0 => Outcome::Drawn,
        (_, Some(e)) if ticket <= &e.0 => Outcome::DrawnAsReplacement,
        _ => Outcome::NotDrawn,
    }
}

pub fn prove(full: &FullBundle, pool: &CommittedPool, id: &ObjectId) -> EnterpriseProof {
    let snapshot = &full.snapshot;
    let mut proof = EnterpriseProof {
        format: Artefact::Proof.format(full.commitment.protocol).into(),
        object_id: id.clone(),
        task_id: full.task_id.clone(),
        outcome: Outcome::NotInPool,
        explanation: String::new(),
        ticket: None,
        stratum: None,
        membership: None,
        absence: None,
        replaced_reason: None,
        inspectors: Vec::new(),
        commitment: full.commitment.clone(),
        commitment_hash: full.commitment_hash,
        secret: full.secret.clone(),
        entropy: full.entropy.clone(),
        beacons: full.beacons.clone(),
        result_digest: full.result_digest,
    };
    let objects = snapshot.objects();
    let prefix = pool::private_prefix(pool.protocol, &full.salt_key.0);
    match snapshot.object_index(id) {
        None => {
            let at = objects.partition_point(|o| &o.id < id);
            let ids = pool::id_tree(snapshot);
            let neighbour = |i: usize| Neighbour {
                leaf_index: i as u64,
                id: objects[i].id.clone(),
                proof: hashes(ids.proof(i)),
            };
            proof.absence = Some(Absence {
                left: at.checked_sub(1).map(neighbour),
                right: (at < objects.len()).then(|| neighbour(at)),
            });
            proof.explanation = format!(
                "{id} is not in the snapshot of {} objects this draw committed to",
                objects.len()
            );
        }
        Some(idx) => match pool.placements[idx] {
            Placement::Excluded(e) => {
                let o = &objects[idx];
                let leaf_hash = pool::leaf_of(&prefix, o, Some(e.code()));
                let leaf = pool.leaf_index(
                    &pool.excluded_members,
                    &pool.excluded_leaves,
                    idx as u32,
                    &leaf_hash,
                );
                proof.membership = Some(membership(
                    TreeKind::Excluded,
                    leaf,
                    &Tree::new(pool.excluded_leaves.clone()),
                    o,
                    pool::private_digest(&prefix, o),
                    Some(e.code()),
                ));
                proof.outcome = Outcome::Excluded;
                proof.explanation = format!(
                    "{id} was in the pool but not eligible for this task: {}",
                    e.code()
                );
            }
            Placement::Stratum(s) => {
                let stratum = &pool.strata[s];
                let o = &objects[idx];
                let leaf_hash = pool::leaf_of(&prefix, o, None);
                let leaf =
                    pool.leaf_index(&stratum.members, &stratum.leaves, idx as u32, &leaf_hash);
                proof.membership = Some(membership(
                    TreeKind::Stratum,
                    leaf,
                    &pool::stratum_tree(stratum),
                    o,
                    pool::private_digest(&prefix, o),
                    None,
                ));
                let claim = StratumClaim::of(s, &full.result.strata[s]);
                let ticket = draw::ticket(pool.protocol, &full.result.seed, id, &leaf_hash);
                proof.outcome = outcome_of_ticket(&ticket, &claim);
                proof.replaced_reason = replaced_reason(&full.result, id);
                proof.inspectors = full
                    .result
                    .final_assignments
                    .iter()
                    .find(|a| &a.object == id)
                    .map(|a| a.inspectors.clone())
                    .unwrap_or_default();
                proof.explanation = match proof.outcome {
                    Outcome::Drawn => format!("drawn: its ticket is at or below the cutoff of its stratum ({} of {} drawn)", claim.sample, claim.population),
                    Outcome::DrawnAsReplacement => "drawn as a replacement: its ticket is the next after the cutoff of its stratum".into(),
                    _ => format!("not drawn: its ticket is above the cutoff of its stratum ({} of {} drawn)", claim.sample, claim.population),
                };
                proof.ticket = Some(HexHash(ticket));
                proof.stratum = Some(claim);
            }
        },
    }
    proof
}

/// Checks an enterprise proof on its own and, given the public bundle, against it too.
pub fn verify_proof(p: &EnterpriseProof, public: Option<&PublicBundle>) -> Report {
    let mut c = Checker::new();
    c.eq(
        "format",
        "format",
        Artefact::Proof.format(p.commitment.protocol),
        p.format.as_str(),
    );
    let seed = check_seed(
        &mut c,
        &p.task_id,
        &p.commitment,
        &p.commitment_hash,
        &p.secret,
        &p.entropy,
        &p.beacons,
    );
    let commit = &p.commitment;
    match (&p.membership, &p.absence) {
        (Some(m), None) => {
            c.eq(
                "the proof is about this object",
                "membership.object.id",
                &p.object_id,
                &m.object.id,
            );
            let (count, root, what) = match (m.tree, &p.stratum) {
                (TreeKind::Stratum, Some(s)) => match commit.strata.get(s.index as usize) {
                    Some(h) => {
                        c.eq(
                            "stratum matches the commitment",
                            "stratum",
                            &(h.tier.as_str(), h.cooled, h.count),
                            &(s.tier.as_str(), s.cooled, s.population),
                        );
                        (h.count, h.root, "stratum")
                    }
                    None => (0, [0; 32], "stratum"),
                },
                (TreeKind::Excluded, None) => {
                    (commit.excluded.count, commit.excluded.root, "excluded")
                }
                _ => {
                    c.fail(
                        "stratum",
                        "a stratum exactly for a stratum membership",
                        "inconsistent",
                    );
                    (0, [0; 32], "")
                }
            };
            let leaf = object_leaf(&m.object, &m.private_digest, m.reason.as_deref());
            if c.ok()
                && !merkle::verify_inclusion(m.leaf_index, count, &leaf, &unhex(&m.proof), &root)
            {
                c.fail(
                    "membership.proof",
                    format!(
                        "inclusion in the committed {what} root {}",
                        hex::encode(root)
                    ),
                    "does not verify",
                );
            }
            if c.ok() {
                c.checks
                    .push(format!("leaf included in the committed {what} tree"));
            }
            match (m.tree, &p.stratum) {
                (TreeKind::Stratum, Some(s)) => {
                    let t = draw::ticket(commit.protocol, &seed, &p.object_id, &leaf);
                    c.eq(
                        "ticket recomputed from the seed and the id",
                        "ticket",
                        &Some(HexHash(t)),
                        &p.ticket,
                    );
                    c.eq(
                        "outcome follows from the ticket and the cutoffs",
                        "outcome",
                        &outcome_of_ticket(&t, s),
                        &p.outcome,
                    );
                }
                _ => {
                    c.eq("outcome", "outcome", &Outcome::Excluded, &p.outcome);
                    c.eq(
                        "exclusion reason is in the committed leaf",
                        "membership.reason",
                        &true,
                        &m.reason.is_some(),
                    );
                }
            }
        }
        (None, Some(a)) => {
            c.eq("outcome", "outcome", &Outcome::NotInPool, &p.outcome);
            let n = commit.ids.count;
            let side = |c: &mut Checker, nb: &Neighbour, field: &str| {
                if !merkle::verify_inclusion(
                    nb.leaf_index,
                    n,
                    &pool::id_leaf(&nb.id),
                    &unhex(&nb.proof),
                    &commit.ids.root,
                ) {
                    c.fail(
                        field,
                        "inclusion in the committed id tree",
                        "does not verify",
                    );
                }
            };
            if let Some(l) = &a.left {
                side(&mut c, l, "absence.left.proof");
                if l.id >= p.object_id {
                    c.fail(
                        "absence.left.id",
                        format!("an id before {}", p.object_id),
                        l.id.to_string(),
                    );
                }
            }
            if let Some(r) = &a.right {
                side(&mut c, r, "absence.right.proof");
                if r.id <= p.object_id {
                    c.fail(
                        "absence.right.id",
                        format!("an id after {}", p.object_id),
                        r.id.to_string(),
                    );
                }
            }
            let adjacent = match (&a.left, &a.right) {
                (Some(l), Some(r)) => l.leaf_index + 1 == r.leaf_index,
                (None, Some(r)) => r.leaf_index == 0,
                (Some(l), None) => l.leaf_index + 1 == n,
                (None, None) => n == 0,
            };
            if !adjacent {
                c.fail(
                    "absence",
                    "neighbouring leaves of the id tree",
                    "leaves that are not adjacent",
                );
            }
            if c.ok() {
                c.checks.push(
                    "not in the pool: its neighbours in the committed id tree are adjacent".into(),
                );
            }
        }
        _ => {
            c.fail(
                "membership",
                "either a membership or an absence proof",
                "neither or both",
            );
        }
    }
    if let Some(b) = public {
        let r = verify_public(b);
        if !r.valid {
            let m = r.mismatch.expect("invalid report has a mismatch");
            c.fail(&format!("public bundle: {}", m.field), m.expected, m.found);
        } else {
            c.checks.push("public bundle verified".into());
        }
        c.hash(
            "same commitment as the public bundle",
            "commitment_hash",
            &b.commitment_hash,
            &p.commitment_hash,
        );
        c.hash(
            "same result as the public bundle",
            "result_digest",
            &b.result_digest,
            &p.result_digest,
        );
        if let Some(s) = &p.stratum {
            let published = b
                .result
                .strata
                .get(s.index as usize)
                .map(|r| StratumClaim::of(s.index as usize, r));
            c.eq(
                "stratum cutoffs as published",
                "stratum",
                &published,
                &Some(s.clone()),
            );
        }
        let listed = b
            .result
            .strata
            .iter()
            .any(|s| s.selected.contains(&p.object_id));
        let replacement = b.result.replacements.iter().any(|r| {
            matches!(r.request, ReplacementRequest::Object { .. })
                && r.replacement == p.object_id.as_str()
        });
        let published = if listed {
            Some(Outcome::Drawn)
        } else if replacement {
            Some(Outcome::DrawnAsReplacement)
        } else {
            None
        };
        let claimed =
            matches!(p.outcome, Outcome::Drawn | Outcome::DrawnAsReplacement).then_some(p.outcome);
        c.eq(
            "the published list agrees with the ticket",
            "outcome (published vs. ticket)",
            &published,
            &claimed,
        );
        let team = b
            .result
            .final_assignments
            .iter()
            .find(|a| a.object == p.object_id)
            .map(|a| a.inspectors.clone())
            .unwrap_or_default();
        c.eq(
            "inspectors as published",
            "inspectors",
            &team,
            &p.inspectors,
        );
        c.eq(
            "replacement reason as published",
            "replaced_reason",
            &replaced_reason(&b.result, &p.object_id),
            &p.replaced_reason,
        );
    }
    let mut report = c.report("enterprise proof", Some(p.result_digest), Some(p.outcome));
    if public.is_none() {
        report.limits.push("the proof was checked on its own: pass the public bundle (--public) to check it against what was published".into());
    }
    report
}
