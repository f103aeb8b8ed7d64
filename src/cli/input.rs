//! Reading officers' files for the draw: the object and inspector CSV files (through `table`,
//! with the library's columns and value parsers) and policy TOML. Every error names the file,
//! the line and the field.

use std::fs::File;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::core::CoreError;
use crate::core::policy::PolicyFile;
use crate::core::model::{
    ENTITY_KINDS, Inspector, InspectorId, Label, Object, ObjectId, ObjectStatus, check_uscc,
};
use crate::core::policy::{Policy, TierScheme};
use crate::library::columns::{Column, Columns};
use crate::library::fields::{
    parse_bool, parse_date, parse_kind, split_list, text_position, tier_alias,
    tier_from_penalties, toml_field_line, toml_key_at,
};
use crate::library::{InspectorColumn, ObjectColumn};
use crate::table::{self, Cells, Ragged, Row, TableError};

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{file}: line {line}, field {field}: {message}", file = file.display())]
    Field {
        file: PathBuf,
        line: u64,
        field: String,
        message: String,
    },
    /// A syntax or type error in a TOML file, where the parser found it.
    #[error("{file}: line {line}, column {column}, field {field}: {message}", file = file.display())]
    Syntax {
        file: PathBuf,
        line: u64,
        column: u64,
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

fn table_err(file: &Path, e: TableError) -> InputError {
    match e {
        TableError::File { message, .. } => file_err(file, message),
        TableError::Line {
            line,
            column,
            message,
            ..
        }
        | TableError::Stopped {
            line,
            column,
            message,
            ..
        } => InputError::Field {
            file: file.to_owned(),
            line,
            field: column.unwrap_or_else(|| "(row)".into()),
            message,
        },
    }
}

/// The draw's object file: the library's object columns (its class is the tier, given
/// directly) and what the draw takes from the office's other records, precomputed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DrawColumn {
    Id,
    Name,
    Kind,
    Region,
    Industry,
    Tier,
    Status,
    LastInspected,
    LastInspectors,
    Penalties,
    Blacklisted,
}

impl Column for DrawColumn {
    const ALL: &'static [Self] = &[
        Self::Id,
        Self::Name,
        Self::Kind,
        Self::Region,
        Self::Industry,
        Self::Tier,
        Self::Status,
        Self::LastInspected,
        Self::LastInspectors,
        Self::Penalties,
        Self::Blacklisted,
    ];

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Id => ObjectColumn::Id.aliases(),
            Self::Name => ObjectColumn::Name.aliases(),
            Self::Kind => ObjectColumn::Kind.aliases(),
            Self::Region => ObjectColumn::Region.aliases(),
            Self::Industry => ObjectColumn::Industry.aliases(),
            Self::Tier => ObjectColumn::CreditClass.aliases(),
            Self::Status => ObjectColumn::Status.aliases(),
            Self::LastInspected => &["last_inspected", "上次检查日期", "最近检查日期"],
            Self::LastInspectors => &["last_inspectors", "上次检查人员"],
            Self::Penalties => &[
                "penalties_12m",
                "近一年行政处罚次数",
                "行政处罚次数",
                "处罚次数",
            ],
            Self::Blacklisted => &[
                "blacklisted",
                "失信联合惩戒",
                "列入失信联合惩戒名单",
                "严重失信",
            ],
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn required(self) -> bool {
        matches!(self, Self::Id | Self::Name)
    }

    /// The draw calls its class `tier`.
    fn name(self) -> &'static str {
        match self {
            Self::Tier => "tier",
            c => c.aliases()[0],
        }
    }
}

/// Opens a draw CSV file: every row has exactly the header's fields.
fn open(file: &Path) -> Result<table::Table, InputError> {
    let f = File::open(file).map_err(|e| file_err(file, e.to_string()))?;
    table::open_csv(f, &file.display().to_string(), Ragged::Strict).map_err(|e| table_err(file, e))
}

/// Rows read per batch: parsed on all cores, kept in file order.
const BATCH: usize = 16_384;

/// Reads every row and converts it with `parse`, in parallel batches; the next batch is read
/// on its own thread meanwhile. The error reported is the first one in file order, as a
/// sequential reader would report it.
fn records<T: Send>(
    file: &Path,
    rows: table::Rows,
    parse: impl Fn(u64, &Cells) -> Result<T, InputError> + Sync,
) -> Result<Vec<T>, InputError> {
    let (tx, batches) = std::sync::mpsc::sync_channel::<Vec<Result<Row, TableError>>>(2);
    // Stops when the file ends, or when an error drops `batches`.
    std::thread::spawn(move || {
        let mut rows = rows;
        loop {
            let batch: Vec<_> = rows.by_ref().take(BATCH).collect();
            let last = batch.len() < BATCH;
            if tx.send(batch).is_err() || last {
                return;
            }
        }
    });
    let mut out = Vec::new();
    for batch in batches {
        let parsed: Vec<Result<T, InputError>> = batch
            .into_par_iter()
            .map(|r| match r {
                Ok(row) => parse(row.line, &row.cells),
                Err(e) => Err(table_err(file, e)),
            })
            .collect();
        for r in parsed {
            out.push(r?);
        }
    }
    Ok(out)
}

/// Finds the two lines of a duplicate id (the error path only: the snapshot detects duplicates
/// after its sort, so reading never pays for a second one).
pub fn duplicate_error(file: &Path, id: &str) -> InputError {
    let found = (|| {
        let t = open(file).ok()?;
        let id_column = t.headers.iter().position(|h| {
            ObjectColumn::Id
                .aliases()
                .iter()
                .chain(InspectorColumn::Id.aliases())
                .any(|a| a.eq_ignore_ascii_case(h))
        })?;
        let lines: Vec<u64> = t
            .rows
            .map_while(Result::ok)
            .filter(|row| row.cells.get(id_column) == Some(id))
            .map(|row| row.line)
            .take(2)
            .collect();
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

/// The draw's objects; `policy_file` is where `policy` was read, for errors that are the
/// policy's.
pub fn read_objects(
    file: &Path,
    policy: &Policy,
    policy_file: &Path,
) -> Result<Vec<Object>, InputError> {
    use DrawColumn as C;
    let t = open(file)?;
    let cols = Columns::<DrawColumn>::new(&t.headers).map_err(|m| file_err(file, m))?;
    let has_tier = cols.has(C::Tier);
    let has_penalties = cols.has(C::Penalties);
    if !has_tier && !has_penalties {
        return Err(file_err(
            file,
            "line 1: needs a tier column, or penalties_12m (and blacklisted) to derive it",
        ));
    }
    records(file, t.rows, |line, rec| {
        let err = |field: &str, message: String| InputError::Field {
            file: file.to_owned(),
            line,
            field: field.into(),
            message,
        };
        let raw_id = cols.get(rec, C::Id);
        let id = ObjectId::parse(raw_id).map_err(|e| err("id", e.to_string()))?;
        let kind = parse_kind(cols.get(rec, C::Kind))
            .ok_or_else(|| err("kind", format!("unknown kind {:?}", cols.get(rec, C::Kind))))?;
        if ENTITY_KINDS.contains(&kind) {
            check_uscc(raw_id).map_err(|e| {
                err(
                    "id",
                    format!("{raw_id:?} is not a valid unified social credit code: {e}"),
                )
            })?;
        }
        let name = cols.get(rec, C::Name);
        if name.is_empty() {
            return Err(err("name", "is empty".into()));
        }
        let tier = match cols.get(rec, C::Tier) {
            "" if has_penalties => {
                let p = cols.get(rec, C::Penalties);
                let n: u32 = if p.is_empty() {
                    0
                } else {
                    p.parse()
                        .map_err(|_| err("penalties_12m", format!("{p:?} is not a whole number")))?
                };
                let b = cols.get(rec, C::Blacklisted);
                let b = parse_bool(b)
                    .ok_or_else(|| err("blacklisted", format!("{b:?} is not yes/no")))?;
                let derived = tier_from_penalties(n, b);
                if policy.tier_scheme != TierScheme::Penalty {
                    return Err(InputError::Field {
                        file: policy_file.to_owned(),
                        line: toml_field_line(&policy_text(policy_file)?, "tier_scheme")
                            .unwrap_or(1),
                        field: "tier_scheme".into(),
                        message: format!(
                            "{} line {line} has no tier, and deriving one from penalties needs the penalty scheme's tiers (good, notice, watch, warning, focus)",
                            file.display()
                        ),
                    });
                }
                if policy.tier_index(derived).is_none() {
                    return Err(unknown_tier(file, line, derived, policy, policy_file));
                }
                derived.to_owned()
            }
            "" => return Err(err("tier", "is empty".into())),
            t => {
                let t = tier_alias(t);
                if policy.tier_index(t).is_none() {
                    return Err(unknown_tier(file, line, t, policy, policy_file));
                }
                t.to_owned()
            }
        };
        let status_raw = cols.get(rec, C::Status);
        let status = ObjectStatus::parse(status_raw)
            .ok_or_else(|| err("status", format!("unknown status {status_raw:?}")))?;
        let last_inspected = match cols.get(rec, C::LastInspected) {
            "" => None,
            d => Some(parse_date(d).map_err(|e| err("last_inspected", e))?),
        };
        let last_inspectors = split_list(cols.get(rec, C::LastInspectors))
            .iter()
            .map(|s| InspectorId::parse(s).map_err(|e| err("last_inspectors", e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Object {
            id,
            name: name.into(),
            kind: Label::new(kind),
            region: Label::new(cols.get(rec, C::Region)),
            industry: Label::new(cols.get(rec, C::Industry)),
            tier: Label::new(&tier),
            status,
            last_inspected,
            last_inspectors,
            attributes: cols.extras(rec),
        })
    })
}

/// The inspector library's file; the draw does not read `active` and `role`.
pub fn read_inspectors(file: &Path) -> Result<Vec<Inspector>, InputError> {
    use InspectorColumn as C;
    let t = open(file)?;
    let cols = Columns::<InspectorColumn>::new(&t.headers).map_err(|m| file_err(file, m))?;
    records(file, t.rows, |line, rec| {
        let err = |field: &str, message: String| InputError::Field {
            file: file.to_owned(),
            line,
            field: field.into(),
            message,
        };
        let id = InspectorId::parse(cols.get(rec, C::Id)).map_err(|e| err("id", e.to_string()))?;
        let nonempty = |column: InspectorColumn| {
            let v = cols.get(rec, column);
            if v.is_empty() {
                Err(err(column.name(), "is empty".into()))
            } else {
                Ok(v.to_owned())
            }
        };
        let departments = split_list(&nonempty(C::Departments)?);
        let expiry = parse_date(&nonempty(C::CertificateExpiry)?)
            .map_err(|e| err("certificate_expiry", e))?;
        let conflicts = split_list(cols.get(rec, C::Conflicts))
            .iter()
            .map(|s| ObjectId::parse(s).map_err(|e| err("conflicts", e.to_string())))
            .collect::<Result<_, _>>()?;
        let max_load = match cols.get(rec, C::MaxLoad) {
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
            name: nonempty(C::Name)?,
            departments,
            region: cols.get(rec, C::Region).to_owned(),
            specialties: split_list(cols.get(rec, C::Specialties)),
            certificate_no: nonempty(C::CertificateNo)?,
            certificate_expiry: expiry,
            conflicts,
            max_load,
        })
    })
}

pub fn read_policy(file: &Path) -> Result<Policy, InputError> {
    let text = policy_text(file)?;
    let text = text.as_str();
    // Parsed here rather than by `Policy::from_toml` to keep the error's place in the text.
    let parsed: PolicyFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let (line, column) = text_position(text, at);
        InputError::Syntax {
            file: file.to_owned(),
            line,
            column,
            field: toml_key_at(text, at).unwrap_or_else(|| "(syntax)".into()),
            message: e.message().trim_end().replace('\n', " "),
        }
    })?;
    Policy::try_from(parsed).map_err(|e| match &e {
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

/// The policy file's text, without a byte-order mark.
fn policy_text(file: &Path) -> Result<String, InputError> {
    let text = std::fs::read_to_string(file).map_err(|e| file_err(file, e.to_string()))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(t) => t.to_owned(),
        None => text,
    })
}

/// An object's tier the policy does not define. The policy is at fault when the tier is one
/// of its own scheme's (given, or derived from penalties) that its `[[tiers]]` leave out; then
/// the error names the policy file and the tier entry that is not the scheme's, if any.
fn unknown_tier(
    objects: &Path,
    line: u64,
    tier: &str,
    policy: &Policy,
    policy_file: &Path,
) -> InputError {
    let known: Vec<&str> = policy.tiers.iter().map(|t| t.name.as_str()).collect();
    let scheme: Vec<&str> = policy.tier_scheme.tier_names().collect();
    if !scheme.contains(&tier) {
        return InputError::Field {
            file: objects.to_owned(),
            line,
            field: "tier".into(),
            message: format!(
                "unknown tier {tier:?} (the policy defines {})",
                known.join(", ")
            ),
        };
    }
    let scheme_name = match policy.tier_scheme {
        TierScheme::Penalty => "penalty",
        TierScheme::Abcd => "abcd",
    };
    let stray = known.iter().position(|t| !scheme.contains(t));
    let field = stray.map_or_else(|| "tiers".to_owned(), |i| format!("tiers[{i}].name"));
    let text = policy_text(policy_file).unwrap_or_default();
    let found = toml_field_line(&text, &field).filter(|_| !text.is_empty());
    let mut message = format!(
        "the {scheme_name} scheme's tier {tier:?}, which {} line {line} uses, is not among the \
         policy's tiers ({})",
        objects.display(),
        known.join(", ")
    );
    if let Some(i) = stray {
        message += &format!(
            "; {:?} is not one of the scheme's tiers ({})",
            known[i],
            scheme.join(", ")
        );
    }
    match found {
        Some(line) => InputError::Field {
            file: policy_file.to_owned(),
            line,
            field,
            message,
        },
        None => file_err(policy_file, message),
    }
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
