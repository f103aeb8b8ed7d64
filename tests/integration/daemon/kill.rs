//! Crash safety: the daemon stopped at each transition's failpoint (just before its write),
//! killed with SIGKILL and restarted, never leaves a run in between two states.

use serde_json::{Value, json};

use super::fixture::{
    audit_intact, commits_in_audit, final_objects, ids, prepared, public_bundle, results_body,
};
use super::harness::{Answer, Backend, Daemon, Http, Tokens, tokens, verify_cli};

/// What a test does with a started daemon: the slot of the request that should not be answered.
type Step<'a> = Box<dyn Fn(&Http, &Tokens, &mut Daemon) -> Answer + 'a>;

/// The public view of run `id`; Null while there is none.
fn run_state(http: &Http, id: &str) -> Value {
    let (s, text) = http.get(&format!("/api/public/runs/{id}"), None);
    if s == 404 {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// SIGKILL inside each transition (just before its write), then a restart: the run is in the
/// state before the transition (or, for the draw, completed on restart), never in between.
pub async fn a_kill_during_any_transition_recovers(b: &Backend) {
    prepared(b, 300).await;
    let (_, task_id, id) = ids();
    let (id, draw) = (id.as_str(), format!("/api/tasks/{task_id}/draw"));
    let entropy = |n: &str| format!("/api/runs/{id}/entropy?who={n}");
    // Made on the first start, the only one that prints the admin token.
    let mut kept: Option<Tokens> = None;
    let mut stage = |failpoint: Option<&str>,
                     act: &dyn Fn(&Http, &Tokens, &mut Daemon) -> Answer|
     -> (Http, Tokens, Daemon, Answer) {
        let mut d = Daemon::start(&b.url, failpoint, &["--no-scheduler"]);
        let http = Http::new(&d.url);
        let t = kept
            .get_or_insert_with(|| tokens(&http, d.admin_token()))
            .clone();
        audit_intact(&http, &t);
        let answer = act(&http, &t, &mut d);
        (http, t, d, answer)
    };
    let checks: Vec<(&str, Step)> = vec![
        (
            "commit",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| h.post_unanswered(&draw, &t.li, None)),
        ),
        (
            "entropy",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                assert_eq!(
                    run_state(h, id),
                    Value::Null,
                    "a commitment survived a kill before its write"
                );
                h.post(201, &draw, &t.li, None);
                h.post_unanswered(
                    &entropy("li"),
                    &t.li,
                    Some(br#"{"values":"1 2 3"}"#.to_vec()),
                )
            }),
        ),
        (
            "draw",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                let r = run_state(h, id);
                assert_eq!(
                    (
                        r["state"].as_str(),
                        r["witness_entries"].as_array().unwrap().len()
                    ),
                    (Some("committed"), 0)
                );
                h.post(200, &entropy("li"), &t.li, Some(br#"{"values":"1 2 3"}"#));
                h.post_unanswered(
                    &entropy("wang"),
                    &t.wang,
                    Some(br#"{"values":"3 2 1"}"#.to_vec()),
                )
            }),
        ),
        (
            "replace",
            Box::new(|h: &Http, t: &Tokens, d: &mut Daemon| {
                // The entropy was fixed before the kill; the restart completed the draw.
                assert_eq!(run_state(h, id)["state"], "drawn");
                let bundle: Value = serde_json::from_str(&public_bundle(h, id)).unwrap();
                // An object of a tier drawn whole has no replacement (422, nothing written): the
                // random draw decides which objects those are, so the next one is tried.
                let mut refused = Vec::new();
                for o in final_objects(&bundle) {
                    let req = json!({"kind": "object", "object": o, "reason_code": "moved_out", "reason": "迁出"})
                        .to_string()
                        .into_bytes();
                    let path = format!("/api/runs/{id}/replacements");
                    let answer = h.post_unanswered(&path, &t.li, Some(req));
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
                let r = run_state(h, id);
                assert_eq!(
                    (
                        r["state"].as_str(),
                        r["replacements"].as_array().unwrap().len()
                    ),
                    (Some("drawn"), 0)
                );
                let bundle: Value = serde_json::from_str(&public_bundle(h, id)).unwrap();
                let all = results_body(&final_objects(&bundle), "no_problem").into_bytes();
                std::fs::write(b.dir.path().join("results.json"), &all).unwrap();
                h.post_unanswered(&format!("/api/runs/{id}/results"), &t.li, Some(all))
            }),
        ),
        (
            "publish",
            Box::new(|h: &Http, t: &Tokens, _: &mut Daemon| {
                assert_eq!(run_state(h, id)["state"], "drawn");
                let all = std::fs::read(b.dir.path().join("results.json")).unwrap();
                h.post(200, &format!("/api/runs/{id}/results"), &t.li, Some(&all));
                h.post_unanswered(&format!("/api/runs/{id}/publish"), &t.li, None)
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
        assert_eq!(run_state(h, id)["state"], "results");
        Answer::default()
    });
    http.post(200, &format!("/api/runs/{id}/publish"), &t.li, None);
    let bundle = b.dir.path().join("final.json");
    std::fs::write(&bundle, public_bundle(&http, id)).unwrap();
    verify_cli(&bundle, None);
    let commits = commits_in_audit(&http, &t);
    assert_eq!(commits, 1, "one commitment for the run");
    audit_intact(&http, &t);
    drop(d);
}
