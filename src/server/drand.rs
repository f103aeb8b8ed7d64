//! The drand watcher: fetches announced rounds from HTTP relays. No relay is trusted: a beacon is used only
//! after its BLS signature verifies against the configured chain key, and a relay that serves
//! anything else is logged and the next one asked.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use std::sync::Arc;

use tokio::sync::watch;

use super::metrics::Metrics;
use crate::core::beacon::{Beacon, BeaconRecord, Chain};
use crate::core::bundle::HexBytes;
use crate::service::runs::Runs;
use crate::service::{Result, ServiceError};

/// What one relay did when asked for a round (a metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Served the round with a valid signature.
    Served,
    /// Said the round does not exist yet (404 or 425).
    NotYet,
    /// Served a beacon that is not the round's (bad signature, other round, wrong randomness).
    Rejected,
    /// Did not answer, or answered with an error.
    Unreachable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Served => "served",
            Outcome::NotYet => "not_yet",
            Outcome::Rejected => "rejected",
            Outcome::Unreachable => "unreachable",
        }
    }
}

/// A relay's answer: drand's JSON for one round.
#[derive(Deserialize)]
struct RelayBeacon {
    round: u64,
    randomness: HexBytes,
    signature: HexBytes,
    #[serde(default)]
    previous_signature: Option<HexBytes>,
}

pub struct Relays {
    client: reqwest::Client,
    urls: Vec<String>,
}

impl Relays {
    pub fn new(urls: Vec<String>, timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("double-random/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServiceError::Invalid(format!("drand HTTP client: {e}")))?;
        Ok(Self { client, urls })
    }

    /// Asks each relay in turn for `round` until one serves a valid beacon. Returns it (with
    /// the relay) or why none did, and what each relay asked did.
    pub async fn fetch(
        &self,
        chain: &Chain,
        round: u64,
    ) -> (
        std::result::Result<(BeaconRecord, String), String>,
        Vec<(String, Outcome)>,
    ) {
        let mut outcomes = Vec::new();
        let mut reasons = Vec::new();
        for relay in &self.urls {
            let (outcome, answer) = self.ask(relay, chain, round).await;
            outcomes.push((relay.clone(), outcome));
            match answer {
                Ok(record) => return (Ok((record, relay.clone())), outcomes),
                Err(why) => {
                    if outcome == Outcome::Rejected {
                        tracing::warn!(relay = %relay, round, reason = %why, "relay rejected");
                    } else {
                        tracing::info!(relay = %relay, round, reason = %why, "relay has no beacon");
                    }
                    reasons.push(format!("{relay}: {why}"));
                }
            }
        }
        (Err(reasons.join("; ")), outcomes)
    }

    async fn ask(
        &self,
        relay: &str,
        chain: &Chain,
        round: u64,
    ) -> (Outcome, std::result::Result<BeaconRecord, String>) {
        let url = format!(
            "{}/{}/public/{round}",
            relay.trim_end_matches('/'),
            hex::encode(chain.hash())
        );
        let response = match self.client.get(&url).send().await {
            Ok(r) => r,
            Err(e) => return (Outcome::Unreachable, Err(e.without_url().to_string())),
        };
        let status = response.status();
        if status.as_u16() == 404 || status.as_u16() == 425 {
            return (
                Outcome::NotYet,
                Err(format!("round not available ({status})")),
            );
        }
        if !status.is_success() {
            return (Outcome::Unreachable, Err(format!("answered {status}")));
        }
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return (Outcome::Unreachable, Err(e.without_url().to_string())),
        };
        let reject = |why: String| (Outcome::Rejected, Err(why));
        let served: RelayBeacon = match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return reject(format!("not a drand beacon: {e}")),
        };
        if served.round != round {
            return reject(format!("served round {} for round {round}", served.round));
        }
        let beacon = Beacon {
            round,
            signature: served.signature,
            previous_signature: served.previous_signature.filter(|p| !p.0.is_empty()),
        };
        match chain.verify(&beacon) {
            Err(e) => reject(e),
            Ok(r) if r[..] != served.randomness.0[..] => {
                reject("its randomness is not SHA-256 of its signature".into())
            }
            Ok(_) => (
                Outcome::Served,
                Ok(BeaconRecord {
                    chain: chain.clone(),
                    beacon,
                }),
            ),
        }
    }
}

/// Runs passes every `interval` until `stop` changes.
pub async fn run(
    runs: Arc<Runs>,
    relays: Arc<Relays>,
    metrics: Arc<Metrics>,
    interval: Duration,
    stall_after: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let Some(clock) = runs.settings.drand.clone() else {
        return;
    };
    loop {
        match pass(&runs, &relays, clock.now(), stall_after.as_secs() as i64).await {
            Ok(outcomes) => {
                metrics.drand_fetches(outcomes.iter().map(|(r, o)| (r.as_str(), o.as_str())))
            }
            Err(e) => tracing::warn!(error = %e, "drand pass failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One pass at `now` (drand clock): every run whose announced round is due is asked for; a
/// beacon is recorded (and the run drawn if complete); a run no relay has served for
/// `stall_after` seconds is marked stalled. Returns what each relay asked did.
#[tracing::instrument(name = "drand_pass", skip_all)]
async fn pass(
    runs: &Runs,
    relays: &Relays,
    now: DateTime<Utc>,
    stall_after: i64,
) -> Result<Vec<(String, Outcome)>> {
    let mut asked = Vec::new();
    let Some(settings) = runs.settings.drand.clone() else {
        return Ok(asked);
    };
    for (run, round) in runs.awaiting_beacon(now).await? {
        let at = settings.chain.round_time(round);
        let (fetched, outcomes) = relays.fetch(&settings.chain, round).await;
        asked.extend(outcomes);
        match fetched {
            Ok((record, relay)) => {
                if let Err(e) = runs.record_beacon(&run.id, record, &relay).await {
                    tracing::error!(run = %run.id, error = %e, "cannot record the beacon");
                }
            }
            Err(why) if now.timestamp() - at >= stall_after => {
                let due = DateTime::from_timestamp(at, 0).unwrap_or_default();
                let reason = format!(
                    "no relay has served round {round} since it was due at {}: {why}",
                    due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                runs.mark_stalled(&run.id, &reason).await?;
            }
            Err(_) => {}
        }
    }
    Ok(asked)
}
