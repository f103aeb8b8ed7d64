//! Cron-driven sampling. Each pass looks at every task of every approved plan and starts the
//! run of its latest fire time that has come, if that run does not exist yet. Fire times
//! missed while no instance ran therefore run once (the latest), not once per tick, and the
//! run id (task + fire time) makes each fire run exactly once across restarts and instances.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::metrics::Metrics;
use crate::library::plan::{PlanState, Task};
use crate::service::plans::{load_plan, parse};
use crate::service::runs::Runs;
use crate::service::{Actor, Result};
use crate::store::DocKind;

pub async fn run(
    runs: Arc<Runs>,
    metrics: Arc<Metrics>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match pass(&runs, &metrics, Utc::now()).await {
            Ok(_) => {}
            Err(e) => {
                metrics.scheduler_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "scheduler pass failed; retrying next pass");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One pass at `now`: starts every due run. Returns the run ids it started.
#[tracing::instrument(name = "scheduler_pass", skip_all)]
pub async fn pass(runs: &Runs, metrics: &Metrics, now: DateTime<Utc>) -> Result<Vec<String>> {
    let mut started = Vec::new();
    let local_now = now.with_timezone(&runs.settings.timezone);
    for doc in runs.store().docs(DocKind::Task, None).await? {
        let task: Task = parse(&doc)?;
        if local_now.date_naive() > task.window_end {
            continue;
        }
        let Some(fire) = runs.fires(&task)?.take_while(|f| *f <= local_now).last() else {
            continue;
        };
        if runs
            .store()
            .doc(DocKind::Run, &Runs::run_id(&task.id, &fire))
            .await?
            .is_some()
        {
            continue;
        }
        let (plan, _) = load_plan(runs.store(), &task.plan_id).await?;
        if plan.state != PlanState::Approved {
            continue;
        }
        let actor = Actor {
            name: "scheduler".into(),
            reason: format!("scheduled fire {}", fire.to_rfc3339()),
        };
        match runs.trigger(&task.id, Some(fire), None, &actor).await {
            Ok((run, true)) => {
                metrics.scheduler_fires.fetch_add(1, Ordering::Relaxed);
                tracing::info!(run = %run.id, "scheduled run committed");
                started.push(run.id);
            }
            Ok((_, false)) => {}
            Err(e) => {
                metrics.scheduler_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(task = %task.id, error = %e, "scheduled run failed");
            }
        }
    }
    Ok(started)
}
