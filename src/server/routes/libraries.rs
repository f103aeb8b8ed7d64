//! The office's libraries: imports of uploaded files and the check-item export.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{St, json_text};
use crate::library::Kind;
use crate::server::AppState;
use crate::server::auth::{Auditor, Officer};
use crate::server::error::{ApiError, ApiResult, ErrorCode};
use crate::server::openapi::{
    BadRequest, Forbidden, Internal, PayloadTooLarge, Storage, Unauthorized, Unprocessable,
};
use crate::service::Actor;
use crate::service::imports::{self, ImportOptions};

pub fn routes(upload_limit: usize) -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(import).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(items))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// Why the change is made; recorded in the audit log.
    #[serde(default)]
    reason: String,
    /// Import the good rows and list the bad ones in `bad`.
    #[serde(default)]
    skip_invalid: bool,
    /// Names the upload in the report and errors (default `<kind>`, or `<kind>.xlsx` for an
    /// Excel Content-Type); its extension selects the reader (`.xlsx`: Excel, else CSV).
    #[serde(default)]
    filename: Option<String>,
}

/// Import a library file
///
/// Minimum role: **officer**. Imports a CSV or Excel (.xlsx) file in one transaction, English
/// or Chinese headers. Without `filename`, the upload is read as .xlsx when the Content-Type
/// contains `spreadsheetml`, else as CSV. 422 `bad_rows` (with the report) when rows are bad
/// and `skip_invalid` is not set: nothing is imported.
#[utoipa::path(post, path = "/api/libraries/{kind}", tag = "libraries",
    security(("bearer" = [])),
    params(
        ("kind" = String, Path, description = "objects, inspectors, penalties, inspections or items."),
        ImportQuery,
    ),
    request_body(content = String, content_type = "text/csv",
        description = "The file: CSV, or .xlsx (the Content-Type header only selects the reader)."),
    responses(
        (status = 200, description = "Imported (possibly changing nothing); the import report.", body = Object),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such library kind.", body = crate::server::error::ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn import(
    State(s): St,
    Path(kind): Path<String>,
    Query(q): Query<ImportQuery>,
    Officer(who): Officer,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let kind = Kind::parse(&kind).ok_or_else(|| {
        ApiError::not_found(format!(
            "no library {kind:?} (objects, inspectors, penalties, inspections, items)"
        ))
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
        limits: s.config.import,
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
        body = json!({"error": {"code": ErrorCode::BadRows, "message": format!("{} bad row(s): nothing was imported", report.bad.len())}, "report": body});
    }
    Ok((status, Json(body)).into_response())
}

/// The check-item list
///
/// Minimum role: **auditor**. Current check items (the `items` library), sorted by code, with
/// the columns `import` reads.
#[utoipa::path(get, path = "/api/items", tag = "libraries", security(("bearer" = [])),
    responses(
        (status = 200, description = "The items.", body = [Object]),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
        (status = 503, response = Storage),
    ))]
async fn items(State(s): St, _: Auditor) -> ApiResult<Response> {
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
