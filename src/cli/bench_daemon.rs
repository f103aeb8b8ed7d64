//! Daemon figures: commit + draw of a large task through the service layer, and public
//! lookups over loopback HTTP against a real `serve` process (not tests: figures).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::demo_office::load_demo;
use crate::service::Actor;
use crate::service::access::PublicationKey;
use crate::service::runs::{DrawSettings, Runs, WitnessRequest};
use crate::store;

fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib / 1024)
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// Imports a synthetic library of `objects` into a fresh SQLite file, then times the commit
/// (freeze + commit + store) and the draw (seed, draw, bundle, signature, store).
pub fn lifecycle(objects: u64, inspectors: u64, dir: &Path) -> Result<()> {
    let date = today();
    let files = dir.join(format!("lifecycle-{objects}"));
    if !files.join("library/task.toml").exists() {
        super::demo::write_files(&files, objects, inspectors, 1, date, true)?;
    }
    let db = files.join("office.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let url = format!("sqlite://{}", db.display());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store: Arc<dyn store::Store> = Arc::from(store::open(&url, store::SealingKey::for_database(&url, "")?).await?);
        let who = Actor {
            name: "bench".into(),
            reason: String::new(),
        };
        let started = Instant::now();
        let task = load_demo(&*store, &files.join("library"), date, &who).await?;
        println!(
            "library imported: {objects} objects, {inspectors} inspectors in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let key = PublicationKey::load_or_create(&*store, &who, chrono::Utc::now()).await?;
        let settings = DrawSettings {
            timezone: chrono_tz::Asia::Shanghai,
            tier_source: Default::default(),
            witness_event: "bench".into(),
            witnesses: 1,
            witness_by_default: true,
            drand: None,
            due_soon_working_days: 5,
            lease: chrono::Duration::seconds(30),
            log_origin: "bench/log".into(),
        };
        let runs = Runs::new(store.clone(), key.clone(), settings.clone()).await?;
        let t = Instant::now();
        let (run, _) = runs
            .trigger(&task.id, None, WitnessRequest::default(), &who)
            .await?;
        let commit = t.elapsed().as_secs_f64();
        println!(
            "commit (freeze {} objects, commit, store)  {commit:>7.2} s   peak {} MiB",
            run.snapshot.objects,
            peak_mib()
        );
        let t = Instant::now();
        let drawn = runs.enter_entropy(&run.id, "1 2 3", &who).await?;
        let draw = t.elapsed().as_secs_f64();
        println!(
            "draw (seed, draw, bundle, sign, store)  {draw:>7.2} s   peak {} MiB",
            peak_mib()
        );
        if drawn.state.as_str() != "drawn" {
            bail!("the draw did not complete: {:?}", drawn.failure);
        }
        println!(
            "commit + draw                           {:>7.2} s",
            commit + draw
        );
        // After a restart nothing is cached: the auditor's bundle is rebuilt from history.
        let cold = Runs::new(store.clone(), key, settings).await?;
        let t = Instant::now();
        let full = cold.full_bundle(&run.id).await?;
        println!(
            "full bundle rebuilt from history        {:>7.2} s   ({} MB)",
            t.elapsed().as_secs_f64(),
            full.len() >> 20
        );
        store.close().await;
        Ok(())
    })
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    io: BufReader<tokio::net::TcpStream>,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Result<Self> {
        let s = tokio::net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Self {
            io: BufReader::new(s),
            body: Vec::new(),
        })
    }

    /// GET `path`; the status.
    async fn get(&mut self, path: &str) -> Result<u16> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
        self.io.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.io.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.io.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        self.body.resize(length, 0);
        self.io.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

fn percentile(sorted: &[u32], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = (sorted.len() * p / 100).min(sorted.len() - 1);
    f64::from(sorted[i]) / 1000.0
}

/// Starts `serve --demo` on a fresh SQLite file, draws the demo task over HTTP, then has
/// `connections` clients fetch public lookups for `seconds`.
pub fn http(seconds: u64, connections: usize, dir: &Path) -> Result<()> {
    let work = dir.join("http");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let db = format!("sqlite://{}", work.join("office.db").display());
    // One client address makes every request: the lookup limit would measure itself.
    let config = work.join("bench.toml");
    std::fs::write(&config, "[access]\nlookups_per_minute = 0\n")?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "serve",
            "--demo",
            "--no-scheduler",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--db", &db, "--demo-dir"])
        .arg(work.join("demo"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .env_remove("DOUBLE_RANDOM_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
    let (mut admin, mut addr) = (String::new(), String::new());
    while addr.is_empty() {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line)? == 0 {
            bail!("serve exited before listening");
        }
        if let Some(at) = line.find("drt_") {
            admin = line[at..at + 68].to_owned();
        }
        if let Some(rest) = line.split("http://").nth(1) {
            addr = rest.split(' ').next().unwrap_or_default().to_owned();
        }
    }
    let result = load(seconds, connections, &addr, &admin);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait()?;
    result
}

/// A blocking request with a body, for setting up the run.
fn call(addr: &str, method: &str, path: &str, token: &str, body: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    if !text.starts_with("HTTP/1.1 20") {
        bail!(
            "{method} {path}: {}",
            text.lines().next().unwrap_or_default()
        );
    }
    Ok(text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or_default()
        .to_owned())
}

fn load(seconds: u64, connections: usize, addr: &str, admin: &str) -> Result<()> {
    let token = |name: &str| -> Result<String> {
        let t = call(
            addr,
            "POST",
            "/api/tokens",
            admin,
            &format!(r#"{{"name":"{name}","role":"officer"}}"#),
        )?;
        let at = t.find("drt_").context("token")?;
        Ok(t[at..at + 68].to_owned())
    };
    let (li, wang) = (token("li")?, token("wang")?);
    let task = format!("demo-{}-01", today().format("%Y"));
    let run: serde_json::Value = serde_json::from_str(&call(
        addr,
        "POST",
        &format!("/api/tasks/{task}/draw"),
        &li,
        "",
    )?)?;
    let id = run["id"].as_str().context("run id")?.to_owned();
    for who in [&li, &wang] {
        call(
            addr,
            "POST",
            &format!("/api/runs/{id}/entropy"),
            who,
            r#"{"values":"3 1 4 1 5"}"#,
        )?;
    }
    let paths = vec![
        format!("/api/public/runs/{id}"),
        format!("/api/public/runs/{id}/bundle"),
        format!("/api/public/runs/{id}/signature"),
    ];
    println!(
        "{connections} connections, {seconds} s, one load-generator thread, server on SQLite with the demo task drawn"
    );
    hammer(seconds, connections, addr, &paths, &id)?;
    // Every public route at once, by more keep-alive clients than the database pool has
    // connections (eight `/healthz` clients once froze it).
    let bundle: serde_json::Value =
        serde_json::from_str(&call(addr, "GET", &paths[1], "", "")?)?;
    let code = bundle["result"]["final_assignments"][0]["object"]
        .as_str()
        .context("a drawn object")?
        .to_owned();
    let mut every = paths;
    every.extend([
        "/healthz".to_string(),
        "/readyz".into(),
        "/api/public/key".into(),
        "/api/public/plans".into(),
        format!("/api/public/tasks/{task}"),
        "/api/public/runs".into(),
        format!("/api/public/runs/{id}/check/{code}"),
        format!("/api/public/runs/{id}/log-proof"),
        "/api/public/deadlines".into(),
        "/api/public/log/checkpoint".into(),
        "/api/public/log/entries?start=0".into(),
    ]);
    println!("\n{PUBLIC_CLIENTS} connections over every public route, {seconds} s");
    hammer(seconds, PUBLIC_CLIENTS, addr, &every, &id)
}

/// Keep-alive clients for the every-route run (issue target: ≥ 5,000 req/s, p99 ≤ 50 ms).
const PUBLIC_CLIENTS: usize = 256;

/// `connections` keep-alive clients, each taking `paths` in turn from its own start, for
/// `seconds`; prints rate and latency per path and in all.
fn hammer(seconds: u64, connections: usize, addr: &str, paths: &[String], id: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let n = paths.len();
    let (lat, errors, took) = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..connections {
            let (addr, paths) = (addr.to_owned(), paths.to_vec());
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::open(&addr).await?;
                let mut lat: Vec<Vec<u32>> = vec![Vec::new(); n];
                let mut errors = 0u64;
                let mut i = c;
                while Instant::now() < deadline {
                    let p = i % n;
                    let t = Instant::now();
                    if conn.get(&paths[p]).await? != 200 {
                        errors += 1;
                    }
                    lat[p].push(t.elapsed().as_micros() as u32);
                    i += 1;
                }
                Ok::<_, anyhow::Error>((lat, errors))
            }));
        }
        let mut all: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await??;
            for (a, l) in all.iter_mut().zip(lat) {
                a.extend(l);
            }
            errors += e;
        }
        Ok::<_, anyhow::Error>((all, errors, start.elapsed()))
    })?;
    let secs = took.as_secs_f64();
    let total: usize = lat.iter().map(Vec::len).sum();
    let mut everything = Vec::with_capacity(total);
    for (p, mut l) in paths.iter().zip(lat) {
        everything.extend_from_slice(&l);
        l.sort_unstable();
        println!(
            "  {:<60} {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
            p.replace(id, "{id}"),
            l.len() as f64 / secs,
            percentile(&l, 50),
            percentile(&l, 99),
            percentile(&l, 100),
        );
    }
    everything.sort_unstable();
    println!(
        "  all: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {errors} non-200 answers",
        total as f64 / secs,
        percentile(&everything, 50),
        percentile(&everything, 99),
        percentile(&everything, 100)
    );
    Ok(())
}
