//! The draw lifecycle as officers drive it: trigger, entropy, replacements, results,
//! publication; a run and its full bundle as auditors read them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{St, Why, actor, json_text};
use crate::core::draw::ReplacementRequest;
use crate::server::AppState;
use crate::server::auth::{Auditor, Officer};
use crate::server::body::{Body, OptionalBody};
use crate::server::error::{ApiError, ApiResult, ErrorCode};
use crate::service::runs::{DrawSettings, ResultInput, Run, WitnessSource};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/tasks/{id}/draw", post(trigger))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/entropy", post(entropy))
        .route("/api/runs/{id}/replacements", post(replace))
        .route("/api/runs/{id}/results", post(results))
        .route("/api/runs/{id}/publish", post(publish))
        .route("/api/runs/{id}/full-bundle", get(full_bundle))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    /// The public event whose values will be the entropy (default: the configured one).
    witness_event: Option<String>,
    witnesses: Option<u8>,
}

/// Naming either witness field asks for witness entropy; the other comes from the config.
/// Neither leaves the choice to the configured `[draw] entropy`.
fn witness_source(t: TriggerBody, settings: &DrawSettings) -> Option<WitnessSource> {
    (t.witness_event.is_some() || t.witnesses.is_some()).then(|| WitnessSource {
        event: t
            .witness_event
            .unwrap_or_else(|| settings.witness_event.clone()),
        witnesses: t.witnesses.unwrap_or(settings.witnesses),
    })
}

async fn trigger(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
    OptionalBody(t): OptionalBody<TriggerBody>,
) -> ApiResult<Response> {
    let witness = witness_source(t, &s.runs.settings);
    let (run, created) = s
        .runs
        .trigger(&id, None, witness, &actor(who, why.reason))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run.officer_view())).into_response())
}

async fn run(State(s): St, Path(id): Path<String>, _: Auditor) -> ApiResult<Json<Run>> {
    Ok(Json(s.runs.get(&id).await?.officer_view()))
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
    Officer(who): Officer,
    Body(e): Body<EntropyBody>,
) -> ApiResult<Json<Run>> {
    Ok(Json(
        s.runs
            .enter_entropy(&id, &e.values, &actor(who, why.reason))
            .await?
            .officer_view(),
    ))
}

/// Every replacement names its reason, which becomes the audit entry's.
fn replacement_reason(r: &ReplacementRequest) -> ApiResult<String> {
    let reason = match r {
        ReplacementRequest::Object { reason, .. }
        | ReplacementRequest::Inspector { reason, .. } => reason,
    };
    if reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Invalid,
            "a replacement needs a reason",
        ));
    }
    Ok(reason.clone())
}

async fn replace(
    State(s): St,
    Path(id): Path<String>,
    Officer(who): Officer,
    Body(r): Body<ReplacementRequest>,
) -> ApiResult<Json<Run>> {
    let reason = replacement_reason(&r)?;
    Ok(Json(
        s.runs
            .replace(&id, r, &actor(who, reason))
            .await?
            .officer_view(),
    ))
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
    Officer(who): Officer,
    Body(r): Body<ResultsBody>,
) -> ApiResult<Json<Run>> {
    Ok(Json(
        s.runs
            .record_results(&id, r.results, &actor(who, why.reason))
            .await?
            .officer_view(),
    ))
}

async fn publish(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Officer(who): Officer,
) -> ApiResult<Json<Run>> {
    Ok(Json(
        s.runs
            .publish(&id, &actor(who, why.reason))
            .await?
            .officer_view(),
    ))
}

async fn full_bundle(State(s): St, Path(id): Path<String>, _: Auditor) -> ApiResult<Response> {
    Ok(json_text(s.runs.full_bundle(&id).await?))
}
