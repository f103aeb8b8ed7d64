//! The annual plan and its tasks. Each change is a compare-and-set on the stored documents plus
//! an audit entry, in one transaction: two officers acting at once cannot both win.

use std::path::Path;

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::snapshots::doc_entry;
use super::{Actor, Result, ServiceError};
use crate::library::fields::toml_field_line;
use crate::library::plan::{Plan, PlanState, Task, TaskFile};
use crate::library::{Kind, Record};
use crate::store::{AuditDraft, Doc, DocKind, DocOp, Store};

/// A recorded change to an approved plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Amendment {
    pub plan_id: String,
    pub number: u32,
    pub approver: String,
    pub reason: String,
    pub at: String,
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

/// The audit entry of a document write: who, what, and the hash of every document written.
pub(crate) fn draft(actor: &Actor, action: &str, subject: &str, docs: &[&Doc]) -> AuditDraft {
    AuditDraft {
        actor: actor.name.clone(),
        action: action.into(),
        subject: subject.into(),
        reason: actor.reason.clone(),
        detail: serde_json::json!({
            "documents": docs.iter().map(|d| doc_entry(d)).collect::<Vec<_>>(),
        }),
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("documents serialise")
}

/// A document without a secret.
pub(crate) fn document<T: Serialize>(kind: DocKind, id: &str, parent: &str, value: &T) -> Doc {
    Doc {
        kind,
        id: id.into(),
        parent: parent.into(),
        doc: json(value),
        secret: None,
    }
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(d: &Doc) -> Result<T> {
    serde_json::from_str(&d.doc).map_err(|e| {
        crate::store::StoreError::Corrupt(format!("{} {}: {e}", d.kind.as_str(), d.id)).into()
    })
}

pub async fn load_plan(store: &dyn Store, id: &str) -> Result<(Plan, Doc)> {
    let doc = store
        .doc(DocKind::Plan, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no plan {id:?}")))?;
    Ok((parse(&doc)?, doc))
}

pub async fn load_task(store: &dyn Store, id: &str) -> Result<Task> {
    let doc = store
        .doc(DocKind::Task, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no task {id:?}")))?;
    parse(&doc)
}

pub async fn create(
    store: &dyn Store,
    id: &str,
    year: i32,
    name: &str,
    actor: &Actor,
) -> Result<Plan> {
    if id.trim().is_empty() || id.trim() != id || id.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(
            "plan id must be non-empty, without surrounding spaces".into(),
        ));
    }
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
    let doc = document(DocKind::Plan, id, "", &plan);
    let audit = draft(actor, "plan.create", id, &[&doc]);
    store
        .write_docs(
            vec![DocOp::Put {
                new: doc,
                previous: None,
            }],
            audit,
        )
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                ServiceError::Invalid(format!("plan {id:?} already exists"))
            }
            e => e.into(),
        })?;
    Ok(plan)
}

/// draft → submitted (needs at least one task) → approved (names the approver).
pub async fn transition(store: &dyn Store, id: &str, to: PlanState, actor: &Actor) -> Result<Plan> {
    let (mut plan, old) = load_plan(store, id).await?;
    let from = plan.state;
    match (from, to) {
        (PlanState::Draft, PlanState::Submitted) => {
            if store.docs(DocKind::Task, Some(id)).await?.is_empty() {
                return Err(ServiceError::Invalid(format!(
                    "plan {id} has no task to submit"
                )));
            }
        }
        (PlanState::Submitted, PlanState::Approved) => plan.approved_by = Some(actor.name.clone()),
        _ => {
            return Err(ServiceError::Invalid(format!(
                "plan {id} is {}: it cannot become {}",
                from.as_str(),
                to.as_str()
            )));
        }
    }
    plan.state = to;
    let doc = Doc {
        doc: json(&plan),
        ..old.clone()
    };
    let action = format!(
        "plan.{}",
        if to == PlanState::Approved {
            "approve"
        } else {
            "submit"
        }
    );
    let audit = draft(actor, &action, id, &[&doc]);
    store
        .write_docs(
            vec![DocOp::Put {
                new: doc,
                previous: Some(old.doc),
            }],
            audit,
        )
        .await?;
    Ok(plan)
}

/// Reads a task TOML file; errors name the file, line and field.
pub async fn read_task_file(store: &dyn Store, plan: &Plan, file: &Path) -> Result<Task> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| ServiceError::Invalid(format!("{}: {e}", file.display())))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let field_error = |field: String, message: String| ServiceError::Field {
        file: file.to_owned(),
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
        let line = e
            .span()
            .map(|s| text[..s.start].lines().count().max(1) as u64)
            .unwrap_or(1);
        ServiceError::Field {
            file: file.to_owned(),
            line,
            field: "(toml)".into(),
            message: e.message().to_owned(),
        }
    })?;
    let items = active_items(store).await?;
    Task::from_file(&plan.id, plan.year, parsed, &|c| {
        items.binary_search_by(|i| i.as_str().cmp(c)).is_ok()
    })
    .map_err(|e| field_error(e.field, e.reason))
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
    file: &Path,
    replace: bool,
    actor: &Actor,
) -> Result<Task> {
    let (plan, plan_doc) = load_plan(store, plan_id).await?;
    if plan.state != PlanState::Draft {
        return Err(ServiceError::Invalid(format!(
            "plan {plan_id} is {}: tasks change only through `plan amend` with an approver and a reason",
            plan.state.as_str()
        )));
    }
    let task = read_task_file(store, &plan, file).await?;
    let previous = store.doc(DocKind::Task, &task.id).await?;
    if let Some(p) = &previous {
        if !replace || p.parent != plan_id {
            return Err(ServiceError::Invalid(format!(
                "task {} already exists in plan {}{}",
                task.id,
                p.parent,
                if p.parent == plan_id {
                    " (use --replace to change it)"
                } else {
                    ""
                }
            )));
        }
    }
    let doc = document(DocKind::Task, &task.id, plan_id, &task);
    let audit = draft(
        actor,
        if previous.is_some() {
            "task.replace"
        } else {
            "task.add"
        },
        &task.id,
        &[&doc],
    );
    store
        .write_docs(
            vec![
                DocOp::Expect {
                    kind: DocKind::Plan,
                    id: plan_id.into(),
                    doc: plan_doc.doc,
                },
                DocOp::Put {
                    new: doc,
                    previous: previous.map(|p| p.doc),
                },
            ],
            audit,
        )
        .await?;
    Ok(task)
}

/// Changes an approved plan: adds or replaces one task, recording approver, reason and time.
pub async fn amend(
    store: &dyn Store,
    plan_id: &str,
    file: &Path,
    approver: &str,
    actor: &Actor,
) -> Result<Amendment> {
    let (plan, plan_doc) = load_plan(store, plan_id).await?;
    if plan.state != PlanState::Approved {
        return Err(ServiceError::Invalid(format!(
            "plan {plan_id} is {}: amendments are for approved plans (edit a draft with `task add`)",
            plan.state.as_str()
        )));
    }
    if approver.trim().is_empty() || actor.reason.trim().is_empty() {
        return Err(ServiceError::Invalid(
            "an amendment needs --approver and --reason".into(),
        ));
    }
    let task = read_task_file(store, &plan, file).await?;
    let previous = store.doc(DocKind::Task, &task.id).await?;
    if previous.as_ref().is_some_and(|p| p.parent != plan_id) {
        return Err(ServiceError::Invalid(format!(
            "task {} belongs to another plan",
            task.id
        )));
    }
    let number = store.docs(DocKind::Amendment, Some(plan_id)).await?.len() as u32 + 1;
    let amendment = Amendment {
        plan_id: plan_id.into(),
        number,
        approver: approver.into(),
        reason: actor.reason.clone(),
        at: crate::store::audit::now(),
        task_id: task.id.clone(),
        replaced: previous.as_ref().map(parse).transpose()?,
    };
    let task_doc = document(DocKind::Task, &task.id, plan_id, &task);
    let amendment_doc = document(
        DocKind::Amendment,
        &format!("{plan_id}#{number}"),
        plan_id,
        &amendment,
    );
    let audit = draft(actor, "plan.amend", plan_id, &[&task_doc, &amendment_doc]);
    store
        .write_docs(
            vec![
                DocOp::Expect {
                    kind: DocKind::Plan,
                    id: plan_id.into(),
                    doc: plan_doc.doc,
                },
                DocOp::Put {
                    new: task_doc,
                    previous: previous.map(|p| p.doc),
                },
                DocOp::Put {
                    new: amendment_doc,
                    previous: None,
                },
            ],
            audit,
        )
        .await?;
    Ok(amendment)
}

pub async fn show(store: &dyn Store, plan_id: &str) -> Result<PlanView> {
    let (plan, _) = load_plan(store, plan_id).await?;
    let tasks = store
        .docs(DocKind::Task, Some(plan_id))
        .await?
        .iter()
        .map(parse)
        .collect::<Result<_>>()?;
    let mut amendments: Vec<Amendment> = store
        .docs(DocKind::Amendment, Some(plan_id))
        .await?
        .iter()
        .map(parse)
        .collect::<Result<_>>()?;
    amendments.sort_by_key(|a| a.number);
    Ok(PlanView {
        plan,
        tasks,
        amendments,
    })
}
