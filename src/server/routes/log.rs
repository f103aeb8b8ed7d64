//! The transparency log, public: checkpoints, entries, inclusion and consistency proofs.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::St;
use crate::server::AppState;
use crate::server::error::ApiResult;
use crate::service::tlog;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/public/log/checkpoint", get(log_checkpoint))
        .route("/api/public/log/entries", get(log_entries))
        .route("/api/public/log/inclusion", get(log_inclusion))
        .route("/api/public/log/consistency", get(log_consistency))
        .route("/api/public/runs/{id}/log-proof", get(run_log_proof))
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
) -> ApiResult<Json<tlog::ConsistencyProof>> {
    Ok(Json(tlog::consistency(s.store(), q.first, q.second).await?))
}

async fn run_log_proof(
    State(s): St,
    Path(id): Path<String>,
) -> ApiResult<Json<tlog::InclusionProof>> {
    Ok(Json(s.runs.log_proof(&id).await?))
}
