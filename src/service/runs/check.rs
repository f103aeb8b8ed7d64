//! An object's place in a run, two ways. The public check says only what the published list
//! says (drawn or not, the team, replacements, the published result), from the stored public
//! bundle: nothing tells a non-drawn object in its stratum from an excluded one or one not in
//! the pool. The enterprise's own proof (`core::bundle::prove`, with its stratum and ticket) is
//! for the enterprise alone; `service::enterprises` hands it out behind the access code.

use serde::Deserialize;

use super::model::{Run, RunState};
use super::service::Runs;
use super::view::{CheckStatus, EnterprisePage, OwnProof, PublicCheck};
use crate::core::bundle;
use crate::core::draw::{DrawResult, ReplacementRequest};
use crate::core::model::ObjectId;
use crate::service::{Result, ServiceError};
use crate::store::StoreError;

/// The part of a public bundle the check reads.
#[derive(Deserialize)]
struct Published {
    result: DrawResult,
}

/// A credit code as typed into a public route.
pub fn object_id(code: &str) -> Result<ObjectId> {
    ObjectId::parse(code).map_err(|e| ServiceError::Invalid(format!("credit code: {e}")))
}

impl Runs {
    /// What the published list of run `run_id` says of object `id`. 404 before the draw.
    pub async fn public_check(&self, run_id: &str, id: &ObjectId) -> Result<PublicCheck> {
        let run = self.get(run_id).await?;
        let text = self.public_bundle(run_id).await?;
        Ok(place(&run, &text, id)?)
    }

    /// Object `id` in every run whose list is public.
    pub async fn enterprise_page(&self, id: &ObjectId) -> Result<EnterprisePage> {
        let mut runs = Vec::new();
        for run in self.list(None).await?.iter().filter(|r| r.is_drawn()) {
            let text = self.public_bundle(&run.id).await?;
            runs.push(place(run, &text, id)?);
        }
        Ok(EnterprisePage {
            object: id.to_string(),
            runs,
        })
    }

    /// The enterprise's own proof of where it stood (stratum, ticket, cutoff, or its exclusion
    /// or absence) and, once published, its result. Only for the enterprise: see
    /// `service::enterprises`.
    pub async fn own_proof(&self, run_id: &str, id: &ObjectId) -> Result<OwnProof> {
        let (run, made) = self.drawn_full(run_id).await?;
        let proof = tokio::task::block_in_place(|| bundle::prove(&made.0, &made.1, id));
        Ok(OwnProof {
            result: published_result(&run, id),
            run: run.id,
            proof,
        })
    }
}

fn published_result(run: &Run, id: &ObjectId) -> Option<super::results::ResultEntry> {
    (run.state == RunState::Published)
        .then(|| run.results.get(id.as_str()).cloned())
        .flatten()
}

/// Object `id` in `run`, from its public bundle's `text`.
fn place(run: &Run, text: &str, id: &ObjectId) -> Result<PublicCheck, StoreError> {
    let published: Published = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("bundle {}: {e}", run.id)))?;
    let r = published.result;
    let came_in = r.replacements.iter().any(|x| {
        matches!(x.request, ReplacementRequest::Object { .. }) && x.replacement == id.as_str()
    });
    let status = if r.assignments.iter().any(|a| &a.object == id) {
        CheckStatus::Drawn
    } else if came_in {
        CheckStatus::DrawnAsReplacement
    } else {
        CheckStatus::NotDrawn
    };
    let team = r.final_assignments.iter().find(|a| &a.object == id);
    let replacements = match status {
        CheckStatus::NotDrawn => Vec::new(),
        _ => r
            .replacements
            .iter()
            .filter(|x| match &x.request {
                ReplacementRequest::Object { object, .. } => {
                    object == id || x.replacement == id.as_str()
                }
                ReplacementRequest::Inspector { object, .. } => object == id,
            })
            .cloned()
            .collect(),
    };
    Ok(PublicCheck {
        run: run.id.clone(),
        object: id.to_string(),
        status,
        inspected: team.is_some(),
        inspectors: team.map(|a| a.inspectors.clone()).unwrap_or_default(),
        replacements,
        result: published_result(run, id),
    })
}
