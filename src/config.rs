//! The deployment's settings: `config/double-random.toml` documents every key; environment
//! variables override the file, command-line options override both.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::library::pool::TierSource;

/// The documented default file, printed by `double-random config --default`.
pub const DEFAULT_TOML: &str = include_str!("../config/double-random.toml");

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: Database,
    pub credit: Credit,
    pub server: Server,
    pub draw: Draw,
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

/// The draw lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Draw {
    pub witness_event: String,
    pub witnesses: u8,
    pub due_soon_working_days: u32,
}

impl Default for Draw {
    fn default() -> Self {
        Self {
            witness_event: "the winning numbers of the first China Welfare Lottery 3D (福彩3D) \
                            draw after the commitment time"
                .into(),
            witnesses: 2,
            due_soon_working_days: 5,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub url: String,
}

/// Without the URL's password.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &crate::store::redact_url(&self.url))
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
        }
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
        config.timezone()?;
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
    fn the_documented_file_holds_the_defaults() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
    }
}
