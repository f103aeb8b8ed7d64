//! Typed documents over the store's JSON documents. Every kind the services keep (plans, tasks,
//! amendments, snapshots, runs, tokens, keys, calendars) implements `Document`, so reading one
//! is `load::<Run>(store, id)` and writing one is a compare-and-set `put(new, previous)`; the
//! JSON text never leaves this file.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Actor, Result, ServiceError};
use crate::store::audit::doc_hash;
use crate::store::{AuditDraft, Doc, DocKind, DocOp, SecretBytes, Store, StoreError};

/// A value stored as a document of one kind.
pub trait Document: Serialize + DeserializeOwned {
    const KIND: DocKind;
    fn id(&self) -> String;
    /// The plan of a task or amendment, the task of a snapshot or run; empty for top-level kinds.
    fn parent(&self) -> String {
        String::new()
    }
}

/// A document as read: its value and the stored form a later compare-and-set must still find.
#[derive(Debug)]
pub struct Stored<T> {
    pub value: T,
    pub doc: Doc,
}

impl<T: Document> Stored<T> {
    /// Replaces this document with `new` if nobody changed it since it was read; the secret
    /// column is carried over.
    pub fn replace_with(&self, new: &T) -> (Doc, DocOp) {
        let mut doc = to_doc(new);
        doc.secret = self.doc.secret.clone();
        let op = DocOp::Put {
            new: doc.clone(),
            previous: Some(self.doc.doc.clone()),
        };
        (doc, op)
    }

    /// The compare of a compare-and-set without a write: the document must still be this one.
    pub fn expect(&self) -> DocOp {
        DocOp::Expect {
            kind: T::KIND,
            id: self.doc.id.clone(),
            doc: self.doc.doc.clone(),
        }
    }
}

/// The stored form of `value` (no secret).
pub fn to_doc<T: Document>(value: &T) -> Doc {
    named(T::KIND, &value.id(), &value.parent(), value)
}

/// The stored form of `value` with a secret column (a salt key, a draw secret, a signing key).
pub fn to_secret_doc<T: Document>(value: &T, secret: Vec<u8>) -> Doc {
    Doc {
        secret: Some(SecretBytes(secret)),
        ..to_doc(value)
    }
}

/// Writes `new` over `previous` (as read), or where nothing of its kind and id exists yet;
/// returns the document written, for the audit entry, and the operation.
pub fn put<T: Document>(new: &T, previous: Option<&Stored<T>>) -> (Doc, DocOp) {
    match previous {
        Some(p) => p.replace_with(new),
        None => {
            let doc = to_doc(new);
            (doc.clone(), create(doc))
        }
    }
}

/// Writes `new` where nothing of its kind and id exists yet.
pub fn create(new: Doc) -> DocOp {
    DocOp::Put {
        new,
        previous: None,
    }
}

/// A document named apart from its content (a token by its hash, the key's marker) under
/// `kind`, `id` and `parent`.
pub fn named<T: Serialize>(kind: DocKind, id: &str, parent: &str, value: &T) -> Doc {
    Doc {
        kind,
        id: id.into(),
        parent: parent.into(),
        doc: serde_json::to_string(value).expect("documents serialise"),
        secret: None,
    }
}

pub fn parse<T: DeserializeOwned>(d: &Doc) -> Result<T> {
    serde_json::from_str(&d.doc)
        .map_err(|e| StoreError::Corrupt(format!("{} {}: {e}", d.kind.as_str(), d.id)).into())
}

/// The document of kind `T` named `id`, if any.
pub async fn get<T: Document>(store: &dyn Store, id: &str) -> Result<Option<Stored<T>>> {
    match store.doc(T::KIND, id).await? {
        None => Ok(None),
        Some(doc) => Ok(Some(Stored {
            value: parse(&doc)?,
            doc,
        })),
    }
}

/// The document of kind `T` named `id`; "no {kind} {id}" when there is none.
pub async fn load<T: Document>(store: &dyn Store, id: &str) -> Result<Stored<T>> {
    get(store, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no {} {id:?}", T::KIND.as_str())))
}

/// Every document of kind `T` (of `parent`, if given), in id order.
pub async fn list<T: Document>(store: &dyn Store, parent: Option<&str>) -> Result<Vec<T>> {
    store
        .docs(T::KIND, parent)
        .await?
        .iter()
        .map(parse)
        .collect()
}

/// The audit entry of a document write: who, what, and the hash of every document written.
pub fn draft(actor: &Actor, action: &str, subject: &str, docs: &[&Doc]) -> AuditDraft {
    AuditDraft {
        actor: actor.name.clone(),
        action: action.into(),
        subject: subject.into(),
        reason: actor.reason.clone(),
        detail: serde_json::json!({
            "documents": docs.iter().map(|d| entry(d)).collect::<Vec<_>>(),
        }),
    }
}

/// A document's line in an audit entry's `documents` list.
pub fn entry(d: &Doc) -> serde_json::Value {
    serde_json::json!({
        "kind": d.kind.as_str(),
        "id": d.id,
        "hash": doc_hash(&d.doc, d.secret.as_ref().map(|s| s.0.as_slice())),
    })
}
