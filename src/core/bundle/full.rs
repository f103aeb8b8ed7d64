//! The full (auditor) bundle: the draw made from its inputs, replayed with more replacements,
//! and its verification, which recomputes everything from the snapshot and the salt key.

use serde::{Deserialize, Serialize};

use super::report::{Checker, Report, check_seed};
use super::{FULL_FORMAT, HexBytes};
use crate::core::CoreError;
use crate::core::beacon::{self, BeaconRecord};
use crate::core::draw::{self, DrawResult, ReplacementRequest};
use crate::core::encode::{Hash, hex_bytes, hex32};
use crate::core::model::Snapshot;
use crate::core::policy::Policy;
use crate::core::pool::{Commitment, CommittedPool};
use crate::core::secret::{SaltKey, Secret};

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
    let mut expected = pool.commitment(
        &b.task_id,
        &b.policy,
        draw::secret_hash(&b.secret),
        &b.commitment.entropy_source,
    );
    // Recomputed under the bundle's own version: a v1 bundle stays checkable as v1.
    expected.protocol = b.commitment.protocol;
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
