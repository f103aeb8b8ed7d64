//! Reading officers' files: CSV (UTF-8, with or without BOM, English or Chinese headers) and
//! policy TOML. Every error names the file, the line and the field.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

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

/// Maps the file's header row to canonical column names; unknown columns become attributes.
struct Columns {
    index: BTreeMap<&'static str, usize>,
    extra: Vec<(usize, String)>,
}

impl Columns {
    fn new(
        file: &Path,
        headers: &csv::StringRecord,
        known: &[&[&'static str]],
        required: &[&str],
    ) -> Result<Self, InputError> {
        let mut index = BTreeMap::new();
        let mut extra = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim();
            match known
                .iter()
                .find(|aliases| aliases.iter().any(|a| a.eq_ignore_ascii_case(h)))
            {
                Some(aliases) => {
                    if index.insert(aliases[0], i).is_some() {
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
        for r in required {
            if !index.contains_key(r) {
                let aliases = known
                    .iter()
                    .find(|a| a[0] == *r)
                    .expect("required column is known");
                return Err(file_err(
                    file,
                    format!(
                        "line 1: missing column {r} (any of: {})",
                        aliases.join(", ")
                    ),
                ));
            }
        }
        Ok(Self { index, extra })
    }

    fn get<'r>(&self, rec: &'r csv::StringRecord, name: &str) -> &'r str {
        self.index
            .get(name)
            .and_then(|&i| rec.get(i))
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

fn records(
    file: &Path,
    mut reader: csv::Reader<Box<dyn Read>>,
    mut each: impl FnMut(u64, &csv::StringRecord) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let mut rec = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut rec) {
            Ok(true) => {
                let line = rec.position().map_or(0, |p| p.line());
                each(line, &rec)?;
            }
            Ok(false) => return Ok(()),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("row has {len} fields, the header has {expected_len}")
                    }
                    csv::ErrorKind::Utf8 { .. } => {
                        "not valid UTF-8 (save the file as UTF-8)".into()
                    }
                    _ => e.to_string(),
                };
                return Err(InputError::Field {
                    file: file.to_owned(),
                    line,
                    field: "(row)".into(),
                    message,
                });
            }
        }
    }
}

/// Duplicate ids are reported with both lines; `lines[i]` is the line of row `i`.
fn check_duplicates<'a>(
    file: &Path,
    lines: &[u64],
    id: impl Fn(usize) -> &'a str,
) -> Result<(), InputError> {
    let mut order: Vec<u32> = (0..lines.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| id(a as usize).cmp(id(b as usize)).then(a.cmp(&b)));
    match order
        .windows(2)
        .find(|w| id(w[0] as usize) == id(w[1] as usize))
    {
        Some(w) => Err(InputError::Field {
            file: file.to_owned(),
            line: lines[w[1] as usize],
            field: "id".into(),
            message: format!(
                "duplicate id {} (first at line {})",
                id(w[0] as usize),
                lines[w[0] as usize]
            ),
        }),
        None => Ok(()),
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
    let cols = Columns::new(file, &headers, OBJECT_COLUMNS, &["id", "name"])?;
    let has_tier = cols.index.contains_key("tier");
    let has_penalties = cols.index.contains_key("penalties_12m");
    if !has_tier && !has_penalties {
        return Err(file_err(
            file,
            "line 1: needs a tier column, or penalties_12m (and blacklisted) to derive it",
        ));
    }
    let mut out = Vec::new();
    let mut lines = Vec::new();
    records(file, reader, |line, rec| {
        lines.push(line);
        let err = |field: &str, message: String| InputError::Field {
            file: file.to_owned(),
            line,
            field: field.into(),
            message,
        };
        let raw_id = cols.get(rec, "id");
        let id = ObjectId::parse(raw_id).map_err(|e| err("id", e.to_string()))?;
        let kind = parse_kind(cols.get(rec, "kind"))
            .ok_or_else(|| err("kind", format!("unknown kind {:?}", cols.get(rec, "kind"))))?;
        if ENTITY_KINDS.contains(&kind) {
            check_uscc(raw_id).map_err(|e| {
                err(
                    "id",
                    format!("{raw_id:?} is not a valid unified social credit code: {e}"),
                )
            })?;
        }
        let name = cols.get(rec, "name");
        if name.is_empty() {
            return Err(err("name", "is empty".into()));
        }
        let tier = match cols.get(rec, "tier") {
            "" if has_penalties => {
                let p = cols.get(rec, "penalties_12m");
                let n: u32 = if p.is_empty() {
                    0
                } else {
                    p.parse()
                        .map_err(|_| err("penalties_12m", format!("{p:?} is not a whole number")))?
                };
                let b = cols.get(rec, "blacklisted");
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
        let status_raw = cols.get(rec, "status");
        let status = ObjectStatus::parse(status_raw)
            .ok_or_else(|| err("status", format!("unknown status {status_raw:?}")))?;
        let last_inspected = match cols.get(rec, "last_inspected") {
            "" => None,
            d => Some(parse_date(d).map_err(|e| err("last_inspected", e))?),
        };
        let last_inspectors = split_list(cols.get(rec, "last_inspectors"))
            .iter()
            .map(|s| InspectorId::parse(s).map_err(|e| err("last_inspectors", e.to_string())))
            .collect::<Result<_, _>>()?;
        let attributes = cols
            .extra
            .iter()
            .filter_map(|(i, h)| rec.get(*i).map(|v| (h.clone(), v.trim().to_owned())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        out.push(Object {
            id,
            name: name.to_owned(),
            kind: Label::new(kind),
            region: Label::new(cols.get(rec, "region")),
            industry: Label::new(cols.get(rec, "industry")),
            tier: Label::new(&tier),
            status,
            last_inspected,
            last_inspectors,
            attributes,
        });
        Ok(())
    })?;
    check_duplicates(file, &lines, |i| out[i].id.as_str())?;
    Ok(out)
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
            "id",
            "name",
            "departments",
            "certificate_no",
            "certificate_expiry",
        ],
    )?;
    let mut out = Vec::new();
    let mut lines = Vec::new();
    records(file, reader, |line, rec| {
        lines.push(line);
        let err = |field: &str, message: String| InputError::Field {
            file: file.to_owned(),
            line,
            field: field.into(),
            message,
        };
        let id = InspectorId::parse(cols.get(rec, "id")).map_err(|e| err("id", e.to_string()))?;
        let nonempty = |field: &str| {
            let v = cols.get(rec, field);
            if v.is_empty() {
                Err(err(field, "is empty".into()))
            } else {
                Ok(v.to_owned())
            }
        };
        let departments = split_list(&nonempty("departments")?);
        let expiry = parse_date(&nonempty("certificate_expiry")?)
            .map_err(|e| err("certificate_expiry", e))?;
        let conflicts = split_list(cols.get(rec, "conflicts"))
            .iter()
            .map(|s| ObjectId::parse(s).map_err(|e| err("conflicts", e.to_string())))
            .collect::<Result<_, _>>()?;
        let max_load = match cols.get(rec, "max_load") {
            "" => None,
            m => Some(m.parse::<u32>().ok().filter(|&v| v > 0).ok_or_else(|| {
                err(
                    "max_load",
                    format!("{m:?} is not a whole number of at least 1"),
                )
            })?),
        };
        out.push(Inspector {
            id,
            name: nonempty("name")?,
            departments,
            region: cols.get(rec, "region").to_owned(),
            specialties: split_list(cols.get(rec, "specialties")),
            certificate_no: nonempty("certificate_no")?,
            certificate_expiry: expiry,
            conflicts,
            max_load,
        });
        Ok(())
    })?;
    check_duplicates(file, &lines, |i| out[i].id.as_str())?;
    Ok(out)
}

pub fn read_policy(file: &Path) -> Result<Policy, InputError> {
    let text = std::fs::read_to_string(file).map_err(|e| file_err(file, e.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Policy::from_toml(text).map_err(|e| file_err(file, e.to_string()))
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
