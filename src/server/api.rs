//! Routes and handlers. Public routes (`/api/public/…`, `/healthz`, `/metrics`) need no token
//! and change nothing (the log routes may sign and keep a checkpoint of what is already there);
//! everything else under `/api/` needs a Bearer token of a sufficient role.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::core::draw::ReplacementRequest;
use crate::core::signature::Signature;
use crate::core::tlog::{ConsistencyProof, InclusionProof};
use crate::library::Kind;
use crate::library::plan::{Plan, PlanState};
use crate::service::access::{self, Role};
use crate::service::imports::{self, ImportOptions};
use crate::service::plans;
use crate::service::runs::{PublishedResults, ResultInput, RunSummary, RunView, WitnessRequest};
use crate::service::{Actor, ServiceError, tlog, verify};

type St = State<Arc<AppState>>;

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn routes(upload_limit: usize) -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
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
        .route("/api/public/log/checkpoint", get(log_checkpoint))
        .route("/api/public/log/entries", get(log_entries))
        .route("/api/public/log/inclusion", get(log_inclusion))
        .route("/api/public/log/consistency", get(log_consistency))
        .route("/api/public/runs/{id}/log-proof", get(run_log_proof))
        .route(
            "/api/libraries/{kind}",
            post(import).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/items", get(items))
        .route("/api/plans", post(create_plan))
        .route("/api/plans/{id}/submit", post(submit_plan))
        .route("/api/plans/{id}/approve", post(approve_plan))
        .route("/api/plans/{id}/tasks", post(add_task))
        .route("/api/plans/{id}/amendments", post(amend_plan))
        .route("/api/tasks/{id}/draw", post(trigger))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/entropy", post(entropy))
        .route("/api/runs/{id}/replacements", post(replace))
        .route("/api/runs/{id}/results", post(results))
        .route("/api/runs/{id}/publish", post(publish))
        .route("/api/runs/{id}/full-bundle", get(full_bundle))
        .route("/api/audit", get(audit))
        .route("/api/audit/verify", get(audit_verify))
        .route("/api/tokens", post(create_token))
        .route("/api/calendars/{year}", put(set_calendar))
}

pub async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_route",
        "no such endpoint; see /api/openapi.json",
    )
}

/// Every non-public route needs a known token before anything else happens, so an unknown
/// caller cannot make the daemon read an upload; handlers then check the role.
pub async fn known_caller(
    State(s): St,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    let public = !path.starts_with("/api/")
        || path.starts_with("/api/public/")
        || path == "/api/openapi.json";
    if !public && let Err(e) = caller(&s, req.headers(), Role::Auditor).await {
        return e.into_response();
    }
    next.run(req).await
}

/// The caller behind a Bearer token, if its role is at least `needed`.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    needed: Role,
) -> ApiResult<access::TokenRecord> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs an Authorization: Bearer token",
            )
        })?;
    let record = access::authenticate(state.store(), presented.trim())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown token"))?;
    if record.role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "a {} token cannot do this: it needs {}",
                record.role.as_str(),
                needed.as_str()
            ),
        ));
    }
    Ok(record)
}

#[derive(Deserialize, Default)]
struct Why {
    #[serde(default)]
    reason: String,
}

fn actor(who: &access::TokenRecord, why: Why) -> Actor {
    Actor {
        name: who.name.clone(),
        reason: why.reason,
    }
}

fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn body_json<T: for<'de> Deserialize<'de>>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

async fn healthz(State(s): St) -> ApiResult<Json<serde_json::Value>> {
    let mut read = s.store().begin_read().await?;
    let head = read.head().await?;
    Ok(Json(json!({"status": "ok", "audit_head": head})))
}

async fn metrics(State(s): St) -> ApiResult<Response> {
    let g = s.runs.gauges().await?;
    let by_state = g
        .by_state
        .iter()
        .map(|(st, n)| (format!("{{state=\"{}\"}}", st.as_str()), *n))
        .collect();
    let statuses = g
        .by_deadline
        .iter()
        .map(|(st, n)| (format!("{{status=\"{}\"}}", st.as_str()), *n))
        .collect();
    let text = s.metrics.render(&[
        (
            "double_random_runs",
            "Task runs by lifecycle state.",
            by_state,
        ),
        (
            "double_random_runs_stalled",
            "Committed runs whose drand round no relay has served within the configured limit.",
            vec![(String::new(), g.stalled)],
        ),
        (
            "double_random_publication_deadlines",
            "Runs by publication-deadline status (overdue, due_soon, unknown: no calendar).",
            statuses,
        ),
    ]);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn openapi() -> Response {
    json_text(OPENAPI.to_owned())
}

async fn public_key(State(s): St) -> Json<serde_json::Value> {
    Json(json!({"algorithm": "ed25519", "public_key": s.runs.public_key()}))
}

async fn public_plans(State(s): St) -> ApiResult<Json<Vec<Plan>>> {
    Ok(Json(plans::public(s.store()).await?))
}

async fn public_plan(State(s): St, Path(id): Path<String>) -> ApiResult<Json<plans::PlanView>> {
    Ok(Json(plans::show_public(s.store(), &id).await?))
}

async fn public_task(State(s): St, Path(id): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let task = plans::public_task(s.store(), &id).await?;
    let runs: Vec<RunView> = s
        .runs
        .list(Some(&id))
        .await?
        .iter()
        .map(RunView::for_public)
        .collect();
    Ok(Json(json!({"task": task, "runs": runs})))
}

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

async fn public_run(State(s): St, Path(id): Path<String>) -> ApiResult<Json<RunView>> {
    Ok(Json(RunView::for_public(&s.runs.get(&id).await?)))
}

async fn public_bundle(State(s): St, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(json_text(s.runs.public_bundle(&id).await?))
}

async fn public_signature(State(s): St, Path(id): Path<String>) -> ApiResult<Json<Signature>> {
    Ok(Json(s.runs.signature_of(&id).await?))
}

async fn public_results(State(s): St, Path(id): Path<String>) -> ApiResult<Json<PublishedResults>> {
    Ok(Json(s.runs.published_results(&id).await?))
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
    let today = s.runs.today();
    Ok(Json(
        json!({"today": today, "runs": s.runs.deadlines(today).await?}),
    ))
}

async fn log_checkpoint(State(s): St) -> ApiResult<Response> {
    let note = s.runs.checkpoint().await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[derive(Deserialize)]
struct Range {
    #[serde(default)]
    start: u64,
    end: Option<u64>,
}

/// At most this many entries per answer.
const LOG_PAGE: u64 = 1000;

async fn log_entries(
    State(s): St,
    Query(r): Query<Range>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let end = r
        .end
        .unwrap_or(u64::MAX)
        .min(r.start.saturating_add(LOG_PAGE));
    let leaves = tlog::entries(s.store(), r.start, end).await?;
    Ok(Json(
        leaves
            .into_iter()
            .map(|l| json!({"index": l.index, "entry": l.entry, "leaf_hash": hex::encode(l.leaf_hash)}))
            .collect(),
    ))
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    size: u64,
}

async fn log_inclusion(
    State(s): St,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let proof = tlog::inclusion(s.store(), q.index, q.size).await?;
    Ok(Json(
        json!({"index": q.index, "size": q.size, "proof": proof}),
    ))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    first: u64,
    second: u64,
}

async fn log_consistency(
    State(s): St,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    Ok(Json(tlog::consistency(s.store(), q.first, q.second).await?))
}

async fn run_log_proof(State(s): St, Path(id): Path<String>) -> ApiResult<Json<InclusionProof>> {
    Ok(Json(s.runs.log_proof(&id).await?))
}

#[derive(Deserialize)]
struct ImportQuery {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    skip_invalid: bool,
    /// Names the upload in error messages; `.xlsx` selects the Excel reader.
    #[serde(default)]
    filename: Option<String>,
}

async fn import(
    State(s): St,
    Path(kind): Path<String>,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let kind = Kind::parse(&kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no library {kind:?} (objects, inspectors, penalties, inspections, items)"),
        )
    })?;
    let xlsx = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("spreadsheetml"))
        || q.filename.as_deref().is_some_and(|f| f.ends_with(".xlsx"));
    let name = q
        .filename
        .as_deref()
        .and_then(|f| std::path::Path::new(f).file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| kind.as_str().to_owned());
    // The reader follows the extension.
    let name = match (xlsx, name.ends_with(".xlsx")) {
        (true, false) => format!("{name}.xlsx"),
        _ => name,
    };
    let options = ImportOptions {
        skip_invalid: q.skip_invalid,
        ..Default::default()
    };
    let actor = Actor {
        name: who.name,
        reason: q.reason,
    };
    let source = std::io::Cursor::new(body);
    let report = imports::import(s.store(), kind, source, &name, options, &actor).await?;
    let status = if report.committed {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut body = serde_json::to_value(&report).expect("serialises");
    if !report.committed {
        body = json!({"error": {"code": "bad_rows", "message": format!("{} bad row(s): nothing was imported", report.bad.len())}, "report": body});
    }
    Ok((status, Json(body)).into_response())
}

async fn items(State(s): St, headers: HeaderMap) -> ApiResult<Response> {
    caller(&s, &headers, Role::Auditor).await?;
    let mut json = Vec::new();
    let format = crate::table::Format::Json;
    imports::export(
        s.store(),
        Kind::Items,
        None,
        &mut json,
        "items.json",
        format,
    )
    .await?;
    let text = String::from_utf8(json).map_err(ApiError::internal)?;
    Ok(json_text(text))
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
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let p: NewPlan = body_json(&body)?;
    let plan = plans::create(s.store(), &p.id, p.year, &p.name, &actor(&who, why)).await?;
    Ok((StatusCode::CREATED, Json(plan)).into_response())
}

async fn transition(
    s: &AppState,
    headers: &HeaderMap,
    id: &str,
    to: PlanState,
    why: Why,
) -> ApiResult<Json<Plan>> {
    let who = caller(s, headers, Role::Officer).await?;
    Ok(Json(
        plans::transition(s.store(), id, to, &actor(&who, why)).await?,
    ))
}

async fn submit_plan(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    headers: HeaderMap,
) -> ApiResult<Json<Plan>> {
    transition(&s, &headers, &id, PlanState::Submitted, why).await
}

async fn approve_plan(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    headers: HeaderMap,
) -> ApiResult<Json<Plan>> {
    transition(&s, &headers, &id, PlanState::Approved, why).await
}

/// A task file uploaded as the request body.
fn task_text(body: &[u8]) -> ApiResult<plans::TaskText<'_>> {
    Ok(plans::TaskText {
        name: "task.toml",
        text: std::str::from_utf8(body)
            .map_err(|e| ServiceError::Invalid(format!("task.toml: {e}")))?,
    })
}

#[derive(Deserialize)]
struct TaskQuery {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    replace: bool,
}

async fn add_task(
    State(s): St,
    Path(id): Path<String>,
    Query(q): Query<TaskQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let task = plans::add_task(
        s.store(),
        &id,
        task_text(&body)?,
        q.replace,
        &actor(&who, Why { reason: q.reason }),
    )
    .await?;
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
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let a = plans::amend(
        s.store(),
        &id,
        task_text(&body)?,
        &q.approver,
        &actor(&who, Why { reason: q.reason }),
        s.runs.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    /// The public event whose values will be the entropy (default: the configured one).
    witness_event: Option<String>,
    witnesses: Option<u8>,
}

async fn trigger(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let t: TriggerBody = if body.is_empty() {
        TriggerBody::default()
    } else {
        body_json(&body)?
    };
    let witness = WitnessRequest {
        event: t.witness_event,
        witnesses: t.witnesses,
    };
    let (run, created) = s
        .runs
        .trigger(&id, None, witness, &actor(&who, why))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RunView::for_officers(&run))).into_response())
}

async fn run(State(s): St, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Json<RunView>> {
    caller(&s, &headers, Role::Auditor).await?;
    Ok(Json(RunView::for_officers(&s.runs.get(&id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntropyBody {
    /// The event's numbers as published: one source per line, values separated by spaces.
    values: String,
}

async fn entropy(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<RunView>> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let e: EntropyBody = body_json(&body)?;
    let run = s
        .runs
        .enter_entropy(&id, &e.values, &actor(&who, why))
        .await?;
    Ok(Json(RunView::for_officers(&run)))
}

async fn replace(
    State(s): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<RunView>> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let r: ReplacementRequest = body_json(&body)?;
    Ok(Json(RunView::for_officers(
        &s.runs.replace(&id, r, &who.name).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultsBody {
    results: Vec<ResultInput>,
}

async fn results(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<RunView>> {
    let who = caller(&s, &headers, Role::Officer).await?;
    let r: ResultsBody = body_json(&body)?;
    let run = s
        .runs
        .record_results(&id, r.results, &actor(&who, why))
        .await?;
    Ok(Json(RunView::for_officers(&run)))
}

async fn publish(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    headers: HeaderMap,
) -> ApiResult<Json<RunView>> {
    let who = caller(&s, &headers, Role::Officer).await?;
    Ok(Json(RunView::for_officers(
        &s.runs.publish(&id, &actor(&who, why)).await?,
    )))
}

async fn full_bundle(
    State(s): St,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller(&s, &headers, Role::Auditor).await?;
    Ok(json_text(s.runs.full_bundle(&id).await?))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    from: i64,
    #[serde(default = "hundred")]
    limit: i64,
}

fn hundred() -> i64 {
    100
}

async fn audit(
    State(s): St,
    Query(q): Query<AuditQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    caller(&s, &headers, Role::Auditor).await?;
    let entries = s.store().audit(q.from, q.limit.clamp(1, 1000)).await?;
    Ok(Json(json!(entries)))
}

async fn audit_verify(State(s): St, headers: HeaderMap) -> ApiResult<Json<verify::AuditReport>> {
    caller(&s, &headers, Role::Auditor).await?;
    Ok(Json(verify::verify(s.store()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: Role,
}

async fn create_token(
    State(s): St,
    Query(why): Query<Why>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let who = caller(&s, &headers, Role::Admin).await?;
    let t: NewToken = body_json(&body)?;
    let token = access::create_token(s.store(), &t.name, t.role, &actor(&who, why), false)
        .await?
        .expect("not a bootstrap token");
    let shown: BTreeMap<&str, &str> = [
        ("name", t.name.as_str()),
        ("role", t.role.as_str()),
        ("token", token.expose()),
    ]
    .into();
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

async fn set_calendar(
    State(s): St,
    Path(year): Path<String>,
    Query(why): Query<Why>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let who = caller(&s, &headers, Role::Admin).await?;
    let year: i32 = year
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{year:?} is not a year")))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the calendar must be UTF-8 TOML"))?;
    let y = s.runs.set_calendar(text, year, &actor(&who, why)).await?;
    Ok(Json(json!({"year": y})))
}
