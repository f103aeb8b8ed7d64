//! What callers see of a run (the API answers), apart from the stored `Run`: officers and
//! auditors see witness values only once every witness has entered them, the public sees
//! results only once published.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::model::{DrandRound, ReplacementEntry, Run, RunState, WitnessEntry, WitnessSource};
use super::results::ResultEntry;
use crate::core::bundle::EnterpriseProof;
use crate::core::draw::ReplacementRecord;
use crate::core::model::InspectorId;
use crate::core::pool::Commitment;
use crate::core::signature::Signature;
use crate::service::clock::stamped;
use crate::service::snapshots::SnapshotInfo;

/// Shown instead of a witness's values while another witness has yet to enter theirs, so the
/// second cannot copy the first.
const HIDDEN: &str = "(hidden until every witness has entered)";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: String,
    pub task_id: String,
    pub plan_id: String,
    pub fire_time: String,
    pub triggered_by: String,
    pub state: RunState,
    #[schema(value_type = Object)]
    pub snapshot: SnapshotInfo,
    #[schema(value_type = Object)] // docs/draw-spec.md: the commitment
    pub commitment: Commitment,
    pub commitment_hash: String,
    #[serde(with = "stamped")]
    pub committed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<WitnessSource>,
    pub witness_entries: Vec<WitnessEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drand: Option<DrandRound>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "stamped::option"
    )]
    pub drawn_at: Option<DateTime<Utc>>,
    /// The draw secret, hex, once the draw has revealed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The run's audit key, hex, revealed with the secret: with it the audit log's hashes of
    /// the run document (witness entries included) can be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)] // docs/draw-spec.md §19; `Signature` in components
    pub signature: Option<Signature>,
    pub replacements: Vec<ReplacementEntry>,
    pub results: BTreeMap<String, ResultEntry>,
    pub window_end: NaiveDate,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "stamped::option"
    )]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl RunView {
    /// What officers and auditors see.
    pub fn for_officers(run: &Run) -> Self {
        let run = run.clone();
        let mut witness_entries = run.witness_entries;
        if run.entropy.is_none() {
            for e in &mut witness_entries {
                e.values = HIDDEN.into();
            }
        }
        Self {
            id: run.id,
            task_id: run.task_id,
            plan_id: run.plan_id,
            fire_time: run.fire_time,
            triggered_by: run.triggered_by,
            state: run.state,
            snapshot: run.snapshot,
            commitment: run.commitment,
            commitment_hash: run.commitment_hash,
            committed_at: run.committed_at,
            witness: run.witness,
            witness_entries,
            entropy: run.entropy,
            drand: run.drand,
            drawn_at: run.drawn_at,
            secret: run.secret,
            audit_key: run.audit_key,
            result_digest: run.result_digest,
            signature: run.signature,
            replacements: run.replacements,
            results: run.results,
            window_end: run.window_end,
            published_at: run.published_at,
            published_by: run.published_by,
            failure: run.failure,
        }
    }

    /// What the public sees: the officers' view, with results only once published.
    pub fn for_public(run: &Run) -> Self {
        let mut view = Self::for_officers(run);
        if view.state != RunState::Published {
            view.results.clear();
        }
        view
    }
}

/// A line of the public list of runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub commitment_hash: String,
    #[serde(with = "stamped")]
    pub committed_at: DateTime<Utc>,
    pub id: String,
    pub state: RunState,
    pub task_id: String,
}

impl From<&Run> for RunSummary {
    fn from(r: &Run) -> Self {
        Self {
            id: r.id.clone(),
            task_id: r.task_id.clone(),
            state: r.state,
            commitment_hash: r.commitment_hash.clone(),
            committed_at: r.committed_at,
        }
    }
}

/// A run's published results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishedResults {
    #[serde(with = "stamped::option")]
    pub published_at: Option<DateTime<Utc>>,
    pub results: BTreeMap<String, ResultEntry>,
    pub run: String,
}

/// An enterprise's own proof (with its stratum: for the enterprise only, behind its access
/// code) and, once published, its result.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnProof {
    pub run: String,
    #[schema(value_type = Object)] // docs/draw-spec.md: enterprise proofs
    pub proof: EnterpriseProof,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultEntry>,
}

/// Where an object stands in a run's published list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Not on the list: not drawn, not in the pool, or excluded from it; the public is not
    /// told which.
    NotDrawn,
    /// Drawn by the draw itself.
    Drawn,
    /// Drawn as the replacement of another object.
    DrawnAsReplacement,
}

/// What anyone may learn of an object in one run: exactly what the published list says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicCheck {
    pub run: String,
    pub object: String,
    pub status: CheckStatus,
    /// On the list to inspect now (false for a drawn object replaced since).
    pub inspected: bool,
    /// The team, while inspected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub inspectors: Vec<InspectorId>,
    /// The replacements that concern it, as the public bundle lists them (the request with
    /// its reason, what came in, the team after).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub replacements: Vec<ReplacementRecord>,
    /// Its inspection result, once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultEntry>,
}

/// An enterprise's page: its place in every run whose list is public, in run id order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnterprisePage {
    pub object: String,
    pub runs: Vec<PublicCheck>,
}
