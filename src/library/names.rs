//! Ids officers choose (plans, tasks) and the names people read (plans, tasks, uploaded
//! files): bounded, printable, and for ids safe as one URL path segment (`/api/plans/{id}`,
//! `/api/tasks/{id}/draw`, a run id is the task id and a time) and as a file name.

/// Longest plan or task id, in characters; a run id adds 16.
pub const MAX_ID_CHARS: usize = 64;
/// Longest plan or task name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest uploaded file name, in bytes (what file systems allow).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// The characters that reorder how text shows (embeddings, overrides, isolates, marks): an id
/// or a name holding one could read differently from what it is. Refused in every imported
/// cell (`table::limits`) and in plan and task ids and names; the protocol's id rule (draw-spec)
/// is left as it is.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first control or bidi character of `s`, described.
fn hidden(s: &str) -> Option<String> {
    s.chars()
        .find(|&c| c.is_control() || is_bidi_control(c))
        .map(|c| format!("has a control or bidi character (U+{:04X})", u32::from(c)))
}

/// A plan or task id: 1 to 64 letters (any script), digits, `-`, `_` and `.`, not starting
/// with `.` and without `..`.
pub fn check_id(s: &str) -> Result<(), String> {
    let count = s.chars().count();
    if count == 0 || count > MAX_ID_CHARS {
        return Err(format!(
            "must be 1 to {MAX_ID_CHARS} characters (this one has {count})"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{c:?} is not allowed: use letters, digits, '-', '_' and '.'"
        ));
    }
    if s.starts_with('.') || s.contains("..") {
        return Err("must not start with '.' or hold '..'".into());
    }
    Ok(())
}

/// A plan or task name: 1 to 200 characters, no control or bidi characters, no surrounding
/// spaces.
pub fn check_name(s: &str) -> Result<(), String> {
    let count = s.chars().count();
    if s.trim().is_empty() || count > MAX_NAME_CHARS {
        return Err(format!("must be 1 to {MAX_NAME_CHARS} characters"));
    }
    if s.trim() != s {
        return Err("has leading or trailing spaces".into());
    }
    hidden(s).map_or(Ok(()), Err)
}

/// An uploaded file's name as errors and the audit log show it: 1 to 255 bytes, no control or
/// bidi characters.
pub fn check_file_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_FILE_NAME_BYTES {
        return Err(format!(
            "must be 1 to {MAX_FILE_NAME_BYTES} bytes (this one has {})",
            s.len()
        ));
    }
    hidden(s).map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_path_safe_and_printable() {
        for ok in ["2026", "T-2027-01", "demo-2026-01", "weekday", "食品-2026_1.a"] {
            assert_eq!(check_id(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "P/../x",
            "a/b",
            "..",
            ".hidden",
            "a..b",
            "a b",
            "a\0b",
            "x\u{202E}y",
            "a?b",
            "a%2Fb",
            &"p".repeat(65),
        ] {
            assert!(check_id(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_id(&"p".repeat(100_000)).unwrap_err().contains("100000"));
    }

    #[test]
    fn names_and_file_names_are_bounded_and_printable() {
        assert_eq!(check_name("2027年度抽查计划"), Ok(()));
        assert!(check_name(" x").is_err());
        assert!(check_name("a\u{0}b").unwrap_err().contains("U+0000"));
        assert!(check_name("a\u{2066}b").is_err());
        assert!(check_name(&"名".repeat(201)).is_err());
        assert_eq!(check_file_name("objects 2027.xlsx"), Ok(()));
        assert!(check_file_name("a\0b.csv").is_err());
        assert!(check_file_name(&format!("{}.csv", "x".repeat(300))).is_err());
        assert!(check_file_name("").is_err());
    }
}
