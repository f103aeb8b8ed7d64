//! Several instances on one database: a draw its instance left half-done is finished by a
//! live one, once.

use serde_json::Value;

use super::fixture::{audit_intact, ids, prepared};
use super::harness::{Backend, Daemon, Http, tokens};

/// How many audit entries have `action`.
fn in_audit(http: &Http, auditor: &str, action: &str) -> usize {
    let audit = http.expect(
        200,
        "GET",
        "/api/audit?from=1&limit=1000",
        Some(auditor),
        None,
    );
    audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .count()
}

/// The probe: a run whose entropy was complete when its instance died sat in `entropy` until
/// an instance restarted (5 minutes in one test). Now the survivor's scheduler draws it once
/// the lease has run out, without a restart, and the draw is written once.
pub async fn a_survivor_finishes_a_draw_whose_instance_died(b: &Backend) {
    prepared(b, 300).await;
    let config = b.file(
        "lease.toml",
        "[server]\nscheduler_interval_secs = 1\n[draw]\nlease_secs = 3\n",
    );
    let config = config.to_str().unwrap();
    // The survivor: started first (so the lease, not its start-up recovery, finishes the run).
    let survivor = Daemon::start(&b.url, None, &["--config", config]);
    let http = Http::new(&survivor.url);
    let t = tokens(&http, survivor.admin_token());
    let (_, task, id) = ids();
    let (status, _) = http.call(
        "POST",
        &format!("/api/tasks/{task}/draw"),
        Some(&t.li),
        None,
    );
    assert!([200, 201, 409].contains(&status), "trigger: {status}");

    // The instance that completes the entropy stops just before writing the draw.
    let mut dying = Daemon::start(
        &b.url,
        Some("draw"),
        &["--no-scheduler", "--config", config],
    );
    let there = Http::new(&dying.url);
    there.post(
        200,
        &format!("/api/runs/{id}/entropy"),
        &t.li,
        Some(br#"{"values":"1 2 3"}"#),
    );
    let answer = there.post_unanswered(
        &format!("/api/runs/{id}/entropy"),
        &t.wang,
        Some(br#"{"values":"3 2 1"}"#.to_vec()),
    );
    assert_eq!(dying.reach("draw", &answer), None, "the draw did not start");
    dying.kill9();

    let started = std::time::Instant::now();
    let state = loop {
        let run: Value = http.expect(200, "GET", &format!("/api/public/runs/{id}"), None, None);
        if run["state"] != "entropy" {
            break run["state"].clone();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the survivor never finished the draw:\n{}",
            survivor.readable_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(state, "drawn");
    assert!(
        survivor
            .log()
            .contains("drew a run another instance left in entropy"),
        "{}",
        survivor.readable_log()
    );
    assert_eq!(in_audit(&http, &t.auditor, "draw"), 1);
    audit_intact(&http, &t);
}
