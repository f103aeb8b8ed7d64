//! Annual plans and their tasks: create, submit, approve, add a task, amend.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::{St, Why, actor, temp_file};
use crate::library::plan::{Plan, PlanState};
use crate::server::AppState;
use crate::server::auth::Officer;
use crate::server::body::Body;
use crate::server::error::ApiResult;
use crate::service::plans;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/plans", post(create_plan))
        .route("/api/plans/{id}/submit", post(submit_plan))
        .route("/api/plans/{id}/approve", post(approve_plan))
        .route("/api/plans/{id}/tasks", post(add_task))
        .route("/api/plans/{id}/amendments", post(amend_plan))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPlan {
    id: String,
    year: i32,
    name: String,
}

async fn create_plan(
    State(s): St,
    Query(why): Query<Why>,
    Officer(who): Officer,
    Body(p): Body<NewPlan>,
) -> ApiResult<Response> {
    let plan = plans::create(s.store(), &p.id, p.year, &p.name, &actor(who, why.reason)).await?;
    Ok((StatusCode::CREATED, Json(plan)).into_response())
}

async fn submit_plan(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
) -> ApiResult<Json<Plan>> {
    let to = PlanState::Submitted;
    Ok(Json(
        plans::transition(s.store(), &id, to, &actor(who, why.reason)).await?,
    ))
}

async fn approve_plan(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
) -> ApiResult<Json<Plan>> {
    let to = PlanState::Approved;
    Ok(Json(
        plans::transition(s.store(), &id, to, &actor(who, why.reason)).await?,
    ))
}

#[derive(Deserialize)]
struct TaskQuery {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    replace: bool,
}

/// The body is the task file (TOML), read by the same service as the CLI's.
async fn add_task(
    State(s): St,
    Path(id): Path<String>,
    Query(q): Query<TaskQuery>,
    Officer(who): Officer,
    body: Bytes,
) -> ApiResult<Response> {
    let (_dir, path) = temp_file("task.toml", &body)?;
    let task = plans::add_task(s.store(), &id, &path, q.replace, &actor(who, q.reason)).await?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

/// Defaults so that a missing field is the service's clear error, after authentication.
#[derive(Deserialize)]
struct AmendQuery {
    #[serde(default)]
    approver: String,
    #[serde(default)]
    reason: String,
}

async fn amend_plan(
    State(s): St,
    Path(id): Path<String>,
    Query(q): Query<AmendQuery>,
    Officer(who): Officer,
    body: Bytes,
) -> ApiResult<Response> {
    let (_dir, path) = temp_file("task.toml", &body)?;
    let a = plans::amend(s.store(), &id, &path, &q.approver, &actor(who, q.reason)).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}
