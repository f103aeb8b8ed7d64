//! Reading officers' files: CSV (UTF-8, with or without BOM, English or Chinese headers) and
//! policy TOML. Every error names the file, the line and the field.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::core::CoreError;
use crate::core::model::{
    ENTITY_KINDS, Inspector, InspectorId, Label, Object, ObjectId, ObjectStatus, check_uscc,
};
use crate::core::policy::{Policy, TierScheme};

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{file}: line {line}, field {field}: {message}", file = file.display())]
    Field {
        file: PathBuf,
        line: u64,
        field: String,
        message: String,
    },
    #[error("{file}: {message}", file = file.display())]
    File { file: PathBuf, message: String },
}

fn file_err(file: &Path, message: impl Into<String>) -> InputError {
    InputError::File {
        file: file.to_owned(),
        message: message.into(),
    }
}

/// Header aliases: the canonical name first.
const OBJECT_COLUMNS: &[&[&str]] = &[
    &[
        "id",
        "uscc",
        "code",
        "统一社会信用代码",
        "信用代码",
        "对象编号",
        "编号",
    ],
    &["name", "名称", "企业名称", "对象名称"],
    &["kind", "type", "类型", "对象类型", "主体类型"],
    &["region", "区域", "所属区域", "辖区", "属地"],
    &["industry", "行业", "所属行业"],
    &[
        "tier",
        "credit_tier",
        "信用等级",
        "风险等级",
        "风险分类",
        "信用风险分类",
    ],
    &["status", "状态", "登记状态", "经营状态"],
    &["last_inspected", "上次检查日期", "最近检查日期"],
    &["last_inspectors", "上次检查人员"],
    &[
        "penalties_12m",
        "近一年行政处罚次数",
        "行政处罚次数",
        "处罚次数",
    ],
    &[
        "blacklisted",
        "失信联合惩戒",
        "列入失信联合惩戒名单",
        "严重失信",
    ],
];

const INSPECTOR_COLUMNS: &[&[&str]] = &[
    &["id", "执法人员编号", "人员编号", "工号", "编号"],
    &["name", "姓名"],
    &["departments", "department", "部门", "所属部门", "执法部门"],
    &["region", "区域", "所属区域", "辖区"],
    &["specialties", "specialty", "专业", "专长", "专业领域"],
    &["certificate_no", "执法证号", "执法证编号", "执法证件号"],
    &[
        "certificate_expiry",
        "执法证有效期",
        "有效期至",
        "证件有效期",
    ],
    &["conflicts", "回避对象", "利害关系对象"],
    &["max_load", "最大任务数", "任务上限"],
];

// Positions in OBJECT_COLUMNS and INSPECTOR_COLUMNS, so a row is read without name look-ups.
const O_ID: usize = 0;
const O_NAME: usize = 1;
const O_KIND: usize = 2;
const O_REGION: usize = 3;
const O_INDUSTRY: usize = 4;
const O_TIER: usize = 5;
const O_STATUS: usize = 6;
const O_LAST_INSPECTED: usize = 7;
const O_LAST_INSPECTORS: usize = 8;
const O_PENALTIES: usize = 9;
const O_BLACKLISTED: usize = 10;
const I_ID: usize = 0;
const I_NAME: usize = 1;
const I_DEPARTMENTS: usize = 2;
const I_REGION: usize = 3;
const I_SPECIALTIES: usize = 4;
const I_CERTIFICATE_NO: usize = 5;
const I_CERTIFICATE_EXPIRY: usize = 6;
const I_CONFLICTS: usize = 7;
const I_MAX_LOAD: usize = 8;

/// Maps the file's header row to known columns; unknown columns become attributes.
struct Columns {
    /// For each known column (by position in its list), its index in the file.
    at: Vec<Option<usize>>,
    names: Vec<&'static str>,
    extra: Vec<(usize, String)>,
}

impl Columns {
    fn new(
        file: &Path,
        headers: &csv::StringRecord,
        known: &[&[&'static str]],
        required: &[usize],
    ) -> Result<Self, InputError> {
        let mut at = vec![None; known.len()];
        let mut extra = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim();
            match known
                .iter()
                .position(|aliases| aliases.iter().any(|a| a.eq_ignore_ascii_case(h)))
            {
                Some(k) => {
                    let aliases = known[k];
                    if at[k].replace(i).is_some() {
                        return Err(file_err(
                            file,
                            format!("line 1: column {h:?} is given twice (as {})", aliases[0]),
                        ));
                    }
                }
                None if h.is_empty() => {
                    return Err(file_err(
                        file,
                        format!("line 1: column {} has no header", i + 1),
                    ));
                }
                None => extra.push((i, h.to_owned())),
            }
        }
        for &r in required {
            if at[r].is_none() {
                return Err(file_err(
                    file,
                    format!(
                        "line 1: missing column {} (any of: {})",
                        known[r][0],
                        known[r].join(", ")
                    ),
                ));
            }
        }
        let names = known.iter().map(|a| a[0]).collect();
        Ok(Self { at, names, extra })
    }

    fn has(&self, column: usize) -> bool {
        self.at[column].is_some()
    }

    fn name(&self, column: usize) -> &'static str {
        self.names[column]
    }

    fn get<'r>(&self, rec: &'r csv::StringRecord, column: usize) -> &'r str {
        self.at[column]
            .and_then(|i| rec.get(i))
            .map(str::trim)
            .unwrap_or("")
    }
}

/// Opens a CSV file, skipping a UTF-8 byte-order mark.
fn open_csv(file: &Path) -> Result<csv::Reader<Box<dyn Read>>, InputError> {
    let f = File::open(file).map_err(|e| file_err(file, e.to_string()))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let head = r.fill_buf().map_err(|e| file_err(file, e.to_string()))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        r.consume(3);
    }
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(Box::new(r)))
}

/// Rows read per batch: parsed on all cores, kept in file order.
const BATCH: usize = 16_384;

/// Reads every row and converts it with `parse`, in parallel batches. The error reported is the
/// first one in file order, as a sequential reader would report it.
fn records<T: Send>(
    file: &Path,
    mut reader: csv::Reader<Box<dyn Read>>,
    parse: impl Fn(u64, &csv::StringRecord) -> Result<T, InputError> + Sync,
) -> Result<Vec<T>, InputError> {
    let mut out = Vec::new();
    let mut batch: Vec<csv::StringRecord> = vec![csv::StringRecord::new(); BATCH];
    loop {
        let mut filled = 0;
        let mut failure = None;
        while filled < BATCH {
            match reader.read_record(&mut batch[filled]) {
                Ok(true) => filled += 1,
                Ok(false) => break,
                Err(e) => {
                    failure = Some(row_error(file, &e));
                    break;
                }
            }
        }
        let parsed: Vec<Result<T, InputError>> = batch[..filled]
            .par_iter()
            .map(|rec| parse(rec.position().map_or(0, |p| p.line()), rec))
            .collect();
        for r in parsed {
            out.push(r?);
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if filled < BATCH {
            return Ok(out);
        }
    }
}

fn row_error(file: &Path, e: &csv::Error) -> InputError {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 (save the file as UTF-8)".into(),
        _ => e.to_string(),
    };
    InputError::Field {
        file: file.to_owned(),
        line,
        field: "(row)".into(),
        message,
    }
}

/// Finds the two lines of a duplicate id (the error path only: the snapshot detects duplicates
/// after its sort, so reading never pays for a second one).
pub fn duplicate_error(file: &Path, id: &str) -> InputError {
    let found = (|| {
        let mut reader = open_csv(file).ok()?;
        let headers = reader.headers().ok()?.clone();
        let id_column = headers.iter().position(|h| {
            let h = h.trim();
            OBJECT_COLUMNS[O_ID]
                .iter()
                .chain(INSPECTOR_COLUMNS[I_ID])
                .any(|a| a.eq_ignore_ascii_case(h))
        })?;
        let mut lines = Vec::new();
        let mut rec = csv::StringRecord::new();
        while lines.len() < 2 && reader.read_record(&mut rec).ok()? {
            if rec.get(id_column).map(str::trim) == Some(id) {
                lines.push(rec.position().map_or(0, |p| p.line()));
            }
        }
        (lines.len() == 2).then(|| (lines[0], lines[1]))
    })();
    match found {
        Some((first, second)) => InputError::Field {
            file: file.to_owned(),
            line: second,
            field: "id".into(),
            message: format!("duplicate id {id} (first at line {first})"),
        },
        None => file_err(file, format!("duplicate id {id}")),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', '；', '|', '、'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    use chrono::Datelike;
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y/%m/%d"))
        .ok()
        .filter(|d| (1900..=9999).contains(&d.year()))
        .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD, years 1900 to 9999)"))
}

fn parse_kind(s: &str) -> Option<&'static str> {
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
fn tier_alias(s: &str) -> &str {
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

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" | "否" => Some(false),
        "1" | "true" | "yes" | "y" | "是" => Some(true),
        _ => None,
    }
}

pub fn read_objects(file: &Path, policy: &Policy) -> Result<Vec<Object>, InputError> {
    let mut reader = open_csv(file)?;
    let headers = reader
        .headers()
        .map_err(|e| file_err(file, e.to_string()))?
        .clone();
    let cols = Columns::new(file, &headers, OBJECT_COLUMNS, &[O_ID, O_NAME])?;
    let has_tier = cols.has(O_TIER);
    let has_penalties = cols.has(O_PENALTIES);
    if !has_tier && !has_penalties {
        return Err(file_err(
            file,
            "line 1: needs a tier column, or penalties_12m (and blacklisted) to derive it",
        ));
    }
    records(file, reader, |line, rec| {
        let err = |field: &str, message: String| InputError::Field {
            file: file.to_owned(),
            line,
            field: field.into(),
            message,
        };
        let raw_id = cols.get(rec, O_ID);
        let id = ObjectId::parse(raw_id).map_err(|e| err("id", e.to_string()))?;
        let kind = parse_kind(cols.get(rec, O_KIND))
            .ok_or_else(|| err("kind", format!("unknown kind {:?}", cols.get(rec, O_KIND))))?;
        if ENTITY_KINDS.contains(&kind) {
            check_uscc(raw_id).map_err(|e| {
                err(
                    "id",
                    format!("{raw_id:?} is not a valid unified social credit code: {e}"),
                )
            })?;
        }
        let name = cols.get(rec, O_NAME);
        if name.is_empty() {
            return Err(err("name", "is empty".into()));
        }
        let tier = match cols.get(rec, O_TIER) {
            "" if has_penalties => {
                let p = cols.get(rec, O_PENALTIES);
                let n: u32 = if p.is_empty() {
                    0
                } else {
                    p.parse()
                        .map_err(|_| err("penalties_12m", format!("{p:?} is not a whole number")))?
                };
                let b = cols.get(rec, O_BLACKLISTED);
                let b = parse_bool(b)
                    .ok_or_else(|| err("blacklisted", format!("{b:?} is not yes/no")))?;
                if policy.tier_scheme != TierScheme::Penalty
                    || policy.tier_index(tier_from_penalties(n, b)).is_none()
                {
                    return Err(err("tier", "deriving the tier from penalties needs the policy's penalty tiers (good, notice, watch, warning, focus)".into()));
                }
                tier_from_penalties(n, b).to_owned()
            }
            "" => return Err(err("tier", "is empty".into())),
            t => {
                let t = tier_alias(t);
                if policy.tier_index(t).is_none() {
                    let known: Vec<&str> = policy.tiers.iter().map(|t| t.name.as_str()).collect();
                    return Err(err(
                        "tier",
                        format!(
                            "unknown tier {t:?} (the policy defines {})",
                            known.join(", ")
                        ),
                    ));
                }
                t.to_owned()
            }
        };
        let status_raw = cols.get(rec, O_STATUS);
        let status = ObjectStatus::parse(status_raw)
            .ok_or_else(|| err("status", format!("unknown status {status_raw:?}")))?;
        let last_inspected = match cols.get(rec, O_LAST_INSPECTED) {
            "" => None,
            d => Some(parse_date(d).map_err(|e| err("last_inspected", e))?),
        };
        let last_inspectors = split_list(cols.get(rec, O_LAST_INSPECTORS))
            .iter()
            .map(|s| InspectorId::parse(s).map_err(|e| err("last_inspectors", e.to_string())))
            .collect::<Result<_, _>>()?;
        let attributes = cols
            .extra
            .iter()
            .filter_map(|(i, h)| rec.get(*i).map(|v| (h.clone(), v.trim().to_owned())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Ok(Object {
            id,
            name: name.into(),
            kind: Label::new(kind),
            region: Label::new(cols.get(rec, O_REGION)),
            industry: Label::new(cols.get(rec, O_INDUSTRY)),
            tier: Label::new(&tier),
            status,
            last_inspected,
            last_inspectors,
            attributes,
        })
    })
}

pub fn read_inspectors(file: &Path) -> Result<Vec<Inspector>, InputError> {
    let mut reader = open_csv(file)?;
    let headers = reader
        .headers()
        .map_err(|e| file_err(file, e.to_string()))?
        .clone();
    let cols = Columns::new(
        file,
        &headers,
        INSPECTOR_COLUMNS,
        &[
            I_ID,
            I_NAME,
            I_DEPARTMENTS,
            I_CERTIFICATE_NO,
            I_CERTIFICATE_EXPIRY,
        ],
    )?;
    records(file, reader, |line, rec| {
        let err = |field: &str, message: String| InputError::Field {
            file: file.to_owned(),
            line,
            field: field.into(),
            message,
        };
        let id = InspectorId::parse(cols.get(rec, I_ID)).map_err(|e| err("id", e.to_string()))?;
        let nonempty = |column: usize| {
            let v = cols.get(rec, column);
            if v.is_empty() {
                Err(err(cols.name(column), "is empty".into()))
            } else {
                Ok(v.to_owned())
            }
        };
        let departments = split_list(&nonempty(I_DEPARTMENTS)?);
        let expiry = parse_date(&nonempty(I_CERTIFICATE_EXPIRY)?)
            .map_err(|e| err("certificate_expiry", e))?;
        let conflicts = split_list(cols.get(rec, I_CONFLICTS))
            .iter()
            .map(|s| ObjectId::parse(s).map_err(|e| err("conflicts", e.to_string())))
            .collect::<Result<_, _>>()?;
        let max_load = match cols.get(rec, I_MAX_LOAD) {
            "" => None,
            m => Some(m.parse::<u32>().ok().filter(|&v| v > 0).ok_or_else(|| {
                err(
                    "max_load",
                    format!("{m:?} is not a whole number of at least 1"),
                )
            })?),
        };
        Ok(Inspector {
            id,
            name: nonempty(I_NAME)?,
            departments,
            region: cols.get(rec, I_REGION).to_owned(),
            specialties: split_list(cols.get(rec, I_SPECIALTIES)),
            certificate_no: nonempty(I_CERTIFICATE_NO)?,
            certificate_expiry: expiry,
            conflicts,
            max_load,
        })
    })
}

pub fn read_policy(file: &Path) -> Result<Policy, InputError> {
    let text = std::fs::read_to_string(file).map_err(|e| file_err(file, e.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Policy::from_toml(text).map_err(|e| match &e {
        CoreError::BadPolicy { field, reason } => match field_line(text, field) {
            Some(line) => InputError::Field {
                file: file.to_owned(),
                line,
                field: field.clone(),
                message: reason.clone(),
            },
            None => file_err(file, e.to_string()),
        },
        _ => file_err(file, e.to_string()),
    })
}

/// The line of a policy field named like `tiers[4].ratio`, `inspectors.per_object` or `total`:
/// the key's own line, or its table's header when the key is missing.
fn field_line(text: &str, field: &str) -> Option<u64> {
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
    fn policy_fields_are_located_by_line() {
        let text = "draw_date = \"2026-12-01\"\nmode = \"ratio\"\n[[tiers]]\nname = \"a\"\nratio = \"1%\"\n[[tiers]]\nname = \"b\"\nratio = \"120%\"\n[inspectors]\nper_object = 0\n";
        assert_eq!(field_line(text, "tiers[1].ratio"), Some(8));
        assert_eq!(field_line(text, "inspectors.per_object"), Some(10));
        assert_eq!(field_line(text, "mode"), Some(2));
        assert_eq!(field_line(text, "inspectors.departments[0]"), Some(9));
        assert_eq!(field_line(text, "total"), Some(1));
    }

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
