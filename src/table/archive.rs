//! An `.xlsx` is a zip archive, and a small one can inflate to gigabytes of XML that the
//! workbook reader would hold. Before that reader sees the file, every part is inflated once
//! here into nothing, counting: the declared sizes must stay within `[import] max_xlsx_bytes`,
//! and each part must inflate to no more than it declares, since a forged header can declare
//! anything (the zip reader checks that only against the checksum, at the end). The
//! shared-string count the reader reserves room for up front is checked against the part's
//! real size. The cost is one extra inflate pass, small beside parsing the XML.

use std::io::{Read, SeekFrom};

use super::{Limits, Source, TableError, file_error};

/// Inflated bytes are counted in chunks of this size.
const CHUNK: usize = 64 << 10;
/// The `<sst>` element opens the shared strings; it must come within this many bytes.
const SST_HEAD: usize = 64 << 10;

/// Checks the archive in `source` against `limits`, then rewinds it. Returns how many bytes
/// its parts inflate to; a refusal says how many were inflated before it.
pub fn check_archive(
    source: &mut dyn Source,
    name: &str,
    limits: &Limits,
) -> Result<u64, TableError> {
    let start = source
        .stream_position()
        .map_err(|e| file_error(name, e.to_string()))?;
    // A zip is read from its end, so anything may come first; the workbook reader first
    // parses the start as an OLE compound file (to spot a password-protected workbook), and a
    // crafted one made it panic or allocate gigabytes (afl, xlsx_rows). Every .xlsx starts
    // with a zip entry.
    let mut magic = [0u8; 4];
    let read = source.read(&mut magic).map_err(|e| file_error(name, e.to_string()))?;
    if read < magic.len() || magic != *b"PK\x03\x04" {
        return Err(file_error(
            name,
            "not an .xlsx workbook: it does not start as a zip archive (an .xls file, or a \
             password-protected workbook? save it as .xlsx without a password, or as CSV)",
        ));
    }
    source
        .seek(SeekFrom::Start(start))
        .map_err(|e| file_error(name, e.to_string()))?;
    let inflated = inflate_all(&mut *source, name, limits)?;
    source
        .seek(SeekFrom::Start(start))
        .map_err(|e| file_error(name, e.to_string()))?;
    Ok(inflated)
}

fn inflate_all(source: &mut dyn Source, name: &str, limits: &Limits) -> Result<u64, TableError> {
    let max = limits.max_xlsx_bytes;
    let mut zip = zip::ZipArchive::new(source)
        .map_err(|e| file_error(name, format!("not an .xlsx workbook: {e}")))?;
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| file_error(name, format!("not an .xlsx workbook: {e}")))?;
        declared = declared.saturating_add(f.size());
    }
    if declared > max {
        return Err(file_error(
            name,
            format!(
                "its parts declare {declared} bytes, more than [import] max_xlsx_bytes ({max}): \
                 refused before inflating it (save the sheet as CSV, or raise the limit)"
            ),
        ));
    }
    let mut total = 0u64;
    let mut buf = vec![0u8; CHUNK];
    for i in 0..zip.len() {
        let mut f = zip
            .by_index(i)
            .map_err(|e| file_error(name, format!("not an .xlsx workbook: {e}")))?;
        let part = f.name().to_owned();
        let size = f.size();
        let shared_strings = part.replace('\\', "/").eq_ignore_ascii_case("xl/sharedStrings.xml");
        let mut head = Vec::new();
        let mut inflated = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|e| {
                file_error(name, format!("part {part} is damaged (not a valid .xlsx): {e}"))
            })?;
            if n == 0 {
                break;
            }
            inflated += n as u64;
            total += n as u64;
            // Each part within what it declares, and the declared sizes within the limit:
            // so is the total.
            if inflated > size {
                return Err(file_error(
                    name,
                    format!(
                        "part {part} inflates to more than the {size} bytes it declares \
                         (stopped after inflating {total} bytes): a damaged or forged file"
                    ),
                ));
            }
            if shared_strings && head.len() < SST_HEAD {
                let take = n.min(SST_HEAD - head.len());
                head.extend_from_slice(&buf[..take]);
            }
        }
        if shared_strings {
            check_shared_strings(&head, inflated, limits)
                .map_err(|m| file_error(name, format!("part {part}: {m}")))?;
        }
    }
    Ok(total)
}

/// The reader reserves room for `uniqueCount` strings before reading one: the count must fit
/// the part (each `<si/>` takes at least 5 bytes) and `[import] max_cells`.
fn check_shared_strings(head: &[u8], size: u64, limits: &Limits) -> Result<(), String> {
    let Some(tag) = sst_tag(head) else {
        return if size as usize > head.len() {
            Err(format!("no <sst> element in its first {SST_HEAD} bytes"))
        } else {
            Ok(()) // no strings at all: the reader reserves nothing
        };
    };
    let Some(count) = attribute(tag, b"uniqueCount") else {
        return Ok(());
    };
    let count: Option<u64> = std::str::from_utf8(count).ok().and_then(|c| c.parse().ok());
    match count {
        Some(n) if n <= size / 5 + 1 && n <= limits.max_cells => Ok(()),
        // Too long for a number: the reader does not take it either.
        None if count_overflows(tag) => Ok(()),
        _ => Err(format!(
            "declares more shared strings than it holds or [import] max_cells ({}) allows",
            limits.max_cells
        )),
    }
}

fn count_overflows(tag: &[u8]) -> bool {
    attribute(tag, b"uniqueCount").is_some_and(|c| {
        c.iter().all(u8::is_ascii_digit) && c.len() > 19
    })
}

/// The start tag of the `sst` element (any namespace prefix), up to its `>`.
fn sst_tag(head: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    while let Some(i) = find(&head[from..], b"sst") {
        let at = from + i;
        let before = at.checked_sub(1).map(|j| head[j]);
        let after = head.get(at + 3).copied();
        if matches!(before, Some(b'<' | b':'))
            && after.is_some_and(|c| c.is_ascii_whitespace() || c == b'>' || c == b'/')
        {
            let end = find(&head[at..], b">")?;
            return Some(&head[at..at + end]);
        }
        from = at + 3;
    }
    None
}

/// The value of attribute `key` in a start tag.
fn attribute<'a>(tag: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(i) = find(&tag[from..], key) {
        let at = from + i;
        from = at + key.len();
        if !tag.get(at.wrapping_sub(1)).is_some_and(u8::is_ascii_whitespace) {
            continue;
        }
        let rest = tag[from..].trim_ascii_start().strip_prefix(b"=")?.trim_ascii_start();
        let quote = *rest.first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value = &rest[1..];
        return Some(&value[..value.iter().position(|&c| c == quote)?]);
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_string_counts_must_fit_the_part() {
        let limits = Limits::default();
        let head = br#"<?xml version="1.0"?><sst xmlns="x" count="3" uniqueCount="2"><si><t>a</t></si>"#;
        assert_eq!(check_shared_strings(head, 200, &limits), Ok(()));
        let forged = br#"<x:sst xmlns:x="x" uniqueCount="1000000000000"><x:si/>"#;
        assert!(check_shared_strings(forged, 60, &limits).is_err());
        let many = br#"<sst uniqueCount='30000000'>"#;
        assert!(check_shared_strings(many, 1 << 30, &limits).is_err());
        // Digits past u64 are no number to the reader either.
        let huge = br#"<sst uniqueCount="99999999999999999999999">"#;
        assert_eq!(check_shared_strings(huge, 100, &limits), Ok(()));
        assert_eq!(check_shared_strings(b"", 0, &limits), Ok(()));
        assert!(check_shared_strings(b"<other/>", 1 << 20, &limits).is_err());
    }
}
