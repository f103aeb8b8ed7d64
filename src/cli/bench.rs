//! `double-random bench`: the core's speed and memory on synthetic data (not a test: figures).

use std::time::Instant;

use crate::core::bundle::{self, DrawInputs, FullBundle, PublicBundle};
use crate::core::encode::sha256;
use crate::core::entropy::{Announced, EntropySource};
use crate::core::model::Snapshot;
use crate::core::policy::Policy;
use crate::core::pool::CommittedPool;
use crate::core::secret::{SaltKey, Secret};
use crate::core::{Protocol, draw};

use super::demo;

/// Peak resident memory of this process so far (Linux VmHWM), in MiB.
fn peak_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

fn step<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!(
        "{name:<34} {:>8.3} s   peak {:>6} MiB",
        start.elapsed().as_secs_f64(),
        peak_mib().unwrap_or(0)
    );
    out
}

pub fn run(objects: u64, inspectors: u64) {
    let date = "2026-12-01".parse().expect("date");
    println!(
        "{} bench: {objects} objects, {inspectors} inspectors, {} threads",
        Protocol::CURRENT,
        rayon::current_num_threads()
    );
    let snapshot = step("generate synthetic pool", || {
        let objs = demo::objects(objects, inspectors, 1, date);
        let ins = demo::inspectors(inspectors, &objs, 1, date);
        Snapshot::new(objs.into_iter().map(|d| d.object).collect(), ins).expect("unique ids")
    });
    let policy = Policy::from_toml(&demo::policy_toml(date)).expect("demo policy");
    let salt_key = SaltKey(sha256(b"bench salt"));
    let secret = Secret::new(sha256(b"bench secret").to_vec()).expect("32 bytes");
    let pool = step("commit (place, leaves, 4 kinds of root)", || {
        CommittedPool::build(&snapshot, &policy, &salt_key.0, Protocol::CURRENT).expect("pool")
    });
    let announced = Announced {
        text: "witness: bench".into(),
        sources: vec![EntropySource::Witness {
            event: "bench".into(),
            witnesses: 1,
        }],
        allow_weak: true,
    };
    let value = b"1 2 3".to_vec();
    let commitment = pool.commitment(
        "bench",
        &policy,
        draw::secret_hash(secret.expose()),
        &announced,
    );
    let seed = draw::derive_seed(&commitment, secret.expose(), std::slice::from_ref(&value));
    let (_, order) = step("  selection (tickets, cutoffs)", || {
        draw::select(&snapshot, &policy, &pool, &seed)
    });
    let order: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
    step("  matching", || {
        draw::assign_teams(pool.protocol, &snapshot, &policy, &seed, &order, &[], &mut |_, _| {
            unreachable!("no replacements")
        })
        .expect("matching")
    });
    let result = step("draw (tickets, selection, matching)", || {
        draw::run(&snapshot, &policy, &pool, &seed, &[]).expect("draw")
    });
    let drawn: usize = result.final_assignments.len();
    println!(
        "  drawn {drawn} objects, {} inspector slots",
        drawn * policy.inspectors.per_object as usize
    );
    drop((pool, result));
    let inputs = DrawInputs {
        protocol: Protocol::CURRENT,
        task_id: "bench".into(),
        policy,
        snapshot,
        salt_key,
        secret,
        announced,
        entropy: vec![value],
        beacons: Vec::new(),
        replacements: Vec::new(),
    };
    let (full, pool) = step("commit + draw (FullBundle::create)", || {
        FullBundle::create(inputs).expect("bundle")
    });
    let report = step("full verify (recompute everything)", || {
        bundle::verify_full(&full)
    });
    assert!(
        report.valid,
        "bench bundle must verify: {:?}",
        report.mismatch
    );
    let public = step("public bundle (proofs for drawn)", || {
        PublicBundle::from_full(&full, &pool)
    });
    let report = step("public verify", || bundle::verify_public(&public));
    assert!(
        report.valid,
        "public bundle must verify: {:?}",
        report.mismatch
    );
    println!("peak resident memory: {} MiB", peak_mib().unwrap_or(0));
}

/// Runs this program with `args` as a child and reports its wall time and peak memory (each
/// step is its own process, so each peak is its own).
fn child(name: &str, args: &[&str]) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let child = std::process::Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let mut status = 0;
    // SAFETY: plain libc call on our own child's pid, with valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    anyhow::ensure!(pid > 0, "wait4 failed");
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{name}: double-random {} failed",
        args.join(" ")
    );
    println!(
        "{name:<34} {:>8.3} s   peak {:>6} MiB",
        start.elapsed().as_secs_f64(),
        usage.ru_maxrss / 1024
    );
    Ok(())
}

/// The store's figures: library import (fresh and again), a task snapshot, an .xlsx import.
pub fn store(
    db: &str,
    objects: u64,
    inspectors: u64,
    dir: &std::path::Path,
    xlsx: Option<(u64, &str)>,
) -> anyhow::Result<()> {
    let lib = dir.join("library");
    let path = |name: &str| lib.join(name).to_string_lossy().into_owned();
    let (n, m) = (objects.to_string(), inspectors.to_string());
    if !lib.join("objects.csv").exists() {
        let out = dir.to_string_lossy();
        child(
            "generate demo library files",
            &[
                "demo-data",
                "--objects",
                &n,
                "--inspectors",
                &m,
                "--out-dir",
                &out,
                "--library",
            ],
        )?;
    }
    println!(
        "{} store bench: {objects} objects, {inspectors} inspectors, {}",
        Protocol::CURRENT,
        crate::store::redact_url(db)
    );
    let with_db = |args: &[&str]| -> Vec<String> {
        ["--db", db]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |name: &str, args: &[&str]| {
        let args = with_db(args);
        child(name, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(
        "import objects (CSV, new)",
        &["import", "objects", &path("objects.csv")],
    )?;
    run(
        "import objects again (unchanged)",
        &["import", "objects", &path("objects.csv")],
    )?;
    run(
        "import inspectors",
        &["import", "inspectors", &path("inspectors.csv")],
    )?;
    run(
        "import penalties",
        &["import", "penalties", &path("penalties.csv")],
    )?;
    run(
        "import inspections",
        &["import", "inspections", &path("inspections.csv")],
    )?;
    run("import items", &["import", "items", &path("items.csv")])?;
    run(
        "plan create",
        &[
            "plan", "create", "bench", "--year", "2026", "--name", "bench",
        ],
    )?;
    run(
        "task add",
        &["task", "add", "--plan", "bench", &path("task.toml")],
    )?;
    run("plan submit", &["plan", "submit", "bench"])?;
    run("plan approve", &["plan", "approve", "bench"])?;
    run(
        "snapshot (whole task pool)",
        &[
            "snapshot",
            "--task",
            "demo-2026-01",
            "--draw-date",
            "2026-12-01",
        ],
    )?;
    run("audit verify", &["audit", "verify"])?;
    if let Some((rows, xlsx_db)) = xlsx {
        let file = lib.join(format!("objects-{rows}.xlsx"));
        if !file.exists() {
            let csv = lib.join("objects.csv");
            let t = crate::table::open(
                Box::new(std::fs::File::open(&csv)?),
                &csv.display().to_string(),
            )?;
            let headers: Vec<&str> = t.headers.iter().map(String::as_str).collect();
            let rows_iter = t
                .rows
                .take(rows as usize)
                .map(|r| r.expect("generated file").cells.to_vec());
            let mut out = super::output::AtomicFile::create(&file)?;
            let name = file.display().to_string();
            let xlsx = crate::table::Format::Xlsx;
            crate::table::write(&mut out, &name, xlsx, &headers, rows_iter)?;
            out.commit()?;
        }
        let f = file.to_string_lossy();
        child(
            &format!("import {rows} objects from .xlsx"),
            &["--db", xlsx_db, "import", "objects", &f],
        )?;
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 1_000_000)]
    objects: u64,
    #[arg(long, default_value_t = 100_000)]
    inspectors: u64,
    /// Measure the store instead: import, re-import, snapshot into this (empty) database.
    #[arg(long)]
    store: Option<String>,
    /// Where the store benchmark's files go (reused when present).
    #[arg(long, default_value = "bench-data")]
    dir: std::path::PathBuf,
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
}

/// The `bench` command: the core, the store (`--store`), or the daemon (`--lifecycle`,
/// `--http-seconds`).
pub fn command(a: BenchArgs) -> anyhow::Result<i32> {
    let BenchArgs {
        objects,
        inspectors,
        store,
        dir,
        xlsx_rows,
        xlsx_store,
        lifecycle,
        http_seconds,
        connections,
    } = a;
    if lifecycle {
        super::bench_daemon::lifecycle(objects, inspectors, &dir)?;
        return Ok(0);
    }
    if let Some(seconds) = http_seconds {
        super::bench_daemon::http(seconds, connections, &dir)?;
        return Ok(0);
    }
    match store {
        Some(db) => {
            let xlsx = xlsx_rows.zip(xlsx_store);
            self::store(
                &db,
                objects,
                inspectors,
                &dir,
                xlsx.as_ref().map(|(n, u)| (*n, u.as_str())),
            )?
        }
        None => run(objects, inspectors),
    }
    Ok(0)
}
