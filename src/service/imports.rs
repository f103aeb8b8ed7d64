//! Bulk import (one transaction per file, every bad row reported, optional reject file) and
//! export (the same columns, so an export imports back unchanged).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Actor, Result, ServiceError};
use crate::library::{FieldError, Kind, Parser, Record};
use crate::store::{AuditDraft, ImportCounts, Seq, Staged, Store};
use crate::table::{self, Format, Row, TableError};

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Import the good rows and write the bad ones to `reject_file`.
    pub skip_invalid: bool,
    /// Default: `<file>.rejects.csv` beside the input.
    pub reject_file: Option<PathBuf>,
    pub progress: bool,
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
    pub file: PathBuf,
    pub rows: u64,
    #[serde(flatten)]
    pub counts: ImportCounts,
    pub rejected: u64,
    /// Whether the import went through (possibly changing nothing).
    pub committed: bool,
    /// The audit position of the import; `None` when nothing was written.
    pub seq: Option<Seq>,
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

/// Reads, validates and stores `file`. Nothing is written unless every row is good or
/// `skip_invalid` is set; the report lists every bad row either way.
pub async fn import(
    store: &dyn Store,
    kind: Kind,
    file: &Path,
    options: &ImportOptions,
    actor: &Actor,
) -> Result<ImportReport> {
    let t = table::open(file)?;
    let parser = Parser::new(kind, &t.headers).map_err(|m| {
        ServiceError::Table(TableError::File {
            file: file.to_owned(),
            message: m,
        })
    })?;
    let headers = t.headers.clone();
    let hasher = {
        let file = file.to_owned();
        std::thread::spawn(move || file_sha256(&file))
    };
    let bar = progress_bar(options.progress, t.size, kind);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Parsed>>(4);
    let reader = {
        let bar = bar.clone();
        let mut rows = t.rows;
        std::thread::spawn(move || -> std::result::Result<(), TableError> {
            loop {
                let mut batch: Vec<Result<Row, TableError>> = Vec::with_capacity(BATCH);
                for r in rows.by_ref().take(BATCH) {
                    // A file that cannot be read on (not a bad row): the import stops, and
                    // dropping the channel rolls it back.
                    if let Err(e @ TableError::File { .. }) = r {
                        return Err(e);
                    }
                    batch.push(r);
                }
                if batch.is_empty() {
                    return Ok(());
                }
                if let (Some(bar), Some(Ok(last))) = (&bar, batch.last()) {
                    bar.set_position(last.pos);
                }
                let parsed: Vec<Parsed> = batch
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
                                cells: row.cells,
                            }),
                        },
                        Err(TableError::Line { line, message, .. }) => Parsed::Bad(BadRow {
                            line,
                            errors: vec![FieldError {
                                column: "(row)".into(),
                                value: String::new(),
                                reason: message,
                            }],
                            cells: Vec::new(),
                        }),
                        Err(TableError::File { .. }) => unreachable!("stopped above"),
                    })
                    .collect();
                if tx.blocking_send(parsed).is_err() {
                    return Ok(()); // the importer stopped; its error is reported
                }
            }
        })
    };

    let mut import = store.begin_import(kind).await?;
    let mut bad = Vec::new();
    let mut rows = 0u64;
    while let Some(batch) = rx.recv().await {
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
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let duplicates = import.duplicates().await?;
    if !duplicates.is_empty() {
        let key_column = kind.columns()[0][0];
        let lines: BTreeMap<u64, (String, i64)> = duplicates
            .iter()
            .map(|d| (d.line as u64, (d.key.clone(), d.first_line)))
            .collect();
        let cells = if options.skip_invalid {
            rows_at(file, &lines.keys().copied().collect())?
        } else {
            BTreeMap::new()
        };
        for (line, (key, first)) in lines {
            bad.push(BadRow {
                line,
                errors: vec![FieldError {
                    column: key_column.into(),
                    value: key,
                    reason: format!("duplicate: the same record is at line {first}, which is kept"),
                }],
                cells: cells.get(&line).cloned().unwrap_or_default(),
            });
        }
    }
    bad.sort_by_key(|b| b.line);
    let sha256 = hasher
        .join()
        .map_err(|_| ServiceError::Invalid("the file hasher panicked".into()))?
        .map_err(|e| ServiceError::Invalid(format!("{}: {e}", file.display())))?;
    let mut report = ImportReport {
        kind: kind.as_str(),
        file: file.to_owned(),
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
    if !report.bad.is_empty() {
        let path = options
            .reject_file
            .clone()
            .unwrap_or_else(|| default_reject_path(file));
        write_rejects(&path, &headers, &report.bad)?;
        report.reject_file = Some(path);
    }
    let draft = AuditDraft {
        actor: actor.name.clone(),
        action: "import".into(),
        subject: kind.as_str().into(),
        reason: actor.reason.clone(),
        detail: serde_json::json!({
            "file": file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "file_sha256": sha256,
            "rows": rows,
            "rejected": report.rejected,
        }),
    };
    match import.commit(draft).await {
        Ok((counts, entry)) => {
            report.counts = counts;
            report.committed = true;
            report.seq = entry.map(|e| e.seq);
            Ok(report)
        }
        Err(e) => {
            if let Some(p) = &report.reject_file {
                let _ = std::fs::remove_file(p);
            }
            Err(e.into())
        }
    }
}

fn progress_bar(show: bool, size: u64, kind: Kind) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !show || size == 0 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {percent}% (eta {eta})",
        )
        .expect("valid template"),
    );
    bar.set_message(format!("importing {}", kind.as_str()));
    Some(bar)
}

fn file_sha256(file: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(file)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The cells at `lines` (for a reject file), read again from the file.
fn rows_at(file: &Path, lines: &BTreeSet<u64>) -> Result<BTreeMap<u64, Vec<String>>> {
    let mut out = BTreeMap::new();
    for row in table::open(file)?.rows {
        let row = row?;
        if lines.contains(&row.line) {
            out.insert(row.line, row.cells);
            if out.len() == lines.len() {
                break;
            }
        }
    }
    Ok(out)
}

pub fn default_reject_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".rejects.csv");
    file.with_file_name(name)
}

/// The bad rows as CSV: line, reason, then the original columns, so they can be fixed and
/// imported again.
fn write_rejects(path: &Path, headers: &[String], bad: &[BadRow]) -> Result<()> {
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
    Ok(table::write_file(path, Format::Csv, &head, rows)?)
}

/// Writes the records valid at `at` (default: now) under the import headers, sorted by key.
pub async fn export(
    store: &dyn Store,
    kind: Kind,
    at: Option<Seq>,
    out: &Path,
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
    let mut headers: Vec<&str> = kind.columns().iter().map(|a| a[0]).collect();
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
    table::write_file(out, format, &headers, rows)?;
    Ok(n)
}
