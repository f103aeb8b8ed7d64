//! What one file may make the readers hold or do (`[import]` in the configuration), and the
//! check every cell passes: no control or bidi characters, no more bytes than a field may have.

use serde::{Deserialize, Serialize};

use crate::library::names::is_bidi_control;

/// Bounds on one imported file. A file past a bound is refused where the reader meets it,
/// before the memory or the time is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest cell, in bytes of UTF-8 (a longer CSV row stops the reader before it is held).
    pub max_field_bytes: usize,
    /// Most data rows in one file.
    pub max_rows: u64,
    /// Most cells (empty ones included) in an `.xlsx` worksheet.
    pub max_cells: u64,
    /// Most bytes an `.xlsx` file inflates to (all its parts), counted while inflating.
    pub max_xlsx_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Excel holds at most 32,767 characters in a cell; two bytes each is room enough
            // for Chinese text at three.
            max_field_bytes: 64 << 10,
            // Rows stream in constant memory: this only bounds a runaway file's time.
            max_rows: 100_000_000,
            // A full sheet (1,048,576 rows) of 20 columns.
            max_cells: 20_000_000,
            max_xlsx_bytes: 256 << 20,
        }
    }
}

/// Why a cell's text is refused, if it is.
pub fn cell_problem(text: &str, max_bytes: usize) -> Option<String> {
    if text.len() > max_bytes {
        return Some(format!(
            "longer than {max_bytes} bytes ([import] max_field_bytes)"
        ));
    }
    // Fast path: only these bytes can start a control or bidi character in UTF-8.
    if !text
        .bytes()
        .any(|b| b < 0x20 || b == 0x7F || b == 0xC2 || b == 0xD8 || b == 0xE2)
    {
        return None;
    }
    text.chars().enumerate().find_map(|(i, c)| {
        let what = match c {
            '\n' | '\r' => "a line break (a quote left open?)",
            c if c.is_control() => "a control character",
            c if is_bidi_control(c) => "a bidirectional-text control",
            _ => return None,
        };
        Some(format!(
            "has {what} (U+{:04X}) at character {}",
            u32::from(c),
            i + 1
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_with_controls_or_too_many_bytes_are_refused() {
        assert_eq!(cell_problem("鄂州甲食品有限公司 — “甲”·乙", 100), None);
        assert_eq!(
            cell_problem("a\0b", 100).unwrap(),
            "has a control character (U+0000) at character 2"
        );
        assert!(cell_problem("a\nb", 100).unwrap().contains("line break"));
        assert!(cell_problem("x\u{0085}", 100).unwrap().contains("U+0085"));
        assert!(
            cell_problem("abc\u{202E}fed", 100)
                .unwrap()
                .contains("bidirectional")
        );
        assert!(cell_problem(&"x".repeat(101), 100).unwrap().contains("100 bytes"));
        assert_eq!(cell_problem(&"x".repeat(100), 100), None);
    }
}
