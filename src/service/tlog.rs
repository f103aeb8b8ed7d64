//! The stored transparency log: every commitment, draw, replacement and publication is a leaf
//! of an append-only RFC 6962 tree, appended in the same transaction as the event (the entry
//! format is `core::tlog`). Checkpoints are signed only after the stored leaves are checked
//! against their hashes and against the last signed checkpoint, so the daemon never signs a
//! history that contradicts one it signed.

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

/// The signed checkpoint of the whole log, signing a new one if the log grew, stamped with
/// `now` (draw-spec §19). Refuses, saying why, when the stored log contradicts the last
/// checkpoint it signed.
pub async fn checkpoint(
    store: &dyn Store,
    key: &PublicationKey,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<SignedCheckpoint> {
    // Nothing new to sign: the note signed for this size stands (checked when it was signed).
    if let Some(c) = store.latest_checkpoint().await?
        && c.size == store.log_size().await?
    {
        return Ok(c);
    }
    let leaves = hashes(&verified_leaves(store).await?);
    let c = Checkpoint {
        origin: origin.into(),
        size: leaves.len() as u64,
        root: merkle::root(&leaves),
    };
    let signed = SignedCheckpoint {
        size: c.size,
        root: c.root,
        note: key.sign_checkpoint(&c, u64::try_from(now.timestamp()).unwrap_or_default()),
    };
    store.add_checkpoint(&signed).await?;
    Ok(signed)
}

pub async fn entries(store: &dyn Store, start: u64, end: u64) -> Result<Vec<LogLeaf>> {
    Ok(store.log_leaves(start, end).await?)
}

fn hexes(v: Vec<Hash>) -> Vec<String> {
    v.into_iter().map(hex::encode).collect()
}

fn size_check(size: u64, len: usize) -> Result<usize> {
    if size == 0 || size > len as u64 {
        return Err(ServiceError::Invalid(format!(
            "tree size {size} is not between 1 and the log's {len} leaves"
        )));
    }
    Ok(size as usize)
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
pub async fn inclusion(store: &dyn Store, index: u64, size: u64) -> Result<Vec<String>> {
    let leaves = hashes(&verified_leaves(store).await?);
    let n = size_check(size, leaves.len())?;
    if index >= size {
        return Err(ServiceError::Invalid(format!(
            "leaf {index} is not in a tree of {size}"
        )));
    }
    Ok(hexes(
        merkle::Tree::new(leaves[..n].to_vec()).proof(index as usize),
    ))
}

/// The proof that the tree of `first` leaves is a prefix of the tree of `second`.
pub async fn consistency(store: &dyn Store, first: u64, second: u64) -> Result<ConsistencyProof> {
    let leaves = hashes(&verified_leaves(store).await?);
    let n = size_check(second, leaves.len())?;
    let m = size_check(first, n)?;
    Ok(ConsistencyProof {
        first,
        second,
        proof: hexes(merkle::consistency_proof(&leaves[..n], m)),
    })
}

/// The latest entry of `run` in the log, with its proof in a freshly signed checkpoint.
pub async fn run_proof(
    store: &dyn Store,
    key: &PublicationKey,
    origin: &str,
    run: &str,
    now: DateTime<Utc>,
) -> Result<InclusionProof> {
    let signed = checkpoint(store, key, origin, now).await?;
    let size = signed.size;
    let mut leaves = verified_leaves(store).await?;
    leaves.truncate(size as usize);
    let last = leaves
        .iter()
        .rev()
        // Attestations aside: the run's own latest event is what a bundle or results match.
        .find(|l| {
            serde_json::from_str::<LogEntry>(&l.entry)
                .is_ok_and(|e| e.run == run && e.event != "attestation")
        })
        .ok_or_else(|| ServiceError::NotFound(format!("run {run:?} has no log entry")))?;
    Ok(InclusionProof {
        checkpoint: signed.note,
        index: last.index,
        size,
        entry: last.entry.clone(),
        proof: hexes(merkle::Tree::new(hashes(&leaves)).proof(last.index as usize)),
    })
}

/// A run's commitment entry with its inclusion proof in the first signed checkpoint that held
/// it, whose time shows when the commitment was public (draw-spec §22). The daemon signs a
/// checkpoint right after each commitment; if none holds it yet, one is signed now.
pub async fn commitment_proof(
    store: &dyn Store,
    key: &PublicationKey,
    origin: &str,
    run: &str,
    now: DateTime<Utc>,
) -> Result<InclusionProof> {
    let leaves = verified_leaves(store).await?;
    let commit = leaves
        .iter()
        .find(|l| {
            serde_json::from_str::<LogEntry>(&l.entry)
                .is_ok_and(|e| e.run == run && e.event == "commit")
        })
        .ok_or_else(|| ServiceError::NotFound(format!("run {run:?} has no commitment entry")))?;
    let signed = match store.checkpoint_covering(commit.index).await? {
        Some(c) => c,
        None => checkpoint(store, key, origin, now).await?,
    };
    let size = signed.size as usize;
    Ok(InclusionProof {
        checkpoint: signed.note,
        index: commit.index,
        size: signed.size,
        entry: commit.entry.clone(),
        proof: hexes(merkle::Tree::new(hashes(&leaves[..size])).proof(commit.index as usize)),
    })
}