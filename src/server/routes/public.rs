//! What anyone may read: the publication key, approved plans and their tasks, runs as the
//! public sees them, bundles, signatures, published results, publication deadlines. (An
//! enterprise's check and its own proof: `enterprises`.)

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, json_text};
use crate::core::signature::Signature;
use crate::library::plan::{Plan, Task};
use crate::server::AppState;
use crate::server::error::ApiResult;
use crate::server::openapi::protocol::SignatureSchema;
use crate::server::openapi::{NotFound, Storage};
use crate::service::plans;
use crate::service::runs::{DeadlineView, PublishedResults, RunSummary, RunView};

pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(public_key))
        .routes(routes!(public_plans))
        .routes(routes!(public_plan))
        .routes(routes!(public_task))
        .routes(routes!(public_runs))
        .routes(routes!(public_run))
        .routes(routes!(public_bundle))
        .routes(routes!(public_signature))
        .routes(routes!(public_results))
        .routes(routes!(deadlines))
}

// The answers' fields are in alphabetical order: the key order they had as `json!` maps.

#[derive(Serialize, ToSchema)]
struct PublicKey {
    /// Always `ed25519`.
    algorithm: &'static str,
    /// Hex.
    public_key: String,
}

/// The publication key
///
/// The Ed25519 public key that signs every run's result (see the run's `signature`). Publish
/// it out of band and compare.
#[utoipa::path(get, path = "/api/public/key", tag = "public", security(),
    responses((status = 200, description = "The key.", body = PublicKey)))]
async fn public_key(State(s): St) -> Json<PublicKey> {
    Json(PublicKey {
        algorithm: "ed25519",
        public_key: s.runs.public_key(),
    })
}

/// Approved plans
///
/// Plans are public once approved; drafts are the office's own business. In id order.
#[utoipa::path(get, path = "/api/public/plans", tag = "public", security(),
    responses(
        (status = 200, description = "The approved plans (docs/api.md: Plan).", body = [Object]),
        (status = 503, response = Storage),
    ))]
async fn public_plans(State(s): St) -> ApiResult<Json<Vec<Plan>>> {
    Ok(Json(plans::public(s.store()).await?))
}

/// An approved plan with its tasks and amendments
#[utoipa::path(get, path = "/api/public/plans/{id}", tag = "public", security(),
    params(("id" = String, Path, description = "Plan id.")),
    responses(
        (status = 200, description = "The plan.", body = plans::PlanView),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn public_plan(State(s): St, Path(id): Path<String>) -> ApiResult<Json<plans::PlanView>> {
    Ok(Json(plans::show_public(s.store(), &id).await?))
}

#[derive(Serialize, ToSchema)]
struct PublicTask {
    /// Public views of the task's runs.
    runs: Vec<RunView>,
    /// The task as in its plan (docs/api.md: Task).
    #[schema(value_type = Object)]
    task: Task,
}

/// A task of an approved plan and its runs
///
/// Runs are public views (witness values hidden until the witness entropy is fixed, results
/// hidden until published).
#[utoipa::path(get, path = "/api/public/tasks/{id}", tag = "public", security(),
    params(("id" = String, Path, description = "Task id.")),
    responses(
        (status = 200, description = "The task and its runs.", body = PublicTask),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn public_task(State(s): St, Path(id): Path<String>) -> ApiResult<Json<PublicTask>> {
    // Independent reads, so one request waits for the pool once, not twice.
    let (task, runs) = tokio::try_join!(plans::public_task(s.store(), &s.runs.approved_plans, &id), s.runs.list(Some(&id)))?;
    let runs = runs.iter().map(RunView::for_public).collect();
    Ok(Json(PublicTask { runs, task }))
}

/// Every run, in summary
///
/// In id order.
#[utoipa::path(get, path = "/api/public/runs", tag = "public", security(),
    responses(
        (status = 200, description = "The runs.", body = [RunSummary]),
        (status = 503, response = Storage),
    ))]
async fn public_runs(State(s): St) -> ApiResult<Json<Vec<RunSummary>>> {
    Ok(Json(
        s.runs
            .list(None)
            .await?
            .iter()
            .map(RunSummary::from)
            .collect(),
    ))
}

/// A run (public view)
///
/// Witness values read `(hidden until every witness has entered)` until the officers agree
/// (`entropy` set); `results` is empty until `published`. A run that announced a drand round
/// shows it in `drand`, with the verified beacon once fetched, or `stalled` while no relay
/// serves the round.
#[utoipa::path(get, path = "/api/public/runs/{id}", tag = "public", security(),
    params(("id" = String, Path, description = "Run id: `<task id>.<fire time as YYYYMMDDTHHMMSS>`.")),
    responses(
        (status = 200, description = "The run.", body = RunView),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn public_run(State(s): St, Path(id): Path<String>) -> ApiResult<Json<RunView>> {
    Ok(Json(RunView::for_public(&s.runs.get(&id).await?)))
}

/// The public bundle
///
/// The signed public bundle as stored (updated by each replacement). 404 before the draw.
/// Check it offline with `double-random verify public.json`.
#[utoipa::path(get, path = "/api/public/runs/{id}/bundle", tag = "public", security(),
    params(("id" = String, Path, description = "Run id.")),
    responses(
        (status = 200, description = "The public bundle (docs/draw-spec.md).", body = Object),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn public_bundle(State(s): St, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(json_text(s.runs.public_bundle(&id).await?))
}

/// The signature over the result
///
/// Ed25519 signature binding run id, commitment hash, result digest and number of
/// replacements. 404 before the draw.
#[utoipa::path(get, path = "/api/public/runs/{id}/signature", tag = "public", security(),
    params(("id" = String, Path, description = "Run id.")),
    responses(
        (status = 200, description = "The signature.", body = SignatureSchema),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn public_signature(State(s): St, Path(id): Path<String>) -> ApiResult<Json<Signature>> {
    Ok(Json(s.runs.signature_of(&id).await?))
}

/// Published inspection results
///
/// 404 until the run is published.
#[utoipa::path(get, path = "/api/public/runs/{id}/results", tag = "public", security(),
    params(("id" = String, Path, description = "Run id.")),
    responses(
        (status = 200, description = "The results.", body = PublishedResults),
        (status = 404, response = NotFound),
        (status = 503, response = Storage),
    ))]
async fn public_results(State(s): St, Path(id): Path<String>) -> ApiResult<Json<PublishedResults>> {
    Ok(Json(s.runs.published_results(&id).await?))
}

#[derive(Serialize, ToSchema)]
struct Deadlines {
    runs: Vec<DeadlineView>,
    #[schema(value_type = String, format = Date)]
    today: NaiveDate,
}

/// Publication deadlines of every run
///
/// Results must be published within 20 working days after the task window ends (working days
/// from the loaded calendars). A deadline within `[draw] due_soon_working_days` working days
/// is `due_soon`.
#[utoipa::path(get, path = "/api/public/deadlines", tag = "public", security(),
    responses(
        (status = 200, description = "Deadlines as of today.", body = Deadlines),
        (status = 503, response = Storage),
    ))]
async fn deadlines(State(s): St) -> ApiResult<Json<Deadlines>> {
    let today = s.runs.today();
    let runs = s.runs.deadlines(today).await?;
    Ok(Json(Deadlines { runs, today }))
}
