//! Working days for the publication deadline (20 working days after a task's window ends):
//! weekends rest unless a year's calendar makes them workdays, listed holidays rest. A year
//! without a loaded calendar is an error for the strict count; the deadline of such a year is
//! an estimate from weekends alone, marked as one.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

/// One year as published (e.g. `config/calendars/2026.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearFile {
    pub year: i32,
    #[serde(deserialize_with = "super::plan::toml_dates")]
    pub holidays: Vec<NaiveDate>,
    #[serde(deserialize_with = "super::plan::toml_dates")]
    pub workdays: Vec<NaiveDate>,
}

#[derive(Clone, Debug, Default)]
pub struct WorkCalendar {
    years: BTreeMap<i32, (BTreeSet<NaiveDate>, BTreeSet<NaiveDate>)>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "no working-day calendar is loaded for {0}: add that year's holidays before relying on this date"
    )]
    MissingYear(i32),
    #[error("calendar {year}: {date} {reason}")]
    BadDate {
        year: i32,
        date: NaiveDate,
        reason: &'static str,
    },
}

/// The deadline's days are counted the day after the window ends.
pub const PUBLICATION_WORKING_DAYS: u32 = 20;

impl WorkCalendar {
    /// Adds (or replaces) a year; every date must lie in it, holidays on no make-up day.
    pub fn add(&mut self, y: YearFile) -> Result<(), CalendarError> {
        let bad = |date, reason| CalendarError::BadDate {
            year: y.year,
            date,
            reason,
        };
        for &d in y.holidays.iter().chain(&y.workdays) {
            if d.year() != y.year {
                return Err(bad(d, "is not in the calendar's year"));
            }
        }
        let holidays: BTreeSet<NaiveDate> = y.holidays.into_iter().collect();
        let workdays: BTreeSet<NaiveDate> = y.workdays.into_iter().collect();
        if let Some(&d) = holidays.intersection(&workdays).next() {
            return Err(bad(d, "is both a holiday and a workday"));
        }
        if let Some(&d) = workdays.iter().find(|d| !is_weekend(**d)) {
            return Err(bad(d, "is a make-up workday but not a weekend day"));
        }
        self.years.insert(y.year, (holidays, workdays));
        Ok(())
    }

    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        let (holidays, workdays) = self
            .years
            .get(&d.year())
            .ok_or(CalendarError::MissingYear(d.year()))?;
        Ok(workdays.contains(&d) || !(holidays.contains(&d) || is_weekend(d)))
    }

    /// When results of a task whose window ends on `window_end` must be published.
    pub fn publication_deadline(&self, window_end: NaiveDate) -> Deadline {
        self.add_working_days_or_estimate(window_end, PUBLICATION_WORKING_DAYS)
    }

    /// The `n`-th working day after `start` (not counting `start`). A day of a year without a
    /// calendar counts as a working day unless it is a weekend: its holidays unknown, the real
    /// date may be later, and the answer says so.
    pub fn add_working_days_or_estimate(&self, start: NaiveDate, n: u32) -> Deadline {
        let mut d = start;
        let mut left = n;
        let mut estimated_for = None;
        while left > 0 {
            d = d + Days::new(1);
            let working = self.is_working_day(d).unwrap_or_else(|_| {
                estimated_for.get_or_insert(d.year());
                !is_weekend(d)
            });
            if working {
                left -= 1;
            }
        }
        Deadline {
            date: d,
            estimated_for,
        }
    }
}

/// A date counted in working days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub date: NaiveDate,
    /// The first year without a calendar that the count went through: the date is an
    /// estimate from weekends alone.
    pub estimated_for: Option<i32>,
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> WorkCalendar {
        let text = include_str!("../../config/calendars/2026.toml");
        let mut c = WorkCalendar::default();
        c.add(toml::from_str(text).unwrap()).unwrap();
        c
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_2026_calendar_follows_the_state_council_notice() {
        let c = cal();
        assert!(!c.is_working_day(d("2026-10-01")).unwrap(), "National Day");
        assert!(
            c.is_working_day(d("2026-10-10")).unwrap(),
            "Saturday make-up workday"
        );
        assert!(
            c.is_working_day(d("2026-01-04")).unwrap(),
            "Sunday make-up workday"
        );
        assert!(
            !c.is_working_day(d("2026-03-07")).unwrap(),
            "an ordinary Saturday"
        );
        assert!(
            c.is_working_day(d("2026-03-09")).unwrap(),
            "an ordinary Monday"
        );
        // Window ends Friday 25 Sep (a holiday). Counted by hand, cumulative: Sep 28–30 (3),
        // Oct 8, 9 and Saturday 10 (make-up) (6), Oct 12–16 (11), 19–23 (16), 26–29 (20).
        assert_eq!(
            c.publication_deadline(d("2026-09-25")),
            Deadline {
                date: d("2026-10-29"),
                estimated_for: None
            }
        );
        // Spring Festival: window ends Friday 13 Feb; Sat 14 Feb is a make-up workday (1),
        // Feb 15–23 rest, Feb 24–27 (5), Sat 28 Feb (6), Mar 2–6 (11), 9–13 (16), 16–19 (20).
        assert_eq!(c.publication_deadline(d("2026-02-13")).date, d("2026-03-19"));
    }

    #[test]
    fn a_deadline_in_a_year_without_a_calendar_is_an_estimate_and_says_so() {
        let c = cal();
        assert_eq!(
            c.is_working_day(d("2027-01-04")),
            Err(CalendarError::MissingYear(2027))
        );
        // 2026's own days still count with its calendar: Dec 21–25 (5), 28–31 (9); then 2027
        // from weekends alone: Jan 1 (10, a holiday in fact), 4–8 (15), 11–15 (20).
        assert_eq!(
            c.publication_deadline(d("2026-12-20")),
            Deadline {
                date: d("2027-01-15"),
                estimated_for: Some(2027)
            }
        );
        let bad = YearFile {
            year: 2027,
            holidays: vec![d("2027-01-01")],
            workdays: vec![d("2027-01-05")],
        };
        assert!(matches!(
            WorkCalendar::default().add(bad),
            Err(CalendarError::BadDate { .. })
        ));
    }
}
