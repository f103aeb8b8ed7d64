//! Step 3 and after: the draw through the core, the bundles rebuilt from what is stored, and
//! replacements (补抽, recusals) through the core's procedure.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::cache::{self, Drawn};
use super::model::{ReplacementEntry, Run, RunState, SecretColumn};
use super::service::Runs;
use super::transition::{Transition, check_state};
use crate::core::Protocol;
use crate::core::bundle::{CommitmentLog, DrawInputs, FullBundle, PublicBundle};
use crate::core::pool::CommittedPool;
use crate::core::draw::ReplacementRequest;
use crate::core::encode::Hash;
use crate::core::secret::{SaltKey, Secret};
use crate::core::signature::{Signature, bundle_statement};
use crate::service::{snapshots, tlog};
use crate::service::{Actor, Result, ServiceError};
use crate::store::{Doc, DocKind, StoreError};

impl Runs {
    /// Step 3: derives the seed, draws, reveals the secret, signs and stores the bundle.
    /// Idempotent: the draw is a function of what is stored.
    #[tracing::instrument(name = "draw", skip_all, fields(run = run_id))]
    pub async fn draw(&self, run_id: &str) -> Result<Run> {
        let (_held, stored) = self.locked(run_id).await?;
        let mut run = stored.value.clone();
        if run.state != RunState::Entropy {
            return Ok(run);
        }
        let column = stored
            .doc
            .secret
            .as_ref()
            .map(|s| SecretColumn::parse(run_id, &s.0))
            .ok_or_else(|| StoreError::Corrupt(format!("run {run_id}: draw secret missing")))??;
        let secret = &column.secret;
        let actor = Actor {
            name: "double-random".into(),
            reason: "entropy complete".into(),
        };
        let made = match self.full(&run, secret).await {
            Err(ServiceError::Core(e)) => {
                tracing::warn!(run = %run.id, error = %e, "the draw is impossible");
                run.state = RunState::Failed;
                run.failure = Some(e.to_string());
                run.drawn_at = Some(self.now());
                run.reveal(&column);
                self.write(&run, &stored, &actor, Transition::DrawFailed, Vec::new())
                    .await?;
                return Ok(run);
            }
            other => other?,
        };
        let (full, pool) = &*made;
        let public = self.public_of(&run, full, pool).await?;
        run.state = RunState::Drawn;
        run.drawn_at = Some(self.now());
        run.reveal(&column);
        run.result_digest = Some(hex::encode(full.result_digest));
        run.signature = Some(self.signature(&run, &full.result_digest));
        let bundle = bundle_doc(&run, &public);
        match self
            .write(
                &run,
                &stored,
                &actor,
                Transition::Draw,
                vec![(bundle, None)],
            )
            .await
        {
            Ok(()) => {
                tracing::info!(run = %run.id, result = ?run.result_digest, "drawn");
                Ok(run)
            }
            Err(ServiceError::Store(StoreError::Conflict(_))) => self.get(run_id).await,
            Err(e) => Err(e),
        }
    }

    /// Completes draws whose entropy was fixed before a crash. Returns how many.
    pub async fn recover(&self) -> Result<usize> {
        let mut n = 0;
        for run in self.list(None).await? {
            if run.state == RunState::Entropy {
                tracing::info!(run = %run.id, "completing an interrupted draw");
                match self.draw(&run.id).await {
                    Ok(_) => n += 1,
                    // Serving must go on: the run stays in `entropy` and is retried next start.
                    Err(e) => {
                        tracing::error!(run = %run.id, error = %e, "cannot complete the draw")
                    }
                }
            }
        }
        Ok(n)
    }

    /// Draws the runs left in `entropy` whose lease has run out: their instance died
    /// mid-draw (or its draw failed on a storage error). Returns the runs drawn; one that
    /// cannot be drawn now is logged and left for the next pass.
    pub async fn finish_abandoned(&self, now: DateTime<Utc>) -> Result<Vec<String>> {
        let mut done = Vec::new();
        for run in self.list(None).await? {
            let expired = run
                .entropy_at
                .is_none_or(|at| now - at >= self.settings.lease);
            if run.state == RunState::Entropy && expired {
                tracing::info!(run = %run.id, "finishing a draw its instance left");
                match self.draw(&run.id).await {
                    Ok(_) => done.push(run.id),
                    // The others still get their turn; this one is tried again next pass.
                    Err(e) => tracing::error!(run = %run.id, error = %e, "cannot finish the draw"),
                }
            }
        }
        Ok(done)
    }

    /// The signed public bundle (JSON, as stored).
    pub async fn public_bundle(&self, run_id: &str) -> Result<String> {
        match self.store.doc(DocKind::Bundle, run_id).await? {
            Some(d) => Ok(d.doc),
            None => {
                let run = self.get(run_id).await?;
                Err(ServiceError::NotFound(format!(
                    "run {run_id} is {}: no bundle before the draw",
                    run.state.as_str()
                )))
            }
        }
    }

    /// A drawn run's signature over its bundle statement.
    pub async fn signature_of(&self, run_id: &str) -> Result<Signature> {
        self.get(run_id)
            .await?
            .signature
            .ok_or_else(|| ServiceError::NotFound(format!("run {run_id} is not drawn yet")))
    }

    pub(super) async fn drawn_full(&self, run_id: &str) -> Result<(Run, Drawn)> {
        let run = self.get(run_id).await?;
        if !run.is_drawn() {
            return Err(ServiceError::NotFound(format!(
                "run {run_id} is {}: not drawn yet",
                run.state.as_str()
            )));
        }
        let made = self.full(&run, &run.revealed_secret()?).await?;
        Ok((run, made))
    }

    /// The auditor's full bundle (the whole snapshot and salt key), rebuilt from history.
    pub async fn full_bundle(&self, run_id: &str) -> Result<String> {
        let (_, made) = self.drawn_full(run_id).await?;
        Ok(serde_json::to_string(&made.0).expect("serialises"))
    }

    /// A replacement through the core's procedure (never a hand-picked object or inspector);
    /// it needs a reason, which the public bundle shows.
    #[tracing::instrument(name = "replace", skip_all, fields(run = run_id))]
    pub async fn replace(
        &self,
        run_id: &str,
        request: ReplacementRequest,
        by: &str,
    ) -> Result<Run> {
        let reason = match &request {
            ReplacementRequest::Object { reason, .. }
            | ReplacementRequest::Inspector { reason, .. } => reason.clone(),
        };
        if reason.trim().is_empty() {
            return Err(ServiceError::Invalid("a replacement needs a reason".into()));
        }
        let actor = Actor {
            name: by.into(),
            reason,
        };
        let (_held, stored) = self.locked(run_id).await?;
        let mut run = stored.value.clone();
        check_state(
            &run,
            &[RunState::Drawn, RunState::Results],
            "replacements happen after the draw and before publication",
        )?;
        let made = self.full(&run, &run.revealed_secret()?).await?;
        let (next, pool) = tokio::task::block_in_place(|| {
            made.0.with_replacements(std::slice::from_ref(&request))
        })?;
        let record = next
            .result
            .replacements
            .last()
            .cloned()
            .expect("one replacement was added");
        if let ReplacementRequest::Object { object, .. } = &record.request {
            run.results.remove(object.as_str());
        }
        run.replacements.push(ReplacementEntry {
            by: actor.name.clone(),
            at: self.now(),
            record,
        });
        run.result_digest = Some(hex::encode(next.result_digest));
        run.signature = Some(self.signature(&run, &next.result_digest));
        let previous_bundle = self.public_bundle(run_id).await?;
        // The commitment's log proof does not change: carried over, the log not read again.
        #[derive(serde::Deserialize)]
        struct Logged {
            #[serde(default)]
            commitment_log: Option<CommitmentLog>,
        }
        let mut public = PublicBundle::from_full(&next, &pool);
        public.commitment_log = serde_json::from_str::<Logged>(&previous_bundle)
            .map_err(|e| StoreError::Corrupt(format!("bundle {run_id}: {e}")))?
            .commitment_log;
        let bundle = bundle_doc(&run, &public);
        self.write(
            &run,
            &stored,
            &actor,
            Transition::Replace,
            vec![(bundle, Some(previous_bundle))],
        )
        .await?;
        self.cache
            .keep_drawn(
                cache::key(&run.id, run.replacements.len()),
                Arc::new((next, pool)),
            );
        Ok(run)
    }

    /// The public bundle of `full`; a v2 one with its commitment's log proof (draw-spec §22).
    async fn public_of(
        &self,
        run: &Run,
        full: &FullBundle,
        pool: &CommittedPool,
    ) -> Result<PublicBundle> {
        let mut public = PublicBundle::from_full(full, pool);
        if run.commitment.protocol != Protocol::V1 {
            let p = tlog::commitment_proof(&*self.store, &*self.log().await?, &run.id).await?;
            public.commitment_log = Some(CommitmentLog {
                checkpoint: p.checkpoint,
                index: p.index,
                size: p.size,
                entry: p.entry,
                proof: p.proof,
            });
        }
        Ok(public)
    }

    /// The objects to inspect now, after replacements.
    pub(super) async fn inspected(&self, run: &Run) -> Result<Vec<String>> {
        let bundle: PublicBundle = serde_json::from_str(&self.public_bundle(&run.id).await?)
            .map_err(|e| StoreError::Corrupt(format!("bundle {}: {e}", run.id)))?;
        Ok(bundle
            .result
            .final_assignments
            .iter()
            .map(|a| a.object.as_str().to_owned())
            .collect())
    }

    /// The full bundle of a run that has its entropy, from the stored snapshot (kept in memory
    /// when just frozen, rebuilt from the library history otherwise).
    async fn full(&self, run: &Run, secret: &[u8]) -> Result<Drawn> {
        let key = cache::key(&run.id, run.replacements.len());
        self.cache
            .drawn(key, || async {
                let kept = self.cache.take_frozen(&run.snapshot.address);
                let (info, salt) = snapshots::find(&*self.store, &run.snapshot.address).await?;
                let frozen = match kept {
                    Some(f) => f,
                    None => snapshots::rebuild(&*self.store, &info, &salt).await?,
                };
                let (entropy, beacons) = run.entropy_values()?;
                let inputs = DrawInputs {
                    protocol: run.commitment.protocol,
                    task_id: run.id.clone(),
                    policy: frozen.policy,
                    snapshot: frozen.snapshot,
                    salt_key: SaltKey(salt),
                    secret: Secret::new(secret.to_vec()).map_err(ServiceError::Invalid)?,
                    announced: run.commitment.announced(),
                    entropy,
                    beacons,
                    replacements: run
                        .replacements
                        .iter()
                        .map(|r| r.record.request.clone())
                        .collect(),
                };
                let made = tokio::task::block_in_place(|| FullBundle::create(inputs))?;
                if hex::encode(made.0.commitment_hash) != run.commitment_hash {
                    return Err(StoreError::Corrupt(format!(
                        "run {}: the rebuilt commitment differs from the published one",
                        run.id
                    ))
                    .into());
                }
                Ok(Arc::new(made))
            })
            .await
    }

    fn signature(&self, run: &Run, result_digest: &Hash) -> Signature {
        self.key.sign(bundle_statement(
            &run.id,
            &run.commitment_hash,
            &hex::encode(result_digest),
            run.replacements.len(),
        ))
    }
}

/// The stored public bundle of `run`.
fn bundle_doc(run: &Run, public: &PublicBundle) -> Doc {
    Doc {
        kind: DocKind::Bundle,
        id: run.id.clone(),
        parent: run.task_id.clone(),
        doc: serde_json::to_string(public).expect("serialises"),
        secret: None,
    }
}
