//! The HTTP surface, one file per resource: each maps requests to service calls and answers.
//! Public routes (`ops`, `public`, `log`, `auditors::public_routes`) need no token and change
//! nothing (the log routes may sign and keep a checkpoint of what is already there), except an
//! attestation, whose signature by a registered auditor key is its credential; the others sit behind
//! `auth::known_caller` and take the role they need as an extractor.

pub(crate) mod accounts;
pub(crate) mod admin;
mod auditors;
mod enterprises;
mod libraries;
mod log;
mod ops;
pub(crate) mod plans;
mod public;
pub(crate) mod runs;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::auth;
use super::error::{ApiError, ErrorCode};
use super::openapi::ApiDoc;
use crate::service::Actor;
use crate::service::tokens::Caller;

type St = State<Arc<AppState>>;

/// Every route, registered with its OpenAPI description (`routes!`), and the document they
/// make served at `/api/openapi.json`. Public routes declare no security, protected ones the
/// bearer token their layer checks.
pub fn routes(state: Arc<AppState>, upload_limit: usize) -> Router<Arc<AppState>> {
    let protected = OpenApiRouter::new()
        .merge(libraries::routes(upload_limit))
        .merge(plans::routes())
        .merge(runs::routes())
        .merge(admin::routes())
        .merge(accounts::routes())
        .merge(auditors::routes())
        .merge(enterprises::protected_routes())
        // Routes only: an unknown path stays a 404 for everyone.
        .route_layer(middleware::from_fn_with_state(state, auth::known_caller));
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::routes())
        .merge(public::routes())
        .merge(enterprises::public_routes())
        .merge(log::routes())
        .merge(auditors::public_routes())
        .merge(protected)
        .split_for_parts();
    router.layer(Extension(ops::Document::new(&api)))
}

pub async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownRoute,
        "no such endpoint; see /api/openapi.json",
    )
}

/// The audit entry's reason, from the query string.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct Why {
    /// Why the change is made; recorded in the audit log.
    #[serde(default)]
    reason: String,
}

fn actor(who: Caller, reason: String) -> Actor {
    Actor {
        name: who.name,
        reason,
    }
}

/// A body the service already serialised.
fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}
