//! Operations: liveness, Prometheus metrics, the API description. Public.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;

use super::{St, json_text};
use crate::server::AppState;
use crate::server::error::ApiResult;
use crate::server::metrics::Gauge;
use crate::service::runs::RunState;
use std::sync::Arc;

const OPENAPI: &str = include_str!("../openapi.json");

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
}

async fn healthz(State(s): St) -> ApiResult<Json<serde_json::Value>> {
    let mut read = s.store().begin_read().await?;
    let head = read.head().await?;
    Ok(Json(json!({"status": "ok", "audit_head": head})))
}

async fn metrics(State(s): St) -> ApiResult<Response> {
    let text = s.metrics.render(&gauges(&s).await?);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// The gauges computed at scrape time: runs by state, stalled runs, deadlines by status.
async fn gauges(s: &AppState) -> ApiResult<Vec<Gauge<'static>>> {
    let runs = s.runs.list(None).await?;
    let by_state = RunState::ALL
        .iter()
        .map(|st| {
            let n = runs.iter().filter(|r| r.state == *st).count() as u64;
            (format!("{{state=\"{}\"}}", st.as_str()), n)
        })
        .collect();
    let today = Utc::now()
        .with_timezone(&s.runs.settings.timezone)
        .date_naive();
    let deadlines = s.runs.deadlines(today).await?;
    let statuses = [
        "overdue",
        "due_soon",
        "on_track",
        "unknown",
        "published",
        "published_late",
    ]
    .iter()
    .map(|st| {
        let n = deadlines.iter().filter(|d| d.status == *st).count() as u64;
        (format!("{{status=\"{st}\"}}"), n)
    })
    .collect();
    let stalled = runs
        .iter()
        .filter(|r| r.drand.as_ref().is_some_and(|d| d.stalled.is_some()))
        .count() as u64;
    Ok(vec![
        (
            "double_random_runs",
            "Task runs by lifecycle state.",
            by_state,
        ),
        (
            "double_random_runs_stalled",
            "Committed runs whose drand round no relay has served within the configured limit.",
            vec![(String::new(), stalled)],
        ),
        (
            "double_random_publication_deadlines",
            "Runs by publication-deadline status (overdue, due_soon, unknown: no calendar).",
            statuses,
        ),
    ])
}

async fn openapi() -> Response {
    json_text(OPENAPI.to_owned())
}
