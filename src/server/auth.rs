//! Who is calling: the protected routes' layer authenticates the Bearer token once, before
//! any body is read, and leaves the caller (its account and role) in the request's
//! extensions; each handler names the role it needs by taking an extractor (`Auditor`,
//! `Officer`, `Approver`, `Admin`), so none can forget to check it. The scheme name is
//! case-insensitive (RFC 7235), and every 401 says `WWW-Authenticate: Bearer`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorCode};
use crate::service::accounts::Role;
use crate::service::tokens::{self, Caller};

/// The route layer of every protected route: an unknown caller is refused here, so it
/// cannot make the daemon read an upload.
pub async fn known_caller(
    State(s): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&s, req.headers()).await {
        Ok(record) => {
            req.extensions_mut().insert(record);
            next.run(req).await
        }
        Err(e) => {
            let mut answer = e.into_response();
            if answer.status() == StatusCode::UNAUTHORIZED {
                answer
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            answer
        }
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .ok_or_else(no_token)?;
    tokens::authenticate(state.store(), presented, state.runs.now())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "unknown, expired or revoked token, or a disabled account",
            )
        })
}

/// The credentials of a `Bearer` authorization, the scheme in any case (RFC 7235).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(credentials.trim())
}

fn no_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
        "this endpoint needs an Authorization: Bearer token",
    )
}

/// The authenticated caller, if its role is at least `needed`. A route outside the
/// authenticating layer has no caller, so it refuses rather than lets anyone in.
fn caller(parts: &Parts, needed: Role) -> ApiResult<Caller> {
    let record = parts.extensions.get::<Caller>().ok_or_else(no_token)?;
    if record.role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!(
                "account {} is {}: this needs {}",
                record.name,
                record.role.as_str(),
                needed.as_str()
            ),
        ));
    }
    Ok(record.clone())
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        pub struct $name(pub Caller);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
                caller(parts, $role).map(Self)
            }
        }
    };
}

/// A caller who may read everything. Every known token may, so it carries no record: an
/// auditor's reads leave no audit entry to name it in.
pub struct Auditor;

impl<S: Send + Sync> FromRequestParts<S> for Auditor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        caller(parts, Role::Auditor).map(|_| Self)
    }
}

role_extractor!(
    /// A caller who may also change things.
    Officer,
    Role::Officer
);
role_extractor!(
    /// A caller who may also approve plans and amendments (not their own: the service
    /// checks that).
    Approver,
    Role::Approver
);
role_extractor!(
    /// A caller who may also manage accounts, tokens and calendars.
    Admin,
    Role::Admin
);
