//! The transparency log: each event of a run is a leaf, a watcher (`log verify`) checks a run
//! against it from files and from the URL, and no checkpoint is signed over a tampered log.

use serde_json::{Value, json};

use super::fixture::{DrawnRun, final_objects, public_key, results_body};
use super::harness::{Backend, cli};

/// `double-random log verify` with `args`: (passed, stdout).
fn log_verify(args: &[&str]) -> (bool, String) {
    let (ok, out, _) = cli(&[&["log", "verify"], args].concat());
    (ok, out)
}

/// Every commitment, draw, replacement and publication is a log leaf; a watcher checks a run's
/// bundle, its inclusion, consistency with a checkpoint saved earlier, and every entry, from
/// saved files and against the URL.
pub async fn the_log_records_each_event_and_a_watcher_verifies_it(b: &Backend) {
    let run = DrawnRun::committed(b, 300).await;
    let (dir, http, t, id) = (b.dir.path(), &run.http, &run.t, &run.id);
    let save = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let first = save("cp1.txt", http.get("/api/public/log/checkpoint", None).1);
    assert!(std::fs::read_to_string(&first).unwrap().contains("\n1\n"));
    run.draw();
    run.replace_one(&run.inspected(), "已关闭");
    let bundle_text = run.bundle_text();
    let inspected = final_objects(&serde_json::from_str(&bundle_text).unwrap());
    let all = results_body(&inspected, "no_problem");
    http.post(
        200,
        &format!("/api/runs/{id}/results"),
        &t.li,
        Some(all.as_bytes()),
    );
    http.post(200, &format!("/api/runs/{id}/publish"), &t.li, None);

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
    let key = public_key(http);
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
        &run.daemon.url,
        "--run",
        id,
        "--previous",
        &first,
    ]);
    assert!(ok && out.contains("6 checks passed"), "{out}");
    // Results changed after publication are not the logged ones.
    let altered = save(
        "altered-results.json",
        results_text.replace("no_problem", "obstructed"),
    );
    // The run's entry in the checkpoint, and one more file checked against it.
    let with_proof = |file: &[&str]| {
        let args = ["--key", &key, "--checkpoint", &now, "--proof", &proof];
        log_verify(&[&args, file].concat())
    };
    let (ok, out) = with_proof(&["--results", &altered]);
    assert!(!ok && out.contains("not the ones logged"), "{out}");
    // Another key, a bundle that is not the logged one, a second commitment hidden in the
    // entries: each fails.
    let other = "ab".repeat(32);
    assert!(!log_verify(&["--key", &other, "--checkpoint", &now]).0);
    let mut altered: Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    altered["task_id"] = json!("someone-else");
    let altered = save("altered.json", altered.to_string());
    let (ok, out) = with_proof(&["--bundle", &altered]);
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
pub async fn a_tampered_log_is_never_signed(b: &Backend) {
    // A pool whose sample allows the two object replacements below (v2 caps them at 5%).
    let run = DrawnRun::start(b, 1000).await;
    let http = &run.http;
    let good = http.get("/api/public/log/checkpoint", None).1;
    assert!(good.contains("\n2\n"), "{good}");
    let drawn = run.inspected();
    // Each case appends a leaf (a replacement), so the daemon has a new checkpoint to sign.
    let replace = |n: usize| {
        run.replace_one(&drawn[n..], "迁出");
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
