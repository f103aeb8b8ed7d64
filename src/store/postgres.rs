//! PostgreSQL, for several instances on one database. Writers serialise on a transaction-scoped
//! advisory lock (the audit log is one chain); imports stream rows in with COPY and merge them
//! with set-based SQL; readers use REPEATABLE READ snapshots.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::audit::{self, AuditDraft, AuditEntry, BatchDigest};
use super::{
    AuditRow, Doc, DocKind, DocOp, DocRow, Duplicate, ImportCounts, ImportTx, ReadTx, Result, Seq,
    Staged, Store, StoreError, Version, check_current, complete_detail, sealed_secret, hash32, table_sql,
};
use super::sealing::SealingKey;
use super::{CheckpointRow, LeafRow, LogLeaf, SignedCheckpoint, Step, check_same_checkpoint};
use crate::core::encode::Hash;
use crate::library::Kind;

/// Key of the advisory lock every writer holds (any constant; "dr" in ASCII).
const WRITER_LOCK: i64 = 0x6472;

pub struct PgStore {
    pool: PgPool,
    key: SealingKey,
}

impl PgStore {
    pub async fn open(url: &str, key: SealingKey) -> Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        // One direct connection first: an unreachable server is an error now, not after the
        // pool's patient retries.
        sqlx::Connection::close(
            tokio::time::timeout(
                Duration::from_secs(10),
                <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
            )
            .await
            .map_err(|_| StoreError::Url("no answer from the database server in 10 s".into()))??,
        )
        .await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(600))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let store = Self { pool, key };
        store.seal_secrets().await?;
        Ok(store)
    }

    /// Seals the secrets stored before sealing existed, and checks that the key opens the
    /// sealed ones (a wrong key is refused at start, not at the next draw). Instances that
    /// start together take turns on the table lock.
    async fn seal_secrets(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE documents IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT kind, id, secret FROM documents WHERE secret IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?;
        for (kind, id, sealed) in self.key.reseal(rows)? {
            sqlx::query("UPDATE documents SET secret = $1 WHERE kind = $2 AND id = $3")
                .bind(sealed)
                .bind(kind)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn begin_write(&self) -> Result<(Tx, Option<(i64, Hash)>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITER_LOCK)
            .execute(&mut *tx)
            .await?;
        let h = head(&mut tx).await?;
        Ok((tx, h))
    }
}

type Tx = Transaction<'static, Postgres>;

async fn head(tx: &mut Tx) -> Result<Option<(i64, Hash)>> {
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    row.map(|(seq, hash)| Ok((seq, hash32(seq, "hash", hash)?)))
        .transpose()
}

async fn append(tx: &mut Tx, prev: Option<(i64, Hash)>, draft: AuditDraft) -> Result<AuditEntry> {
    let e = AuditEntry::seal(draft, prev, audit::now());
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, reason, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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

/// COPY's text format: tab-separated, with backslash escapes.
fn copy_field(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

struct PgImport {
    tx: Tx,
    prev: Option<(i64, Hash)>,
    kind: Kind,
    seq: Seq,
    buffer: Vec<u8>,
    /// The table had no current rows when the import began.
    fresh: bool,
    /// Digest of every staged row in line order: the created digest of a fresh import without
    /// duplicates, which then need not be read back.
    staged: BatchDigest,
}

#[async_trait]
impl ImportTx for PgImport {
    async fn add(&mut self, rows: Vec<Staged>) -> Result<()> {
        self.buffer.clear();
        for r in &rows {
            if self.fresh {
                self.staged.created(r.line, &r.key, &r.data);
            }
            self.buffer.extend_from_slice(r.line.to_string().as_bytes());
            self.buffer.push(b'\t');
            copy_field(&mut self.buffer, &r.key);
            self.buffer.push(b'\t');
            copy_field(&mut self.buffer, &r.data);
            self.buffer.push(b'\n');
        }
        let mut copy = self
            .tx
            .copy_in_raw("COPY stage (line, key, data) FROM STDIN")
            .await?;
        copy.send(self.buffer.as_slice()).await?;
        copy.finish().await?;
        Ok(())
    }

    async fn duplicates(&mut self) -> Result<Vec<Duplicate>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "WITH dup AS (SELECT key FROM stage GROUP BY key HAVING count(*) > 1)
             SELECT s.line, s.key, min(s.line) OVER (PARTITION BY s.key)
             FROM stage s JOIN dup USING (key) ORDER BY s.line",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|(line, _, first)| line != first)
            .map(|(line, key, first_line)| Duplicate {
                line,
                key,
                first_line,
            })
            .collect())
    }

    async fn commit(
        mut self: Box<Self>,
        mut audit: AuditDraft,
    ) -> Result<(ImportCounts, Option<AuditEntry>)> {
        let duplicates = self.duplicates().await?;
        if !duplicates.is_empty() {
            // The first line of each key wins.
            sqlx::query(
                "DELETE FROM stage s USING stage f
                 WHERE s.key = f.key AND s.line > f.line",
            )
            .execute(&mut *self.tx)
            .await?;
        }
        sqlx::query("ANALYZE stage").execute(&mut *self.tx).await?;
        if self.fresh {
            // An empty library: load, then build the key index once, sorted (several times
            // faster than ten million random insertions). The table is locked meanwhile.
            sqlx::query(table_sql("DROP INDEX {t}_current", self.kind))
                .execute(&mut *self.tx)
                .await?;
        }
        let staged: i64 = sqlx::query_scalar("SELECT count(*) FROM stage")
            .fetch_one(&mut *self.tx)
            .await?;
        let updated = sqlx::query(table_sql(
            "UPDATE {t} t SET valid_to = $1 FROM stage s
             WHERE t.key = s.key AND t.valid_to IS NULL AND t.data <> s.data",
            self.kind,
        ))
        .bind(self.seq)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        let written = sqlx::query(table_sql(
            "INSERT INTO {t} (key, valid_from, src_line, data)
             SELECT s.key, $1, s.line, s.data FROM stage s
             WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE t.key = s.key AND t.valid_to IS NULL)",
            self.kind,
        ))
        .bind(self.seq)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if self.fresh {
            sqlx::query(table_sql(
                "CREATE UNIQUE INDEX {t}_current ON {t} (key) WHERE valid_to IS NULL",
                self.kind,
            ))
            .execute(&mut *self.tx)
            .await?;
        }
        let counts = ImportCounts {
            inserted: written - updated,
            updated,
            unchanged: staged as u64 - written,
        };
        if written == 0 {
            // Nothing changed (the same file again): no audit entry.
            return Ok((counts, None));
        }
        let mut digest = BatchDigest::default();
        if self.fresh && duplicates.is_empty() {
            digest = std::mem::take(&mut self.staged);
        } else {
            let mut created = sqlx::query_as::<_, (i64, String, String)>(table_sql(
                "SELECT src_line, key, data FROM {t} WHERE valid_from = $1 ORDER BY src_line",
                self.kind,
            ))
            .bind(self.seq)
            .fetch(&mut *self.tx);
            while let Some((line, key, data)) = created.try_next().await? {
                digest.created(line, &key, &data);
            }
        }
        let closed: Vec<(String, i64)> = sqlx::query_as(table_sql(
            "SELECT key, valid_from FROM {t} WHERE valid_to = $1 ORDER BY key",
            self.kind,
        ))
        .bind(self.seq)
        .fetch_all(&mut *self.tx)
        .await?;
        for (key, from) in &closed {
            digest.closed(key, *from);
        }
        complete_detail(&mut audit, &counts, duplicates.len(), digest);
        let entry = append(&mut self.tx, self.prev, audit).await?;
        self.tx.commit().await?;
        Ok((counts, Some(entry)))
    }
}

struct PgRead {
    tx: Tx,
}

#[async_trait]
impl ReadTx for PgRead {
    async fn head(&mut self) -> Result<Seq> {
        Ok(head(&mut self.tx).await?.map_or(0, |(s, _)| s))
    }

    fn scan(&mut self, kind: Kind, at: Seq) -> BoxStream<'_, Result<String>> {
        sqlx::query_scalar(table_sql(
            "SELECT data FROM {t}
             WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
            kind,
        ))
        .bind(at)
        .fetch(&mut *self.tx)
        .map_err(StoreError::from)
        .try_chunks(20_000)
        .map_err(|e| e.1)
        .map_ok(|rows: Vec<String>| rows.join("\n"))
        .boxed()
    }

    async fn count(&mut self, kind: Kind, at: Seq) -> Result<u64> {
        let sql = if at >= self.head().await? {
            "SELECT count(*) FROM {t} WHERE valid_to IS NULL AND $1 = $1"
        } else {
            "SELECT count(*) FROM {t} WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)"
        };
        let n: i64 = sqlx::query_scalar(table_sql(sql, kind))
            .bind(at)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(n as u64)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_import(&self, kind: Kind) -> Result<Box<dyn ImportTx + '_>> {
        let (mut tx, prev) = self.begin_write().await?;
        // Room to sort and hash a large file's keys in memory rather than on disk.
        sqlx::query("SET LOCAL work_mem = '256MB'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("SET LOCAL maintenance_work_mem = '512MB'")
            .execute(&mut *tx)
            .await?;
        let fresh: bool = sqlx::query_scalar(table_sql(
            "SELECT NOT EXISTS (SELECT 1 FROM {t} WHERE valid_to IS NULL)",
            kind,
        ))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "CREATE TEMP TABLE stage (line BIGINT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL)
             ON COMMIT DROP",
        )
        .execute(&mut *tx)
        .await?;
        Ok(Box::new(PgImport {
            tx,
            seq: prev.map_or(0, |(s, _)| s) + 1,
            prev,
            kind,
            buffer: Vec::new(),
            fresh,
            staged: BatchDigest::default(),
        }))
    }

    async fn begin_read(&self) -> Result<Box<dyn ReadTx + '_>> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let mut read = PgRead { tx };
        read.head().await?;
        Ok(Box::new(read))
    }

    async fn write_docs(&self, ops: Vec<DocOp>, audit: AuditDraft) -> Result<AuditEntry> {
        let (mut tx, prev) = self.begin_write().await?;
        let seq = prev.map_or(0, |(s, _)| s) + 1;
        for op in ops {
            let (kind, id, expected, new) = match op.into_step() {
                Step::Doc(kind, id, expected, new) => (kind, id, expected, new),
                Step::Log(entry, leaf) => {
                    sqlx::query(
                        "INSERT INTO tlog_leaves (idx, entry, leaf_hash, seq)
                         SELECT COALESCE(MAX(idx) + 1, 0), $1, $2, $3 FROM tlog_leaves",
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
                sqlx::query_scalar("SELECT doc FROM documents WHERE kind = $1 AND id = $2")
                    .bind(kind.as_str())
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            check_current(kind, &id, found, expected)?;
            if let Some(d) = new {
                sqlx::query(
                    "INSERT INTO documents (kind, id, parent, doc, secret, seq)
                     VALUES ($1, $2, $3, $4, $5, $6)
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
        let e = append(&mut tx, prev, audit).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn doc(&self, kind: DocKind, id: &str) -> Result<Option<Doc>> {
        sqlx::query_as::<_, DocRow>(
            "SELECT kind, id, parent, doc, secret FROM documents WHERE kind = $1 AND id = $2",
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
             WHERE kind = $1 AND ($2::text IS NULL OR parent = $2) ORDER BY id",
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
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log WHERE at <= $1")
                .bind(at)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn audit(&self, from: Seq, limit: i64) -> Result<Vec<AuditEntry>> {
        sqlx::query_as::<_, AuditRow>(
            "SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
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
            "SELECT key, src_line, data FROM {t} WHERE valid_from = $1 ORDER BY src_line",
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
            "SELECT key, valid_from FROM {t} WHERE valid_to = $1 ORDER BY key",
            kind,
        ))
        .bind(seq)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn log_leaves(&self, from: u64, to: u64) -> Result<Vec<LogLeaf>> {
        sqlx::query_as::<_, LeafRow>(
            "SELECT idx, entry, leaf_hash FROM tlog_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx",
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
            "SELECT size, root, note FROM tlog_checkpoints WHERE size > $1 ORDER BY size LIMIT 1",
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
        let (mut tx, _) = self.begin_write().await?;
        let kept: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT root FROM tlog_checkpoints WHERE size = $1")
                .bind(c.size as i64)
                .fetch_optional(&mut *tx)
                .await?;
        check_same_checkpoint(kept.clone(), c)?;
        if kept.is_none() {
            sqlx::query("INSERT INTO tlog_checkpoints (size, root, note) VALUES ($1, $2, $3)")
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
             WHERE valid_from <> ALL($1) OR (valid_to IS NOT NULL AND valid_to <> ALL($1))
             LIMIT 10",
            kind,
        ))
        .bind(imports)
        .fetch_all(&self.pool)
        .await?)
    }
}
