//! The pure core: everything a draw is and everything needed to check one.
//! No I/O, no clock, no global RNG, no floating point, no hash-map iteration.

pub mod attestation;
pub mod beacon;
pub mod bundle;
pub mod checkpoint;
pub mod commitment_time;
pub mod draw;
pub mod encode;
pub mod entropy;
pub mod inspector_leaf;
pub mod matching;
pub mod merkle;
pub mod model;
pub mod policy;
pub mod pool;
pub mod protocol;
pub mod ratio;
pub mod replacement;
pub mod rfc3797;
pub mod rng;
pub mod secret;
pub mod signature;
pub mod tlog;
pub mod uscc;

pub use protocol::Protocol;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("bad {kind} id {id:?}: {reason}")]
    BadId {
        kind: &'static str,
        id: String,
        reason: &'static str,
    },
    #[error("duplicate {kind} id {id}")]
    DuplicateId { kind: &'static str, id: String },
    #[error("{kind} {id}: {field} must be a date in the years 1900 to 9999")]
    BadDate {
        kind: &'static str,
        id: String,
        field: &'static str,
    },
    #[error("policy field {field}: {reason}")]
    BadPolicy { field: String, reason: String },
    #[error("object {object} has tier {tier:?}, which the policy does not define (tiers: {known})")]
    UnknownTier {
        object: String,
        tier: String,
        known: String,
    },
    #[error(
        "cannot match inspectors to object {object} (slot {slot}): {constraint} leaves no eligible inspector ({detail})"
    )]
    Matching {
        object: String,
        slot: u32,
        constraint: &'static str,
        detail: String,
    },
    #[error("replacement {index}: {reason}")]
    Replacement { index: usize, reason: String },
    #[error("{0}")]
    Input(String),
}
