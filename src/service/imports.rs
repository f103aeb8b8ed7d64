//! Bulk import (one transaction per file, every bad row reported, optional reject file) and
//! export (the same columns, so an export imports back unchanged).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::TryStreamExt;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Actor, Result, ServiceError};
use crate::library::names::check_file_name;
use crate::library::{FieldError, Kind, Parser, Record};
use crate::store::{AuditDraft, ImportCounts, Seq, Staged, Store};
use crate::table::{self, Format, Row, Source, TableError};

/// How far an import has read, in the unit of `total` (CSV: bytes; xlsx: rows). The CLI draws
/// a progress bar with it; the service has no terminal.
pub trait Progress: Send + Sync {
    /// Once, before the rows; 0 when the extent is unknown.
    fn start(&self, total: u64);
    fn advance(&self, pos: u64);
    fn finish(&self);
}

#[derive(Default)]
pub struct ImportOptions<'a> {
    /// Import the good rows and write the bad ones to `rejects`.
    pub skip_invalid: bool,
    /// Where the bad rows go (as CSV) when `skip_invalid` lets the rest through; written before
    /// the commit, so a caller that writes a file keeps it only once the report says committed.
    pub rejects: Option<&'a mut (dyn Write + Send)>,
    pub progress: Option<&'a dyn Progress>,
    /// What the file may make the reader hold or do (`[import]`).
    pub limits: table::Limits,
}

/// A row that was not imported, with every reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadRow {
    pub line: u64,
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    pub cells: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub kind: &'static str,
    /// The file's display name, as the caller gave it.
    pub file: String,
    pub rows: u64,
    #[serde(flatten)]
    pub counts: ImportCounts,
    pub rejected: u64,
    /// Whether the import went through (possibly changing nothing).
    pub committed: bool,
    /// The audit position of the import; `None` when nothing was written.
    pub seq: Option<Seq>,
    /// Where the caller put the rejected rows (the service writes to a writer, not a path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_file: Option<PathBuf>,
    pub bad: Vec<BadRow>,
}

/// Rows parsed per batch, on all cores.
const BATCH: usize = 8192;

enum Parsed {
    Good(Staged),
    Bad(BadRow),
}

/// The caller's source, shared by the row reader (its own thread) and the hash and duplicate
/// passes here, which run before and after it.
#[derive(Clone)]
struct Shared(Arc<Mutex<Box<dyn Source>>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read(buf)
    }
}

impl Seek for Shared {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seek(pos)
    }
}

impl Shared {
    /// A fresh table over the whole source.
    fn open(&self, name: &str, limits: &table::Limits) -> Result<table::Table> {
        let mut again = self.clone();
        again
            .seek(SeekFrom::Start(0))
            .map_err(|e| table::file_error(name, e.to_string()))?;
        Ok(table::open_with(Box::new(again), name, limits)?)
    }
}

/// Reads, validates and stores the file `name` read from `source`. Nothing is written unless
/// every row is good or `skip_invalid` is set; the report lists every bad row either way.
/// Errors name the file by `name`.
pub async fn import(
    store: &dyn Store,
    kind: Kind,
    source: impl Source + 'static,
    name: &str,
    options: ImportOptions<'_>,
    actor: &Actor,
) -> Result<ImportReport> {
    let shown = Path::new(name).file_name().map(|n| n.to_string_lossy());
    check_file_name(shown.as_deref().unwrap_or(name))
        .map_err(|e| {
            let start: String = name.chars().take(80).collect();
            ServiceError::Invalid(format!("file name {start:?}: {e}"))
        })?;
    let source = Shared(Arc::new(Mutex::new(Box::new(source))));
    let sha256 =
        sha256(&mut source.clone()).map_err(|e| ServiceError::Invalid(format!("{name}: {e}")))?;
    let t = source.open(name, &options.limits)?;
    let parser = Parser::new(kind, &t.headers).map_err(|m| table::file_error(name, m))?;
    let headers = t.headers.clone();
    if let Some(p) = options.progress {
        p.start(t.size);
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, Vec<Parsed>)>(4);
    let reader = {
        let mut rows = t.rows;
        std::thread::spawn(move || -> std::result::Result<(), TableError> {
            loop {
                let mut batch: Vec<Result<Row, TableError>> = Vec::with_capacity(BATCH);
                for r in rows.by_ref().take(BATCH) {
                    // A file that cannot be read on (not a bad row): the import stops, and
                    // dropping the channel rolls it back.
                    match r {
                        Err(e) if e.stops() => return Err(e),
                        r => batch.push(r),
                    }
                }
                if batch.is_empty() {
                    return Ok(());
                }
                // How far the reader got: its last good row (0: not known from this batch).
                let pos = batch
                    .iter()
                    .rev()
                    .find_map(|r| r.as_ref().ok())
                    .map_or(0, |r| r.pos);
                if tx
                    .blocking_send((pos, parse_batch(&parser, batch)))
                    .is_err()
                {
                    return Ok(()); // the importer stopped; its error is reported
                }
            }
        })
    };

    let mut import = store.begin_import(kind).await?;
    let mut bad = Vec::new();
    let mut rows = 0u64;
    while let Some((pos, batch)) = rx.recv().await {
        if let (Some(p), true) = (options.progress, pos > 0) {
            p.advance(pos);
        }
        rows += batch.len() as u64;
        let mut good = Vec::with_capacity(batch.len());
        for p in batch {
            match p {
                Parsed::Good(s) => good.push(s),
                Parsed::Bad(b) => bad.push(b),
            }
        }
        import.add(good).await?;
    }
    reader
        .join()
        .map_err(|_| ServiceError::Invalid("the file reader panicked".into()))??;
    if let Some(p) = options.progress {
        p.finish();
    }
    let duplicates = import.duplicates().await?;
    if !duplicates.is_empty() {
        let lines: BTreeMap<u64, (String, i64)> = duplicates
            .iter()
            .map(|d| (d.line as u64, (d.key.clone(), d.first_line)))
            .collect();
        let cells = if options.skip_invalid {
            rows_at(&source, name, &options.limits, &lines.keys().copied().collect())?
        } else {
            BTreeMap::new()
        };
        for (line, (key, first)) in lines {
            bad.push(BadRow {
                line,
                errors: vec![FieldError {
                    column: kind.key_column().into(),
                    value: key,
                    reason: format!("duplicate: the same record is at line {first}, which is kept"),
                }],
                cells: cells.get(&line).cloned().unwrap_or_default(),
            });
        }
    }
    bad.sort_by_key(|b| b.line);
    let mut report = ImportReport {
        kind: kind.as_str(),
        file: name.to_owned(),
        rows,
        counts: ImportCounts::default(),
        rejected: bad.len() as u64,
        committed: false,
        seq: None,
        reject_file: None,
        bad,
    };
    if !report.bad.is_empty() && !options.skip_invalid {
        return Ok(report); // `import` is dropped: the transaction rolls back
    }
    if let (false, Some(out)) = (report.bad.is_empty(), options.rejects) {
        write_rejects(out, name, &headers, &report.bad)?;
    }
    let draft = AuditDraft {
        actor: actor.name.clone(),
        action: "import".into(),
        subject: kind.as_str().into(),
        reason: actor.reason.clone(),
        detail: serde_json::json!({
            "file": Path::new(name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "file_sha256": sha256,
            "rows": rows,
            "rejected": report.rejected,
        }),
    };
    let (counts, entry) = import.commit(draft).await?;
    report.counts = counts;
    report.committed = true;
    report.seq = entry.map(|e| e.seq);
    Ok(report)
}

fn parse_batch(parser: &Parser, batch: Vec<Result<Row, TableError>>) -> Vec<Parsed> {
    batch
        .into_par_iter()
        .map(|r| match r {
            Ok(row) => match parser.parse(&row.cells) {
                Ok(rec) => Parsed::Good(Staged {
                    line: row.line as i64,
                    key: rec.key(),
                    data: rec.data(),
                }),
                Err(errors) => Parsed::Bad(BadRow {
                    line: row.line,
                    errors,
                    cells: row.cells.to_vec(),
                }),
            },
            Err(TableError::Line {
                line,
                column,
                message,
                ..
            }) => Parsed::Bad(BadRow {
                line,
                errors: vec![FieldError {
                    column: column.unwrap_or_else(|| "(row)".into()),
                    value: String::new(),
                    reason: message,
                }],
                cells: Vec::new(),
            }),
            Err(e) => unreachable!("the reader stops at {e}"),
        })
        .collect()
}

fn sha256(source: &mut impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The cells at `lines` (for the rejected rows), read again from the source.
fn rows_at(
    source: &Shared,
    name: &str,
    limits: &table::Limits,
    lines: &BTreeSet<u64>,
) -> Result<BTreeMap<u64, Vec<String>>> {
    let mut out = BTreeMap::new();
    for row in source.open(name, limits)?.rows {
        // Bad rows were reported on the first pass.
        let row = match row {
            Ok(row) => row,
            Err(e) if e.stops() => return Err(e.into()),
            Err(_) => continue,
        };
        if lines.contains(&row.line) {
            out.insert(row.line, row.cells.to_vec());
            if out.len() == lines.len() {
                break;
            }
        }
    }
    Ok(out)
}

/// The bad rows as CSV: line, reason, then the original columns, so they can be fixed and
/// imported again.
fn write_rejects(
    out: &mut (dyn Write + Send),
    name: &str,
    headers: &[String],
    bad: &[BadRow],
) -> Result<()> {
    let mut head: Vec<&str> = vec!["line", "errors"];
    head.extend(headers.iter().map(String::as_str));
    let rows = bad.iter().map(|b| {
        let mut row = vec![
            b.line.to_string(),
            b.errors
                .iter()
                .map(|e| format!("{}: {}", e.column, e.reason))
                .collect::<Vec<_>>()
                .join("; "),
        ];
        row.extend(b.cells.iter().cloned());
        row
    });
    let name = format!("{name} (rejected rows)");
    Ok(table::write(out, &name, Format::Csv, &head, rows)?)
}

/// Writes the records valid at `at` (default: now) to `out` under the import headers, sorted by
/// key; `name` is what errors call the output.
pub async fn export(
    store: &dyn Store,
    kind: Kind,
    at: Option<Seq>,
    out: &mut (dyn std::io::Write + Send),
    name: &str,
    format: Format,
) -> Result<u64> {
    let mut read = store.begin_read().await?;
    let at = match at {
        Some(a) => a,
        None => read.head().await?,
    };
    let mut records: Vec<(String, Record)> = Vec::new();
    {
        let mut batches = read.scan(kind, at);
        while let Some(batch) = batches.try_next().await? {
            for data in batch.split('\n') {
                let rec = Record::from_data(kind, data).map_err(|e| {
                    crate::store::StoreError::Corrupt(format!("{} {data:.60}: {e}", kind.as_str()))
                })?;
                records.push((rec.key(), rec));
            }
        }
    }
    records.sort_by(|a, b| a.0.cmp(&b.0));
    let mut attributes = BTreeSet::new();
    for (_, r) in &records {
        if let Some(a) = r.attributes() {
            attributes.extend(a.keys().cloned());
        }
    }
    let mut headers = kind.headers();
    headers.extend(attributes.iter().map(String::as_str));
    let n = records.len() as u64;
    let rows = records.iter().map(|(_, r)| {
        let mut row = r.to_row();
        if let Some(a) = r.attributes() {
            row.extend(
                attributes
                    .iter()
                    .map(|k| a.get(k).cloned().unwrap_or_default()),
            );
        }
        row
    });
    table::write(out, name, format, &headers, rows)?;
    Ok(n)
}
