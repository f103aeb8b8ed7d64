//! Counts for the daemon's gauges: runs by state, stalled runs, deadlines by status.

use std::collections::BTreeMap;

use super::deadlines::DeadlineStatus;
use super::model::RunState;
use super::service::Runs;
use crate::service::Result;

/// Counts for the daemon's gauges, as of one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    pub by_state: BTreeMap<RunState, u64>,
    /// Committed runs whose drand round no relay has served within the configured limit.
    pub stalled: u64,
    pub by_deadline: BTreeMap<DeadlineStatus, u64>,
}

impl Runs {
    /// Runs by state, stalled runs and deadlines by status, as of now.
    pub async fn gauges(&self) -> Result<Gauges> {
        let runs = self.list(None).await?;
        let mut g = Gauges::default();
        for state in RunState::ALL {
            g.by_state.insert(state, 0);
        }
        for status in DeadlineStatus::ALL {
            g.by_deadline.insert(status, 0);
        }
        for r in &runs {
            *g.by_state.entry(r.state).or_default() += 1;
        }
        g.stalled = runs
            .iter()
            .filter(|r| r.drand.as_ref().is_some_and(|d| d.stalled.is_some()))
            .count() as u64;
        let deadlines = self.deadlines_of(&runs, self.today());
        for d in deadlines {
            *g.by_deadline.entry(d.status).or_default() += 1;
        }
        Ok(g)
    }
}
