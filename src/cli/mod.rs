//! The offline command-line tool: the effects (files, OS randomness, clock for benchmarks)
//! around the pure core.

pub mod bench;
pub mod bench_daemon;
pub mod demo;
pub mod input;
pub mod log;
pub mod office;
pub mod output;
pub mod serve;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::core::CoreError;
use crate::core::bundle::{self, DrawInputs, EnterpriseProof, FullBundle, PublicBundle, Report};
use crate::core::draw::ReplacementRequest;
use crate::core::model::{InspectorId, ObjectId, Snapshot};
use crate::core::policy::format_ratio;
use crate::core::pool::CommittedPool;
use crate::core::rfc3797;
use crate::core::secret::{SaltKey, Secret};

#[derive(Parser)]
#[command(
    name = "double-random",
    version,
    about = "Verifiable random inspection draws (双随机、一公开)"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: office::Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Generate demo data, draw, verify, and print the summary (the main job on built-in data).
    Demo {
        #[arg(long, default_value = "demo-out")]
        out_dir: PathBuf,
        #[arg(long, default_value_t = 2000)]
        objects: u64,
        #[arg(long, default_value_t = 120)]
        inspectors: u64,
    },
    /// Write deterministic synthetic objects.csv, inspectors.csv and policy.toml.
    DemoData {
        #[arg(long)]
        objects: u64,
        #[arg(long)]
        inspectors: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out_dir: PathBuf,
        #[arg(long, default_value = "2026-12-01")]
        draw_date: NaiveDate,
        /// Also write the library files for `import` (objects, inspectors, penalties,
        /// inspections, items) and a task file, in DIR/library/.
        #[arg(long)]
        library: bool,
    },
    /// Commit to the pool, derive the seed, draw, and write the full (auditor) bundle.
    Draw {
        #[arg(long)]
        objects: PathBuf,
        #[arg(long)]
        inspectors: PathBuf,
        #[arg(long)]
        policy: PathBuf,
        #[arg(long)]
        task_id: String,
        /// The draw secret (at least 16 bytes, hex); its SHA-256 is committed.
        #[arg(long)]
        secret_hex: String,
        /// Public entropy value (hex); repeat for several sources, in the announced order.
        #[arg(long = "entropy-hex", required = true)]
        entropy_hex: Vec<String>,
        /// What the entropy is, as announced with the commitment.
        #[arg(long, default_value = "witness: values entered with --entropy-hex")]
        entropy_source: String,
        /// Key of the private leaf salts (32 bytes, hex). Default: fresh from the OS.
        #[arg(long)]
        salt_hex: Option<String>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        public_out: Option<PathBuf>,
        /// Print how long each phase took, to standard error.
        #[arg(long)]
        timings: bool,
    },
    /// Recompute everything a full bundle, public bundle or enterprise proof allows.
    Verify {
        file: PathBuf,
        /// With an enterprise proof: the public bundle to check it against.
        #[arg(long)]
        public: Option<PathBuf>,
        /// With a bundle: the daemon's signature of it (GET /api/public/runs/{id}/signature).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// The publication key the signature must be by (hex; GET /api/public/key).
        #[arg(long, requires = "signature")]
        key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// An enterprise's proof of its outcome (in the pool or not, stratum, ticket, cutoff).
    Prove {
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long)]
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace a drawn object found ineligible, or an inspector who must recuse (补抽).
    Replace {
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long)]
        object: String,
        /// Recuse this inspector from the object instead of replacing the object.
        #[arg(long)]
        inspector: Option<String>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        public_out: Option<PathBuf>,
    },
    /// RFC 3797 selection: one line per pick (position, 1-based index in the names file, name).
    Rfc3797 {
        #[arg(long)]
        seeds: PathBuf,
        #[arg(long)]
        names: PathBuf,
        #[arg(long)]
        count: usize,
    },
    /// Import a library file (CSV or .xlsx) in one transaction.
    Import(office::ImportArgs),
    /// Export a library as CSV, .xlsx or JSON, with the columns `import` reads.
    Export(office::ExportArgs),
    /// The annual plan: create, submit, approve, amend, show.
    #[command(subcommand)]
    Plan(office::PlanCommand),
    /// A plan's tasks: add, show.
    #[command(subcommand)]
    Task(office::TaskCommand),
    /// Freeze a task's pool as of now (or a past time), or check a stored snapshot.
    Snapshot(office::SnapshotArgs),
    /// The audit log: verify the chain and everything it covers, or list entries.
    #[command(subcommand)]
    Audit(office::AuditCommand),
    /// The transparency log: check checkpoints, inclusion of bundles, consistency over time.
    #[command(subcommand)]
    Log(LogCommand),
    /// Run the daemon: HTTP API, draw lifecycle, cron scheduler.
    Serve(serve::ServeArgs),
    /// Print the documented default configuration.
    Config {
        #[arg(long, required = true)]
        default: bool,
    },
    /// Measure the core on synthetic data: commit, draw, verify, peak memory.
    Bench {
        #[arg(long, default_value_t = 1_000_000)]
        objects: u64,
        #[arg(long, default_value_t = 100_000)]
        inspectors: u64,
        /// Measure the store instead: import, re-import, snapshot into this (empty) database.
        #[arg(long)]
        store: Option<String>,
        /// Where the store benchmark's files go (reused when present).
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        /// Also import an .xlsx of this many objects, into this other (empty) database.
        #[arg(long, requires = "xlsx_store")]
        xlsx_rows: Option<u64>,
        #[arg(long)]
        xlsx_store: Option<String>,
        /// Measure the daemon's draw instead: import --objects into a fresh SQLite file under
        /// --dir, then commit and draw the task through the service layer.
        #[arg(long, conflicts_with = "store")]
        lifecycle: bool,
        /// Measure public lookups over loopback HTTP against a `serve --demo` process for this
        /// many seconds.
        #[arg(long, conflicts_with_all = ["store", "lifecycle"])]
        http_seconds: Option<u64>,
        /// Load-generator connections for --http-seconds.
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Check a signed checkpoint, a run's entry and bundle, consistency with a saved
    /// checkpoint, and every entry; offline from files or against --url. Exit 0 when all pass.
    Verify(log::VerifyArgs),
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Import(a) => office::run(&cli.global, office::Job::Import(a)),
        Command::Export(a) => office::run(&cli.global, office::Job::Export(a)),
        Command::Plan(c) => office::run(&cli.global, office::Job::Plan(c)),
        Command::Task(c) => office::run(&cli.global, office::Job::Task(c)),
        Command::Snapshot(a) => office::run(&cli.global, office::Job::Snapshot(a)),
        Command::Audit(c) => office::run(&cli.global, office::Job::Audit(c)),
        Command::Serve(a) => serve::run(&cli.global, a),
        Command::Log(LogCommand::Verify(a)) => match log::verify(&a) {
            Ok(code) => Ok(code),
            Err(e) => {
                println!("FAIL {e:#}");
                Ok(1)
            }
        },
        Command::Config { .. } => {
            print!("{}", crate::config::DEFAULT_TOML);
            Ok(0)
        }
        Command::Demo {
            out_dir,
            objects,
            inspectors,
        } => demo(&out_dir, objects, inspectors),
        Command::DemoData {
            objects,
            inspectors,
            seed,
            out_dir,
            draw_date,
            library,
        } => {
            demo_data(&out_dir, objects, inspectors, seed, draw_date, library)?;
            println!(
                "wrote objects.csv, inspectors.csv, policy.toml to {}",
                out_dir.display()
            );
            if library {
                println!(
                    "wrote objects.csv, inspectors.csv, penalties.csv, inspections.csv, items.csv, task.toml to {}",
                    out_dir.join("library").display()
                );
            }
            Ok(0)
        }
        Command::Draw {
            objects,
            inspectors,
            policy,
            task_id,
            secret_hex,
            entropy_hex,
            entropy_source,
            salt_hex,
            out,
            public_out,
            timings,
        } => {
            let clock = Phases::new(timings);
            let entropy = entropy_hex
                .iter()
                .enumerate()
                .map(|(i, h)| decode_hex(h).with_context(|| format!("--entropy-hex #{}", i + 1)))
                .collect::<Result<Vec<_>>>()?;
            let secret = Secret::new(decode_hex(&secret_hex).context("--secret-hex")?)
                .map_err(anyhow::Error::msg)
                .context("--secret-hex")?;
            let salt_key = match salt_hex {
                Some(h) => SaltKey(
                    decode_hex(&h)?
                        .try_into()
                        .map_err(|_| anyhow::anyhow!("--salt-hex: expected 32 bytes"))?,
                ),
                None => {
                    let mut k = [0u8; 32];
                    getrandom::fill(&mut k).map_err(|e| anyhow::anyhow!("OS randomness: {e}"))?;
                    SaltKey(k)
                }
            };
            let policy = input::read_policy(&policy)?;
            let (objects_file, inspectors_file) = (objects, inspectors);
            let objects = input::read_objects(&objects_file, &policy)?;
            let inspectors = input::read_inspectors(&inspectors_file)?;
            clock.lap("read CSV");
            let snapshot = Snapshot::new(objects, inspectors).map_err(|e| match e {
                CoreError::DuplicateId { kind: "object", id } => {
                    input::duplicate_error(&objects_file, &id).into()
                }
                CoreError::DuplicateId { id, .. } => {
                    input::duplicate_error(&inspectors_file, &id).into()
                }
                e => anyhow::Error::from(e),
            })?;
            clock.lap("canonical snapshot");
            let inputs = DrawInputs {
                task_id,
                policy,
                snapshot,
                salt_key,
                secret,
                entropy_source,
                entropy,
                beacons: Vec::new(),
                replacements: Vec::new(),
            };
            let (full, pool) = FullBundle::create(inputs)?;
            clock.lap("commit and draw");
            write_bundles(&full, &pool, &out, public_out.as_deref())?;
            clock.lap("write bundles");
            print_summary(&full);
            Ok(0)
        }
        Command::Verify {
            file,
            public,
            signature,
            key,
            json,
        } => {
            let mut report = verify_file(&file, public.as_deref())?;
            if let Some(sig) = signature {
                check_bundle_signature(&mut report, &file, &sig, key.as_deref())?;
            }
            print_report(&report, json)?;
            Ok(if report.valid { 0 } else { 1 })
        }
        Command::Prove { bundle, id, out } => {
            let full = read_full(&bundle)?;
            let id = ObjectId::parse(&id).context("--id")?;
            let pool = CommittedPool::build(&full.snapshot, &full.policy, &full.salt_key.0)?;
            let proof = bundle::prove(&full, &pool, &id);
            output::write_json(&out, &proof)?;
            println!("{id}: {:?} — {}", proof.outcome, proof.explanation);
            Ok(0)
        }
        Command::Replace {
            bundle,
            object,
            inspector,
            reason,
            out,
            public_out,
        } => {
            let full = read_full(&bundle)?;
            let object = ObjectId::parse(&object).context("--object")?;
            let request = match inspector {
                None => ReplacementRequest::Object { object, reason },
                Some(i) => ReplacementRequest::Inspector {
                    object,
                    inspector: InspectorId::parse(&i).context("--inspector")?,
                    reason,
                },
            };
            let (next, pool) = full.with_replacements(&[request])?;
            let record = next.result.replacements.last().expect("one appended");
            println!(
                "replacement: {} (team {})",
                record.replacement,
                join(&record.inspectors)
            );
            write_bundles(&next, &pool, &out, public_out.as_deref())?;
            Ok(0)
        }
        Command::Rfc3797 {
            seeds,
            names,
            count,
        } => {
            let read = |p: &Path| {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
            };
            let sources = rfc3797::parse_seeds(&read(&seeds)?)
                .with_context(|| seeds.display().to_string())?;
            let names_text = read(&names)?;
            let names_text = names_text.strip_prefix('\u{feff}').unwrap_or(&names_text);
            let names: Vec<&str> = names_text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let key = rfc3797::key_string(&sources);
            let picks = rfc3797::select(&key, names.len(), count)?;
            let mut out = std::io::stdout().lock();
            for (pos, idx) in picks.iter().enumerate() {
                writeln!(out, "{}\t{}\t{}", pos + 1, idx, names[idx - 1])?;
            }
            Ok(0)
        }
        Command::Bench {
            objects,
            inspectors,
            store,
            dir,
            xlsx_rows,
            xlsx_store,
            lifecycle,
            http_seconds,
            connections,
        } => {
            if lifecycle {
                bench_daemon::lifecycle(objects, inspectors, &dir)?;
                return Ok(0);
            }
            if let Some(seconds) = http_seconds {
                bench_daemon::http(seconds, connections, &dir)?;
                return Ok(0);
            }
            match store {
                Some(db) => {
                    let xlsx = xlsx_rows.zip(xlsx_store);
                    bench::store(
                        &db,
                        objects,
                        inspectors,
                        &dir,
                        xlsx.as_ref().map(|(n, u)| (*n, u.as_str())),
                    )?
                }
                None => bench::run(objects, inspectors),
            }
            Ok(0)
        }
    }
}

/// Phase timings for `--timings` (the clock is an effect, so it lives here, not in the core).
struct Phases {
    on: bool,
    last: std::cell::Cell<std::time::Instant>,
}

impl Phases {
    fn new(on: bool) -> Self {
        Self {
            on,
            last: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    fn lap(&self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "{what:<20} {:>8.3} s",
                (now - self.last.get()).as_secs_f64()
            );
            self.last.set(now);
        }
    }
}

/// Writes the full bundle and, when asked, the public one derived from it.
fn write_bundles(
    full: &FullBundle,
    pool: &CommittedPool,
    out: &Path,
    public_out: Option<&Path>,
) -> Result<()> {
    // Built before anything is written, so a failure leaves no half-set of files.
    let public = public_out.map(|_| PublicBundle::from_full(full, pool));
    output::write_json_compact(out, full)?;
    if let (Some(path), Some(public)) = (public_out, &public) {
        output::write_json(path, public)?;
    }
    Ok(())
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn decode_hex(s: &str) -> Result<Vec<u8>> {
    hex::decode(s.trim()).map_err(|e| anyhow::anyhow!("not hex: {e}"))
}

/// The `format` of a double-random JSON file. Our writers put it first, so the opening bytes
/// usually tell; otherwise the whole document is scanned for it.
fn read_format(path: &Path) -> Result<String> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(512);
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    file.take(512).read_to_end(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    let quick = text.trim_start().strip_prefix('{').and_then(|rest| {
        let rest = rest
            .trim_start()
            .strip_prefix("\"format\"")?
            .trim_start()
            .strip_prefix(':')?;
        let rest = rest.trim_start().strip_prefix('"')?;
        let end = rest.find('"')?;
        let value = &rest[..end];
        (!value.contains('\\')).then(|| value.to_owned())
    });
    if let Some(f) = quick {
        return Ok(f);
    }
    #[derive(serde::Deserialize)]
    struct Head {
        format: String,
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let head: Head = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a double-random JSON file", path.display()))?;
    Ok(head.format)
}

/// Parses a whole file as `T`, streaming (a full bundle can be gigabytes).
fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("{}: malformed {what}", path.display()))
}

fn read_full(path: &Path) -> Result<FullBundle> {
    let format = read_format(path)?;
    if format != bundle::FULL_FORMAT {
        bail!(
            "{}: expected a full bundle ({}), found {format}",
            path.display(),
            bundle::FULL_FORMAT
        );
    }
    read_json(path, "full bundle")
}

pub fn verify_file(path: &Path, public: Option<&Path>) -> Result<Report> {
    Ok(match read_format(path)?.as_str() {
        bundle::FULL_FORMAT => bundle::verify_full(&read_json(path, "full bundle")?),
        bundle::PUBLIC_FORMAT => bundle::verify_public(&read_json(path, "public bundle")?),
        bundle::PROOF_FORMAT => {
            let proof: EnterpriseProof = read_json(path, "enterprise proof")?;
            let public = public
                .map(|p| read_json::<PublicBundle>(p, "public bundle"))
                .transpose()?;
            bundle::verify_proof(&proof, public.as_ref())
        }
        other => bail!("{}: unknown format {other:?}", path.display()),
    })
}

/// Adds the check of the daemon's signature over a bundle to `report`.
fn check_bundle_signature(
    report: &mut Report,
    file: &Path,
    sig: &Path,
    key: Option<&str>,
) -> Result<()> {
    use crate::service::access::{Signature, bundle_statement, check_signature};
    #[derive(serde::Deserialize)]
    struct Signed {
        task_id: String,
        #[serde(with = "crate::core::encode::hex32")]
        commitment_hash: crate::core::encode::Hash,
        result: Replacements,
    }
    #[derive(serde::Deserialize)]
    struct Replacements {
        replacements: Vec<serde::de::IgnoredAny>,
    }
    let signature: Signature = read_json(sig, "signature")?;
    let b: Signed = read_json(file, "bundle")?;
    let Some(digest) = report.result_digest.clone().filter(|_| report.valid) else {
        return Ok(());
    };
    let expected = bundle_statement(
        &b.task_id,
        &hex::encode(b.commitment_hash),
        &digest,
        b.result.replacements.len(),
    );
    let problem = match check_signature(&signature, key) {
        Err(e) => Some(e),
        Ok(()) if signature.message != expected => Some(format!(
            "the signed statement is not this bundle's: signed {:?}",
            signature.message
        )),
        Ok(()) => None,
    };
    match problem {
        None => report.checks.push(format!(
            "signature by publication key {} over run, commitment and result",
            signature.public_key
        )),
        Some(found) => {
            report.valid = false;
            report.mismatch = Some(bundle::Mismatch {
                field: "signature".into(),
                expected: expected.escape_debug().to_string(),
                found,
            });
        }
    }
    Ok(())
}

fn print_report(r: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    for c in &r.checks {
        println!("ok   {c}");
    }
    match &r.mismatch {
        None => println!("VALID {}: every check passed", r.kind),
        Some(m) => {
            println!("FAIL {}: first mismatch at {}", r.kind, m.field);
            println!("     expected: {}", m.expected);
            println!("     found:    {}", m.found);
        }
    }
    for l in &r.limits {
        println!("not checked: {l}");
    }
    if let Some(o) = r.outcome {
        println!("outcome: {o:?}");
    }
    if let Some(d) = &r.result_digest {
        println!("result digest: {d}");
    }
    Ok(())
}

fn print_summary(b: &FullBundle) {
    println!("task {}  protocol {}", b.task_id, b.commitment.protocol);
    println!("commitment {}", hex::encode(b.commitment_hash));
    println!("seed       {}", hex::encode(b.result.seed));
    println!(
        "{:<18} {:>10} {:>8} {:>9}",
        "stratum", "population", "drawn", "ratio"
    );
    for s in &b.result.strata {
        if s.population == 0 {
            continue;
        }
        let label = crate::core::pool::stratum_label(&s.tier, s.cooled);
        let bp = (s.sample as u128 * 10_000 / s.population as u128) as u32;
        println!(
            "{label:<18} {:>10} {:>8} {:>9}",
            s.population,
            s.sample,
            format_ratio(bp)
        );
    }
    println!(
        "excluded {} objects (closed, out of scope, cooldown)",
        b.commitment.excluded.count
    );
    println!(
        "{} objects to inspect, {} inspectors each",
        b.result.final_assignments.len(),
        b.policy.inspectors.per_object
    );
    println!("result digest {}", hex::encode(b.result_digest));
}

pub(crate) fn demo_data(
    dir: &Path,
    objects: u64,
    inspectors: u64,
    seed: u64,
    draw_date: NaiveDate,
    library: bool,
) -> Result<()> {
    let objs = demo::objects(objects, inspectors, seed, draw_date);
    let ins = demo::inspectors(inspectors, &objs, seed, draw_date);
    if library {
        demo::write_library(&dir.join("library"), &objs, &ins, draw_date)?;
    }
    output::write_atomic(&dir.join("objects.csv"), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record([
            "id",
            "name",
            "kind",
            "region",
            "industry",
            "status",
            "penalties_12m",
            "blacklisted",
            "last_inspected",
            "last_inspectors",
        ])?;
        for d in &objs {
            let o = &d.object;
            csv.write_record([
                o.id.as_str(),
                &o.name,
                &o.kind,
                &o.region,
                &o.industry,
                o.status.as_str(),
                &d.penalties_12m.to_string(),
                if d.blacklisted { "yes" } else { "no" },
                &o.last_inspected.map(|d| d.to_string()).unwrap_or_default(),
                &join(&o.last_inspectors).replace(", ", ";"),
            ])?;
        }
        csv.flush()?;
        Ok(())
    })?;
    output::write_atomic(&dir.join("inspectors.csv"), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record([
            "id",
            "name",
            "departments",
            "region",
            "specialties",
            "certificate_no",
            "certificate_expiry",
            "conflicts",
        ])?;
        for i in &ins {
            csv.write_record([
                i.id.as_str(),
                &i.name,
                &i.departments.join(";"),
                &i.region,
                &i.specialties.join(";"),
                &i.certificate_no,
                &i.certificate_expiry.to_string(),
                &join(&i.conflicts).replace(", ", ";"),
            ])?;
        }
        csv.flush()?;
        Ok(())
    })?;
    output::write_atomic(&dir.join("policy.toml"), |w| {
        Ok(w.write_all(demo::policy_toml(draw_date).as_bytes())?)
    })
}

fn demo(dir: &Path, objects: u64, inspectors: u64) -> Result<i32> {
    let date = "2026-12-01".parse().expect("date");
    demo_data(dir, objects, inspectors, 1, date, true)?;
    let policy = input::read_policy(&dir.join("policy.toml"))?;
    let snapshot = Snapshot::new(
        input::read_objects(&dir.join("objects.csv"), &policy)?,
        input::read_inspectors(&dir.join("inspectors.csv"))?,
    )?;
    // Fixed demo values so the demo is reproducible; a real draw takes a fresh secret and public entropy.
    let inputs = DrawInputs {
        task_id: "demo-2026-12".into(),
        policy,
        snapshot,
        salt_key: SaltKey(crate::core::encode::sha256(b"demo salt key")),
        secret: Secret::new(crate::core::encode::sha256(b"demo secret").to_vec())
            .map_err(anyhow::Error::msg)?,
        entropy_source: "demo: fixed entropy (a real draw announces a lottery draw or drand round)"
            .into(),
        entropy: vec![b"demo entropy".to_vec()],
        beacons: Vec::new(),
        replacements: Vec::new(),
    };
    let (full, pool) = FullBundle::create(inputs)?;
    write_bundles(
        &full,
        &pool,
        &dir.join("bundle.json"),
        Some(&dir.join("public.json")),
    )?;
    print_summary(&full);
    let mut valid = true;
    for name in ["bundle.json", "public.json"] {
        let report = verify_file(&dir.join(name), None)?;
        println!(
            "verify {name}: {}",
            if report.valid { "VALID" } else { "INVALID" }
        );
        valid &= report.valid;
    }
    let some_drawn = full
        .result
        .final_assignments
        .first()
        .map(|a| a.object.clone());
    if let Some(id) = some_drawn {
        let proof = bundle::prove(&full, &pool, &id);
        output::write_json(&dir.join("proof.json"), &proof)?;
        let report = verify_file(&dir.join("proof.json"), Some(&dir.join("public.json")))?;
        println!(
            "verify proof.json for {id} against public.json: {}",
            if report.valid { "VALID" } else { "INVALID" }
        );
        valid &= report.valid;
    }
    valid &= office::demo_office(dir, date)?;
    println!("files in {}", dir.display());
    Ok(if valid { 0 } else { 1 })
}
