//! Publication deadlines: results are due 20 working days after a task's window ends
//! (working days from `calendars`); a year with no calendar makes the deadline an estimate
//! from weekends alone, marked `estimated` with a note saying how to load the calendar.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::model::{Run, RunState};
use super::service::Runs;
use crate::library::calendar::WorkCalendar;
use crate::service::Result;

/// Where a run stands against its publication deadline.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    Overdue,
    DueSoon,
    OnTrack,
    Published,
    PublishedLate,
}

impl DeadlineStatus {
    pub const ALL: [DeadlineStatus; 5] = [
        DeadlineStatus::Overdue,
        DeadlineStatus::DueSoon,
        DeadlineStatus::OnTrack,
        DeadlineStatus::Published,
        DeadlineStatus::PublishedLate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineStatus::Overdue => "overdue",
            DeadlineStatus::DueSoon => "due_soon",
            DeadlineStatus::OnTrack => "on_track",
            DeadlineStatus::Published => "published",
            DeadlineStatus::PublishedLate => "published_late",
        }
    }
}

/// A run's publication deadline as of a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadlineView {
    pub run: String,
    pub task_id: String,
    pub state: RunState,
    pub window_end: NaiveDate,
    pub deadline: NaiveDate,
    /// The deadline (or the "due soon" horizon) falls in a year without a working-day
    /// calendar: counted from weekends alone; `problem` says how to load the calendar.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    pub status: DeadlineStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Runs {
    /// Every run's publication deadline as of `today`.
    pub async fn deadlines(&self, today: NaiveDate) -> Result<Vec<DeadlineView>> {
        Ok(self.deadlines_of(&self.list(None).await?, today))
    }

    pub(super) fn deadlines_of(&self, runs: &[Run], today: NaiveDate) -> Vec<DeadlineView> {
        let calendar = self.calendars.current();
        let soon = self.settings.due_soon_working_days;
        runs.iter()
            .map(|run| deadline(&calendar, run, today, soon, self.settings.timezone))
            .collect()
    }
}

fn deadline(cal: &WorkCalendar, run: &Run, today: NaiveDate, soon: u32, tz: Tz) -> DeadlineView {
    use DeadlineStatus as S;
    let deadline = cal.publication_deadline(run.window_end);
    let horizon = cal.add_working_days_or_estimate(today, soon);
    let d = deadline.date;
    let published = run.published_at.map(|t| t.with_timezone(&tz).date_naive());
    // An estimate is the earliest the deadline can be: holidays only move it later. So a
    // late publication is only called late against a real calendar, while an unpublished
    // run is warned about early rather than late.
    let status = match published {
        Some(p) if p > d && deadline.estimated_for.is_none() => S::PublishedLate,
        Some(_) => S::Published,
        None if today > d => S::Overdue,
        None if d <= horizon.date => S::DueSoon,
        None => S::OnTrack,
    };
    let estimated_for = deadline.estimated_for.or(horizon.estimated_for);
    let problem = estimated_for.map(|year| {
        format!(
            "estimated: no working-day calendar for {year} is loaded, so only weekends count as \
             rest days and public holidays may move the deadline later; an admin loads the \
             State Council's calendar with PUT /api/calendars/{year}"
        )
    });
    DeadlineView {
        run: run.id.clone(),
        task_id: run.task_id.clone(),
        state: run.state,
        window_end: run.window_end,
        deadline: d,
        estimated: estimated_for.is_some(),
        status,
        problem,
    }
}
