//! A task run as stored: its state, its announced entropy sources and what they delivered, its
//! replacements and results. The draw secret is not in here until the draw reveals it (it sits
//! in the document's secret column); what callers see is `view::RunView`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::results::ResultEntry;
use crate::core::Protocol;
use crate::core::beacon::BeaconRecord;
use crate::core::encode::hex32;
use crate::core::entropy::{EntropySource, UtcSecond};
use crate::core::draw::ReplacementRecord;
use crate::core::pool::Commitment;
use crate::core::signature::Signature;
use crate::service::clock::stamped;
use crate::service::documents::Document;
use crate::service::snapshots::SnapshotInfo;
use crate::service::{Result, ServiceError};
use crate::store::{DocKind, StoreError};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Committed,
    Entropy,
    Drawn,
    Results,
    Published,
    /// The draw itself is impossible (e.g. no eligible inspector left for a slot): the secret
    /// is revealed so anyone can reproduce the failure; the task needs an amendment.
    Failed,
}

impl RunState {
    pub const ALL: [RunState; 6] = [
        RunState::Committed,
        RunState::Entropy,
        RunState::Drawn,
        RunState::Results,
        RunState::Published,
        RunState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Committed => "committed",
            RunState::Entropy => "entropy",
            RunState::Drawn => "drawn",
            RunState::Results => "results",
            RunState::Published => "published",
            RunState::Failed => "failed",
        }
    }
}

/// Witness entropy: values of a public event announced with the commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WitnessSource {
    pub event: String,
    pub witnesses: u8,
}

impl WitnessSource {
    /// The text committed to: what the randomness will be and how it is entered (v1: as an
    /// RFC 3797 key string; v2: as whole numbers, draw-spec §7.6).
    pub fn announcement(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::V1 => format!(
                "witness: {} (values entered by {} officer(s), RFC 3797 canonical form)",
                self.event, self.witnesses
            ),
            Protocol::V2 => format!(
                "witness: {} (whole numbers entered by {} officer(s))",
                self.event, self.witnesses
            ),
        }
    }

    /// The structured source a v2 commitment announces.
    pub fn source(&self) -> EntropySource {
        EntropySource::Witness {
            event: self.event.clone(),
            witnesses: u32::from(self.witnesses),
        }
    }
}

/// The drand round a commitment announced, and its beacon once fetched and verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DrandRound {
    pub chain: String,
    pub chain_hash: String,
    pub round: u64,
    /// When the chain produces the round (whole seconds).
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)] // docs/draw-spec.md §20
    pub beacon: Option<BeaconRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<Fetched>,
    /// Set when no relay has served the round for longer than the configured limit; cleared
    /// when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<Stall>,
}

impl DrandRound {
    /// The structured source a v2 commitment announces.
    pub fn source(&self) -> EntropySource {
        EntropySource::Drand {
            chain: hex32::parse(&self.chain_hash).unwrap_or_default(),
            round: self.round,
            at: UtcSecond(self.at.timestamp()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Fetched {
    #[serde(with = "stamped")]
    pub at: DateTime<Utc>,
    pub relay: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stall {
    #[serde(with = "stamped")]
    pub since: DateTime<Utc>,
    pub reason: String,
}

/// One officer's entry of the witnessed values (canonical: v1 an RFC 3797 key string, v2 the
/// numbers as draw-spec §7.6 writes them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WitnessEntry {
    pub officer: String,
    #[serde(with = "stamped")]
    pub at: DateTime<Utc>,
    pub values: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplacementEntry {
    pub by: String,
    #[serde(with = "stamped")]
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)] // docs/draw-spec.md: replacements
    pub record: ReplacementRecord,
}

/// A task run as stored. The draw secret is not in here until the draw reveals it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub task_id: String,
    pub plan_id: String,
    /// The schedule's fire time this run belongs to (one run per fire time), with its offset.
    pub fire_time: String,
    pub triggered_by: String,
    pub state: RunState,
    pub snapshot: SnapshotInfo,
    pub commitment: Commitment,
    pub commitment_hash: String,
    #[serde(with = "stamped")]
    pub committed_at: DateTime<Utc>,
    /// The announced witness event, if the draw takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<WitnessSource>,
    pub witness_entries: Vec<WitnessEntry>,
    /// The witnessed values once the officers agree (in their canonical form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<String>,
    /// The announced drand round, if the draw takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drand: Option<DrandRound>,
    /// When every announced source had delivered: the lease on the draw runs from here.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "stamped::option"
    )]
    pub entropy_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "stamped::option"
    )]
    pub drawn_at: Option<DateTime<Utc>>,
    /// Hex; present once drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Hex; revealed with the secret (runs committed before it existed have none). The rest
    /// of the secret column: see `secret_column`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    pub replacements: Vec<ReplacementEntry>,
    pub results: BTreeMap<String, ResultEntry>,
    pub window_end: NaiveDate,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "stamped::option"
    )]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
    /// Why the draw failed (state `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Document for Run {
    const KIND: DocKind = DocKind::Run;
    fn id(&self) -> String {
        self.id.clone()
    }
    fn parent(&self) -> String {
        self.task_id.clone()
    }
}

impl Run {
    /// Every announced source has delivered: witnesses agree, the beacon is verified.
    pub(super) fn entropy_complete(&self) -> bool {
        (self.witness.is_none() || self.entropy.is_some())
            && self.drand.as_ref().is_none_or(|d| d.beacon.is_some())
    }

    /// The draw's entropy values and beacons, in the announced order (witness, then drand).
    pub(super) fn entropy_values(&self) -> Result<(Vec<Vec<u8>>, Vec<BeaconRecord>)> {
        let missing = || ServiceError::Invalid(format!("run {} has no entropy yet", self.id));
        let mut values = Vec::new();
        let mut beacons = Vec::new();
        if self.witness.is_some() {
            values.push(self.entropy.clone().ok_or_else(missing)?.into_bytes());
        }
        if let Some(d) = &self.drand {
            let record = d.beacon.clone().ok_or_else(missing)?;
            let randomness = record
                .chain
                .verify(&record.beacon)
                .map_err(|e| StoreError::Corrupt(format!("run {}: stored beacon: {e}", self.id)))?;
            values.push(randomness.to_vec());
            beacons.push(record);
        }
        Ok((values, beacons))
    }

    pub fn is_drawn(&self) -> bool {
        matches!(
            self.state,
            RunState::Drawn | RunState::Results | RunState::Published
        )
    }

    /// The draw secret and audit key the draw reveals, from the secret column.
    pub(super) fn reveal(&mut self, column: &SecretColumn) {
        self.secret = Some(hex::encode(&column.secret));
        self.audit_key = column.audit_key.as_ref().map(hex::encode);
    }

    /// The draw secret a drawn (or failed) run has revealed.
    pub(super) fn revealed_secret(&self) -> Result<Vec<u8>> {
        hex::decode(self.secret.as_deref().unwrap_or_default())
            .map_err(|_| StoreError::Corrupt(format!("run {}: secret is not hex", self.id)).into())
    }
}

/// A run's secret column: the draw secret, then a per-run audit key. The audit log hashes a
/// document with SHA-256 of its secret column (`store::audit::doc_hash`); the draw secret's
/// SHA-256 is public (the commitment's `secret_hash`), so with it alone the hash of a run
/// holding one witness's hidden values would let any reader of the audit log test guesses of
/// them. The key makes that hash unguessable until the draw reveals both, after which every
/// reader can check what each witness entered and when.
#[derive(Clone)]
pub(super) struct SecretColumn {
    pub secret: Vec<u8>,
    pub audit_key: Option<[u8; 32]>,
}

impl SecretColumn {
    const SECRET_LEN: usize = 32;

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.secret.clone();
        b.extend(self.audit_key.iter().flatten());
        b
    }

    /// 32 bytes: a run committed before the audit key existed (its hashes stay as written);
    /// 64: secret and key.
    pub fn parse(run: &str, bytes: &[u8]) -> Result<Self> {
        match bytes.len() {
            Self::SECRET_LEN => Ok(Self {
                secret: bytes.to_vec(),
                audit_key: None,
            }),
            n if n == 2 * Self::SECRET_LEN => Ok(Self {
                secret: bytes[..Self::SECRET_LEN].to_vec(),
                audit_key: bytes[Self::SECRET_LEN..].try_into().ok(),
            }),
            n => Err(StoreError::Corrupt(format!("run {run}: secret column of {n} bytes")).into()),
        }
    }
}

impl std::fmt::Debug for SecretColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretColumn(..)")
    }
}
