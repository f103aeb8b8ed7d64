//! The transparency log: every commitment, draw, replacement and publication is a leaf of an
//! append-only RFC 6962 tree, appended in the same transaction as the event. Checkpoints are
//! signed only after the stored leaves are checked against their hashes and against the last
//! signed checkpoint, so the daemon never signs a history that contradicts one it signed.

use serde::{Deserialize, Serialize};

use super::access::PublicationKey;
use super::{Result, ServiceError};
use crate::core::checkpoint::Checkpoint;
use crate::core::encode::Hash;
use crate::core::merkle;
use crate::store::{DocOp, LogLeaf, SignedCheckpoint, Store, StoreError};

pub const ENTRY_FORMAT: &str = "double-random/v1 log entry";

/// A leaf's content (canonical JSON: fields in this order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub format: String,
    /// commit, draw, draw_failed, replace or publish.
    pub event: String,
    pub run: String,
    pub task: String,
    pub at: String,
    pub commitment_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    pub replacements: usize,
    /// On `publish`: the hex SHA-256 of the published results (`results_digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_digest: Option<String>,
}

/// The digest of published results: SHA-256 of their compact JSON with keys sorted, as
/// `GET /api/public/runs/{id}/results` serves them under `results`.
pub fn results_digest(results: &serde_json::Value) -> String {
    // serde_json's map is ordered by key, so this is canonical for any producer.
    let sorted: serde_json::Value = serde_json::from_str(&results.to_string()).expect("json");
    hex::encode(crate::core::encode::sha256(sorted.to_string().as_bytes()))
}

impl LogEntry {
    pub fn op(&self) -> DocOp {
        DocOp::Log {
            entry: serde_json::to_string(self).expect("serialises"),
        }
    }
}

/// A leaf with its proof of inclusion in a signed checkpoint: what a watcher or an enterprise
/// saves next to a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub checkpoint: String,
    pub index: u64,
    pub size: u64,
    pub entry: String,
    pub proof: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub proof: Vec<String>,
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

/// The signed checkpoint of the whole log, signing a new one if the log grew. Refuses, saying
/// why, when the stored log contradicts the last checkpoint it signed.
pub async fn checkpoint(
    store: &dyn Store,
    key: &PublicationKey,
    origin: &str,
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
        note: key.sign_checkpoint(&c),
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
) -> Result<InclusionProof> {
    let signed = checkpoint(store, key, origin).await?;
    let size = signed.size;
    let mut leaves = verified_leaves(store).await?;
    leaves.truncate(size as usize);
    let last = leaves
        .iter()
        .rev()
        .find(|l| serde_json::from_str::<LogEntry>(&l.entry).is_ok_and(|e| e.run == run))
        .ok_or_else(|| ServiceError::NotFound(format!("run {run:?} has no log entry")))?;
    Ok(InclusionProof {
        checkpoint: signed.note,
        index: last.index,
        size,
        entry: last.entry.clone(),
        proof: hexes(merkle::Tree::new(hashes(&leaves)).proof(last.index as usize)),
    })
}
