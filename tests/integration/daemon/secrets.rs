//! Secrets at rest: what a local user, a copied database file or a dump holds.

use serde_json::Value;

use super::fixture::DrawnRun;
use super::harness::{Backend, Daemon};

/// Every `secret` column as stored, read by someone with database access.
async fn raw_secrets(b: &Backend) -> Vec<(String, String, Vec<u8>)> {
    use sqlx::Connection;
    let sql = "SELECT kind, id, secret FROM documents WHERE secret IS NOT NULL";
    if b.is_sqlite() {
        let mut c = sqlx::SqliteConnection::connect(&b.url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(&b.url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
    }
}

/// The probe read a run's secret from the database between its commitment and its entropy;
/// then anyone who knows it computes the draw for every entropy value before it is public.
pub async fn a_copy_of_the_database_holds_no_secret(b: &Backend) {
    let run = DrawnRun::committed(b, 200).await;
    let before = raw_secrets(b).await;
    let kinds: Vec<&str> = before.iter().map(|(k, _, _)| k.as_str()).collect();
    for kind in ["key", "snapshot", "run"] {
        assert!(kinds.contains(&kind), "no {kind} secret stored: {kinds:?}");
    }
    let file = b.is_sqlite().then(|| {
        let path = b.url.trim_start_matches("sqlite://");
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        bytes
    });
    run.draw();
    let bundle: Value = serde_json::from_str(&run.bundle_text()).unwrap();
    let revealed = hex::decode(bundle["secret"].as_str().unwrap()).unwrap();
    assert_eq!(revealed.len(), 32);
    for (kind, id, stored) in &before {
        assert!(
            !stored.windows(revealed.len()).any(|w| w == revealed),
            "the {kind} {id} column holds the draw secret in clear"
        );
    }
    if let Some(bytes) = file {
        assert!(
            !bytes.windows(revealed.len()).any(|w| w == revealed),
            "the database file holds the draw secret in clear"
        );
    }
    // A sealed value moved onto another row does not open: the daemon refuses it.
    run.daemon.terminate();
    let (snapshot, run_row) = (
        before.iter().find(|r| r.0 == "snapshot").unwrap(),
        before.iter().find(|r| r.0 == "run").unwrap(),
    );
    b.tamper(&format!(
        "UPDATE documents SET secret = {} WHERE kind = 'run' AND id = '{}'",
        literal(b, &snapshot.2),
        run_row.1
    ))
    .await;
    let e = match b.store_result().await {
        Ok(_) => panic!("a moved secret opened"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("does not open with this sealing key"), "{e}");
}

fn literal(b: &Backend, bytes: &[u8]) -> String {
    if b.is_sqlite() {
        format!("X'{}'", hex::encode(bytes))
    } else {
        format!("'\\x{}'::bytea", hex::encode(bytes))
    }
}

/// The data folder and the database files are the daemon user's alone; a database file
/// others can read is refused with a message saying what to do.
#[cfg(unix)]
pub fn the_database_files_are_private_and_a_readable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/office.db");
    let url = format!("sqlite://{}", db.display());
    let daemon = Daemon::start(&url, None, &[]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(db.parent().unwrap()), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&dir.path().join("data/office.db-wal")), 0o600);
    assert_eq!(mode(&dir.path().join("data/office.db.key")), 0o600);
    daemon.terminate();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, err) = super::harness::cli(&["serve", "--listen", "127.0.0.1:0", "--db", &url]);
    assert!(!ok);
    assert!(
        err.contains("mode 0644") && err.contains("chmod 600"),
        "{err}"
    );
}

/// Issue 11 item 5: the audit entry of a witness's entry holds the hash of the run document
/// as written, values included. With the draw secret's SHA-256 public (the commitment's
/// `secret_hash`) and the run as any auditor reads it, the document hash was a guessing
/// oracle: an auditor (or the second witness) tried every value string and found the first
/// witness's hidden values before entering theirs. The attack runs here and must find nothing.
pub async fn the_audit_log_is_no_oracle_for_hidden_witness_values(b: &Backend) {
    use sha2::{Digest, Sha256};

    const HIDDEN: &str = "\"values\":\"(hidden until every witness has entered)\"";
    let run = DrawnRun::committed(b, 200).await;
    let (http, t, id) = (&run.http, &run.t, &run.id);
    let body = serde_json::json!({"values": "9 8 7"}).to_string();
    http.post(
        200,
        &format!("/api/runs/{id}/entropy"),
        &t.li,
        Some(body.as_bytes()),
    );
    // The reader: an auditor, with the run as served and the audit log.
    let (status, view) = http.get(&format!("/api/runs/{id}"), Some(&t.auditor));
    assert_eq!(status, 200, "{view}");
    assert!(view.contains(HIDDEN), "{view}");
    let secret_hash = hex::decode(
        serde_json::from_str::<Value>(&view).unwrap()["commitment"]["secret_hash"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let audit: Value = http.expect(
        200,
        "GET",
        "/api/audit?from=1&limit=1000",
        Some(&t.auditor),
        None,
    );
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"] == "entropy" && e["subject"] == id.as_str())
        .expect("the witness entry's audit entry");
    let detail: Value = serde_json::from_str(entry["detail"].as_str().unwrap()).unwrap();
    let recorded = detail["documents"][0]["hash"].as_str().unwrap().to_owned();
    // The run document with one guess in place of the hidden values, hashed as the audit log
    // hashes a document (storage.md): SHA-256("double-random/v1 document" ‖ u64 length ‖
    // document ‖ SHA-256(secret column)), with the public secret hash as the last part.
    let hash = |doc: &str, column_hash: &[u8]| {
        let mut h = Sha256::new_with_prefix(b"double-random/v1 document");
        h.update((doc.len() as u64).to_be_bytes());
        h.update(doc.as_bytes());
        h.update(column_hash);
        hex::encode(h.finalize())
    };
    let mut guesses = std::collections::BTreeSet::new();
    for n in 0..1000u32 {
        // Three digits as a witness types them (v2 keeps them as typed, in canonical text).
        guesses.insert(format!("{} {} {}", n / 100, n / 10 % 10, n % 10));
    }
    let found = guesses.iter().find(|g| {
        let doc = view.replace(HIDDEN, &format!("\"values\":{}", serde_json::json!(g)));
        hash(&doc, &secret_hash) == recorded
    });
    assert_eq!(
        found,
        None,
        "{} guesses recovered the first witness's hidden values",
        guesses.len()
    );
    // The guessing is right apart from the key: once the draw reveals the secret and the
    // run's audit key (the rest of the secret column), the same guesses find the values, so
    // `None` above is the key's doing, and every reader can then check the witness entries.
    run.draw();
    let drawn: Value = http.expect(
        200,
        "GET",
        &format!("/api/runs/{id}"),
        Some(&t.auditor),
        None,
    );
    let mut column = hex::decode(drawn["secret"].as_str().unwrap()).unwrap();
    column.extend(
        hex::decode(
            drawn["audit_key"]
                .as_str()
                .expect("the audit key, revealed"),
        )
        .unwrap(),
    );
    let column_hash = Sha256::digest(&column);
    let found = guesses.iter().find(|g| {
        let doc = view.replace(HIDDEN, &format!("\"values\":{}", serde_json::json!(g)));
        hash(&doc, &column_hash) == recorded
    });
    assert_eq!(
        found.map(String::as_str),
        Some(drawn["witness_entries"][0]["values"].as_str().unwrap())
    );
    super::fixture::audit_intact(http, t);
}
