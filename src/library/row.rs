//! Reading one row of a library file by column, collecting every bad value rather than
//! stopping at the first.

use chrono::NaiveDate;

use super::FieldError;
use super::columns::{Cells, Column, Columns};
use super::fields::{parse_bool, parse_date, split_list};
use crate::core::model::ObjectId;

pub struct RowReader<'a, C, R: ?Sized> {
    pub cols: &'a Columns<C>,
    pub cells: &'a R,
    pub errors: Vec<FieldError>,
}

impl<'a, C: Column, R: Cells + ?Sized> RowReader<'a, C, R> {
    pub fn new(cols: &'a Columns<C>, cells: &'a R) -> Self {
        Self {
            cols,
            cells,
            errors: Vec::new(),
        }
    }

    pub fn get(&self, column: C) -> &'a str {
        self.cols.get(self.cells, column)
    }

    pub fn fail<T>(&mut self, column: C, reason: impl Into<String>) -> Option<T> {
        self.errors.push(FieldError {
            column: column.name().into(),
            value: self.get(column).chars().take(80).collect(),
            reason: reason.into(),
        });
        None
    }

    pub fn text(&self, column: C) -> String {
        self.get(column).to_owned()
    }

    pub fn nonempty(&mut self, column: C) -> Option<String> {
        match self.get(column) {
            "" => self.fail(column, "is empty"),
            v => Some(v.to_owned()),
        }
    }

    pub fn date(&mut self, column: C) -> Option<NaiveDate> {
        match parse_date(self.get(column)) {
            Ok(d) => Some(d),
            Err(e) => self.fail(column, e),
        }
    }

    pub fn optional_date(&mut self, column: C) -> Option<Option<NaiveDate>> {
        match self.get(column) {
            "" => Some(None),
            _ => self.date(column).map(Some),
        }
    }

    pub fn flag(&mut self, column: C, default: bool) -> Option<bool> {
        match self.get(column) {
            "" => Some(default),
            v => match parse_bool(v) {
                Some(b) => Some(b),
                None => self.fail(column, "is not yes/no"),
            },
        }
    }

    pub fn object_id(&mut self, column: C) -> Option<ObjectId> {
        match ObjectId::parse(self.get(column)) {
            Ok(id) => Some(id),
            Err(e) => self.fail(column, e.to_string()),
        }
    }

    /// A list (`;`, `；`, `|` or `、`), sorted and without repeats.
    pub fn list<T: Ord>(
        &mut self,
        column: C,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let mut out = Vec::new();
        for v in split_list(self.get(column)) {
            match parse(&v) {
                Ok(t) => out.push(t),
                Err(e) => return self.fail(column, format!("{v:?}: {e}")),
            }
        }
        out.sort();
        out.dedup();
        Some(out)
    }

    pub fn strings(&mut self, column: C) -> Option<Vec<String>> {
        self.list(column, |s| Ok(s.to_owned()))
    }

    pub fn positive(&mut self, column: C) -> Option<Option<u32>> {
        match self.get(column) {
            "" => Some(None),
            m => match m.parse::<u32>().ok().filter(|&v| v > 0) {
                Some(v) => Some(Some(v)),
                None => self.fail(column, "is not a whole number of at least 1"),
            },
        }
    }
}
