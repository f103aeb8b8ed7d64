//! Annual plans and their tasks: create, submit, approve, add a task, propose and approve an
//! amendment. Approvals take the `Approver` extractor; that the approver is not an author
//! (four eyes) is the service's rule.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, Why, actor};
use crate::library::plan::{Plan, PlanState};
use crate::server::AppState;
use crate::server::auth::{Approver, Officer};
use crate::server::body::Body;
use crate::server::error::{ApiError, ApiResult};
use crate::server::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Storage, Unauthorized,
    Unprocessable,
};
use crate::service::{ServiceError, plans};

pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(create_plan))
        .routes(routes!(submit_plan))
        .routes(routes!(approve_plan))
        .routes(routes!(add_task))
        .routes(routes!(amend_plan))
        .routes(routes!(approve_amendment))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPlan {
    id: String,
    year: i32,
    name: String,
}

/// Create a draft plan
///
/// Minimum role: **officer**. 422 `invalid` for a bad id or year, or an id that exists
/// already.
#[utoipa::path(post, path = "/api/plans", tag = "plans", security(("bearer" = [])),
    params(Why),
    request_body = NewPlan,
    responses(
        (status = 201, description = "Created (docs/api.md: Plan).", body = Object),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn create_plan(
    State(s): St,
    Query(why): Query<Why>,
    Officer(who): Officer,
    Body(p): Body<NewPlan>,
) -> ApiResult<Response> {
    let plan = plans::create(s.store(), &p.id, p.year, &p.name, &actor(who, why.reason)).await?;
    Ok((StatusCode::CREATED, Json(plan)).into_response())
}

/// Submit a draft plan
///
/// Minimum role: **officer**. draft → submitted; the plan needs at least one task. 422
/// `invalid` from any other state.
#[utoipa::path(post, path = "/api/plans/{id}/submit", tag = "plans", security(("bearer" = [])),
    params(("id" = String, Path, description = "Plan id."), Why),
    responses(
        (status = 200, description = "Submitted (docs/api.md: Plan).", body = Object),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
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

/// Approve a submitted plan
///
/// Minimum role: **approver**. submitted → approved: its tasks become public and scheduled.
/// The approver must not be an author of the plan (who created it, added or replaced a task
/// or submitted it): 403 `forbidden`. 422 `invalid` from any other state.
#[utoipa::path(post, path = "/api/plans/{id}/approve", tag = "plans", security(("bearer" = [])),
    params(("id" = String, Path, description = "Plan id."), Why),
    responses(
        (status = 200, description = "Approved (docs/api.md: Plan).", body = Object),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn approve_plan(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Approver(who): Approver,
) -> ApiResult<Json<Plan>> {
    let to = PlanState::Approved;
    Ok(Json(
        plans::transition(s.store(), &id, to, &actor(who, why.reason)).await?,
    ))
}

/// A task file uploaded as the request body.
fn task_text<'a>(s: &AppState, body: &'a [u8]) -> ApiResult<plans::TaskText<'a>> {
    Ok(plans::TaskText {
        min_cron_interval: s.config.draw.min_cron_interval(),
        name: "task.toml",
        text: std::str::from_utf8(body)
            .map_err(|e| ServiceError::Invalid(format!("task.toml: {e}")))?,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TaskQuery {
    /// Why the change is made; recorded in the audit log.
    #[serde(default)]
    reason: String,
    /// Replace the plan's task with the same id.
    #[serde(default)]
    replace: bool,
}

/// Add a task to a draft plan
///
/// Minimum role: **officer**. The body is a task TOML file, read by the same service as the
/// CLI's; errors name its line and field (422 `bad_field`).
#[utoipa::path(post, path = "/api/plans/{id}/tasks", tag = "plans", security(("bearer" = [])),
    params(("id" = String, Path, description = "Plan id."), TaskQuery),
    request_body(content = String, content_type = "text/toml",
        description = "A task TOML file. The Content-Type header is not checked."),
    responses(
        (status = 201, description = "The task (docs/api.md: Task).", body = Object),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn add_task(
    State(s): St,
    Path(id): Path<String>,
    Query(q): Query<TaskQuery>,
    Officer(who): Officer,
    body: Bytes,
) -> ApiResult<Response> {
    let task = plans::add_task(
        s.store(),
        &id,
        task_text(&s, &body)?,
        q.replace,
        &actor(who, q.reason),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

/// Defaults so that a missing field is the service's clear error, after authentication.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AmendQuery {
    /// Why; recorded in the amendment and the audit log (required).
    #[serde(default)]
    reason: String,
    /// No longer taken: an amendment is approved by an approver account (422 if given).
    #[serde(default)]
    approver: Option<String>,
}

/// Propose an amendment to an approved plan
///
/// Minimum role: **officer**. Proposes adding or replacing one task of an approved plan
/// (task TOML body, as for adding a task), with a reason (required). Nothing changes until
/// another account with the approver role approves it. A task that has a run (other than a
/// failed one) cannot be redefined: 422 `invalid`. Two proposals at once: one gets the next
/// number, the other 409 `conflict`.
#[utoipa::path(post, path = "/api/plans/{id}/amendments", tag = "plans",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Plan id."), AmendQuery),
    request_body(content = String, content_type = "text/toml",
        description = "A task TOML file. The Content-Type header is not checked."),
    responses(
        (status = 201, description = "The proposed amendment.", body = plans::Amendment),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn amend_plan(
    State(s): St,
    Path(id): Path<String>,
    Query(q): Query<AmendQuery>,
    Officer(who): Officer,
    body: Bytes,
) -> ApiResult<Response> {
    if q.approver.is_some() {
        return Err(ServiceError::Invalid(
            "an amendment takes no approver name: another account with the approver role \
             approves it (POST /api/plans/{id}/amendments/{number}/approve)"
                .into(),
        )
        .into());
    }
    let a = plans::propose(
        s.store(),
        &id,
        task_text(&s, &body)?,
        &actor(who, q.reason),
        s.runs.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

/// Approve a proposed amendment
///
/// Minimum role: **approver**. Applies the amendment (the task is added or replaced) and
/// records the caller's account as its approver. 403 `forbidden` for the account that
/// proposed it; 409 `conflict` if the task changed since; 422 `invalid` if it is approved
/// already or the task has a run by now.
#[utoipa::path(post, path = "/api/plans/{id}/amendments/{number}/approve", tag = "plans",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Plan id."),
        ("number" = u32, Path, description = "Amendment number."), Why),
    responses(
        (status = 200, description = "The approved amendment.", body = plans::Amendment),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn approve_amendment(
    State(s): St,
    Path((id, number)): Path<(String, String)>,
    Query(why): Query<Why>,
    Approver(who): Approver,
) -> ApiResult<Json<plans::Amendment>> {
    let number: u32 = number
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{number:?} is not an amendment number")))?;
    let who = actor(who, why.reason);
    Ok(Json(
        plans::approve_amendment(s.store(), &id, number, &who, s.runs.now()).await?,
    ))
}
