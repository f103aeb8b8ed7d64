//! Bundles and their verification (draw-spec §12–§14): the full (auditor) bundle, the public
//! bundle, and an enterprise's own proof. Verification recomputes and reports the first mismatch.

use std::collections::BTreeMap;
use std::fmt;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::beacon::{self, BeaconRecord};
use super::draw::{self, DrawResult, ReplacementRequest, StratumResult};
use super::encode::{Hash, hex_bytes, hex32};
use super::merkle::{self, Tree};
use super::model::{Inspector, InspectorId, Label, Object, ObjectId, PublicObject, Snapshot};
use super::policy::{CooldownAction, Policy};
use super::pool::{self, Commitment, CommittedPool, Placement};
use super::secret::{SaltKey, Secret};
use super::{CoreError, PROTOCOL};

pub const FULL_FORMAT: &str = "double-random/full-bundle/v1";
pub const PUBLIC_FORMAT: &str = "double-random/public-bundle/v1";
pub const PROOF_FORMAT: &str = "double-random/enterprise-proof/v1";

/// Bytes carried as lowercase hex in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexBytes(#[serde(with = "hex_bytes")] pub Vec<u8>);

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexHash(#[serde(with = "hex32")] pub Hash);

impl fmt::Debug for HexHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

fn hashes(v: Vec<Hash>) -> Vec<HexHash> {
    v.into_iter().map(HexHash).collect()
}

fn unhex(v: &[HexHash]) -> Vec<Hash> {
    v.iter().map(|h| h.0).collect()
}

/// Everything a draw takes.
pub struct DrawInputs {
    pub task_id: String,
    pub policy: Policy,
    pub snapshot: Snapshot,
    pub salt_key: SaltKey,
    pub secret: Secret,
    pub entropy_source: String,
    pub entropy: Vec<Vec<u8>>,
    /// The drand beacons `entropy_source` announces (draw-spec §20).
    pub beacons: Vec<BeaconRecord>,
    pub replacements: Vec<ReplacementRequest>,
}

/// The auditor's bundle: the whole snapshot and the salt key, so everything can be recomputed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FullBundle {
    pub format: String,
    pub task_id: String,
    pub policy: Policy,
    pub commitment: Commitment,
    #[serde(with = "hex32")]
    pub commitment_hash: Hash,
    /// Revealed with the result; before that only `commitment.secret_hash` exists.
    #[serde(with = "hex_bytes")]
    pub secret: Vec<u8>,
    pub entropy: Vec<HexBytes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beacons: Vec<BeaconRecord>,
    /// Private: never put in a public bundle.
    pub salt_key: SaltKey,
    pub result: DrawResult,
    #[serde(with = "hex32")]
    pub result_digest: Hash,
    pub snapshot: Snapshot,
}

fn check_task_id(task_id: &str) -> Result<(), CoreError> {
    if task_id.is_empty()
        || task_id.len() > 128
        || task_id.trim() != task_id
        || task_id.chars().any(char::is_control)
    {
        return Err(CoreError::Input(format!(
            "task id {task_id:?} must be 1 to 128 bytes without control characters or surrounding spaces"
        )));
    }
    Ok(())
}

impl FullBundle {
    /// Commits, derives the seed, draws. Returns the pool too, for public bundles and proofs.
    pub fn create(inputs: DrawInputs) -> Result<(Self, CommittedPool), CoreError> {
        check_task_id(&inputs.task_id)?;
        beacon::check(&inputs.entropy_source, &inputs.entropy, &inputs.beacons)
            .map_err(|e| CoreError::Input(format!("drand beacon: {e}")))?;
        let pool = CommittedPool::build(&inputs.snapshot, &inputs.policy, &inputs.salt_key.0)?;
        let commitment = pool.commitment(
            &inputs.task_id,
            &inputs.policy,
            draw::secret_hash(inputs.secret.expose()),
            &inputs.entropy_source,
        );
        let commitment_hash = commitment.hash();
        let seed = draw::derive_seed(&commitment, inputs.secret.expose(), &inputs.entropy);
        let result = draw::run(
            &inputs.snapshot,
            &inputs.policy,
            &pool,
            &seed,
            &inputs.replacements,
        )?;
        let result_digest = result.digest(&commitment_hash);
        let bundle = FullBundle {
            format: FULL_FORMAT.into(),
            task_id: inputs.task_id,
            policy: inputs.policy,
            commitment,
            commitment_hash,
            secret: inputs.secret.expose().to_vec(),
            entropy: inputs.entropy.into_iter().map(HexBytes).collect(),
            beacons: inputs.beacons,
            salt_key: inputs.salt_key,
            result,
            result_digest,
            snapshot: inputs.snapshot,
        };
        Ok((bundle, pool))
    }

    fn entropy(&self) -> Vec<Vec<u8>> {
        self.entropy.iter().map(|e| e.0.clone()).collect()
    }

    pub fn replacement_requests(&self) -> Vec<ReplacementRequest> {
        self.result
            .replacements
            .iter()
            .map(|r| r.request.clone())
            .collect()
    }

    /// Replays the draw with more replacement requests appended; earlier picks never change.
    pub fn with_replacements(
        &self,
        more: &[ReplacementRequest],
    ) -> Result<(Self, CommittedPool), CoreError> {
        let mut requests = self.replacement_requests();
        requests.extend_from_slice(more);
        FullBundle::create(DrawInputs {
            task_id: self.task_id.clone(),
            policy: self.policy.clone(),
            snapshot: self.snapshot.clone(),
            salt_key: self.salt_key.clone(),
            secret: Secret::new(self.secret.clone()).map_err(CoreError::Input)?,
            entropy_source: self.commitment.entropy_source.clone(),
            entropy: self.entropy(),
            beacons: self.beacons.clone(),
            replacements: requests,
        })
    }
}

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
    pub inspectors: Vec<Inspector>,
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
        let prefix = pool::private_prefix(&full.salt_key.0);
        let mut trees: BTreeMap<usize, Tree> = BTreeMap::new();
        let drawn = drawn_ids(&full.result)
            .into_iter()
            .map(|id| {
                let idx = snapshot
                    .object_index(&id)
                    .expect("drawn objects are in the snapshot");
                let Placement::Stratum(s) = pool.placements[idx] else {
                    unreachable!("drawn objects are in a stratum")
                };
                let members = &pool.strata[s].members;
                let leaf = members
                    .binary_search(&(idx as u32))
                    .expect("member of its stratum");
                let tree = trees.entry(s).or_insert_with(|| {
                    pool::stratum_tree(snapshot, &pool.strata[s], &full.salt_key.0)
                });
                let o = &snapshot.objects()[idx];
                DrawnObject {
                    stratum: s as u32,
                    leaf_index: leaf as u64,
                    object: o.public_part(),
                    private_digest: pool::private_digest(&prefix, o),
                    ticket: draw::ticket(&seed, &o.id),
                    proof: hashes(tree.proof(leaf)),
                }
            })
            .collect();
        PublicBundle {
            format: PUBLIC_FORMAT.into(),
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
            inspectors: snapshot.inspectors().to_vec(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Drawn in the original selection (possibly replaced later; see `replaced_reason`).
    Drawn,
    DrawnAsReplacement,
    NotDrawn,
    /// In the snapshot but not eligible (reason in the leaf).
    Excluded,
    NotInPool,
}

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<HexHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stratum: Option<StratumClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absence: Option<Absence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

fn membership(
    tree: TreeKind,
    index: usize,
    t: &Tree,
    o: &Object,
    salt_key: &Hash,
    reason: Option<&str>,
) -> Membership {
    Membership {
        tree,
        leaf_index: index as u64,
        object: o.public_part(),
        private_digest: pool::private_digest(&pool::private_prefix(salt_key), o),
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
        format: PROOF_FORMAT.into(),
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
        Some(idx) => {
            match pool.placements[idx] {
                Placement::Excluded(e) => {
                    let (tree, members) =
                        pool::excluded_tree(snapshot, &pool.placements, &full.salt_key.0);
                    let leaf = members
                        .binary_search(&(idx as u32))
                        .expect("excluded member");
                    proof.membership = Some(membership(
                        TreeKind::Excluded,
                        leaf,
                        &tree,
                        &objects[idx],
                        &full.salt_key.0,
                        Some(e.code()),
                    ));
                    proof.outcome = Outcome::Excluded;
                    proof.explanation = format!(
                        "{id} was in the pool but not eligible for this task: {}",
                        e.code()
                    );
                }
                Placement::Stratum(s) => {
                    let tree = pool::stratum_tree(snapshot, &pool.strata[s], &full.salt_key.0);
                    let leaf = pool.strata[s]
                        .members
                        .binary_search(&(idx as u32))
                        .expect("stratum member");
                    proof.membership = Some(membership(
                        TreeKind::Stratum,
                        leaf,
                        &tree,
                        &objects[idx],
                        &full.salt_key.0,
                        None,
                    ));
                    let claim = StratumClaim::of(s, &full.result.strata[s]);
                    let ticket = draw::ticket(&full.result.seed, id);
                    proof.outcome = outcome_of_ticket(&ticket, &claim);
                    proof.replaced_reason = full.result.replacements.iter().find_map(|r| match &r
                        .request
                    {
                        ReplacementRequest::Object { object, reason } if object == id => {
                            Some(reason.clone())
                        }
                        _ => None,
                    });
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
            }
        }
    }
    proof
}

// ---------------------------------------------------------------------------------------------
// Verification

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub field: String,
    pub expected: String,
    pub found: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub kind: &'static str,
    pub valid: bool,
    /// What was recomputed and matched, in order.
    pub checks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<Mismatch>,
    /// Hex SHA-256 of the canonical result, recomputed (present when the result could be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// What this verification could not establish from the file it was given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<String>,
}

struct Checker {
    checks: Vec<String>,
    mismatch: Option<Mismatch>,
    limits: Vec<String>,
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// The path of the first place two JSON values differ, and the two values there.
fn first_difference(path: String, expected: &Value, found: &Value) -> Mismatch {
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let sub = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) if vb == va => {}
                    Some(vb) => return first_difference(sub, va, vb),
                    None => {
                        return Mismatch {
                            field: sub,
                            expected: short(va),
                            found: "(missing)".into(),
                        };
                    }
                }
            }
            let extra = b
                .keys()
                .find(|k| !a.contains_key(*k))
                .cloned()
                .unwrap_or_default();
            Mismatch {
                field: format!("{path}.{extra}"),
                expected: "(absent)".into(),
                found: short(&b[&extra]),
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                if va != vb {
                    return first_difference(format!("{path}[{i}]"), va, vb);
                }
            }
            Mismatch {
                field: format!("{path}.length"),
                expected: a.len().to_string(),
                found: b.len().to_string(),
            }
        }
        _ => Mismatch {
            field: path,
            expected: short(expected),
            found: short(found),
        },
    }
}

impl Checker {
    fn new() -> Self {
        Self {
            checks: Vec::new(),
            mismatch: None,
            limits: Vec::new(),
        }
    }

    fn ok(&self) -> bool {
        self.mismatch.is_none()
    }

    /// Records `what` when `expected == found`, else the first differing field.
    fn eq<T: PartialEq + Serialize + ?Sized>(
        &mut self,
        what: &str,
        field: &str,
        expected: &T,
        found: &T,
    ) -> bool {
        if !self.ok() {
            return false;
        }
        if expected == found {
            if !what.is_empty() {
                self.checks.push(what.to_owned());
            }
            return true;
        }
        let (e, f) = (
            serde_json::to_value(expected).unwrap_or(Value::Null),
            serde_json::to_value(found).unwrap_or(Value::Null),
        );
        self.mismatch = Some(first_difference(field.to_owned(), &e, &f));
        false
    }

    fn hash(&mut self, what: &str, field: &str, expected: &Hash, found: &Hash) -> bool {
        self.eq(what, field, &hex::encode(expected), &hex::encode(found))
    }

    fn fail(&mut self, field: &str, expected: impl Into<String>, found: impl Into<String>) -> bool {
        if self.ok() {
            self.mismatch = Some(Mismatch {
                field: field.into(),
                expected: expected.into(),
                found: found.into(),
            });
        }
        false
    }

    fn report(
        self,
        kind: &'static str,
        result_digest: Option<Hash>,
        outcome: Option<Outcome>,
    ) -> Report {
        Report {
            kind,
            valid: self.mismatch.is_none(),
            checks: self.checks,
            mismatch: self.mismatch,
            result_digest: result_digest.map(hex::encode),
            outcome,
            limits: self.limits,
        }
    }
}

/// Checks protocol, commitment hash, secret and seed: what every artefact carries.
fn check_seed(
    c: &mut Checker,
    task_id: &str,
    commitment: &Commitment,
    commitment_hash: &Hash,
    secret: &[u8],
    entropy: &[HexBytes],
    beacons: &[BeaconRecord],
) -> Hash {
    c.eq(
        "protocol is double-random/v1",
        "commitment.protocol",
        PROTOCOL,
        commitment.protocol.as_str(),
    );
    c.eq(
        "task id matches the commitment",
        "commitment.task_id",
        task_id,
        commitment.task_id.as_str(),
    );
    c.hash(
        "commitment hash",
        "commitment_hash",
        &commitment.hash(),
        commitment_hash,
    );
    c.hash(
        "revealed secret matches the committed SHA-256",
        "secret",
        &commitment.secret_hash,
        &draw::secret_hash(secret),
    );
    if secret.len() < Secret::MIN_LEN {
        c.fail(
            "secret",
            format!("at least {} bytes", Secret::MIN_LEN),
            format!("{} bytes", secret.len()),
        );
    }
    let entropy: Vec<Vec<u8>> = entropy.iter().map(|e| e.0.clone()).collect();
    match beacon::check(&commitment.entropy_source, &entropy, beacons) {
        Ok(checked) => {
            if !checked.is_empty() {
                c.limits.push(
                    "that the drand round lay in the future when the commitment was published: \
                     compare its time with the commitment's entry in the transparency log"
                        .into(),
                );
            }
            c.checks.extend(checked)
        }
        Err(e) => {
            c.fail(
                "beacons",
                "a valid drand beacon for every announced round",
                e,
            );
        }
    }
    draw::derive_seed(commitment, secret, &entropy)
}

pub fn verify_full(b: &FullBundle) -> Report {
    let mut c = Checker::new();
    c.eq("format", "format", FULL_FORMAT, b.format.as_str());
    let seed = check_seed(
        &mut c,
        &b.task_id,
        &b.commitment,
        &b.commitment_hash,
        &b.secret,
        &b.entropy,
        &b.beacons,
    );
    let pool = match CommittedPool::build(&b.snapshot, &b.policy, &b.salt_key.0) {
        Ok(p) => p,
        Err(e) => {
            c.fail("snapshot", "a snapshot the policy accepts", e.to_string());
            return c.report("full bundle", None, None);
        }
    };
    let expected = pool.commitment(
        &b.task_id,
        &b.policy,
        draw::secret_hash(&b.secret),
        &b.commitment.entropy_source,
    );
    c.eq(
        "commitment recomputed from snapshot, policy and secret (roots, counts, policy hash)",
        "commitment",
        &expected,
        &b.commitment,
    );
    c.hash("seed", "result.seed", &seed, &b.result.seed);
    if c.ok() {
        match draw::run(
            &b.snapshot,
            &b.policy,
            &pool,
            &seed,
            &b.replacement_requests(),
        ) {
            Ok(result) => {
                c.eq(
                    "draw recomputed: sample sizes, selection, cutoffs",
                    "result.strata",
                    &result.strata,
                    &b.result.strata,
                );
                c.eq(
                    "inspector matching recomputed",
                    "result.assignments",
                    &result.assignments,
                    &b.result.assignments,
                );
                c.eq(
                    "replacements replayed from the seed",
                    "result.replacements",
                    &result.replacements,
                    &b.result.replacements,
                );
                c.eq(
                    "final teams",
                    "result.final_assignments",
                    &result.final_assignments,
                    &b.result.final_assignments,
                );
            }
            Err(e) => {
                c.fail("result", "a draw", e.to_string());
            }
        }
    }
    let digest = b.result.digest(&b.commitment_hash);
    c.hash("result digest", "result_digest", &digest, &b.result_digest);
    c.report("full bundle", Some(digest), None)
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

fn object_leaf(o: &PublicObject, private_digest: &Hash, reason: Option<&str>) -> Hash {
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
    let ticket = draw::ticket(seed, &d.object.id);
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
    c.eq("format", "format", PUBLIC_FORMAT, b.format.as_str());
    let seed = check_seed(
        &mut c,
        &b.task_id,
        &b.commitment,
        &b.commitment_hash,
        &b.secret,
        &b.entropy,
        &b.beacons,
    );
    c.hash(
        "policy hash",
        "commitment.policy_hash",
        &b.policy.hash(),
        &b.commitment.policy_hash,
    );
    c.hash("seed", "result.seed", &seed, &b.result.seed);
    let digest = b.result.digest(&b.commitment_hash);
    c.hash("result digest", "result_digest", &digest, &b.result_digest);
    let snapshot = match Snapshot::new(
        b.drawn.iter().map(|d| public_object(&d.object)).collect(),
        b.inspectors.clone(),
    ) {
        Ok(s) => s,
        Err(e) => {
            c.fail("drawn/inspectors", "unique ids", e.to_string());
            return c.report("public bundle", Some(digest), None);
        }
    };
    let leaves: Vec<Hash> = snapshot
        .inspectors()
        .iter()
        .map(|i| merkle::leaf_hash(&i.encode()))
        .collect();
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
    let sizes = draw::sample_sizes(&b.policy, &populations, &seed);
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
        match draw::assign_teams(&snapshot, &b.policy, &seed, &order, &requests, &mut next) {
            Ok(t) => {
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

/// Checks an enterprise proof on its own and, given the public bundle, against it too.
pub fn verify_proof(p: &EnterpriseProof, public: Option<&PublicBundle>) -> Report {
    let mut c = Checker::new();
    c.eq("format", "format", PROOF_FORMAT, p.format.as_str());
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
                    let t = draw::ticket(&seed, &p.object_id);
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
    }
    let mut report = c.report("enterprise proof", Some(p.result_digest), Some(p.outcome));
    if public.is_none() {
        report.limits.push("the proof was checked on its own: pass the public bundle (--public) to check it against what was published".into());
    }
    report
}
