//! Reading officers' files: CSV (UTF-8, with or without BOM, English or Chinese headers) and
//! policy TOML. Every error names the file, the line and the field.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use crate::core::CoreError;
use crate::core::model::{
    ENTITY_KINDS, Inspector, InspectorId, Label, Object, ObjectId, ObjectStatus, check_uscc,
};
use crate::core::policy::{Policy, TierScheme};
use crate::library::fields::{
    Columns, parse_bool, parse_date, parse_kind, split_list, tier_alias, tier_from_penalties,
    toml_field_line,
};

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
pub const OBJECT_COLUMNS: &[&[&str]] = &[
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

/// The inspector library's columns: the draw reads the first nine (`active` and `role` are
/// library fields the draw does not use).
pub use crate::library::INSPECTOR_COLUMNS;

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

pub fn read_objects(file: &Path, policy: &Policy) -> Result<Vec<Object>, InputError> {
    let mut reader = open_csv(file)?;
    let headers = reader
        .headers()
        .map_err(|e| file_err(file, e.to_string()))?
        .clone();
    let cols = Columns::new(headers.iter(), OBJECT_COLUMNS, &[O_ID, O_NAME])
        .map_err(|m| file_err(file, m))?;
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
        headers.iter(),
        INSPECTOR_COLUMNS,
        &[
            I_ID,
            I_NAME,
            I_DEPARTMENTS,
            I_CERTIFICATE_NO,
            I_CERTIFICATE_EXPIRY,
        ],
    )
    .map_err(|m| file_err(file, m))?;
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
        CoreError::BadPolicy { field, reason } => match toml_field_line(text, field) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_fields_are_located_by_line() {
        let text = "draw_date = \"2026-12-01\"\nmode = \"ratio\"\n[[tiers]]\nname = \"a\"\nratio = \"1%\"\n[[tiers]]\nname = \"b\"\nratio = \"120%\"\n[inspectors]\nper_object = 0\n";
        assert_eq!(toml_field_line(text, "tiers[1].ratio"), Some(8));
        assert_eq!(toml_field_line(text, "inspectors.per_object"), Some(10));
        assert_eq!(toml_field_line(text, "mode"), Some(2));
        assert_eq!(toml_field_line(text, "inspectors.departments[0]"), Some(9));
        assert_eq!(toml_field_line(text, "total"), Some(1));
    }
}
