//! What the daemon tests start from: the demo library (as files, or loaded with its plan
//! approved), the service layer on a test's database, and the shared "drawn run" (a daemon
//! whose demo run is committed and then drawn by two witnesses), with reads of a run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use double_random::service::access::PublicationKey;
use double_random::service::accounts::{self, Role};
use double_random::service::clock::{Clock, SystemClock};
use double_random::service::runs::{DrawSettings, Runs};
use double_random::service::{Actor, plans};
use double_random::store::Store;
use serde_json::{Value, json};

use super::harness::{BIN, Backend, Daemon, Http, Tokens, office_with};

/// Today in China: the demo task is due today, in a window from the 1st to the year's end.
pub fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// (plan, task, run) ids of the demo task due today.
pub fn ids() -> (String, String, String) {
    let t = today();
    let task = format!("demo-{}-01", t.format("%Y"));
    let run = format!("{task}.{}T000000", t.format("%Y%m%d"));
    (t.format("%Y").to_string(), task, run)
}

/// The demo library (objects, inspectors, credit, inspections, items, task.toml).
pub fn demo_library(dir: &Path, objects: u64) -> PathBuf {
    demo_library_on(dir, objects, today())
}

fn demo_library_on(dir: &Path, objects: u64, date: NaiveDate) -> PathBuf {
    let status = Command::new(BIN)
        .args([
            "demo-data",
            "--objects",
            &objects.to_string(),
            "--inspectors",
            "40",
            "--library",
        ])
        .args(["--draw-date", &date.to_string(), "--out-dir"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("library")
}

/// This year's plan with the demo task (due today), approved, through the service layer.
pub async fn prepared(b: &Backend, objects: u64) -> PathBuf {
    prepared_on(b, objects, today()).await
}

/// The same with the demo task due `date`.
pub async fn prepared_on(b: &Backend, objects: u64, date: NaiveDate) -> PathBuf {
    let lib = demo_library_on(&b.dir.path().join("demo"), objects, date);
    let s = b.store().await;
    let who = Actor {
        name: "setup".into(),
        reason: String::new(),
    };
    double_random::cli::demo_office::load_demo(&*s, &lib, date, &who)
        .await
        .unwrap();
    s.close().await;
    lib
}

/// Adds `task` (a task file) to `plan` as an amendment proposed by `who` and approved by the
/// approver account "director" (made on first use), from a file named after `name`.
pub async fn amend_with(store: &dyn Store, plan: &str, name: &str, task: String, who: &Actor) {
    let name = format!("{name}.toml");
    let file = plans::TaskText {
        name: &name,
        text: &task,
        min_cron_interval: chrono::Duration::hours(1),
    };
    let a = plans::propose(store, plan, file, who, chrono::Utc::now())
        .await
        .unwrap();
    let director = Actor {
        name: "director".into(),
        reason: "approved".into(),
    };
    if accounts::load(store, &director.name).await.is_err() {
        accounts::create(
            store,
            "director",
            Role::Approver,
            None,
            who,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }
    plans::approve_amendment(store, plan, a.number, &director, chrono::Utc::now())
        .await
        .unwrap();
}

/// The draw service on `store`, as the daemon builds it: the publication key made or loaded,
/// one witness by default.
/// A clock the test sets: the services take every time they record or decide by from it.
#[derive(Debug)]
pub struct TestClock(std::sync::Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(std::sync::Mutex::new(t)))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The draw service on the system clock.
pub async fn service_runs(store: Arc<dyn Store>) -> Runs {
    service_runs_on(store, Arc::new(SystemClock)).await
}

/// The draw service on `clock`.
pub async fn service_runs_on(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Runs {
    let who = Actor {
        name: "double-random".into(),
        reason: String::new(),
    };
    let key = PublicationKey::load_or_create(&*store, &who, chrono::Utc::now())
        .await
        .unwrap();
    let settings = DrawSettings {
        timezone: chrono_tz::Asia::Shanghai,
        tier_source: Default::default(),
        witness_event: "福彩3D".into(),
        witnesses: 1,
        witness_by_default: true,
        drand: None,
        due_soon_working_days: 5,
        lease: chrono::Duration::seconds(30),
        log_origin: "test/log".into(),
    };
    Runs::with_clock(store, key, settings, clock).await.unwrap()
}

/// The shared "drawn run": the demo library loaded with this year's plan approved, a daemon
/// without its scheduler, the officers' tokens, and the demo task's run (`id`) committed and
/// then drawn with both witnesses' values.
pub struct DrawnRun {
    pub daemon: Daemon,
    pub http: Http,
    pub t: Tokens,
    pub id: String,
}

impl DrawnRun {
    pub async fn start(b: &Backend, objects: u64) -> Self {
        Self::start_with(b, objects, &[]).await
    }

    /// The same with more `serve` arguments (e.g. `--config FILE`).
    pub async fn start_with(b: &Backend, objects: u64, extra: &[&str]) -> Self {
        let run = Self::committed_with(b, objects, extra).await;
        run.draw();
        run
    }

    /// Only up to the commitment, for a test that looks in between; `draw` goes on.
    pub async fn committed(b: &Backend, objects: u64) -> Self {
        Self::committed_with(b, objects, &[]).await
    }

    async fn committed_with(b: &Backend, objects: u64, extra: &[&str]) -> Self {
        prepared(b, objects).await;
        let (daemon, http, t) = office_with(b, extra);
        let (_, task, id) = ids();
        http.post(201, &format!("/api/tasks/{task}/draw"), &t.li, None);
        Self {
            daemon,
            http,
            t,
            id,
        }
    }

    /// Both witnesses enter the same values (in their own order): the run is drawn.
    pub fn draw(&self) {
        for (who, v) in [(&self.t.li, "9 8 7"), (&self.t.wang, "7 8 9")] {
            let body = json!({"values": v}).to_string();
            self.http.post(
                200,
                &format!("/api/runs/{}/entropy", self.id),
                who,
                Some(body.as_bytes()),
            );
        }
    }

    /// The public bundle as served.
    pub fn bundle_text(&self) -> String {
        public_bundle(&self.http, &self.id)
    }

    /// The objects the public bundle names for inspection.
    pub fn inspected(&self) -> Vec<String> {
        final_objects(&serde_json::from_str(&self.bundle_text()).unwrap())
    }

    /// See [`replace_one`]; as officer li.
    pub fn replace_one(&self, candidates: &[String], reason: &str) -> (String, Value) {
        replace_one(&self.http, &self.id, &self.t.li, candidates, reason)
    }
}

/// A run's public bundle as served (not checked).
pub fn public_bundle(http: &Http, id: &str) -> String {
    http.get(&format!("/api/public/runs/{id}/bundle"), None).1
}

pub fn final_objects(bundle: &Value) -> Vec<String> {
    bundle["result"]["final_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["object"].as_str().unwrap().to_owned())
        .collect()
}

/// A results upload: `finding` for each of `objects`.
pub fn results_body(objects: &[String], finding: &str) -> String {
    let each: Vec<Value> = objects
        .iter()
        .map(|o| json!({"object": o, "finding": finding}))
        .collect();
    json!({ "results": each }).to_string()
}

/// Replaces the first of `candidates` that has a replacement: (that object, the run). An object
/// of a tier drawn whole has none (422, nothing written), and the random draw decides which
/// objects those are.
pub fn replace_one(
    http: &Http,
    run: &str,
    token: &str,
    candidates: &[String],
    reason: &str,
) -> (String, Value) {
    let mut refused = Vec::new();
    for o in candidates {
        let req =
            json!({"kind": "object", "object": o, "reason_code": "deregistered", "reason": reason})
                .to_string();
        let path = format!("/api/runs/{run}/replacements");
        match http.call("POST", &path, Some(token), Some(req.as_bytes())) {
            (200, text) => return (o.clone(), serde_json::from_str(&text).unwrap()),
            (422, text) => refused.push(text),
            other => panic!("replacing {o}: {other:?}"),
        }
    }
    panic!("no drawn object can be replaced: {refused:?}")
}

/// The publication key the daemon serves.
pub fn public_key(http: &Http) -> String {
    http.expect(200, "GET", "/api/public/key", None, None)["public_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn audit_intact(http: &Http, t: &Tokens) {
    let r = http.expect(200, "GET", "/api/audit/verify", Some(&t.auditor), None);
    assert_eq!(r["problems"], json!([]), "{r}");
}

/// How many `commit` entries the audit log holds.
pub fn commits_in_audit(http: &Http, t: &Tokens) -> usize {
    let audit = http.expect(
        200,
        "GET",
        "/api/audit?from=1&limit=1000",
        Some(&t.auditor),
        None,
    );
    audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "commit")
        .count()
}
