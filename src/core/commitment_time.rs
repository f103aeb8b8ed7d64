//! When the commitment was public, against when its entropy was (draw-spec §22). A v2 public
//! bundle from the daemon carries its commitment's log entry proven in the first signed
//! checkpoint that held it; the checkpoint's timestamp (a cosignature line by the publication
//! key) bounds the commitment's time from above. A commitment first logged at or after the
//! entropy's publication could have been chosen knowing the entropy: that fails.

use super::bundle::{Mismatch, PublicBundle};
use super::pool::Commitment;
use super::{Protocol, beacon, checkpoint, merkle, tlog};

/// What the proof shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentTime {
    /// The log leaf of the commitment.
    pub index: u64,
    /// The checkpoint's signed time (Unix seconds); `None` without the key to check it.
    pub committed_by: Option<i64>,
    /// When the entropy was published (Unix seconds), if the commitment says
    /// ([`entropy_published_at`]).
    pub entropy_at: Option<i64>,
}

fn mismatch(field: &str, expected: &str, found: String) -> Mismatch {
    Mismatch {
        field: field.into(),
        expected: expected.into(),
        found,
    }
}

/// When the entropy the commitment announces is published: the earliest time any announced
/// source states (v2: a drand round's time, a lottery's draw date at 00:00 China time; v1: the
/// `drand:` lines of `entropy_source`); `None` when no source states one (witness values).
pub fn entropy_published_at(commitment: &Commitment) -> Option<i64> {
    match commitment.protocol {
        Protocol::V1 => commitment
            .entropy_source
            .split('\n')
            .filter_map(beacon::Announcement::parse)
            .filter_map(Result::ok)
            .map(|a| a.at)
            .min(),
        Protocol::V2 => commitment
            .entropy_sources
            .iter()
            .filter_map(|s| s.published_at())
            .map(|t| t.timestamp())
            .min(),
    }
}

/// Checks `b.commitment_log`, if any: the entry is this bundle's commitment, included in the
/// checkpoint; with `key` (the publication key, pinned by the reader) the checkpoint and its
/// time are signed, and that time is before the entropy's publication. `Ok(None)`: no proof.
pub fn check(b: &PublicBundle, key: Option<&[u8; 32]>) -> Result<Option<CommitmentTime>, Mismatch> {
    let Some(log) = &b.commitment_log else {
        return Ok(None);
    };
    if b.commitment.protocol == Protocol::V1 {
        return Err(mismatch(
            "commitment_log",
            "none in a double-random/v1 bundle",
            "a commitment_log".into(),
        ));
    }
    let field = "commitment_log.checkpoint";
    let (c, time) = match key {
        Some(k) => checkpoint::verify_timed(&log.checkpoint, k)
            .map_err(|e| mismatch(field, "a checkpoint signed by the publication key", e))?,
        None => (
            checkpoint::parse_unverified(&log.checkpoint)
                .map_err(|e| mismatch(field, "a signed checkpoint", e))?,
            None,
        ),
    };
    if key.is_some() && time.is_none() {
        return Err(mismatch(
            field,
            "a timestamp line",
            "a checkpoint without one".into(),
        ));
    }
    let entry: tlog::LogEntry = serde_json::from_str(&log.entry)
        .map_err(|e| mismatch("commitment_log.entry", "a log entry", e.to_string()))?;
    let commitment_hash = hex::encode(b.commitment_hash);
    if entry.event != "commit" || entry.run != b.task_id || entry.commitment_hash != commitment_hash
    {
        return Err(mismatch(
            "commitment_log.entry",
            &format!(
                "the commit entry of run {} with commitment {commitment_hash}",
                b.task_id
            ),
            log.entry.clone(),
        ));
    }
    let proof: Vec<_> = log
        .proof
        .iter()
        .map(|h| tlog::parse_hash(h))
        .collect::<Result<_, _>>()
        .map_err(|e| mismatch("commitment_log.proof", "hex hashes", e.to_string()))?;
    if log.size != c.size
        || !merkle::verify_inclusion(
            log.index,
            log.size,
            &merkle::leaf_hash(log.entry.as_bytes()),
            &proof,
            &c.root,
        )
    {
        return Err(mismatch(
            "commitment_log.proof",
            &format!("leaf {} of the checkpoint of {} leaves", log.index, c.size),
            "a proof that does not verify".into(),
        ));
    }
    let committed_by = time.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    let entropy_at = entropy_published_at(&b.commitment);
    if let (Some(t), Some(e)) = (committed_by, entropy_at)
        && t >= e
    {
        return Err(mismatch(
            "commitment_log.checkpoint",
            &format!("committed before the entropy was published at {}", utc(e)),
            format!("first logged at {}", utc(t)),
        ));
    }
    Ok(Some(CommitmentTime {
        index: log.index,
        committed_by,
        entropy_at,
    }))
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}
