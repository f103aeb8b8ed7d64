//! The annual plan (年度抽查计划) and its tasks. A plan goes draft → submitted → approved; after
//! approval it changes only through an amendment, proposed with a reason by one account and
//! approved by another.

use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::names::{check_id, check_name};
use crate::core::policy::{Policy, PolicyFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    Draft,
    Submitted,
    Approved,
}

impl PlanState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Draft => "draft",
            PlanState::Submitted => "submitted",
            PlanState::Approved => "approved",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub year: i32,
    pub name: String,
    pub state: PlanState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// Who created it, added or replaced a task or submitted it: none of them may approve it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
}

impl Plan {
    /// Records `name` among the authors (once).
    pub fn authored_by(&mut self, name: &str) {
        if !self.authors.iter().any(|a| a == name) {
            self.authors.push(name.into());
        }
    }
}

/// When a task's draw happens: once on a date, or on a cron schedule within the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Date(NaiveDate),
    /// A `cron` crate expression (seconds first), read in the deployment's timezone.
    Cron(String),
}

/// A task as written in a task TOML file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    pub id: String,
    pub name: String,
    /// Check-item codes from the item list.
    pub items: Vec<String>,
    pub lead_department: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participating_departments: Vec<String>,
    #[serde(deserialize_with = "toml_date")]
    pub window_start: NaiveDate,
    #[serde(deserialize_with = "toml_date")]
    pub window_end: NaiveDate,
    #[serde(default, deserialize_with = "toml_optional_date")]
    pub date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Commit even when the announced entropy has under 64 bits of min-entropy (e.g. witness
    /// values only): published in the commitment (draw-spec §7.6).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_weak_entropy: bool,
    /// The draw policy (policy.toml's fields); `draw_date` is set by each snapshot.
    pub policy: toml::Table,
}

/// A date written as a TOML date (`2027-03-05`) or a string (`"2027-03-05"`).
fn toml_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = match toml::Value::deserialize(d)? {
        toml::Value::String(s) => s,
        toml::Value::Datetime(t) if t.time.is_none() && t.offset.is_none() => t.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "{other} is not a date (YYYY-MM-DD)"
            )));
        }
    };
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD)")))
}

/// A list of dates, each as `toml_date` reads it.
pub fn toml_dates<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(deserialize_with = "toml_date")] NaiveDate);
    Ok(Vec::<One>::deserialize(d)?
        .into_iter()
        .map(|o| o.0)
        .collect())
}

fn toml_optional_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<NaiveDate>, D::Error> {
    toml_date(d).map(Some)
}

/// A validated task. `policy_toml` is kept as text: it is what officers wrote and approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub plan_id: String,
    pub name: String,
    pub items: Vec<String>,
    pub lead_department: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participating_departments: Vec<String>,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub schedule: Schedule,
    pub policy_toml: String,
    /// See [`TaskFile::allow_weak_entropy`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_weak_entropy: bool,
}

/// A bad task field; `field` is a TOML path like `policy.tiers[1].ratio`.
#[derive(Debug, PartialEq, Eq)]
pub struct TaskError {
    pub field: String,
    pub reason: String,
}

fn bad(field: &str, reason: impl Into<String>) -> TaskError {
    TaskError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// China Standard Time: no daylight saving, so a fixed offset is exact.
pub fn china_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

impl Task {
    /// Validates a task file for a plan of `year`. `known_items` are the active item codes.
    pub fn from_file(
        plan_id: &str,
        year: i32,
        f: TaskFile,
        known_items: &dyn Fn(&str) -> bool,
    ) -> Result<Task, TaskError> {
        check_id(&f.id).map_err(|e| bad("id", e))?;
        check_name(&f.name).map_err(|e| bad("name", e))?;
        if f.items.is_empty() {
            return Err(bad("items", "names no check item"));
        }
        if let Some((i, code)) = f.items.iter().enumerate().find(|(_, c)| !known_items(c)) {
            return Err(bad(
                &format!("items[{i}]"),
                format!("{code:?} is not an active item of the check-item list"),
            ));
        }
        if f.lead_department.trim().is_empty() {
            return Err(bad("lead_department", "is empty"));
        }
        if f.window_end < f.window_start {
            return Err(bad("window_end", "is before window_start"));
        }
        if f.window_start.year() != year || f.window_end.year() != year {
            return Err(bad(
                "window_start",
                format!("the window must lie in the plan's year {year}"),
            ));
        }
        let schedule = match (f.date, f.cron) {
            (Some(d), None) => {
                if d < f.window_start || d > f.window_end {
                    return Err(bad("date", "is outside the task window"));
                }
                Schedule::Date(d)
            }
            (None, Some(c)) => {
                let s = cron::Schedule::from_str(&c).map_err(|e| {
                    bad(
                        "cron",
                        format!(
                            "{c:?} is not a cron expression (sec min hour day month weekday): {e}"
                        ),
                    )
                })?;
                let tz = china_time();
                let start = tz
                    .from_local_datetime(&f.window_start.and_hms_opt(0, 0, 0).expect("midnight"))
                    .single()
                    .expect("fixed offset");
                let fires = s.after(&(start - chrono::Duration::seconds(1))).next();
                if fires.is_none_or(|t| t.date_naive() > f.window_end) {
                    return Err(bad("cron", "never fires within the task window"));
                }
                Schedule::Cron(c)
            }
            _ => {
                return Err(bad(
                    "date",
                    "give exactly one of date = YYYY-MM-DD or cron = \"…\"",
                ));
            }
        };
        let mut policy = f.policy.clone();
        // Inspectors come from the lead department, then the participating ones, unless the
        // policy says otherwise.
        if let Some(toml::Value::Table(ins)) = policy.get_mut("inspectors") {
            ins.entry("departments").or_insert_with(|| {
                std::iter::once(&f.lead_department)
                    .chain(&f.participating_departments)
                    .map(|d| toml::Value::String(d.clone()))
                    .collect::<Vec<_>>()
                    .into()
            });
        }
        if policy.contains_key("draw_date") {
            return Err(bad(
                "policy.draw_date",
                "is set by each snapshot; leave it out",
            ));
        }
        let policy_toml = toml::to_string(&policy).expect("a table serialises");
        policy.insert(
            "draw_date".into(),
            toml::Value::String(f.window_start.to_string()),
        );
        let file = PolicyFile::deserialize(toml::Value::Table(policy))
            .map_err(|e| bad("policy", e.to_string().trim_end().replace('\n', " ")))?;
        Policy::try_from(file).map_err(|e| match e {
            crate::core::CoreError::BadPolicy { field, reason } => {
                bad(&format!("policy.{field}"), reason)
            }
            other => bad("policy", other.to_string()),
        })?;
        Ok(Task {
            id: f.id,
            plan_id: plan_id.into(),
            name: f.name,
            items: f.items,
            lead_department: f.lead_department,
            participating_departments: f.participating_departments,
            window_start: f.window_start,
            window_end: f.window_end,
            schedule,
            policy_toml,
            allow_weak_entropy: f.allow_weak_entropy,
        })
    }
}

/// Why a task's fire times cannot be computed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0} has no midnight in {1}")]
    NoMidnight(NaiveDate, Tz),
    /// Validated when the task was added, so the stored task is damaged.
    #[error("task {task} cron: {reason}")]
    BadCron { task: String, reason: String },
    #[error("task {0} never fires in its window")]
    NeverFires(String),
}

/// Fires a cron schedule is followed through to find its shortest gap: a year of hourly fires.
const CRON_FIRES_CHECKED: usize = 10_000;

impl Task {
    /// Refuses a cron schedule two of whose fires in the window come closer than `min`
    /// (`[draw] min_cron_interval_secs`): every fire is a new draw of the same task, and a
    /// schedule that draws again and again would let whoever runs it choose among the results.
    pub fn check_cron_interval(&self, min: chrono::Duration) -> Result<(), TaskError> {
        if !matches!(self.schedule, Schedule::Cron(_)) || min <= chrono::Duration::zero() {
            return Ok(());
        }
        let fires = self
            .fires(chrono_tz::Asia::Shanghai)
            .map_err(|e| bad("cron", e.to_string()))?;
        let mut last = None;
        for fire in fires.take(CRON_FIRES_CHECKED) {
            if let Some(previous) = last {
                let gap: chrono::Duration = fire - previous;
                if gap < min {
                    return Err(bad(
                        "cron",
                        format!(
                            "fires {}s after its fire at {previous}, more often than the \
                             minimum of {}s ([draw] min_cron_interval_secs)",
                            gap.num_seconds(),
                            min.num_seconds()
                        ),
                    ));
                }
            }
            last = Some(fire);
        }
        Ok(())
    }

    /// The task's fire times within its window, in order, in `tz`.
    pub fn fires(&self, tz: Tz) -> Result<Box<dyn Iterator<Item = DateTime<Tz>>>, ScheduleError> {
        let midnight = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .ok_or(ScheduleError::NoMidnight(d, tz))
        };
        match &self.schedule {
            Schedule::Date(d) => Ok(Box::new(std::iter::once(midnight(*d)?))),
            Schedule::Cron(expr) => {
                let schedule =
                    cron::Schedule::from_str(expr).map_err(|e| ScheduleError::BadCron {
                        task: self.id.clone(),
                        reason: e.to_string(),
                    })?;
                let start = midnight(self.window_start)? - chrono::Duration::seconds(1);
                let end = self.window_end;
                Ok(Box::new(
                    schedule
                        .after_owned(start)
                        .take_while(move |t| t.date_naive() <= end),
                ))
            }
        }
    }

    /// The fire time a trigger at `now` belongs to: a date task's date (midnight), or a cron
    /// task's latest fire so far (its first if none has come yet).
    pub fn current_fire(&self, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Tz>, ScheduleError> {
        let now = now.with_timezone(&tz);
        let mut current = None;
        for f in self.fires(tz)? {
            if f > now && current.is_some() {
                break;
            }
            let future = f > now;
            current = Some(f);
            if future {
                break;
            }
        }
        current.ok_or_else(|| ScheduleError::NeverFires(self.id.clone()))
    }

    /// The latest fire at or before `now`, if the window is still open on `now`'s day.
    pub fn due_fire(
        &self,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Tz>>, ScheduleError> {
        let now = now.with_timezone(&tz);
        if now.date_naive() > self.window_end {
            return Ok(None);
        }
        Ok(self.fires(tz)?.take_while(|f| *f <= now).last())
    }
}
