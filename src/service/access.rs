//! Who may do what, and the key that signs what is published. Tokens are random, shown once,
//! and stored only as SHA-256; the publication key's private half never leaves the store.

use chrono::{DateTime, Utc};
use std::fmt;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clock::stamped;
use super::documents::{draft, named as document, parse};
use super::snapshots::fresh_key;
use super::{Actor, Result, ServiceError};
use crate::core::signature::{self, Signature};
use crate::store::{Doc, DocKind, DocOp, SecretBytes, Store, StoreError};

/// Roles, weakest first: an auditor reads everything and changes nothing; an officer also
/// changes; an admin also manages tokens and calendars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Auditor,
    Officer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Officer => "officer",
            Role::Admin => "admin",
        }
    }
}

/// A stored token: its holder and role (the token itself is not stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    #[serde(with = "stamped")]
    pub created_at: DateTime<Utc>,
    pub created_by: String,
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

const TOKEN_PREFIX: &str = "drt_";

/// The stored name of a token: hex SHA-256 of the text presented.
pub fn token_id(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.as_bytes()))
}

fn name_ok(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= 64 && !name.chars().any(char::is_control)
}

/// Creates a token for `name` with `role`. `only_if_first`: the bootstrap admin token, created
/// by exactly one instance however many start at once (`None` if one already exists).
pub async fn create_token(
    store: &dyn Store,
    name: &str,
    role: Role,
    actor: &Actor,
    only_if_first: bool,
    now: DateTime<Utc>,
) -> Result<Option<Token>> {
    if !name_ok(name) {
        return Err(ServiceError::Invalid(
            "token name must be 1 to 64 characters without control characters".into(),
        ));
    }
    // Names identify people in the audit log and count witnesses: one token per name.
    for d in store.docs(DocKind::Token, None).await? {
        if parse::<TokenRecord>(&d)?.name == name && !only_if_first {
            return Err(ServiceError::Invalid(format!(
                "a token named {name:?} exists already: names identify people"
            )));
        }
    }
    let token = Token(format!("{TOKEN_PREFIX}{}", hex::encode(fresh_key()?)));
    let record = TokenRecord {
        name: name.into(),
        role,
        created_at: now,
        created_by: actor.name.clone(),
    };
    let doc = document(DocKind::Token, &token_id(token.expose()), "", &record);
    let mut ops = vec![DocOp::Put {
        new: doc.clone(),
        previous: None,
    }];
    let mut docs = vec![doc];
    if only_if_first {
        let marker = document(DocKind::Key, "bootstrap-admin", "", &record);
        ops.push(DocOp::Put {
            new: marker.clone(),
            previous: None,
        });
        docs.push(marker);
    }
    let refs: Vec<&Doc> = docs.iter().collect();
    match store
        .write_docs(ops, draft(actor, "token", name, &refs))
        .await
    {
        Ok(_) => Ok(Some(token)),
        Err(StoreError::Conflict(_)) if only_if_first => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The holder of a presented token, if it is one.
pub async fn authenticate(store: &dyn Store, presented: &str) -> Result<Option<TokenRecord>> {
    if !presented.starts_with(TOKEN_PREFIX) || presented.len() != TOKEN_PREFIX.len() + 64 {
        return Ok(None);
    }
    match store.doc(DocKind::Token, &token_id(presented)).await? {
        Some(d) => Ok(Some(parse(&d)?)),
        None => Ok(None),
    }
}

/// The Ed25519 key that signs bundles. `Debug` shows only the public half.
#[derive(Clone)]
pub struct PublicationKey(SigningKey);

impl fmt::Debug for PublicationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicationKey(public {})", self.public_hex())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    pub algorithm: String,
    pub public_key: String,
    #[serde(with = "stamped")]
    pub created_at: DateTime<Utc>,
}

const KEY_ID: &str = "publication";

impl PublicationKey {
    /// Loads the key, creating it on first start (one instance wins if several race).
    pub async fn load_or_create(
        store: &dyn Store,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        loop {
            if let Some(d) = store.doc(DocKind::Key, KEY_ID).await? {
                let seed = d
                    .secret
                    .as_ref()
                    .and_then(|s| <[u8; 32]>::try_from(s.0.as_slice()).ok())
                    .ok_or_else(|| StoreError::Corrupt("publication key: bad seed".into()))?;
                let key = Self(SigningKey::from_bytes(&seed));
                let info: PublicKeyInfo = parse(&d)?;
                if info.public_key != key.public_hex() {
                    return Err(StoreError::Corrupt(
                        "publication key: the public key does not match the private key".into(),
                    )
                    .into());
                }
                return Ok(key);
            }
            let seed = fresh_key()?;
            let key = Self(SigningKey::from_bytes(&seed));
            let info = PublicKeyInfo {
                algorithm: signature::ALGORITHM.into(),
                public_key: key.public_hex(),
                created_at: now,
            };
            let mut doc = document(DocKind::Key, KEY_ID, "", &info);
            doc.secret = Some(SecretBytes(seed.to_vec()));
            let audit = draft(actor, "key", KEY_ID, &[&doc]);
            match store
                .write_docs(
                    vec![DocOp::Put {
                        new: doc,
                        previous: None,
                    }],
                    audit,
                )
                .await
            {
                Ok(_) => return Ok(key),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A C2SP signed note of the checkpoint, by this key under the log's origin.
    pub fn sign_checkpoint(&self, c: &crate::core::checkpoint::Checkpoint) -> String {
        crate::core::checkpoint::sign(c, &self.0)
    }

    pub fn public_hex(&self) -> String {
        signature::public_hex(&self.0)
    }

    pub fn sign(&self, message: String) -> Signature {
        signature::sign(&self.0, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_signs_and_its_debug_shows_only_the_public_half() {
        let key = PublicationKey(SigningKey::from_bytes(&[7; 32]));
        let s = key.sign("double-random bundle\nrun: t\n".into());
        assert_eq!(
            signature::check_signature(&s, Some(&key.public_hex())),
            Ok(())
        );
        assert!(!format!("{key:?}").contains(&hex::encode([7u8; 32])));
    }
}
