//! Auditors and their attestations (draw-spec §21): admins register and revoke auditor keys;
//! anyone reads the registry and a run's attestations; an auditor submits an attestation with
//! no token, its signature by a registered key being the credential (the service checks it).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, Why, actor};
use crate::core::attestation::Attestation;
use crate::server::AppState;
use crate::server::auth::Admin;
use crate::server::body::Body;
use crate::server::error::ApiResult;
use crate::server::openapi::protocol::AttestationSchema;
use crate::server::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Storage, Unauthorized,
    Unprocessable,
};
use crate::service::auditors::{self, Auditor};

/// The admin's routes (behind the token layer).
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(register_auditor))
        .routes(routes!(revoke_auditor))
}

/// Anyone's routes.
pub fn public_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list_auditors))
        .routes(routes!(submit_attestation, run_attestations))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAuditor {
    /// The office (1 to 200 characters).
    name: String,
    /// Hex Ed25519 public key (`double-random auditor-key` prints it).
    key: String,
}

/// Register an auditor key
///
/// Minimum role: **admin**. 409 `conflict` if the key was registered before (even revoked).
#[utoipa::path(post, path = "/api/auditors", tag = "admin", security(("bearer" = [])),
    params(Why),
    request_body = NewAuditor,
    responses(
        (status = 201, description = "Registered.", body = Auditor),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn register_auditor(
    State(s): St,
    Query(why): Query<Why>,
    Admin(who): Admin,
    Body(a): Body<NewAuditor>,
) -> ApiResult<Response> {
    let who = actor(who, why.reason);
    let a = auditors::register(s.store(), &a.name, &a.key, &who, s.runs.now()).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

/// Revoke an auditor key
///
/// Minimum role: **admin**. No further attestation by it is accepted; those accepted stay.
#[utoipa::path(post, path = "/api/auditors/{key}/revoke", tag = "admin",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The hex public key."), Why),
    responses(
        (status = 200, description = "Revoked.", body = Auditor),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn revoke_auditor(
    State(s): St,
    Path(key): Path<String>,
    Query(why): Query<Why>,
    Admin(who): Admin,
) -> ApiResult<Json<Auditor>> {
    let who = actor(who, why.reason);
    Ok(Json(
        auditors::revoke(s.store(), &key, &who, s.runs.now()).await?,
    ))
}

/// Registered auditors
///
/// Every auditor key an admin registered, revoked ones with `revoked_at`, in key order: what
/// `double-random verify --auditors` checks attestations against.
#[utoipa::path(get, path = "/api/public/auditors", tag = "public", security(),
    responses(
        (status = 200, description = "The registry.", body = [Auditor]),
        (status = 503, response = Storage),
    ))]
async fn list_auditors(State(s): St) -> ApiResult<Json<Vec<Auditor>>> {
    Ok(Json(auditors::list(s.store()).await?))
}

#[derive(Serialize, ToSchema)]
struct RunAttestations {
    run: String,
    /// Every accepted attestation of the run, of its current result and of earlier ones.
    #[schema(value_type = Vec<AttestationSchema>)]
    attestations: Vec<Attestation>,
}

/// Submit an attestation
///
/// No token: the Ed25519 signature by a registered auditor key is the credential, so an
/// auditor office needs no account on the daemon it checks. Accepted only if the signature
/// verifies (422 `invalid`), the key is registered and not revoked (403 `forbidden`), and it
/// attests this drawn run's commitment and current result (422 `invalid`). Stored, audited
/// and appended to the transparency log (event `attestation`); 201 when new, 200 when it was
/// accepted before.
#[utoipa::path(post, path = "/api/public/runs/{id}/attestations", tag = "public", security(),
    params(("id" = String, Path, description = "Run id.")),
    request_body = AttestationSchema,
    responses(
        (status = 200, description = "Accepted before.", body = AttestationSchema),
        (status = 201, description = "Accepted.", body = AttestationSchema),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn submit_attestation(
    State(s): St,
    Path(id): Path<String>,
    Body(a): Body<Attestation>,
) -> ApiResult<Response> {
    let (a, new) = s.runs.attest(&id, a).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(a)).into_response())
}

/// A run's attestations
///
/// Check them with `double-random verify PUBLIC --attestations URL --auditors URL`.
#[utoipa::path(get, path = "/api/public/runs/{id}/attestations", tag = "public", security(),
    params(("id" = String, Path, description = "Run id.")),
    responses(
        (status = 200, description = "The attestations.", body = RunAttestations),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn run_attestations(State(s): St, Path(id): Path<String>) -> ApiResult<Json<RunAttestations>> {
    let attestations = s.runs.attestations(&id).await?;
    Ok(Json(RunAttestations {
        run: id,
        attestations,
    }))
}
