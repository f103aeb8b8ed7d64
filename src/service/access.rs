//! The key that signs what is published: Ed25519, made on the first start (with the first
//! admin account, `bootstrap`), its private half only in the store's secret column.

use chrono::{DateTime, Utc};
use std::fmt;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use super::clock::stamped;
use super::documents::{create, draft, named as document, parse};
use super::snapshots::fresh_key;
use super::{Actor, Result};
use crate::core::signature::{self, Signature};
use crate::store::{Doc, DocKind, SecretBytes, Store, StoreError};

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
    /// The stored key, if the first start made one.
    pub async fn load(store: &dyn Store) -> Result<Option<Self>> {
        let Some(d) = store.doc(DocKind::Key, KEY_ID).await? else {
            return Ok(None);
        };
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
        Ok(Some(key))
    }

    /// A new key and the document that stores it (written where none exists yet).
    pub fn fresh(now: DateTime<Utc>) -> Result<(Self, Doc)> {
        let seed = fresh_key()?;
        let key = Self(SigningKey::from_bytes(&seed));
        let info = PublicKeyInfo {
            algorithm: signature::ALGORITHM.into(),
            public_key: key.public_hex(),
            created_at: now,
        };
        let mut doc = document(DocKind::Key, KEY_ID, "", &info);
        doc.secret = Some(SecretBytes(seed.to_vec()));
        Ok((key, doc))
    }

    /// Loads the key, creating it if there is none (one instance wins if several race).
    pub async fn load_or_create(
        store: &dyn Store,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        loop {
            if let Some(key) = Self::load(store).await? {
                return Ok(key);
            }
            let (key, doc) = Self::fresh(now)?;
            let audit = draft(actor, "key", KEY_ID, &[&doc]);
            match store.write_docs(vec![create(doc)], audit).await {
                Ok(_) => return Ok(key),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A C2SP signed note of the checkpoint, by this key under the log's origin, with the
    /// time it is signed (`time`, Unix seconds) in a cosignature line.
    pub fn sign_checkpoint(&self, c: &crate::core::checkpoint::Checkpoint, time: u64) -> String {
        crate::core::checkpoint::sign_timed(c, &self.0, time)
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
