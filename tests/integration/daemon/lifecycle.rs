//! A run's life over HTTP as the office lives it: import, plan, commitment, witnesses, draw,
//! bundles and proofs, replacement, results, deadlines and publication; one run however many
//! trigger it; a draw that cannot be made fails in public.

use std::path::Path;
use std::sync::Arc;

use chrono::Datelike;
use double_random::core::signature::{Signature, check_signature};
use double_random::service::Actor;
use double_random::service::runs::WitnessRequest;
use double_random::store::{self, Store};
use serde_json::{Value, json};

use super::access;
use super::fixture::{
    amend_with, audit_intact, commits_in_audit, demo_library, final_objects, ids, prepared,
    public_bundle, public_key, replace_one, service_runs, today,
};
use super::harness::{Backend, Daemon, Http, Tokens, office, tokens, verify_cli};

/// Imports the demo library over HTTP and approves this year's plan with the demo task.
fn office_year(http: &Http, t: &Tokens, lib: &Path) {
    let (plan_id, _, _) = ids();
    for kind in ["objects", "inspectors", "penalties", "inspections", "items"] {
        let body = std::fs::read(lib.join(format!("{kind}.csv"))).unwrap();
        let path = format!("/api/libraries/{kind}?filename={kind}.csv&reason=annual%20import");
        let r = http.post(200, &path, &t.li, Some(&body));
        assert!(r["inserted"].as_u64().unwrap() > 0, "{r}");
    }
    let plan = json!({"id": plan_id, "year": today().year(), "name": "年度抽查计划"}).to_string();
    http.post(201, "/api/plans", &t.li, Some(plan.as_bytes()));
    let task = std::fs::read(lib.join("task.toml")).unwrap();
    let plan_path = format!("/api/plans/{plan_id}");
    http.post(201, &format!("{plan_path}/tasks"), &t.li, Some(&task));
    http.post(200, &format!("{plan_path}/submit"), &t.li, None);
    http.post(200, &format!("{plan_path}/approve"), &t.wang, None);
}

/// The public deadline entry of run `id`.
fn deadline_of(http: &Http, id: &str) -> (Value, Value) {
    let d = http.expect(200, "GET", "/api/public/deadlines", None, None);
    let mine = d["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run"] == id)
        .unwrap()
        .clone();
    (mine, d)
}

pub async fn lifecycle_from_import_to_publication(b: &Backend) {
    let dir = b.dir.path();
    let lib = demo_library(&dir.join("demo"), 400);
    let (daemon, http, t) = office(b);
    http.expect(200, "GET", "/healthz", None, None);

    // A bad upload lands nothing and names line and field.
    let bad =
        b"id,name,kind,region,industry,status\n91420700MA4KXXXX1X,x,enterprise,420700,C,active\n";
    let r = http.post(
        422,
        "/api/libraries/objects?filename=bad.csv",
        &t.li,
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
    let r = http.post(
        422,
        &format!("/api/plans/{plan_id}/amendments?reason=x"),
        &t.li,
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
    http.post(403, &draw, &t.auditor, None);
    let witness = json!({"witness_event": "福彩3D 2026320期 开奖号码", "witnesses": 2}).to_string();
    let run = http.post(201, &draw, &t.li, Some(witness.as_bytes()));
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
    let again = http.post(200, &draw, &t.wang, None);
    assert_eq!(again["commitment_hash"], run["commitment_hash"]);

    let entropy = format!("/api/runs/{id}/entropy");
    http.post(
        200,
        &entropy,
        &t.li,
        Some(br#"{"values": "07 12 19 23 28 31"}"#),
    );
    let public = http.expect(200, "GET", &format!("/api/public/runs/{id}"), None, None);
    assert_eq!(public["state"], "committed");
    assert!(
        !public.to_string().contains("12 19 23"),
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
    let r = http.post(
        409,
        &entropy,
        &t.wang,
        Some(br#"{"values": "7 12 19 23 28 32"}"#),
    );
    assert_eq!(r["error"]["code"], "conflict");
    let before_reveal = format!("{}\n{}", http.seen.lock().unwrap(), daemon.log());
    let drawn = http.post(
        200,
        &entropy,
        &t.wang,
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
    let bundle_text = public_bundle(&http, &id);
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
    check_signature(&sig, Some(&public_key(&http))).unwrap();
    assert!(
        sig.message
            .contains(bundle["result_digest"].as_str().unwrap())
    );
    // The auditor's full bundle verifies too; the public cannot fetch it.
    let full_path = format!("/api/runs/{id}/full-bundle");
    http.expect(401, "GET", &full_path, None, None);
    let (s, full) = http.get(&full_path, Some(&t.auditor));
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
    // The public learns what the list says; the enterprise, with its access code, its proof.
    let codes_csv = http.get("/api/access-codes", Some(&t.li)).1;
    let access_code = |code: &str| {
        codes_csv
            .lines()
            .find(|l| l.starts_with(code))
            .and_then(|l| l.rsplit(',').next())
            .unwrap()
            .to_owned()
    };
    for (code, status, outcome) in [
        (&drawn_ids[0], "drawn", "drawn"),
        (not_drawn, "not_drawn", ""),
    ] {
        let c = http.expect(
            200,
            "GET",
            &format!("/api/public/runs/{id}/check/{code}"),
            None,
            None,
        );
        assert_eq!(c["status"], status, "{c}");
        let (s, _, text) = http.call_with(
            "GET",
            &format!("/api/public/runs/{id}/proof/{code}"),
            None,
            &[("X-Access-Code", &access_code(code))],
            None,
        );
        assert_eq!(s, 200, "{text}");
        let c: Value = serde_json::from_str(&text).unwrap();
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
    let bundle_text = public_bundle(&http, &id);
    std::fs::write(&public_file, &bundle_text).unwrap();
    verify_cli(&public_file, None);
    let inspected = final_objects(&serde_json::from_str(&bundle_text).unwrap());
    assert!(!inspected.contains(&gone));

    // Results: every inspected object needs one before publication.
    let public_results = format!("/api/public/runs/{id}/results");
    http.expect(404, "GET", &public_results, None, None);
    let (results, publish) = (
        format!("/api/runs/{id}/results"),
        format!("/api/runs/{id}/publish"),
    );
    let upload = |status: u16, token: &str, body: &str| {
        http.post(status, &results, token, Some(body.as_bytes()));
    };
    let entry =
        |o: &String, f: &str| json!({"object": o, "finding": f, "follow_up": ["order_correction"]});
    let first = json!({"results": inspected[..2].iter().map(|o| entry(o, "no_problem")).collect::<Vec<_>>()}).to_string();
    upload(200, &t.li, &first);
    let r = http.post(422, &publish, &t.li, None);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no result yet"),
        "{r}"
    );
    let noted =
        json!({"results": [{"object": inspected[2], "finding": "other_violation"}]}).to_string();
    upload(422, &t.li, &noted);
    let outsider = json!({"results": [entry(&gone, "no_problem")]}).to_string();
    upload(422, &t.li, &outsider);
    let rest = json!({"results": inspected[2..].iter().map(|o| entry(o, "corrected_on_order")).collect::<Vec<_>>()}).to_string();
    upload(200, &t.wang, &rest);

    // The window ends on 31 December, so the deadline falls next year, which has no calendar
    // yet: an estimate from weekends alone, marked as one, saying how to load the calendar.
    let next = today().year() + 1;
    let (mine, d) = deadline_of(&http, &id);
    assert_eq!(mine["estimated"], true, "{d}");
    let weekdays_only = (1..)
        .map(|n| chrono::NaiveDate::from_ymd_opt(next, 1, n).unwrap())
        .filter(|d| d.weekday().num_days_from_monday() < 5)
        .nth(19)
        .unwrap();
    assert_eq!(mine["deadline"], weekdays_only.to_string(), "{d}");
    let problem = mine["problem"].as_str().unwrap();
    assert!(
        problem.contains(&format!("PUT /api/calendars/{next}")),
        "{problem}"
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
    let (mine, d) = deadline_of(&http, &id);
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
    assert_eq!(mine.get("estimated"), None, "{d}");

    let published = http.post(200, &publish, &t.li, None);
    assert_eq!(published["state"], "published");
    let results = http.expect(200, "GET", &public_results, None, None);
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
    upload(409, &t.li, &rest);

    access::axum_rejections_are_json(&daemon.url, &http, &t, &id);

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

pub async fn fifty_concurrent_triggers_give_one_draw(b: &Backend) {
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

/// A draw that cannot be made (no inspector holds the required specialty) ends `failed` in
/// public with the secret revealed, is not redrawn, and does not stop a restart.
pub async fn an_impossible_draw_fails_in_public(b: &Backend) {
    let lib = prepared(b, 200).await;
    let (plan_id, _, _) = ids();
    let store: Arc<dyn Store> = Arc::from(store::open(&b.url, b.key()).await.unwrap());
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
    amend_with(&*store, &plan_id, "nuclear", task, &who).await;
    let runs = service_runs(store.clone()).await;
    let (run, created) = runs
        .trigger("nuclear", None, WitnessRequest::default(), &who)
        .await
        .unwrap();
    assert!(created);
    let run = runs.enter_entropy(&run.id, "1 2 3", &who).await.unwrap();
    assert_eq!(run.state.as_str(), "failed");
    assert!(
        run.failure.as_deref().unwrap().contains("specialty"),
        "{:?}",
        run.failure
    );
    assert_eq!(run.secret.as_deref().map(str::len), Some(64));
    let again = service_runs(store.clone()).await;
    assert_eq!(again.recover().await.unwrap(), 0);
    let (same, created) = again
        .trigger("nuclear", None, WitnessRequest::default(), &who)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(same.state.as_str(), "failed");
    store.close().await;
}

/// A task whose runs announce only witness values (0 bits of min-entropy) is refused at
/// commit unless it says `allow_weak_entropy`; with it, the commitment publishes the flag and
/// the structured sources, and a fractional witness value is refused (draw-spec §7.6).
pub async fn weak_entropy_needs_the_task_flag(b: &Backend) {
    let lib = prepared(b, 200).await;
    let (plan_id, _, _) = ids();
    let store: Arc<dyn Store> = Arc::from(store::open(&b.url, b.key()).await.unwrap());
    let who = Actor {
        name: "zhang".into(),
        reason: "a task without the flag".into(),
    };
    let demo = std::fs::read_to_string(lib.join("task.toml")).unwrap();
    assert!(demo.contains("allow_weak_entropy = true"));
    let task = demo
        .replace(&format!("id = \"{}\"", ids().1), "id = \"strict\"")
        .replace("allow_weak_entropy = true", "");
    amend_with(&*store, &plan_id, "strict", task, &who).await;
    let runs = service_runs(store.clone()).await;
    let e = runs
        .trigger("strict", None, WitnessRequest::default(), &who)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("0 bits of min-entropy"), "{e}");
    assert!(runs.list(Some("strict")).await.unwrap().is_empty());
    let (run, created) = runs
        .trigger(&ids().1, None, WitnessRequest::default(), &who)
        .await
        .unwrap();
    assert!(created);
    assert!(run.commitment.allow_weak_entropy);
    assert_eq!(run.commitment.entropy_sources.len(), 1);
    let e = runs
        .enter_entropy(&run.id, "2.5 3", &who)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("whole number"), "{e}");
    store.close().await;
}
