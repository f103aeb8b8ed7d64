//! The demo's office: the demo library loaded into a database with its plan approved (by
//! `demo`, `serve --demo`, the daemon benchmark and the tests), in resumable steps.

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate, Utc};

use super::office::{actor, open, task_file};
use crate::library::Kind;
use crate::library::plan::PlanState;
use crate::service::accounts::Role;
use crate::service::imports::ImportOptions;
use crate::service::plans::TaskText;
use crate::service::{self, Actor};
use crate::store::{self, Store};

/// The demo's second half: the office on the embedded default (a fresh SQLite file in `dir`):
/// import the library files, approve a plan with one task, freeze its pool, verify the log.
pub fn demo_office(dir: &std::path::Path, draw_date: NaiveDate) -> Result<bool> {
    let db = dir.join("office.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let url = format!("sqlite://{}", db.display());
    let lib = dir.join("library");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = store::open(&url, store::SealingKey::for_database(&url, "")?).await?;
        let who = actor("demo", "demo data".into());
        println!("office database {url}:");
        let task = load_demo(&*store, &lib, draw_date, &who).await?;
        let snap = service::snapshots::take(
            &*store,
            &task.id,
            None,
            Some(draw_date),
            Default::default(),
            &who,
            Utc::now(),
        )
        .await?;
        let tiers: Vec<String> = snap
            .roots
            .strata
            .iter()
            .filter(|s| s.count > 0)
            .map(|s| {
                format!(
                    "{}{} {}",
                    s.tier,
                    if s.cooled { " (cooled)" } else { "" },
                    s.count
                )
            })
            .collect();
        println!(
            "  snapshot {} of task {}: {} objects ({}), {} excluded, {} inspectors",
            &snap.address[..16],
            task.id,
            snap.objects,
            tiers.join(", "),
            snap.roots.excluded.count,
            snap.inspectors
        );
        service::snapshots::verify(&*store, &snap.address).await?;
        let report = service::verify::verify(&*store).await?;
        store.close().await;
        println!(
            "  snapshot rebuilt from history: same roots; audit log: {} entries, {}",
            report.entries,
            if report.problems.is_empty() {
                "intact"
            } else {
                "NOT intact"
            }
        );
        Ok(report.problems.is_empty())
    })
}

/// The demo's approver account (四眼: the demo's officer writes the plan, this account
/// approves it).
pub const DEMO_APPROVER: &str = "demo-approver";

/// Imports the demo library files in `lib` and approves a plan with the demo task, the
/// approval by the `DEMO_APPROVER` account (made if missing). Each step is skipped when done
/// already, so a load that died half-way, or several instances loading at once, end with the
/// same data set (an import that changes nothing writes nothing).
pub async fn load_demo(
    store: &dyn Store,
    lib: &std::path::Path,
    draw_date: NaiveDate,
    who: &Actor,
) -> Result<crate::library::plan::Task> {
    for kind in Kind::ALL {
        let file = lib.join(format!("{}.csv", kind.as_str()));
        let name = file.display().to_string();
        let options = ImportOptions::default();
        let r = service::imports::import(store, kind, open(&file)?, &name, options, who).await?;
        anyhow::ensure!(
            r.committed,
            "demo {} did not import: {:?}",
            kind.as_str(),
            r.bad.first()
        );
        println!("  imported {} {}", r.counts.inserted, kind.as_str());
    }
    let approver = actor(DEMO_APPROVER, who.reason.clone());
    match service::accounts::create(store, DEMO_APPROVER, Role::Approver, None, who, Utc::now())
        .await
    {
        Ok(_) | Err(service::ServiceError::Store(store::StoreError::Conflict(_))) => {}
        Err(e) => return Err(e.into()),
    }
    let plan = format!("{}", draw_date.format("%Y"));
    if service::plans::load_plan(store, &plan).await.is_err() {
        let created =
            service::plans::create(store, &plan, draw_date.year(), "演示年度抽查计划", who).await;
        reached(store, &plan, PlanState::Draft, created.map(drop)).await?;
    }
    let (name, text) = task_file(&lib.join("task.toml"))?;
    // The demo task has a date, not a cron schedule: the default minimum is moot.
    let file = TaskText {
        name: &name,
        text: &text,
        min_cron_interval: crate::config::Draw::default().min_cron_interval(),
    };
    if !at_least(store, &plan, PlanState::Submitted).await? {
        // Two instances adding the same task at once: the loser's conflict is no failure.
        let added = match service::plans::add_task(store, &plan, file, true, who).await {
            Err(service::ServiceError::Store(store::StoreError::Conflict(_))) => Ok(()),
            other => other.map(drop),
        };
        reached(store, &plan, PlanState::Submitted, added).await?;
    }
    let task = service::plans::show(store, &plan)
        .await?
        .tasks
        .into_iter()
        .next()
        .context("the demo plan has no task")?;
    for (to, by) in [(PlanState::Submitted, who), (PlanState::Approved, &approver)] {
        if !at_least(store, &plan, to).await? {
            let moved = service::plans::transition(store, &plan, to, by).await;
            reached(store, &plan, to, moved.map(drop)).await?;
        }
    }
    println!("  plan {plan} approved with task {}", task.id);
    Ok(task)
}

/// Whether `plan` is in state `to` or past it.
async fn at_least(store: &dyn Store, plan: &str, to: PlanState) -> Result<bool> {
    let rank = |s: PlanState| match s {
        PlanState::Draft => 0,
        PlanState::Submitted => 1,
        PlanState::Approved => 2,
    };
    let state = service::plans::load_plan(store, plan).await?.value.state;
    Ok(rank(state) >= rank(to))
}

/// A step's outcome where another instance may have taken it first: an error is one only if
/// the plan did not get to `to` after all.
async fn reached(
    store: &dyn Store,
    plan: &str,
    to: PlanState,
    step: service::Result<()>,
) -> Result<()> {
    match step {
        Ok(()) => Ok(()),
        Err(e) if at_least(store, plan, to).await? => {
            tracing::debug!(plan, error = %e, "another instance took this demo step first");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
