//! The draw lifecycle, one persisted state machine per task run:
//! committed → entropy → drawn → results → published.
//!
//! Each transition is one compare-and-set write of the run document (plus the documents it
//! brings: snapshot, bundle) and its audit entry, so a crash leaves the run in the state before
//! or after a transition, never between. The draw secret is written in the same transaction
//! that makes the commitment visible, and lives in the run's secret column until the draw
//! copies it into the (then public) run and bundle.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::access::PublicationKey;
use super::plans::{document, draft, load_task, parse};
use super::snapshots::{self, Frozen, SnapshotInfo, fresh_key};
use super::tlog;
use super::{Actor, Result, ServiceError};
use crate::core::beacon::{Announcement, BeaconRecord, Chain};
use crate::core::bundle::{self, DrawInputs, EnterpriseProof, FullBundle, PublicBundle};
use crate::core::draw::{ReplacementRecord, ReplacementRequest, secret_hash};
use crate::core::encode::Hash;
use crate::core::model::ObjectId;
use crate::core::pool::{Commitment, CommittedPool};
use crate::core::rfc3797;
use crate::core::secret::Secret;
use crate::core::signature::{Signature, bundle_statement};
use crate::core::tlog::{ENTRY_FORMAT, InclusionProof, LogEntry, results_digest};
use crate::library::calendar::{WorkCalendar, YearFile};
use crate::library::plan::{Schedule, Task};
use crate::library::pool::TierSource;
use crate::store::{Doc, DocKind, DocOp, SecretBytes, Store, StoreError};

/// The deployment's draw settings.
#[derive(Clone, Debug)]
pub struct DrawSettings {
    /// Cron expressions and dates are read in this timezone.
    pub timezone: Tz,
    pub tier_source: TierSource,
    /// The public event announced with a commitment unless the trigger names another.
    pub witness_event: String,
    /// How many officers must enter matching values.
    pub witnesses: u8,
    /// Announce witness entropy with each commitment whose trigger names no event.
    pub witness_by_default: bool,
    /// Announce a drand round with each commitment.
    pub drand: Option<DrandSettings>,
    /// A deadline this many working days away or closer is "due soon".
    pub due_soon_working_days: u32,
    /// The transparency log's name in its checkpoints.
    pub log_origin: String,
}

/// The drand chain whose rounds commitments announce.
#[derive(Clone, Debug)]
pub struct DrandSettings {
    /// The chain's name in the configuration (e.g. quicknet).
    pub name: String,
    pub chain: Chain,
    /// The announced round is the first produced at least this long after the commitment.
    pub margin_secs: i64,
    /// Added to the system clock when choosing rounds; zero except in tests, which replay
    /// recorded beacons (`DOUBLE_RANDOM_DRAND_NOW`).
    pub clock_offset_secs: i64,
}

impl DrandSettings {
    /// Unix time on the drand clock.
    pub fn now(&self) -> i64 {
        Utc::now().timestamp() + self.clock_offset_secs
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Committed,
    Entropy,
    Drawn,
    Results,
    Published,
    /// The draw itself is impossible (e.g. no eligible inspector left for a slot): the secret
    /// is revealed so anyone can reproduce the failure; the task needs an amendment.
    Failed,
}

impl RunState {
    pub const ALL: [RunState; 6] = [
        RunState::Committed,
        RunState::Entropy,
        RunState::Drawn,
        RunState::Results,
        RunState::Published,
        RunState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Committed => "committed",
            RunState::Entropy => "entropy",
            RunState::Drawn => "drawn",
            RunState::Results => "results",
            RunState::Published => "published",
            RunState::Failed => "failed",
        }
    }
}

/// Witness entropy: values of a public event announced with the commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessSource {
    pub event: String,
    pub witnesses: u8,
}

impl WitnessSource {
    /// The text committed to: what the randomness will be and how it is entered.
    pub fn announcement(&self) -> String {
        format!(
            "witness: {} (values entered by {} officer(s), RFC 3797 canonical form)",
            self.event, self.witnesses
        )
    }
}

/// The drand round a commitment announced, and its beacon once fetched and verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrandRound {
    pub chain: String,
    pub chain_hash: String,
    pub round: u64,
    /// When the chain produces the round.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beacon: Option<BeaconRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<Fetched>,
    /// Set when no relay has served the round for longer than the configured limit; cleared
    /// when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<Stall>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    pub at: String,
    pub relay: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stall {
    pub since: String,
    pub reason: String,
}

/// One officer's entry of the witnessed values (canonical RFC 3797 key string).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessEntry {
    pub officer: String,
    pub at: String,
    pub values: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacementEntry {
    pub by: String,
    pub at: String,
    pub record: ReplacementRecord,
}

/// Result categories used in practice (domain.md), with stable codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    NoProblem,
    InfoNotPublished,
    FalseInformation,
    Unreachable,
    CorrectedOnOrder,
    Obstructed,
    NoRelevantActivity,
    ClosedOrLiquidating,
    Deregistered,
    LicenceRevoked,
    RegistrationCancelled,
    MovedOut,
    OtherViolation,
}

impl Finding {
    pub fn label(self) -> &'static str {
        match self {
            Finding::NoProblem => "未发现问题",
            Finding::InfoNotPublished => "未按规定公示应当公示的信息",
            Finding::FalseInformation => "公示信息隐瞒真实情况、弄虚作假",
            Finding::Unreachable => "通过登记的住所（经营场所）无法联系",
            Finding::CorrectedOnOrder => "发现问题已责令改正",
            Finding::Obstructed => "不配合检查情节严重",
            Finding::NoRelevantActivity => "未发现开展本次抽查涉及的经营活动",
            Finding::ClosedOrLiquidating => "已关闭停业或正在清算",
            Finding::Deregistered => "注销",
            Finding::LicenceRevoked => "被吊销",
            Finding::RegistrationCancelled => "被撤销",
            Finding::MovedOut => "迁出",
            Finding::OtherViolation => "违反其他规定",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// 责令改正
    OrderCorrection,
    /// 移送办案机构
    ReferForCase,
    /// 抄告相关部门
    NotifyDepartment,
}

/// An officer's entry for one drawn object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultInput {
    pub object: String,
    pub finding: Finding,
    #[serde(default)]
    pub follow_up: Vec<FollowUp>,
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultEntry {
    pub finding: Finding,
    pub label: String,
    pub follow_up: Vec<FollowUp>,
    pub note: String,
    pub by: String,
    pub at: String,
}

/// A task run as stored. The draw secret is not in here until the draw reveals it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub task_id: String,
    pub plan_id: String,
    /// The schedule's fire time this run belongs to (one run per fire time).
    pub fire_time: String,
    pub triggered_by: String,
    pub state: RunState,
    pub snapshot: SnapshotInfo,
    pub commitment: Commitment,
    pub commitment_hash: String,
    pub committed_at: String,
    /// The announced witness event, if the draw takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<WitnessSource>,
    pub witness_entries: Vec<WitnessEntry>,
    /// The witnessed values once the officers agree (canonical RFC 3797 key string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<String>,
    /// The announced drand round, if the draw takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drand: Option<DrandRound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawn_at: Option<String>,
    /// Hex; present once drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    pub replacements: Vec<ReplacementEntry>,
    pub results: BTreeMap<String, ResultEntry>,
    pub window_end: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
    /// Why the draw failed (state `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Run {
    /// What officers and auditors see: witness values only once entropy is complete, so a
    /// second witness cannot copy the first.
    pub fn officer_view(&self) -> Run {
        let mut r = self.clone();
        if r.entropy.is_none() {
            for e in &mut r.witness_entries {
                e.values = "(hidden until every witness has entered)".into();
            }
        }
        r
    }

    /// What the public sees: the officer view, with results only once published.
    pub fn public_view(&self) -> Run {
        let mut r = self.officer_view();
        if r.state != RunState::Published {
            r.results.clear();
        }
        r
    }

    /// Every announced source has delivered: witnesses agree, the beacon is verified.
    fn entropy_complete(&self) -> bool {
        (self.witness.is_none() || self.entropy.is_some())
            && self.drand.as_ref().is_none_or(|d| d.beacon.is_some())
    }

    /// The draw's entropy values and beacons, in the announced order (witness, then drand).
    fn entropy_values(&self) -> Result<(Vec<Vec<u8>>, Vec<BeaconRecord>)> {
        let missing = || ServiceError::Invalid(format!("run {} has no entropy yet", self.id));
        let mut values = Vec::new();
        let mut beacons = Vec::new();
        if self.witness.is_some() {
            values.push(self.entropy.clone().ok_or_else(missing)?.into_bytes());
        }
        if let Some(d) = &self.drand {
            let record = d.beacon.clone().ok_or_else(missing)?;
            let randomness = record
                .chain
                .verify(&record.beacon)
                .map_err(|e| StoreError::Corrupt(format!("run {}: stored beacon: {e}", self.id)))?;
            values.push(randomness.to_vec());
            beacons.push(record);
        }
        Ok((values, beacons))
    }

    fn is_drawn(&self) -> bool {
        matches!(
            self.state,
            RunState::Drawn | RunState::Results | RunState::Published
        )
    }
}

/// What an enterprise gets when it looks itself up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnterpriseCheck {
    pub run: String,
    pub proof: EnterpriseProof,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultEntry>,
}

/// A run's publication deadline as of a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineView {
    pub run: String,
    pub task_id: String,
    pub state: RunState,
    pub window_end: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
    /// overdue, due_soon, on_track, published, published_late, unknown (no calendar).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The calendar shipped with the binary; administrators add later years.
pub const SHIPPED_CALENDARS: &[&str] = &[include_str!("../../config/calendars/2026.toml")];

/// For tests that kill the process inside a transition: with `DOUBLE_RANDOM_FAILPOINT=name`,
/// the process announces the point on stderr and stops there until killed.
fn failpoint(name: &str) {
    static POINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let set = POINT.get_or_init(|| std::env::var("DOUBLE_RANDOM_FAILPOINT").ok());
    if set.as_deref() == Some(name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// The transitions the public log records (with the commitment).
const LOGGED: [&str; 4] = ["draw", "draw_failed", "replace", "publish"];

fn log_entry(event: &str, run: &Run) -> LogEntry {
    LogEntry {
        format: ENTRY_FORMAT.into(),
        event: event.into(),
        run: run.id.clone(),
        task: run.task_id.clone(),
        // The event's own time, as the run records it.
        at: match event {
            "commit" => Some(run.committed_at.clone()),
            "draw" | "draw_failed" => run.drawn_at.clone(),
            "replace" => run.replacements.last().map(|r| r.at.clone()),
            _ => run.published_at.clone(),
        }
        .unwrap_or_else(crate::store::audit::now),
        commitment_hash: run.commitment_hash.clone(),
        result_digest: run.result_digest.clone(),
        replacements: run.replacements.len(),
        results_digest: (event == "publish")
            .then(|| results_digest(&serde_json::to_value(&run.results).expect("serialises"))),
    }
}

fn conflict(m: impl Into<String>) -> ServiceError {
    ServiceError::Store(StoreError::Conflict(m.into()))
}

/// A transition's precondition: the run is in one of `allowed`, else a conflict naming `rule`.
fn check_state(run: &Run, allowed: &[RunState], rule: &str) -> Result<()> {
    if allowed.contains(&run.state) {
        return Ok(());
    }
    Err(conflict(format!(
        "run {} is {}: {rule}",
        run.id,
        run.state.as_str()
    )))
}

/// The draw secret a drawn (or failed) run has revealed.
fn revealed_secret(run: &Run) -> Result<Vec<u8>> {
    hex::decode(run.secret.as_deref().unwrap_or_default())
        .map_err(|_| StoreError::Corrupt(format!("run {}: secret is not hex", run.id)).into())
}

/// A computed draw and its committed pool.
type Drawn = Arc<(FullBundle, CommittedPool)>;

/// The draw service shared by the HTTP handlers and the scheduler.
pub struct Runs {
    store: Arc<dyn Store>,
    key: PublicationKey,
    pub settings: DrawSettings,
    /// One transition per run at a time within this instance; the store's compare-and-set
    /// settles races between instances.
    locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The most recently frozen or rebuilt pool: a draw right after its commitment, and
    /// enterprise lookups, skip rebuilding it.
    pool: tokio::sync::Mutex<Option<(String, Drawn)>>,
    frozen: Mutex<Option<Frozen>>,
    calendar: std::sync::RwLock<WorkCalendar>,
}

impl Runs {
    pub async fn new(
        store: Arc<dyn Store>,
        key: PublicationKey,
        settings: DrawSettings,
    ) -> Result<Self> {
        let runs = Self {
            store,
            key,
            settings,
            locks: Mutex::default(),
            pool: tokio::sync::Mutex::default(),
            frozen: Mutex::default(),
            calendar: Default::default(),
        };
        runs.reload_calendar().await?;
        Ok(runs)
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub fn public_key(&self) -> String {
        self.key.public_hex()
    }

    fn lock_for(&self, run_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(run_id.into()).or_default().clone()
    }

    pub async fn get(&self, run_id: &str) -> Result<Run> {
        Ok(self.load(run_id).await?.0)
    }

    async fn load(&self, run_id: &str) -> Result<(Run, Doc)> {
        let doc = self
            .store
            .doc(DocKind::Run, run_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no run {run_id:?}")))?;
        Ok((parse(&doc)?, doc))
    }

    /// Every run, or a task's, in id order.
    pub async fn list(&self, task_id: Option<&str>) -> Result<Vec<Run>> {
        self.store
            .docs(DocKind::Run, task_id)
            .await?
            .iter()
            .map(parse)
            .collect()
    }

    /// The fire time a trigger now belongs to: a date task's date (midnight), or a cron
    /// task's latest fire so far (its first if none has come yet).
    pub fn current_fire(&self, task: &Task, now: DateTime<Utc>) -> Result<DateTime<Tz>> {
        let fires = self.fires(task)?;
        let now = now.with_timezone(&self.settings.timezone);
        let mut current = None;
        for f in fires {
            if f > now && current.is_some() {
                break;
            }
            current = Some(f);
            if f > now {
                break;
            }
        }
        current.ok_or_else(|| {
            ServiceError::Invalid(format!("task {} never fires in its window", task.id))
        })
    }

    /// A task's fire times within its window, in order.
    pub fn fires(&self, task: &Task) -> Result<Box<dyn Iterator<Item = DateTime<Tz>> + '_>> {
        let tz = self.settings.timezone;
        let midnight = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .ok_or_else(|| ServiceError::Invalid(format!("{d} has no midnight in {tz}")))
        };
        match &task.schedule {
            Schedule::Date(d) => Ok(Box::new(std::iter::once(midnight(*d)?))),
            Schedule::Cron(expr) => {
                let schedule = cron::Schedule::from_str(expr)
                    .map_err(|e| StoreError::Corrupt(format!("task {} cron: {e}", task.id)))?;
                let start = midnight(task.window_start)? - chrono::Duration::seconds(1);
                let end = task.window_end;
                Ok(Box::new(
                    schedule
                        .after_owned(start)
                        .take_while(move |t| t.date_naive() <= end),
                ))
            }
        }
    }

    pub fn run_id(task_id: &str, fire: &DateTime<Tz>) -> String {
        format!("{task_id}.{}", fire.format("%Y%m%dT%H%M%S"))
    }

    /// Step 1: freezes the pool and publishes the commitment for `task_id`'s run at `fire`
    /// (default: the current fire). Returns the run and whether this call created it; a run
    /// that exists already is returned as it is: there is no redraw.
    #[tracing::instrument(name = "trigger", skip_all, fields(task = task_id))]
    pub async fn trigger(
        &self,
        task_id: &str,
        fire: Option<DateTime<Tz>>,
        witness: Option<WitnessSource>,
        actor: &Actor,
    ) -> Result<(Run, bool)> {
        let task = load_task(&*self.store, task_id).await?;
        let manual = fire.is_none();
        let fire = match fire {
            Some(f) => f,
            None => self.current_fire(&task, Utc::now())?,
        };
        let run_id = Self::run_id(&task.id, &fire);
        if let Ok(existing) = self.get(&run_id).await {
            return Ok((existing, false));
        }
        let today = Utc::now()
            .with_timezone(&self.settings.timezone)
            .date_naive();
        if manual && today > task.window_end {
            return Err(ServiceError::Invalid(format!(
                "task {}'s window ended on {}: it is no longer drawn",
                task.id, task.window_end
            )));
        }
        let lock = self.lock_for(&run_id);
        let _held = lock.lock().await;
        if let Ok(existing) = self.get(&run_id).await {
            return Ok((existing, false));
        }
        let witness = witness.or_else(|| {
            self.settings.witness_by_default.then(|| WitnessSource {
                event: self.settings.witness_event.clone(),
                witnesses: self.settings.witnesses,
            })
        });
        if let Some(w) = &witness
            && (w.event.trim().is_empty() || !(1..=2).contains(&w.witnesses))
        {
            return Err(ServiceError::Invalid(
                "the witness event must be named, and 1 or 2 officers must enter it".into(),
            ));
        }
        if witness.is_none() && self.settings.drand.is_none() {
            return Err(ServiceError::Invalid(
                "a draw needs public entropy: a witness event, a drand round, or both".into(),
            ));
        }
        let salt = fresh_key()?;
        let secret = Secret::new(fresh_key()?.to_vec()).expect("32 bytes");
        let frozen = snapshots::freeze_task(
            &*self.store,
            &task.id,
            None,
            fire.date_naive(),
            self.settings.tier_source,
            &salt,
        )
        .await?;
        // Chosen after the freeze, which can take seconds, so the margin holds from publication.
        let drand = self.settings.drand.as_ref().map(|d| {
            let round = d.chain.first_round_from(d.now() + d.margin_secs);
            let a = Announcement::for_round(&d.chain, round);
            (
                a.line(),
                DrandRound {
                    chain: d.name.clone(),
                    chain_hash: hex::encode(a.chain_hash),
                    round,
                    at: chrono::DateTime::from_timestamp(a.at, 0)
                        .unwrap_or_default()
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    beacon: None,
                    fetched: None,
                    stalled: None,
                },
            )
        });
        let lines: Vec<String> = witness
            .iter()
            .map(WitnessSource::announcement)
            .chain(drand.iter().map(|(line, _)| line.clone()))
            .collect();
        let commitment = frozen.pool.commitment(
            &run_id,
            &frozen.policy,
            secret_hash(secret.expose()),
            &lines.join("\n"),
        );
        let run = Run {
            id: run_id.clone(),
            task_id: task.id.clone(),
            plan_id: task.plan_id.clone(),
            fire_time: fire.to_rfc3339(),
            triggered_by: actor.name.clone(),
            state: RunState::Committed,
            snapshot: frozen.info.clone(),
            commitment_hash: hex::encode(commitment.hash()),
            commitment,
            committed_at: crate::store::audit::now(),
            witness,
            witness_entries: Vec::new(),
            entropy: None,
            drand: drand.map(|(_, d)| d),
            drawn_at: None,
            secret: None,
            result_digest: None,
            signature: None,
            replacements: Vec::new(),
            results: BTreeMap::new(),
            window_end: task.window_end,
            published_at: None,
            published_by: None,
            failure: None,
        };
        let snapshot_doc = snapshots::document(&frozen.info, &salt);
        let mut run_doc = document(DocKind::Run, &run.id, &run.task_id, &run);
        run_doc.secret = Some(SecretBytes(secret.expose().to_vec()));
        let audit = draft(actor, "commit", &run.id, &[&snapshot_doc, &run_doc]);
        failpoint("commit");
        let written = self
            .store
            .write_docs(
                vec![
                    DocOp::Put {
                        new: snapshot_doc,
                        previous: None,
                    },
                    DocOp::Put {
                        new: run_doc,
                        previous: None,
                    },
                    tlog::op(&log_entry("commit", &run)),
                ],
                audit,
            )
            .await;
        match written {
            Ok(_) => {
                tracing::info!(run = %run.id, commitment = %run.commitment_hash, "committed");
                *self.frozen.lock().unwrap_or_else(|e| e.into_inner()) = Some(frozen);
                Ok((run, true))
            }
            // Another instance committed this run first: theirs stands.
            Err(StoreError::Conflict(_)) => Ok((self.get(&run_id).await?, false)),
            Err(e) => Err(e.into()),
        }
    }

    /// Step 2: an officer enters the witnessed values. When the required number of distinct
    /// officers agree, the entropy is fixed and the draw (step 3) follows.
    #[tracing::instrument(name = "enter_entropy", skip_all, fields(run = run_id))]
    pub async fn enter_entropy(&self, run_id: &str, values: &str, actor: &Actor) -> Result<Run> {
        let sources = rfc3797::parse_seeds(values)
            .map_err(|e| ServiceError::Invalid(format!("witness values: {e}")))?;
        let canonical = rfc3797::key_string(&sources);
        let lock = self.lock_for(run_id);
        let held = lock.lock().await;
        let (mut run, doc) = self.load(run_id).await?;
        check_state(&run, &[RunState::Committed], "its entropy is already fixed")?;
        let Some(witness) = &run.witness else {
            return Err(ServiceError::Invalid(format!(
                "run {run_id} takes no witness values: its entropy is a drand beacon"
            )));
        };
        let needed = usize::from(witness.witnesses);
        if run.entropy.is_some() {
            return Err(conflict(format!(
                "run {run_id}: the witness values are already fixed; the draw waits for its drand round"
            )));
        }
        run.witness_entries.retain(|e| e.officer != actor.name);
        run.witness_entries.push(WitnessEntry {
            officer: actor.name.clone(),
            at: crate::store::audit::now(),
            values: canonical.clone(),
        });
        let agreeing = run
            .witness_entries
            .iter()
            .filter(|e| e.values == canonical)
            .count();
        let mismatch = run.witness_entries.iter().any(|e| e.values != canonical);
        if agreeing >= needed && !mismatch {
            run.entropy = Some(canonical);
            if run.entropy_complete() {
                run.state = RunState::Entropy;
            }
        }
        let complete = run.state == RunState::Entropy;
        self.put_run(&run, &doc, actor, "entropy", Vec::new())
            .await?;
        drop(held);
        if mismatch {
            return Err(conflict(format!(
                "run {run_id}: the values entered differ between officers; each officer \
                 re-enters what the public event showed"
            )));
        }
        if complete {
            self.draw(run_id).await
        } else {
            Ok(run)
        }
    }

    /// Committed runs whose announced drand round has no beacon yet.
    pub async fn awaiting_beacon(&self) -> Result<Vec<Run>> {
        let mut runs = self.list(None).await?;
        runs.retain(|r| {
            r.state == RunState::Committed && r.drand.as_ref().is_some_and(|d| d.beacon.is_none())
        });
        Ok(runs)
    }

    /// Step 2 for drand: records the announced round's beacon, verified against the chain's
    /// public key, then draws if every source has delivered. A beacon for another round or
    /// with a bad signature is refused and nothing is written.
    #[tracing::instrument(name = "record_beacon", skip_all, fields(run = run_id))]
    pub async fn record_beacon(
        &self,
        run_id: &str,
        record: BeaconRecord,
        relay: &str,
    ) -> Result<Run> {
        let lock = self.lock_for(run_id);
        let held = lock.lock().await;
        let (mut run, doc) = self.load(run_id).await?;
        let Some(d) = run.drand.as_mut() else {
            return Err(ServiceError::Invalid(format!(
                "run {run_id} announced no drand round"
            )));
        };
        if d.beacon.is_some() || run.state != RunState::Committed {
            return Ok(run);
        }
        let announced = (d.chain_hash.as_str(), d.round);
        let got = (hex::encode(record.chain.hash()), record.beacon.round);
        if announced != (got.0.as_str(), got.1) {
            return Err(ServiceError::Invalid(format!(
                "run {run_id} announced round {} of chain {}, not round {} of chain {}",
                d.round, d.chain_hash, got.1, got.0
            )));
        }
        record
            .chain
            .verify(&record.beacon)
            .map_err(|e| ServiceError::Invalid(format!("round {}: {e}", d.round)))?;
        d.beacon = Some(record);
        d.fetched = Some(Fetched {
            at: crate::store::audit::now(),
            relay: relay.into(),
        });
        d.stalled = None;
        if run.entropy_complete() {
            run.state = RunState::Entropy;
        }
        let actor = Actor {
            name: "double-random".into(),
            reason: format!("drand beacon from {relay}"),
        };
        self.put_run(&run, &doc, &actor, "beacon", Vec::new())
            .await?;
        drop(held);
        if run.state == RunState::Entropy {
            self.draw(run_id).await
        } else {
            Ok(run)
        }
    }

    /// Marks a run whose drand round no relay serves as stalled (once; the beacon clears it).
    pub async fn mark_stalled(&self, run_id: &str, reason: &str) -> Result<Run> {
        let lock = self.lock_for(run_id);
        let _held = lock.lock().await;
        let (mut run, doc) = self.load(run_id).await?;
        let Some(d) = run.drand.as_mut() else {
            return Ok(run);
        };
        if d.beacon.is_some() || d.stalled.is_some() || run.state != RunState::Committed {
            return Ok(run);
        }
        d.stalled = Some(Stall {
            since: crate::store::audit::now(),
            reason: reason.into(),
        });
        tracing::warn!(run = %run.id, reason, "stalled: no relay serves the announced drand round");
        let actor = Actor {
            name: "double-random".into(),
            reason: reason.into(),
        };
        self.put_run(&run, &doc, &actor, "stall", Vec::new())
            .await?;
        Ok(run)
    }

    /// Writes `run` over `previous` (plus `more` documents) with its audit entry. The run's
    /// secret column is carried over until the draw reveals it.
    async fn put_run(
        &self,
        run: &Run,
        previous: &Doc,
        actor: &Actor,
        action: &str,
        more: Vec<(Doc, Option<String>)>,
    ) -> Result<()> {
        let mut doc = document(DocKind::Run, &run.id, &run.task_id, run);
        doc.secret = match run.secret {
            None => previous.secret.clone(),
            Some(_) => None,
        };
        let mut docs = vec![&doc];
        docs.extend(more.iter().map(|(d, _)| d));
        let audit = draft(actor, action, &run.id, &docs);
        let mut ops: Vec<DocOp> = more
            .iter()
            .map(|(d, prev)| DocOp::Put {
                new: d.clone(),
                previous: prev.clone(),
            })
            .collect();
        ops.push(DocOp::Put {
            new: doc,
            previous: Some(previous.doc.clone()),
        });
        if LOGGED.contains(&action) {
            ops.push(tlog::op(&log_entry(action, run)));
        }
        failpoint(action);
        self.store.write_docs(ops, audit).await?;
        Ok(())
    }

    /// The full bundle of a run that has its entropy, from the stored snapshot (kept in memory
    /// when just frozen, rebuilt from the library history otherwise).
    async fn full(&self, run: &Run, secret: &[u8]) -> Result<Drawn> {
        let key = format!("{}#{}", run.id, run.replacements.len());
        let mut cached = self.pool.lock().await;
        if let Some((k, v)) = &*cached
            && *k == key
        {
            return Ok(v.clone());
        }
        *cached = None;
        let frozen = {
            let f = self.frozen.lock().unwrap_or_else(|e| e.into_inner()).take();
            f.filter(|f| f.info.address == run.snapshot.address)
        };
        let (info, salt) = snapshots::find(&*self.store, &run.snapshot.address).await?;
        let frozen = match frozen {
            Some(f) => f,
            None => snapshots::rebuild(&*self.store, &info, &salt).await?,
        };
        let (entropy, beacons) = run.entropy_values()?;
        let inputs = DrawInputs {
            task_id: run.id.clone(),
            policy: frozen.policy,
            snapshot: frozen.snapshot,
            salt_key: crate::core::secret::SaltKey(salt),
            secret: Secret::new(secret.to_vec()).map_err(ServiceError::Invalid)?,
            entropy_source: run.commitment.entropy_source.clone(),
            entropy,
            beacons,
            replacements: run
                .replacements
                .iter()
                .map(|r| r.record.request.clone())
                .collect(),
        };
        let made = tokio::task::block_in_place(|| FullBundle::create(inputs))?;
        if hex::encode(made.0.commitment_hash) != run.commitment_hash {
            return Err(StoreError::Corrupt(format!(
                "run {}: the rebuilt commitment differs from the published one",
                run.id
            ))
            .into());
        }
        let made = Arc::new(made);
        *cached = Some((key, made.clone()));
        Ok(made)
    }

    fn signature(&self, run: &Run, result_digest: &Hash) -> Signature {
        self.key.sign(bundle_statement(
            &run.id,
            &run.commitment_hash,
            &hex::encode(result_digest),
            run.replacements.len(),
        ))
    }

    /// Step 3: derives the seed, draws, reveals the secret, signs and stores the bundle.
    /// Idempotent: the draw is a function of what is stored.
    #[tracing::instrument(name = "draw", skip_all, fields(run = run_id))]
    pub async fn draw(&self, run_id: &str) -> Result<Run> {
        let lock = self.lock_for(run_id);
        let _held = lock.lock().await;
        let (mut run, doc) = self.load(run_id).await?;
        if run.state != RunState::Entropy {
            return Ok(run);
        }
        let secret = doc
            .secret
            .as_ref()
            .map(|s| s.0.clone())
            .ok_or_else(|| StoreError::Corrupt(format!("run {run_id}: draw secret missing")))?;
        let actor = Actor {
            name: "double-random".into(),
            reason: "entropy complete".into(),
        };
        let made = match self.full(&run, &secret).await {
            Err(ServiceError::Core(e)) => {
                tracing::warn!(run = %run.id, error = %e, "the draw is impossible");
                run.state = RunState::Failed;
                run.failure = Some(e.to_string());
                run.drawn_at = Some(crate::store::audit::now());
                run.secret = Some(hex::encode(&secret));
                self.put_run(&run, &doc, &actor, "draw_failed", Vec::new())
                    .await?;
                return Ok(run);
            }
            other => other?,
        };
        let (full, pool) = &*made;
        let public = PublicBundle::from_full(full, pool);
        run.state = RunState::Drawn;
        run.drawn_at = Some(crate::store::audit::now());
        run.secret = Some(hex::encode(&secret));
        run.result_digest = Some(hex::encode(full.result_digest));
        run.signature = Some(self.signature(&run, &full.result_digest));
        let bundle = Doc {
            kind: DocKind::Bundle,
            id: run.id.clone(),
            parent: run.task_id.clone(),
            doc: serde_json::to_string(&public).expect("serialises"),
            secret: None,
        };
        match self
            .put_run(&run, &doc, &actor, "draw", vec![(bundle, None)])
            .await
        {
            Ok(()) => {
                tracing::info!(run = %run.id, result = ?run.result_digest, "drawn");
                Ok(run)
            }
            Err(ServiceError::Store(StoreError::Conflict(_))) => self.get(run_id).await,
            Err(e) => Err(e),
        }
    }

    /// Completes draws whose entropy was fixed before a crash. Returns how many.
    pub async fn recover(&self) -> Result<usize> {
        let mut n = 0;
        for run in self.list(None).await? {
            if run.state == RunState::Entropy {
                tracing::info!(run = %run.id, "completing an interrupted draw");
                match self.draw(&run.id).await {
                    Ok(_) => n += 1,
                    // Serving must go on: the run stays in `entropy` and is retried next start.
                    Err(e) => {
                        tracing::error!(run = %run.id, error = %e, "cannot complete the draw")
                    }
                }
            }
        }
        Ok(n)
    }

    /// The signed public bundle (JSON, as stored).
    pub async fn public_bundle(&self, run_id: &str) -> Result<String> {
        match self.store.doc(DocKind::Bundle, run_id).await? {
            Some(d) => Ok(d.doc),
            None => {
                let run = self.get(run_id).await?;
                Err(ServiceError::NotFound(format!(
                    "run {run_id} is {}: no bundle before the draw",
                    run.state.as_str()
                )))
            }
        }
    }

    async fn drawn_full(&self, run_id: &str) -> Result<(Run, Drawn)> {
        let run = self.get(run_id).await?;
        if !run.is_drawn() {
            return Err(ServiceError::NotFound(format!(
                "run {run_id} is {}: not drawn yet",
                run.state.as_str()
            )));
        }
        let made = self.full(&run, &revealed_secret(&run)?).await?;
        Ok((run, made))
    }

    /// The auditor's full bundle (the whole snapshot and salt key), rebuilt from history.
    pub async fn full_bundle(&self, run_id: &str) -> Result<String> {
        let (_, made) = self.drawn_full(run_id).await?;
        Ok(serde_json::to_string(&made.0).expect("serialises"))
    }

    /// An enterprise's own check: proof of where it stood and, once published, its result.
    pub async fn check(&self, run_id: &str, code: &str) -> Result<EnterpriseCheck> {
        let id = ObjectId::parse(code)
            .map_err(|e| ServiceError::Invalid(format!("credit code: {e}")))?;
        let (run, made) = self.drawn_full(run_id).await?;
        let proof = tokio::task::block_in_place(|| bundle::prove(&made.0, &made.1, &id));
        let result = (run.state == RunState::Published)
            .then(|| run.results.get(code).cloned())
            .flatten();
        Ok(EnterpriseCheck {
            run: run.id,
            proof,
            result,
        })
    }

    /// A replacement through the core's procedure (never a hand-picked object or inspector).
    #[tracing::instrument(name = "replace", skip_all, fields(run = run_id))]
    pub async fn replace(
        &self,
        run_id: &str,
        request: ReplacementRequest,
        actor: &Actor,
    ) -> Result<Run> {
        let lock = self.lock_for(run_id);
        let _held = lock.lock().await;
        let (mut run, doc) = self.load(run_id).await?;
        check_state(
            &run,
            &[RunState::Drawn, RunState::Results],
            "replacements happen after the draw and before publication",
        )?;
        let made = self.full(&run, &revealed_secret(&run)?).await?;
        let (next, pool) = tokio::task::block_in_place(|| {
            made.0.with_replacements(std::slice::from_ref(&request))
        })?;
        let record = next
            .result
            .replacements
            .last()
            .cloned()
            .expect("one replacement was added");
        if let ReplacementRequest::Object { object, .. } = &record.request {
            run.results.remove(object.as_str());
        }
        run.replacements.push(ReplacementEntry {
            by: actor.name.clone(),
            at: crate::store::audit::now(),
            record,
        });
        run.result_digest = Some(hex::encode(next.result_digest));
        run.signature = Some(self.signature(&run, &next.result_digest));
        let previous_bundle = self.public_bundle(run_id).await?;
        let bundle = Doc {
            kind: DocKind::Bundle,
            id: run.id.clone(),
            parent: run.task_id.clone(),
            doc: serde_json::to_string(&PublicBundle::from_full(&next, &pool)).expect("json"),
            secret: None,
        };
        self.put_run(
            &run,
            &doc,
            actor,
            "replace",
            vec![(bundle, Some(previous_bundle))],
        )
        .await?;
        *self.pool.lock().await = Some((
            format!("{}#{}", run.id, run.replacements.len()),
            Arc::new((next, pool)),
        ));
        Ok(run)
    }

    /// The objects to inspect now, after replacements.
    async fn inspected(&self, run: &Run) -> Result<Vec<String>> {
        let bundle: PublicBundle = serde_json::from_str(&self.public_bundle(&run.id).await?)
            .map_err(|e| StoreError::Corrupt(format!("bundle {}: {e}", run.id)))?;
        Ok(bundle
            .result
            .final_assignments
            .iter()
            .map(|a| a.object.as_str().to_owned())
            .collect())
    }

    /// Step 4: officers enter outcomes for drawn objects (again to correct, until published).
    #[tracing::instrument(name = "record_results", skip_all, fields(run = run_id))]
    pub async fn record_results(
        &self,
        run_id: &str,
        entries: Vec<ResultInput>,
        actor: &Actor,
    ) -> Result<Run> {
        let lock = self.lock_for(run_id);
        let _held = lock.lock().await;
        let (mut run, doc) = self.load(run_id).await?;
        check_state(
            &run,
            &[RunState::Drawn, RunState::Results],
            "results are entered after the draw and before publication",
        )?;
        let inspected = self.inspected(&run).await?;
        let at = crate::store::audit::now();
        for (i, e) in entries.into_iter().enumerate() {
            if !inspected.contains(&e.object) {
                return Err(ServiceError::Invalid(format!(
                    "results[{i}].object: {} is not among the objects drawn for run {run_id}",
                    e.object
                )));
            }
            if e.finding == Finding::OtherViolation && e.note.trim().is_empty() {
                return Err(ServiceError::Invalid(format!(
                    "results[{i}].note: other_violation needs a note naming the rule"
                )));
            }
            let mut follow_up = e.follow_up;
            follow_up.sort();
            follow_up.dedup();
            run.results.insert(
                e.object,
                ResultEntry {
                    label: e.finding.label().into(),
                    finding: e.finding,
                    follow_up,
                    note: e.note,
                    by: actor.name.clone(),
                    at: at.clone(),
                },
            );
        }
        run.state = RunState::Results;
        self.put_run(&run, &doc, actor, "results", Vec::new())
            .await?;
        Ok(run)
    }

    /// Step 5: publishes the results; every inspected object needs one.
    #[tracing::instrument(name = "publish", skip_all, fields(run = run_id))]
    pub async fn publish(&self, run_id: &str, actor: &Actor) -> Result<Run> {
        let lock = self.lock_for(run_id);
        let _held = lock.lock().await;
        let (mut run, doc) = self.load(run_id).await?;
        check_state(
            &run,
            &[RunState::Results],
            "only entered results are published",
        )?;
        let inspected = self.inspected(&run).await?;
        let missing: Vec<&String> = inspected
            .iter()
            .filter(|o| !run.results.contains_key(*o))
            .collect();
        if !missing.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "run {run_id}: {} inspected object(s) have no result yet, e.g. {}",
                missing.len(),
                missing[0]
            )));
        }
        run.state = RunState::Published;
        run.published_at = Some(crate::store::audit::now());
        run.published_by = Some(actor.name.clone());
        self.put_run(&run, &doc, actor, "publish", Vec::new())
            .await?;
        Ok(run)
    }

    /// The signed checkpoint of the transparency log (a new one if the log grew).
    pub async fn checkpoint(&self) -> Result<String> {
        Ok(
            tlog::checkpoint(&*self.store, &self.key, &self.settings.log_origin)
                .await?
                .note,
        )
    }

    /// A run's latest log entry with its proof in the current checkpoint.
    pub async fn log_proof(&self, run_id: &str) -> Result<InclusionProof> {
        tlog::run_proof(&*self.store, &self.key, &self.settings.log_origin, run_id).await
    }

    /// Loads the shipped calendars, then the ones administrators stored (which win).
    pub async fn reload_calendar(&self) -> Result<()> {
        let mut calendar = WorkCalendar::default();
        let mut texts: Vec<String> = SHIPPED_CALENDARS.iter().map(|s| s.to_string()).collect();
        for d in self.store.docs(DocKind::Calendar, None).await? {
            texts.push(parse::<String>(&d)?);
        }
        for t in texts {
            let year: YearFile = toml::from_str(&t)
                .map_err(|e| StoreError::Corrupt(format!("stored calendar: {e}")))?;
            calendar
                .add(year)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        *self.calendar.write().unwrap_or_else(|e| e.into_inner()) = calendar;
        Ok(())
    }

    /// Adds or replaces a year's working-day calendar (TOML as in `config/calendars/`).
    pub async fn set_calendar(&self, text: &str, expected_year: i32, actor: &Actor) -> Result<i32> {
        let year: YearFile = toml::from_str(text).map_err(|e| ServiceError::Field {
            file: "calendar.toml".into(),
            line: e
                .span()
                .map_or(1, |s| text[..s.start].lines().count().max(1) as u64),
            field: "calendar".into(),
            message: e.message().to_owned(),
        })?;
        let y = year.year;
        if y != expected_year {
            return Err(ServiceError::Invalid(format!(
                "the calendar is for {y}, not {expected_year}"
            )));
        }
        WorkCalendar::default()
            .add(year)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let id = y.to_string();
        let previous = self.store.doc(DocKind::Calendar, &id).await?.map(|d| d.doc);
        let doc = document(DocKind::Calendar, &id, "", &text);
        let audit = draft(actor, "calendar", &id, &[&doc]);
        self.store
            .write_docs(vec![DocOp::Put { new: doc, previous }], audit)
            .await?;
        self.reload_calendar().await?;
        Ok(y)
    }

    /// Every run's publication deadline as of `today`.
    pub async fn deadlines(&self, today: NaiveDate) -> Result<Vec<DeadlineView>> {
        let calendar = self
            .calendar
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let soon = self.settings.due_soon_working_days;
        Ok(self
            .list(None)
            .await?
            .into_iter()
            .map(|run| deadline_view(&calendar, &run, today, soon, self.settings.timezone))
            .collect())
    }
}

fn deadline_view(
    cal: &WorkCalendar,
    run: &Run,
    today: NaiveDate,
    soon: u32,
    tz: Tz,
) -> DeadlineView {
    let deadline = cal.publication_deadline(run.window_end);
    let published = run
        .published_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&tz).date_naive());
    let (status, problem) = match (&deadline, published) {
        (Ok(d), Some(p)) if p > *d => ("published_late", None),
        (_, Some(_)) => ("published", None),
        (Ok(d), None) if today > *d => ("overdue", None),
        (Ok(d), None) => match cal.add_working_days(today, soon) {
            Ok(limit) if *d <= limit => ("due_soon", None),
            Ok(_) => ("on_track", None),
            Err(e) => ("unknown", Some(e.to_string())),
        },
        (Err(e), None) => ("unknown", Some(e.to_string())),
    };
    DeadlineView {
        run: run.id.clone(),
        task_id: run.task_id.clone(),
        state: run.state,
        window_end: run.window_end,
        deadline: deadline.ok(),
        status: status.into(),
        problem,
    }
}
