//! Officer commands on the store: import, export, plan, task, snapshot, audit.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};

use super::output::AtomicFile;
use crate::config::Config;
use crate::library::Kind;
use crate::library::plan::PlanState;
use crate::service::imports::{ImportOptions, ImportReport};
use crate::service::plans::TaskText;
use crate::service::{self, Actor};
use crate::store::{self, Store};
use crate::table::Format;

/// Not `Debug`: `--db` may carry a password.
#[derive(Args, Clone)]
pub struct Global {
    /// Database URL (sqlite://PATH or postgres://…); overrides DOUBLE_RANDOM_DB and the config.
    #[arg(long, global = true)]
    pub db: Option<String>,
    /// Configuration file (see `config --default`).
    #[arg(long, global = true, env = "DOUBLE_RANDOM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Who is acting, for the audit log. Default: the login name.
    #[arg(long, global = true, env = "DOUBLE_RANDOM_ACTOR")]
    pub actor: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[arg(value_enum)]
    pub kind: Kind,
    pub file: PathBuf,
    /// Import the good rows and write the bad ones to a reject file.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where bad rows go with --skip-invalid. Default: FILE.rejects.csv.
    #[arg(long)]
    pub reject_file: Option<PathBuf>,
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(value_enum)]
    pub kind: Kind,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Output file; the format follows its extension unless --format is given.
    #[arg(long)]
    pub out: PathBuf,
    /// The library as it was at this time (RFC 3339, e.g. 2026-11-28T08:00:00Z).
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum PlanCommand {
    Create {
        id: String,
        #[arg(long)]
        year: i32,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    Submit {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Approve a submitted plan: the actor must be an approver account that did not write
    /// it, and is recorded as the approver.
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Propose adding or replacing a task of an approved plan (another account approves it).
    Amend {
        id: String,
        /// Task file (TOML) to add or replace.
        #[arg(long)]
        task: PathBuf,
        #[arg(long)]
        reason: String,
    },
    /// Approve a proposed amendment and apply it: the actor must be an approver account other
    /// than the one that proposed it.
    ApproveAmendment {
        id: String,
        /// The amendment's number.
        number: u32,
        #[arg(long, default_value = "")]
        reason: String,
    },
    Show {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Add a task (TOML file) to a draft plan.
    Add {
        #[arg(long)]
        plan: String,
        file: PathBuf,
        /// Replace the task of the same id.
        #[arg(long)]
        replace: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// A task and its snapshots.
    Show { id: String },
}

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    #[arg(long, required_unless_present = "verify", conflicts_with = "verify")]
    pub task: Option<String>,
    /// Freeze the pool as it was at this time (RFC 3339) instead of now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// The draw date tiers are computed for. Default: today (China time).
    #[arg(long)]
    pub draw_date: Option<NaiveDate>,
    /// Rebuild the stored snapshot with this address from history and compare its roots.
    #[arg(long)]
    pub verify: Option<String>,
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain and every version and document against it.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Print entries as JSON lines.
    Log {
        #[arg(long, default_value_t = 1)]
        from: i64,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

pub enum Job {
    Import(ImportArgs),
    Export(ExportArgs),
    Plan(PlanCommand),
    Task(TaskCommand),
    Snapshot(SnapshotArgs),
    Audit(AuditCommand),
}

/// The database `--db` or the configuration names, its secrets sealed with its key.
pub(super) async fn open_store(global: &Global, config: &Config) -> Result<Box<dyn Store>> {
    let mut db = config.database.clone();
    if let Some(url) = &global.db {
        db.url = url.clone();
    }
    let key = db.sealing_key()?;
    store::open(&db.url, key)
        .await
        .with_context(|| format!("opening {}", store::redact_url(&db.url)))
}

/// Who an office command acts as, for the audit log: `--actor`, else the login name.
pub fn actor_name(global: &Global) -> String {
    global
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

pub fn run(global: &Global, job: Job) -> Result<i32> {
    let config = Config::load(global.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store = open_store(global, &config).await?;
        let name = actor_name(global);
        let result = execute(&*store, &config, name, job).await;
        store.close().await;
        result
    })
}

/// A task file's text, and its path as errors name it.
pub(super) fn task_file(path: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    Ok((path.display().to_string(), text))
}

pub(super) fn actor(name: &str, reason: String) -> Actor {
    Actor {
        name: name.into(),
        reason,
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

async fn execute(store: &dyn Store, config: &Config, name: String, job: Job) -> Result<i32> {
    match job {
        Job::Import(a) => {
            let source = open(&a.file)?;
            let reject_path = a.skip_invalid.then(|| {
                a.reject_file
                    .clone()
                    .unwrap_or_else(|| default_reject_path(&a.file))
            });
            let mut rejects = reject_path.as_deref().map(AtomicFile::create).transpose()?;
            let bar = super::progress::Bar::new(!a.json, a.kind);
            let options = ImportOptions {
                skip_invalid: a.skip_invalid,
                rejects: rejects.as_mut().map(|f| f as _),
                progress: Some(&bar),
                limits: config.import,
            };
            let file = a.file.display().to_string();
            let mut report = service::imports::import(
                store,
                a.kind,
                source,
                &file,
                options,
                &actor(&name, a.reason),
            )
            .await?;
            if let (Some(f), true) = (rejects, report.committed && report.rejected > 0) {
                f.commit()?;
                report.reject_file = reject_path;
            }
            if a.json {
                print_json(&report)?;
            } else {
                print_import(&report);
            }
            Ok(if report.committed { 0 } else { 1 })
        }
        Job::Export(a) => {
            let at = match &a.as_of {
                Some(t) => Some(store.seq_at(t).await?),
                None => None,
            };
            let out = a.out.display().to_string();
            let format = a.format.unwrap_or(Format::of(&out));
            let mut file = AtomicFile::create(&a.out)?;
            let n = service::imports::export(store, a.kind, at, &mut file, &out, format).await?;
            file.commit()?;
            println!("exported {n} {} to {}", a.kind.as_str(), a.out.display());
            Ok(0)
        }
        Job::Plan(c) => {
            match c {
                PlanCommand::Create {
                    id,
                    year,
                    name: title,
                    reason,
                } => {
                    let p = service::plans::create(store, &id, year, &title, &actor(&name, reason))
                        .await?;
                    println!("plan {} ({}) created: draft", p.id, p.year);
                }
                PlanCommand::Submit { id, reason } => {
                    service::plans::transition(
                        store,
                        &id,
                        PlanState::Submitted,
                        &actor(&name, reason),
                    )
                    .await?;
                    println!("plan {id} submitted");
                }
                PlanCommand::Approve { id, reason } => {
                    service::plans::transition(
                        store,
                        &id,
                        PlanState::Approved,
                        &actor(&name, reason),
                    )
                    .await?;
                    println!("plan {id} approved by {name}");
                }
                PlanCommand::Amend { id, task, reason } => {
                    let (name_of, text) = task_file(&task)?;
                    let file = TaskText {
                        name: &name_of,
                        text: &text,
                        min_cron_interval: config.draw.min_cron_interval(),
                    };
                    let who = actor(&name, reason);
                    let a = service::plans::propose(store, &id, file, &who, Utc::now()).await?;
                    println!(
                        "plan {id} amendment {} proposed by {}: task {} {}; another approver \
                         approves it with `plan approve-amendment {id} {}`",
                        a.number,
                        a.proposed_by,
                        a.task_id,
                        if a.replaced.is_some() {
                            "replaced"
                        } else {
                            "added"
                        },
                        a.number
                    );
                }
                PlanCommand::ApproveAmendment { id, number, reason } => {
                    let who = actor(&name, reason);
                    let a = service::plans::approve_amendment(store, &id, number, &who, Utc::now())
                        .await?;
                    println!(
                        "plan {id} amendment {} approved by {name}: task {} in force",
                        a.number, a.task_id
                    );
                }
                PlanCommand::Show { id } => print_json(&service::plans::show(store, &id).await?)?,
            }
            Ok(0)
        }
        Job::Task(c) => {
            match c {
                TaskCommand::Add {
                    plan,
                    file,
                    replace,
                    reason,
                } => {
                    let (name_of, text) = task_file(&file)?;
                    let file = TaskText {
                        name: &name_of,
                        text: &text,
                        min_cron_interval: config.draw.min_cron_interval(),
                    };
                    let t = service::plans::add_task(
                        store,
                        &plan,
                        file,
                        replace,
                        &actor(&name, reason),
                    )
                    .await?;
                    println!("task {} added to plan {plan}", t.id);
                }
                TaskCommand::Show { id } => {
                    let task = service::plans::load_task(store, &id).await?;
                    let snapshots: Vec<serde_json::Value> = store
                        .docs(store::DocKind::Snapshot, Some(&id))
                        .await?
                        .iter()
                        .filter_map(|d| serde_json::from_str(&d.doc).ok())
                        .collect();
                    print_json(&serde_json::json!({ "task": task, "snapshots": snapshots }))?;
                }
            }
            Ok(0)
        }
        Job::Snapshot(a) => {
            if let Some(address) = a.verify {
                let info = service::snapshots::verify(store, &address).await?;
                println!(
                    "snapshot {} verified: rebuilt from the library as of position {} ({} objects, {} inspectors)",
                    info.address, info.as_of_seq, info.objects, info.inspectors
                );
                return Ok(0);
            }
            let task = a.task.expect("clap requires --task");
            let info = service::snapshots::take(
                store,
                &task,
                a.as_of.as_deref(),
                a.draw_date,
                config.credit.tier_source,
                &actor(&name, a.reason),
                Utc::now(),
            )
            .await?;
            println!(
                "snapshot {}\n  task {}, as of position {} ({}), draw date {}\n  {} objects in {} strata, {} excluded, {} inspectors",
                info.address,
                info.task_id,
                info.as_of_seq,
                info.as_of,
                info.draw_date,
                info.objects,
                info.roots.strata.len(),
                info.roots.excluded.count,
                info.inspectors
            );
            Ok(0)
        }
        Job::Audit(AuditCommand::Verify { json }) => {
            let report = service::verify::verify(store).await?;
            if json {
                print_json(&report)?;
            } else if report.problems.is_empty() {
                println!(
                    "audit log intact: {} entries, {} imports ({} versions), {} documents; head {} {}",
                    report.entries,
                    report.imports,
                    report.versions,
                    report.documents,
                    report.head_seq,
                    report.head_hash
                );
            } else {
                for p in &report.problems {
                    eprintln!("audit: {p}");
                }
                eprintln!("audit log NOT intact: {} problem(s)", report.problems.len());
            }
            Ok(if report.problems.is_empty() { 0 } else { 1 })
        }
        Job::Audit(AuditCommand::Log { from, limit }) => {
            for e in store.audit(from, limit).await? {
                println!("{}", serde_json::to_string(&e)?);
            }
            Ok(0)
        }
    }
}

/// A file to import; errors name it as the import's do.
pub(super) fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Beside the input: `FILE.rejects.csv`.
fn default_reject_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".rejects.csv");
    file.with_file_name(name)
}

fn print_import(r: &ImportReport) {
    for b in &r.bad {
        for e in &b.errors {
            eprintln!(
                "{}: line {}, column {}, value {:?}: {}",
                r.file, b.line, e.column, e.value, e.reason
            );
        }
    }
    match (r.committed, r.seq) {
        (true, None) => println!(
            "{}: {} {} rows, nothing changed ({} rejected); no audit entry",
            r.file,
            r.rows - r.rejected,
            r.kind,
            r.rejected
        ),
        (true, Some(seq)) => {
            println!(
                "imported {} {}: {} new, {} changed, {} unchanged, {} rejected (audit entry {seq})",
                r.rows - r.rejected,
                r.kind,
                r.counts.inserted,
                r.counts.updated,
                r.counts.unchanged,
                r.rejected
            );
            if let Some(p) = &r.reject_file {
                println!("rejected rows written to {}", p.display());
            }
        }
        (false, _) => eprintln!(
            "{}: {} bad row(s) of {}; nothing imported (fix them, or use --skip-invalid)",
            r.file,
            r.bad.len(),
            r.rows
        ),
    }
}
