//! The database a test runs on: SQLite in a temporary folder (always) or a fresh database on
//! the PostgreSQL server DOUBLE_RANDOM_TEST_PG names; with the raw SQL someone with database
//! access could run. `backend_tests!` (in `support`) runs a test body on each.

use std::path::PathBuf;

use double_random::store::{self, SealingKey, Store};
use tempfile::TempDir;

/// A fresh, empty database of one backend, and a folder for files.
pub struct Backend {
    pub url: String,
    pub dir: TempDir,
}

impl Backend {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("data/test.db").display());
        Self { url, dir }
    }

    pub async fn postgres() -> Self {
        let admin = std::env::var("DOUBLE_RANDOM_TEST_PG").expect(
            "DOUBLE_RANDOM_TEST_PG must name a PostgreSQL server (postgres://user@host:port/db)",
        );
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let mut name = [0u8; 8];
        getrandom::fill(&mut name).unwrap();
        let name = format!("dr_test_{}", hex::encode(name));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        Self {
            url: format!("{base}/{name}"),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub async fn store(&self) -> Box<dyn Store> {
        store::open(&self.url, self.key()).await.unwrap()
    }

    /// Opening the database, which may be refused.
    pub async fn store_result(&self) -> Result<Box<dyn Store>, store::StoreError> {
        store::open(&self.url, self.key()).await
    }

    /// The key sealing this database's secrets: the one a daemon started on it uses.
    pub fn key(&self) -> SealingKey {
        SealingKey::for_database(&self.url, &key_file(&self.url)).unwrap()
    }

    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Runs raw SQL, as someone with database access (and not the program) would.
    pub async fn tamper(&self, sql: &str) {
        self.raw_sql(sql).await.unwrap();
    }

    /// Raw SQL that the database may refuse (a failed connection is no refusal: it panics).
    pub async fn raw_sql(&self, sql: &str) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        if self.is_sqlite() {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.map(|_| ())
        } else {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.map(|_| ())
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }
}

/// The key file of a test database: the default beside an SQLite file; for PostgreSQL, one per
/// database in the temporary folder (the default, `data/double-random.key`, would be shared).
pub fn key_file(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((_, name)) if !url.starts_with("sqlite:") => std::env::temp_dir()
            .join(format!("double-random-test-{name}.key"))
            .display()
            .to_string(),
        _ => String::new(),
    }
}
