//! The daemon as users meet it: the real binary started with `serve` on port 0, driven over
//! HTTP, killed and restarted; against SQLite always and PostgreSQL when one is available.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, FixedOffset, TimeZone};
use double_random::service::access::{PublicationKey, Signature, check_signature};
use double_random::service::runs::{DrawSettings, Runs};
use double_random::service::{Actor, plans};
use double_random::store::{self, Store};
use serde_json::{Value, json};

use crate::store::Backend;

mod drand;
mod openapi;

const BIN: &str = env!("CARGO_BIN_EXE_double-random");

/// A running `double-random serve` with everything it printed.
struct Daemon {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(db: &str, failpoint: Option<&str>, extra: &[&str]) -> Daemon {
        Self::start_with(db, failpoint, extra, &[])
    }

    fn start_with(
        db: &str,
        failpoint: Option<&str>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--db", db])
            .args(extra)
            .envs(env.iter().copied())
            .env_remove("DOUBLE_RANDOM_CONFIG")
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(f) = failpoint {
            cmd.env("DOUBLE_RANDOM_FAILPOINT", f);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut d = Daemon {
            child,
            url: String::new(),
            log,
        };
        let line = d.wait_for("listening on http://");
        let addr = line
            .split("http://")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        d.url = format!("http://{addr}");
        d
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log without sqlx's query lines, for failure messages.
    fn readable_log(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().filter(|l| !l.contains("sqlx")).collect();
        lines.join("\n")
    }

    /// Waits for a line containing `needle`, and returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.log().lines().find(|l| l.contains(needle)) {
                return l.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "daemon exited ({status}) before {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no {needle:?} within 120 s:\n{}",
                self.readable_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the daemon stops at failpoint `point` (None) or `answer` comes (Some).
    fn reach(&mut self, point: &str, answer: &Answer) -> Option<(u16, String)> {
        let (needle, start) = (format!("failpoint {point} reached"), Instant::now());
        loop {
            if self.log().contains(&needle) {
                return None;
            }
            if let Some(a) = answer.lock().unwrap().take() {
                return Some(a);
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "neither {needle:?} nor an answer within 120 s:\n{}",
                self.readable_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn admin_token(&self) -> String {
        token_in(&self.log())
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (status, self.log())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token_in(text: &str) -> String {
    let at = text.find("drt_").expect("a token");
    text[at..at + 68].to_owned()
}

/// A client that records every answer, to search them for secrets.
#[derive(Clone)]
struct Http {
    base: String,
    agent: ureq::Agent,
    seen: Arc<Mutex<String>>,
}

impl Http {
    fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A daemon that stopped answering fails the test instead of hanging it.
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self {
            base: base.into(),
            agent,
            seen: Default::default(),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> (u16, String) {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut resp = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    m => panic!("method {m}"),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                match body {
                    Some(b) => r.send(b),
                    None => r.send_empty(),
                }
            }
        }
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap();
        let mut seen = self.seen.lock().unwrap();
        seen.push_str(&text);
        seen.push('\n');
        (status, text)
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        self.call("GET", path, token, None)
    }

    /// A call that must answer `status`; its JSON.
    fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Value {
        let (s, text) = self.call(method, path, token, body);
        assert_eq!(s, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Today in China: the demo task is due today, in a window from the 1st to the year's end.
fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// (plan, task, run) ids of the demo task due today.
fn ids() -> (String, String, String) {
    let t = today();
    let task = format!("demo-{}-01", t.format("%Y"));
    let run = format!("{task}.{}T000000", t.format("%Y%m%d"));
    (t.format("%Y").to_string(), task, run)
}

/// The demo library (objects, inspectors, credit, inspections, items, task.toml).
fn demo_library(dir: &Path, objects: u64) -> PathBuf {
    demo_library_on(dir, objects, today())
}

fn demo_library_on(dir: &Path, objects: u64, date: chrono::NaiveDate) -> PathBuf {
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

fn verify_cli(file: &Path, public: Option<&Path>) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("verify").arg(file);
    if let Some(p) = public {
        cmd.arg("--public").arg(p);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "verify {}: {text}", file.display());
    text
}

struct Tokens {
    admin: String,
    li: String,
    wang: String,
    auditor: String,
}

fn tokens(http: &Http, admin: String) -> Tokens {
    let make = |name: &str, role: &str| {
        let body = json!({"name": name, "role": role}).to_string();
        http.expect(
            201,
            "POST",
            "/api/tokens",
            Some(&admin),
            Some(body.as_bytes()),
        )["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let twice = json!({"name": "li", "role": "officer"}).to_string();
    let tokens = Tokens {
        li: make("li", "officer"),
        wang: make("wang", "officer"),
        auditor: make("audit", "auditor"),
        admin: admin.clone(),
    };
    http.expect(
        422,
        "POST",
        "/api/tokens",
        Some(&admin),
        Some(twice.as_bytes()),
    );
    tokens
}

/// Imports the demo library over HTTP and approves this year's plan with the demo task.
fn office_year(http: &Http, t: &Tokens, lib: &Path) {
    let (plan_id, _, _) = ids();
    for kind in ["objects", "inspectors", "penalties", "inspections", "items"] {
        let body = std::fs::read(lib.join(format!("{kind}.csv"))).unwrap();
        let path = format!("/api/libraries/{kind}?filename={kind}.csv&reason=annual%20import");
        let r = http.expect(200, "POST", &path, Some(&t.li), Some(&body));
        assert!(r["inserted"].as_u64().unwrap() > 0, "{r}");
    }
    let plan = json!({"id": plan_id, "year": today().year(), "name": "年度抽查计划"}).to_string();
    http.expect(
        201,
        "POST",
        "/api/plans",
        Some(&t.li),
        Some(plan.as_bytes()),
    );
    let task = std::fs::read(lib.join("task.toml")).unwrap();
    http.expect(
        201,
        "POST",
        &format!("/api/plans/{plan_id}/tasks"),
        Some(&t.li),
        Some(&task),
    );
    http.expect(
        200,
        "POST",
        &format!("/api/plans/{plan_id}/submit"),
        Some(&t.li),
        None,
    );
    http.expect(
        200,
        "POST",
        &format!("/api/plans/{plan_id}/approve"),
        Some(&t.wang),
        None,
    );
}

fn audit_intact(http: &Http, t: &Tokens) {
    let r = http.expect(200, "GET", "/api/audit/verify", Some(&t.auditor), None);
    assert_eq!(r["problems"], json!([]), "{r}");
}

/// How many `commit` entries the audit log holds.
fn commits_in_audit(http: &Http, t: &Tokens) -> usize {
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

fn final_objects(bundle: &Value) -> Vec<String> {
    bundle["result"]["final_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["object"].as_str().unwrap().to_owned())
        .collect()
}

/// Replaces the first of `candidates` that has a replacement: (that object, the run). An object
/// of a tier drawn whole has none (422, nothing written), and the random draw decides which
/// objects those are.
fn replace_one(
    http: &Http,
    run: &str,
    token: &str,
    candidates: &[String],
    reason: &str,
) -> (String, Value) {
    let mut refused = Vec::new();
    for o in candidates {
        let req = json!({"kind": "object", "object": o, "reason": reason}).to_string();
        let path = format!("/api/runs/{run}/replacements");
        match http.call("POST", &path, Some(token), Some(req.as_bytes())) {
            (200, text) => return (o.clone(), serde_json::from_str(&text).unwrap()),
            (422, text) => refused.push(text),
            other => panic!("replacing {o}: {other:?}"),
        }
    }
    panic!("no drawn object can be replaced: {refused:?}")
}

async fn lifecycle_from_import_to_publication(b: &Backend) {
    let dir = b.dir.path();
    let lib = demo_library(&dir.join("demo"), 400);
    let daemon = Daemon::start(&b.url, None, &["--no-scheduler"]);
    let http = Http::new(&daemon.url);
    let t = tokens(&http, daemon.admin_token());
    http.expect(200, "GET", "/healthz", None, None);

    // A bad upload lands nothing and names line and field.
    let bad =
        b"id,name,kind,region,industry,status\n91420700MA4KXXXX1X,x,enterprise,420700,C,active\n";
    let r = http.expect(
        422,
        "POST",
        "/api/libraries/objects?filename=bad.csv",
        Some(&t.li),
        Some(bad),
    );
    assert_eq!(r["error"]["code"], "bad_rows", "{r}");
    assert_eq!(r["report"]["bad"][0]["line"], 2, "{r}");
    office_year(&http, &t, &lib);
    let plans = http.expect(200, "GET", "/api/public/plans", None, None);
    assert_eq!(plans[0]["state"], "approved");
    let view = http.expect(
        200,
        "GET",
        &format!("/api/public/tasks/{}", ids().1),
        None,
        None,
    );
    assert_eq!(view["task"]["id"], ids().1.as_str());
    let items = http.expect(200, "GET", "/api/items", Some(&t.auditor), None);
    assert_eq!(items[0]["code"], "SC-001", "{items}");
    http.expect(401, "GET", "/api/items", None, None);
    let (plan_id, task_id, run_id) = ids();
    let draw = format!("/api/tasks/{task_id}/draw");
    // A task file with a bad field: file, line and field in the answer.
    let task = std::fs::read_to_string(lib.join("task.toml")).unwrap();
    let broken = task
        .replace(&format!("id = \"{task_id}\""), "id = \"other\"")
        .replace(
            "lead_department = \"市场监管局\"",
            "lead_department = \" \"",
        );
    let r = http.expect(
        422,
        "POST",
        &format!("/api/plans/{plan_id}/amendments?approver=zhang&reason=x"),
        Some(&t.li),
        Some(broken.as_bytes()),
    );
    assert_eq!(
        (r["error"]["code"].as_str(), r["error"]["file"].as_str()),
        (Some("bad_field"), Some("task.toml")),
        "{r}"
    );
    assert_eq!(
        (r["error"]["line"].as_u64(), r["error"]["field"].as_str()),
        (Some(4), Some("lead_department")),
        "{r}"
    );

    // Roles: the public and an auditor cannot trigger.
    http.expect(401, "POST", &draw, None, None);
    http.expect(403, "POST", &draw, Some(&t.auditor), None);
    let witness = json!({"witness_event": "福彩3D 2026320期 开奖号码", "witnesses": 2}).to_string();
    let run = http.expect(201, "POST", &draw, Some(&t.li), Some(witness.as_bytes()));
    let id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(id, run_id);
    assert_eq!(run["state"], "committed");
    assert!(
        run["commitment"]["entropy_source"]
            .as_str()
            .unwrap()
            .contains("福彩3D 2026320期")
    );
    assert!(run.get("secret").is_none(), "{run}");
    // Triggering again gives the same run: no redraw.
    let again = http.expect(200, "POST", &draw, Some(&t.wang), None);
    assert_eq!(again["commitment_hash"], run["commitment_hash"]);

    http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/entropy"),
        Some(&t.li),
        Some(br#"{"values": "07 12 19 23 28 31"}"#),
    );
    let public = http.expect(200, "GET", &format!("/api/public/runs/{id}"), None, None);
    assert_eq!(public["state"], "committed");
    assert!(
        !public.to_string().contains("12.19."),
        "the first witness's values are shown: {public}"
    );
    http.expect(
        404,
        "GET",
        &format!("/api/public/runs/{id}/bundle"),
        None,
        None,
    );
    // A mismatching second entry fixes nothing.
    let r = http.expect(
        409,
        "POST",
        &format!("/api/runs/{id}/entropy"),
        Some(&t.wang),
        Some(br#"{"values": "7 12 19 23 28 32"}"#),
    );
    assert_eq!(r["error"]["code"], "conflict");
    let before_reveal = format!("{}\n{}", http.seen.lock().unwrap(), daemon.log());
    let drawn = http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/entropy"),
        Some(&t.wang),
        Some(br#"{"values": "31 28 23 19 12 7"}"#),
    );
    assert_eq!(drawn["state"], "drawn", "{drawn}");
    let secret = drawn["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    assert!(
        !before_reveal.contains(&secret),
        "the secret appeared before the reveal"
    );

    // The public bundle verifies offline, and its signature with the served key.
    let bundle_text = http.get(&format!("/api/public/runs/{id}/bundle"), None).1;
    let public_file = dir.join("public.json");
    std::fs::write(&public_file, &bundle_text).unwrap();
    assert!(verify_cli(&public_file, None).contains("VALID public bundle"));
    let bundle: Value = serde_json::from_str(&bundle_text).unwrap();
    let sig: Signature = serde_json::from_value(http.expect(
        200,
        "GET",
        &format!("/api/public/runs/{id}/signature"),
        None,
        None,
    ))
    .unwrap();
    let key = http.expect(200, "GET", "/api/public/key", None, None)["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    check_signature(&sig, Some(&key)).unwrap();
    assert!(
        sig.message
            .contains(bundle["result_digest"].as_str().unwrap())
    );
    // The auditor's full bundle verifies too; the public cannot fetch it.
    http.expect(
        401,
        "GET",
        &format!("/api/runs/{id}/full-bundle"),
        None,
        None,
    );
    let (s, full) = http.get(&format!("/api/runs/{id}/full-bundle"), Some(&t.auditor));
    assert_eq!(s, 200);
    let full_file = dir.join("full.json");
    std::fs::write(&full_file, full).unwrap();
    assert!(verify_cli(&full_file, None).contains("VALID"));

    // Enterprises check themselves: a drawn one and one that was not drawn.
    let drawn_ids = final_objects(&bundle);
    let all_ids: Vec<String> = std::fs::read_to_string(lib.join("objects.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    let not_drawn = all_ids.iter().find(|i| !drawn_ids.contains(i)).unwrap();
    for (code, outcome) in [(&drawn_ids[0], "drawn"), (not_drawn, "")] {
        let c = http.expect(
            200,
            "GET",
            &format!("/api/public/runs/{id}/check/{code}"),
            None,
            None,
        );
        let proof_file = dir.join("proof.json");
        std::fs::write(&proof_file, c["proof"].to_string()).unwrap();
        verify_cli(&proof_file, Some(&public_file));
        if !outcome.is_empty() {
            assert_eq!(c["proof"]["outcome"], outcome);
        } else {
            assert_ne!(c["proof"]["outcome"], "drawn");
        }
    }

    // A replacement, with its reason, is public and the bundle still verifies.
    let (gone, replaced) = replace_one(&http, &id, &t.li, &drawn_ids[1..], "已注销");
    assert_eq!(
        replaced["replacements"][0]["record"]["request"]["reason"],
        "已注销"
    );
    let public = http.expect(200, "GET", &format!("/api/public/runs/{id}"), None, None);
    assert_eq!(public["replacements"].as_array().unwrap().len(), 1);
    let bundle_text = http.get(&format!("/api/public/runs/{id}/bundle"), None).1;
    std::fs::write(&public_file, &bundle_text).unwrap();
    verify_cli(&public_file, None);
    let inspected = final_objects(&serde_json::from_str(&bundle_text).unwrap());
    assert!(!inspected.contains(&gone));

    // Results: every inspected object needs one before publication.
    http.expect(
        404,
        "GET",
        &format!("/api/public/runs/{id}/results"),
        None,
        None,
    );
    let entry =
        |o: &String, f: &str| json!({"object": o, "finding": f, "follow_up": ["order_correction"]});
    let first = json!({"results": inspected[..2].iter().map(|o| entry(o, "no_problem")).collect::<Vec<_>>()}).to_string();
    http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/results"),
        Some(&t.li),
        Some(first.as_bytes()),
    );
    let r = http.expect(
        422,
        "POST",
        &format!("/api/runs/{id}/publish"),
        Some(&t.li),
        None,
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no result yet"),
        "{r}"
    );
    let noted =
        json!({"results": [{"object": inspected[2], "finding": "other_violation"}]}).to_string();
    http.expect(
        422,
        "POST",
        &format!("/api/runs/{id}/results"),
        Some(&t.li),
        Some(noted.as_bytes()),
    );
    let outsider = json!({"results": [entry(&gone, "no_problem")]}).to_string();
    http.expect(
        422,
        "POST",
        &format!("/api/runs/{id}/results"),
        Some(&t.li),
        Some(outsider.as_bytes()),
    );
    let rest = json!({"results": inspected[2..].iter().map(|o| entry(o, "corrected_on_order")).collect::<Vec<_>>()}).to_string();
    http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/results"),
        Some(&t.wang),
        Some(rest.as_bytes()),
    );

    // The window ends on 31 December, so the deadline falls next year, which has no calendar
    // yet: flagged, not guessed.
    let next = today().year() + 1;
    let d = http.expect(200, "GET", "/api/public/deadlines", None, None);
    let mine = d["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(mine["status"], "unknown", "{d}");
    assert!(
        mine["problem"]
            .as_str()
            .unwrap()
            .contains(&next.to_string())
    );
    let cal = format!("year = {next}\nholidays = [{next}-01-01]\nworkdays = []\n");
    let path = format!("/api/calendars/{next}");
    http.expect(403, "PUT", &path, Some(&t.li), Some(cal.as_bytes()));
    http.expect(
        422,
        "PUT",
        "/api/calendars/1999",
        Some(&t.admin),
        Some(cal.as_bytes()),
    );
    http.expect(200, "PUT", &path, Some(&t.admin), Some(cal.as_bytes()));
    let d = http.expect(200, "GET", "/api/public/deadlines", None, None);
    let mine = d["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run"] == id.as_str())
        .unwrap()
        .clone();
    // The 20th working day after 31 December, skipping New Year's Day and weekends (for the
    // 2026 window: 2027-01-29).
    let mut deadline = chrono::NaiveDate::from_ymd_opt(next, 1, 1).unwrap();
    let mut left = 20;
    while left > 0 {
        deadline = deadline.succ_opt().unwrap();
        if deadline.weekday().number_from_monday() <= 5 {
            left -= 1;
        }
    }
    assert_eq!(mine["deadline"], deadline.to_string(), "{d}");

    let published = http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/publish"),
        Some(&t.li),
        None,
    );
    assert_eq!(published["state"], "published");
    let results = http.expect(
        200,
        "GET",
        &format!("/api/public/runs/{id}/results"),
        None,
        None,
    );
    assert_eq!(
        results["results"].as_object().unwrap().len(),
        inspected.len()
    );
    assert_eq!(results["results"][&inspected[0]]["label"], "未发现问题");
    let c = http.expect(
        200,
        "GET",
        &format!("/api/public/runs/{id}/check/{}", inspected[3]),
        None,
        None,
    );
    assert_eq!(c["result"]["finding"], "corrected_on_order", "{c}");
    http.expect(
        409,
        "POST",
        &format!("/api/runs/{id}/results"),
        Some(&t.li),
        Some(rest.as_bytes()),
    );

    // Errors axum raises itself are JSON with a code too.
    // A body over the 1 MiB limit.
    let mut raw = std::net::TcpStream::connect(daemon.url.trim_start_matches("http://")).unwrap();
    use std::io::Write as _;
    write!(raw, "POST /api/runs/{id}/results HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n", t.li).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The server answers once it has read past the limit, and may close before the rest.
    let _ = raw.write_all(&vec![b'x'; 2_000_000]);
    let mut answer = String::new();
    let _ = BufReader::new(raw).read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    let r = http.expect(
        405,
        "GET",
        &format!("/api/runs/{id}/publish"),
        Some(&t.li),
        None,
    );
    assert_eq!(r["error"]["code"], "method_not_allowed");
    let r = http.expect(400, "GET", "/api/audit?from=x", Some(&t.auditor), None);
    assert_eq!(r["error"]["code"], "bad_request");

    let metrics = http.get("/metrics", None).1;
    assert!(
        metrics.contains("double_random_runs{state=\"published\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("double_random_publication_deadlines{status=\"published\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("double_random_http_requests_total{method=\"POST\",route=\"/api/runs/{id}/publish\",status=\"200\"} 1"), "{metrics}");
    audit_intact(&http, &t);
    let (status, log) = daemon.terminate();
    assert!(status.success(), "{status}\n{log}");
    assert!(log.contains("double-random stopped"));
}

/// This year's plan with the demo task (due `date`), approved, through the service layer.
async fn prepared(b: &Backend, objects: u64) -> PathBuf {
    prepared_on(b, objects, today()).await
}

async fn prepared_on(b: &Backend, objects: u64, date: chrono::NaiveDate) -> PathBuf {
    let lib = demo_library_on(&b.dir.path().join("demo"), objects, date);
    let s = b.store().await;
    let who = Actor {
        name: "setup".into(),
        reason: String::new(),
    };
    double_random::cli::library::load_demo(&*s, &lib, date, &who)
        .await
        .unwrap();
    s.close().await;
    lib
}

async fn fifty_concurrent_triggers_give_one_draw(b: &Backend) {
    prepared(b, 300).await;
    // Two instances on one database, 25 triggers each, all at once.
    let first = Daemon::start(&b.url, None, &["--no-scheduler"]);
    let admin = first.admin_token();
    let second = Daemon::start(&b.url, None, &["--no-scheduler"]);
    assert!(
        !second.log().contains("drt_"),
        "a second admin token was made"
    );
    let http = Http::new(&first.url);
    let t = tokens(&http, admin);
    let clients = [Http::new(&first.url), Http::new(&second.url)];
    let barrier = std::sync::Barrier::new(50);
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (c, barrier, token) = (&clients[i % 2], &barrier, &t.li);
                scope.spawn(move || {
                    barrier.wait();
                    let (s, text) = c.call(
                        "POST",
                        &format!("/api/tasks/{}/draw", ids().1),
                        Some(token),
                        None,
                    );
                    (s, serde_json::from_str(&text).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 201),
        "{answers:?}"
    );
    let hashes: std::collections::BTreeSet<_> = answers
        .iter()
        .map(|(_, v)| v["commitment_hash"].to_string())
        .collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    let runs = http.expect(200, "GET", "/api/public/runs", None, None);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let commits = commits_in_audit(&http, &t);
    assert_eq!(commits, 1);
    audit_intact(&http, &t);
}

/// What a test does with a started daemon.
type Step<'a> = Box<dyn Fn(&Http, &Tokens, &mut Daemon) -> Answer + 'a>;

/// The answer to a request sent to a daemon that should stop at a failpoint instead.
type Answer = Arc<Mutex<Option<(u16, String)>>>;

/// SIGKILL inside each transition (just before its write), then a restart: the run is in the
/// state before the transition (or, for the draw, completed on restart), never in between.
async fn a_kill_during_any_transition_recovers(b: &Backend) {
    prepared(b, 300).await;
    let (_, task_id, id) = ids();
    let (id, draw) = (id.as_str(), format!("/api/tasks/{task_id}/draw"));
    let entropy = |n: &str| format!("/api/runs/{id}/entropy?who={n}");
    let mut admin = None;
    let mut stage = |failpoint: Option<&str>,
                     act: &dyn Fn(&Http, &Tokens, &mut Daemon) -> Answer|
     -> (Http, Tokens, Daemon, Answer) {
        let mut d = Daemon::start(&b.url, failpoint, &["--no-scheduler"]);
        let a = admin.get_or_insert_with(|| d.admin_token()).clone();
        let http = Http::new(&d.url);
        let t = match failpoint {
            Some("commit") => tokens(&http, a),
            _ => Tokens {
                li: token_in(&std::fs::read_to_string(b.dir.path().join("li")).unwrap()),
                wang: token_in(&std::fs::read_to_string(b.dir.path().join("wang")).unwrap()),
                auditor: token_in(&std::fs::read_to_string(b.dir.path().join("auditor")).unwrap()),
                admin: a,
            },
        };
        for (n, v) in [("li", &t.li), ("wang", &t.wang), ("auditor", &t.auditor)] {
            std::fs::write(b.dir.path().join(n), v).unwrap();
        }
        audit_intact(&http, &t);
        let answer = act(&http, &t, &mut d);
        (http, t, d, answer)
    };
    let hang =
        |http: &Http, method: &'static str, path: String, token: String, body: Option<Vec<u8>>| {
            // No answer should come: the daemon stops at the failpoint and is killed.
            let (agent, url) = (http.agent.clone(), format!("{}{path}", http.base));
            assert_eq!(method, "POST");
            let answer = Answer::default();
            let keep = answer.clone();
            std::thread::spawn(move || {
                let r = agent
                    .post(&url)
                    .header("Authorization", &format!("Bearer {token}"));
                let r = match body {
                    Some(b) => r.send(&b[..]),
                    None => r.send_empty(),
                };
                if let Ok(mut r) = r {
                    let text = r.body_mut().read_to_string().unwrap_or_default();
                    *keep.lock().unwrap() = Some((r.status().as_u16(), text));
                }
            });
            answer
        };
    let run_state = |http: &Http| -> Value {
        let (s, text) = http.get(&format!("/api/public/runs/{id}"), None);
        if s == 404 {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    };
    let checks: Vec<(&str, Step)> = vec![
        (
            "commit",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                hang(h, "POST", draw.clone(), t.li.clone(), None)
            }),
        ),
        (
            "entropy",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                assert_eq!(
                    run_state(h),
                    Value::Null,
                    "a commitment survived a kill before its write"
                );
                h.expect(201, "POST", &draw, Some(&t.li), None);
                hang(
                    h,
                    "POST",
                    entropy("li"),
                    t.li.clone(),
                    Some(br#"{"values":"1 2 3"}"#.to_vec()),
                )
            }),
        ),
        (
            "draw",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                let r = run_state(h);
                assert_eq!(
                    (
                        r["state"].as_str(),
                        r["witness_entries"].as_array().unwrap().len()
                    ),
                    (Some("committed"), 0)
                );
                h.expect(
                    200,
                    "POST",
                    &entropy("li"),
                    Some(&t.li),
                    Some(br#"{"values":"1 2 3"}"#),
                );
                hang(
                    h,
                    "POST",
                    entropy("wang"),
                    t.wang.clone(),
                    Some(br#"{"values":"3 2 1"}"#.to_vec()),
                )
            }),
        ),
        (
            "replace",
            Box::new(|h: &Http, t: &Tokens, d: &mut Daemon| {
                // The entropy was fixed before the kill; the restart completed the draw.
                assert_eq!(run_state(h)["state"], "drawn");
                let bundle: Value =
                    serde_json::from_str(&h.get(&format!("/api/public/runs/{id}/bundle"), None).1)
                        .unwrap();
                // An object of a tier drawn whole has no replacement (422, nothing written): the
                // random draw decides which objects those are, so the next one is tried.
                let mut refused = Vec::new();
                for o in final_objects(&bundle) {
                    let req = json!({"kind": "object", "object": o, "reason": "迁出"})
                        .to_string()
                        .into_bytes();
                    let answer = hang(
                        h,
                        "POST",
                        format!("/api/runs/{id}/replacements"),
                        t.li.clone(),
                        Some(req),
                    );
                    match d.reach("replace", &answer) {
                        None => return answer,
                        Some((422, text)) => refused.push(text),
                        Some(other) => panic!("replacing {o}: {other:?}"),
                    }
                }
                panic!("no drawn object can be replaced: {refused:?}")
            }),
        ),
        (
            "results",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                let r = run_state(h);
                assert_eq!(
                    (
                        r["state"].as_str(),
                        r["replacements"].as_array().unwrap().len()
                    ),
                    (Some("drawn"), 0)
                );
                let bundle: Value =
                    serde_json::from_str(&h.get(&format!("/api/public/runs/{id}/bundle"), None).1)
                        .unwrap();
                let all = json!({"results": final_objects(&bundle).iter().map(|o| json!({"object": o, "finding": "no_problem"})).collect::<Vec<_>>()}).to_string().into_bytes();
                std::fs::write(b.dir.path().join("results.json"), &all).unwrap();
                hang(
                    h,
                    "POST",
                    format!("/api/runs/{id}/results"),
                    t.li.clone(),
                    Some(all),
                )
            }),
        ),
        (
            "publish",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                assert_eq!(run_state(h)["state"], "drawn");
                let all = std::fs::read(b.dir.path().join("results.json")).unwrap();
                h.expect(
                    200,
                    "POST",
                    &format!("/api/runs/{id}/results"),
                    Some(&t.li),
                    Some(&all),
                );
                hang(
                    h,
                    "POST",
                    format!("/api/runs/{id}/publish"),
                    t.li.clone(),
                    None,
                )
            }),
        ),
    ];
    for (point, act) in checks {
        let (_, _, mut d, answer) = stage(Some(point), &*act);
        if let Some(a) = d.reach(point, &answer) {
            panic!("{point} answered {a:?} instead of stopping at its failpoint");
        }
        d.kill9();
    }
    let (http, t, d, _) = stage(None, &|h, _, _| {
        assert_eq!(run_state(h)["state"], "results");
        Answer::default()
    });
    http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/publish"),
        Some(&t.li),
        None,
    );
    let bundle = b.dir.path().join("final.json");
    std::fs::write(
        &bundle,
        http.get(&format!("/api/public/runs/{id}/bundle"), None).1,
    )
    .unwrap();
    verify_cli(&bundle, None);
    let commits = commits_in_audit(&http, &t);
    assert_eq!(commits, 1, "one commitment for the run");
    audit_intact(&http, &t);
    drop(d);
}

/// Every endpoint the OpenAPI document marks as needing a token refuses the public, and every
/// changing one refuses an auditor; unknown paths answer a JSON 404.
async fn the_public_reaches_no_officer_endpoint(b: &Backend) {
    let d = Daemon::start(&b.url, None, &["--no-scheduler"]);
    let http = Http::new(&d.url);
    let t = tokens(&http, d.admin_token());
    let api = http.expect(200, "GET", "/api/openapi.json", None, None);
    let mut protected = 0;
    for (path, ops) in api["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{kind}", "objects")
            .replace("{year}", "2027")
            .replace("{code}", "91420700MA4KXXXX1X")
            .replace("{id}", "x");
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let open = op["security"] == json!([]);
            let (s, text) = http.call(&method, &concrete, None, None);
            if open {
                assert_ne!(s, 401, "{method} {path} is public but asked for a token");
                continue;
            }
            protected += 1;
            assert_eq!(s, 401, "{method} {path} without a token: {text}");
            let wrong = http.call(&method, &concrete, Some("drt_nonsense"), None);
            assert_eq!(wrong.0, 401, "{method} {path} with a bad token");
            if method != "GET" {
                let (s, text) = http.call(&method, &concrete, Some(&t.auditor), None);
                assert_eq!(s, 403, "{method} {path} as auditor: {text}");
            }
        }
    }
    assert!(
        protected >= 15,
        "only {protected} protected operations documented"
    );
    // An anonymous upload is refused before its body is read.
    let mut raw = std::net::TcpStream::connect(d.url.trim_start_matches("http://")).unwrap();
    use std::io::Write as _;
    raw.write_all(b"POST /api/libraries/objects HTTP/1.1\r\nHost: t\r\nContent-Length: 200000000\r\nConnection: close\r\n\r\n").unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = [0u8; 12];
    raw.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 401");
    let r = http.expect(404, "GET", "/api/nothing-here", None, None);
    assert_eq!(r["error"]["code"], "unknown_route");
}

/// Cron fires: a missed stretch runs once (the latest fire), and each fire time runs once,
/// across a restart.
async fn cron_fires_run_once_and_missed_fires_collapse(b: &Backend) {
    let lib = prepared_on(
        b,
        200,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
    )
    .await;
    let store: Arc<dyn Store> = Arc::from(store::open(&b.url).await.unwrap());
    let who = Actor {
        name: "zhang".into(),
        reason: "add a weekday task".into(),
    };
    let task = std::fs::read_to_string(lib.join("task.toml"))
        .unwrap()
        .replace("id = \"demo-2026-01\"", "id = \"weekday\"")
        .replace("date = 2026-12-01", "cron = \"0 0 9 * * Mon-Fri\"");
    let file = b.dir.path().join("weekday.toml");
    std::fs::write(&file, task).unwrap();
    plans::amend(&*store, "2026", &file, "director", &who)
        .await
        .unwrap();
    let runs = |s: Arc<dyn Store>| async move {
        let key = PublicationKey::load_or_create(&*s, &who_system())
            .await
            .unwrap();
        Runs::new(s, key, settings()).await.unwrap()
    };
    let metrics = double_random::server::metrics::Metrics::default();
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let at = |d: u32, h: u32, m: u32| cst.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap().to_utc();
    let pass = double_random::server::scheduler::pass;
    let r1 = runs(store.clone()).await;
    assert_eq!(
        pass(&r1, &metrics, at(1, 0, 0) - chrono::Duration::hours(1))
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    // Down from before Dec 1 until Thursday Dec 3, 10:00: fires of Dec 1, 2, 3 were missed.
    let mut started = pass(&r1, &metrics, at(3, 10, 0)).await.unwrap();
    started.sort();
    assert_eq!(
        started,
        ["demo-2026-01.20261201T000000", "weekday.20261203T090000"]
    );
    assert!(pass(&r1, &metrics, at(3, 10, 5)).await.unwrap().is_empty());
    // A restart (a new service on the same database) runs nothing twice.
    let r2 = runs(store.clone()).await;
    assert!(pass(&r2, &metrics, at(3, 11, 0)).await.unwrap().is_empty());
    // Friday's and Monday's fires come; the weekend has none. Down over Friday: Monday runs once.
    assert_eq!(
        pass(&r2, &metrics, at(7, 9, 0)).await.unwrap(),
        ["weekday.20261207T090000"]
    );
    assert!(pass(&r2, &metrics, at(7, 9, 1)).await.unwrap().is_empty());
    assert_eq!(r2.list(Some("weekday")).await.unwrap().len(), 2);
    store.close().await;
}

/// A draw that cannot be made (no inspector holds the required specialty) ends `failed` in
/// public with the secret revealed, is not redrawn, and does not stop a restart.
async fn an_impossible_draw_fails_in_public(b: &Backend) {
    let lib = prepared(b, 200).await;
    let (plan_id, _, _) = ids();
    let store: Arc<dyn Store> = Arc::from(store::open(&b.url).await.unwrap());
    let who = Actor {
        name: "zhang".into(),
        reason: "special task".into(),
    };
    let task = std::fs::read_to_string(lib.join("task.toml"))
        .unwrap()
        .replace(&format!("id = \"{}\"", ids().1), "id = \"nuclear\"")
        .replace(
            "exclude_previous = true",
            "exclude_previous = true\nspecialty = \"核安全\"",
        );
    let file = b.dir.path().join("nuclear.toml");
    std::fs::write(&file, task).unwrap();
    plans::amend(&*store, &plan_id, &file, "director", &who)
        .await
        .unwrap();
    let key = PublicationKey::load_or_create(&*store, &who_system())
        .await
        .unwrap();
    let runs = Runs::new(store.clone(), key.clone(), settings())
        .await
        .unwrap();
    let (run, created) = runs.trigger("nuclear", None, None, &who).await.unwrap();
    assert!(created);
    let run = runs.enter_entropy(&run.id, "1 2 3", &who).await.unwrap();
    assert_eq!(run.state.as_str(), "failed");
    assert!(
        run.failure.as_deref().unwrap().contains("specialty"),
        "{:?}",
        run.failure
    );
    assert_eq!(run.secret.as_deref().map(str::len), Some(64));
    let again = Runs::new(store.clone(), key, settings()).await.unwrap();
    assert_eq!(again.recover().await.unwrap(), 0);
    let (same, created) = again.trigger("nuclear", None, None, &who).await.unwrap();
    assert!(!created);
    assert_eq!(same.state.as_str(), "failed");
    store.close().await;
}

fn log_verify(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["log", "verify"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Every commitment, draw, replacement and publication is a log leaf; a watcher checks a run's
/// bundle, its inclusion, consistency with a checkpoint saved earlier, and every entry, from
/// saved files and against the URL.
async fn the_log_records_each_event_and_a_watcher_verifies_it(b: &Backend) {
    prepared(b, 300).await;
    let dir = b.dir.path();
    let d = Daemon::start(&b.url, None, &["--no-scheduler"]);
    let http = Http::new(&d.url);
    let t = tokens(&http, d.admin_token());
    let (_, task_id, id) = ids();
    let save = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    http.expect(
        201,
        "POST",
        &format!("/api/tasks/{task_id}/draw"),
        Some(&t.li),
        None,
    );
    let first = save("cp1.txt", http.get("/api/public/log/checkpoint", None).1);
    assert!(std::fs::read_to_string(&first).unwrap().contains("\n1\n"));
    for (who, v) in [(&t.li, "9 8 7"), (&t.wang, "7 8 9")] {
        let body = json!({"values": v}).to_string();
        http.expect(
            200,
            "POST",
            &format!("/api/runs/{id}/entropy"),
            Some(who),
            Some(body.as_bytes()),
        );
    }
    let bundle: Value =
        serde_json::from_str(&http.get(&format!("/api/public/runs/{id}/bundle"), None).1).unwrap();
    replace_one(&http, &id, &t.li, &final_objects(&bundle), "已关闭");
    let bundle_text = http.get(&format!("/api/public/runs/{id}/bundle"), None).1;
    let inspected = final_objects(&serde_json::from_str(&bundle_text).unwrap());
    let all = json!({"results": inspected.iter().map(|o| json!({"object": o, "finding": "no_problem"})).collect::<Vec<_>>()}).to_string();
    http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/results"),
        Some(&t.li),
        Some(all.as_bytes()),
    );
    http.expect(
        200,
        "POST",
        &format!("/api/runs/{id}/publish"),
        Some(&t.li),
        None,
    );

    let entries = http.expect(200, "GET", "/api/public/log/entries", None, None);
    let events: Vec<String> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e["entry"].as_str().unwrap()).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(events, ["commit", "draw", "replace", "publish"]);
    let key = http.expect(200, "GET", "/api/public/key", None, None)["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = save("cp2.txt", http.get("/api/public/log/checkpoint", None).1);
    let consistency = save(
        "consistency.json",
        http.get("/api/public/log/consistency?first=1&second=4", None)
            .1,
    );
    let proof = save(
        "proof.json",
        http.get(&format!("/api/public/runs/{id}/log-proof"), None)
            .1,
    );
    let bundle = save("bundle.json", bundle_text);
    let entries = save("entries.json", entries.to_string());
    let results_text = http.get(&format!("/api/public/runs/{id}/results"), None).1;
    let results = save("results.json", results_text.clone());
    let offline = [
        "--key",
        &key,
        "--checkpoint",
        &now,
        "--previous",
        &first,
        "--consistency",
        &consistency,
        "--proof",
        &proof,
        "--bundle",
        &bundle,
        "--results",
        &results,
        "--entries",
        &entries,
    ];
    let (ok, out) = log_verify(&offline);
    assert!(
        ok && out.contains("VALID") && out.contains("is the one logged for run"),
        "{out}"
    );
    assert!(
        out.contains("published results are the ones logged"),
        "{out}"
    );
    let (ok, out) = log_verify(&[
        "--key",
        &key,
        "--url",
        &d.url,
        "--run",
        &id,
        "--previous",
        &first,
    ]);
    assert!(ok && out.contains("6 checks passed"), "{out}");
    // Results changed after publication are not the logged ones.
    let altered = save(
        "altered-results.json",
        results_text.replace("no_problem", "obstructed"),
    );
    let (ok, out) = log_verify(&[
        "--key",
        &key,
        "--checkpoint",
        &now,
        "--proof",
        &proof,
        "--results",
        &altered,
    ]);
    assert!(!ok && out.contains("not the ones logged"), "{out}");
    // Another key, a bundle that is not the logged one, a second commitment hidden in the
    // entries: each fails.
    let other = "ab".repeat(32);
    assert!(!log_verify(&["--key", &other, "--checkpoint", &now]).0);
    let mut altered: Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    altered["task_id"] = json!("someone-else");
    let altered = save("altered.json", altered.to_string());
    let (ok, out) = log_verify(&[
        "--key",
        &key,
        "--checkpoint",
        &now,
        "--proof",
        &proof,
        "--bundle",
        &altered,
    ]);
    assert!(!ok, "{out}");
    let mut list: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&entries).unwrap()).unwrap();
    list[2]["entry"] = list[0]["entry"].clone();
    let doubled = save("doubled.json", serde_json::to_string(&list).unwrap());
    let (ok, out) = log_verify(&["--key", &key, "--checkpoint", &now, "--entries", &doubled]);
    assert!(!ok && out.contains("FAIL"), "{out}");
}

/// The daemon refuses to sign a checkpoint over a stored log that was edited, reordered or
/// truncated, and says why.
async fn a_tampered_log_is_never_signed(b: &Backend) {
    prepared(b, 200).await;
    let d = Daemon::start(&b.url, None, &["--no-scheduler"]);
    let http = Http::new(&d.url);
    let t = tokens(&http, d.admin_token());
    let (_, task_id, id) = ids();
    http.expect(
        201,
        "POST",
        &format!("/api/tasks/{task_id}/draw"),
        Some(&t.li),
        None,
    );
    for (who, v) in [(&t.li, "4 5"), (&t.wang, "5 4")] {
        let body = json!({"values": v}).to_string();
        http.expect(
            200,
            "POST",
            &format!("/api/runs/{id}/entropy"),
            Some(who),
            Some(body.as_bytes()),
        );
    }
    let good = http.get("/api/public/log/checkpoint", None).1;
    assert!(good.contains("\n2\n"), "{good}");
    let bundle: Value =
        serde_json::from_str(&http.get(&format!("/api/public/runs/{id}/bundle"), None).1).unwrap();
    let drawn = final_objects(&bundle);
    // Each case appends a leaf (a replacement), so the daemon has a new checkpoint to sign.
    let replace = |n: usize| {
        replace_one(&http, &id, &t.li, &drawn[n..], "迁出");
    };
    let unlock = if b.is_sqlite() {
        "DROP TRIGGER tlog_leaves_no_update; DROP TRIGGER tlog_leaves_no_delete;"
    } else {
        "DROP TRIGGER tlog_leaves_append_only ON tlog_leaves;"
    };
    b.tamper(unlock).await;
    let refused = |why: &str| {
        let r = http.expect(500, "GET", "/api/public/log/checkpoint", None, None);
        assert_eq!(r["error"]["code"], "corrupt", "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains(why), "{r}");
    };
    let signed = |size: u32| {
        let note = http.get("/api/public/log/checkpoint", None).1;
        assert!(note.contains(&format!("\n{size}\n")), "{note}");
    };
    b.tamper("UPDATE tlog_leaves SET entry = replace(entry, 'draw', 'drew') WHERE idx = 1")
        .await;
    replace(0);
    refused("edited");
    b.tamper("UPDATE tlog_leaves SET entry = replace(entry, 'drew', 'draw') WHERE idx = 1")
        .await;
    signed(3);
    // Reordered: entries and hashes swapped together, so each leaf still matches its hash.
    let swap = "UPDATE tlog_leaves SET idx = 100 WHERE idx = 0; \
                UPDATE tlog_leaves SET idx = 0 WHERE idx = 1; \
                UPDATE tlog_leaves SET idx = 1 WHERE idx = 100;";
    b.tamper(swap).await;
    replace(1);
    refused("rewritten or reordered");
    b.tamper(swap).await;
    signed(4);
    b.tamper("DELETE FROM tlog_leaves WHERE idx = 3").await;
    refused("truncated");
}

fn who_system() -> Actor {
    Actor {
        name: "double-random".into(),
        reason: String::new(),
    }
}

fn settings() -> DrawSettings {
    DrawSettings {
        timezone: chrono_tz::Asia::Shanghai,
        tier_source: Default::default(),
        witness_event: "福彩3D".into(),
        witnesses: 1,
        witness_by_default: true,
        drand: None,
        due_soon_working_days: 5,
        log_origin: "test/log".into(),
    }
}

/// `serve --demo` with the scheduler: the demo task is due today, so one run is committed, and
/// a restart commits no second one.
async fn serve_demo_commits_the_due_run_once(b: &Backend) {
    let demo_dir = b.dir.path().join("serve-demo");
    let demo = demo_dir.to_str().unwrap();
    let d = Daemon::start(&b.url, None, &["--demo", "--demo-dir", demo]);
    let http = Http::new(&d.url);
    let wait_runs = |http: &Http| {
        let start = Instant::now();
        loop {
            let runs = http.expect(200, "GET", "/api/public/runs", None, None);
            if !runs.as_array().unwrap().is_empty() || start.elapsed() > Duration::from_secs(30) {
                return runs;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let runs = wait_runs(&http);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    let (status, _) = d.terminate();
    assert!(status.success());
    let d = Daemon::start(&b.url, None, &["--demo", "--demo-dir", demo]);
    assert!(
        !d.log().contains("loading the demo"),
        "demo data loaded twice"
    );
    let http = Http::new(&d.url);
    std::thread::sleep(Duration::from_millis(1500));
    let again = http.expect(200, "GET", "/api/public/runs", None, None);
    assert_eq!(again, runs);
}

backend_tests!(
    lifecycle_from_import_to_publication,
    fifty_concurrent_triggers_give_one_draw,
    a_kill_during_any_transition_recovers,
    the_public_reaches_no_officer_endpoint,
    cron_fires_run_once_and_missed_fires_collapse,
    serve_demo_commits_the_due_run_once,
    an_impossible_draw_fails_in_public,
    the_log_records_each_event_and_a_watcher_verifies_it,
    a_tampered_log_is_never_signed,
);
