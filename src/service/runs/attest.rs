//! Auditor attestations of a drawn run (draw-spec §21): accepted only when the signature
//! verifies, the key is a registered auditor's that is not revoked, and the statement is this
//! run's commitment and current result; stored as a document of the run and appended to the
//! transparency log in one transaction. The signature is the credential: no token is needed,
//! so an auditor office needs no account on the daemon of the office it checks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::service::Runs;
use crate::core::attestation::{Attestation, Subject};
use crate::core::tlog::{ENTRY_FORMAT, LogEntry};
use crate::service::clock::{stamp, stamped};
use crate::service::documents::{self, Document};
use crate::service::{Actor, Result, ServiceError, auditors, tlog};
use crate::store::{DocKind, StoreError};

/// A stored attestation: what the auditor sent, the registered name of its key, and when it
/// was accepted (document id: run, key and result digest, so one per auditor and result).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub attestation: Attestation,
    pub auditor: String,
    #[serde(with = "stamped")]
    pub accepted_at: DateTime<Utc>,
}

impl Document for Accepted {
    const KIND: DocKind = DocKind::Attestation;
    fn id(&self) -> String {
        let a = &self.attestation;
        format!("{}/{}/{}", a.run, a.auditor_key, a.result_digest)
    }
    fn parent(&self) -> String {
        self.attestation.run.clone()
    }
}

/// The log leaf of an accepted attestation: a watcher checks its signature from the log alone.
fn log_entry(a: &Attestation, task: &str, replacements: usize, at: DateTime<Utc>) -> LogEntry {
    LogEntry {
        format: ENTRY_FORMAT.into(),
        event: "attestation".into(),
        run: a.run.clone(),
        task: task.into(),
        at: stamp(at),
        commitment_hash: a.commitment_hash.clone(),
        result_digest: Some(a.result_digest.clone()),
        replacements,
        results_digest: None,
        auditor_key: Some(a.auditor_key.clone()),
        signature: Some(a.signature.clone()),
    }
}

impl Runs {
    /// Accepts `a` for run `run_id`. Returns it as stored, and whether it is new (the same
    /// attestation sent again is accepted once).
    #[tracing::instrument(name = "attest", skip_all, fields(run = run_id))]
    pub async fn attest(&self, run_id: &str, a: Attestation) -> Result<(Attestation, bool)> {
        let subject = a
            .verify()
            .map_err(|e| ServiceError::Invalid(format!("attestation: {e}")))?;
        let mut a = a;
        a.auditor_key = a.auditor_key.to_ascii_lowercase();
        a.commitment_hash = hex::encode(subject.commitment_hash);
        a.result_digest = hex::encode(subject.result_digest);
        let Some(auditor) = auditors::active(&*self.store, &a.auditor_key).await? else {
            return Err(ServiceError::Forbidden(format!(
                "key {} is not a registered auditor's (or it was revoked): attestation refused",
                a.auditor_key
            )));
        };
        let (_held, stored) = self.locked(run_id).await?;
        let run = &stored.value;
        let digest = run.result_digest.as_deref().filter(|_| run.is_drawn());
        let Some(digest) = digest else {
            return Err(ServiceError::Invalid(format!(
                "run {run_id} is {}: only a drawn run is attested",
                run.state.as_str()
            )));
        };
        let want = Subject {
            run: run.id.clone(),
            commitment_hash: crate::core::tlog::parse_hash(&run.commitment_hash)
                .map_err(|e| StoreError::Corrupt(format!("run {run_id}: {e}")))?,
            result_digest: crate::core::tlog::parse_hash(digest)
                .map_err(|e| StoreError::Corrupt(format!("run {run_id}: {e}")))?,
        };
        if subject != want {
            return Err(ServiceError::Invalid(format!(
                "the attestation is of run {}, commitment {}, result {}: run {run_id} has \
                 commitment {} and result {digest}",
                subject.run, a.commitment_hash, a.result_digest, run.commitment_hash
            )));
        }
        let accepted = Accepted {
            attestation: a,
            auditor: auditor.name.clone(),
            accepted_at: self.now(),
        };
        if let Some(kept) = documents::get::<Accepted>(&*self.store, &accepted.id()).await? {
            return Ok((kept.value.attestation, false));
        }
        let (doc, op) = documents::put(&accepted, None);
        let actor = Actor {
            name: format!("auditor {}", auditor.name),
            reason: format!("attestation by key {}", auditor.key),
        };
        let entry = log_entry(
            &accepted.attestation,
            &run.task_id,
            run.replacements.len(),
            accepted.accepted_at,
        );
        self.store
            .write_docs(
                vec![stored.expect(), op, tlog::op(&entry)],
                documents::draft(&actor, "attestation", run_id, &[&doc]),
            )
            .await?;
        tracing::info!(run = %run_id, auditor = %auditor.name, "attestation accepted");
        Ok((accepted.attestation, true))
    }

    /// The attestations accepted for `run_id`, every result of it, in id order.
    pub async fn attestations(&self, run_id: &str) -> Result<Vec<Attestation>> {
        self.load(run_id).await?;
        Ok(documents::list::<Accepted>(&*self.store, Some(run_id))
            .await?
            .into_iter()
            .map(|s| s.attestation)
            .collect())
    }
}
