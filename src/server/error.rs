//! Every error answer is JSON: `{"error": {"code", "message", ...}}` with a stable code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ServiceError;
use crate::store::StoreError;
use crate::table::TableError;

/// The stable codes clients match on; serialised as today's snake_case strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    Invalid,
    BadRequest,
    BadField,
    BadFile,
    BadRows,
    Conflict,
    Rejected,
    Corrupt,
    Storage,
    Internal,
    UnknownRoute,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// A rate limit: wait `Retry-After` seconds.
    TooManyRequests,
    /// A status axum answered that has no code of its own.
    Error,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// For a bad field of an uploaded file: (file name, line, field).
    pub at: Option<(String, u64, String)>,
    /// For `too_many_requests`: the `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

/// Every error answer: `{"error": {...}}`.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
// Fields in alphabetical order: the key order of the answers before this type existed.
struct ErrorDetail {
    code: ErrorCode,
    /// For `bad_field`, and `bad_file` stopped at a line: the field (`(row)`: the whole row).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// For `bad_field` and `bad_file` at a line: the uploaded file's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    /// For `bad_field` and `bad_file` at a line: the line in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            at: None,
            retry_after: None,
        }
    }

    /// A failure of the daemon itself, neither the caller's nor the database's.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            e.to_string(),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (file, line, field) = match self.at {
            Some((file, line, field)) => (Some(file), Some(line), Some(field)),
            None => (None, None, None),
        };
        let error = ErrorDetail {
            code: self.code,
            field,
            file,
            line,
            message: self.message,
        };
        let mut response = (self.status, Json(ErrorBody { error })).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use ErrorCode as C;
        use StatusCode as S;
        match e {
            ServiceError::NotFound(m) => Self::new(S::NOT_FOUND, C::NotFound, m),
            ServiceError::Forbidden(m) => Self::new(S::FORBIDDEN, C::Forbidden, m),
            ServiceError::Invalid(m) => Self::new(S::UNPROCESSABLE_ENTITY, C::Invalid, m),
            ServiceError::Core(e) => Self::new(S::UNPROCESSABLE_ENTITY, C::Invalid, e.to_string()),
            ServiceError::Table(e) => {
                let message = e.to_string();
                let at = match e {
                    TableError::Line {
                        file,
                        line,
                        column,
                        ..
                    }
                    | TableError::Stopped {
                        file,
                        line,
                        column,
                        ..
                    } => Some((file, line, column.unwrap_or_else(|| "(row)".into()))),
                    TableError::File { .. } => None,
                };
                Self {
                    at,
                    ..Self::new(S::UNPROCESSABLE_ENTITY, C::BadFile, message)
                }
            }
            ServiceError::Field {
                file,
                line,
                field,
                message,
            } => {
                // Uploads are written to a temporary folder: name only the file.
                let file = file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Self {
                    at: Some((file.clone(), line, field.clone())),
                    ..Self::new(
                        S::UNPROCESSABLE_ENTITY,
                        C::BadField,
                        format!("{file}: line {line}, field {field}: {message}"),
                    )
                }
            }
            ServiceError::TooMany {
                message,
                retry_after_secs,
            } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(S::TOO_MANY_REQUESTS, C::TooManyRequests, message)
            },
            ServiceError::Store(StoreError::Conflict(m)) => Self::new(S::CONFLICT, C::Conflict, m),
            ServiceError::Store(StoreError::Rejected(m)) => {
                Self::new(S::UNPROCESSABLE_ENTITY, C::Rejected, m)
            }
            // Says what is wrong with the stored data (it holds no secret): a watcher must
            // learn why the daemon refuses, e.g. to sign a rewritten log.
            ServiceError::Store(StoreError::Corrupt(m)) => {
                tracing::error!(problem = %m, "stored data is corrupt");
                Self::new(S::INTERNAL_SERVER_ERROR, C::Corrupt, m)
            }
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "storage");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    C::Storage,
                    "the database failed; the request changed nothing (see the server log)",
                )
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
