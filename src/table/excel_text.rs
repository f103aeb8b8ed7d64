//! How an Excel cell becomes the text an import reads: numbers that lost digits and error
//! cells refused, dates in the `YYYY-MM-DD` shape, column letters for messages.

use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType};

/// From 2^53 on, an f64 no longer holds every integer, so a long code stored as a number is
/// already corrupted.
const EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// A cell as trimmed text, or why it cannot be taken at face value.
pub(super) fn cell_text(v: &DataRef<'_>, is_1904: bool) -> Result<String, String> {
    Ok(match v {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.trim().to_owned(),
        DataRef::SharedString(s) => s.trim().to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f)?,
        DataRef::DateTime(d) => datetime_text(d, is_1904),
        DataRef::DateTimeIso(s) => iso_text(s.trim()),
        DataRef::DurationIso(s) => s.trim().to_owned(),
        DataRef::Error(e) => return Err(format!("cell holds an Excel error {e}")),
    })
}

fn number_text(f: f64) -> Result<String, String> {
    if f.abs() >= EXACT_LIMIT && f.is_finite() {
        Err(format!(
            "{f:e} is stored as a number and has lost digits; \
             format the column as text and re-enter it"
        ))
    } else if f.fract() == 0.0 {
        // Exact below 2^53; also turns -0 into "0".
        Ok((f as i64).to_string())
    } else {
        Ok(f.to_string())
    }
}

/// Date-formatted serial: `YYYY-MM-DD`, plus ` HH:MM:SS` when it has a time of day. Rounded to
/// the second so that 12:00 stored as 0.49999999 does not show as 11:59:59.
fn datetime_text(d: &ExcelDateTime, is_1904: bool) -> String {
    let secs = (d.as_f64() * 86_400.0).round();
    if d.is_duration() {
        let s = secs.abs() as u64;
        let sign = if secs < 0.0 { "-" } else { "" };
        return format!("{sign}{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    }
    // Excel shows ##### outside 1900-01-00..9999-12-31; keep the number.
    if !(0.0..2_958_466.0 * 86_400.0).contains(&secs) {
        return d.as_f64().to_string();
    }
    let days = (secs / 86_400.0).floor();
    let sod = (secs - days * 86_400.0) as u32;
    let time = format!("{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if days == 0.0 && !is_1904 {
        return time; // a time of day with no date
    }
    let (y, m, dd, ..) =
        ExcelDateTime::new(days, ExcelDateTimeType::DateTime, is_1904).to_ymd_hms_milli();
    if sod == 0 {
        format!("{y:04}-{m:02}-{dd:02}")
    } else {
        format!("{y:04}-{m:02}-{dd:02} {time}")
    }
}

/// ISO cell (`t="d"`), e.g. `2024-03-01T00:00:00`, in the same shape as serial dates.
fn iso_text(s: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        Ok(dt) if dt.time() == chrono::NaiveTime::MIN => dt.format("%Y-%m-%d").to_string(),
        Ok(dt) => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => s.to_owned(),
    }
}

/// 0-based column index to Excel letters: 0 → A, 26 → AA.
pub(super) fn column_name(mut col: u32) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(char::from(b'A' + (col % 26) as u8));
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names() {
        let names: Vec<String> = [0, 25, 26, 27, 701, 702, 16_383].map(column_name).into();
        assert_eq!(names, ["A", "Z", "AA", "AB", "ZZ", "AAA", "XFD"]);
    }

    #[test]
    fn number_and_date_text() {
        assert_eq!(number_text(1e15).unwrap(), "1000000000000000");
        assert_eq!(number_text(-0.0).unwrap(), "0");
        assert_eq!(number_text(1e-7).unwrap(), "0.0000001");
        assert!(number_text(-9_007_199_254_740_992.0).is_err());
        let dt = |v| ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false);
        assert_eq!(datetime_text(&dt(45352.0), false), "2024-03-01");
        // 23:59:59.9999 rounds into the next day rather than showing 24:00:00.
        assert_eq!(datetime_text(&dt(45_352.999_999_999), false), "2024-03-02");
        assert_eq!(datetime_text(&dt(0.5), false), "12:00:00");
        let dur = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(datetime_text(&dur, false), "36:00:00");
        assert_eq!(iso_text("2024-03-01T00:00:00"), "2024-03-01");
        assert_eq!(iso_text("2024-03-01T08:09:10.5"), "2024-03-01 08:09:10");
    }
}
