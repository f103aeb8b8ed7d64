//! Step 2: the announced public entropy arrives: officers enter the witnessed values, the
//! drand watcher brings the announced round's beacon (verified before it is stored). The run
//! leaves `committed` when every announced source has delivered, and the draw follows.

use chrono::{DateTime, Utc};

use super::model::{Fetched, Run, RunState, Stall, WitnessEntry, WitnessSource};
use super::service::Runs;
use super::transition::{Transition, check_state, conflict};
use crate::core::Protocol;
use crate::core::beacon::BeaconRecord;
use crate::core::rfc3797;
use crate::service::{Actor, Result, ServiceError};

/// The watcher's actor for what it records.
fn watcher(reason: String) -> Actor {
    Actor {
        name: "double-random".into(),
        reason,
    }
}

/// The one spelling of what an officer typed, under the run's protocol: v1 the RFC 3797 key
/// string (where `2.5 3` and `2 53` coincide), v2 whole numbers only (draw-spec §7.6).
fn canonical_values(
    protocol: Protocol,
    witness: &WitnessSource,
    values: &str,
) -> std::result::Result<String, String> {
    match protocol {
        Protocol::V1 => rfc3797::parse_seeds(values)
            .map(|s| rfc3797::key_string(&s))
            .map_err(|e| e.to_string()),
        Protocol::V2 => witness.source().canonical_text(values),
    }
}

impl Runs {
    /// An officer enters the witnessed values. When the required number of distinct officers
    /// agree, the entropy is fixed and, if every source has delivered, the draw follows.
    #[tracing::instrument(name = "enter_entropy", skip_all, fields(run = run_id))]
    pub async fn enter_entropy(&self, run_id: &str, values: &str, actor: &Actor) -> Result<Run> {
        let (held, stored) = self.locked(run_id).await?;
        let mut run = stored.value.clone();
        check_state(&run, &[RunState::Committed], "its entropy is already fixed")?;
        let Some(witness) = &run.witness else {
            return Err(ServiceError::Invalid(format!(
                "run {run_id} takes no witness values: its entropy is a drand beacon"
            )));
        };
        let canonical = canonical_values(run.commitment.protocol, witness, values)
            .map_err(|e| ServiceError::Invalid(format!("witness values: {e}")))?;
        let needed = usize::from(witness.witnesses);
        if run.entropy.is_some() {
            return Err(conflict(format!(
                "run {run_id}: the witness values are already fixed; the draw waits for its drand round"
            )));
        }
        run.witness_entries.retain(|e| e.officer != actor.name);
        run.witness_entries.push(WitnessEntry {
            officer: actor.name.clone(),
            at: self.now(),
            values: canonical.clone(),
        });
        let agreeing = run
            .witness_entries
            .iter()
            .filter(|e| e.values == canonical)
            .count();
        let mismatch = run.witness_entries.iter().any(|e| e.values != canonical);
        if agreeing >= needed && !mismatch {
            run.entropy = Some(canonical);
            if run.entropy_complete() {
                run.state = RunState::Entropy;
                run.entropy_at = Some(self.now());
            }
        }
        let complete = run.state == RunState::Entropy;
        self.write(&run, &stored, actor, Transition::Entropy, Vec::new())
            .await?;
        drop(held);
        if mismatch {
            return Err(conflict(format!(
                "run {run_id}: the values entered differ between officers; each officer \
                 re-enters what the public event showed"
            )));
        }
        if complete {
            self.draw(run_id).await
        } else {
            Ok(run)
        }
    }

    /// Committed runs whose announced drand round is due at `now` (drand clock) and has no
    /// beacon yet, with the round: what the watcher asks the relays for.
    pub async fn awaiting_beacon(&self, now: DateTime<Utc>) -> Result<Vec<(Run, u64)>> {
        let Some(d) = &self.settings.drand else {
            return Ok(Vec::new());
        };
        let chain_hash = hex::encode(d.chain.hash());
        let mut due = Vec::new();
        for run in self.list(None).await? {
            let Some(round) = run.drand.as_ref().filter(|r| r.beacon.is_none()) else {
                continue;
            };
            if run.state != RunState::Committed {
                continue;
            }
            if round.chain_hash != chain_hash {
                tracing::error!(run = %run.id, "the run's drand chain is not the configured one");
                continue;
            }
            if d.chain.round_time(round.round) <= now.timestamp() {
                let round = round.round;
                due.push((run, round));
            }
        }
        Ok(due)
    }

    /// Records the announced round's beacon, verified against the chain's public key, then
    /// draws if every source has delivered. A beacon for another round or with a bad
    /// signature is refused and nothing is written.
    #[tracing::instrument(name = "record_beacon", skip_all, fields(run = run_id))]
    pub async fn record_beacon(
        &self,
        run_id: &str,
        record: BeaconRecord,
        relay: &str,
    ) -> Result<Run> {
        let (held, stored) = self.locked(run_id).await?;
        let mut run = stored.value.clone();
        let Some(d) = run.drand.as_mut() else {
            return Err(ServiceError::Invalid(format!(
                "run {run_id} announced no drand round"
            )));
        };
        if d.beacon.is_some() || run.state != RunState::Committed {
            return Ok(run);
        }
        let announced = (d.chain_hash.as_str(), d.round);
        let got = (hex::encode(record.chain.hash()), record.beacon.round);
        if announced != (got.0.as_str(), got.1) {
            return Err(ServiceError::Invalid(format!(
                "run {run_id} announced round {} of chain {}, not round {} of chain {}",
                d.round, d.chain_hash, got.1, got.0
            )));
        }
        record
            .chain
            .verify(&record.beacon)
            .map_err(|e| ServiceError::Invalid(format!("round {}: {e}", d.round)))?;
        d.beacon = Some(record);
        d.fetched = Some(Fetched {
            at: self.now(),
            relay: relay.into(),
        });
        d.stalled = None;
        if run.entropy_complete() {
            run.state = RunState::Entropy;
            run.entropy_at = Some(self.now());
        }
        let actor = watcher(format!("drand beacon from {relay}"));
        self.write(&run, &stored, &actor, Transition::Beacon, Vec::new())
            .await?;
        drop(held);
        if run.state == RunState::Entropy {
            self.draw(run_id).await
        } else {
            Ok(run)
        }
    }

    /// Marks a run whose drand round no relay serves as stalled (once; the beacon clears it).
    pub async fn mark_stalled(&self, run_id: &str, reason: &str) -> Result<Run> {
        let (_held, stored) = self.locked(run_id).await?;
        let mut run = stored.value.clone();
        let Some(d) = run.drand.as_mut() else {
            return Ok(run);
        };
        if d.beacon.is_some() || d.stalled.is_some() || run.state != RunState::Committed {
            return Ok(run);
        }
        d.stalled = Some(Stall {
            since: self.now(),
            reason: reason.into(),
        });
        tracing::warn!(run = %run.id, reason, "stalled: no relay serves the announced drand round");
        self.write(
            &run,
            &stored,
            &watcher(reason.into()),
            Transition::Stall,
            Vec::new(),
        )
        .await?;
        Ok(run)
    }
}
