//! Publication deadlines: results are due 20 working days after a task's window ends
//! (working days from `calendars`); a year with no calendar makes a deadline `unknown`.

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
    /// No calendar for a year the deadline needs.
    Unknown,
    Published,
    PublishedLate,
}

impl DeadlineStatus {
    pub const ALL: [DeadlineStatus; 6] = [
        DeadlineStatus::Overdue,
        DeadlineStatus::DueSoon,
        DeadlineStatus::OnTrack,
        DeadlineStatus::Unknown,
        DeadlineStatus::Published,
        DeadlineStatus::PublishedLate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineStatus::Overdue => "overdue",
            DeadlineStatus::DueSoon => "due_soon",
            DeadlineStatus::OnTrack => "on_track",
            DeadlineStatus::Unknown => "unknown",
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
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
    let published = run.published_at.map(|t| t.with_timezone(&tz).date_naive());
    let (status, problem) = match (&deadline, published) {
        (Ok(d), Some(p)) if p > *d => (S::PublishedLate, None),
        (_, Some(_)) => (S::Published, None),
        (Ok(d), None) if today > *d => (S::Overdue, None),
        (Ok(d), None) => match cal.add_working_days(today, soon) {
            Ok(limit) if *d <= limit => (S::DueSoon, None),
            Ok(_) => (S::OnTrack, None),
            Err(e) => (S::Unknown, Some(e.to_string())),
        },
        (Err(e), None) => (S::Unknown, Some(e.to_string())),
    };
    DeadlineView {
        run: run.id.clone(),
        task_id: run.task_id.clone(),
        state: run.state,
        window_end: run.window_end,
        deadline: deadline.ok(),
        status,
        problem,
    }
}
