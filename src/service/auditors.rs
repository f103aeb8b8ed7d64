//! The auditors an admin registered (draw-spec §21): a name and an Ed25519 public key each,
//! revoked but never deleted, public so that anyone can check whose key signed an attestation.
//! The attestations themselves are a run's business (`runs::attest`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::clock::stamped;
use super::documents::{self, Document};
use super::{Actor, Result, ServiceError};
use crate::core::attestation;
use crate::store::{DocKind, Store, StoreError};

/// A registered auditor key (document id: the key, lower-case hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Auditor {
    /// The office, e.g. 区纪委监委 or 公证处 (1 to 200 characters, no control characters).
    pub name: String,
    /// Hex Ed25519 public key.
    pub key: String,
    pub registered_by: String,
    #[serde(with = "stamped")]
    #[schema(value_type = String)]
    pub registered_at: DateTime<Utc>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "stamped::option"
    )]
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

impl Document for Auditor {
    const KIND: DocKind = DocKind::Auditor;
    fn id(&self) -> String {
        self.key.clone()
    }
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(
            "auditor name: 1 to 200 characters, no control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Registers `key` (hex) under `name`. A key registered once (even revoked) is a conflict.
pub async fn register(
    store: &dyn Store,
    name: &str,
    key: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Auditor> {
    let key = attestation::parse_key(key).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let a = Auditor {
        name: check_name(name)?,
        key,
        registered_by: actor.name.clone(),
        registered_at: now,
        revoked_at: None,
        revoked_by: None,
    };
    if documents::get::<Auditor>(store, &a.key).await?.is_some() {
        return Err(StoreError::Conflict(format!("auditor key {} is registered already", a.key)).into());
    }
    let (doc, op) = documents::put(&a, None);
    store
        .write_docs(vec![op], documents::draft(actor, "register_auditor", &a.key, &[&doc]))
        .await?;
    Ok(a)
}

/// Revokes `key`: no further attestation by it is accepted. Revoking twice changes nothing.
pub async fn revoke(
    store: &dyn Store,
    key: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Auditor> {
    let key = attestation::parse_key(key).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let stored = documents::load::<Auditor>(store, &key).await?;
    if stored.value.revoked_at.is_some() {
        return Ok(stored.value);
    }
    let mut a = stored.value.clone();
    a.revoked_at = Some(now);
    a.revoked_by = Some(actor.name.clone());
    let (doc, op) = documents::put(&a, Some(&stored));
    store
        .write_docs(vec![op], documents::draft(actor, "revoke_auditor", &a.key, &[&doc]))
        .await?;
    Ok(a)
}

/// Every registered auditor, revoked ones included, in key order.
pub async fn list(store: &dyn Store) -> Result<Vec<Auditor>> {
    documents::list(store, None).await
}

/// The auditor whose key this is, if registered and not revoked.
pub async fn active(store: &dyn Store, key: &str) -> Result<Option<Auditor>> {
    Ok(documents::get::<Auditor>(store, &key.to_ascii_lowercase())
        .await?
        .map(|s| s.value)
        .filter(|a| a.revoked_at.is_none()))
}
