//! The annual plan and its tasks. Each change is a compare-and-set on the stored documents plus
//! an audit entry, in one transaction: two officers acting at once cannot both win. Four eyes
//! (四眼原则): a plan is approved, and an amendment approved, by an enabled account with the
//! approver role that did not write it. A task with a run that stands (any but a failed one)
//! is history: no amendment replaces it, so none can bring about a second draw.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::clock::stamped;
use super::documents::{self, Document, Stored};
use super::accounts::{self, Role};
use super::{Actor, Result, ServiceError};
use crate::library::fields::{text_position, toml_field_line, toml_key_at};
use crate::library::names::{check_id, check_name};
use crate::library::plan::{Plan, PlanState, Task, TaskFile};
use crate::library::{Kind, Record};
use crate::store::{DocKind, Store, StoreError};

/// An amendment is proposed, then approved by another account, which applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AmendmentState {
    Proposed,
    Approved,
}

fn approved() -> AmendmentState {
    AmendmentState::Approved
}

/// A change to an approved plan: one task added or replaced. (Amendments stored before the
/// four-eyes rule read as approved, with no proposer or task recorded.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Amendment {
    pub plan_id: String,
    pub number: u32,
    #[serde(default = "approved")]
    pub state: AmendmentState,
    /// The account that proposed it.
    #[serde(default)]
    pub proposed_by: String,
    pub reason: String,
    /// When it was proposed.
    #[serde(with = "stamped")]
    pub at: DateTime<Utc>,
    pub task_id: String,
    /// The task as the amendment defines it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub task: Option<Task>,
    /// The task's definition before the amendment, if it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub replaced: Option<Task>,
    /// The approver account that approved it, once approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    #[serde(default, with = "stamped::option", skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
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
        authors: vec![actor.name.clone()],
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

/// The approver of what `authors` wrote: an enabled approver account that is none of them.
async fn four_eyes(store: &dyn Store, actor: &Actor, authors: &[String], what: &str) -> Result<()> {
    accounts::require(store, &actor.name, Role::Approver).await?;
    if authors.iter().any(|a| a == &actor.name) {
        return Err(ServiceError::Forbidden(format!(
            "{} wrote {what}: another approver must approve it (four eyes)",
            actor.name
        )));
    }
    Ok(())
}

/// draft → submitted (needs at least one task) → approved (by an approver account that is
/// none of its authors, recorded as that account).
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
            plan.authored_by(&actor.name);
            "plan.submit"
        }
        (PlanState::Submitted, PlanState::Approved) => {
            four_eyes(store, actor, &plan.authors, &format!("plan {id}")).await?;
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
            "plan {plan_id} is {}: tasks change only through an amendment, approved by another account",
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
    let mut authored = plan.value.clone();
    authored.authored_by(&actor.name);
    let (plan_doc, plan_op) = plan.replace_with(&authored);
    let audit = documents::draft(actor, action, &task.id, &[&doc, &plan_doc]);
    store.write_docs(vec![plan_op, op], audit).await?;
    Ok(task)
}

/// What this file reads of a stored run: its id and state. (The run model depends on this file
/// through snapshots, so it is not named here; a run's state is stored snake_case.)
#[derive(Deserialize)]
struct RunHead {
    id: String,
    state: String,
}

/// Refuses to redefine a task that has a run that stands (any but a failed one): such a task
/// was committed or drawn, and is not drawn again through a new definition.
async fn not_drawn(store: &dyn Store, task_id: &str) -> Result<()> {
    for doc in store.docs(DocKind::Run, Some(task_id)).await? {
        let run: RunHead = documents::parse(&doc)?;
        if run.state != "failed" {
            return Err(ServiceError::Invalid(format!(
                "task {task_id} has run {} ({}): a task with a draw is not redefined, so it \
                 is never drawn twice; add a new task instead",
                run.id, run.state
            )));
        }
    }
    Ok(())
}

/// Proposes a change to an approved plan: one task added or replaced, with a reason. Nothing
/// changes until another account approves it (`approve_amendment`).
pub async fn propose(
    store: &dyn Store,
    plan_id: &str,
    file: TaskText<'_>,
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
    if actor.reason.trim().is_empty() {
        return Err(ServiceError::Invalid("an amendment needs a reason".into()));
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
    not_drawn(store, &task.id).await?;
    let number = documents::list::<Amendment>(store, Some(plan_id))
        .await?
        .len() as u32
        + 1;
    let amendment = Amendment {
        plan_id: plan_id.into(),
        number,
        state: AmendmentState::Proposed,
        proposed_by: actor.name.clone(),
        reason: actor.reason.clone(),
        at,
        task_id: task.id.clone(),
        task: Some(task),
        replaced: previous.map(|p| p.value),
        approver: None,
        approved_at: None,
    };
    let doc = documents::to_doc(&amendment);
    let audit = documents::draft(actor, "plan.amend.propose", plan_id, &[&doc]);
    // Numbered in order: of two proposals at once, one takes the number and the other is
    // told to try again (409).
    store
        .write_docs(vec![plan.expect(), documents::create(doc)], audit)
        .await?;
    Ok(amendment)
}

/// Approves proposed amendment `number` of `plan_id` and applies it: by an approver account
/// other than the one that proposed it, while the task is still as the proposal found it and
/// has no run that stands.
pub async fn approve_amendment(
    store: &dyn Store,
    plan_id: &str,
    number: u32,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<Amendment> {
    let plan = load_plan(store, plan_id).await?;
    let stored = documents::load::<Amendment>(store, &format!("{plan_id}#{number}")).await?;
    let mut amendment = stored.value.clone();
    if amendment.state != AmendmentState::Proposed {
        return Err(ServiceError::Invalid(format!(
            "amendment {number} of plan {plan_id} is approved already"
        )));
    }
    let proposer = [amendment.proposed_by.clone()];
    let what = format!("amendment {number} of plan {plan_id}");
    four_eyes(store, actor, &proposer, &what).await?;
    let current = documents::get::<Task>(store, &amendment.task_id).await?;
    if current.as_ref().map(|c| &c.value) != amendment.replaced.as_ref() {
        return Err(StoreError::Conflict(format!(
            "task {} changed since {what} was proposed: propose it again",
            amendment.task_id
        ))
        .into());
    }
    not_drawn(store, &amendment.task_id).await?;
    amendment.state = AmendmentState::Approved;
    amendment.approver = Some(actor.name.clone());
    amendment.approved_at = Some(at);
    let task = amendment.task.as_ref().ok_or_else(|| {
        StoreError::Corrupt(format!("{what} is proposed but holds no task"))
    })?;
    let (task_doc, task_op) = documents::put(task, current.as_ref());
    let (amendment_doc, amendment_op) = stored.replace_with(&amendment);
    let audit = documents::draft(
        actor,
        "plan.amend.approve",
        plan_id,
        &[&task_doc, &amendment_doc],
    );
    store
        .write_docs(vec![plan.expect(), task_op, amendment_op], audit)
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

/// The plans this instance has seen approved. Approval is final (no transition leaves
/// `approved`), so a public task read needs its plan's state only once.
#[derive(Default)]
pub struct ApprovedPlans(std::sync::Mutex<BTreeSet<String>>);

impl ApprovedPlans {
    fn contains(&self, plan_id: &str) -> bool {
        self.0.lock().expect("approved plans").contains(plan_id)
    }

    fn insert(&self, plan_id: &str) {
        self.0.lock().expect("approved plans").insert(plan_id.to_owned());
    }
}

/// A task of an approved plan.
pub async fn public_task(store: &dyn Store, approved: &ApprovedPlans, task_id: &str) -> Result<Task> {
    let task = load_task(store, task_id).await?;
    if approved.contains(&task.plan_id) {
        return Ok(task);
    }
    match load_plan(store, &task.plan_id).await?.value.state {
        PlanState::Approved => {
            approved.insert(&task.plan_id);
            Ok(task)
        }
        _ => Err(not_approved(&task.plan_id)),
    }
}

fn not_approved(plan_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("no approved plan {plan_id:?}"))
}
