//! The transparency log's protocol: the entry format, the proofs a daemon serves, and the
//! checks a watcher runs over them (inclusion, consistency, a bundle or published results
//! against the entry that records them, one commitment per run). Pure: where the leaves are
//! stored and how the texts were fetched are not its business.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::attestation::{self, Attestation, AttestationError};
use super::bundle::{self, Mismatch, PublicBundle};
use super::checkpoint::{self, Checkpoint};
use super::encode::Hash;
use super::merkle;

pub const ENTRY_FORMAT: &str = "double-random/v1 log entry";

/// A leaf's content (canonical JSON: fields in this order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub format: String,
    /// commit, draw, draw_failed, replace, publish or attestation.
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
    /// On `attestation`: the auditor's hex key and signature of the statement (draw-spec
    /// §21), so a watcher checks it from the log alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auditor_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl LogEntry {
    /// The attestation an `attestation` entry records.
    pub fn attestation(&self) -> Option<Attestation> {
        (self.event == "attestation").then(|| Attestation {
            format: attestation::FORMAT.into(),
            run: self.run.clone(),
            commitment_hash: self.commitment_hash.clone(),
            result_digest: self.result_digest.clone().unwrap_or_default(),
            auditor_key: self.auditor_key.clone().unwrap_or_default(),
            signature: self.signature.clone().unwrap_or_default(),
            name: None,
        })
    }
}

impl LogEntry {
    /// The leaf's bytes as the log stores and hashes them.
    pub fn leaf(&self) -> String {
        serde_json::to_string(self).expect("serialises")
    }
}

/// The digest of published results: SHA-256 of their compact JSON with keys sorted, as
/// `GET /api/public/runs/{id}/results` serves them under `results`.
pub fn results_digest(results: &serde_json::Value) -> String {
    // serde_json's map is ordered by key, so this is canonical for any producer.
    let sorted: serde_json::Value = serde_json::from_str(&results.to_string()).expect("json");
    hex::encode(super::encode::sha256(sorted.to_string().as_bytes()))
}

/// A leaf with its proof of inclusion in a signed checkpoint: what a watcher or an enterprise
/// saves next to a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub checkpoint: String,
    pub index: u64,
    pub size: u64,
    pub entry: String,
    pub proof: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub proof: Vec<String>,
}

/// Why a watcher's check failed; "FORK" marks a log that showed two histories.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{0:?} is not a 32-byte hex hash")]
    BadHash(String),
    #[error("malformed {what}: {error}")]
    Malformed {
        what: &'static str,
        error: serde_json::Error,
    },
    /// A signed note that does not verify, as `checkpoint::verify` says.
    #[error("{0}")]
    Checkpoint(String),
    #[error(
        "the consistency proof is from {found_first} to {found_second}, not {first} to {second}"
    )]
    ConsistencyRange {
        found_first: u64,
        found_second: u64,
        first: u64,
        second: u64,
    },
    #[error(
        "FORK: the checkpoint of {second} leaves does not extend the one of {first} saved earlier: \
         the log's history was rewritten"
    )]
    NotExtended { first: u64, second: u64 },
    #[error("the entry is not leaf {0} of the checkpoint it came with")]
    NotIncluded(u64),
    #[error("FORK: two different checkpoints of {0} leaves")]
    TwoCheckpoints(u64),
    #[error("the public bundle does not verify: {0:?}")]
    BundleInvalid(Option<Mismatch>),
    #[error(
        "the bundle (run {run}, result {digest}) is not the one the log entry records \
         (run {logged_run}, result {logged_digest:?})"
    )]
    BundleNotLogged {
        run: String,
        digest: String,
        logged_run: String,
        logged_digest: Option<String>,
    },
    #[error(
        "the results given (digest {digest}) are not the ones logged when run {run} was published"
    )]
    ResultsNotLogged { digest: String, run: String },
    #[error("entry {0} is missing or out of order")]
    EntryOutOfOrder(usize),
    #[error("entry without text")]
    EntryWithoutText,
    #[error("run {run} was committed twice (entries {first} and {second}): a second commitment")]
    CommittedTwice {
        run: String,
        first: u64,
        second: u64,
    },
    #[error("entry {index}: the attestation does not verify: {error}")]
    BadAttestation { index: u64, error: AttestationError },
    #[error("the {given} entries given do not make the checkpoint's root of {size} leaves")]
    EntriesRoot { given: usize, size: u64 },
}

fn parse<T: DeserializeOwned>(text: &str, what: &'static str) -> Result<T, LogError> {
    serde_json::from_str(text).map_err(|error| LogError::Malformed { what, error })
}

pub fn parse_hash(h: &str) -> Result<Hash, LogError> {
    hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| LogError::BadHash(h.to_owned()))
}

fn parse_hashes(proof: &[String]) -> Result<Vec<Hash>, LogError> {
    proof.iter().map(|h| parse_hash(h)).collect()
}

/// `current` extends `old` by `proof`: the log kept the history `old` signed.
pub fn verify_consistency(
    old: &Checkpoint,
    current: &Checkpoint,
    proof: &ConsistencyProof,
) -> Result<(), LogError> {
    let hashes = parse_hashes(&proof.proof)?;
    if proof.first != old.size || proof.second != current.size {
        return Err(LogError::ConsistencyRange {
            found_first: proof.first,
            found_second: proof.second,
            first: old.size,
            second: current.size,
        });
    }
    if old.origin != current.origin
        || !merkle::verify_consistency(old.size, current.size, &old.root, &current.root, &hashes)
    {
        return Err(LogError::NotExtended {
            first: old.size,
            second: current.size,
        });
    }
    Ok(())
}

/// An entry proven to be a leaf of a signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Included {
    pub checkpoint: Checkpoint,
    pub index: u64,
    pub entry: LogEntry,
}

/// An entry with its inclusion proof (the text served or saved), checked against the signed
/// checkpoint it came with, which must be by `key`.
pub fn verify_inclusion(text: &str, key: &[u8; 32]) -> Result<Included, LogError> {
    let p: InclusionProof = parse(text, "log proof")?;
    let signed = checkpoint::verify(&p.checkpoint, key).map_err(LogError::Checkpoint)?;
    let hashes = parse_hashes(&p.proof)?;
    if p.size != signed.size
        || !merkle::verify_inclusion(
            p.index,
            p.size,
            &merkle::leaf_hash(p.entry.as_bytes()),
            &hashes,
            &signed.root,
        )
    {
        return Err(LogError::NotIncluded(p.index));
    }
    Ok(Included {
        entry: parse(&p.entry, "log entry")?,
        checkpoint: signed,
        index: p.index,
    })
}

/// Two signed checkpoints of one size must be one checkpoint.
pub fn same_history(a: &Checkpoint, b: &Checkpoint) -> Result<(), LogError> {
    if a.size == b.size && a.root != b.root {
        return Err(LogError::TwoCheckpoints(a.size));
    }
    Ok(())
}

/// The public bundle (text) verifies and is the one `entry` records.
pub fn check_bundle(entry: &LogEntry, text: &str) -> Result<(), LogError> {
    let b: PublicBundle = parse(text, "public bundle")?;
    let report = bundle::verify_public(&b);
    if !report.valid {
        return Err(LogError::BundleInvalid(report.mismatch));
    }
    let digest = hex::encode(b.result_digest);
    if entry.run != b.task_id
        || entry.commitment_hash != hex::encode(b.commitment_hash)
        || entry.result_digest.as_deref() != Some(digest.as_str())
    {
        return Err(LogError::BundleNotLogged {
            run: b.task_id,
            digest,
            logged_run: entry.run.clone(),
            logged_digest: entry.result_digest.clone(),
        });
    }
    Ok(())
}

/// The published results (text, as served: `{"results": …}`) are the ones `entry`, a
/// publication, records.
pub fn check_results(entry: &LogEntry, text: &str) -> Result<(), LogError> {
    let published: serde_json::Value = parse(text, "results")?;
    let digest = results_digest(&published["results"]);
    if entry.event != "publish" || entry.results_digest.as_deref() != Some(&digest) {
        return Err(LogError::ResultsNotLogged {
            digest,
            run: entry.run.clone(),
        });
    }
    Ok(())
}

/// The entries (as served: `[{index, entry}]`) must be the checkpoint's leaves, and no run may
/// have two commitments (a hidden second commitment would let an operator pick a draw).
pub fn check_entries(text: &str, c: &Checkpoint) -> Result<(), LogError> {
    let list: Vec<serde_json::Value> = parse(text, "entries")?;
    let mut leaves = Vec::with_capacity(list.len());
    let mut commits: BTreeMap<String, u64> = BTreeMap::new();
    for (i, e) in list.iter().take(c.size as usize).enumerate() {
        if e["index"].as_u64() != Some(i as u64) {
            return Err(LogError::EntryOutOfOrder(i));
        }
        let text = e["entry"].as_str().ok_or(LogError::EntryWithoutText)?;
        leaves.push(merkle::leaf_hash(text.as_bytes()));
        let entry: LogEntry = parse(text, "log entry")?;
        if let Some(a) = entry.attestation() {
            a.verify().map_err(|error| LogError::BadAttestation {
                index: i as u64,
                error,
            })?;
        }
        if entry.event == "commit"
            && let Some(first) = commits.insert(entry.run.clone(), i as u64)
        {
            return Err(LogError::CommittedTwice {
                run: entry.run,
                first,
                second: i as u64,
            });
        }
    }
    if leaves.len() as u64 != c.size || merkle::root(&leaves) != c.root {
        return Err(LogError::EntriesRoot {
            given: leaves.len(),
            size: c.size,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event: &str, run: &str) -> String {
        LogEntry {
            format: ENTRY_FORMAT.into(),
            event: event.into(),
            run: run.into(),
            task: "t".into(),
            at: "2026-12-01T00:00:00Z".into(),
            commitment_hash: "00".repeat(32),
            result_digest: None,
            replacements: 0,
            results_digest: None,
            auditor_key: None,
            signature: None,
        }
        .leaf()
    }

    /// The entries as served, and the checkpoint of exactly them.
    fn served(leaves: &[String]) -> (String, Checkpoint) {
        let list: Vec<serde_json::Value> = leaves
            .iter()
            .enumerate()
            .map(|(i, e)| serde_json::json!({"index": i, "entry": e}))
            .collect();
        let hashes: Vec<Hash> = leaves
            .iter()
            .map(|e| merkle::leaf_hash(e.as_bytes()))
            .collect();
        let c = Checkpoint {
            origin: "example.org/log".into(),
            size: leaves.len() as u64,
            root: merkle::root(&hashes),
        };
        (serde_json::to_string(&list).unwrap(), c)
    }

    #[test]
    fn entries_make_the_root_with_one_commitment_per_run() {
        let (text, c) = served(&[
            entry("commit", "a"),
            entry("draw", "a"),
            entry("commit", "b"),
        ]);
        check_entries(&text, &c).unwrap();
        let (text, c) = served(&[
            entry("commit", "a"),
            entry("draw", "a"),
            entry("commit", "a"),
        ]);
        assert!(matches!(
            check_entries(&text, &c),
            Err(LogError::CommittedTwice {
                first: 0,
                second: 2,
                ..
            })
        ));
        let (_, other) = served(&[entry("commit", "a")]);
        let (text, _) = served(&[entry("commit", "b")]);
        assert!(matches!(
            check_entries(&text, &other),
            Err(LogError::EntriesRoot { given: 1, size: 1 })
        ));
    }

    #[test]
    fn a_consistency_proof_must_be_for_the_two_sizes_and_extend() {
        let leaves: Vec<Hash> = (0..5u8).map(|i| merkle::leaf_hash(&[i])).collect();
        let at = |n: usize| Checkpoint {
            origin: "example.org/log".into(),
            size: n as u64,
            root: merkle::root(&leaves[..n]),
        };
        let proof = ConsistencyProof {
            first: 3,
            second: 5,
            proof: merkle::consistency_proof(&leaves, 3)
                .into_iter()
                .map(hex::encode)
                .collect(),
        };
        verify_consistency(&at(3), &at(5), &proof).unwrap();
        assert!(matches!(
            verify_consistency(&at(2), &at(5), &proof),
            Err(LogError::ConsistencyRange { .. })
        ));
        let mut forked = at(3);
        forked.root[0] ^= 1;
        assert!(matches!(
            verify_consistency(&forked, &at(5), &proof),
            Err(LogError::NotExtended {
                first: 3,
                second: 5
            })
        ));
    }
}
