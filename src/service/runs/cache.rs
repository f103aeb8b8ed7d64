//! The pool kept in memory between a commitment and its draw, and the draws computed lately:
//! a draw right after its commitment, and enterprise lookups, skip rebuilding the pool from
//! the library history (seconds at a million objects). Only ever a shortcut: everything in
//! here can be rebuilt from the store, and is checked against the published commitment.

use std::sync::{Arc, Mutex};

use tokio::sync::{OnceCell, Semaphore};

use crate::core::bundle::FullBundle;
use crate::core::pool::CommittedPool;
use crate::service::snapshots::Frozen;

/// A computed draw and its committed pool.
pub(super) type Drawn = Arc<(FullBundle, CommittedPool)>;

/// Objects kept in all the draws held together (the last one used is kept whatever its size):
/// lookups alternating between runs no longer rebuild a pool each time (1.1 s a request at
/// 200,000 objects), in a bounded memory.
const KEPT_OBJECTS: usize = 1_000_000;

pub(super) struct PoolCache {
    drawn: Kept<Drawn>,
    /// The pool frozen by the last commitment.
    frozen: Mutex<Option<Frozen>>,
}

impl Default for PoolCache {
    fn default() -> Self {
        Self {
            drawn: Kept::new(KEPT_OBJECTS, |d| d.0.snapshot.objects().len()),
            frozen: Mutex::default(),
        }
    }
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

    /// The draw kept under `key`, or the one `make` computes (then kept).
    pub(super) async fn drawn<F, Fut>(&self, key: String, make: F) -> crate::service::Result<Drawn>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = crate::service::Result<Drawn>>,
    {
        self.drawn.get_or_make(key, make).await
    }

    pub(super) fn keep_drawn(&self, key: String, drawn: Drawn) {
        self.drawn.keep(key, drawn);
    }
}

/// Values by key, least recently used first, within a total weight. Concurrent lookups of one
/// key wait for one computation; computations of different keys take turns, so that two
/// rebuilt pools are never in memory at once only because two runs were asked for together.
struct Kept<T> {
    entries: Mutex<Vec<(String, Arc<OnceCell<T>>)>>,
    making: Semaphore,
    budget: usize,
    weigh: fn(&T) -> usize,
}

impl<T: Clone> Kept<T> {
    fn new(budget: usize, weigh: fn(&T) -> usize) -> Self {
        Self {
            entries: Mutex::default(),
            making: Semaphore::new(1),
            budget,
            weigh,
        }
    }

    async fn get_or_make<F, Fut, E>(&self, key: String, make: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = self.cell(&key);
        let value = cell
            .get_or_try_init(|| async {
                let _turn = self.making.acquire().await.expect("never closed");
                make().await
            })
            .await?
            .clone();
        self.evict(&key);
        Ok(value)
    }

    fn keep(&self, key: String, value: T) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(k, _)| *k != key);
        entries.push((key.clone(), Arc::new(OnceCell::new_with(Some(value)))));
        drop(entries);
        self.evict(&key);
    }

    /// The cell of `key`, now the most recently used.
    fn cell(&self, key: &str) -> Arc<OnceCell<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let cell = match entries.iter().position(|(k, _)| k == key) {
            Some(i) => entries.remove(i).1,
            None => Arc::new(OnceCell::new()),
        };
        entries.push((key.into(), cell.clone()));
        cell
    }

    /// Drops the least recently used values until the rest weigh at most the budget; `key`
    /// (just used) stays.
    fn evict(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let weight = |c: &OnceCell<T>| c.get().map_or(0, self.weigh);
        let mut total: usize = entries.iter().map(|(_, c)| weight(c)).sum();
        let mut i = 0;
        while total > self.budget && i < entries.len() {
            if entries[i].0 != key && entries[i].1.initialized() {
                total -= weight(&entries[i].1);
                entries.remove(i);
            } else {
                i += 1;
            }
        }
    }

    #[cfg(test)]
    fn keys(&self) -> Vec<String> {
        let entries = self.entries.lock().unwrap();
        entries.iter().map(|(k, _)| k.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn runs_looked_up_in_turn_are_computed_once_each_within_the_budget() {
        let kept: Kept<usize> = Kept::new(10, |v| *v);
        let made = AtomicUsize::new(0);
        let get = |key: &'static str, weight: usize| {
            let (kept, made) = (&kept, &made);
            async move {
                kept.get_or_make(key.to_string(), || async {
                    made.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>(weight)
                })
                .await
                .unwrap()
            }
        };
        // The probe's pattern: lookups alternating between two runs.
        for _ in 0..5 {
            assert_eq!(get("a", 4).await, 4);
            assert_eq!(get("b", 5).await, 5);
        }
        assert_eq!(made.load(Ordering::SeqCst), 2);
        // A third run over the budget pushes out the least recently used one only.
        get("c", 3).await;
        assert_eq!(kept.keys(), ["b", "c"]);
        // One bigger than the whole budget is still kept while it is the one in use.
        get("d", 50).await;
        assert_eq!(kept.keys(), ["d"]);
        // Ten concurrent lookups of one run compute it once.
        let before = made.load(Ordering::SeqCst);
        futures_util::future::join_all((0..10).map(|_| get("e", 1))).await;
        assert_eq!(made.load(Ordering::SeqCst), before + 1);
    }
}
