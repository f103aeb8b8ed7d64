//! Steps 4 and 5: officers enter the outcome of each inspected object (again to correct, until
//! published), then publish once every inspected object has one.

use super::model::{Run, RunState};
use super::results::{Finding, ResultEntry, ResultInput};
use super::service::Runs;
use super::transition::{Transition, check_state};
use super::view::PublishedResults;
use crate::service::{Actor, Result, ServiceError};

impl Runs {
    #[tracing::instrument(name = "record_results", skip_all, fields(run = run_id))]
    pub async fn record_results(
        &self,
        run_id: &str,
        entries: Vec<ResultInput>,
        actor: &Actor,
    ) -> Result<Run> {
        let (_held, stored) = self.locked(run_id).await?;
        let mut run = stored.value.clone();
        check_state(
            &run,
            &[RunState::Drawn, RunState::Results],
            "results are entered after the draw and before publication",
        )?;
        let inspected = self.inspected(&run).await?;
        let at = self.now();
        for (i, e) in entries.into_iter().enumerate() {
            if !inspected.contains(&e.object) {
                return Err(ServiceError::Invalid(format!(
                    "results[{i}].object: {} is not among the objects drawn for run {run_id}",
                    e.object
                )));
            }
            if e.finding == Finding::OtherViolation && e.note.trim().is_empty() {
                return Err(ServiceError::Invalid(format!(
                    "results[{i}].note: other_violation needs a note naming the rule"
                )));
            }
            let mut follow_up = e.follow_up;
            follow_up.sort();
            follow_up.dedup();
            run.results.insert(
                e.object,
                ResultEntry {
                    label: e.finding.label().into(),
                    finding: e.finding,
                    follow_up,
                    note: e.note,
                    by: actor.name.clone(),
                    at,
                },
            );
        }
        run.state = RunState::Results;
        self.write(&run, &stored, actor, Transition::Results, Vec::new())
            .await?;
        Ok(run)
    }

    /// Publishes the results; every inspected object needs one.
    #[tracing::instrument(name = "publish", skip_all, fields(run = run_id))]
    pub async fn publish(&self, run_id: &str, actor: &Actor) -> Result<Run> {
        let (_held, stored) = self.locked(run_id).await?;
        let mut run = stored.value.clone();
        check_state(
            &run,
            &[RunState::Results],
            "only entered results are published",
        )?;
        let inspected = self.inspected(&run).await?;
        let missing: Vec<&String> = inspected
            .iter()
            .filter(|o| !run.results.contains_key(*o))
            .collect();
        if !missing.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "run {run_id}: {} inspected object(s) have no result yet, e.g. {}",
                missing.len(),
                missing[0]
            )));
        }
        run.state = RunState::Published;
        run.published_at = Some(self.now());
        run.published_by = Some(actor.name.clone());
        self.write(&run, &stored, actor, Transition::Publish, Vec::new())
            .await?;
        Ok(run)
    }

    /// A run's results, once published.
    pub async fn published_results(&self, run_id: &str) -> Result<PublishedResults> {
        let run = self.get(run_id).await?;
        if run.state != RunState::Published {
            return Err(ServiceError::NotFound(format!(
                "run {run_id} is {}: results are shown once published",
                run.state.as_str()
            )));
        }
        Ok(PublishedResults {
            run: run.id,
            published_at: run.published_at,
            results: run.results,
        })
    }
}
