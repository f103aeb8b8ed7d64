//! The embedded default: one SQLite file in WAL mode. Writers take the write lock up front
//! (`BEGIN IMMEDIATE`) and wait for each other; readers see a fixed snapshot of the file.
//! Over 600 lines: the whole `Store` contract for one backend, whose parts share one
//! connection and transaction discipline; `postgres.rs` mirrors it section by section.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::audit::{self, AuditDraft, AuditEntry, BatchDigest};
use super::sealing::{self, SealingKey};
use super::{
    AuditRow, Doc, DocKind, DocOp, DocRow, Duplicate, ImportCounts, ImportTx, ReadTx, Result, Seq,
    Staged, Store, StoreError, Version, check_current, complete_detail, sealed_secret, hash32, table_sql,
};
use super::{CheckpointRow, LeafRow, LogLeaf, SignedCheckpoint, Step, check_same_checkpoint};
use crate::core::encode::Hash;
use crate::library::Kind;

pub struct SqliteStore {
    pool: SqlitePool,
    key: SealingKey,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database file. The file holds the audit trail and
    /// the sealed secrets: its folder is created 0700 and the file 0600 (SQLite gives its WAL
    /// and shared-memory files the database file's mode), and a database that group or
    /// others can read is refused.
    pub async fn open(url: &str, key: SealingKey) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // A ten-million-row import holds the write lock for about a minute; others wait.
            .busy_timeout(Duration::from_secs(600))
            .pragma("cache_size", "-131072");
        let file = options.get_filename().to_path_buf();
        if !file.as_os_str().is_empty() && file != Path::new(":memory:") {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                sealing::private_dir(dir)?;
            }
            match sealing::private_file(&file) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(StoreError::Url(format!(
                        "cannot create {}: {e}",
                        file.display()
                    )));
                }
            }
            for suffix in ["", "-wal", "-shm"] {
                let mut name = file.clone().into_os_string();
                name.push(suffix);
                sealing::check_private(Path::new(&name), "the database file")?;
            }
        }
        let pool = connect(options).await?;
        migrate(&pool).await?;
        let store = Self { pool, key };
        store.seal_secrets().await?;
        Ok(store)
    }

    /// Seals the secrets stored before sealing existed, and checks that the key opens the
    /// sealed ones (a wrong key file is refused at start, not at the next draw).
    async fn seal_secrets(&self) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let rows: Vec<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT kind, id, secret FROM documents WHERE secret IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?;
        for (kind, id, sealed) in self.key.reseal(rows)? {
            sqlx::query("UPDATE documents SET secret = ? WHERE kind = ? AND id = ?")
                .bind(sealed)
                .bind(kind)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Opens the pool. Switching a new file to WAL needs it alone: of several processes creating
/// it at once, the others may be told "database is locked" without waiting, so they try again.
async fn connect(options: SqliteConnectOptions) -> Result<SqlitePool> {
    let mut attempt = 0;
    loop {
        let opened = SqlitePoolOptions::new()
            .max_connections(8)
            // Kept open so that a read usually finds a second connection idle for its scans.
            .min_connections(2)
            .connect_with(options.clone())
            .await;
        match opened {
            Ok(pool) => return Ok(pool),
            Err(e) if attempt < 20 && is_locked(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// SQLITE_BUSY (5): another connection holds the lock.
fn is_locked(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "5")
}

/// Applies the migrations. SQLite has no lock for them (sqlx takes PostgreSQL's advisory lock
/// only): of several processes starting on a new file, all but one find a migration applied
/// under them and fail ("table audit_log already exists"), its transaction rolled back. They
/// try again, reading what is applied now.
async fn migrate(pool: &SqlitePool) -> Result<()> {
    let mut attempt = 0;
    loop {
        match sqlx::migrate!("migrations/sqlite").run(pool).await {
            Ok(()) => return Ok(()),
            Err(_) if attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

type Tx = Transaction<'static, Sqlite>;

async fn head(tx: &mut Tx) -> Result<Option<(i64, Hash)>> {
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    row.map(|(seq, hash)| Ok((seq, hash32(seq, "hash", hash)?)))
        .transpose()
}

async fn append(tx: &mut Tx, draft: AuditDraft) -> Result<AuditEntry> {
    let e = AuditEntry::seal(draft, head(tx).await?, audit::now());
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, reason, detail, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.seq)
    .bind(&e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.subject)
    .bind(&e.reason)
    .bind(&e.detail)
    .bind(&e.prev_hash[..])
    .bind(&e.hash[..])
    .execute(&mut **tx)
    .await?;
    Ok(e)
}

/// Rows per statement: keys and rows go in as one JSON array, so the SQL text never changes.
const CHUNK: usize = 2000;

struct SqliteImport {
    tx: Tx,
    pool: SqlitePool,
    kind: Kind,
    seq: Seq,
    digest: BatchDigest,
    counts: ImportCounts,
    duplicates: Vec<Duplicate>,
    /// The table had no current rows when the import began.
    fresh: bool,
    /// First line of each 32-bit key hash inserted so far (only while `fresh`): 8 bytes a
    /// row, so ten million keys take 150 MB.
    first_lines: HashMap<u32, u32>,
    /// Keys whose hash an earlier, different key already had, with their lines.
    collided: HashMap<String, i64>,
    insert_sql: String,
}

#[async_trait]
impl ImportTx for SqliteImport {
    async fn add(&mut self, rows: Vec<Staged>) -> Result<()> {
        for chunk in rows.chunks(CHUNK) {
            self.add_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn duplicates(&mut self) -> Result<Vec<Duplicate>> {
        Ok(self.duplicates.clone())
    }

    async fn commit(
        mut self: Box<Self>,
        mut audit: AuditDraft,
    ) -> Result<(ImportCounts, Option<AuditEntry>)> {
        if self.fresh {
            sqlx::query(table_sql(
                "CREATE UNIQUE INDEX {t}_current ON {t} (key) WHERE valid_to IS NULL",
                self.kind,
            ))
            .execute(&mut *self.tx)
            .await?;
        }
        if self.counts.inserted + self.counts.updated == 0 {
            // Nothing changed (the same file again): no audit entry; the rollback is a no-op.
            return Ok((self.counts.clone(), None));
        }
        let closed: Vec<(String, i64)> = sqlx::query_as(table_sql(
            "SELECT key, valid_from FROM {t} WHERE valid_to = ? ORDER BY key",
            self.kind,
        ))
        .bind(self.seq)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut digest = std::mem::take(&mut self.digest);
        for (key, from) in &closed {
            digest.closed(key, *from);
        }
        complete_detail(&mut audit, &self.counts, self.duplicates.len(), digest);
        let entry = append(&mut self.tx, audit).await?;
        if entry.seq != self.seq {
            return Err(StoreError::Corrupt(format!(
                "import was given position {} but the log is at {}",
                self.seq, entry.seq
            )));
        }
        self.tx.commit().await?;
        // A large import leaves its pages in the WAL; fold them into the database now, so the
        // next process need not index a gigabyte of log before its first read. Best effort: a
        // reader still open elsewhere only makes it partial.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        Ok((self.counts.clone(), Some(entry)))
    }
}

impl SqliteImport {
    async fn add_chunk(&mut self, rows: &[Staged]) -> Result<()> {
        let mut close = Vec::new();
        let mut insert: Vec<&Staged> = Vec::with_capacity(rows.len());
        if self.fresh {
            // The table was empty when the import began: every key is new unless the file
            // repeats it. Key hashes find repeats; a matching hash is confirmed in the table.
            for r in rows {
                let line = u32::try_from(r.line).map_err(|_| {
                    StoreError::Rejected(format!(
                        "line {} is past the 4,294,967,295 a file may have",
                        r.line
                    ))
                })?;
                let first = match self.first_lines.entry(key_hash(&r.key)) {
                    Entry::Vacant(v) => {
                        v.insert(line);
                        insert.push(r);
                        continue;
                    }
                    Entry::Occupied(o) => i64::from(*o.get()),
                };
                // Same hash: the same key, or (rarely, with 32 bits) another one.
                let first = match self.collided.get(&r.key) {
                    Some(&line) => Some(line),
                    None if insert.iter().any(|p| p.line == first && p.key == r.key) => Some(first),
                    None => {
                        let key: Option<String> = sqlx::query_scalar(table_sql(
                            "SELECT key FROM {t} WHERE valid_from = ? AND src_line = ?",
                            self.kind,
                        ))
                        .bind(self.seq)
                        .bind(first)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                        (key.as_deref() == Some(r.key.as_str())).then_some(first)
                    }
                };
                match first {
                    Some(first_line) => self.duplicates.push(Duplicate {
                        line: r.line,
                        key: r.key.clone(),
                        first_line,
                    }),
                    None => {
                        self.collided.insert(r.key.clone(), r.line);
                        insert.push(r);
                    }
                }
            }
            self.counts.inserted += insert.len() as u64;
            return self.insert(&insert).await;
        }
        let keys = serde_json::to_string(&rows.iter().map(|r| &r.key).collect::<Vec<_>>())
            .expect("strings serialise");
        let current: Vec<(String, i64, i64, String)> = sqlx::query_as(table_sql(
            "SELECT t.key, t.valid_from, t.src_line, t.data FROM json_each(?) j
             JOIN {t} t ON t.key = j.value AND t.valid_to IS NULL",
            self.kind,
        ))
        .bind(keys)
        .fetch_all(&mut *self.tx)
        .await?;
        let current: HashMap<&str, (i64, i64, &str)> = current
            .iter()
            .map(|(k, from, line, data)| (k.as_str(), (*from, *line, data.as_str())))
            .collect();
        let mut seen: HashMap<&str, i64> = HashMap::with_capacity(rows.len());
        for r in rows {
            if let Some(&first) = seen.get(r.key.as_str()) {
                self.duplicates.push(Duplicate {
                    line: r.line,
                    key: r.key.clone(),
                    first_line: first,
                });
                continue;
            }
            seen.insert(&r.key, r.line);
            match current.get(r.key.as_str()) {
                Some(&(from, first, _)) if from == self.seq => {
                    self.duplicates.push(Duplicate {
                        line: r.line,
                        key: r.key.clone(),
                        first_line: first,
                    });
                    continue;
                }
                Some((_, _, data)) if *data == r.data => self.counts.unchanged += 1,
                Some(_) => {
                    self.counts.updated += 1;
                    close.push(&r.key);
                    insert.push(r);
                }
                None => {
                    self.counts.inserted += 1;
                    insert.push(r);
                }
            }
        }
        if !close.is_empty() {
            sqlx::query(table_sql(
                "UPDATE {t} SET valid_to = ? WHERE valid_to IS NULL
                 AND key IN (SELECT value FROM json_each(?))",
                self.kind,
            ))
            .bind(self.seq)
            .bind(serde_json::to_string(&close).expect("strings serialise"))
            .execute(&mut *self.tx)
            .await?;
        }
        self.insert(&insert).await
    }

    /// New versions, in line order; several rows per statement.
    async fn insert(&mut self, rows: &[&Staged]) -> Result<()> {
        for chunk in rows.chunks(INSERT_ROWS) {
            let sql = if chunk.len() == INSERT_ROWS {
                self.insert_sql.as_str()
            } else {
                &insert_sql(self.kind, chunk.len())
            };
            let mut q = sqlx::query(sql);
            for r in chunk {
                self.digest.created(r.line, &r.key, &r.data);
                q = q.bind(&r.key).bind(self.seq).bind(r.line).bind(&r.data);
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}

/// Rows per INSERT statement (four parameters each; SQLite allows 32766).
const INSERT_ROWS: usize = 256;

fn insert_sql(kind: Kind, rows: usize) -> String {
    // OR FAIL: a constraint error ends the import anyway, so SQLite need not journal each
    // statement to undo it alone.
    let mut sql = format!(
        "INSERT OR FAIL INTO {} (key, valid_from, src_line, data) VALUES ",
        super::table(kind)
    );
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?)"
        });
    }
    sql
}

fn key_hash(key: &str) -> u32 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(key) as u32
}

/// A consistent read over two connections, so a scan reads with two threads. Both were
/// checked to be at the same audit position, and every write appends an audit entry, so they
/// see the same database.
struct SqliteRead {
    tx: Tx,
    /// A second connection on the same snapshot, when one was idle: scans read on both.
    second: Option<Tx>,
}

/// Rows per window of a scan (by rowid; versions are never deleted, so windows are full).
const SCAN_WINDOW: i64 = 20_000;

/// One connection's share of a scan: windows `part`, `part + parts`, … up to the last rowid.
fn scan_part<'a>(
    tx: &'a mut Tx,
    kind: Kind,
    at: Seq,
    part: i64,
    parts: i64,
) -> BoxStream<'a, Result<String>> {
    // Rows come a window at a time, joined by newlines in SQLite (canonical JSON has none
    // unescaped): handing ten million rows one by one from sqlx's worker thread costs more
    // than reading them.
    let sql = table_sql(
        "SELECT group_concat(data, char(10)) FROM {t}
         WHERE rowid > ?1 AND rowid <= ?2 AND valid_from <= ?3
           AND (valid_to IS NULL OR valid_to > ?3)",
        kind,
    );
    let last_sql = table_sql("SELECT COALESCE(MAX(rowid), 0) FROM {t}", kind);
    futures_util::stream::try_unfold((tx, part, None), move |(tx, window, last)| async move {
        let last: i64 = match last {
            Some(l) => l,
            None => sqlx::query_scalar(last_sql).fetch_one(&mut **tx).await?,
        };
        let mut window = window;
        loop {
            let from = window * SCAN_WINDOW;
            if from >= last {
                return Ok(None);
            }
            let data: Option<String> = sqlx::query_scalar(sql)
                .bind(from)
                .bind(from + SCAN_WINDOW)
                .bind(at)
                .fetch_one(&mut **tx)
                .await?;
            window += parts;
            if let Some(data) = data {
                return Ok(Some((data, (tx, window, Some(last)))));
            }
        }
    })
    .boxed()
}

#[async_trait]
impl ReadTx for SqliteRead {
    async fn head(&mut self) -> Result<Seq> {
        Ok(head(&mut self.tx).await?.map_or(0, |(s, _)| s))
    }

    fn scan(&mut self, kind: Kind, at: Seq) -> BoxStream<'_, Result<String>> {
        match &mut self.second {
            Some(second) => futures_util::stream::select(
                scan_part(&mut self.tx, kind, at, 0, 2),
                scan_part(second, kind, at, 1, 2),
            )
            .boxed(),
            None => scan_part(&mut self.tx, kind, at, 0, 1),
        }
    }

    async fn count(&mut self, kind: Kind, at: Seq) -> Result<u64> {
        // At the head, the current rows are exactly the versions valid: the partial index
        // counts them without reading the table.
        let sql = if at >= self.head().await? {
            "SELECT count(*) FROM {t} WHERE valid_to IS NULL AND ?1 = ?1"
        } else {
            "SELECT count(*) FROM {t} WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1)"
        };
        let n: i64 = sqlx::query_scalar(table_sql(sql, kind))
            .bind(at)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(n as u64)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        // Leave the WAL folded into the database for the next process.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        self.pool.close().await;
    }

    async fn begin_import(&self, kind: Kind) -> Result<Box<dyn ImportTx + '_>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let seq = head(&mut tx).await?.map_or(0, |(s, _)| s) + 1;
        let fresh = sqlx::query_scalar::<_, i64>(table_sql(
            "SELECT count(*) FROM (SELECT 1 FROM {t} WHERE valid_to IS NULL LIMIT 1)",
            kind,
        ))
        .fetch_one(&mut *tx)
        .await?
            == 0;
        if fresh {
            // Building the key index once, sorted, at the end is several times faster than
            // inserting ten million random keys into it. Both statements are part of the
            // transaction: a rollback restores the index.
            sqlx::query(table_sql("DROP INDEX {t}_current", kind))
                .execute(&mut *tx)
                .await?;
        }
        Ok(Box::new(SqliteImport {
            tx,
            pool: self.pool.clone(),
            kind,
            seq,
            digest: BatchDigest::default(),
            counts: ImportCounts::default(),
            duplicates: Vec::new(),
            fresh,
            first_lines: HashMap::new(),
            collided: HashMap::new(),
            insert_sql: insert_sql(kind, INSERT_ROWS),
        }))
    }

    async fn begin_read(&self) -> Result<Box<dyn ReadTx + '_>> {
        // A read never waits for a connection while holding one (readers that each held one
        // and waited for a second froze the pool): the second, which only halves a scan's
        // time, is taken when one is idle. The first read fixes the snapshot a transaction
        // sees; a write between the two first reads shows as different audit positions, and
        // then the scan makes do with one.
        let mut tx = self.pool.begin().await?;
        let first = head(&mut tx).await?;
        let mut second = self.pool.try_begin().await?;
        if let Some(s) = &mut second
            && head(s).await? != first
        {
            second = None;
        }
        Ok(Box::new(SqliteRead { tx, second }))
    }

    async fn write_docs(&self, ops: Vec<DocOp>, audit: AuditDraft) -> Result<AuditEntry> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let seq = head(&mut tx).await?.map_or(0, |(s, _)| s) + 1;
        for op in ops {
            let (kind, id, expected, new) = match op.into_step() {
                Step::Doc(kind, id, expected, new) => (kind, id, expected, new),
                Step::Log(entry, leaf) => {
                    sqlx::query(
                        "INSERT INTO tlog_leaves (idx, entry, leaf_hash, seq)
                         SELECT COALESCE(MAX(idx) + 1, 0), ?, ?, ? FROM tlog_leaves",
                    )
                    .bind(entry)
                    .bind(leaf.as_slice())
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                    continue;
                }
            };
            let found: Option<String> =
                sqlx::query_scalar("SELECT doc FROM documents WHERE kind = ? AND id = ?")
                    .bind(kind.as_str())
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            check_current(kind, &id, found, expected)?;
            if let Some(d) = new {
                sqlx::query(
                    "INSERT INTO documents (kind, id, parent, doc, secret, seq) VALUES (?, ?, ?, ?, ?, ?)
                     ON CONFLICT (kind, id) DO UPDATE SET parent = excluded.parent,
                       doc = excluded.doc, secret = excluded.secret, seq = excluded.seq",
                )
                .bind(d.kind.as_str())
                .bind(&d.id)
                .bind(&d.parent)
                .bind(&d.doc)
                .bind(sealed_secret(&d, &self.key)?)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
        }
        let e = append(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn doc(&self, kind: DocKind, id: &str) -> Result<Option<Doc>> {
        sqlx::query_as::<_, DocRow>(
            "SELECT kind, id, parent, doc, secret FROM documents WHERE kind = ? AND id = ?",
        )
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.open(&self.key))
        .transpose()
    }

    async fn docs(&self, kind: DocKind, parent: Option<&str>) -> Result<Vec<Doc>> {
        sqlx::query_as::<_, DocRow>(
            "SELECT kind, id, parent, doc, secret FROM documents
             WHERE kind = ?1 AND (?2 IS NULL OR parent = ?2) ORDER BY id",
        )
        .bind(kind.as_str())
        .bind(parent)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| r.open(&self.key))
        .collect()
    }

    async fn seq_at(&self, at: &str) -> Result<Seq> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log WHERE at <= ?")
                .bind(at)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn audit(&self, from: Seq, limit: i64) -> Result<Vec<AuditEntry>> {
        sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?")
            .bind(from)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(AuditEntry::try_from)
            .collect()
    }

    fn created(&self, kind: Kind, seq: Seq) -> BoxStream<'_, Result<Version>> {
        sqlx::query_as(table_sql(
            "SELECT key, src_line, data FROM {t} WHERE valid_from = ? ORDER BY src_line",
            kind,
        ))
        .bind(seq)
        .fetch(&self.pool)
        .map(|r| {
            r.map(|(key, src_line, data)| Version {
                key,
                src_line,
                data,
            })
            .map_err(StoreError::from)
        })
        .boxed()
    }

    async fn closed(&self, kind: Kind, seq: Seq) -> Result<Vec<(String, Seq)>> {
        Ok(sqlx::query_as(table_sql(
            "SELECT key, valid_from FROM {t} WHERE valid_to = ? ORDER BY key",
            kind,
        ))
        .bind(seq)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn log_leaves(&self, from: u64, to: u64) -> Result<Vec<LogLeaf>> {
        sqlx::query_as::<_, LeafRow>(
            "SELECT idx, entry, leaf_hash FROM tlog_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
        )
        .bind(from.min(i64::MAX as u64) as i64)
        .bind(to.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(LogLeaf::try_from)
        .collect()
    }

    async fn log_size(&self) -> Result<u64> {
        // One past the last index: a deleted leaf in the middle still counts, and is found.
        let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_leaves")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn audit_head(&self) -> Result<Seq> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn checkpoint_covering(&self, index: u64) -> Result<Option<SignedCheckpoint>> {
        sqlx::query_as::<_, CheckpointRow>(
            "SELECT size, root, note FROM tlog_checkpoints WHERE size > ? ORDER BY size LIMIT 1",
        )
        .bind(index as i64)
        .fetch_optional(&self.pool)
        .await?
        .map(SignedCheckpoint::try_from)
        .transpose()
    }

    async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>> {
        sqlx::query_as::<_, CheckpointRow>(
            "SELECT size, root, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .map(SignedCheckpoint::try_from)
        .transpose()
    }

    async fn add_checkpoint(&self, c: &SignedCheckpoint) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let kept: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT root FROM tlog_checkpoints WHERE size = ?")
                .bind(c.size as i64)
                .fetch_optional(&mut *tx)
                .await?;
        check_same_checkpoint(kept.clone(), c)?;
        if kept.is_none() {
            sqlx::query("INSERT INTO tlog_checkpoints (size, root, note) VALUES (?, ?, ?)")
                .bind(c.size as i64)
                .bind(c.root.as_slice())
                .bind(&c.note)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn orphan_versions(&self, kind: Kind, imports: &[Seq]) -> Result<Vec<(String, Seq)>> {
        Ok(sqlx::query_as(table_sql(
            "SELECT key, valid_from FROM {t}
             WHERE valid_from NOT IN (SELECT value FROM json_each(?1))
                OR (valid_to IS NOT NULL AND valid_to NOT IN (SELECT value FROM json_each(?1)))
             LIMIT 10",
            kind,
        ))
        .bind(serde_json::to_string(imports).expect("numbers serialise"))
        .fetch_all(&self.pool)
        .await?)
    }
}
