//! The cron timer: each pass asks the service which runs are due (`Runs::due`) and starts
//! them. The run id (task + fire time) makes each fire run exactly once across restarts and
//! instances.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::metrics::Metrics;
use crate::service::runs::{Runs, WitnessRequest};
use crate::service::{Actor, Result};

pub async fn run(
    runs: Arc<Runs>,
    metrics: Arc<Metrics>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match pass(&runs, &metrics, runs.now()).await {
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

/// One pass at `now`: starts every due run, and finishes draws whose instance died (their
/// lease ran out). Returns the run ids it started.
#[tracing::instrument(name = "scheduler_pass", skip_all)]
pub async fn pass(runs: &Runs, metrics: &Metrics, now: DateTime<Utc>) -> Result<Vec<String>> {
    let mut started = Vec::new();
    for (task, fire) in runs.due(now).await? {
        let actor = Actor {
            name: "scheduler".into(),
            reason: format!("scheduled fire {}", fire.to_rfc3339()),
        };
        match runs
            .trigger(&task.id, Some(fire), WitnessRequest::default(), &actor)
            .await
        {
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
    for id in runs.finish_abandoned(now).await? {
        tracing::info!(run = %id, "drew a run another instance left in entropy");
    }
    Ok(started)
}
