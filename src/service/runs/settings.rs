//! The deployment's draw settings, read from the configuration at start.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::model::WitnessSource;
use crate::core::beacon::Chain;
use crate::library::pool::TierSource;
use crate::service::clock::Clock;
use crate::service::{Result, ServiceError};

#[derive(Clone, Debug)]
pub struct DrawSettings {
    /// Cron expressions and dates are read in this timezone.
    pub timezone: Tz,
    pub tier_source: TierSource,
    /// The public event announced with a commitment unless the trigger names another.
    pub witness_event: String,
    /// How many officers must enter matching values.
    pub witnesses: u8,
    /// Announce witness entropy with each commitment whose trigger names no event.
    pub witness_by_default: bool,
    /// Announce a drand round with each commitment.
    pub drand: Option<DrandSettings>,
    /// A deadline this many working days away or closer is "due soon".
    pub due_soon_working_days: u32,
    /// How old a run's complete entropy is before any instance may finish its draw.
    pub lease: chrono::Duration,
    /// The transparency log's name in its checkpoints.
    pub log_origin: String,
}

/// What a trigger asks of the witness entropy; unset fields take the configured defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessRequest {
    pub event: Option<String>,
    pub witnesses: Option<u8>,
}

impl DrawSettings {
    /// The witness source a commitment announces: the request's, filled in from the
    /// configuration, or the configured default; `None` when neither asks for one.
    pub fn witness(&self, asked: WitnessRequest) -> Result<Option<WitnessSource>> {
        let source = match asked {
            WitnessRequest {
                event: None,
                witnesses: None,
            } => self.witness_by_default.then(|| WitnessSource {
                event: self.witness_event.clone(),
                witnesses: self.witnesses,
            }),
            WitnessRequest { event, witnesses } => Some(WitnessSource {
                event: event.unwrap_or_else(|| self.witness_event.clone()),
                witnesses: witnesses.unwrap_or(self.witnesses),
            }),
        };
        if let Some(w) = &source
            && (w.event.trim().is_empty() || !(1..=2).contains(&w.witnesses))
        {
            return Err(ServiceError::Invalid(
                "the witness event must be named, and 1 or 2 officers must enter it".into(),
            ));
        }
        if source.is_none() && self.drand.is_none() {
            return Err(ServiceError::Invalid(
                "a draw needs public entropy: a witness event, a drand round, or both".into(),
            ));
        }
        Ok(source)
    }
}

/// The drand chain whose rounds commitments announce.
#[derive(Clone, Debug)]
pub struct DrandSettings {
    /// The chain's name in the configuration (e.g. quicknet).
    pub name: String,
    pub chain: Chain,
    /// The announced round is the first produced at least this long after the commitment.
    pub margin_secs: i64,
    /// The clock that chooses and awaits rounds: the system's, except in tests, which replay
    /// recorded beacons (`DOUBLE_RANDOM_DRAND_NOW`).
    pub clock: Arc<dyn Clock>,
}

impl DrandSettings {
    /// Now on the drand clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
