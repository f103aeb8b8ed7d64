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
