//! A file's columns by name: each kind declares its columns as an enum (with their header
//! aliases, canonical name first), and `Columns` matches a header row against them once, so a
//! row is then read by column name at the cost of an index.

use std::marker::PhantomData;

/// A kind of file's columns. Implemented by the enums that [`columns!`] declares.
pub trait Column: Copy + Eq + 'static {
    /// Every column, in export order (the order of the variants).
    const ALL: &'static [Self];
    /// Header aliases, English and Chinese, canonical name first.
    fn aliases(self) -> &'static [&'static str];
    /// The column's position in [`Column::ALL`].
    fn index(self) -> usize;
    fn required(self) -> bool;
    /// The name errors and exports use.
    fn name(self) -> &'static str {
        self.aliases()[0]
    }
}

/// Declares a column enum: `Variant => [aliases…]`, and which variants a file must have.
macro_rules! columns {
    (
        $(#[$meta:meta])*
        pub enum $name:ident (required: $($req:ident)|+) {
            $($(#[$vmeta:meta])* $var:ident => $aliases:expr,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $var,)+
        }

        impl $crate::library::columns::Column for $name {
            const ALL: &'static [Self] = &[$($name::$var,)+];
            fn aliases(self) -> &'static [&'static str] {
                match self {
                    $($name::$var => $aliases,)+
                }
            }
            fn index(self) -> usize {
                self as usize
            }
            fn required(self) -> bool {
                matches!(self, $($name::$req)|+)
            }
        }
    };
}
pub(crate) use columns;

/// A row's cells by position.
pub trait Cells {
    fn cell(&self, i: usize) -> Option<&str>;
}

impl Cells for [String] {
    fn cell(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

/// A header row matched against the columns `C`. Unknown columns are kept, by position, as
/// extras.
pub struct Columns<C> {
    /// For each known column, its index in the file.
    at: Vec<Option<usize>>,
    pub extra: Vec<(usize, String)>,
    column: PhantomData<C>,
}

impl<C: Column> Columns<C> {
    /// Errors are "line 1: …" messages about the header.
    pub fn new<S: AsRef<str>>(headers: impl IntoIterator<Item = S>) -> Result<Self, String> {
        let mut at = vec![None; C::ALL.len()];
        let mut extra = Vec::new();
        for (i, h) in headers.into_iter().enumerate() {
            let h = h.as_ref().trim();
            match C::ALL
                .iter()
                .find(|c| c.aliases().iter().any(|a| a.eq_ignore_ascii_case(h)))
            {
                Some(c) => {
                    if at[c.index()].replace(i).is_some() {
                        return Err(format!(
                            "line 1: column {h:?} is given twice (as {})",
                            c.name()
                        ));
                    }
                }
                None if h.is_empty() => {
                    return Err(format!("line 1: column {} has no header", i + 1));
                }
                None => extra.push((i, h.to_owned())),
            }
        }
        for c in C::ALL.iter().filter(|c| c.required()) {
            if at[c.index()].is_none() {
                return Err(format!(
                    "line 1: missing column {} (any of: {})",
                    c.name(),
                    c.aliases().join(", ")
                ));
            }
        }
        Ok(Self {
            at,
            extra,
            column: PhantomData,
        })
    }

    pub fn has(&self, column: C) -> bool {
        self.at[column.index()].is_some()
    }

    /// The trimmed cell of a known column, "" when the column is absent.
    pub fn get<'r, R: Cells + ?Sized>(&self, cells: &'r R, column: C) -> &'r str {
        self.at[column.index()]
            .and_then(|i| cells.cell(i))
            .map(str::trim)
            .unwrap_or("")
    }

    /// The extra columns' non-empty cells, by header.
    pub fn extras<R: Cells + ?Sized>(
        &self,
        cells: &R,
    ) -> std::collections::BTreeMap<String, String> {
        self.extra
            .iter()
            .filter_map(|(i, h)| cells.cell(*i).map(|v| (h.clone(), v.trim().to_owned())))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }
}
