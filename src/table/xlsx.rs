//! Excel `.xlsx`: the first worksheet streamed as header + text rows, and the export writer.
//!
//! Reading runs calamine's cell reader on its own thread: the reader borrows the workbook, so a
//! thread that owns both is the simplest way to hand out a `'static + Send` row iterator, and the
//! bounded channel keeps memory flat however long the sheet is.

use std::io::{BufReader, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use calamine::{Reader, SheetType, Xlsx};

use super::excel_text::{cell_text, column_name};
use super::{Limits, Row, Source, Table, TableError, cell_problem, check_archive, file_error};

type Workbook = Xlsx<BufReader<Box<dyn Source>>>;

/// Rows per channel message: amortises the channel cost without holding much in flight.
const BATCH: usize = 512;
/// Excel's sheet has 1,048,576 rows; one is the header.
const MAX_DATA_ROWS: usize = 1_048_575;

type Header = Result<(Vec<String>, u64), TableError>;
type Batch = Vec<Result<Row, TableError>>;

/// Opens the first worksheet of the workbook in `source`, held to `limits`: the archive is
/// checked first (`check_archive`), rows and cells are counted as they come.
pub fn open(mut source: Box<dyn Source>, name: &str, limits: &Limits) -> Result<Table, TableError> {
    check_archive(&mut *source, name, limits)?;
    let path = name;
    let mut wb: Workbook = Xlsx::new(BufReader::new(source))
        .map_err(|e| file_error(path, format!("not an .xlsx workbook: {e}")))?;
    let sheet = wb
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| file_error(path, "the workbook has no worksheet"))?;
    let (head_tx, head_rx) = sync_channel(1);
    let (tx, rx) = sync_channel(4);
    let file = path.to_owned();
    let limits = *limits;
    let reader = std::thread::Builder::new()
        .name("xlsx-reader".into())
        .spawn(move || read_sheet(&mut wb, &sheet, &file, &limits, head_tx, tx))
        .map_err(|e| file_error(path, format!("cannot start the xlsx reader: {e}")))?;
    let (headers, size) = head_rx
        .recv()
        .map_err(|_| file_error(path, "the xlsx reader stopped unexpectedly"))??;
    let rows = XlsxRows {
        rx,
        batch: Vec::new().into_iter(),
        reader: Some(reader),
        file: path.to_owned(),
    };
    Ok(Table {
        headers,
        rows: Box::new(rows),
        size,
    })
}

struct XlsxRows {
    rx: Receiver<Batch>,
    batch: std::vec::IntoIter<Result<Row, TableError>>,
    reader: Option<JoinHandle<()>>,
    file: String,
}

impl Iterator for XlsxRows {
    type Item = Result<Row, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.batch.next() {
                return Some(row);
            }
            match self.rx.recv() {
                Ok(batch) => self.batch = batch.into_iter(),
                // The channel closes when the reader ends; a panic must not pass for end of file.
                Err(_) => {
                    let crashed = self.reader.take().is_some_and(|h| h.join().is_err());
                    return crashed.then(|| Err(file_error(&self.file, "the xlsx reader crashed")));
                }
            }
        }
    }
}

/// The cells of the row being assembled: non-empty texts by column and the row's first
/// problem (with its column's header, when it is one cell's).
#[derive(Default)]
struct Pending {
    row: u32,
    cells: Vec<(u32, String)>,
    error: Option<(Option<String>, String)>,
}

impl Pending {
    fn line_error(&mut self, file: &str) -> Option<TableError> {
        self.error.take().map(|(column, message)| TableError::Line {
            file: file.to_owned(),
            line: u64::from(self.row) + 1,
            column,
            message,
        })
    }
}

/// Reader thread: sends the header (or why there is none), then batches of rows. Stops when
/// the receiver is dropped.
fn read_sheet(
    wb: &mut Workbook,
    sheet: &str,
    file: &str,
    limits: &Limits,
    head_tx: SyncSender<Header>,
    tx: SyncSender<Batch>,
) {
    let is_1904 = wb.has_1904_epoch();
    let mut cells = match wb.worksheet_cells_reader(sheet) {
        Ok(c) => c,
        Err(e) => {
            let _ = head_tx.send(Err(file_error(file, format!("worksheet {sheet:?}: {e}"))));
            return;
        }
    };
    // Dimension is 0-based and defaults to A1 when absent, which is indistinguishable: say unknown.
    let end = cells.dimensions().end.0;
    let size = if end > 0 { u64::from(end) + 1 } else { 0 };
    let mut head_tx = Some(head_tx);
    let mut width = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    let mut pending = Pending::default();
    let mut headers: Vec<String> = Vec::new();
    let (mut rows, mut cells_read) = (0u64, 0u64);
    let stop = |line: u32, message: String| TableError::Stopped {
        file: file.to_owned(),
        line: u64::from(line) + 1,
        column: None,
        message,
    };
    loop {
        let next = cells.next_cell();
        let position = next
            .as_ref()
            .ok()
            .and_then(|c| c.as_ref().map(|c| c.get_position()));
        if position.is_none_or(|(row, _)| row != pending.row) {
            // The pending row is complete.
            let done = std::mem::take(&mut pending);
            let at = done.row;
            if let Some(result) = finish_row(done, file, width) {
                match (head_tx.take(), result) {
                    (Some(h), Ok(row)) => {
                        headers = row.cells.to_vec();
                        width = headers.len();
                        if h.send(Ok((headers.clone(), size))).is_err() {
                            return;
                        }
                    }
                    (Some(h), Err(e)) => {
                        let _ = h.send(Err(e));
                        return;
                    }
                    (None, result) => {
                        rows += 1;
                        if rows > limits.max_rows {
                            let limit = limits.max_rows;
                            batch.push(Err(stop(at, format!("more than {limit} rows ([import] max_rows)"))));
                            break;
                        }
                        batch.push(result)
                    }
                }
            }
            if batch.len() >= BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                return;
            }
        }
        let cell = match next {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => {
                let line = u64::from(pending.row) + 1;
                let e = file_error(file, format!("unreadable worksheet near row {line}: {e}"));
                match head_tx.take() {
                    Some(h) => drop(h.send(Err(e))),
                    None => batch.push(Err(e)),
                }
                break;
            }
        };
        let (row, col) = cell.get_position();
        cells_read += 1;
        if cells_read > limits.max_cells {
            let e = stop(row, format!("more than {} cells ([import] max_cells)", limits.max_cells));
            match head_tx.take() {
                Some(h) => drop(h.send(Err(e))),
                None => batch.push(Err(e)),
            }
            break;
        }
        pending.row = row;
        let column = || {
            let letter = column_name(col);
            match headers.get(col as usize).filter(|h| !h.is_empty()) {
                Some(h) => format!("{h} ({letter})"),
                None => letter,
            }
        };
        let text = cell_text(cell.get_value(), is_1904)
            .and_then(|t| match cell_problem(&t, limits.max_field_bytes) {
                Some(problem) => Err(problem),
                None => Ok(t),
            });
        match text {
            Ok(t) if t.is_empty() => {}
            Ok(_) if head_tx.is_none() && col as usize >= width => {
                let letter = column_name(col);
                let message = format!("row has a value in column {letter} beyond the header");
                pending.error.get_or_insert((None, message));
            }
            Ok(t) => pending.cells.push((col, t)),
            Err(m) => drop(pending.error.get_or_insert((Some(column()), m))),
        }
    }
    if let Some(h) = head_tx {
        let _ = h.send(Err(file_error(
            file,
            format!("worksheet {sheet:?} is empty"),
        )));
        return;
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
}

/// A finished row as a `Row` (the header is one too, its width taken from its last non-empty
/// cell), or `None` for an empty row, which is skipped.
fn finish_row(mut p: Pending, file: &str, width: usize) -> Option<Result<Row, TableError>> {
    if let Some(e) = p.line_error(file) {
        return Some(Err(e));
    }
    let last = p.cells.iter().map(|&(c, _)| c as usize).max()?;
    let mut cells = vec![String::new(); if width == 0 { last + 1 } else { width }];
    for (c, t) in p.cells {
        cells[c as usize] = t;
    }
    let line = u64::from(p.row) + 1;
    Some(Ok(Row {
        line,
        cells: cells.into_iter().collect(),
        pos: line,
    }))
}

/// Writes one worksheet: a bold, frozen header row, then every cell as a text string so long
/// codes keep every digit. Empty cells are left out.
pub fn write(
    out: &mut (dyn Write + Send),
    path: &str,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), TableError> {
    let err = |e: rust_xlsxwriter::XlsxError| file_error(path, e.to_string());
    let mut wb = rust_xlsxwriter::Workbook::new();
    // Rows stream to a temporary file, so a million-row export stays small in memory.
    let ws = wb.add_worksheet_with_constant_memory();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in headers.iter().enumerate() {
        let c = column(path, c)?;
        ws.write_string_with_format(0, c, *h, &bold).map_err(err)?;
    }
    ws.set_freeze_panes(1, 0).map_err(err)?;
    for (i, row) in rows.enumerate() {
        if i >= MAX_DATA_ROWS {
            return Err(file_error(
                path,
                "more than 1,048,575 rows do not fit in one .xlsx sheet; export as csv",
            ));
        }
        let r = i as u32 + 1;
        for (c, v) in row.into_iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r, column(path, c)?, v)
                    .map_err(|e| file_error(path, format!("row {}: {e}", r + 1)))?;
            }
        }
    }
    wb.save_to_writer(out).map_err(err)
}

fn column(path: &str, c: usize) -> Result<u16, TableError> {
    u16::try_from(c)
        .ok()
        .filter(|&c| c < 16_384)
        .ok_or_else(|| {
            file_error(
                path,
                "more than 16,384 columns do not fit in an .xlsx sheet",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_xlsxwriter::{Format, Formula, Workbook};
    use std::path::Path;

    fn open(path: &Path) -> Result<Table, TableError> {
        let f = std::fs::File::open(path).unwrap();
        super::open(Box::new(f), &path.display().to_string(), &Limits::default())
    }

    fn write(
        path: &Path,
        headers: &[&str],
        rows: impl Iterator<Item = Vec<String>>,
    ) -> Result<(), TableError> {
        let mut f = std::fs::File::create(path).unwrap();
        super::write(&mut f, &path.display().to_string(), headers, rows)
    }

    fn rows(t: Table) -> Vec<Result<Row, TableError>> {
        t.rows.collect()
    }

    fn ok(line: u64, cells: &[&str]) -> Row {
        Row {
            line,
            cells: cells.iter().collect(),
            pos: line,
        }
    }

    #[test]
    fn round_trip_keeps_text_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.xlsx");
        let data = vec![
            vec![
                "914403001922038216".into(),
                "深圳市某某科技有限公司".into(),
                " x ".into(),
            ],
            vec!["91440300MA5F0XXX1K".into(), String::new(), "0012".into()],
            vec!["3".into(), "测试".into()],
        ];
        write(
            &path,
            &["统一社会信用代码", "名称", "备注"],
            data.into_iter(),
        )
        .unwrap();
        let t = open(&path).unwrap();
        assert_eq!(t.headers, ["统一社会信用代码", "名称", "备注"]);
        assert_eq!(t.size, 4);
        let got: Vec<Row> = rows(t).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                ok(2, &["914403001922038216", "深圳市某某科技有限公司", "x"]),
                ok(3, &["91440300MA5F0XXX1K", "", "0012"]),
                ok(4, &["3", "测试", ""]),
            ]
        );
    }

    #[test]
    fn typed_cells_become_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typed.xlsx");
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        // Header starts on row 3 (Excel), after two empty rows; row 5 is empty and skipped.
        for (c, h) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            ws.write_string(2, c as u16, format!(" {h} ")).unwrap();
        }
        let d = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 3, 1).unwrap();
        let dt = d.clone().and_hms(14, 30, 5).unwrap();
        ws.write_datetime_with_format(3, 0, &d, &date).unwrap();
        ws.write_datetime_with_format(3, 1, &dt, &stamp).unwrap();
        ws.write_number(3, 2, 42.0).unwrap();
        ws.write_number(3, 3, -2.5).unwrap();
        ws.write_boolean(3, 4, true).unwrap();
        ws.write_number(5, 0, 123456789012345.0).unwrap();
        ws.write_number(5, 2, 0.1).unwrap();
        wb.save(&path).unwrap();

        let t = open(&path).unwrap();
        assert_eq!(t.headers, ["a", "b", "c", "d", "e"]);
        assert_eq!(t.size, 6);
        let got: Vec<Row> = rows(t).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                ok(
                    4,
                    &["2024-03-01", "2024-03-01 14:30:05", "42", "-2.5", "true"]
                ),
                ok(6, &["123456789012345", "", "0.1", "", ""]),
            ]
        );
    }

    #[test]
    fn bad_cells_are_line_errors_and_reading_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.xlsx");
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "code").unwrap();
        ws.write_string(0, 1, "name").unwrap();
        ws.write_string(0, 2, "n").unwrap();
        // What Excel keeps of 914403001922038216 typed into a number cell: 15 significant digits.
        ws.write_number(1, 0, 914_403_001_922_038_000.0).unwrap();
        ws.write_string(1, 1, "lost").unwrap();
        ws.write_string(2, 0, "ok").unwrap();
        ws.write_formula(2, 2, Formula::new("=NA()").set_result("#N/A"))
            .unwrap();
        ws.write_string(3, 0, "wide").unwrap();
        ws.write_string(3, 29, "extra").unwrap();
        ws.write_string(4, 0, "last").unwrap();
        wb.save(&path).unwrap();

        let got = rows(open(&path).unwrap());
        let messages: Vec<(u64, Option<String>, String)> = got
            .iter()
            .take(3)
            .map(|r| match r {
                Err(TableError::Line {
                    line,
                    column,
                    message,
                    ..
                }) => (*line, column.clone(), message.clone()),
                other => panic!("expected a line error, got {other:?}"),
            })
            .collect();
        assert_eq!(
            messages,
            [
                (
                    2,
                    Some("code (A)".to_string()),
                    "9.14403001922038e17 is stored as a number and has lost digits; \
                     format the column as text and re-enter it"
                        .to_string()
                ),
                (
                    3,
                    Some("n (C)".to_string()),
                    "cell holds an Excel error #N/A".to_string()
                ),
                (
                    4,
                    None,
                    "row has a value in column AD beyond the header".to_string()
                ),
            ]
        );
        assert_eq!(got[3].as_ref().unwrap(), &ok(5, &["last", "", ""]));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn non_xlsx_and_empty_files_are_file_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.xlsx");
        std::fs::write(&path, "code,name\n1,a\n").unwrap();
        match open(&path) {
            Err(TableError::File { message, .. }) => {
                assert!(message.starts_with("not an .xlsx workbook: "), "{message}")
            }
            _ => panic!("expected a file error"),
        }
        let empty = dir.path().join("empty.xlsx");
        Workbook::new().save(&empty).unwrap();
        match open(&empty) {
            Err(TableError::File { message, .. }) => {
                assert_eq!(message, "worksheet \"Sheet1\" is empty")
            }
            _ => panic!("expected a file error"),
        }
    }

    #[test]
    fn dropping_rows_early_stops_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.xlsx");
        let data = (0..5000).map(|i| vec![i.to_string()]);
        write(&path, &["n"], data).unwrap();
        let mut t = open(&path).unwrap();
        assert_eq!(t.rows.next().unwrap().unwrap(), ok(2, &["0"]));
        drop(t); // must not hang on a blocked reader thread
    }

    #[test]
    fn write_rejects_too_many_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xlsx");
        let data = std::iter::repeat_with(Vec::new).take(MAX_DATA_ROWS + 1);
        match write(&path, &["a"], data) {
            Err(TableError::File { message, .. }) => assert_eq!(
                message,
                "more than 1,048,575 rows do not fit in one .xlsx sheet; export as csv"
            ),
            _ => panic!("expected a file error"),
        }
        // Nothing was written: the caller's atomic file is left empty, then discarded.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }
}
