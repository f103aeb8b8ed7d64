//! Storage: one trait, one implementation per backend (SQLite, the embedded default, and
//! PostgreSQL), migrations per backend in `migrations/`. Library tables are versioned (a change
//! closes the old version and adds a new one; nothing is deleted), plans, tasks and snapshots
//! are documents, and every write appends to one hash-chained audit log in the same transaction.

pub mod audit;
pub mod postgres;
pub mod sealing;
pub mod sqlite;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::core::encode::Hash;
use crate::library::Kind;
pub use audit::{AuditDraft, AuditEntry};
pub use sealing::SealingKey;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Url(String),
    /// A precondition no longer holds: another writer changed the row first.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{0}")]
    Rejected(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A position in the audit log; library versions are valid from one to another.
pub type Seq = i64;

/// One validated row for an import: its line in the file, its key and canonical JSON.
#[derive(Clone, Debug)]
pub struct Staged {
    pub line: i64,
    pub key: String,
    pub data: String,
}

/// A key given twice in one file; the first line wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub line: i64,
    pub key: String,
    pub first_line: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// New keys.
    pub inserted: u64,
    /// Keys whose record changed: the old version is closed, a new one added.
    pub updated: u64,
    pub unchanged: u64,
}

/// An import in progress: one transaction holding the writer lock. Dropping it rolls back.
#[async_trait]
pub trait ImportTx: Send {
    /// Rows in file order.
    async fn add(&mut self, rows: Vec<Staged>) -> Result<()>;
    /// Keys given more than once so far (call after the last `add`).
    async fn duplicates(&mut self) -> Result<Vec<Duplicate>>;
    /// Applies the rows (first occurrence of each key), appends the audit entry (its detail is
    /// completed with the counts and digests), and commits. When no record changed, nothing is
    /// written and there is no entry.
    async fn commit(
        self: Box<Self>,
        audit: AuditDraft,
    ) -> Result<(ImportCounts, Option<AuditEntry>)>;
}

/// A consistent read of everything as of one moment: later writes are not seen.
#[async_trait]
pub trait ReadTx: Send {
    /// The audit position this view is at.
    async fn head(&mut self) -> Result<Seq>;
    /// The `data` of the versions valid at `at` (≤ head), in no particular order, as batches
    /// of newline-separated records (canonical JSON never holds an unescaped newline).
    fn scan(&mut self, kind: Kind, at: Seq) -> BoxStream<'_, Result<String>>;
    /// How many versions `scan` will give (cheap at the head).
    async fn count(&mut self, kind: Kind, at: Seq) -> Result<u64>;
}

/// Plans, tasks, amendments, snapshots; the daemon's draw runs and their bundles, access
/// tokens (by hash), keys and working-day calendars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Plan,
    Task,
    Amendment,
    Snapshot,
    Run,
    Bundle,
    Token,
    Key,
    Calendar,
    Account,
    Auditor,
    Attestation,
}

impl DocKind {
    pub const ALL: [DocKind; 12] = [
        DocKind::Plan,
        DocKind::Task,
        DocKind::Amendment,
        DocKind::Snapshot,
        DocKind::Run,
        DocKind::Bundle,
        DocKind::Token,
        DocKind::Key,
        DocKind::Calendar,
        DocKind::Account,
        DocKind::Auditor,
        DocKind::Attestation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Plan => "plan",
            DocKind::Task => "task",
            DocKind::Amendment => "amendment",
            DocKind::Snapshot => "snapshot",
            DocKind::Run => "run",
            DocKind::Bundle => "bundle",
            DocKind::Token => "token",
            DocKind::Key => "key",
            DocKind::Calendar => "calendar",
            DocKind::Account => "account",
            DocKind::Auditor => "auditor",
            DocKind::Attestation => "attestation",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    pub kind: DocKind,
    pub id: String,
    /// The plan of a task or amendment, the task of a snapshot.
    pub parent: String,
    pub doc: String,
    /// Never shown: a snapshot's salt key, a run's draw secret (until the draw reveals it), a
    /// signing key.
    pub secret: Option<SecretBytes>,
}

/// Bytes that must not appear in logs or Debug output (a salt key).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// One compare-and-set step of a document write; all steps and the audit entry land together.
#[derive(Clone, Debug)]
pub enum DocOp {
    /// The document must currently be exactly `doc`.
    Expect {
        kind: DocKind,
        id: String,
        doc: String,
    },
    /// Writes `new`; the current document must be `previous` (`None`: must not exist).
    Put { new: Doc, previous: Option<String> },
    /// Appends `entry` to the transparency log as its next leaf.
    Log { entry: String },
}

/// One leaf of the transparency log: the entry and its RFC 6962 leaf hash as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLeaf {
    pub index: u64,
    pub entry: String,
    pub leaf_hash: Hash,
}

/// A checkpoint the daemon signed: size, root, and the signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

/// A version of a library record created by one change, for audit verification.
#[derive(Clone, Debug)]
pub struct Version {
    pub key: String,
    pub src_line: i64,
    pub data: String,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Waits for connections to finish and closes them (SQLite then folds its WAL back).
    async fn close(&self);
    async fn begin_import(&self, kind: Kind) -> Result<Box<dyn ImportTx + '_>>;
    async fn begin_read(&self) -> Result<Box<dyn ReadTx + '_>>;
    /// Applies document operations and appends the audit entry, atomically.
    async fn write_docs(&self, ops: Vec<DocOp>, audit: AuditDraft) -> Result<AuditEntry>;
    async fn doc(&self, kind: DocKind, id: &str) -> Result<Option<Doc>>;
    async fn docs(&self, kind: DocKind, parent: Option<&str>) -> Result<Vec<Doc>>;
    /// The latest audit position whose time is at or before `at` (RFC 3339, UTC).
    async fn seq_at(&self, at: &str) -> Result<Seq>;
    /// Audit entries with `from <= seq`, at most `limit`, in order.
    async fn audit(&self, from: Seq, limit: i64) -> Result<Vec<AuditEntry>>;
    /// Versions created by the change at `seq`, in line order.
    fn created(&self, kind: Kind, seq: Seq) -> BoxStream<'_, Result<Version>>;
    /// (key, valid_from) of the versions closed by the change at `seq`, in key order.
    async fn closed(&self, kind: Kind, seq: Seq) -> Result<Vec<(String, Seq)>>;
    /// Leaves `from..to` of the transparency log (fewer if it is shorter), in order.
    async fn log_leaves(&self, from: u64, to: u64) -> Result<Vec<LogLeaf>>;
    /// One past the last leaf's index.
    async fn log_size(&self) -> Result<u64>;
    /// The last audit position (0 when the log is empty): one indexed query.
    async fn audit_head(&self) -> Result<Seq>;
    /// The signed checkpoint of the largest size, if any.
    /// The first signed checkpoint that contains leaf `index` (the smallest size above it).
    async fn checkpoint_covering(&self, index: u64) -> Result<Option<SignedCheckpoint>>;
    async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>>;
    /// Keeps a signed checkpoint; one of that size already kept must be this one.
    async fn add_checkpoint(&self, c: &SignedCheckpoint) -> Result<()>;
    /// Versions written by no audited import of their kind (`valid_from` or `valid_to` is not
    /// one of `imports`): (key, valid_from), at most 10.
    async fn orphan_versions(&self, kind: Kind, imports: &[Seq]) -> Result<Vec<(String, Seq)>>;
}

/// Opens (creating if needed) the database at `url` and applies pending migrations.
/// Opens the database at `url`, its secrets sealed with `key` (secrets stored before sealing
/// existed are sealed now).
pub async fn open(url: &str, key: SealingKey) -> Result<Box<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Box::new(sqlite::SqliteStore::open(url, key).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Box::new(postgres::PgStore::open(url, key).await?))
    } else {
        Err(StoreError::Url(format!(
            "database URL must start with sqlite: or postgres: (got {})",
            redact_url(url)
        )))
    }
}

/// A URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Objects => "objects",
        Kind::Inspectors => "inspectors",
        Kind::Penalties => "credit_records",
        Kind::Inspections => "inspections",
        Kind::Items => "check_items",
    }
}

/// SQL for one library table: `{t}` in `template` replaced by the table name. sqlx borrows the
/// text for as long as a row stream lives, so each distinct statement is made `'static` once.
pub(crate) fn table_sql(template: &'static str, kind: Kind) -> &'static str {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static CACHE: Mutex<BTreeMap<(&'static str, Kind), &'static str>> = Mutex::new(BTreeMap::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry((template, kind))
        .or_insert_with(|| Box::leak(template.replace("{t}", table(kind)).into_boxed_str()))
}

/// Adds the import's results to the draft's detail object.
pub(crate) fn complete_detail(
    audit: &mut AuditDraft,
    counts: &ImportCounts,
    duplicates: usize,
    digest: audit::BatchDigest,
) {
    let (created, closed) = digest.finish();
    if let serde_json::Value::Object(m) = &mut audit.detail {
        m.insert("inserted".into(), counts.inserted.into());
        m.insert("updated".into(), counts.updated.into());
        m.insert("unchanged".into(), counts.unchanged.into());
        m.insert("duplicates".into(), duplicates.into());
        m.insert("created_digest".into(), created.into());
        m.insert("closed_digest".into(), closed.into());
    }
}

/// A 32-byte hash column of audit entry `seq`.
pub(crate) fn hash32(seq: i64, column: &str, bytes: Vec<u8>) -> Result<Hash> {
    Hash::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("audit entry {seq}: {column} is not 32 bytes")))
}

/// An `audit_log` row as both backends return it.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    reason: String,
    detail: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: AuditRow) -> Result<Self> {
        Ok(AuditEntry {
            prev_hash: hash32(r.seq, "prev_hash", r.prev_hash)?,
            hash: hash32(r.seq, "hash", r.hash)?,
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            reason: r.reason,
            detail: r.detail,
        })
    }
}

/// A `documents` row as both backends return it.
#[derive(sqlx::FromRow)]
pub(crate) struct DocRow {
    kind: String,
    id: String,
    parent: String,
    doc: String,
    secret: Option<Vec<u8>>,
}

impl DocRow {
    /// The document, its secret opened with `key`.
    pub(crate) fn open(self, key: &SealingKey) -> Result<Doc> {
        let kind = sealing::doc_kind(&self.kind)?;
        let secret = match self.secret {
            Some(s) => Some(SecretBytes(key.open(kind, &self.id, s)?)),
            None => None,
        };
        Ok(Doc {
            kind,
            id: self.id,
            parent: self.parent,
            doc: self.doc,
            secret,
        })
    }
}

/// A document's secret as stored: sealed with `key`.
pub(crate) fn sealed_secret(d: &Doc, key: &SealingKey) -> Result<Option<Vec<u8>>> {
    d.secret
        .as_ref()
        .map(|s| key.seal(d.kind, &d.id, &s.0))
        .transpose()
}

/// A document step or a log append, as the backends apply them.
pub(crate) enum Step {
    /// (kind, id, the document that must be current, what to write).
    Doc(DocKind, String, Option<String>, Option<Doc>),
    Log(String, Hash),
}

impl DocOp {
    pub(crate) fn into_step(self) -> Step {
        match self {
            DocOp::Expect { kind, id, doc } => Step::Doc(kind, id, Some(doc), None),
            DocOp::Put { new, previous } => {
                Step::Doc(new.kind, new.id.clone(), previous, Some(new))
            }
            DocOp::Log { entry } => {
                let leaf = crate::core::merkle::leaf_hash(entry.as_bytes());
                Step::Log(entry, leaf)
            }
        }
    }
}

/// A `tlog_leaves` row as both backends return it.
#[derive(sqlx::FromRow)]
pub(crate) struct LeafRow {
    idx: i64,
    entry: String,
    leaf_hash: Vec<u8>,
}

impl TryFrom<LeafRow> for LogLeaf {
    type Error = StoreError;

    fn try_from(r: LeafRow) -> Result<Self> {
        Ok(LogLeaf {
            index: r.idx as u64,
            leaf_hash: Hash::try_from(r.leaf_hash.as_slice()).map_err(|_| {
                StoreError::Corrupt(format!("log leaf {}: leaf_hash is not 32 bytes", r.idx))
            })?,
            entry: r.entry,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CheckpointRow {
    size: i64,
    root: Vec<u8>,
    note: String,
}

impl TryFrom<CheckpointRow> for SignedCheckpoint {
    type Error = StoreError;

    fn try_from(r: CheckpointRow) -> Result<Self> {
        Ok(SignedCheckpoint {
            size: r.size as u64,
            root: Hash::try_from(r.root.as_slice()).map_err(|_| {
                StoreError::Corrupt(format!("checkpoint {}: root is not 32 bytes", r.size))
            })?,
            note: r.note,
        })
    }
}

/// The same checkpoint size signed twice must be the same checkpoint.
pub(crate) fn check_same_checkpoint(kept: Option<Vec<u8>>, c: &SignedCheckpoint) -> Result<()> {
    match kept {
        Some(root) if root != c.root => Err(StoreError::Conflict(format!(
            "a checkpoint of size {} with another root was signed before: refusing to fork the log",
            c.size
        ))),
        _ => Ok(()),
    }
}

/// The compare of a compare-and-set: the stored document must be the one the writer read.
pub(crate) fn check_current(
    kind: DocKind,
    id: &str,
    found: Option<String>,
    expected: Option<String>,
) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "{} {id} was changed by another writer; reload and try again",
            kind.as_str()
        )))
    }
}
