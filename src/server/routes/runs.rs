//! The draw lifecycle as officers drive it: trigger, entropy, replacements, results,
//! publication; a run and its full bundle as auditors read them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, Why, actor, json_text};
use crate::core::draw::ReplacementRequest;
use crate::server::AppState;
use crate::server::auth::{Auditor, Officer};
use crate::server::body::{Body, OptionalBody};
use crate::server::error::ApiResult;
use crate::server::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Storage, Unauthorized,
    Unprocessable,
};
use crate::service::runs::{ResultInput, RunView, WitnessRequest};

pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(trigger))
        .routes(routes!(run))
        .routes(routes!(entropy))
        .routes(routes!(replace))
        .routes(routes!(results))
        .routes(routes!(publish))
        .routes(routes!(full_bundle))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TriggerBody {
    /// The public event whose values will be the entropy (default: the configured one).
    witness_event: Option<String>,
    witnesses: Option<u8>,
}

/// Commit a run (step 1)
///
/// Minimum role: **officer**. Freezes the task's pool and publishes the commitment for the
/// task's current fire time. 201 when this call created the run; 200 with the existing run
/// otherwise (there is no redraw). The body may be left out.
#[utoipa::path(post, path = "/api/tasks/{id}/draw", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id."), Why),
    request_body(content = Option<TriggerBody>),
    responses(
        (status = 200, description = "The run existed already.", body = RunView),
        (status = 201, description = "Committed.", body = RunView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn trigger(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
    OptionalBody(t): OptionalBody<TriggerBody>,
) -> ApiResult<Response> {
    let witness = WitnessRequest {
        event: t.witness_event,
        witnesses: t.witnesses,
    };
    let (run, created) = s
        .runs
        .trigger(&id, None, witness, &actor(who, why.reason))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RunView::for_officers(&run))).into_response())
}

/// A run, complete
///
/// Minimum role: **auditor**. The run as stored with results before publication; witness
/// values stay hidden until the officers agree (`entropy` set).
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id: `<task id>.<fire time as YYYYMMDDTHHMMSS>`.")),
    responses(
        (status = 200, description = "The run.", body = RunView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn run(State(s): St, Path(id): Path<String>, _: Auditor) -> ApiResult<Json<RunView>> {
    Ok(Json(RunView::for_officers(&s.runs.get(&id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntropyBody {
    /// The event's numbers as published: one source per line, values separated by spaces.
    pub(crate) values: String,
}

/// Enter the witnessed values (step 2)
///
/// Minimum role: **officer**. Each officer (distinct token name) enters the public event's
/// values; a re-entry replaces that officer's own. When enough entries agree and none
/// disagrees, the witness values are fixed (`entropy`); once every announced source has
/// delivered, the run is drawn.
#[utoipa::path(post, path = "/api/runs/{id}/entropy", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id: `<task id>.<fire time as YYYYMMDDTHHMMSS>`."), Why),
    request_body = EntropyBody,
    responses(
        (status = 200, description = "Recorded, or complete and drawn.", body = RunView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn entropy(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
    Body(e): Body<EntropyBody>,
) -> ApiResult<Json<RunView>> {
    let run = s
        .runs
        .enter_entropy(&id, &e.values, &actor(who, why.reason))
        .await?;
    Ok(Json(RunView::for_officers(&run)))
}

/// Replace an object or recuse an inspector (补抽)
///
/// Minimum role: **officer**. Between the draw and publication (else 409). The reason
/// (non-blank, else 422) is recorded in the audit log. Re-signs the result and replaces the
/// public bundle.
#[utoipa::path(post, path = "/api/runs/{id}/replacements", tag = "runs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id: `<task id>.<fire time as YYYYMMDDTHHMMSS>`.")),
    request_body(content = Object,
        description = "A replacement request (docs/draw-spec.md: replacements): `kind` object or inspector, the id, the reason."),
    responses(
        (status = 200, description = "The run after the replacement.", body = RunView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn replace(
    State(s): St,
    Path(id): Path<String>,
    Officer(who): Officer,
    Body(r): Body<ReplacementRequest>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(RunView::for_officers(
        &s.runs.replace(&id, r, &who.name).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultsBody {
    /// One entry per inspected object.
    results: Vec<ResultInput>,
}

/// Enter inspection results (step 4)
///
/// Minimum role: **officer**. Between the draw and publication (else 409); may be called
/// again to add or correct entries. Moves the run to `results`.
#[utoipa::path(post, path = "/api/runs/{id}/results", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id: `<task id>.<fire time as YYYYMMDDTHHMMSS>`."), Why),
    request_body = ResultsBody,
    responses(
        (status = 200, description = "The run with its results.", body = RunView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn results(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
    Body(r): Body<ResultsBody>,
) -> ApiResult<Json<RunView>> {
    let run = s
        .runs
        .record_results(&id, r.results, &actor(who, why.reason))
        .await?;
    Ok(Json(RunView::for_officers(&run)))
}

/// Publish the results (step 5)
///
/// Minimum role: **officer**. Only from state `results` (else 409); every object to inspect
/// needs a result (else 422).
#[utoipa::path(post, path = "/api/runs/{id}/publish", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id: `<task id>.<fire time as YYYYMMDDTHHMMSS>`."), Why),
    responses(
        (status = 200, description = "Published.", body = RunView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn publish(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
) -> ApiResult<Json<RunView>> {
    let run = s.runs.publish(&id, &actor(who, why.reason)).await?;
    Ok(Json(RunView::for_officers(&run)))
}

/// The auditor's full bundle
///
/// Minimum role: **auditor**. Rebuilt from the stored snapshot and library history: the whole
/// pool and the private salt key. 404 before the draw. Check it with
/// `double-random verify bundle.json`.
#[utoipa::path(get, path = "/api/runs/{id}/full-bundle", tag = "runs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id: `<task id>.<fire time as YYYYMMDDTHHMMSS>`.")),
    responses(
        (status = 200, description = "The full bundle (docs/draw-spec.md).", body = Object),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn full_bundle(State(s): St, Path(id): Path<String>, _: Auditor) -> ApiResult<Response> {
    Ok(json_text(s.runs.full_bundle(&id).await?))
}
