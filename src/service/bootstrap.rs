//! The first start: the publication key, the first admin account with its token and, for a
//! demo on a database without plans, the demo marker, written in one transaction. Of several
//! instances starting at once on an empty database exactly one writes it and gets the admin
//! token to print; the others find it written and go on. The demo data itself is loaded by
//! resumable steps after it (imports and plans are their own transactions); the marker says
//! `pending` until they are all done, so a start that died half-way is finished by the next.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access::PublicationKey;
use super::accounts::{AccountName, Role};
use super::clock::stamped;
use super::documents::{self, Document};
use super::tokens::{self, Token};
use super::{Actor, Result};
use crate::store::{Doc, DocKind, Store, StoreError};

/// The first admin account's name.
pub const ADMIN: &str = "admin";

/// Whether the demo data set is still to be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoState {
    Pending,
    Loaded,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct DemoMarker {
    state: DemoState,
    #[serde(with = "stamped")]
    at: DateTime<Utc>,
}

impl Document for DemoMarker {
    const KIND: DocKind = DocKind::Key;
    fn id(&self) -> String {
        "demo".into()
    }
}

/// What the first start left: the key, the admin token if this instance made it (print it
/// now: it is shown once), and the demo's state if one was asked for.
#[derive(Debug)]
pub struct FirstStart {
    pub key: PublicationKey,
    pub admin_token: Option<Token>,
    pub demo: Option<DemoState>,
}

/// Writes what is missing of the first start, in one transaction; `demo`: mark the demo data
/// as pending on a database without plans. A conflict means another instance wrote it first:
/// read again.
pub async fn first_start(
    store: &dyn Store,
    demo: bool,
    token_days: u32,
    now: DateTime<Utc>,
) -> Result<FirstStart> {
    let system = Actor {
        name: "double-random".into(),
        reason: "first start".into(),
    };
    loop {
        let mut docs: Vec<Doc> = Vec::new();
        let key = match PublicationKey::load(store).await? {
            Some(k) => k,
            None => {
                let (k, doc) = PublicationKey::fresh(now)?;
                docs.push(doc);
                k
            }
        };
        let mut admin_token = None;
        if store.doc(DocKind::Account, ADMIN).await?.is_none() {
            let name = AccountName::parse(ADMIN)?;
            let (token, _, written) =
                tokens::account_and_token(&name, Role::Admin, token_days, &system, now)?;
            docs.extend(written);
            admin_token = Some(token);
        }
        let mut state = documents::get::<DemoMarker>(store, "demo")
            .await?
            .map(|m| m.value.state);
        if demo && state.is_none() && store.docs(DocKind::Plan, None).await?.is_empty() {
            docs.push(documents::to_doc(&DemoMarker {
                state: DemoState::Pending,
                at: now,
            }));
            state = Some(DemoState::Pending);
        }
        let done = |admin_token| FirstStart {
            key: key.clone(),
            admin_token,
            demo: state.filter(|_| demo),
        };
        if docs.is_empty() {
            return Ok(done(None));
        }
        let refs: Vec<&Doc> = docs.iter().collect();
        let audit = documents::draft(&system, "bootstrap", "first start", &refs);
        let ops = docs.iter().cloned().map(documents::create).collect();
        match store.write_docs(ops, audit).await {
            Ok(_) => return Ok(done(admin_token)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Marks the demo data loaded (once; another instance may have done it first).
pub async fn demo_loaded(store: &dyn Store, actor: &Actor, now: DateTime<Utc>) -> Result<()> {
    let Some(stored) = documents::get::<DemoMarker>(store, "demo").await? else {
        return Ok(());
    };
    if stored.value.state == DemoState::Loaded {
        return Ok(());
    }
    let (doc, op) = stored.replace_with(&DemoMarker {
        state: DemoState::Loaded,
        at: now,
    });
    let audit = documents::draft(actor, "demo.loaded", "demo", &[&doc]);
    match store.write_docs(vec![op], audit).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
