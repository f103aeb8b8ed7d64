//! The draw service: the store, the publication key, the settings and the clock it works with,
//! and the reads every step shares. The steps themselves are `impl Runs` blocks in the other
//! files of this folder.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::OwnedMutexGuard;

use super::cache::PoolCache;
use super::model::Run;
use super::settings::DrawSettings;
use crate::core::tlog::InclusionProof;
use crate::service::access::PublicationKey;
use crate::service::calendars::Calendars;
use crate::service::clock::{Clock, SystemClock};
use crate::service::documents::{self, Stored};
use crate::service::tlog;
use crate::service::{Actor, Result};
use crate::store::Store;

/// The draw service shared by the HTTP handlers, the scheduler and the drand watcher.
pub struct Runs {
    pub(super) store: Arc<dyn Store>,
    pub(super) key: PublicationKey,
    pub settings: DrawSettings,
    clock: Arc<dyn Clock>,
    /// One transition per run at a time within this instance; the store's compare-and-set
    /// settles races between instances.
    locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(super) cache: PoolCache,
    pub(super) calendars: Calendars,
    log: tlog::LogCache,
    /// For the public task pages.
    pub approved_plans: crate::service::plans::ApprovedPlans,
}

impl Runs {
    /// The service on the system clock.
    pub async fn new(
        store: Arc<dyn Store>,
        key: PublicationKey,
        settings: DrawSettings,
    ) -> Result<Self> {
        Self::with_clock(store, key, settings, Arc::new(SystemClock)).await
    }

    pub async fn with_clock(
        store: Arc<dyn Store>,
        key: PublicationKey,
        settings: DrawSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let calendars = Calendars::load(&*store).await?;
        Ok(Self {
            store,
            key,
            settings,
            clock,
            locks: Mutex::default(),
            cache: Default::default(),
            calendars,
            log: Default::default(),
            approved_plans: Default::default(),
        })
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub fn public_key(&self) -> String {
        self.key.public_hex()
    }

    /// Now, on the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today in the deployment's timezone.
    pub fn today(&self) -> NaiveDate {
        self.now()
            .with_timezone(&self.settings.timezone)
            .date_naive()
    }

    /// Waits for this instance's other transitions of `run_id` to finish; held until dropped.
    pub(super) async fn lock(&self, run_id: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(run_id.into()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The run as stored, under its lock: what a transition starts from.
    pub(super) async fn locked(&self, run_id: &str) -> Result<(OwnedMutexGuard<()>, Stored<Run>)> {
        let held = self.lock(run_id).await;
        Ok((held, self.load(run_id).await?))
    }

    pub async fn get(&self, run_id: &str) -> Result<Run> {
        Ok(self.load(run_id).await?.value)
    }

    pub(super) async fn load(&self, run_id: &str) -> Result<Stored<Run>> {
        documents::load(&*self.store, run_id).await
    }

    /// Every run, or a task's, in id order.
    pub async fn list(&self, task_id: Option<&str>) -> Result<Vec<Run>> {
        documents::list(&*self.store, task_id).await
    }

    /// The transparency log at its latest signed checkpoint (a new one if the log grew).
    pub async fn log(&self) -> Result<Arc<tlog::Verified>> {
        tlog::current(
            &*self.store,
            &self.key,
            &self.settings.log_origin,
            &self.log,
            self.now(),
        )
        .await
    }

    /// The signed checkpoint of the transparency log.
    pub async fn checkpoint(&self) -> Result<String> {
        Ok(self.log().await?.note().to_owned())
    }

    /// A run's latest log entry with its proof in the current checkpoint.
    pub async fn log_proof(&self, run_id: &str) -> Result<InclusionProof> {
        self.log().await?.run_proof(run_id)
    }

    /// Adds or replaces a year's working-day calendar (TOML as in `config/calendars/`).
    pub async fn set_calendar(&self, text: &str, expected_year: i32, actor: &Actor) -> Result<i32> {
        self.calendars
            .set(&*self.store, text, expected_year, actor)
            .await
    }
}
