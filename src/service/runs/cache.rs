//! The pool kept in memory between a commitment and its draw, and the last computed draw:
//! a draw right after its commitment, and enterprise lookups, skip rebuilding the pool from
//! the library history (seconds at a million objects). Only ever a shortcut: everything in
//! here can be rebuilt from the store, and is checked against the published commitment.

use std::sync::{Arc, Mutex};

use crate::core::bundle::FullBundle;
use crate::core::pool::CommittedPool;
use crate::service::snapshots::Frozen;

/// A computed draw and its committed pool.
pub(super) type Drawn = Arc<(FullBundle, CommittedPool)>;

#[derive(Default)]
pub(super) struct PoolCache {
    /// The last computed draw, by `key` (run and replacement count).
    drawn: tokio::sync::Mutex<Option<(String, Drawn)>>,
    /// The pool frozen by the last commitment.
    frozen: Mutex<Option<Frozen>>,
}

/// Names a run's draw after `replacements` replacements.
pub(super) fn key(run_id: &str, replacements: usize) -> String {
    format!("{run_id}#{replacements}")
}

impl PoolCache {
    pub(super) fn keep_frozen(&self, frozen: Frozen) {
        *self.frozen.lock().unwrap_or_else(|e| e.into_inner()) = Some(frozen);
    }

    /// The frozen pool of snapshot `address`, if it is the one kept (it is handed over once).
    pub(super) fn take_frozen(&self, address: &str) -> Option<Frozen> {
        let f = self.frozen.lock().unwrap_or_else(|e| e.into_inner()).take();
        f.filter(|f| f.info.address == address)
    }

    /// The draw kept under `key`, or the one `make` computes (then kept). One computation at a
    /// time: concurrent lookups of the same run wait for it instead of repeating it.
    pub(super) async fn drawn<F, Fut>(&self, key: String, make: F) -> crate::service::Result<Drawn>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = crate::service::Result<Drawn>>,
    {
        let mut kept = self.drawn.lock().await;
        if let Some((k, v)) = &*kept
            && *k == key
        {
            return Ok(v.clone());
        }
        *kept = None;
        let made = make().await?;
        *kept = Some((key, made.clone()));
        Ok(made)
    }

    pub(super) async fn keep_drawn(&self, key: String, drawn: Drawn) {
        *self.drawn.lock().await = Some((key, drawn));
    }
}
