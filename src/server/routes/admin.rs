//! The audit log (auditors) and calendars (admins); accounts and tokens are `accounts`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, Why, actor};
use crate::server::AppState;
use crate::server::auth::{Admin, Auditor};
use crate::server::error::{ApiError, ApiResult};
use crate::server::openapi::{
    BadRequest, Conflict, Forbidden, PayloadTooLarge, Storage, Unauthorized, Unprocessable,
};
use crate::service::verify;

pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(audit))
        .routes(routes!(audit_verify))
        .routes(routes!(set_calendar))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// The first sequence number.
    #[serde(default)]
    from: i64,
    /// At most this many entries (default 100), clamped to 1…1000.
    #[serde(default = "hundred")]
    limit: i64,
}

fn hundred() -> i64 {
    100
}

/// Audit-log entries
///
/// Minimum role: **auditor**. Entries with `seq >= from`, in order.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries (docs/storage.md: the audit log).", body = [Object]),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Storage),
    ))]
async fn audit(
    State(s): St,
    Query(q): Query<AuditQuery>,
    _: Auditor,
) -> ApiResult<Json<serde_json::Value>> {
    let entries = s.store().audit(q.from, q.limit.clamp(1, 1000)).await?;
    Ok(Json(json!(entries)))
}

/// Verify the audit log
///
/// Minimum role: **auditor**. Checks the hash chain and every stored version and document
/// against the entry that wrote it. Reads the whole log.
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit", security(("bearer" = [])),
    responses(
        (status = 200, description = "The report (200 also when problems are found).", body = verify::AuditReport),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Storage),
    ))]
async fn audit_verify(State(s): St, _: Auditor) -> ApiResult<Json<verify::AuditReport>> {
    Ok(Json(verify::verify(s.store()).await?))
}

#[derive(Serialize, ToSchema)]
struct CalendarSet {
    year: i32,
}

/// Add or replace a year's working-day calendar
///
/// Minimum role: **admin**. The body is a calendar TOML file as in config/calendars/ (year,
/// holidays, workdays); its `year` must equal the path's. Stored calendars take precedence
/// over the shipped ones.
#[utoipa::path(put, path = "/api/calendars/{year}", tag = "admin", security(("bearer" = [])),
    params(("year" = i32, Path, description = "Must equal the file's `year`."), Why),
    request_body(content = String, content_type = "text/toml",
        description = "A calendar TOML file (UTF-8). The Content-Type header is not checked."),
    responses(
        (status = 200, description = "Stored.", body = CalendarSet),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn set_calendar(
    State(s): St,
    Path(year): Path<String>,
    Query(why): Query<Why>,
    Admin(who): Admin,
    body: Bytes,
) -> ApiResult<Json<CalendarSet>> {
    let year: i32 = year
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{year:?} is not a year")))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the calendar must be UTF-8 TOML"))?;
    let y = s
        .runs
        .set_calendar(text, year, &actor(who, why.reason))
        .await?;
    Ok(Json(CalendarSet { year: y }))
}
