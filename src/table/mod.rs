//! Officers' tabular files: CSV (UTF-8, optional BOM) and Excel `.xlsx`, read as header + rows of
//! text cells, streamed so a ten-million-row file never sits in memory. Also the export writers.
//! Files come as byte sources with a display name (a path, an upload's name) that every error
//! names; opening and atomically replacing files is the caller's business.

use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use crate::library::columns;

pub mod xlsx;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: line {line}: {message}")]
    Line {
        file: String,
        line: u64,
        message: String,
    },
}

pub(crate) fn file_error(file: &str, message: impl Into<String>) -> TableError {
    TableError::File {
        file: file.to_owned(),
        message: message.into(),
    }
}

/// What a file is read from: `.xlsx` is a zip archive, which needs seeking.
pub trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

/// A row's cells, trimmed: one buffer for the row, not one allocation per cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cells(csv::StringRecord);

impl Cells {
    pub fn get(&self, i: usize) -> Option<&str> {
        self.0.get(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter()
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Cells {
    fn from_iter<I: IntoIterator<Item = S>>(cells: I) -> Self {
        let mut record = csv::StringRecord::new();
        for c in cells {
            record.push_field(c.as_ref());
        }
        Self(record)
    }
}

impl columns::Cells for Cells {
    fn cell(&self, i: usize) -> Option<&str> {
        self.get(i)
    }
}

/// One data row: its line in the file (CSV line, or Excel row number; the header is line 1)
/// and its cells, trimmed, one per header column (missing trailing cells are empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub cells: Cells,
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
    pub fn of(name: &str) -> Self {
        match Path::new(name)
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

/// How a CSV row whose field count differs from the header's is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ragged {
    /// Short rows are padded; extra cells are an error only when not empty (spreadsheet
    /// exports).
    Lenient,
    /// Every row has exactly the header's fields.
    Strict,
}

/// Opens `source`, named `name` (its extension gives the format), for import.
pub fn open(mut source: Box<dyn Source>, name: &str) -> Result<Table, TableError> {
    match Format::of(name) {
        Format::Xlsx => xlsx::open(source, name),
        Format::Csv => {
            let size = remaining(&mut source).map_err(|e| file_error(name, e.to_string()))?;
            let table = open_csv(source, name, Ragged::Lenient)?;
            Ok(Table { size, ..table })
        }
        Format::Json => Err(file_error(
            name,
            "JSON is an export format; import CSV or .xlsx",
        )),
    }
}

/// The bytes from the current position to the end, the position unchanged.
fn remaining(source: &mut dyn Source) -> std::io::Result<u64> {
    let at = source.stream_position()?;
    let end = source.seek(std::io::SeekFrom::End(0))?;
    source.seek(std::io::SeekFrom::Start(at))?;
    Ok(end - at)
}

/// Opens a CSV file (UTF-8, a byte-order mark skipped).
pub fn open_csv(
    source: impl Read + Send + 'static,
    name: &str,
    ragged: Ragged,
) -> Result<Table, TableError> {
    let mut r = BufReader::with_capacity(1 << 20, source);
    let head = r.fill_buf().map_err(|e| file_error(name, e.to_string()))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        r.consume(3);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(r);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(name, &e))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let width = headers.len();
    let file = name.to_owned();
    let mut record = csv::StringRecord::new();
    let rows = std::iter::from_fn(move || match reader.read_record(&mut record) {
        Ok(false) => None,
        Err(e) => Some(Err(csv_error(&file, &e))),
        Ok(true) => {
            let (line, pos) = record.position().map_or((0, 0), |p| (p.line(), p.byte()));
            let ragged = match ragged {
                Ragged::Strict => record.len() != width,
                Ragged::Lenient => {
                    record.len() > width && record.iter().skip(width).any(|c| !c.trim().is_empty())
                }
            };
            if ragged {
                return Some(Err(TableError::Line {
                    file: file.clone(),
                    line,
                    message: format!("row has {} fields, the header has {width}", record.len()),
                }));
            }
            let mut cells = csv::StringRecord::with_capacity(record.as_slice().len(), width);
            for c in record.iter().take(width) {
                cells.push_field(c.trim());
            }
            for _ in record.len()..width {
                cells.push_field("");
            }
            Some(Ok(Row {
                line,
                cells: Cells(cells),
                pos,
            }))
        }
    });
    // The size, for a progress bar, is known only to a caller that can seek.
    Ok(Table {
        headers,
        rows: Box::new(rows),
        size: 0,
    })
}

fn csv_error(file: &str, e: &csv::Error) -> TableError {
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

/// Writes `headers` and `rows` to `out` as CSV, `.xlsx` or a JSON array of objects; `name`
/// is what errors call the output.
pub fn write(
    out: &mut (dyn Write + Send),
    name: &str,
    format: Format,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), TableError> {
    let io = |e: std::io::Error| file_error(name, e.to_string());
    match format {
        Format::Xlsx => xlsx::write(out, name, headers, rows),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, out));
            w.write_record(headers)
                .map_err(|e| file_error(name, e.to_string()))?;
            for row in rows {
                w.write_record(&row)
                    .map_err(|e| file_error(name, e.to_string()))?;
            }
            w.flush().map_err(io)
        }
        Format::Json => {
            let mut w = BufWriter::with_capacity(1 << 20, out);
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
                    .map_err(|e| file_error(name, e.to_string()))?;
            }
            w.write_all(b"\n]\n").map_err(io)?;
            w.flush().map_err(io)
        }
    }
}
