//! How officers write values: parsers shared by the draw CLI's reader and the library imports.

use chrono::{Datelike, NaiveDate};

pub fn split_list(s: &str) -> Vec<String> {
    s.split([';', '；', '|', '、'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The inverse of [`split_list`].
pub fn join_list<T>(items: &[T], text: impl Fn(&T) -> &str) -> String {
    items.iter().map(text).collect::<Vec<_>>().join(";")
}

pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y/%m/%d"))
        .ok()
        .filter(|d| (1900..=9999).contains(&d.year()))
        .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD, years 1900 to 9999)"))
}

pub fn parse_kind(s: &str) -> Option<&'static str> {
    Some(match s {
        "" | "enterprise" | "企业" | "公司" => "enterprise",
        "individual_business" | "个体工商户" | "个体户" => "individual_business",
        "social_organisation" | "social_organization" | "社会组织" => "social_organisation",
        "public_institution" | "事业单位" => "public_institution",
        "product" | "产品" => "product",
        "project" | "项目" => "project",
        "behaviour" | "behavior" | "行为" => "behaviour",
        _ => return None,
    })
}

/// Chinese names of the default (penalty) tiers, as officers write them.
pub fn tier_alias(s: &str) -> &str {
    match s {
        "良好" | "正常" | "无记录" | "守信" => "good",
        "提示" | "提示对象" => "notice",
        "关注" | "关注对象" => "watch",
        "警示" | "警示对象" => "warning",
        "重点关注" | "重点关注对象" => "focus",
        other => other,
    }
}

/// domain.md: 1 penalty in the last year → notice, 2 → watch, 3 → warning, more than 3 or on the
/// joint-punishment list → focus; none → good standing.
pub fn tier_from_penalties(penalties: u32, blacklisted: bool) -> &'static str {
    match (penalties, blacklisted) {
        (_, true) | (4.., _) => "focus",
        (3, _) => "warning",
        (2, _) => "watch",
        (1, _) => "notice",
        (0, _) => "good",
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" | "否" => Some(false),
        "1" | "true" | "yes" | "y" | "是" => Some(true),
        _ => None,
    }
}

/// The line of a policy field named like `tiers[4].ratio`, `inspectors.per_object` or `total`:
/// the key's own line, or its table's header when the key is missing.
pub fn toml_field_line(text: &str, field: &str) -> Option<u64> {
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (Some(t), k),
        None => (None, field),
    };
    let key = key.split('[').next()?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let is_header = |l: &str| l.starts_with('[');
    let start = match table {
        None => 0,
        Some(t) => match t.split_once('[') {
            Some((name, idx)) => {
                let n: usize = idx.trim_end_matches(']').parse().ok()?;
                lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l == format!("[[{name}]]"))
                    .nth(n)?
                    .0
                    + 1
            }
            None => lines.iter().position(|l| *l == format!("[{t}]"))? + 1,
        },
    };
    let section = lines[start..].iter().take_while(|l| !is_header(l));
    let at = section
        .enumerate()
        .find(|(_, l)| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(i, _)| start + i)
        .unwrap_or(start.saturating_sub(1));
    Some(at as u64 + 1)
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub fn text_position(text: &str, offset: usize) -> (u64, u64) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line as u64, column as u64)
}

/// The field a TOML error at byte `offset` is in, named like [`toml_field_line`] reads it
/// (`inspectors.per_object`, `tiers[1].ratio`): the key written on that line under its table
/// header, or the header itself.
pub fn toml_key_at(text: &str, offset: usize) -> Option<String> {
    let (line, _) = text_position(text, offset);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let here = *lines.get(line as usize - 1)?;
    let header = |l: &str| -> Option<String> {
        let name = l.strip_prefix("[[").and_then(|r| r.split("]]").next());
        let name = name.or_else(|| l.strip_prefix('[').and_then(|r| r.split(']').next()))?;
        let name = name.trim();
        if l.starts_with("[[") {
            let nth = lines[..line as usize]
                .iter()
                .filter(|o| o.strip_prefix("[[").and_then(|r| r.split("]]").next()).map(str::trim) == Some(name))
                .count();
            Some(format!("{name}[{}]", nth.saturating_sub(1)))
        } else {
            Some(name.to_owned())
        }
    };
    if here.starts_with('[') {
        return header(here);
    }
    let key = here.split_once('=')?.0.trim().trim_matches(['"', '\'']);
    if key.is_empty() {
        return None;
    }
    let table = lines[..line as usize - 1]
        .iter()
        .rev()
        .find(|l| l.starts_with('['))
        .and_then(|l| header(l));
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_rule_follows_the_source_document() {
        assert_eq!(tier_from_penalties(0, false), "good");
        assert_eq!(tier_from_penalties(1, false), "notice");
        assert_eq!(tier_from_penalties(2, false), "watch");
        assert_eq!(tier_from_penalties(3, false), "warning");
        assert_eq!(tier_from_penalties(4, false), "focus");
        assert_eq!(tier_from_penalties(0, true), "focus");
    }

    #[test]
    fn toml_errors_are_placed_on_their_line_column_and_key() {
        let text = "draw_date = 2026-12-01\nmode = \"ratio\"\n[[tiers]]\nname = \"a\"\n[[tiers]]\nname = \"b\"\nratio = 3%\n[inspectors]\nper_object = \"x\"\n";
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(text_position(text, 0), (1, 1));
        assert_eq!(text_position(text, at("3%")), (7, 9));
        assert_eq!(toml_key_at(text, at("3%")).as_deref(), Some("tiers[1].ratio"));
        assert_eq!(toml_key_at(text, at("\"x\"")).as_deref(), Some("inspectors.per_object"));
        assert_eq!(toml_key_at(text, at("ratio\"")).as_deref(), Some("mode"));
        assert_eq!(toml_key_at(text, at("[inspectors]")).as_deref(), Some("inspectors"));
        assert_eq!(toml_field_line(text, "tiers[1].ratio"), Some(7));
    }
}
