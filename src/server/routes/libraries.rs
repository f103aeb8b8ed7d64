//! The office's libraries: imports of uploaded files and the check-item export.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{St, json_text, temp_file};
use crate::library::Kind;
use crate::server::AppState;
use crate::server::auth::{Auditor, Officer};
use crate::server::error::{ApiError, ApiResult, ErrorCode};
use crate::service::Actor;
use crate::service::imports::{self, ImportOptions};

pub fn routes(upload_limit: usize) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/libraries/{kind}",
            post(import).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/items", get(items))
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
    let (dir, path) = temp_file(&name, &body)?;
    let options = ImportOptions {
        skip_invalid: q.skip_invalid,
        reject_file: Some(dir.path().join("rejects.csv")),
        progress: false,
    };
    let actor = Actor {
        name: who.name,
        reason: q.reason,
    };
    // Name the upload, not the temporary folder it was written to.
    let hide = |m: String| m.replace(&format!("{}/", dir.path().display()), "");
    let mut report = imports::import(s.store(), kind, &path, &options, &actor)
        .await
        .map_err(|e| {
            let mut e = ApiError::from(e);
            e.message = hide(e.message);
            e
        })?;
    report.file = name.into();
    report.reject_file = None;
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

async fn items(State(s): St, _: Auditor) -> ApiResult<Response> {
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let path = dir.path().join("items.json");
    imports::export(
        s.store(),
        Kind::Items,
        None,
        &path,
        crate::table::Format::Json,
    )
    .await?;
    let text = std::fs::read_to_string(&path).map_err(ApiError::internal)?;
    Ok(json_text(text))
}
