//! The audit log (auditors), tokens and calendars (admins).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{St, Why, actor};
use crate::server::AppState;
use crate::server::auth::{Admin, Auditor};
use crate::server::body::Body;
use crate::server::error::{ApiError, ApiResult};
use crate::service::access::{self, Role};
use crate::service::verify;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/audit", get(audit))
        .route("/api/audit/verify", get(audit_verify))
        .route("/api/tokens", post(create_token))
        .route("/api/calendars/{year}", put(set_calendar))
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
    _: Auditor,
) -> ApiResult<Json<serde_json::Value>> {
    let entries = s.store().audit(q.from, q.limit.clamp(1, 1000)).await?;
    Ok(Json(json!(entries)))
}

async fn audit_verify(State(s): St, _: Auditor) -> ApiResult<Json<verify::AuditReport>> {
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
    Admin(who): Admin,
    Body(t): Body<NewToken>,
) -> ApiResult<Response> {
    let token = access::create_token(s.store(), &t.name, t.role, &actor(who, why.reason), false)
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

/// The body is the year's calendar as TOML text.
async fn set_calendar(
    State(s): St,
    Path(year): Path<String>,
    Query(why): Query<Why>,
    Admin(who): Admin,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let year: i32 = year
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{year:?} is not a year")))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the calendar must be UTF-8 TOML"))?;
    let y = s
        .runs
        .set_calendar(text, year, &actor(who, why.reason))
        .await?;
    Ok(Json(json!({"year": y})))
}
