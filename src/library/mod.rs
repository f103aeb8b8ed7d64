//! The two libraries and the data around them (penalty records, inspection history, check
//! items), as validated records. Pure: rows of text in, records and their canonical JSON out.
//! One file per kind of record, with its columns; here what is common to all kinds.
//!
//! Every record has a key (its identity across imports) and a canonical JSON form (`data`): two
//! imports of the same record give the same bytes, so the store can tell "unchanged" from
//! "changed" by comparing them.

pub mod calendar;
pub mod columns;
pub mod fields;
pub mod inspections;
pub mod inspectors;
pub mod items;
pub mod names;
pub mod objects;
pub mod penalties;
pub mod plan;
pub mod pool;
mod row;

use std::collections::BTreeMap;

use serde::Serialize;

use columns::{Cells, Column, Columns};
use row::RowReader;

pub use inspections::{InspectionColumn, InspectionRecord};
pub use inspectors::{InspectorColumn, InspectorRecord};
pub use items::{ItemColumn, ItemRecord};
pub use objects::{ObjectColumn, ObjectRecord};
pub use penalties::{PenaltyColumn, PenaltyKind, PenaltyRecord};

/// What a file holds; one library table each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Kind {
    Objects,
    Inspectors,
    /// Administrative penalties and the joint-punishment list (信用记录).
    Penalties,
    /// Past inspections (检查记录), for cooldown and inspector rotation.
    Inspections,
    /// The check-item list (抽查事项清单).
    Items,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Objects,
        Kind::Inspectors,
        Kind::Penalties,
        Kind::Inspections,
        Kind::Items,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Objects => "objects",
            Kind::Inspectors => "inspectors",
            Kind::Penalties => "penalties",
            Kind::Inspections => "inspections",
            Kind::Items => "items",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Canonical headers, in export order.
    pub fn headers(self) -> Vec<&'static str> {
        fn names<C: Column>() -> Vec<&'static str> {
            C::ALL.iter().map(|c| c.name()).collect()
        }
        match self {
            Kind::Objects => names::<ObjectColumn>(),
            Kind::Inspectors => names::<InspectorColumn>(),
            Kind::Penalties => names::<PenaltyColumn>(),
            Kind::Inspections => names::<InspectionColumn>(),
            Kind::Items => names::<ItemColumn>(),
        }
    }

    /// The column that names a record (what a duplicate is reported under).
    pub fn key_column(self) -> &'static str {
        self.headers()[0]
    }
}

/// One bad value in a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// A validated row of any kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Object(ObjectRecord),
    Inspector(InspectorRecord),
    Penalty(PenaltyRecord),
    Inspection(InspectionRecord),
    Item(ItemRecord),
}

impl Record {
    /// The identity across imports: ids, or (object, document) for penalty records, or
    /// (object, date, task) for inspections.
    pub fn key(&self) -> String {
        match self {
            Record::Object(o) => o.id.to_string(),
            Record::Inspector(i) => i.id.to_string(),
            Record::Penalty(p) => format!("{}|{}", p.object_id, p.document_no),
            Record::Inspection(i) => format!("{}|{}|{}", i.object_id, i.date, i.task),
            Record::Item(i) => i.code.clone(),
        }
    }

    /// Canonical JSON: struct fields in declaration order, lists sorted, maps by key.
    pub fn data(&self) -> String {
        match self {
            Record::Object(r) => serde_json::to_string(r),
            Record::Inspector(r) => serde_json::to_string(r),
            Record::Penalty(r) => serde_json::to_string(r),
            Record::Inspection(r) => serde_json::to_string(r),
            Record::Item(r) => serde_json::to_string(r),
        }
        .expect("records serialise")
    }

    pub fn from_data(kind: Kind, data: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            Kind::Objects => Record::Object(serde_json::from_str(data)?),
            Kind::Inspectors => Record::Inspector(serde_json::from_str(data)?),
            Kind::Penalties => Record::Penalty(serde_json::from_str(data)?),
            Kind::Inspections => Record::Inspection(serde_json::from_str(data)?),
            Kind::Items => Record::Item(serde_json::from_str(data)?),
        })
    }

    /// The record as a row under [`Kind::headers`] (what `export` writes and `import` reads
    /// back unchanged).
    pub fn to_row(&self) -> Vec<String> {
        match self {
            Record::Object(r) => r.to_row(),
            Record::Inspector(r) => r.to_row(),
            Record::Penalty(r) => r.to_row(),
            Record::Inspection(r) => r.to_row(),
            Record::Item(r) => r.to_row(),
        }
    }

    /// Extra (attribute) columns an export adds after the known ones.
    pub fn attributes(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Record::Object(o) => Some(&o.attributes),
            _ => None,
        }
    }
}

/// Reads rows of one kind of file: built from the header row, then one `parse` per data row.
pub struct Parser(Layout);

/// The header row matched against the kind's columns.
enum Layout {
    Objects(Columns<ObjectColumn>),
    Inspectors(Columns<InspectorColumn>),
    Penalties(Columns<PenaltyColumn>),
    Inspections(Columns<InspectionColumn>),
    Items(Columns<ItemColumn>),
}

impl Parser {
    /// Errors are "line 1: …" messages about the header. Only objects keep unknown columns
    /// (as attributes).
    pub fn new<S: AsRef<str>>(kind: Kind, headers: &[S]) -> Result<Self, String> {
        fn known<C: Column, S: AsRef<str>>(headers: &[S]) -> Result<Columns<C>, String> {
            let cols = Columns::<C>::new(headers.iter().map(AsRef::as_ref))?;
            if cols.extra.is_empty() {
                return Ok(cols);
            }
            let names: Vec<&str> = cols.extra.iter().map(|(_, h)| h.as_str()).collect();
            let known: Vec<&str> = C::ALL.iter().map(|c| c.name()).collect();
            Err(format!(
                "line 1: unknown column(s) {} (known: {})",
                names.join(", "),
                known.join(", ")
            ))
        }
        Ok(Self(match kind {
            Kind::Objects => Layout::Objects(Columns::new(headers.iter().map(AsRef::as_ref))?),
            Kind::Inspectors => Layout::Inspectors(known(headers)?),
            Kind::Penalties => Layout::Penalties(known(headers)?),
            Kind::Inspections => Layout::Inspections(known(headers)?),
            Kind::Items => Layout::Items(known(headers)?),
        }))
    }

    /// Every bad value of the row, not only the first.
    pub fn parse<R: Cells + ?Sized>(&self, cells: &R) -> Result<Record, Vec<FieldError>> {
        fn read<C: Column, R: Cells + ?Sized, T>(
            cols: &Columns<C>,
            cells: &R,
            parse: impl FnOnce(&mut RowReader<C, R>) -> Option<T>,
            wrap: impl FnOnce(T) -> Record,
        ) -> Result<Record, Vec<FieldError>> {
            let mut row = RowReader::new(cols, cells);
            match parse(&mut row) {
                Some(r) if row.errors.is_empty() => Ok(wrap(r)),
                _ => Err(row.errors),
            }
        }
        match &self.0 {
            Layout::Objects(c) => read(c, cells, ObjectRecord::parse, Record::Object),
            Layout::Inspectors(c) => read(c, cells, InspectorRecord::parse, Record::Inspector),
            Layout::Penalties(c) => read(c, cells, PenaltyRecord::parse, Record::Penalty),
            Layout::Inspections(c) => read(c, cells, InspectionRecord::parse, Record::Inspection),
            Layout::Items(c) => read(c, cells, ItemRecord::parse, Record::Item),
        }
    }
}
