//! The stored transparency log: every commitment, draw, replacement and publication is a leaf
//! of an append-only RFC 6962 tree, appended in the same transaction as the event (the entry
//! format is `core::tlog`). Checkpoints are signed only after the stored leaves are checked
//! against their hashes and against the last signed checkpoint, so the daemon never signs a
//! history that contradicts one it signed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::access::PublicationKey;
use super::{Result, ServiceError};
use crate::core::checkpoint::Checkpoint;
use crate::core::encode::Hash;
use crate::core::merkle;
use crate::core::tlog::{ConsistencyProof, InclusionProof, LogEntry};
use crate::store::{DocOp, LogLeaf, SignedCheckpoint, Store, StoreError};

/// The write that appends `entry` as a leaf, in the transaction of its event.
pub fn op(entry: &LogEntry) -> DocOp {
    DocOp::Log {
        entry: entry.leaf(),
    }
}

fn corrupt(m: String) -> ServiceError {
    StoreError::Corrupt(m).into()
}

/// Every leaf, checked against the hash of its entry, its position, and the last checkpoint
/// signed (its first leaves must still have its root). The error says what is wrong.
async fn verified_leaves(store: &dyn Store) -> Result<Vec<LogLeaf>> {
    let leaves: Vec<LogLeaf> = store.log_leaves(0, u64::MAX).await?;
    for (i, l) in leaves.iter().enumerate() {
        if l.index != i as u64 {
            return Err(corrupt(format!(
                "transparency log: leaf {i} is missing (found {} in its place)",
                l.index
            )));
        }
        if merkle::leaf_hash(l.entry.as_bytes()) != l.leaf_hash {
            return Err(corrupt(format!(
                "transparency log: the entry of leaf {i} was edited (its hash no longer matches)"
            )));
        }
    }
    if let Some(c) = store.latest_checkpoint().await? {
        if c.size > leaves.len() as u64 {
            return Err(corrupt(format!(
                "transparency log: a checkpoint of {} leaves was signed but only {} are stored \
                 (truncated); refusing to sign",
                c.size,
                leaves.len()
            )));
        }
        if merkle::root(&hashes(&leaves[..c.size as usize])) != c.root {
            return Err(corrupt(format!(
                "transparency log: the first {} leaves no longer have the root signed earlier \
                 (history rewritten or reordered); refusing to sign",
                c.size
            )));
        }
    }
    Ok(leaves)
}

fn hashes(leaves: &[LogLeaf]) -> Vec<Hash> {
    leaves.iter().map(|l| l.leaf_hash).collect()
}

/// The log as of its latest signed checkpoint, its leaves verified once (when that checkpoint
/// was signed or first read by this instance), so that proofs need no table scan.
pub struct Verified {
    checkpoint: SignedCheckpoint,
    tree: merkle::Tree,
    /// Each run's latest entry other than an attestation: (leaf index, entry text).
    last_by_run: BTreeMap<String, (u64, String)>,
    /// Each run's commitment entry.
    commit_by_run: BTreeMap<String, (u64, String)>,
}

impl Verified {
    fn new(checkpoint: SignedCheckpoint, leaves: &[LogLeaf]) -> Self {
        let mut last_by_run = BTreeMap::new();
        let mut commit_by_run = BTreeMap::new();
        for l in leaves {
            let Ok(e) = serde_json::from_str::<LogEntry>(&l.entry) else {
                continue;
            };
            let at = (l.index, l.entry.clone());
            match e.event.as_str() {
                // Attestations aside: the run's own latest event is what a bundle or results match.
                "attestation" => {}
                "commit" => {
                    commit_by_run.entry(e.run.clone()).or_insert(at.clone());
                    last_by_run.insert(e.run, at);
                }
                _ => {
                    last_by_run.insert(e.run, at);
                }
            }
        }
        Self {
            checkpoint,
            tree: merkle::Tree::new(hashes(leaves)),
            last_by_run,
            commit_by_run,
        }
    }

    /// The leaf hashes of the first `size` leaves, `size` checked against the signed tree.
    fn prefix(&self, size: u64) -> Result<&[Hash]> {
        let leaves = self.tree.leaves();
        if size == 0 || size > leaves.len() as u64 {
            return Err(ServiceError::Invalid(format!(
                "tree size {size} is not between 1 and the log's {} leaves",
                leaves.len()
            )));
        }
        Ok(&leaves[..size as usize])
    }
}

/// The verified log of one instance. Requests that find it current share it; the one that
/// finds the log grown rebuilds it while the others wait for the result.
#[derive(Default)]
pub struct LogCache(tokio::sync::Mutex<Option<Arc<Verified>>>);

/// The verified log at its current size, signing a new checkpoint stamped with `now`
/// (draw-spec §19) if the log grew. Refuses, saying why, when the stored log contradicts the
/// last checkpoint signed.
pub async fn current(
    store: &dyn Store,
    key: &PublicationKey,
    origin: &str,
    cache: &LogCache,
    now: DateTime<Utc>,
) -> Result<Arc<Verified>> {
    let size = store.log_size().await?;
    let mut slot = cache.0.lock().await;
    if let Some(v) = slot.as_ref()
        && v.checkpoint.size == size
    {
        return Ok(v.clone());
    }
    let leaves = verified_leaves(store).await?;
    let signed = match store.latest_checkpoint().await? {
        // Another instance (or an earlier start) signed this size already.
        Some(c) if c.size == leaves.len() as u64 => c,
        _ => {
            let c = Checkpoint {
                origin: origin.into(),
                size: leaves.len() as u64,
                root: merkle::root(&hashes(&leaves)),
            };
            let signed = SignedCheckpoint {
                size: c.size,
                root: c.root,
                note: key.sign_checkpoint(&c, u64::try_from(now.timestamp()).unwrap_or_default()),
            };
            store.add_checkpoint(&signed).await?;
            signed
        }
    };
    let v = Arc::new(Verified::new(signed, &leaves));
    *slot = Some(v.clone());
    Ok(v)
}

pub async fn entries(store: &dyn Store, start: u64, end: u64) -> Result<Vec<LogLeaf>> {
    Ok(store.log_leaves(start, end).await?)
}

fn hexes(v: Vec<Hash>) -> Vec<String> {
    v.into_iter().map(hex::encode).collect()
}

impl Verified {
    pub fn note(&self) -> &str {
        &self.checkpoint.note
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<String>> {
        self.prefix(size)?;
        if index >= size {
            return Err(ServiceError::Invalid(format!(
                "leaf {index} is not in a tree of {size}"
            )));
        }
        Ok(hexes(self.path(index, size)?))
    }

    /// The proof that the tree of `first` leaves is a prefix of the tree of `second`.
    pub fn consistency(&self, first: u64, second: u64) -> Result<ConsistencyProof> {
        let leaves = self.prefix(second)?;
        if first == 0 || first > second {
            return Err(ServiceError::Invalid(format!(
                "tree size {first} is not between 1 and {second}"
            )));
        }
        Ok(ConsistencyProof {
            first,
            second,
            proof: hexes(merkle::consistency_proof(leaves, first as usize)),
        })
    }

    /// The proof of leaf `index` in the tree of `size` leaves, from the kept tree when it is
    /// that one.
    fn path(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        let leaves = self.prefix(size)?;
        Ok(if size == self.checkpoint.size {
            self.tree.proof(index as usize)
        } else {
            merkle::Tree::new(leaves.to_vec()).proof(index as usize)
        })
    }

    /// The latest entry of `run` (attestations aside), with its proof in this checkpoint.
    pub fn run_proof(&self, run: &str) -> Result<InclusionProof> {
        let (index, entry) = self
            .last_by_run
            .get(run)
            .ok_or_else(|| ServiceError::NotFound(format!("run {run:?} has no log entry")))?;
        Ok(InclusionProof {
            checkpoint: self.checkpoint.note.clone(),
            index: *index,
            size: self.checkpoint.size,
            entry: entry.clone(),
            proof: hexes(self.tree.proof(*index as usize)),
        })
    }
}

/// A run's commitment entry with its inclusion proof in the first signed checkpoint that held
/// it, whose time shows when the commitment was public (draw-spec §22). The daemon signs a
/// checkpoint right after each commitment; `log` (current) holds it in any case.
pub async fn commitment_proof(store: &dyn Store, log: &Verified, run: &str) -> Result<InclusionProof> {
    let (index, entry) = log
        .commit_by_run
        .get(run)
        .ok_or_else(|| ServiceError::NotFound(format!("run {run:?} has no commitment entry")))?;
    let signed = match store.checkpoint_covering(*index).await? {
        Some(c) if c.size <= log.checkpoint.size => c,
        _ => log.checkpoint.clone(),
    };
    Ok(InclusionProof {
        checkpoint: signed.note,
        index: *index,
        size: signed.size,
        entry: entry.clone(),
        proof: hexes(log.path(*index, signed.size)?),
    })
}
