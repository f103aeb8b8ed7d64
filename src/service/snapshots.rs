//! Freezing a task's pool: everything as of one audit position, read in one consistent
//! transaction, turned into the engine's snapshot and committed to; stored by its roots.
//! Library history is never deleted, so any stored snapshot can be rebuilt and checked.

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::clock::stamped;
use super::documents::{self, Document};
use super::plans::{load_plan, load_task};
use super::{Actor, Result, ServiceError};
use crate::core::encode::Hash;
use crate::core::model::{Object, Snapshot};
use crate::core::policy::Policy;
use crate::core::Protocol;
use crate::core::pool::CommittedPool;
use crate::library::Kind;
use crate::library::plan::{PlanState, china_time};
use crate::library::pool::{
    InspectionFacts, ObjectFacts, PenaltyFacts, PoolBuilder, PoolRoots, TierSource,
};
use crate::store::{AuditDraft, Doc, DocKind, ReadTx, Seq, Store, StoreError};

/// A stored snapshot (without its salt key, which is kept apart and never shown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Hex SHA-256 over the roots: the snapshot's name.
    pub address: String,
    pub task_id: String,
    /// The audit position the pool was read at, and that entry's time.
    pub as_of_seq: Seq,
    pub as_of: String,
    pub draw_date: NaiveDate,
    pub tier_source: TierSource,
    /// The task's policy with this draw date, as TOML.
    pub policy_toml: String,
    pub roots: PoolRoots,
    pub objects: u64,
    pub inspectors: u64,
    #[serde(with = "stamped")]
    pub created_at: DateTime<Utc>,
}

impl Document for SnapshotInfo {
    const KIND: DocKind = DocKind::Snapshot;
    fn id(&self) -> String {
        self.address.clone()
    }
    fn parent(&self) -> String {
        self.task_id.clone()
    }
}

fn corrupt(kind: Kind, data: &str, e: impl std::fmt::Display) -> ServiceError {
    StoreError::Corrupt(format!("{} {data:.60}: {e}", kind.as_str())).into()
}

/// Converts every record of `kind` valid at `at` with `convert` (from its stored JSON), a batch
/// at a time on all cores, handing the results to `each`. The next batch is fetched while one
/// is being converted.
async fn for_each<T: Send + 'static>(
    read: &mut dyn ReadTx,
    kind: Kind,
    at: Seq,
    convert: impl Fn(&str) -> Result<Option<T>> + Send + Sync + Clone + 'static,
    mut each: impl FnMut(Vec<T>),
) -> Result<()> {
    let mut batches = read.scan(kind, at);
    let mut parsing: Option<tokio::task::JoinHandle<Result<Vec<T>>>> = None;
    loop {
        let next = batches.try_next().await?;
        if let Some(p) = parsing.take() {
            each(
                p.await
                    .map_err(|e| ServiceError::Invalid(format!("parsing: {e}")))??,
            );
        }
        let Some(batch) = next else { return Ok(()) };
        let convert = convert.clone();
        parsing = Some(tokio::task::spawn_blocking(move || {
            batch
                .par_split('\n')
                .map(convert)
                .filter_map(Result::transpose)
                .collect()
        }));
    }
}

fn parse<'a, T: serde::Deserialize<'a>>(kind: Kind, data: &'a str) -> Result<T> {
    serde_json::from_str(data).map_err(|e| corrupt(kind, data, e))
}

/// Builds the engine's snapshot of everything valid at `at`.
#[tracing::instrument(name = "build_pool", skip_all, fields(at))]
pub async fn build_pool(
    read: &mut dyn ReadTx,
    at: Seq,
    draw_date: NaiveDate,
    source: TierSource,
) -> Result<Snapshot> {
    let mut builder = PoolBuilder::new(draw_date, source);
    async {
        let mut credit = Vec::new();
        let facts = |d: &str| parse::<PenaltyFacts>(Kind::Penalties, d).map(Some);
        for_each(read, Kind::Penalties, at, facts, |b| credit.extend(b)).await?;
        builder.add_penalties(credit);
        let mut inspections = Vec::new();
        let facts = |d: &str| parse::<InspectionFacts>(Kind::Inspections, d).map(Some);
        for_each(read, Kind::Inspections, at, facts, |b| {
            inspections.extend(b)
        })
        .await?;
        builder.add_inspections(inspections);
        Ok::<_, ServiceError>(())
    }
    .instrument(tracing::info_span!("credit and inspections"))
    .await?;
    let builder = std::sync::Arc::new(builder);
    let (objects, inspectors) = async {
        let mut inspectors = Vec::new();
        let b = builder.clone();
        let convert = move |d: &str| Ok(b.inspector(parse(Kind::Inspectors, d)?));
        for_each(read, Kind::Inspectors, at, convert, |b| {
            inspectors.extend(b)
        })
        .await?;
        // Room for every object at once: growing a vector of ten million records copies them.
        let mut objects: Vec<Object> =
            Vec::with_capacity(read.count(Kind::Objects, at).await? as usize);
        let b = builder.clone();
        let convert = move |d: &str| Ok(Some(b.object(parse::<ObjectFacts>(Kind::Objects, d)?)?));
        for_each(read, Kind::Objects, at, convert, |b| objects.extend(b)).await?;
        Ok::<_, ServiceError>((objects, inspectors))
    }
    .instrument(tracing::info_span!("objects and inspectors"))
    .await?;
    let _phase = tracing::info_span!("canonical order", objects = objects.len()).entered();
    Ok(tokio::task::block_in_place(|| {
        Snapshot::new(objects, inspectors)
    })?)
}

/// Freezes `task_id`'s pool as of `now` (or `as_of`, RFC 3339) for a draw on `draw_date`
/// (default: `now`'s day, China time).
pub async fn take(
    store: &dyn Store,
    task_id: &str,
    as_of: Option<&str>,
    draw_date: Option<NaiveDate>,
    source: TierSource,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<SnapshotInfo> {
    let draw_date = draw_date.unwrap_or_else(|| now.with_timezone(&china_time()).date_naive());
    let salt = fresh_key()?;
    let frozen = freeze_task(store, task_id, as_of, draw_date, source, &salt, now).await?;
    let info = frozen.info;
    let doc = document(&info, &salt);
    let audit = AuditDraft {
        actor: actor.name.clone(),
        action: "snapshot".into(),
        subject: task_id.into(),
        reason: actor.reason.clone(),
        detail: serde_json::json!({
            "address": info.address,
            "as_of_seq": info.as_of_seq,
            "documents": [documents::entry(&doc)],
        }),
    };
    store
        .write_docs(vec![documents::create(doc)], audit)
        .await?;
    Ok(info)
}

/// 32 bytes from the OS: a salt key or a draw secret.
pub fn fresh_key() -> Result<Hash> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| ServiceError::Invalid(format!("OS randomness: {e}")))?;
    Ok(key)
}

/// A frozen pool: its stored description, the engine's snapshot and the committed pool.
pub struct Frozen {
    pub info: SnapshotInfo,
    pub policy: Policy,
    pub snapshot: Snapshot,
    pub pool: CommittedPool,
}

/// Freezes an approved plan's task as of `now` (or `as_of`) under the salt key `salt`.
pub async fn freeze_task(
    store: &dyn Store,
    task_id: &str,
    as_of: Option<&str>,
    draw_date: NaiveDate,
    source: TierSource,
    salt: &Hash,
    now: DateTime<Utc>,
) -> Result<Frozen> {
    let task = load_task(store, task_id).await?;
    let plan = load_plan(store, &task.plan_id).await?.value;
    if plan.state != PlanState::Approved {
        return Err(ServiceError::Invalid(format!(
            "plan {} is {}: only an approved plan's tasks are drawn",
            plan.id,
            plan.state.as_str()
        )));
    }
    policy_for(&task.policy_toml, draw_date)?;
    // Asked before the read begins: no request waits for a connection while holding one.
    let bound = match as_of {
        None => None,
        Some(t) => Some(store.seq_at(t).await?),
    };
    let mut read = store.begin_read().await?;
    let head = read.head().await?;
    let at = bound.map_or(head, |b| b.min(head));
    let pool = Pool {
        task_id,
        at,
        draw_date,
        source,
        policy_toml: &task.policy_toml,
    };
    let mut frozen = freeze(&mut *read, pool, salt, now).await?;
    drop(read);
    frozen.info.as_of = audit_time(store, at).await?;
    Ok(frozen)
}

/// The stored form of a snapshot: its description, with the salt key kept apart.
pub fn document(info: &SnapshotInfo, salt: &Hash) -> Doc {
    documents::to_secret_doc(info, salt.to_vec())
}

/// Which pool to freeze: a task's, as of an audit position, for a draw date.
struct Pool<'a> {
    task_id: &'a str,
    at: Seq,
    draw_date: NaiveDate,
    source: TierSource,
    policy_toml: &'a str,
}

/// The time of audit position `at` (empty for the empty library).
async fn audit_time(store: &dyn Store, at: Seq) -> Result<String> {
    Ok(match at {
        0 => String::new(),
        _ => store
            .audit(at, 1)
            .await?
            .first()
            .map(|e| e.at.clone())
            .unwrap_or_default(),
    })
}

/// Builds the pool from `read`; `as_of` is left for the caller to fill in once the read is
/// closed.
async fn freeze(
    read: &mut dyn ReadTx,
    pool: Pool<'_>,
    salt: &Hash,
    now: DateTime<Utc>,
) -> Result<Frozen> {
    let Pool {
        task_id,
        at,
        draw_date,
        source,
        policy_toml,
    } = pool;
    let policy = policy_for(policy_toml, draw_date)?;
    let snapshot = build_pool(read, at, draw_date, source).await?;
    let pool = tokio::task::block_in_place(|| {
        let _span = tracing::info_span!("commit").entered();
        CommittedPool::build(&snapshot, &policy, salt, Protocol::CURRENT)
    })?;
    let roots = PoolRoots::of(&pool, &policy);
    let info = SnapshotInfo {
        address: hex::encode(roots.address()),
        task_id: task_id.into(),
        as_of_seq: at,
        as_of: String::new(),
        draw_date,
        tier_source: source,
        policy_toml: policy_toml.into(),
        objects: snapshot.objects().len() as u64,
        inspectors: snapshot.inspectors().len() as u64,
        roots,
        created_at: now,
    };
    Ok(Frozen {
        info,
        policy,
        snapshot,
        pool,
    })
}

/// A task's policy (TOML without `draw_date`) for a draw on `draw_date`.
pub fn policy_for(policy_toml: &str, draw_date: NaiveDate) -> Result<Policy> {
    let mut table: toml::Table = toml::from_str(policy_toml)
        .map_err(|e| StoreError::Corrupt(format!("stored policy: {e}")))?;
    table.insert(
        "draw_date".into(),
        toml::Value::String(draw_date.to_string()),
    );
    Ok(Policy::from_toml(
        &toml::to_string(&table).expect("a table serialises"),
    )?)
}

/// Looks a snapshot up by its address (or a unique prefix of at least 8 hex digits).
pub async fn find(store: &dyn Store, address: &str) -> Result<(SnapshotInfo, Hash)> {
    let docs = match store.doc(DocKind::Snapshot, address).await? {
        Some(d) => vec![d],
        None => store.docs(DocKind::Snapshot, None).await?,
    };
    let mut found = docs
        .iter()
        .filter(|d| address.len() >= 8 && d.id.starts_with(address));
    let doc = match (found.next(), found.next()) {
        (Some(d), None) => d,
        (Some(_), Some(_)) => {
            return Err(ServiceError::Invalid(format!(
                "snapshot prefix {address} is ambiguous"
            )));
        }
        _ => return Err(ServiceError::NotFound(format!("no snapshot {address}"))),
    };
    let info: SnapshotInfo = documents::parse(doc)?;
    let salt = doc
        .secret
        .as_ref()
        .and_then(|s| Hash::try_from(s.0.as_slice()).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("snapshot {}: salt key missing", doc.id)))?;
    Ok((info, salt))
}

/// Rebuilds a stored snapshot from the library history; its roots must match.
pub async fn rebuild(store: &dyn Store, info: &SnapshotInfo, salt: &Hash) -> Result<Frozen> {
    let mut read = store.begin_read().await?;
    let pool = Pool {
        task_id: &info.task_id,
        at: info.as_of_seq,
        draw_date: info.draw_date,
        source: info.tier_source,
        policy_toml: &info.policy_toml,
    };
    let mut rebuilt = freeze(&mut *read, pool, salt, info.created_at).await?;
    drop(read);
    rebuilt.info.as_of = info.as_of.clone();
    if rebuilt.info.roots != info.roots || rebuilt.info.address != info.address {
        return Err(ServiceError::Invalid(format!(
            "snapshot {} does not match the library as of position {}: rebuilt address {}",
            info.address, info.as_of_seq, rebuilt.info.address
        )));
    }
    Ok(rebuilt)
}

/// Rebuilds a stored snapshot from the library history and checks it has the same roots.
pub async fn verify(store: &dyn Store, address: &str) -> Result<SnapshotInfo> {
    let (info, salt) = find(store, address).await?;
    rebuild(store, &info, &salt).await?;
    Ok(info)
}
