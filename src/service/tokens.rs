//! API tokens: random, shown once, stored only as their SHA-256 (the document id). Each belongs
//! to an account and acts with its role; it expires (90 days by default) and can be revoked.
//! It is listed and revoked by its public id, the first 12 hex digits of that hash, which
//! tells nothing of the token itself.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::accounts::{self, Account, AccountName, Role};
use super::clock::stamped;
use super::documents::{self, Stored};
use super::snapshots::fresh_key;
use super::{Actor, Result, ServiceError};
use crate::store::{Doc, DocKind, DocOp, Store};

/// A stored token: the account it belongs to and its lifetime (the token itself is not stored).
/// Tokens made before accounts existed have no expiry and no longer work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    #[serde(alias = "name")]
    pub account: String,
    #[serde(with = "stamped")]
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(default, with = "stamped::option")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, with = "stamped::option", skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

/// A token as a list shows it: never the token, never its full hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// The public id: what `token revoke` takes.
    pub id: String,
    pub account: String,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    /// `active`, `expired` or `revoked` at the time of the answer.
    pub state: &'static str,
}

/// A bearer token as handed out: shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Who a valid token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account's name, as the audit log records it.
    pub name: String,
    pub role: Role,
}

const TOKEN_PREFIX: &str = "drt_";
const PUBLIC_ID_HEX: usize = 12;
/// The longest lifetime a token may be given, in days.
pub const MAX_DAYS: u32 = 3650;

/// The stored name of a token: hex SHA-256 of the text presented.
fn token_hash(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.as_bytes()))
}

fn info(hash: &str, r: &TokenRecord, now: DateTime<Utc>) -> TokenInfo {
    let stamp = |t: &Option<DateTime<Utc>>| t.map(super::clock::stamp);
    TokenInfo {
        id: hash[..PUBLIC_ID_HEX].into(),
        account: r.account.clone(),
        created_at: super::clock::stamp(r.created_at),
        created_by: r.created_by.clone(),
        expires_at: stamp(&r.expires_at),
        revoked_at: stamp(&r.revoked_at),
        revoked_by: r.revoked_by.clone(),
        state: if r.revoked_at.is_some() {
            "revoked"
        } else if r.expires_at.is_none_or(|e| e <= now) {
            "expired"
        } else {
            "active"
        },
    }
}

/// A fresh token for `account` valid `days` days, and the document that stores it.
fn mint(
    account: &str,
    days: u32,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Token, Doc, TokenInfo)> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ServiceError::Invalid(format!(
            "a token lives 1 to {MAX_DAYS} days, not {days}"
        )));
    }
    let token = Token(format!("{TOKEN_PREFIX}{}", hex::encode(fresh_key()?)));
    let record = TokenRecord {
        account: account.into(),
        created_at: now,
        created_by: actor.name.clone(),
        expires_at: Some(now + Duration::days(i64::from(days))),
        revoked_at: None,
        revoked_by: None,
    };
    let hash = token_hash(token.expose());
    let shown = info(&hash, &record, now);
    Ok((
        token,
        documents::named(DocKind::Token, &hash, account, &record),
        shown,
    ))
}

/// A new token for the enabled account `name`, valid `days` days.
pub async fn issue(
    store: &dyn Store,
    name: &str,
    days: u32,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Token, TokenInfo)> {
    let account: Stored<Account> = accounts::load(store, name).await?;
    if !account.value.enabled() {
        return Err(ServiceError::Invalid(format!(
            "account {} is disabled: it gets no token",
            account.value.name
        )));
    }
    let (token, doc, shown) = mint(&account.value.name, days, actor, now)?;
    let audit = documents::draft(actor, "token.create", &account.value.name, &[&doc]);
    // The account must still be as read: a token is not issued to one disabled meanwhile.
    store
        .write_docs(vec![account.expect(), documents::create(doc)], audit)
        .await?;
    Ok((token, shown))
}

/// A new account `name` with `role` and its first token, in one write: the account's name is
/// the documents' key, so of concurrent calls with one name exactly one wins (409 for the rest).
pub async fn create_with_account(
    store: &dyn Store,
    name: &str,
    role: Role,
    days: u32,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Token, TokenInfo)> {
    let name = AccountName::parse(name)?;
    let (token, shown, docs) = account_and_token(&name, role, days, actor, now)?;
    let refs: Vec<&Doc> = docs.iter().collect();
    let audit = documents::draft(actor, "token.create", name.as_str(), &refs);
    store
        .write_docs(docs.iter().cloned().map(documents::create).collect(), audit)
        .await
        .map_err(accounts::name_taken(&name))?;
    Ok((token, shown))
}

/// The documents of a new account and its first token (for `create_with_account` and the
/// first start's bootstrap).
pub fn account_and_token(
    name: &AccountName,
    role: Role,
    days: u32,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Token, TokenInfo, Vec<Doc>)> {
    let (_, account_doc) = accounts::new_account(name, role, None, actor, now)?;
    let (token, token_doc, shown) = mint(name.as_str(), days, actor, now)?;
    Ok((token, shown, vec![account_doc, token_doc]))
}

/// Every token (of `account`, if given), oldest first.
pub async fn list(
    store: &dyn Store,
    account: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<TokenInfo>> {
    let account = account.map(AccountName::parse).transpose()?;
    let docs = store
        .docs(DocKind::Token, account.as_ref().map(AccountName::as_str))
        .await?;
    let mut out = Vec::with_capacity(docs.len());
    for d in &docs {
        out.push(info(&d.id, &documents::parse(d)?, now));
    }
    out.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(out)
}

/// Revokes the token whose public id is `id` (at once, for good).
pub async fn revoke(
    store: &dyn Store,
    id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<TokenInfo> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() != PUBLIC_ID_HEX || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ServiceError::Invalid(format!(
            "a token's public id is {PUBLIC_ID_HEX} hex digits (as `token list` shows)"
        )));
    }
    let found: Vec<Doc> = store
        .docs(DocKind::Token, None)
        .await?
        .into_iter()
        .filter(|d| d.id.starts_with(&id))
        .collect();
    let [doc] = found.as_slice() else {
        return Err(match found.len() {
            0 => ServiceError::NotFound(format!("no token {id}")),
            _ => ServiceError::Invalid(format!("{id} names several tokens")),
        });
    };
    let mut record: TokenRecord = documents::parse(doc)?;
    if record.revoked_at.is_some() {
        return Err(ServiceError::Invalid(format!("token {id} is revoked already")));
    }
    record.revoked_at = Some(now);
    record.revoked_by = Some(actor.name.clone());
    let new = documents::named(DocKind::Token, &doc.id, &doc.parent, &record);
    let audit = documents::draft(actor, "token.revoke", &record.account, &[&new]);
    let op = DocOp::Put {
        new,
        previous: Some(doc.doc.clone()),
    };
    store.write_docs(vec![op], audit).await?;
    Ok(info(&doc.id, &record, now))
}

/// Who a presented token speaks for: `None` unless it is a token we issued, not revoked, not
/// expired, whose account exists and is enabled. The role is the account's, as it is now.
pub async fn authenticate(
    store: &dyn Store,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Option<Caller>> {
    if !presented.starts_with(TOKEN_PREFIX) || presented.len() != TOKEN_PREFIX.len() + 64 {
        return Ok(None);
    }
    let Some(d) = store.doc(DocKind::Token, &token_hash(presented)).await? else {
        return Ok(None);
    };
    let record: TokenRecord = documents::parse(&d)?;
    if record.revoked_at.is_some() || record.expires_at.is_none_or(|e| e <= now) {
        return Ok(None);
    }
    let Some(account) = documents::get::<Account>(store, &record.account).await? else {
        return Ok(None);
    };
    let enabled = account.value.enabled();
    let caller = Caller {
        name: account.value.name,
        role: account.value.role,
    };
    Ok(enabled.then_some(caller))
}
