//! A transition of a run: one compare-and-set write of the run document (plus the documents it
//! brings), its audit entry and, for the events the public log records, its log leaf, all in
//! one transaction. A crash leaves the run before or after a transition, never between.

use std::fmt;

use super::model::{Run, RunState};
use super::service::Runs;
use crate::core::tlog::{ENTRY_FORMAT, LogEntry, results_digest};
use crate::service::clock::stamp;
use crate::service::documents::{self, Stored};
use crate::service::tlog;
use crate::service::{Actor, Result, ServiceError};
use crate::store::{Doc, DocOp, StoreError};

/// Every way a run changes; the name is the audit action (and the log event, when logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Commit,
    Entropy,
    Beacon,
    Stall,
    Draw,
    DrawFailed,
    Replace,
    Results,
    Publish,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Commit => "commit",
            Transition::Entropy => "entropy",
            Transition::Beacon => "beacon",
            Transition::Stall => "stall",
            Transition::Draw => "draw",
            Transition::DrawFailed => "draw_failed",
            Transition::Replace => "replace",
            Transition::Results => "results",
            Transition::Publish => "publish",
        }
    }

    /// Whether the public transparency log records it.
    pub fn logged(self) -> bool {
        matches!(
            self,
            Transition::Commit
                | Transition::Draw
                | Transition::DrawFailed
                | Transition::Replace
                | Transition::Publish
        )
    }

    /// The log leaf this transition appends for `run` (as it is after the transition).
    pub(super) fn log_entry(self, run: &Run) -> LogEntry {
        // The event's own time, as the run records it.
        let at = match self {
            Transition::Commit => Some(run.committed_at),
            Transition::Draw | Transition::DrawFailed => run.drawn_at,
            Transition::Replace => run.replacements.last().map(|r| r.at),
            _ => run.published_at,
        };
        LogEntry {
            format: ENTRY_FORMAT.into(),
            event: self.as_str().into(),
            run: run.id.clone(),
            task: run.task_id.clone(),
            at: stamp(at.expect("a logged transition records its time")),
            commitment_hash: run.commitment_hash.clone(),
            result_digest: run.result_digest.clone(),
            replacements: run.replacements.len(),
            results_digest: (self == Transition::Publish)
                .then(|| results_digest(&serde_json::to_value(&run.results).expect("serialises"))),
            auditor_key: None,
            signature: None,
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// For tests that kill the process inside a transition: with `DOUBLE_RANDOM_FAILPOINT=name`,
/// the process announces the point on stderr and stops there until killed.
pub(super) fn failpoint(t: Transition) {
    static POINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let set = POINT.get_or_init(|| std::env::var("DOUBLE_RANDOM_FAILPOINT").ok());
    if set.as_deref() == Some(t.as_str()) {
        eprintln!("failpoint {t} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

pub(super) fn conflict(m: impl Into<String>) -> ServiceError {
    ServiceError::Store(StoreError::Conflict(m.into()))
}

/// A transition's precondition: the run is in one of `allowed`, else a conflict naming `rule`.
pub(super) fn check_state(run: &Run, allowed: &[RunState], rule: &str) -> Result<()> {
    if allowed.contains(&run.state) {
        return Ok(());
    }
    Err(conflict(format!(
        "run {} is {}: {rule}",
        run.id,
        run.state.as_str()
    )))
}

impl Runs {
    /// Writes `run` over `previous` (plus `more` documents, each over its previous text) with
    /// its audit entry and log leaf. The run's secret column is carried over until the draw
    /// reveals it.
    pub(super) async fn write(
        &self,
        run: &Run,
        previous: &Stored<Run>,
        actor: &Actor,
        transition: Transition,
        more: Vec<(Doc, Option<String>)>,
    ) -> Result<()> {
        let mut doc = documents::to_doc(run);
        if run.secret.is_none() {
            doc.secret = previous.doc.secret.clone();
        }
        let mut docs = vec![&doc];
        docs.extend(more.iter().map(|(d, _)| d));
        let audit = documents::draft(actor, transition.as_str(), &run.id, &docs);
        let mut ops: Vec<DocOp> = more
            .iter()
            .map(|(d, prev)| DocOp::Put {
                new: d.clone(),
                previous: prev.clone(),
            })
            .collect();
        ops.push(DocOp::Put {
            new: doc,
            previous: Some(previous.doc.doc.clone()),
        });
        if transition.logged() {
            ops.push(tlog::op(&transition.log_entry(run)));
        }
        failpoint(transition);
        self.store.write_docs(ops, audit).await?;
        Ok(())
    }
}
