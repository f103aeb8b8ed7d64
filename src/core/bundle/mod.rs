//! Bundles and their verification (draw-spec §12–§14): the full (auditor) bundle, the public
//! bundle, and an enterprise's own proof, each in its file with its verification, which
//! recomputes and reports the first mismatch (`report`).

mod full;
mod proof;
mod public;
mod report;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Protocol;
use super::encode::{Hash, hex_bytes, hex32};

pub use full::{DrawInputs, FullBundle, verify_full};
pub use proof::{
    Absence, EnterpriseProof, Membership, Neighbour, StratumClaim, TreeKind, prove, verify_proof,
};
pub use public::{CommitmentLog, DrawnObject, PublicBundle, verify_public};
pub use report::{Mismatch, Report};

/// The three kinds of artefact, each with a format string per protocol (draw-spec §12–§14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Artefact {
    Full,
    Public,
    Proof,
}

impl Artefact {
    const ALL: [Artefact; 3] = [Artefact::Full, Artefact::Public, Artefact::Proof];

    /// `double-random/full-bundle/v2` etc.
    pub fn format(self, protocol: Protocol) -> &'static str {
        match (self, protocol) {
            (Self::Full, Protocol::V1) => "double-random/full-bundle/v1",
            (Self::Public, Protocol::V1) => "double-random/public-bundle/v1",
            (Self::Proof, Protocol::V1) => "double-random/enterprise-proof/v1",
            (Self::Full, Protocol::V2) => "double-random/full-bundle/v2",
            (Self::Public, Protocol::V2) => "double-random/public-bundle/v2",
            (Self::Proof, Protocol::V2) => "double-random/enterprise-proof/v2",
        }
    }

    /// The artefact and protocol a format string names.
    pub fn parse(format: &str) -> Option<(Self, Protocol)> {
        Self::ALL
            .into_iter()
            .flat_map(|a| Protocol::ALL.map(|p| (a, p)))
            .find(|(a, p)| a.format(*p) == format)
    }
}

/// An optional field that is *omitted when absent*: absent reads as `None`, and `null` is an
/// error (draw-spec §2, §14), so one absence has one spelling.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Bytes carried as lowercase hex in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexBytes(#[serde(with = "hex_bytes")] pub Vec<u8>);

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexHash(#[serde(with = "hex32")] pub Hash);

impl fmt::Debug for HexHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

fn hashes(v: Vec<Hash>) -> Vec<HexHash> {
    v.into_iter().map(HexHash).collect()
}

fn unhex(v: &[HexHash]) -> Vec<Hash> {
    v.iter().map(|h| h.0).collect()
}

/// What an enterprise's proof establishes for its object (and a report shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Drawn in the original selection (possibly replaced later; see `replaced_reason`).
    Drawn,
    DrawnAsReplacement,
    NotDrawn,
    /// In the snapshot but not eligible (reason in the leaf).
    Excluded,
    NotInPool,
}
