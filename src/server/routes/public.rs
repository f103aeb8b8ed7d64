//! What anyone may read: the publication key, approved plans and their tasks, runs as the
//! public sees them, bundles, signatures, published results, an enterprise's own check,
//! publication deadlines.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;

use super::{St, json_text};
use crate::library::plan::{Plan, PlanState};
use crate::server::AppState;
use crate::server::error::{ApiError, ApiResult};
use crate::service::plans::{self, parse};
use crate::service::runs::{Run, RunState};
use crate::store::DocKind;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/public/key", get(public_key))
        .route("/api/public/plans", get(public_plans))
        .route("/api/public/plans/{id}", get(public_plan))
        .route("/api/public/tasks/{id}", get(public_task))
        .route("/api/public/runs", get(public_runs))
        .route("/api/public/runs/{id}", get(public_run))
        .route("/api/public/runs/{id}/bundle", get(public_bundle))
        .route("/api/public/runs/{id}/signature", get(public_signature))
        .route("/api/public/runs/{id}/results", get(public_results))
        .route("/api/public/runs/{id}/check/{code}", get(public_check))
        .route("/api/public/deadlines", get(deadlines))
}

async fn public_key(State(s): St) -> Json<serde_json::Value> {
    Json(json!({"algorithm": "ed25519", "public_key": s.runs.public_key()}))
}

/// Plans are public once approved; drafts are the office's own business.
async fn public_plans(State(s): St) -> ApiResult<Json<Vec<Plan>>> {
    let docs = s.store().docs(DocKind::Plan, None).await?;
    let plans: Vec<Plan> = docs.iter().map(parse).collect::<Result<_, _>>()?;
    Ok(Json(
        plans
            .into_iter()
            .filter(|p| p.state == PlanState::Approved)
            .collect(),
    ))
}

/// Refuses a plan (or a task of a plan) that is not approved yet, as if it did not exist.
async fn approved(s: &AppState, plan_id: &str) -> ApiResult<()> {
    match plans::load_plan(s.store(), plan_id).await?.0.state {
        PlanState::Approved => Ok(()),
        _ => Err(ApiError::not_found(format!("no approved plan {plan_id:?}"))),
    }
}

async fn public_plan(State(s): St, Path(id): Path<String>) -> ApiResult<Json<plans::PlanView>> {
    approved(&s, &id).await?;
    Ok(Json(plans::show(s.store(), &id).await?))
}

async fn public_task(State(s): St, Path(id): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let task = plans::load_task(s.store(), &id).await?;
    approved(&s, &task.plan_id).await?;
    let runs: Vec<Run> = s
        .runs
        .list(Some(&id))
        .await?
        .iter()
        .map(Run::public_view)
        .collect();
    Ok(Json(json!({"task": task, "runs": runs})))
}

async fn public_runs(State(s): St) -> ApiResult<Json<Vec<serde_json::Value>>> {
    Ok(Json(
        s.runs
            .list(None)
            .await?
            .iter()
            .map(|r| {
                json!({"id": r.id, "task_id": r.task_id, "state": r.state,
                       "commitment_hash": r.commitment_hash, "committed_at": r.committed_at})
            })
            .collect(),
    ))
}

async fn public_run(State(s): St, Path(id): Path<String>) -> ApiResult<Json<Run>> {
    Ok(Json(s.runs.get(&id).await?.public_view()))
}

async fn public_bundle(State(s): St, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(json_text(s.runs.public_bundle(&id).await?))
}

async fn public_signature(State(s): St, Path(id): Path<String>) -> ApiResult<Response> {
    let run = s.runs.get(&id).await?;
    match run.signature {
        Some(sig) => Ok(Json(sig).into_response()),
        None => Err(ApiError::not_found(format!("run {id} is not drawn yet"))),
    }
}

async fn public_results(
    State(s): St,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let run = s.runs.get(&id).await?;
    if run.state != RunState::Published {
        return Err(ApiError::not_found(format!(
            "run {id} is {}: results are shown once published",
            run.state.as_str()
        )));
    }
    Ok(Json(
        json!({"run": run.id, "published_at": run.published_at, "results": run.results}),
    ))
}

async fn public_check(
    State(s): St,
    Path((id, code)): Path<(String, String)>,
) -> ApiResult<Response> {
    let check = s.runs.check(&id, &code).await?;
    Ok(json_text(
        serde_json::to_string(&check).expect("serialises"),
    ))
}

async fn deadlines(State(s): St) -> ApiResult<Json<serde_json::Value>> {
    let today = Utc::now()
        .with_timezone(&s.runs.settings.timezone)
        .date_naive();
    Ok(Json(
        json!({"today": today, "runs": s.runs.deadlines(today).await?}),
    ))
}
