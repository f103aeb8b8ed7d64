//! What officers do with the store: import and export the libraries, keep the plan, freeze
//! snapshots, verify the audit log. Shared by the CLI and the daemon; no terminal, no HTTP.

pub mod access;
pub mod access_codes;
pub mod accounts;
pub mod auditors;
pub mod bootstrap;
pub mod calendars;
pub mod clock;
pub mod documents;
pub mod enterprises;
pub mod imports;
pub mod plans;
pub mod rate_limit;
pub mod runs;
pub mod snapshots;
pub mod tokens;
pub mod tlog;
pub mod verify;

use std::path::PathBuf;

use crate::core::CoreError;
use crate::store::StoreError;
use crate::table::TableError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{file}: line {line}, field {field}: {message}", file = file.display())]
    Field {
        file: PathBuf,
        line: u64,
        field: String,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller's account may not do this (a role it lacks, four eyes).
    #[error("{0}")]
    Forbidden(String),
    /// A budget of `rate_limit` is spent: wait that long.
    #[error("{message}")]
    TooMany {
        message: String,
        retry_after_secs: u64,
    },
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Who makes a change and why; recorded in the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub name: String,
    pub reason: String,
}
