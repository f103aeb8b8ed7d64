//! The audit log's hash chain and the digests that tie an import's entry to the versions it
//! wrote. Pure: the backends store what is computed here, `audit verify` recomputes it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::encode::{Encoder, Hash, hex32};

/// Who changed what and why, before the store gives it a position, a time and a hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub reason: String,
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    /// RFC 3339 UTC with microseconds (`2026-11-28T15:04:05.123456Z`): sorts as text.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub reason: String,
    /// Canonical JSON (keys sorted).
    pub detail: String,
    #[serde(with = "hex32")]
    pub prev_hash: Hash,
    #[serde(with = "hex32")]
    pub hash: Hash,
}

pub const GENESIS: Hash = [0; 32];

impl AuditEntry {
    /// Seals a draft as the entry after `prev` (`None`: the first entry).
    pub fn seal(draft: AuditDraft, prev: Option<(i64, Hash)>, at: String) -> Self {
        let (prev_seq, prev_hash) = prev.unwrap_or((0, GENESIS));
        let mut e = Self {
            seq: prev_seq + 1,
            at,
            actor: draft.actor,
            action: draft.action,
            subject: draft.subject,
            reason: draft.reason,
            // serde_json's maps are sorted (no preserve_order feature), so this is canonical.
            detail: draft.detail.to_string(),
            prev_hash,
            hash: [0; 32],
        };
        e.hash = e.compute_hash();
        e
    }

    pub fn compute_hash(&self) -> Hash {
        let mut e = Encoder::with_domain("double-random/v1 audit");
        e.u64(self.seq as u64)
            .str(&self.at)
            .str(&self.actor)
            .str(&self.action)
            .str(&self.subject)
            .str(&self.reason)
            .str(&self.detail)
            .hash(&self.prev_hash);
        e.sha256()
    }
}

pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Digests of the versions one import created (in line order) and closed (in key order).
#[derive(Clone)]
pub struct BatchDigest {
    created: Sha256,
    closed: Sha256,
}

impl Default for BatchDigest {
    fn default() -> Self {
        Self {
            created: Sha256::new_with_prefix(b"double-random/v1 created"),
            closed: Sha256::new_with_prefix(b"double-random/v1 closed"),
        }
    }
}

impl BatchDigest {
    pub fn created(&mut self, line: i64, key: &str, data: &str) {
        let mut e = Encoder::hashing(std::mem::take(&mut self.created));
        e.u64(line as u64).str(key).str(data);
        self.created = e.into_hasher();
    }

    pub fn closed(&mut self, key: &str, valid_from: i64) {
        let mut e = Encoder::hashing(std::mem::take(&mut self.closed));
        e.str(key).u64(valid_from as u64);
        self.closed = e.into_hasher();
    }

    /// (created, closed) as hex.
    pub fn finish(self) -> (String, String) {
        (
            hex::encode(self.created.finalize()),
            hex::encode(self.closed.finalize()),
        )
    }
}

pub fn doc_hash(doc: &str, secret: Option<&[u8]>) -> String {
    let mut h = Sha256::new_with_prefix(b"double-random/v1 document");
    h.update((doc.len() as u64).to_be_bytes());
    h.update(doc.as_bytes());
    if let Some(s) = secret {
        h.update(Sha256::digest(s));
    }
    hex::encode(h.finalize())
}
