//! Operations: liveness, Prometheus metrics, the API description. Public.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, json_text};
use crate::server::AppState;
use crate::server::error::ApiResult;
use crate::server::metrics::Gauge;
use crate::store::Seq;

pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

/// The OpenAPI document as served, made once from the registered routes.
#[derive(Clone)]
pub struct Document(Arc<str>);

impl Document {
    pub fn new(api: &utoipa::openapi::OpenApi) -> Self {
        Self(api.to_pretty_json().expect("serialises").into())
    }
}

#[derive(Serialize, ToSchema)]
struct Alive {
    /// Always `ok`.
    status: &'static str,
}

// Fields in alphabetical order: the key order of `/healthz`'s answer before it stopped
// reading the database.
#[derive(Serialize, ToSchema)]
struct Ready {
    /// The audit log's last sequence number.
    #[schema(value_type = i64)]
    audit_head: Seq,
    /// Always `ok`.
    status: &'static str,
}

/// Liveness
///
/// Answers while the process serves requests; reads nothing, so no number of callers can
/// hold the database up.
#[utoipa::path(get, path = "/healthz", tag = "public", security(),
    responses((status = 200, description = "The service answers.", body = Alive)))]
async fn healthz() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Readiness
///
/// Answers once the database answers: one indexed query on one connection.
#[utoipa::path(get, path = "/readyz", tag = "public", security(),
    responses(
        (status = 200, description = "The service and its database answer.", body = Ready),
        (status = 503, response = crate::server::openapi::Storage),
    ))]
async fn readyz(State(s): St) -> ApiResult<Json<Ready>> {
    Ok(Json(Ready {
        audit_head: s.store().audit_head().await?,
        status: "ok",
    }))
}

/// Prometheus metrics
///
/// Text exposition format 0.0.4: request counters and latency histogram by route, scheduler
/// counters, drand round requests by relay and outcome (`double_random_drand_requests_total`:
/// served, not_yet, rejected, unreachable), runs by state, committed runs whose drand round no
/// relay has served within `[drand] stall_after_secs` (`double_random_runs_stalled`), runs by
/// publication-deadline status.
#[utoipa::path(get, path = "/metrics", tag = "public", security(),
    responses(
        (status = 200, description = "Metrics.", body = String, content_type = "text/plain"),
        (status = 503, response = crate::server::openapi::Storage),
    ))]
async fn metrics(State(s): St) -> ApiResult<Response> {
    let text = s.metrics.render(&gauges(&s).await?);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// The service's gauges as Prometheus series.
async fn gauges(s: &AppState) -> ApiResult<Vec<Gauge<'static>>> {
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
    Ok(vec![
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
    ])
}

/// This document
///
/// Generated from the routes as registered.
#[utoipa::path(get, path = "/api/openapi.json", tag = "public", security(),
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object)))]
async fn openapi(Extension(doc): Extension<Document>) -> Response {
    json_text(doc.0.to_string())
}
