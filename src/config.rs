//! The deployment's settings: `config/double-random.toml` documents every key; environment
//! variables override the file, command-line options override both.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::core::beacon::{Chain, Scheme};
use crate::core::bundle::HexBytes;
use crate::library::pool::TierSource;
use crate::table::Limits;

/// The documented default file, printed by `double-random config --default`.
pub const DEFAULT_TOML: &str = include_str!("../config/double-random.toml");

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: Database,
    pub credit: Credit,
    pub server: Server,
    pub draw: Draw,
    pub drand: Drand,
    /// What one imported file may make the reader hold or do.
    pub import: Limits,
    pub accounts: Accounts,
    /// The enterprises' own proofs and the public check: who a client is, and the limits.
    pub access: Access,
}

/// The daemon (`double-random serve`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    /// IANA name; cron expressions and task dates are read in it.
    pub timezone: String,
    pub scheduler: bool,
    /// How often the scheduler looks for due fires, in seconds.
    pub scheduler_interval_secs: u64,
    pub max_body_bytes: usize,
    pub max_upload_bytes: usize,
    /// The transparency log's name, first line of every checkpoint and name of its key.
    pub log_origin: String,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            timezone: "Asia/Shanghai".into(),
            scheduler: true,
            scheduler_interval_secs: 5,
            max_body_bytes: 1 << 20,
            max_upload_bytes: 256 << 20,
            log_origin: "double-random.local/log".into(),
        }
    }
}

/// Accounts and their API tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accounts {
    /// How many days a new token works unless its creator says otherwise.
    pub token_days: u32,
}

impl Default for Accounts {
    fn default() -> Self {
        Self { token_days: 90 }
    }
}

/// The public check and the enterprises' access codes (`service::enterprises`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Access {
    /// Where a client's address comes from: the connection, or the last `X-Forwarded-For`
    /// entry (what the balancer in front saw; only behind one that sets it).
    pub client_address: ClientAddress,
    /// Public checks, enterprise pages and proof requests per client address per minute.
    pub lookups_per_minute: u32,
    /// Wrong access codes per client address per hour.
    pub failures_per_hour: u32,
    /// Wrong access codes per credit code per hour.
    pub failures_per_hour_per_code: u32,
}

impl Default for Access {
    fn default() -> Self {
        Self {
            client_address: ClientAddress::Peer,
            lookups_per_minute: 60,
            failures_per_hour: 10,
            failures_per_hour_per_code: 10,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAddress {
    Peer,
    ForwardedFor,
}

/// The draw lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Draw {
    /// The public entropy each commitment announces, in this order.
    pub entropy: Vec<EntropyKind>,
    pub witness_event: String,
    pub witnesses: u8,
    pub due_soon_working_days: u32,
    /// A run left in `entropy` (its instance died mid-draw) is drawn by any live instance
    /// once its entropy is this many seconds old.
    pub lease_secs: u64,
    /// A task's cron schedule may not fire more often than this (0: any schedule).
    pub min_cron_interval_secs: u64,
}

impl Draw {
    pub fn min_cron_interval(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.min_cron_interval_secs).unwrap_or(i64::MAX))
    }
}

impl Default for Draw {
    fn default() -> Self {
        Self {
            entropy: vec![EntropyKind::Witness],
            witness_event: "the winning numbers of the first China Welfare Lottery 3D (福彩3D) \
                            draw after the commitment time"
                .into(),
            witnesses: 2,
            due_soon_working_days: 5,
            lease_secs: 30,
            min_cron_interval_secs: 3600,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntropyKind {
    /// Values of a public event, entered by officers.
    Witness,
    /// A future round of the `[drand] chain`.
    Drand,
}

/// drand beacons: which chain, which relays, how long to wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Drand {
    /// The chain announced (a key of `chains`).
    pub chain: String,
    /// The announced round is the first produced at least this many seconds after commitment.
    pub margin_secs: u64,
    /// Relay base URLs, tried in order; `{relay}/{chain hash}/public/{round}`.
    pub relays: Vec<String>,
    pub timeout_secs: u64,
    /// How often a due round is asked for again.
    pub retry_secs: u64,
    /// No relay served a due round for this long: the run is marked stalled.
    pub stall_after_secs: u64,
    pub chains: BTreeMap<String, DrandChain>,
}

/// A chain's info, as `{relay}/{hash}/info` publishes it. The hash is checked against the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrandChain {
    pub hash: String,
    pub public_key: String,
    pub period_secs: u32,
    pub genesis_time: i64,
    pub group_hash: String,
    pub beacon_id: String,
    pub scheme: Scheme,
}

impl DrandChain {
    /// The chain's info, checked against its configured hash.
    pub fn chain(&self, name: &str) -> Result<Chain, ConfigError> {
        let err = |message: String| ConfigError::Env {
            name: "drand.chains",
            message: format!("{name}: {message}"),
        };
        let bytes = |field: &str, v: &str| {
            hex::decode(v).map_err(|_| err(format!("{field} {v:?} is not hex")))
        };
        let chain = Chain {
            public_key: HexBytes(bytes("public_key", &self.public_key)?),
            period: self.period_secs,
            genesis_time: self.genesis_time,
            group_hash: HexBytes(bytes("group_hash", &self.group_hash)?),
            beacon_id: self.beacon_id.clone(),
            scheme: self.scheme,
        };
        if self.period_secs == 0 {
            return Err(err("period_secs must be positive".into()));
        }
        let hash = hex::encode(chain.hash());
        if hash != self.hash {
            return Err(err(format!(
                "the info hashes to {hash}, not to the configured hash {}: a mistyped key?",
                self.hash
            )));
        }
        Ok(chain)
    }
}

impl Default for Drand {
    fn default() -> Self {
        let chain =
            |hash: &str, pk: &str, period, genesis, group: &str, id: &str, scheme| DrandChain {
                hash: hash.into(),
                public_key: pk.into(),
                period_secs: period,
                genesis_time: genesis,
                group_hash: group.into(),
                beacon_id: id.into(),
                scheme,
            };
        Self {
            chain: "quicknet".into(),
            margin_secs: 60,
            relays: vec![
                "https://api.drand.sh".into(),
                "https://api2.drand.sh".into(),
                "https://drand.cloudflare.com".into(),
            ],
            timeout_secs: 10,
            retry_secs: 5,
            stall_after_secs: 600,
            chains: BTreeMap::from([
                (
                    "quicknet".into(),
                    chain(
                        "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
                        "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
                        3,
                        1692803367,
                        "f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e",
                        "quicknet",
                        Scheme::BlsUnchainedG1Rfc9380,
                    ),
                ),
                (
                    "mainnet".into(),
                    chain(
                        "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
                        "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31",
                        30,
                        1595431050,
                        "176f93498eac9ca337150b46d21dd58673ea4e3581185f869672e59fa4cb390a",
                        "default",
                        Scheme::PedersenBlsChained,
                    ),
                ),
            ]),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub url: String,
    /// The file of the key that seals secrets at rest; empty: see `SealingKey::for_database`.
    pub key_file: String,
}

/// Without the URL's password.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &crate::store::redact_url(&self.url))
            .field("key_file", &self.key_file)
            .finish()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Credit {
    pub tier_source: TierSource,
}

impl Default for Database {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/double-random.db".into(),
            key_file: String::new(),
        }
    }
}

impl Database {
    /// The key that seals this database's secrets at rest (created on first use).
    pub fn sealing_key(&self) -> Result<crate::store::SealingKey, crate::store::StoreError> {
        crate::store::SealingKey::for_database(&self.url, &self.key_file)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
}

impl Config {
    /// The file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match file {
            None => Config::default(),
            Some(f) => {
                let err = |message: String| ConfigError::File {
                    file: f.display().to_string(),
                    message,
                };
                let text = std::fs::read_to_string(f).map_err(|e| err(e.to_string()))?;
                toml::from_str(&text)
                    .map_err(|e| err(e.to_string().trim_end().replace('\n', " ")))?
            }
        };
        if let Ok(url) = std::env::var("DOUBLE_RANDOM_DB") {
            config.database.url = url;
        }
        if let Ok(file) = std::env::var("DOUBLE_RANDOM_KEY_FILE") {
            config.database.key_file = file;
        }
        if let Ok(listen) = std::env::var("DOUBLE_RANDOM_LISTEN") {
            config.server.listen = listen;
        }
        if let Ok(tz) = std::env::var("DOUBLE_RANDOM_TIMEZONE") {
            config.server.timezone = tz;
        }
        if let Ok(s) = std::env::var("DOUBLE_RANDOM_TIER_SOURCE") {
            config.credit.tier_source = match s.as_str() {
                "penalties" => TierSource::Penalties,
                "class" => TierSource::Class,
                _ => {
                    return Err(ConfigError::Env {
                        name: "DOUBLE_RANDOM_TIER_SOURCE",
                        message: format!("{s:?} is not penalties or class"),
                    });
                }
            };
        }
        if let Ok(relays) = std::env::var("DOUBLE_RANDOM_DRAND_RELAYS") {
            config.drand.relays = relays.split(',').map(|r| r.trim().to_owned()).collect();
        }
        config.timezone()?;
        config.drand_chain()?;
        let origin = &config.server.log_origin;
        if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(ConfigError::Env {
                name: "server.log_origin",
                message: format!(
                    "{origin:?} must be a non-empty name without spaces or '+' (it names the signing key)"
                ),
            });
        }
        Ok(config)
    }

    /// The announced chain's name and info, if commitments announce drand rounds.
    pub fn drand_chain(&self) -> Result<Option<(String, Chain)>, ConfigError> {
        let e = &self.draw.entropy;
        let err = |message: String| ConfigError::Env {
            name: "draw.entropy / drand",
            message,
        };
        if e.is_empty() || (1..e.len()).any(|i| e[..i].contains(&e[i])) {
            return Err(err(format!(
                "{e:?}: name each source once, at least one of witness and drand"
            )));
        }
        for (name, c) in &self.drand.chains {
            c.chain(name)?;
        }
        if !e.contains(&EntropyKind::Drand) {
            return Ok(None);
        }
        let name = &self.drand.chain;
        let chain = self.drand.chains.get(name).ok_or_else(|| {
            err(format!(
                "chain {name:?} is not among [drand.chains]: {:?}",
                self.drand.chains.keys().collect::<Vec<_>>()
            ))
        })?;
        if self.drand.relays.is_empty() || self.drand.relays.iter().any(|r| r.is_empty()) {
            return Err(err("drand needs at least one relay URL".into()));
        }
        Ok(Some((name.clone(), chain.chain(name)?)))
    }

    pub fn timezone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.server.timezone.parse().map_err(|_| ConfigError::Env {
            name: "server.timezone / DOUBLE_RANDOM_TIMEZONE",
            message: format!("{:?} is not an IANA timezone name", self.server.timezone),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_database_password() {
        let mut c = Config::default();
        c.database.url = "postgres://officer:s3cret@db.example:5432/dr".into();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://officer:***@db.example:5432/dr"),
            "{shown}"
        );
    }

    #[test]
    fn drand_chains_are_checked_against_their_hash() {
        let mut c = Config::default();
        c.draw.entropy = vec![EntropyKind::Witness, EntropyKind::Drand];
        let (name, chain) = c.drand_chain().unwrap().unwrap();
        assert_eq!(name, "quicknet");
        assert_eq!(hex::encode(chain.hash()), c.drand.chains["quicknet"].hash);
        let mut typo = c.clone();
        let pk = &mut typo.drand.chains.get_mut("mainnet").unwrap().public_key;
        pk.replace_range(0..2, "87");
        let e = typo.drand_chain().unwrap_err().to_string();
        assert!(
            e.contains("mainnet") && e.contains("not to the configured hash"),
            "{e}"
        );
        let mut unknown = c.clone();
        unknown.drand.chain = "testnet".into();
        assert!(unknown.drand_chain().is_err());
        let mut twice = c.clone();
        twice.draw.entropy = vec![EntropyKind::Drand, EntropyKind::Drand];
        assert!(twice.drand_chain().is_err());
        c.draw.entropy.clear();
        assert!(c.drand_chain().is_err());
    }

    #[test]
    fn the_documented_file_holds_the_defaults() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
    }
}
