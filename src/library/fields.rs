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
}
