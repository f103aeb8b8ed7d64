//! Issue 11 items 4 and 6: an independent auditor checks the full bundle and signs an
//! attestation only if it verifies; the daemon accepts attestations from registered keys only,
//! logs and serves them; `verify` of the public bundle checks and lists them, and shows when
//! the commitment was logged.

use std::path::Path;

use serde_json::{Value, json};

use super::fixture::{DrawnRun, public_key};
use super::harness::{Backend, cli};

fn save(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// `double-random` with `args`: (passed, stdout + stderr).
fn run(args: &[&str]) -> (bool, String) {
    let (ok, out, err) = cli(args);
    (ok, out + &err)
}

/// A new auditor key file in `dir`: (file, public key hex).
fn auditor_key(dir: &Path, name: &str) -> (String, String) {
    let file = dir.join(name);
    let (ok, out) = run(&["auditor-key", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let public = out.trim().to_owned();
    let secret = std::fs::read_to_string(&file).unwrap();
    assert!(!out.contains(secret.trim()), "the private key was printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    (file.to_str().unwrap().to_owned(), public)
}

pub async fn attestations_are_signed_checked_logged_and_served(b: &Backend) {
    let run_ = DrawnRun::start(b, 300).await;
    let (http, t, id, dir) = (&run_.http, &run_.t, &run_.id, b.dir.path());
    let (key_file, key) = auditor_key(dir, "audit.key");
    let (stranger_file, _) = auditor_key(dir, "stranger.key");

    // The auditor fetches the full bundle. A tampered copy gets no attestation.
    let full_text = http
        .get(&format!("/api/runs/{id}/full-bundle"), Some(&t.auditor))
        .1;
    let full = save(dir, "full.json", &full_text);
    let mut tampered: Value = serde_json::from_str(&full_text).unwrap();
    tampered["result_digest"] = json!("00".repeat(32));
    let tampered = save(dir, "tampered.json", &tampered.to_string());
    let tampered_out = dir.join("tampered.attestation.json");
    let (ok, out) = run(&["verify", &tampered, "--attest", &key_file]);
    assert!(!ok && out.contains("no attestation signed"), "{out}");
    assert!(!tampered_out.exists(), "a tampered bundle was attested");

    let att = dir.join("att.json");
    let att = att.to_str().unwrap();
    let (ok, out) = run(&[
        "verify",
        &full,
        "--attest",
        &key_file,
        "--attestation-out",
        att,
    ]);
    assert!(
        ok && out.contains("attestation signed by auditor key"),
        "{out}"
    );
    let (ok, _) = run(&[
        "verify",
        &full,
        "--attest",
        &stranger_file,
        "--attestation-out",
        &format!("{att}.stranger"),
    ]);
    assert!(ok);
    let attestation = std::fs::read(att).unwrap();
    let stranger = std::fs::read(format!("{att}.stranger")).unwrap();

    // The daemon accepts none before the admin registers the key, and never a stranger's.
    let path = format!("/api/public/runs/{id}/attestations");
    let (status, text) = http.call("POST", &path, None, Some(&attestation));
    assert_eq!(status, 403, "{text}");
    let reg = json!({"name": "区审计局", "key": key}).to_string();
    http.post(403, "/api/auditors", &t.li, Some(reg.as_bytes()));
    http.post(201, "/api/auditors", &t.admin, Some(reg.as_bytes()));
    http.post(409, "/api/auditors", &t.admin, Some(reg.as_bytes()));
    let (status, text) = http.call("POST", &path, None, Some(&stranger));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("not a registered auditor"), "{text}");
    let (status, text) = http.call("POST", &path, None, Some(&attestation));
    assert_eq!(status, 201, "{text}");
    let (status, _) = http.call("POST", &path, None, Some(&attestation));
    assert_eq!(status, 200);
    // An edited claim (another result) does not verify.
    let mut edited: Value = serde_json::from_slice(&attestation).unwrap();
    edited["result_digest"] = json!("00".repeat(32));
    let (status, text) = http.call("POST", &path, None, Some(edited.to_string().as_bytes()));
    assert_eq!(status, 422, "{text}");

    let served = http.expect(200, "GET", &path, None, None);
    assert_eq!(
        served["attestations"].as_array().unwrap().len(),
        1,
        "{served}"
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
    assert_eq!(events, ["commit", "draw", "attestation"]);
    let entries_file = save(dir, "entries.json", &entries.to_string());
    let checkpoint = save(
        dir,
        "cp.json",
        &http.get("/api/public/log/checkpoint", None).1,
    );
    let pk = public_key(http);
    let (ok, out) = run(&[
        "log",
        "verify",
        "--key",
        &pk,
        "--checkpoint",
        &checkpoint,
        "--entries",
        &entries_file,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = run(&[
        "log",
        "verify",
        "--key",
        &pk,
        "--url",
        &run_.daemon.url,
        "--run",
        id,
    ]);
    assert!(ok, "{out}");
    // A log whose attestation entry was forged (another key's name on it) fails `log verify`.
    let mut forged: Vec<Value> = serde_json::from_value(entries).unwrap();
    let mut entry: Value = serde_json::from_str(forged[2]["entry"].as_str().unwrap()).unwrap();
    entry["auditor_key"] =
        json!(serde_json::from_slice::<Value>(&stranger).unwrap()["auditor_key"]);
    forged[2]["entry"] = json!(entry.to_string());
    let forged = save(
        dir,
        "forged-entries.json",
        &serde_json::to_string(&forged).unwrap(),
    );
    let (ok, out) = run(&[
        "log",
        "verify",
        "--key",
        &pk,
        "--checkpoint",
        &checkpoint,
        "--entries",
        &forged,
    ]);
    assert!(!ok && out.contains("attestation does not verify"), "{out}");

    // The public bundle: with the served attestations and registry, listed; a stranger's
    // attestation is reported as unregistered; without any, said plainly.
    let bundle = save(dir, "public.json", &run_.bundle_text());
    let url = &run_.daemon.url;
    let (ok, out) = run(&[
        "verify",
        &bundle,
        "--attestations",
        &format!("{url}{path}"),
        "--auditors",
        &format!("{url}/api/public/auditors"),
    ]);
    assert!(
        ok && out.contains("attestation by registered auditor \"区审计局\""),
        "{out}"
    );
    let registry = save(
        dir,
        "auditors.json",
        &http.get("/api/public/auditors", None).1,
    );
    let (ok, out) = run(&[
        "verify",
        &bundle,
        "--attestations",
        &format!("{att}.stranger"),
        "--auditors",
        &registry,
    ]);
    assert!(!ok && out.contains("is not a registered auditor"), "{out}");
    let (ok, out) = run(&["verify", &bundle]);
    assert!(
        ok && out.contains(
            "no auditor attestation: nobody independent has checked that the drawn objects are \
             the smallest tickets and that tiers and exclusions are right"
        ),
        "{out}"
    );

    // Item 6: the bundle shows when its commitment was logged; the key pins the checkpoint.
    let (ok, out) = run(&["verify", &bundle, "--key", &pk]);
    assert!(
        ok && out.contains("committed at ")
            && out.contains("entropy published at not stated (witness values carry no time)"),
        "{out}"
    );
    let (ok, out) = run(&["verify", &bundle, "--key", &"ab".repeat(32)]);
    assert!(!ok && out.contains("commitment_log.checkpoint"), "{out}");

    // The independent verifier, written from the spec alone, agrees on both.
    let python = |args: &[&str]| {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/independent/verify_public.py"
        );
        let out = std::process::Command::new("python3")
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let served = save(dir, "served.json", &http.get(&path, None).1);
    let (ok, out) = python(&[
        &bundle,
        "--key",
        &pk,
        "--attestations",
        &served,
        "--auditors",
        &registry,
    ]);
    assert!(
        ok && out.contains("committed at ") && out.contains(&format!("attestation by key {key}")),
        "{out}"
    );
    let stranger_file = format!("{att}.stranger");
    let (ok, out) = python(&[
        &bundle,
        "--attestations",
        &stranger_file,
        "--auditors",
        &registry,
    ]);
    assert!(!ok && out.contains("auditor_key"), "{out}");

    // Revoked: no further attestation by the key.
    http.post(200, &format!("/api/auditors/{key}/revoke"), &t.admin, None);
    let (status, text) = http.call("POST", &path, None, Some(&attestation));
    assert_eq!(status, 403, "{text}");
    let registry = save(
        dir,
        "auditors2.json",
        &http.get("/api/public/auditors", None).1,
    );
    let (ok, out) = run(&[
        "verify",
        &bundle,
        "--attestations",
        att,
        "--auditors",
        &registry,
    ]);
    assert!(!ok && out.contains("is not a registered auditor"), "{out}");
}
