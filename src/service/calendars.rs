//! The working-day calendars in force: the years shipped with the binary plus the years
//! administrators stored (which win). A year with no calendar is an error, never a guess.

use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use super::documents::{self, Document};
use super::{Actor, Result, ServiceError};
use crate::library::calendar::{WorkCalendar, YearFile};
use crate::store::{DocKind, Store, StoreError};

/// The calendars shipped with the binary; administrators add later years.
pub const SHIPPED_CALENDARS: &[&str] = &[include_str!("../../config/calendars/2026.toml")];

/// A stored year's calendar: its TOML text, as in `config/calendars/`.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct CalendarText(String);

impl Document for CalendarText {
    const KIND: DocKind = DocKind::Calendar;
    fn id(&self) -> String {
        toml::from_str::<YearFile>(&self.0)
            .map(|y| y.year.to_string())
            .unwrap_or_default()
    }
}

/// The working-day calendar in force: shipped years plus stored ones.
#[derive(Default)]
pub struct Calendars(RwLock<WorkCalendar>);

impl Calendars {
    pub async fn load(store: &dyn Store) -> Result<Self> {
        let calendars = Self::default();
        calendars.reload(store).await?;
        Ok(calendars)
    }

    /// Loads the shipped calendars, then the ones administrators stored (which win).
    pub async fn reload(&self, store: &dyn Store) -> Result<()> {
        let mut calendar = WorkCalendar::default();
        let stored = documents::list::<CalendarText>(store, None).await?;
        let texts = SHIPPED_CALENDARS
            .iter()
            .copied()
            .chain(stored.iter().map(|t| t.0.as_str()));
        for t in texts {
            let year: YearFile = toml::from_str(t)
                .map_err(|e| StoreError::Corrupt(format!("stored calendar: {e}")))?;
            calendar
                .add(year)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = calendar;
        Ok(())
    }

    /// Adds or replaces a year's calendar (TOML as in `config/calendars/`).
    pub async fn set(
        &self,
        store: &dyn Store,
        text: &str,
        expected_year: i32,
        actor: &Actor,
    ) -> Result<i32> {
        let year: YearFile = toml::from_str(text).map_err(|e| ServiceError::Field {
            file: "calendar.toml".into(),
            line: e
                .span()
                .map_or(1, |s| text[..s.start].lines().count().max(1) as u64),
            field: "calendar".into(),
            message: e.message().to_owned(),
        })?;
        let y = year.year;
        if y != expected_year {
            return Err(ServiceError::Invalid(format!(
                "the calendar is for {y}, not {expected_year}"
            )));
        }
        WorkCalendar::default()
            .add(year)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let new = CalendarText(text.to_owned());
        let previous = documents::get::<CalendarText>(store, &y.to_string()).await?;
        let (doc, op) = documents::put(&new, previous.as_ref());
        let audit = documents::draft(actor, "calendar", &doc.id, &[&doc]);
        store.write_docs(vec![op], audit).await?;
        self.reload(store).await?;
        Ok(y)
    }

    /// The calendar as it is now.
    pub fn current(&self) -> WorkCalendar {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
