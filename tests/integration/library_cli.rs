//! The officer commands spawned as a process, on the embedded SQLite default.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::store::{INSPECTORS, ITEMS, OBJECTS, PENALTIES, TASK};

struct Office {
    dir: tempfile::TempDir,
}

impl Office {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, content: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p.to_str().unwrap().to_owned()
    }

    /// Runs in the office folder with no --db, so the default (./data/double-random.db) is used.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_double-random"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("DOUBLE_RANDOM_DB")
            .env_remove("DOUBLE_RANDOM_CONFIG")
            .env("DOUBLE_RANDOM_ACTOR", "测试科员")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        text(&o)
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_bad_import_lists_every_row_and_writes_nothing() {
    let office = Office::new();
    let bad = office.file(
        "objects.csv",
        "统一社会信用代码,企业名称,类型,所属区域,行业,登记状态\n\
         914403001922038216,甲,企业,鄂城区,食品,存续\n\
         914403001922038217,乙,企业,鄂城区,食品,存续\n\
         P-1,,产品,鄂城区,玩具,存续\n\
         P-2,丙,外星,鄂城区,玩具,休眠\n",
    );
    let o = office.run(&["import", "objects", &bad]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for expected in [
        "objects.csv: line 3, column id, value \"914403001922038217\": not a valid unified social credit code: check character is '7', expected '6'",
        "objects.csv: line 4, column name, value \"\": is empty",
        "objects.csv: line 5, column kind, value \"外星\": unknown kind",
        "objects.csv: line 5, column status, value \"休眠\": unknown status",
        "3 bad row(s) of 4; nothing imported",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(
        office.path("data/double-random.db").exists(),
        "the default database was created"
    );
    let out = office.path("out.csv");
    office.ok(&["export", "objects", "--out", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().lines().count(),
        1,
        "nothing landed"
    );

    let o = office.run(&["import", "objects", &bad, "--skip-invalid"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("imported 1 objects: 1 new, 0 changed, 0 unchanged, 3 rejected"),
        "{}",
        text(&o)
    );
    let rejects = std::fs::read_to_string(office.path("objects.csv.rejects.csv")).unwrap();
    assert_eq!(rejects.lines().count(), 4, "{rejects}");
}

#[test]
fn excel_files_import_and_export_like_csv() {
    let office = Office::new();
    let csv = office.file("objects.csv", OBJECTS);
    office.ok(&["import", "objects", &csv]);
    let xlsx = office.path("objects.xlsx");
    office.ok(&["export", "objects", "--out", xlsx.to_str().unwrap()]);
    let json = office.path("objects.json");
    office.ok(&["export", "objects", "--out", json.to_str().unwrap()]);
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 4);
    assert_eq!(exported[0]["id"], "91330100799655058B", "sorted by id");

    // Into a second database, from Excel: the same four records, and a re-import changes nothing.
    let other = format!("sqlite://{}", office.path("other.db").display());
    let out = office.ok(&["--db", &other, "import", "objects", xlsx.to_str().unwrap()]);
    assert!(out.contains("4 new"), "{out}");
    let out = office.ok(&["--db", &other, "import", "objects", xlsx.to_str().unwrap()]);
    assert!(out.contains("nothing changed"), "{out}");
    let back = office.path("back.csv");
    office.ok(&[
        "--db",
        &other,
        "export",
        "objects",
        "--out",
        back.to_str().unwrap(),
    ]);
    let first = office.path("first.csv");
    office.ok(&["export", "objects", "--out", first.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(back).unwrap(),
        std::fs::read_to_string(first).unwrap()
    );
}

fn secret_of_every_snapshot(db: &Path) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let rows: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT secret FROM documents WHERE kind = 'snapshot'")
                .fetch_all(&mut c)
                .await
                .unwrap();
        rows.into_iter().map(|(s,)| hex::encode(s)).collect()
    })
}

#[test]
fn the_year_from_libraries_to_a_verified_snapshot() {
    let office = Office::new();
    let mut seen = String::new();
    for (kind, name, content) in [
        ("objects", "objects.csv", OBJECTS),
        ("inspectors", "inspectors.csv", INSPECTORS),
        ("penalties", "penalties.csv", PENALTIES),
        ("items", "items.csv", ITEMS),
    ] {
        seen += &office.ok(&[
            "import",
            kind,
            &office.file(name, content),
            "--reason",
            "年初导入",
        ]);
    }
    seen += &office.ok(&[
        "plan",
        "create",
        "2027",
        "--year",
        "2027",
        "--name",
        "2027年度抽查计划",
    ]);
    seen += &office.ok(&[
        "task",
        "add",
        "--plan",
        "2027",
        &office.file("task.toml", TASK),
    ]);
    let o = office.run(&["snapshot", "--task", "T-2027-01"]);
    assert!(
        !o.status.success() && text(&o).contains("plan 2027 is draft"),
        "{}",
        text(&o)
    );
    seen += &office.ok(&["plan", "submit", "2027"]);
    // Four eyes: whoever wrote the plan cannot approve it, even with the approver role; the
    // approver is another account, recorded as such.
    let o = office.run(&["plan", "approve", "2027"]);
    assert!(
        !o.status.success() && text(&o).contains("is no account"),
        "{}",
        text(&o)
    );
    seen += &office.ok(&["account", "add", "测试科员", "--role", "approver"]);
    let o = office.run(&["plan", "approve", "2027"]);
    assert!(
        !o.status.success() && text(&o).contains("four eyes"),
        "{}",
        text(&o)
    );
    seen += &office.ok(&["account", "add", "科长", "--role", "approver"]);
    seen += &office.ok(&["--actor", "科长", "plan", "approve", "2027"]);
    let snap = office.ok(&[
        "snapshot",
        "--task",
        "T-2027-01",
        "--draw-date",
        "2027-03-05",
    ]);
    seen += &snap;
    assert!(
        snap.contains("4 objects in 10 strata, 1 excluded, 3 inspectors"),
        "{snap}"
    );
    let address = snap.split_whitespace().nth(1).unwrap().to_owned();
    seen += &office.ok(&["snapshot", "--verify", &address[..12]]);
    let show = office.ok(&["task", "show", "T-2027-01"]);
    seen += &show;
    let shown: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(shown["snapshots"][0]["address"], address.as_str());
    let plan = office.ok(&["plan", "show", "2027"]);
    seen += &plan;
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["plan"]["state"], "approved");
    assert_eq!(plan["plan"]["approved_by"], "科长");
    assert_eq!(plan["plan"]["authors"], serde_json::json!(["测试科员"]));
    let audit = office.ok(&["audit", "verify"]);
    seen += &audit;
    assert!(
        audit.starts_with("audit log intact: 11 entries, 4 imports"),
        "{audit}"
    );
    let log = office.ok(&["audit", "log"]);
    seen += &log;
    assert_eq!(log.lines().count(), 11);
    assert!(
        log.lines()
            .next()
            .unwrap()
            .contains("\"reason\":\"年初导入\""),
        "{log}"
    );

    // The salt key behind the snapshot's roots is never printed.
    let secrets = secret_of_every_snapshot(&office.path("data/double-random.db"));
    assert_eq!(secrets.len(), 1);
    assert!(!seen.contains(&secrets[0]), "a secret was printed");
}

#[test]
fn config_default_is_the_documented_file_and_env_chooses_the_database() {
    let office = Office::new();
    let printed = office.ok(&["config", "--default"]);
    let documented = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/double-random.toml"
    ))
    .unwrap();
    assert_eq!(printed, documented);

    let db = office.path("env/chosen.db");
    let o = Command::new(env!("CARGO_BIN_EXE_double-random"))
        .args(["import", "items", &office.file("items.csv", ITEMS)])
        .current_dir(office.dir.path())
        .env("DOUBLE_RANDOM_DB", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(db.exists());
    assert!(!office.path("data").exists(), "the default was not used");

    let o = office.run(&["--db", "mysql://localhost/x", "audit", "verify"]);
    assert!(
        text(&o).contains("database URL must start with sqlite: or postgres:"),
        "{}",
        text(&o)
    );
    let o = office.run(&[
        "--db",
        "postgres://officer:s3cret-pw@127.0.0.1:1/none",
        "audit",
        "verify",
    ]);
    assert!(!o.status.success());
    assert!(
        !text(&o).contains("s3cret-pw"),
        "the password leaked: {}",
        text(&o)
    );
}

#[test]
fn an_import_killed_midway_leaves_all_or_nothing() {
    let office = Office::new();
    let mut big = String::from("id,name,kind,region,industry,status\n");
    for i in 0..300_000 {
        big.push_str(&format!("P-{i:07},批次{i},product,鄂城区,玩具,active\n"));
    }
    let file = office.file("big.csv", &big);
    office.ok(&["import", "items", &office.file("items.csv", ITEMS)]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_double-random"))
        .args(["import", "objects", &file])
        .current_dir(office.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the database file shows the import writing (or give up waiting).
    let wal = office.path("data/double-random.db-wal");
    for _ in 0..200 {
        if std::fs::metadata(&wal)
            .map(|m| m.len() > 1 << 20)
            .unwrap_or(false)
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let audit = office.ok(&["audit", "verify"]);
    let out = office.path("after.csv");
    office.ok(&["export", "objects", "--out", out.to_str().unwrap()]);
    let rows = std::fs::read_to_string(&out).unwrap().lines().count() - 1;
    match rows {
        0 => assert!(audit.starts_with("audit log intact: 1 entries"), "{audit}"),
        300_000 => assert!(audit.starts_with("audit log intact: 2 entries"), "{audit}"),
        n => panic!("{n} objects after a killed import: neither all nor nothing"),
    }
    // And the import simply runs again.
    let again = office.ok(&["import", "objects", &file]);
    assert!(
        again.contains("300000 new") || again.contains("nothing changed"),
        "{again}"
    );
    assert!(
        office
            .ok(&["audit", "verify"])
            .starts_with("audit log intact")
    );
}

/// The probe's rows: a short row, an unterminated quote, a NUL byte and a field over its limit
/// are bad rows with line, column and reason; nothing lands, and no row became defaults.
#[test]
fn short_rows_open_quotes_and_control_characters_import_nothing() {
    let office = Office::new();
    let good = "91330100799655058B,鄂州丙电器有限公司,企业,华容区,电器,注销\n";
    let head = "统一社会信用代码,企业名称,类型,所属区域,行业,登记状态\n";
    office.ok(&[
        "import",
        "objects",
        &office.file("first.csv", &format!("{head}{good}")),
    ]);
    let config = office.file("limits.toml", "[import]\nmax_field_bytes = 100\n");
    for (name, row, expected) in [
        (
            "short.csv",
            "91420704A63ULP8009,short row\n".to_string(),
            "short.csv: line 3, column (row), value \"\": row has 2 fields, the header has 6"
                .to_string(),
        ),
        (
            "quote.csv",
            "91420704A63ULP8009,\"open quote,企业,鄂城区,食品,存续\n9144030071526726XG,乙,企业,鄂城区,食品,存续\n".to_string(),
            "quote.csv: line 3, column (row), value \"\": row has 2 fields, the header has 6"
                .to_string(),
        ),
        (
            "nul.csv",
            "9144030071526726XG,乙\0公司,企业,鄂城区,食品,存续\n".to_string(),
            "nul.csv: line 3, column 企业名称, value \"\": has a control character (U+0000) at character 2"
                .to_string(),
        ),
        (
            "long.csv",
            format!("9144030071526726XG,{},企业,鄂城区,食品,存续\n", "名".repeat(40)),
            "long.csv: line 3, column 企业名称, value \"\": longer than 100 bytes ([import] max_field_bytes)"
                .to_string(),
        ),
    ] {
        let file = office.file(name, &format!("{head}{good}{row}"));
        let o = office.run(&["--config", &config, "import", "objects", &file]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&expected), "{name}: missing {expected:?} in:\n{err}");
        assert!(err.contains("nothing imported"), "{err}");
    }
    // The deregistered object is still deregistered, with its region.
    let out = office.path("out.json");
    office.ok(&["export", "objects", "--out", out.to_str().unwrap()]);
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 1, "{exported}");
    assert_eq!(exported[0]["status"], "deregistered");
    assert_eq!(exported[0]["region"], "华容区");

    // A gigabyte field is not read through: the reader stops at the row's bound, fast.
    let huge = office.path("huge.csv");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&huge).unwrap());
        write!(f, "{head}9144030071526726XG,\"").unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            f.write_all(&block).unwrap();
        }
    }
    let o = office.run(&["import", "objects", huge.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("huge.csv: line 2: the row is longer than its 6 fields may be"),
        "{}",
        text(&o)
    );
    assert!(
        !text(&o).contains("SQLite") && !text(&o).contains("sqlite"),
        "{}",
        text(&o)
    );
}

/// The probe's .xlsx bomb from the command line: refused with the setting to change.
#[test]
fn an_xlsx_bomb_is_refused_by_import() {
    let office = Office::new();
    let bomb = office.path("bomb.xlsx");
    std::fs::write(&bomb, super::inputs::xlsx_bomb(1024, false)).unwrap();
    let o = office.run(&["import", "objects", bomb.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("bomb.xlsx: its parts declare") && text(&o).contains("max_xlsx_bytes"),
        "{}",
        text(&o)
    );
}

/// Plan ids and names have a length and a character set; a cron schedule firing more often
/// than `[draw] min_cron_interval_secs` is refused, naming the field.
#[test]
fn ids_names_and_cron_schedules_are_bounded() {
    let office = Office::new();
    for (id, expected) in [
        ("P/../x", "plan id: '/' is not allowed"),
        (
            &"p".repeat(100_000) as &str,
            "plan id: must be 1 to 64 characters (this one has 100000)",
        ),
    ] {
        let o = office.run(&["plan", "create", id, "--year", "2027", "--name", "计划"]);
        assert!(!o.status.success());
        assert!(text(&o).contains(expected), "{}", text(&o));
    }
    let o = office.run(&[
        "plan",
        "create",
        "2027",
        "--year",
        "2027",
        "--name",
        "a\u{202E}b",
    ]);
    assert!(
        text(&o).contains("plan name: has a control or bidi character (U+202E)"),
        "{}",
        text(&o)
    );
    office.ok(&["import", "items", &office.file("items.csv", ITEMS)]);
    office.ok(&["plan", "create", "2027", "--year", "2027", "--name", "计划"]);
    let every_second = TASK.replace("date = 2027-03-05", "cron = \"* * * * * *\"");
    assert_ne!(every_second, TASK);
    let file = office.file("task.toml", &every_second);
    let o = office.run(&["task", "add", "--plan", "2027", &file]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("field cron: fires 1s after its fire at")
            && text(&o).contains("more often than the minimum of 3600s"),
        "{}",
        text(&o)
    );
    let config = office.file("c.toml", "[draw]\nmin_cron_interval_secs = 1\n");
    office.ok(&["--config", &config, "task", "add", "--plan", "2027", &file]);
    let bad_id = TASK.replace("id = \"T-2027-01\"", "id = \"T/2027\"");
    let o = office.run(&[
        "task",
        "add",
        "--plan",
        "2027",
        &office.file("t2.toml", &bad_id),
    ]);
    assert!(
        text(&o).contains("field id: '/' is not allowed"),
        "{}",
        text(&o)
    );
}
