//! Officers' tabular files: CSV (UTF-8, optional BOM) and Excel `.xlsx`, read as header + rows of
//! text cells, streamed so a ten-million-row file never sits in memory. Also the export writers.
//! Files come as byte sources with a display name (a path, an upload's name) that every error
//! names; opening and atomically replacing files is the caller's business.

use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::library::columns;

mod archive;
mod excel_text;
mod limits;
pub mod xlsx;

pub use archive::check_archive;
pub use limits::{Limits, cell_problem};

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file cannot be read at all.
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// A bad row; reading goes on.
    #[error("{file}: line {line}{}: {message}", in_column(.column))]
    Line {
        file: String,
        line: u64,
        /// The column's header as the file writes it, when the problem is one cell's.
        column: Option<String>,
        message: String,
    },
    /// A row the reader cannot get past (a field over its limit, a file over its row limit):
    /// reading stops there, so the file is refused as a whole.
    #[error("{file}: line {line}{}: {message}; reading stopped", in_column(.column))]
    Stopped {
        file: String,
        line: u64,
        column: Option<String>,
        message: String,
    },
}

fn in_column(column: &Option<String>) -> String {
    column
        .as_ref()
        .map(|c| format!(", column {c}"))
        .unwrap_or_default()
}

impl TableError {
    /// Whether reading ended here (no further rows follow).
    pub fn stops(&self) -> bool {
        !matches!(self, TableError::Line { .. })
    }
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
    /// Extra cells are an error only when not empty (spreadsheet exports end rows with
    /// commas); a short row is an error.
    Lenient,
    /// Every row has exactly the header's fields.
    Strict,
}

/// Opens `source`, named `name` (its extension gives the format), for import, within the
/// default [`Limits`].
pub fn open(source: Box<dyn Source>, name: &str) -> Result<Table, TableError> {
    open_with(source, name, &Limits::default())
}

/// [`open`] within `limits`.
pub fn open_with(
    mut source: Box<dyn Source>,
    name: &str,
    limits: &Limits,
) -> Result<Table, TableError> {
    match Format::of(name) {
        Format::Xlsx => xlsx::open(source, name, limits),
        Format::Csv => {
            let size = remaining(&mut source).map_err(|e| file_error(name, e.to_string()))?;
            let table = open_csv_with(source, name, Ragged::Lenient, limits)?;
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

/// Opens a CSV file (UTF-8, a byte-order mark skipped) within the default [`Limits`].
pub fn open_csv(
    source: impl Read + Send + 'static,
    name: &str,
    ragged: Ragged,
) -> Result<Table, TableError> {
    open_csv_with(source, name, ragged, &Limits::default())
}

/// A header line longer than this is not a header.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// The reader's source, refusing to hand the parser more than `allowed` bytes in all: the row
/// iterator moves the bound past each row it finishes, so one row (a huge field, an open
/// quote) is never held whole. Returns [`Overlong`] when the bound is reached.
struct Bounded<R> {
    inner: R,
    read: u64,
    allowed: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Overlong;

impl std::fmt::Display for Overlong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("row over its limit")
    }
}

impl std::error::Error for Overlong {}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read > self.allowed.load(Ordering::Relaxed) {
            return Err(std::io::Error::other(Overlong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn is_overlong(e: &csv::Error) -> bool {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|e| e.is::<Overlong>()),
        _ => false,
    }
}

/// [`open_csv`] within `limits`: a row with fewer fields than the header, a cell with a
/// control character or over `max_field_bytes` is a bad row; a row too long to hold (more
/// bytes than its fields may have, e.g. an open quote running on) stops the reader.
pub fn open_csv_with(
    source: impl Read + Send + 'static,
    name: &str,
    ragged: Ragged,
    limits: &Limits,
) -> Result<Table, TableError> {
    let mut r = BufReader::with_capacity(1 << 20, source);
    let head = r.fill_buf().map_err(|e| file_error(name, e.to_string()))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        r.consume(3);
    }
    let allowed = Arc::new(AtomicU64::new(MAX_HEADER_BYTES));
    let bounded = Bounded {
        inner: r,
        read: 0,
        allowed: allowed.clone(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bounded);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_owned()).collect(),
        Err(e) if is_overlong(&e) => {
            return Err(file_error(
                name,
                format!("line 1: the header is longer than {MAX_HEADER_BYTES} bytes"),
            ));
        }
        Err(e) => return Err(csv_error(name, &e)),
    };
    for (i, h) in headers.iter().enumerate() {
        if let Some(problem) = cell_problem(h, limits.max_field_bytes) {
            return Err(file_error(
                name,
                format!("line 1: header {}: {problem}", i + 1),
            ));
        }
    }
    let width = headers.len();
    // A row's raw bytes: each field at most doubled by quoting, plus quotes and separators;
    // what the parser may have read ahead of the row is its own 8 KiB buffer.
    let row_bytes = (width.max(1) as u64) * (2 * limits.max_field_bytes as u64 + 3) + (8 << 10);
    let file = name.to_owned();
    let limits = *limits;
    let mut record = csv::StringRecord::new();
    let mut start = reader.position().clone();
    allowed.store(start.byte() + row_bytes, Ordering::Relaxed);
    let mut rows = 0u64;
    let mut stopped = false;
    let header_names = headers.clone();
    let rows = std::iter::from_fn(move || {
        if stopped {
            return None;
        }
        let stop = |line: u64, column: Option<String>, message: String| {
            Some(Err(TableError::Stopped {
                file: file.clone(),
                line,
                column,
                message,
            }))
        };
        let result = reader.read_record(&mut record);
        let line = start.line();
        // The next row's bound starts where this one ended.
        start = reader.position().clone();
        allowed.store(start.byte() + row_bytes, Ordering::Relaxed);
        match result {
            Ok(false) => None,
            Err(e) if is_overlong(&e) => {
                stopped = true;
                let message = format!(
                    "the row is longer than its {width} fields may be ({} bytes each, \
                     [import] max_field_bytes): a field too long, or a quote left open",
                    limits.max_field_bytes
                );
                stop(line, None, message)
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                stopped = true;
                stop(line, None, format!("cannot read on: {e}"))
            }
            // A row that is not UTF-8 is a bad row; reading goes on.
            Err(e) => Some(Err(csv_error(&file, &e))),
            Ok(true) => {
                let (line, pos) = record.position().map_or((0, 0), |p| (p.line(), p.byte()));
                rows += 1;
                if rows > limits.max_rows {
                    stopped = true;
                    let message =
                        format!("more than {} rows ([import] max_rows)", limits.max_rows);
                    return stop(line, None, message);
                }
                Some(csv_row(&record, line, pos, &file, &header_names, ragged, &limits))
            }
        }
    });
    // The size, for a progress bar, is known only to a caller that can seek.
    Ok(Table {
        headers,
        rows: Box::new(rows),
        size: 0,
    })
}

/// A parsed CSV record as a row of trimmed cells, or why it is a bad row.
fn csv_row(
    record: &csv::StringRecord,
    line: u64,
    pos: u64,
    file: &str,
    headers: &[String],
    ragged: Ragged,
    limits: &Limits,
) -> Result<Row, TableError> {
    let width = headers.len();
    let bad = |column: Option<String>, message: String| TableError::Line {
        file: file.to_owned(),
        line,
        column,
        message,
    };
    let ragged = match ragged {
        Ragged::Strict => record.len() != width,
        Ragged::Lenient => {
            record.len() < width
                || record.iter().skip(width).any(|c| !c.trim().is_empty())
        }
    };
    if ragged {
        let message = format!("row has {} fields, the header has {width}", record.len());
        return Err(bad(None, message));
    }
    // One pass over the row's bytes finds nothing in almost every row.
    if record.as_slice().len() > limits.max_field_bytes
        || cell_problem(record.as_slice(), usize::MAX).is_some()
    {
        for (i, c) in record.iter().take(width).enumerate() {
            if let Some(problem) = cell_problem(c.trim(), limits.max_field_bytes) {
                return Err(bad(Some(headers[i].clone()), problem));
            }
        }
    }
    let mut cells = csv::StringRecord::with_capacity(record.as_slice().len(), width);
    for c in record.iter().take(width) {
        cells.push_field(c.trim());
    }
    Ok(Row {
        line,
        cells: Cells(cells),
        pos,
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
        column: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, limits: &Limits) -> (Vec<String>, Vec<Result<Row, TableError>>) {
        let t = open_csv_with(
            std::io::Cursor::new(text.as_bytes().to_vec()),
            "o.csv",
            Ragged::Lenient,
            limits,
        )
        .unwrap();
        (t.headers, t.rows.collect())
    }

    /// (line, column, message) of a bad row.
    fn bad(r: &Result<Row, TableError>) -> (u64, Option<String>, String) {
        match r {
            Err(TableError::Line {
                line,
                column,
                message,
                ..
            }) => (*line, column.clone(), message.clone()),
            other => panic!("expected a bad row, got {other:?}"),
        }
    }

    #[test]
    fn short_rows_open_quotes_and_controls_are_bad_rows_and_reading_goes_on() {
        let text = "id,name,status\n\
                    91420704A63ULP8009,short row\n\
                    9144030071526726XG,a\0b,active\n\
                    914403001922038216,ok,revoked\n\
                    91330100799655058B,\u{202E}evil,active\n\
                    91420700MA4KXXXX1X,trailing comma,active,\n\
                    91420700MA4KXXXX2X,\"open quote,active\n\
                    91420700MA4KXXXX3X,swallowed,active\n";
        let (headers, rows) = read(text, &Limits::default());
        assert_eq!(headers, ["id", "name", "status"]);
        assert_eq!(rows.len(), 6, "{rows:?}");
        assert_eq!(
            bad(&rows[0]),
            (2, None, "row has 2 fields, the header has 3".into())
        );
        assert_eq!(
            bad(&rows[1]),
            (
                3,
                Some("name".into()),
                "has a control character (U+0000) at character 2".into()
            )
        );
        assert_eq!(rows[2].as_ref().unwrap().cells.to_vec(), ["914403001922038216", "ok", "revoked"]);
        let (line, column, message) = bad(&rows[3]);
        assert_eq!((line, column.as_deref()), (5, Some("name")));
        assert!(message.contains("bidirectional"), "{message}");
        // An empty cell past the header is a spreadsheet's trailing comma, not data.
        assert_eq!(rows[4].as_ref().unwrap().line, 6);
        // The open quote runs to the end of the file: the row is short, its cell spans lines.
        let (line, _, message) = bad(&rows[5]);
        assert_eq!((line, message.as_str()), (7, "row has 2 fields, the header has 3"));
        let last_column = "id,name\nP-1,\"open\nP-2,b\n";
        let (_, rows) = read(last_column, &Limits::default());
        let (line, column, message) = bad(&rows[0]);
        assert_eq!((line, column.as_deref()), (2, Some("name")));
        assert!(message.contains("line break (a quote left open?)"), "{message}");
    }

    #[test]
    fn a_field_over_its_limit_is_a_bad_row() {
        let limits = Limits {
            max_field_bytes: 10,
            ..Limits::default()
        };
        let (_, rows) = read("id,name\nP-1,0123456789\nP-2,0123456789x\nP-3,c\n", &limits);
        assert!(rows[0].is_ok());
        assert_eq!(
            bad(&rows[1]),
            (
                3,
                Some("name".into()),
                "longer than 10 bytes ([import] max_field_bytes)".into()
            )
        );
        assert!(rows[2].is_ok());
    }

    /// A gigabyte-long field, made as it is read: the reader stops within the row's bound and
    /// never asks for the rest.
    #[test]
    fn a_huge_field_stops_the_reader_without_being_held() {
        struct Huge {
            head: std::io::Cursor<&'static [u8]>,
            left: u64,
            served: Arc<AtomicU64>,
        }
        impl Read for Huge {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.head.read(buf)?;
                let n = if n > 0 {
                    n
                } else {
                    let n = (buf.len() as u64).min(self.left) as usize;
                    buf[..n].fill(b'x');
                    self.left -= n as u64;
                    n
                };
                self.served.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
        }
        let served = Arc::new(AtomicU64::new(0));
        let source = Huge {
            head: std::io::Cursor::new(b"id,name\nP-1,a\nP-2,\"".as_slice()),
            left: 1 << 30,
            served: served.clone(),
        };
        let t = open_csv_with(source, "huge.csv", Ragged::Lenient, &Limits::default()).unwrap();
        let rows: Vec<_> = t.rows.collect();
        assert_eq!(rows.len(), 2, "the reader ends at the stop");
        assert!(rows[0].is_ok());
        match &rows[1] {
            Err(e @ TableError::Stopped { line: 3, .. }) => {
                assert!(e.to_string().contains("a quote left open"), "{e}")
            }
            other => panic!("expected a stop at line 3, got {other:?}"),
        }
        // The row's bound (2 fields of 64 KiB, doubled for quoting) plus the read-ahead buffer.
        let read = served.load(Ordering::Relaxed);
        assert!(read < 3 << 20, "read {read} bytes of a 1 GiB field");
    }

    #[test]
    fn too_many_rows_stop_the_reader() {
        let limits = Limits {
            max_rows: 2,
            ..Limits::default()
        };
        let (_, rows) = read("id\n1\n2\n3\n4\n", &limits);
        assert_eq!(rows.len(), 3);
        assert!(matches!(&rows[2], Err(TableError::Stopped { line: 4, .. })), "{rows:?}");
    }
}
