//! Step 1: a task's run is committed (pool frozen, commitment published) by a trigger or by
//! the scheduler when a fire time comes. One run per (task, fire time), so concurrent
//! triggers, several instances and restarts all get the same run: there is no redraw.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::model::{DrandRound, Run, RunState, SecretColumn, WitnessSource};
use super::service::Runs;
use super::settings::WitnessRequest;
use super::transition::{Transition, failpoint};
use crate::core::Protocol;
use crate::core::beacon::Announcement;
use crate::core::entropy::{self, Announced};
use crate::core::draw::secret_hash;
use crate::core::secret::Secret;
use crate::library::plan::{Plan, PlanState, Schedule, ScheduleError, Task};
use crate::service::documents::{self, create};
use crate::service::snapshots::{self, fresh_key};
use crate::service::tlog;
use crate::service::{Actor, Result, ServiceError};
use crate::store::StoreError;

impl From<ScheduleError> for ServiceError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::BadCron { .. } => StoreError::Corrupt(e.to_string()).into(),
            _ => ServiceError::Invalid(e.to_string()),
        }
    }
}

impl Runs {
    pub fn run_id(task_id: &str, fire: &DateTime<Tz>) -> String {
        format!("{task_id}.{}", fire.format("%Y%m%dT%H%M%S"))
    }

    /// The runs the scheduler should start at `now`: for every task of an approved plan whose
    /// window is still open, its latest fire time that has come, if that run does not exist
    /// yet. Fires missed while no instance ran therefore run once (the latest), not once each.
    pub async fn due(&self, now: DateTime<Utc>) -> Result<Vec<(Task, DateTime<Tz>)>> {
        let approved: Vec<String> = documents::list::<Plan>(&*self.store, None)
            .await?
            .into_iter()
            .filter(|p| p.state == PlanState::Approved)
            .map(|p| p.id)
            .collect();
        let mut due = Vec::new();
        for task in documents::list::<Task>(&*self.store, None).await? {
            let Some(fire) = task.due_fire(self.settings.timezone, now)? else {
                continue;
            };
            let exists = documents::get::<Run>(&*self.store, &Self::run_id(&task.id, &fire))
                .await?
                .is_some();
            if exists || !approved.contains(&task.plan_id) {
                continue;
            }
            let run_id = Self::run_id(&task.id, &fire);
            if self.drawn_on_its_date(&task, &run_id).await?.is_none() {
                due.push((task, fire));
            }
        }
        Ok(due)
    }

    /// A run of a date task at another fire time than `fire_run` that stands (any but a
    /// failed one): such a task is drawn once, whatever date its stored definition says now.
    /// (A run with the id `fire_run` is this fire's own run, which concurrent triggers share.)
    async fn drawn_on_its_date(&self, task: &Task, fire_run: &str) -> Result<Option<Run>> {
        if !matches!(task.schedule, Schedule::Date(_)) {
            return Ok(None);
        }
        Ok(self
            .list(Some(&task.id))
            .await?
            .into_iter()
            .find(|r| r.id != fire_run && r.state != RunState::Failed))
    }

    /// Freezes the pool and publishes the commitment for `task_id`'s run at `fire` (default:
    /// the current fire). Returns the run and whether this call created it; a run that exists
    /// already is returned as it is.
    #[tracing::instrument(name = "trigger", skip_all, fields(task = task_id))]
    pub async fn trigger(
        &self,
        task_id: &str,
        fire: Option<DateTime<Tz>>,
        witness: WitnessRequest,
        actor: &Actor,
    ) -> Result<(Run, bool)> {
        let task = documents::load::<Task>(&*self.store, task_id).await?.value;
        let manual = fire.is_none();
        let fire = match fire {
            Some(f) => f,
            None => task.current_fire(self.settings.timezone, self.now())?,
        };
        let run_id = Self::run_id(&task.id, &fire);
        if let Ok(existing) = self.get(&run_id).await {
            return Ok((existing, false));
        }
        // A task drawn once on its date is never drawn again, whatever its date says now
        // (amendments refuse to redefine it; this holds for one stored before that rule).
        if let Some(run) = self.drawn_on_its_date(&task, &run_id).await? {
            return Err(ServiceError::Invalid(format!(
                "task {} was drawn once already (run {}, {}): no second draw",
                task.id,
                run.id,
                run.state.as_str()
            )));
        }
        if manual && self.today() > task.window_end {
            return Err(ServiceError::Invalid(format!(
                "task {}'s window ended on {}: it is no longer drawn",
                task.id, task.window_end
            )));
        }
        let _held = self.lock(&run_id).await;
        if let Ok(existing) = self.get(&run_id).await {
            return Ok((existing, false));
        }
        let witness = self.settings.witness(witness)?;
        let protocol = Protocol::CURRENT;
        let announce_drand = || {
            self.settings.drand.as_ref().map(|d| {
            let round = d
                .chain
                .first_round_from(d.now().timestamp() + d.margin_secs);
            let a = Announcement::for_round(&d.chain, round);
            (
                a.line(),
                DrandRound {
                    chain: d.name.clone(),
                    chain_hash: hex::encode(a.chain_hash),
                    round,
                    at: DateTime::from_timestamp(a.at, 0).unwrap_or_default(),
                    beacon: None,
                    fetched: None,
                    stalled: None,
                },
            )
            })
        };
        let announce = |drand: &Option<(String, DrandRound)>| {
            let lines: Vec<String> = witness
                .iter()
                .map(|w| w.announcement(protocol))
                .chain(drand.iter().map(|(line, _)| line.clone()))
                .collect();
            Announced {
                text: lines.join("\n"),
                sources: witness
                    .iter()
                    .map(WitnessSource::source)
                    .chain(drand.iter().map(|(_, d)| d.source()))
                    .collect(),
                allow_weak: task.allow_weak_entropy,
            }
        };
        // Refused before anything is frozen: the bits do not depend on the round.
        if protocol == Protocol::V2 {
            let a = announce(&announce_drand());
            entropy::check_announcement(&a.sources, a.allow_weak)
                .map_err(|e| ServiceError::Invalid(format!("task {}: {e}", task.id)))?;
        }
        let salt = fresh_key()?;
        let secret = Secret::new(fresh_key()?.to_vec()).expect("32 bytes");
        let frozen = snapshots::freeze_task(
            &*self.store,
            &task.id,
            None,
            fire.date_naive(),
            self.settings.tier_source,
            &salt,
            self.now(),
        )
        .await?;
        // Chosen after the freeze, which can take seconds, so the margin holds from publication.
        let drand = announce_drand();
        let announced = announce(&drand);
        let commitment = frozen.pool.commitment(
            &run_id,
            &frozen.policy,
            secret_hash(secret.expose()),
            &announced,
        );
        let run = Run {
            id: run_id.clone(),
            task_id: task.id.clone(),
            plan_id: task.plan_id.clone(),
            fire_time: fire.to_rfc3339(),
            triggered_by: actor.name.clone(),
            state: RunState::Committed,
            snapshot: frozen.info.clone(),
            commitment_hash: hex::encode(commitment.hash()),
            commitment,
            committed_at: self.now(),
            witness,
            witness_entries: Vec::new(),
            entropy: None,
            drand: drand.map(|(_, d)| d),
            entropy_at: None,
            drawn_at: None,
            secret: None,
            audit_key: None,
            result_digest: None,
            signature: None,
            replacements: Vec::new(),
            results: BTreeMap::new(),
            window_end: task.window_end,
            published_at: None,
            published_by: None,
            failure: None,
        };
        let snapshot_doc = snapshots::document(&frozen.info, &salt);
        let column = SecretColumn {
            secret: secret.expose().to_vec(),
            audit_key: Some(fresh_key()?),
        };
        let run_doc = documents::to_secret_doc(&run, column.bytes());
        let audit = documents::draft(
            actor,
            Transition::Commit.as_str(),
            &run.id,
            &[&snapshot_doc, &run_doc],
        );
        failpoint(Transition::Commit);
        let written = self
            .store
            .write_docs(
                vec![
                    create(snapshot_doc),
                    create(run_doc),
                    tlog::op(&Transition::Commit.log_entry(&run)),
                ],
                audit,
            )
            .await;
        match written {
            Ok(_) => {
                tracing::info!(run = %run.id, commitment = %run.commitment_hash, "committed");
                self.cache.keep_frozen(frozen);
                // A checkpoint signed now shows when the commitment was public (draw-spec §22);
                // if this fails, the next checkpoint signed holds it, with a later time.
                if let Err(e) = self.checkpoint().await {
                    tracing::warn!(run = %run.id, error = %e, "no checkpoint signed after the commitment");
                }
                Ok((run, true))
            }
            // Another instance committed this run first: theirs stands.
            Err(StoreError::Conflict(_)) => Ok((self.get(&run_id).await?, false)),
            Err(e) => Err(e.into()),
        }
    }
}
