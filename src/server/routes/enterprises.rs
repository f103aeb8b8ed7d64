//! An enterprise's place in the draws: the public check and page (what the published lists
//! say, for anyone), its own proof (for the holder of its access code, sent in a header so
//! that it stays out of URLs and access logs), and the officers' export of the codes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, Why, actor};
use crate::server::AppState;
use crate::server::auth::Officer;
use crate::server::client::ClientAddr;
use crate::server::error::{ApiError, ApiResult};
use crate::server::openapi::{
    BadRequest, Forbidden, NotFound, Storage, TooManyRequests, Unauthorized, Unprocessable,
};
use crate::service::runs::{EnterprisePage, OwnProof, PublicCheck};

/// The header that carries an access code.
const ACCESS_CODE: &str = "x-access-code";

pub fn public_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(public_check))
        .routes(routes!(enterprise_page))
        .routes(routes!(own_proof))
}

pub fn protected_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(access_codes))
}

/// An object in a run's published list
///
/// What the published list says, for anyone: drawn or not, the team, the replacements that
/// concern it (with their reasons), and its result once published. A non-drawn object, an
/// excluded one and one not in the pool get the same answer: tiers are not public. 404 before
/// the draw; 422 for a malformed code; 429 past `[access] lookups_per_minute`.
#[utoipa::path(get, path = "/api/public/runs/{id}/check/{code}", tag = "public", security(),
    params(
        ("id" = String, Path, description = "Run id."),
        ("code" = String, Path, description = "The object id (unified social credit code), as in the library."),
    ),
    responses(
        (status = 200, description = "Its place in the list.", body = PublicCheck),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Storage),
    ))]
async fn public_check(
    State(s): St,
    ClientAddr(client): ClientAddr,
    Path((id, code)): Path<(String, String)>,
) -> ApiResult<Json<PublicCheck>> {
    Ok(Json(s.enterprises.check(&s.runs, client, &id, &code).await?))
}

/// An object in every published list
///
/// The check of every run drawn so far, in run id order.
#[utoipa::path(get, path = "/api/public/enterprises/{code}", tag = "public", security(),
    params(("code" = String, Path, description = "The object id (unified social credit code).")),
    responses(
        (status = 200, description = "Its place in each run.", body = EnterprisePage),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Storage),
    ))]
async fn enterprise_page(
    State(s): St,
    ClientAddr(client): ClientAddr,
    Path(code): Path<String>,
) -> ApiResult<Json<EnterprisePage>> {
    Ok(Json(s.enterprises.page(&s.runs, client, &code).await?))
}

/// An enterprise's own proof
///
/// For the enterprise itself: its proof of where it stood in the draw (drawn, drawn as
/// replacement, not drawn with its stratum and ticket, excluded with the reason, not in the
/// pool) and, once published, its result. Send the access code the office gave it in the
/// `X-Access-Code` header (case, dashes and spaces do not matter). 400 without the header,
/// 403 for a wrong code; wrong codes are limited per client address and per credit code
/// (429 with `Retry-After`, then even the right code waits). Verify the proof offline with
/// `double-random verify proof.json --public public.json`.
#[utoipa::path(get, path = "/api/public/runs/{id}/proof/{code}", tag = "public", security(),
    params(
        ("id" = String, Path, description = "Run id."),
        ("code" = String, Path, description = "The object id (unified social credit code)."),
        ("X-Access-Code" = String, Header, description = "The enterprise's access code, e.g. `7K3Q-…` (20 symbols)."),
    ),
    responses(
        (status = 200, description = "The proof.", body = OwnProof),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Storage),
    ))]
async fn own_proof(
    State(s): St,
    ClientAddr(client): ClientAddr,
    Path((id, code)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<OwnProof>> {
    let access = headers
        .get(ACCESS_CODE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "send the enterprise's access code in the X-Access-Code header (never in the URL)",
            )
        })?;
    let proof = s
        .enterprises
        .proof(&s.runs, client, &id, &code, access)
        .await?;
    Ok(Json(proof))
}

/// Every enterprise's access code, for a mail merge
///
/// Minimum role: **officer**. CSV (UTF-8 with a byte-order mark, for Excel): 统一社会信用代码,
/// 名称, the library's liaison (联络员), phone and address columns where it has them, 访问码; one
/// row per object of the library, in id order. The same code on every export (one per
/// enterprise, for every run). The audit log records who exported them.
#[utoipa::path(get, path = "/api/access-codes", tag = "libraries",
    security(("bearer" = [])),
    params(Why),
    responses(
        (status = 200, description = "The codes (text/csv).", body = String, content_type = "text/csv"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Storage),
    ))]
async fn access_codes(
    State(s): St,
    Query(why): Query<Why>,
    Officer(who): Officer,
) -> ApiResult<Response> {
    let mut csv = Vec::new();
    s.enterprises
        .export(s.store(), &actor(who, why.reason), &mut csv, "access-codes.csv")
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"access-codes.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        csv,
    )
        .into_response())
}
