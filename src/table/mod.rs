//! Officers' tabular files: CSV (UTF-8, optional BOM) and Excel `.xlsx`, read as header + rows of
//! text cells, streamed so a ten-million-row file never sits in memory. Also the export writers.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub mod xlsx;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{file}: {message}", file = file.display())]
    File { file: PathBuf, message: String },
    #[error("{file}: line {line}: {message}", file = file.display())]
    Line {
        file: PathBuf,
        line: u64,
        message: String,
    },
}

pub(crate) fn file_error(file: &Path, message: impl Into<String>) -> TableError {
    TableError::File {
        file: file.to_owned(),
        message: message.into(),
    }
}

/// One data row: its line in the file (CSV line, or Excel row number; the header is line 1)
/// and its cells, trimmed, one per header column (missing trailing cells are empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
    /// Progress through the file in the unit of [`Table::size`] (CSV: bytes; xlsx: rows).
    pub pos: u64,
}

pub type Rows = Box<dyn Iterator<Item = Result<Row, TableError>> + Send>;

/// An open file: its header row and an iterator over the data rows.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Rows,
    /// The file's extent for a progress bar, in the unit of [`Row::pos`]; 0 when unknown.
    pub size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Xlsx,
    Json,
}

impl Format {
    /// By extension: `.xlsx` is Excel, `.json` JSON, anything else CSV.
    pub fn of(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("xlsx") => Self::Xlsx,
            Some("json") => Self::Json,
            _ => Self::Csv,
        }
    }
}

pub fn open(path: &Path) -> Result<Table, TableError> {
    match Format::of(path) {
        Format::Xlsx => xlsx::open(path),
        Format::Csv => open_csv(path),
        Format::Json => Err(file_error(
            path,
            "JSON is an export format; import CSV or .xlsx",
        )),
    }
}

fn open_csv(path: &Path) -> Result<Table, TableError> {
    let f = File::open(path).map_err(|e| file_error(path, e.to_string()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = BufReader::with_capacity(1 << 20, f);
    let head = r.fill_buf().map_err(|e| file_error(path, e.to_string()))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        r.consume(3);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(Box::new(r) as Box<dyn Read + Send>);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let width = headers.len();
    let file = path.to_owned();
    let mut record = csv::StringRecord::new();
    let rows = std::iter::from_fn(move || match reader.read_record(&mut record) {
        Ok(false) => None,
        Err(e) => Some(Err(csv_error(&file, &e))),
        Ok(true) => {
            let (line, pos) = record.position().map_or((0, 0), |p| (p.line(), p.byte()));
            if record.len() > width && record.iter().skip(width).any(|c| !c.trim().is_empty()) {
                return Some(Err(TableError::Line {
                    file: file.clone(),
                    line,
                    message: format!("row has {} fields, the header has {width}", record.len()),
                }));
            }
            let mut cells: Vec<String> = record
                .iter()
                .take(width)
                .map(|c| c.trim().to_owned())
                .collect();
            cells.resize(width, String::new());
            Some(Ok(Row { line, cells, pos }))
        }
    });
    Ok(Table {
        headers,
        rows: Box::new(rows),
        size,
    })
}

fn csv_error(file: &Path, e: &csv::Error) -> TableError {
    let line = e.position().map_or(1, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 (save the file as UTF-8)".into(),
        _ => e.to_string(),
    };
    TableError::Line {
        file: file.to_owned(),
        line,
        message,
    }
}

/// Writes `headers` and `rows` as CSV, `.xlsx` or a JSON array of objects. The caller makes the
/// write atomic (it writes to a temporary path and renames).
pub fn write(
    path: &Path,
    format: Format,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), TableError> {
    let io = |e: std::io::Error| file_error(path, e.to_string());
    match format {
        Format::Xlsx => xlsx::write(path, headers, rows),
        Format::Csv => {
            let f = File::create(path).map_err(io)?;
            let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, f));
            w.write_record(headers)
                .map_err(|e| file_error(path, e.to_string()))?;
            for row in rows {
                w.write_record(&row)
                    .map_err(|e| file_error(path, e.to_string()))?;
            }
            let f = w
                .into_inner()
                .map_err(|e| file_error(path, e.to_string()))?;
            f.into_inner()
                .map_err(|e| io(e.into_error()))?
                .sync_all()
                .map_err(io)
        }
        Format::Json => {
            let f = File::create(path).map_err(io)?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            w.write_all(b"[").map_err(io)?;
            for (n, row) in rows.enumerate() {
                let object: serde_json::Map<String, serde_json::Value> = headers
                    .iter()
                    .zip(row)
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(h, v)| ((*h).to_owned(), serde_json::Value::String(v)))
                    .collect();
                w.write_all(if n == 0 { b"\n" } else { b",\n" })
                    .map_err(io)?;
                serde_json::to_writer(&mut w, &object)
                    .map_err(|e| file_error(path, e.to_string()))?;
            }
            w.write_all(b"\n]\n").map_err(io)?;
            w.into_inner()
                .map_err(|e| io(e.into_error()))?
                .sync_all()
                .map_err(io)
        }
    }
}

/// [`write`] to a temporary file beside `path`, renamed into place only when complete, so a
/// failed export leaves no partial file.
pub fn write_file(
    path: &Path,
    format: Format,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), TableError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e.to_string()))?;
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = write(&tmp, format, headers, rows)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| file_error(path, e.to_string())));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| match e {
        TableError::File { message, .. } => file_error(path, message),
        other => other,
    })
}
