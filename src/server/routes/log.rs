//! The transparency log, public: checkpoints, entries, inclusion and consistency proofs.

use crate::core::tlog::{ConsistencyProof, InclusionProof};
use crate::server::openapi::protocol::{ConsistencyProofSchema, InclusionProofSchema};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::St;
use crate::server::AppState;
use crate::server::error::ApiResult;
use crate::server::openapi::{BadRequest, Conflict, Corrupt, NotFound, Storage, Unprocessable};
use crate::service::tlog;

pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(log_checkpoint))
        .routes(routes!(log_entries))
        .routes(routes!(log_inclusion))
        .routes(routes!(log_consistency))
        .routes(routes!(run_log_proof))
}

/// The signed checkpoint of the transparency log
///
/// A C2SP tlog-checkpoint (the origin `[server] log_origin`, the tree size, the base64
/// RFC 6962 root) signed as a C2SP signed note by the publication key (`/api/public/key`).
/// Signed now if the log grew since the last checkpoint, and kept.
#[utoipa::path(get, path = "/api/public/log/checkpoint", tag = "public", security(),
    responses(
        (status = 200, description = "The signed note.", body = String,
            content_type = "text/plain; charset=utf-8"),
        (status = 409, response = Conflict),
        (status = 500, response = Corrupt),
        (status = 503, response = Storage),
    ))]
async fn log_checkpoint(State(s): St) -> ApiResult<Response> {
    let note = s.runs.checkpoint().await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Range {
    /// First index.
    #[serde(default)]
    start: u64,
    /// End index, exclusive (default: the end of the log; at most `start + 1000`).
    end: Option<u64>,
}

/// At most this many entries per answer.
const LOG_PAGE: u64 = 1000;

// Fields in alphabetical order: the key order of the answer before this type existed.
#[derive(Serialize, ToSchema)]
struct Leaf {
    /// The log entry as stored (canonical JSON text).
    entry: String,
    index: u64,
    /// Hex RFC 6962 leaf hash.
    leaf_hash: String,
}

/// Transparency-log leaves
///
/// The leaves with `start ≤ index < end`, in order, at most 1000 per answer; fewer past the
/// end of the log, none when `end ≤ start`. Served as stored, unchecked: recompute each leaf
/// hash from `entry`.
#[utoipa::path(get, path = "/api/public/log/entries", tag = "public", security(),
    params(Range),
    responses(
        (status = 200, description = "The leaves.", body = [Leaf]),
        (status = 400, response = BadRequest),
        (status = 500, response = Corrupt),
        (status = 503, response = Storage),
    ))]
async fn log_entries(State(s): St, Query(r): Query<Range>) -> ApiResult<Json<Vec<Leaf>>> {
    let end = r
        .end
        .unwrap_or(u64::MAX)
        .min(r.start.saturating_add(LOG_PAGE));
    let leaves = tlog::entries(s.store(), r.start, end).await?;
    Ok(Json(
        leaves
            .into_iter()
            .map(|l| Leaf {
                entry: l.entry,
                index: l.index,
                leaf_hash: hex::encode(l.leaf_hash),
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InclusionQuery {
    /// Leaf index (from 0).
    index: u64,
    /// Tree size.
    size: u64,
}

#[derive(Serialize, ToSchema)]
struct Inclusion {
    index: u64,
    /// Hex node hashes, leaf to root.
    proof: Vec<String>,
    size: u64,
}

/// Inclusion proof of a leaf
///
/// The RFC 6962 audit path of leaf `index` in the tree of the first `size` leaves. Every
/// stored leaf is checked against its hash first (500 `corrupt`). 422 `invalid` when `size`
/// is 0 or larger than the log, or `index` is not below it.
#[utoipa::path(get, path = "/api/public/log/inclusion", tag = "public", security(),
    params(InclusionQuery),
    responses(
        (status = 200, description = "The proof.", body = Inclusion),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
        (status = 500, response = Corrupt),
        (status = 503, response = Storage),
    ))]
async fn log_inclusion(
    State(s): St,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<Inclusion>> {
    let proof = s.runs.log().await?.inclusion(q.index, q.size)?;
    Ok(Json(Inclusion {
        index: q.index,
        proof,
        size: q.size,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConsistencyQuery {
    /// The earlier tree size.
    first: u64,
    /// The later tree size.
    second: u64,
}

/// Consistency proof between two tree sizes
///
/// The RFC 6962 proof that the tree of the first `first` leaves is a prefix of the tree of
/// the first `second` leaves. Every stored leaf is checked against its hash first (500
/// `corrupt`).
#[utoipa::path(get, path = "/api/public/log/consistency", tag = "public", security(),
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof.", body = ConsistencyProofSchema),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
        (status = 500, response = Corrupt),
        (status = 503, response = Storage),
    ))]
async fn log_consistency(
    State(s): St,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    Ok(Json(s.runs.log().await?.consistency(q.first, q.second)?))
}

/// A run's log entry with its inclusion proof
///
/// The run's latest log entry with its inclusion proof in the current signed checkpoint
/// (signed now if the log grew), in one answer to save next to the bundle. Check it with
/// `double-random log verify`.
#[utoipa::path(get, path = "/api/public/runs/{id}/log-proof", tag = "public", security(),
    params(("id" = String, Path, description = "Run id.")),
    responses(
        (status = 200, description = "The entry and its proof.", body = InclusionProofSchema),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 500, response = Corrupt),
        (status = 503, response = Storage),
    ))]
async fn run_log_proof(State(s): St, Path(id): Path<String>) -> ApiResult<Json<InclusionProof>> {
    Ok(Json(s.runs.log_proof(&id).await?))
}
