//! Accounts and their API tokens (admins): create, list, disable, reset a password; issue,
//! list and revoke tokens. A token is shown once, in the answer that creates it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{St, Why, actor};
use crate::server::AppState;
use crate::server::auth::Admin;
use crate::server::body::{Body, OptionalBody};
use crate::server::error::ApiResult;
use crate::server::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Storage, Unauthorized,
    Unprocessable,
};
use crate::service::accounts::{self, Account, Password, Role};
use crate::service::tokens::{self, Token, TokenInfo};

pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(create_account, list_accounts))
        .routes(routes!(disable_account))
        .routes(routes!(reset_password))
        .routes(routes!(issue_token))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    /// 1 to 64 characters, normalised (NFKC); no control or invisible characters.
    name: String,
    role: Role,
    /// For the web console: 12 to 1024 characters, kept only as an argon2id hash.
    #[serde(default)]
    password: Option<String>,
}

/// Create an account
///
/// Minimum role: **admin**. 409 `conflict` if the (normalised) name is taken: names identify
/// people.
#[utoipa::path(post, path = "/api/accounts", tag = "admin", security(("bearer" = [])),
    params(Why),
    request_body = NewAccount,
    responses(
        (status = 201, description = "Created.", body = Account),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn create_account(
    State(s): St,
    Query(why): Query<Why>,
    Admin(who): Admin,
    Body(a): Body<NewAccount>,
) -> ApiResult<Response> {
    let password = a.password.map(Password::new).transpose()?;
    let account = accounts::create(
        s.store(),
        &a.name,
        a.role,
        password.as_ref(),
        &actor(who, why.reason),
        s.runs.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

/// List accounts
///
/// Minimum role: **admin**. In name order, disabled ones included; never a password.
#[utoipa::path(get, path = "/api/accounts", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "The accounts.", body = [Account]),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = Storage),
    ))]
async fn list_accounts(State(s): St, _: Admin) -> ApiResult<Json<Vec<Account>>> {
    Ok(Json(accounts::list(s.store()).await?))
}

/// Disable an account
///
/// Minimum role: **admin**. Its tokens stop working at once; the account stays for the
/// record. 422 `invalid` if it is disabled already.
#[utoipa::path(post, path = "/api/accounts/{name}/disable", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Account name."), Why),
    responses(
        (status = 200, description = "Disabled.", body = Account),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn disable_account(
    State(s): St,
    Path(name): Path<String>,
    Query(why): Query<Why>,
    Admin(who): Admin,
) -> ApiResult<Json<Account>> {
    let who = actor(who, why.reason);
    Ok(Json(
        accounts::disable(s.store(), &name, &who, s.runs.now()).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPassword {
    /// 12 to 1024 characters, kept only as an argon2id hash.
    password: String,
}

/// Set an account's password
///
/// Minimum role: **admin**. The old password, if any, stops working.
#[utoipa::path(post, path = "/api/accounts/{name}/password", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Account name."), Why),
    request_body = NewPassword,
    responses(
        (status = 200, description = "Set.", body = Account),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn reset_password(
    State(s): St,
    Path(name): Path<String>,
    Query(why): Query<Why>,
    Admin(who): Admin,
    Body(p): Body<NewPassword>,
) -> ApiResult<Json<Account>> {
    let password = Password::new(p.password)?;
    let who = actor(who, why.reason);
    Ok(Json(
        accounts::reset_password(s.store(), &name, &password, &who, s.runs.now()).await?,
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenLife {
    /// Days the token works (1 to 3650; default `[accounts] token_days`, 90).
    #[serde(default)]
    days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct CreatedToken<'a> {
    /// The account's name.
    name: &'a str,
    role: Role,
    /// Shown once; stored only as its SHA-256.
    token: &'a str,
    /// Its public id, expiry and state.
    info: TokenInfo,
}

fn created(role: Role, token: &Token, info: TokenInfo) -> Response {
    let name = info.account.clone();
    let shown = CreatedToken {
        name: &name,
        role,
        token: token.expose(),
        info,
    };
    (StatusCode::CREATED, Json(shown)).into_response()
}

/// Issue a token for an account
///
/// Minimum role: **admin**. The account must be enabled. The token acts with the account's
/// role as it is when used.
#[utoipa::path(post, path = "/api/accounts/{name}/tokens", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Account name."), Why),
    request_body(content = TokenLife, description = "Optional: an empty body takes the defaults."),
    responses(
        (status = 201, description = "Created; the token is shown once.", body = CreatedToken),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn issue_token(
    State(s): St,
    Path(name): Path<String>,
    Query(why): Query<Why>,
    Admin(who): Admin,
    OptionalBody(life): OptionalBody<TokenLife>,
) -> ApiResult<Response> {
    let days = life.days.unwrap_or(s.config.accounts.token_days);
    let who = actor(who, why.reason);
    let (token, info) = tokens::issue(s.store(), &name, days, &who, s.runs.now()).await?;
    let role = accounts::load(s.store(), &info.account).await?.value.role;
    Ok(created(role, &token, info))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    /// The new account's name (1 to 64 characters, normalised).
    name: String,
    role: Role,
    /// Days the token works (default `[accounts] token_days`, 90).
    #[serde(default)]
    days: Option<u32>,
}

/// Create an account with its first token
///
/// Minimum role: **admin**. A new account `name` with `role` (no password) and a token for
/// it, in one write; 409 `conflict` if the name is taken (issue further tokens with
/// POST /api/accounts/{name}/tokens). The token is shown once and stored only as its SHA-256.
#[utoipa::path(post, path = "/api/tokens", tag = "admin", security(("bearer" = [])),
    params(Why),
    request_body = NewToken,
    responses(
        (status = 201, description = "Created.", body = CreatedToken),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn create_token(
    State(s): St,
    Query(why): Query<Why>,
    Admin(who): Admin,
    Body(t): Body<NewToken>,
) -> ApiResult<Response> {
    let days = t.days.unwrap_or(s.config.accounts.token_days);
    let who = actor(who, why.reason);
    let (token, info) =
        tokens::create_with_account(s.store(), &t.name, t.role, days, &who, s.runs.now()).await?;
    Ok(created(t.role, &token, info))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// Only this account's tokens.
    account: Option<String>,
}

/// List tokens
///
/// Minimum role: **admin**. Public ids, accounts, expiry and state; never a token.
#[utoipa::path(get, path = "/api/tokens", tag = "admin", security(("bearer" = [])),
    params(TokenQuery),
    responses(
        (status = 200, description = "The tokens, oldest first.", body = [TokenInfo]),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn list_tokens(
    State(s): St,
    Query(q): Query<TokenQuery>,
    _: Admin,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(
        tokens::list(s.store(), q.account.as_deref(), s.runs.now()).await?,
    ))
}

/// Revoke a token
///
/// Minimum role: **admin**. By its public id (12 hex digits, as listed); it stops working
/// at once.
#[utoipa::path(post, path = "/api/tokens/{id}/revoke", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The token's public id."), Why),
    responses(
        (status = 200, description = "Revoked.", body = TokenInfo),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Storage),
    ))]
async fn revoke_token(
    State(s): St,
    Path(id): Path<String>,
    Query(why): Query<Why>,
    Admin(who): Admin,
) -> ApiResult<Json<TokenInfo>> {
    let who = actor(who, why.reason);
    Ok(Json(tokens::revoke(s.store(), &id, &who, s.runs.now()).await?))
}
