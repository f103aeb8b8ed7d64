//! Hostile and careless input files at the readers: an `.xlsx` bomb (built here, a thousand
//! times smaller than what it inflates to) and its forged twin whose parts declare little.

use double_random::table::{self, Limits, TableError};

/// One deflate segment of `data`, byte-aligned and not final, so segments can follow each
/// other: each refers back only within itself.
fn deflate_segment(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert_eq!(c.total_in() as usize, data.len());
    out
}

struct Part {
    name: &'static str,
    method: u16,
    crc: u32,
    data: Vec<u8>,
    declared: u32,
}

fn stored(name: &'static str, text: &str) -> Part {
    let mut crc = flate2::Crc::new();
    crc.update(text.as_bytes());
    Part {
        name,
        method: 0,
        crc: crc.sum(),
        data: text.as_bytes().to_vec(),
        declared: text.len() as u32,
    }
}

/// A zip archive of `parts`, written field by field (APPNOTE 4.3).
fn zip(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    for p in parts {
        let offset = out.len() as u32;
        le32(&mut out, 0x0403_4b50);
        for x in [20, 0, p.method, 0, 0x21] {
            le16(&mut out, x);
        }
        le32(&mut out, p.crc);
        le32(&mut out, p.data.len() as u32);
        le32(&mut out, p.declared);
        le16(&mut out, p.name.len() as u16);
        le16(&mut out, 0);
        out.extend_from_slice(p.name.as_bytes());
        out.extend_from_slice(&p.data);

        le32(&mut central, 0x0201_4b50);
        for x in [20, 20, 0, p.method, 0, 0x21] {
            le16(&mut central, x);
        }
        le32(&mut central, p.crc);
        le32(&mut central, p.data.len() as u32);
        le32(&mut central, p.declared);
        le16(&mut central, p.name.len() as u16);
        for x in [0, 0, 0, 0] {
            le16(&mut central, x);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(p.name.as_bytes());
    }
    let at = out.len() as u32;
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for x in [0, 0, parts.len() as u16, parts.len() as u16] {
        le16(&mut out, x);
    }
    le32(&mut out, central.len() as u32);
    le32(&mut out, at);
    le16(&mut out, 0);
    out
}

/// What the forged worksheet declares it inflates to.
pub const FORGED_SIZE: u32 = 4 << 20;

/// A workbook whose worksheet is `mib` MiB of rows of XML, about a thousandth of that in
/// the file. With `forged`, the worksheet declares [`FORGED_SIZE`] bytes whatever it inflates
/// to. Its checksum is left wrong: a reader that gets to the end has inflated everything.
pub fn xlsx_bomb(mib: u32, forged: bool) -> Vec<u8> {
    let row = r#"<row r="2"><c r="A2" t="inlineStr"><is><t>914207000000000000</t></is></c></row>"#;
    let chunk = row.repeat((1 << 20) / row.len() + 1).into_bytes()[..1 << 20].to_vec();
    let head = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
    let segment = deflate_segment(&chunk);
    let mut sheet = deflate_segment(head.as_bytes());
    for _ in 0..mib {
        sheet.extend_from_slice(&segment);
    }
    // A final, empty stored block ends the stream.
    sheet.extend_from_slice(&[0x01, 0x00, 0x00, 0xFF, 0xFF]);
    let inflated = head.len() as u32 + (mib << 20);
    let mut parts = vec![
        stored(
            "[Content_Types].xml",
            r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        stored(
            "_rels/.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        stored(
            "xl/workbook.xml",
            r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        stored(
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        Part {
            name: "xl/worksheets/sheet1.xml",
            method: 8,
            crc: 0,
            data: sheet,
            declared: inflated,
        },
    ];
    if forged {
        parts[4].declared = FORGED_SIZE;
    }
    zip(&parts)
}

fn open(bytes: Vec<u8>, limits: &Limits) -> Result<table::Table, TableError> {
    table::open_with(Box::new(std::io::Cursor::new(bytes)), "bomb.xlsx", limits)
}

fn refusal(r: Result<table::Table, TableError>) -> String {
    match r {
        Err(TableError::File { message, .. }) => message,
        Err(e) => panic!("expected a file error, got {e}"),
        Ok(_) => panic!("the bomb was opened"),
    }
}

/// The probe's bomb (about 1 MB inflating to 1 GiB) is refused on its declared sizes, before
/// a byte is inflated; its forged twin, declaring 4 MiB, is refused once the bytes actually
/// inflated pass what it declares, never holding more than a chunk of them.
#[test]
fn an_xlsx_bomb_is_refused_before_its_memory_is_spent() {
    let bomb = xlsx_bomb(1024, false);
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    let message = refusal(open(bomb, &Limits::default()));
    let declared: u64 = message
        .strip_prefix("its parts declare ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!(declared > 1 << 30, "{message}");
    assert!(
        message.contains("max_xlsx_bytes (268435456): refused before inflating it"),
        "{message}"
    );
    let small = Limits {
        max_xlsx_bytes: 1 << 20,
        ..Limits::default()
    };
    let message = refusal(open(xlsx_bomb(8, false), &small));
    assert!(message.contains("max_xlsx_bytes (1048576)"), "{message}");

    let message = refusal(open(xlsx_bomb(1024, true), &Limits::default()));
    let prefix = format!(
        "part xl/worksheets/sheet1.xml inflates to more than the {FORGED_SIZE} bytes it declares \
         (stopped after inflating "
    );
    let inflated: u64 = message
        .strip_prefix(&prefix)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    // The small parts, then the worksheet up to one chunk past what it declares.
    assert!(
        inflated > u64::from(FORGED_SIZE) && inflated <= u64::from(FORGED_SIZE) + (80 << 10),
        "inflated {inflated} bytes: {message}"
    );
}

/// An honest workbook passes the check, which inflates it once and rewinds it.
#[test]
fn an_honest_workbook_passes_the_archive_check() {
    let mut file = Vec::new();
    let rows = (0..2000).map(|i| vec![format!("P-{i}"), "名称".to_string()]);
    table::write(
        &mut file,
        "o.xlsx",
        table::Format::Xlsx,
        &["id", "name"],
        rows,
    )
    .unwrap();
    let mut source = std::io::Cursor::new(file.clone());
    let inflated = table::check_archive(&mut source, "o.xlsx", &Limits::default()).unwrap();
    assert!(inflated > file.len() as u64, "{inflated}");
    assert_eq!(source.position(), 0);
    let t = open(file, &Limits::default()).unwrap();
    assert_eq!(t.rows.count(), 2000);
}

/// Cells with a control character or over the field limit, and sheets over the cell or row
/// limit, at the .xlsx reader.
#[test]
fn xlsx_cells_rows_and_sheets_are_bounded() {
    let mut file = Vec::new();
    let rows = vec![
        vec!["P-1".to_string(), "a\u{1}b".to_string()],
        vec!["P-2".to_string(), "x".repeat(11)],
        vec!["P-3".to_string(), "ok".to_string()],
    ];
    table::write(
        &mut file,
        "o.xlsx",
        table::Format::Xlsx,
        &["id", "name"],
        rows.into_iter(),
    )
    .unwrap();
    let limits = Limits {
        max_field_bytes: 10,
        ..Limits::default()
    };
    let got: Vec<_> = open(file.clone(), &limits).unwrap().rows.collect();
    let bad = |r: &Result<table::Row, TableError>| match r {
        Err(TableError::Line {
            line,
            column,
            message,
            ..
        }) => (*line, column.clone().unwrap_or_default(), message.clone()),
        other => panic!("expected a bad row, got {other:?}"),
    };
    assert_eq!(
        bad(&got[0]),
        (
            2,
            "name (B)".into(),
            "has a control character (U+0001) at character 2".into()
        )
    );
    assert_eq!(
        bad(&got[1]),
        (
            3,
            "name (B)".into(),
            "longer than 10 bytes ([import] max_field_bytes)".into()
        )
    );
    assert!(got[2].is_ok());
    for (limits, message) in [
        (
            Limits {
                max_cells: 5,
                ..Limits::default()
            },
            "more than 5 cells ([import] max_cells)",
        ),
        (
            Limits {
                max_rows: 2,
                ..Limits::default()
            },
            "more than 2 rows ([import] max_rows)",
        ),
    ] {
        let got: Vec<_> = open(file.clone(), &limits).unwrap().rows.collect();
        match got.last() {
            Some(Err(TableError::Stopped { message: m, .. })) => assert_eq!(m, message),
            other => panic!("expected a stop, got {other:?}"),
        }
    }
}
