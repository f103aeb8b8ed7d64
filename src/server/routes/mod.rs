//! The HTTP surface, one file per resource: each maps requests to service calls and answers.
//! Public routes (`ops`, `public`, `log`) need no token and change nothing (the log routes may
//! sign and keep a checkpoint of what is already there); the others sit behind
//! `auth::known_caller` and take the role they need as an extractor.

mod admin;
mod libraries;
mod log;
mod ops;
mod plans;
mod public;
mod runs;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::auth;
use super::error::{ApiError, ApiResult, ErrorCode};
use crate::service::Actor;
use crate::service::access::TokenRecord;

type St = State<Arc<AppState>>;

pub fn routes(state: Arc<AppState>, upload_limit: usize) -> Router<Arc<AppState>> {
    let protected = Router::new()
        .merge(libraries::routes(upload_limit))
        .merge(plans::routes())
        .merge(runs::routes())
        .merge(admin::routes())
        // Routes only: an unknown path stays a 404 for everyone.
        .route_layer(middleware::from_fn_with_state(state, auth::known_caller));
    Router::new()
        .merge(ops::routes())
        .merge(public::routes())
        .merge(log::routes())
        .merge(protected)
}

pub async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownRoute,
        "no such endpoint; see /api/openapi.json",
    )
}

/// The audit entry's reason, from the query string.
#[derive(Deserialize, Default)]
struct Why {
    #[serde(default)]
    reason: String,
}

fn actor(who: TokenRecord, reason: String) -> Actor {
    Actor {
        name: who.name,
        reason,
    }
}

/// A body the service already serialised.
fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// An upload written where the file-based services read it; errors name only `name`.
fn temp_file(name: &str, body: &[u8]) -> ApiResult<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let path = dir.path().join(name);
    std::fs::write(&path, body).map_err(ApiError::internal)?;
    Ok((dir, path))
}
