//! The annual plan and its tasks. Each change is a compare-and-set on the stored documents plus
//! an audit entry, in one transaction: two officers acting at once cannot both win.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::clock::stamped;
use super::documents::{self, Document, Stored};
use super::{Actor, Result, ServiceError};
use crate::library::fields::{text_position, toml_field_line, toml_key_at};
use crate::library::names::{check_id, check_name};
use crate::library::plan::{Plan, PlanState, Task, TaskFile};
use crate::library::{Kind, Record};
use crate::store::{DocKind, Store, StoreError};

/// A recorded change to an approved plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Amendment {
    pub plan_id: String,
    pub number: u32,
    pub approver: String,
    pub reason: String,
    #[serde(with = "stamped")]
    pub at: DateTime<Utc>,
    pub task_id: String,
    /// The task's definition before the amendment, if it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub replaced: Option<Task>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    /// The plan (docs/api.md: Plan).
    #[schema(value_type = Object)]
    pub plan: Plan,
    /// Its tasks (docs/api.md: Task).
    #[schema(value_type = Vec<Object>)]
    pub tasks: Vec<Task>,
    pub amendments: Vec<Amendment>,
}

/// A task file as handed in: its text and the name errors give it (a path, an upload's name).
#[derive(Clone, Copy, Debug)]
pub struct TaskText<'a> {
    pub name: &'a str,
    pub text: &'a str,
    /// The deployment's `[draw] min_cron_interval_secs`, which a cron schedule must keep.
    pub min_cron_interval: chrono::Duration,
}

impl Document for Plan {
    const KIND: DocKind = DocKind::Plan;
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Document for Task {
    const KIND: DocKind = DocKind::Task;
    fn id(&self) -> String {
        self.id.clone()
    }
    fn parent(&self) -> String {
        self.plan_id.clone()
    }
}

impl Document for Amendment {
    const KIND: DocKind = DocKind::Amendment;
    fn id(&self) -> String {
        format!("{}#{}", self.plan_id, self.number)
    }
    fn parent(&self) -> String {
        self.plan_id.clone()
    }
}

pub async fn load_plan(store: &dyn Store, id: &str) -> Result<Stored<Plan>> {
    documents::load(store, id).await
}

pub async fn load_task(store: &dyn Store, id: &str) -> Result<Task> {
    Ok(documents::load::<Task>(store, id).await?.value)
}

pub async fn create(
    store: &dyn Store,
    id: &str,
    year: i32,
    name: &str,
    actor: &Actor,
) -> Result<Plan> {
    check_id(id).map_err(|e| ServiceError::Invalid(format!("plan id: {e}")))?;
    check_name(name).map_err(|e| ServiceError::Invalid(format!("plan name: {e}")))?;
    if !(2000..=9999).contains(&year) {
        return Err(ServiceError::Invalid(format!(
            "year {year} is out of range"
        )));
    }
    let plan = Plan {
        id: id.into(),
        year,
        name: name.into(),
        state: PlanState::Draft,
        approved_by: None,
    };
    let doc = documents::to_doc(&plan);
    let audit = documents::draft(actor, "plan.create", id, &[&doc]);
    store
        .write_docs(vec![documents::create(doc)], audit)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ServiceError::Invalid(format!("plan {id:?} already exists")),
            e => e.into(),
        })?;
    Ok(plan)
}

/// draft → submitted (needs at least one task) → approved (names the approver).
pub async fn transition(store: &dyn Store, id: &str, to: PlanState, actor: &Actor) -> Result<Plan> {
    let stored = load_plan(store, id).await?;
    let mut plan = stored.value.clone();
    let from = plan.state;
    let action = match (from, to) {
        (PlanState::Draft, PlanState::Submitted) => {
            if documents::list::<Task>(store, Some(id)).await?.is_empty() {
                return Err(ServiceError::Invalid(format!(
                    "plan {id} has no task to submit"
                )));
            }
            "plan.submit"
        }
        (PlanState::Submitted, PlanState::Approved) => {
            plan.approved_by = Some(actor.name.clone());
            "plan.approve"
        }
        _ => {
            return Err(ServiceError::Invalid(format!(
                "plan {id} is {}: it cannot become {}",
                from.as_str(),
                to.as_str()
            )));
        }
    };
    plan.state = to;
    let (doc, op) = stored.replace_with(&plan);
    let audit = documents::draft(actor, action, id, &[&doc]);
    store.write_docs(vec![op], audit).await?;
    Ok(plan)
}

/// Reads a task file; errors name the file, line and field.
async fn read_task(store: &dyn Store, plan: &Plan, file: TaskText<'_>) -> Result<Task> {
    let text = file.text.strip_prefix('\u{feff}').unwrap_or(file.text);
    let field_error = |field: String, message: String| ServiceError::Field {
        file: file.name.into(),
        line: match field.as_str() {
            "policy" => text
                .lines()
                .position(|l| l.trim() == "[policy]")
                .map_or(1, |i| i as u64 + 1),
            f => toml_field_line(text, f).unwrap_or(1),
        },
        field,
        message,
    };
    let parsed: TaskFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let (line, column) = text_position(text, at);
        ServiceError::Field {
            file: file.name.into(),
            line,
            field: toml_key_at(text, at).unwrap_or_else(|| "(syntax)".into()),
            message: format!("column {column}: {}", e.message().trim_end()),
        }
    })?;
    let items = active_items(store).await?;
    let task = Task::from_file(&plan.id, plan.year, parsed, &|c| {
        items.binary_search_by(|i| i.as_str().cmp(c)).is_ok()
    })
    .map_err(|e| field_error(e.field, e.reason))?;
    task.check_cron_interval(file.min_cron_interval)
        .map_err(|e| field_error(e.field, e.reason))?;
    Ok(task)
}

async fn active_items(store: &dyn Store) -> Result<Vec<String>> {
    let mut read = store.begin_read().await?;
    let at = read.head().await?;
    let mut codes = Vec::new();
    let mut batches = read.scan(Kind::Items, at);
    while let Some(batch) = batches.try_next().await? {
        for data in batch.split('\n') {
            if let Ok(Record::Item(i)) = Record::from_data(Kind::Items, data) {
                if i.active {
                    codes.push(i.code);
                }
            }
        }
    }
    codes.sort();
    Ok(codes)
}

/// Adds a task to a draft plan (or replaces one, with `replace`).
pub async fn add_task(
    store: &dyn Store,
    plan_id: &str,
    file: TaskText<'_>,
    replace: bool,
    actor: &Actor,
) -> Result<Task> {
    let plan = load_plan(store, plan_id).await?;
    if plan.value.state != PlanState::Draft {
        return Err(ServiceError::Invalid(format!(
            "plan {plan_id} is {}: tasks change only through `plan amend` with an approver and a reason",
            plan.value.state.as_str()
        )));
    }
    let task = read_task(store, &plan.value, file).await?;
    let previous = documents::get::<Task>(store, &task.id).await?;
    if let Some(p) = &previous {
        if !replace || p.value.plan_id != plan_id {
            return Err(ServiceError::Invalid(format!(
                "task {} already exists in plan {}{}",
                task.id,
                p.value.plan_id,
                if p.value.plan_id == plan_id {
                    " (use --replace to change it)"
                } else {
                    ""
                }
            )));
        }
    }
    let (doc, op) = documents::put(&task, previous.as_ref());
    let action = match previous {
        Some(_) => "task.replace",
        None => "task.add",
    };
    let audit = documents::draft(actor, action, &task.id, &[&doc]);
    store.write_docs(vec![plan.expect(), op], audit).await?;
    Ok(task)
}

/// Changes an approved plan: adds or replaces one task, recording approver, reason and time.
pub async fn amend(
    store: &dyn Store,
    plan_id: &str,
    file: TaskText<'_>,
    approver: &str,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<Amendment> {
    let plan = load_plan(store, plan_id).await?;
    if plan.value.state != PlanState::Approved {
        return Err(ServiceError::Invalid(format!(
            "plan {plan_id} is {}: amendments are for approved plans (edit a draft with `task add`)",
            plan.value.state.as_str()
        )));
    }
    if approver.trim().is_empty() || actor.reason.trim().is_empty() {
        return Err(ServiceError::Invalid(
            "an amendment needs --approver and --reason".into(),
        ));
    }
    let task = read_task(store, &plan.value, file).await?;
    let previous = documents::get::<Task>(store, &task.id).await?;
    if previous
        .as_ref()
        .is_some_and(|p| p.value.plan_id != plan_id)
    {
        return Err(ServiceError::Invalid(format!(
            "task {} belongs to another plan",
            task.id
        )));
    }
    let number = documents::list::<Amendment>(store, Some(plan_id))
        .await?
        .len() as u32
        + 1;
    let amendment = Amendment {
        plan_id: plan_id.into(),
        number,
        approver: approver.into(),
        reason: actor.reason.clone(),
        at,
        task_id: task.id.clone(),
        replaced: previous.as_ref().map(|p| p.value.clone()),
    };
    let (task_doc, task_op) = documents::put(&task, previous.as_ref());
    let amendment_doc = documents::to_doc(&amendment);
    let audit = documents::draft(actor, "plan.amend", plan_id, &[&task_doc, &amendment_doc]);
    store
        .write_docs(
            vec![plan.expect(), task_op, documents::create(amendment_doc)],
            audit,
        )
        .await?;
    Ok(amendment)
}

pub async fn show(store: &dyn Store, plan_id: &str) -> Result<PlanView> {
    let plan = load_plan(store, plan_id).await?.value;
    let tasks = documents::list(store, Some(plan_id)).await?;
    let mut amendments: Vec<Amendment> = documents::list(store, Some(plan_id)).await?;
    amendments.sort_by_key(|a| a.number);
    Ok(PlanView {
        plan,
        tasks,
        amendments,
    })
}

/// Plans are public once approved; drafts are the office's own business.
pub async fn public(store: &dyn Store) -> Result<Vec<Plan>> {
    let mut plans = documents::list::<Plan>(store, None).await?;
    plans.retain(|p| p.state == PlanState::Approved);
    Ok(plans)
}

/// An approved plan with its tasks and amendments; a plan not yet approved is not found.
pub async fn show_public(store: &dyn Store, plan_id: &str) -> Result<PlanView> {
    let view = show(store, plan_id).await?;
    match view.plan.state {
        PlanState::Approved => Ok(view),
        _ => Err(not_approved(plan_id)),
    }
}

/// A task of an approved plan.
pub async fn public_task(store: &dyn Store, task_id: &str) -> Result<Task> {
    let task = load_task(store, task_id).await?;
    match load_plan(store, &task.plan_id).await?.value.state {
        PlanState::Approved => Ok(task),
        _ => Err(not_approved(&task.plan_id)),
    }
}

fn not_approved(plan_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("no approved plan {plan_id:?}"))
}
