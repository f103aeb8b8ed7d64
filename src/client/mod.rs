//! A watcher of a daemon, apart from the CLI's wiring: what it fetches (a plain HTTP GET) and
//! the checks it runs over fetched or saved texts. The protocol itself is `core::tlog`.

pub mod http;
pub mod log;

use crate::core::tlog::LogError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Inputs that do not go together, named as the command's options.
    #[error("{0}")]
    Usage(&'static str),
    #[error("reading {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("connecting {addr}: {error}")]
    Connect { addr: String, error: std::io::Error },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("answer is not UTF-8: {0}")]
    NotUtf8(std::string::FromUtf8Error),
    #[error("malformed answer")]
    MalformedAnswer,
    /// Any answer but 200: its status line and body.
    #[error("GET {path}: {status} {body}")]
    Status {
        path: String,
        status: String,
        body: String,
    },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("--key must be 64 hex digits: {0}")]
    Key(LogError),
    #[error("--previous: {0}")]
    Previous(String),
    #[error("the log served {served} entries of {size}")]
    ShortLog { served: usize, size: u64 },
    #[error(transparent)]
    Log(#[from] LogError),
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
