//! The storage contract, run against both backends: SQLite (always) and PostgreSQL (when
//! DOUBLE_RANDOM_TEST_PG names a server; `.ci/run` starts one). Without a server the
//! PostgreSQL copies are reported as ignored, never as passed.

use std::path::Path;

use chrono::NaiveDate;

use double_random::library::Kind;
use double_random::library::plan::PlanState;
use double_random::library::pool::TierSource;
use double_random::service::accounts::{self, Role};
use double_random::service::imports::{self, ImportOptions, ImportReport};
use double_random::service::{Actor, ServiceError, plans, snapshots, verify};
use double_random::store::Store;
use double_random::table::Format;

use crate::backend::Backend;

fn officer(reason: &str) -> Actor {
    Actor {
        name: "王科长".into(),
        reason: reason.into(),
    }
}

/// 刘局长, an account with the approver role (made on first use).
async fn approver(s: &dyn Store, reason: &str) -> Actor {
    let who = Actor {
        name: "刘局长".into(),
        reason: reason.into(),
    };
    if accounts::load(s, &who.name).await.is_err() {
        accounts::create(
            s,
            &who.name,
            Role::Approver,
            None,
            &officer(""),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }
    who
}

async fn import(s: &dyn Store, kind: Kind, file: &Path) -> ImportReport {
    let (f, name) = open(file);
    imports::import(
        s,
        kind,
        f,
        &name,
        ImportOptions::default(),
        &officer("年度更新"),
    )
    .await
    .unwrap()
}

/// A file to import and the name errors give it.
fn open(file: &Path) -> (std::fs::File, String) {
    (
        std::fs::File::open(file).unwrap(),
        file.display().to_string(),
    )
}

pub const OBJECTS: &str = "\
统一社会信用代码,企业名称,类型,所属区域,行业,登记状态,标签
914403001922038216,鄂州甲食品有限公司,企业,鄂城区,食品,存续,重点
9144030071526726XG,鄂州乙建材有限公司,企业,华容区,建材,存续,
91330100799655058B,鄂州丙电器有限公司,企业,华容区,电器,注销,
P-0001,儿童玩具批次,产品,鄂城区,玩具,,
";

pub const INSPECTORS: &str = "\
id,name,departments,region,specialties,certificate_no,certificate_expiry,active
ZF01,刘芳,市场监管局,鄂城区,食品,4207001,2029-01-01,yes
ZF02,陈明,市场监管局,华容区,,4207002,2029-01-01,yes
ZF03,张伟,市场监管局,鄂城区,,4207003,2029-01-01,yes
ZF04,李娜,市场监管局,华容区,,4207004,2020-01-01,no
";

pub const PENALTIES: &str = "\
object_id,kind,date,until,authority,document_no
914403001922038216,penalty,2026-03-01,,鄂州市市场监督管理局,鄂市监罚〔2026〕1号
914403001922038216,penalty,2026-05-01,,鄂州市市场监督管理局,鄂市监罚〔2026〕2号
9144030071526726XG,joint_punishment,2025-06-01,,鄂州市发展和改革委员会,鄂发改〔2025〕9号
";

pub const ITEMS: &str = "\
code,name,legal_basis,department,kinds,method,category,ratios,inspectors_per_object
SC-001,食品生产许可检查,《食品安全法》第一百一十条,市场监管局,enterprise,onsite,key,good=5%;focus=100%,2
";

pub const TASK: &str = r#"
id = "T-2027-01"
name = "2027年食品生产企业抽查"
items = ["SC-001"]
lead_department = "市场监管局"
window_start = 2027-03-01
window_end = 2027-04-30
date = 2027-03-05

[policy]
mode = "ratio"
[[policy.tiers]]
name = "good"
ratio = "50%"
[[policy.tiers]]
name = "notice"
ratio = "100%"
[[policy.tiers]]
name = "watch"
ratio = "100%"
[[policy.tiers]]
name = "warning"
ratio = "100%"
[[policy.tiers]]
name = "focus"
ratio = "100%"
[policy.inspectors]
per_object = 2
region_rule = "any"
"#;

/// Objects, inspectors, penalties and items, with an approved plan holding one task.
async fn populated(b: &Backend, s: &dyn Store) {
    for (kind, name, text) in [
        (Kind::Objects, "objects.csv", OBJECTS),
        (Kind::Inspectors, "inspectors.csv", INSPECTORS),
        (Kind::Penalties, "penalties.csv", PENALTIES),
        (Kind::Items, "items.csv", ITEMS),
    ] {
        let r = import(s, kind, &b.file(name, text)).await;
        assert!(r.committed && r.bad.is_empty(), "{name}: {:?}", r.bad);
    }
    plans::create(s, "2027", 2027, "2027年度抽查计划", &officer(""))
        .await
        .unwrap();
    plans::add_task(s, "2027", task_text("task.toml", TASK), false, &officer(""))
        .await
        .unwrap();
    plans::transition(s, "2027", PlanState::Submitted, &officer(""))
        .await
        .unwrap();
    plans::transition(s, "2027", PlanState::Approved, &approver(s, "").await)
        .await
        .unwrap();
}

/// A snapshot of the test task's pool as of audit time `as_of` (None: now).
async fn snapshot(
    s: &dyn Store,
    as_of: Option<&str>,
    date: Option<NaiveDate>,
    source: TierSource,
) -> Result<snapshots::SnapshotInfo, ServiceError> {
    snapshots::take(
        s,
        "T-2027-01",
        as_of,
        date,
        source,
        &officer(""),
        chrono::Utc::now(),
    )
    .await
}

/// The strata that hold objects: (tier, count).
fn filled_strata(snap: &snapshots::SnapshotInfo) -> Vec<(&str, u64)> {
    snap.roots
        .strata
        .iter()
        .filter(|h| h.count > 0)
        .map(|h| (h.tier.as_str(), h.count))
        .collect()
}

async fn export_text(s: &dyn Store, b: &Backend, kind: Kind, at: Option<i64>) -> String {
    let out = b.dir.path().join(format!("export-{}.csv", kind.as_str()));
    let mut f = std::fs::File::create(&out).unwrap();
    imports::export(s, kind, at, &mut f, "export.csv", Format::Csv)
        .await
        .unwrap();
    std::fs::read_to_string(out).unwrap()
}

pub async fn bad_rows_are_all_reported_and_nothing_lands(b: &Backend) {
    let s = b.store().await;
    let file = b.file(
        "bad.csv",
        "id,name,kind,region,industry,status\n\
         914403001922038216,甲,enterprise,鄂城区,食品,active\n\
         914403001922038217,乙,enterprise,鄂城区,食品,active\n\
         P-1,,product,鄂城区,玩具,active\n\
         P-2,丙,product,鄂城区,玩具,sleeping\n\
         914403001922038216,甲again,enterprise,鄂城区,食品,active\n",
    );
    let who = officer("");
    let (f, name) = open(&file);
    let r = imports::import(&*s, Kind::Objects, f, &name, ImportOptions::default(), &who)
        .await
        .unwrap();
    assert!(!r.committed);
    assert_eq!(r.seq, None);
    let found: Vec<(u64, &str, &str)> = r
        .bad
        .iter()
        .flat_map(|b| {
            b.errors
                .iter()
                .map(move |e| (b.line, e.column.as_str(), e.value.as_str()))
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (3, "id", "914403001922038217"),
            (4, "name", ""),
            (5, "status", "sleeping"),
            (6, "id", "914403001922038216"),
        ]
    );
    assert!(
        r.bad[0].errors[0].reason.contains("check character"),
        "{:?}",
        r.bad[0]
    );
    assert!(
        r.bad[3].errors[0].reason.contains("line 2"),
        "{:?}",
        r.bad[3]
    );
    assert_eq!(
        export_text(&*s, b, Kind::Objects, None)
            .await
            .lines()
            .count(),
        1,
        "only the header"
    );
    assert!(
        s.audit(1, 10).await.unwrap().is_empty(),
        "no audit entry for a failed import"
    );

    // --skip-invalid: the good row lands, the bad ones go to the reject file with their reasons.
    let mut rejects = Vec::new();
    let options = ImportOptions {
        skip_invalid: true,
        rejects: Some(&mut rejects),
        ..Default::default()
    };
    let (f, name) = open(&file);
    let r = imports::import(&*s, Kind::Objects, f, &name, options, &who)
        .await
        .unwrap();
    assert!(r.committed);
    assert_eq!((r.counts.inserted, r.rejected), (1, 4));
    let rejects = String::from_utf8(rejects).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 5, "{rejects}");
    assert!(lines[0].starts_with("line,errors,id,name"));
    assert!(
        lines[4].starts_with("6,") && lines[4].contains("甲again"),
        "{rejects}"
    );
}

pub async fn reimport_is_idempotent_and_a_change_is_a_new_version(b: &Backend) {
    let s = b.store().await;
    let first = import(&*s, Kind::Objects, &b.file("o.csv", OBJECTS)).await;
    assert_eq!((first.counts.inserted, first.seq), (4, Some(1)));
    let again = import(&*s, Kind::Objects, &b.file("o.csv", OBJECTS)).await;
    assert!(again.committed);
    assert_eq!(
        (again.counts.unchanged, again.seq),
        (4, None),
        "same file: no change, no entry"
    );
    let before = export_text(&*s, b, Kind::Objects, None).await;

    let changed = OBJECTS.replace(
        "鄂州乙建材有限公司,企业,华容区,建材,存续",
        "鄂州乙建材有限公司,企业,华容区,建材,吊销",
    );
    let r = import(&*s, Kind::Objects, &b.file("o2.csv", &changed)).await;
    assert_eq!(
        (r.counts.inserted, r.counts.updated, r.counts.unchanged),
        (0, 1, 3)
    );
    assert_eq!(r.seq, Some(2));
    let now = export_text(&*s, b, Kind::Objects, None).await;
    assert!(
        now.contains("9144030071526726XG,鄂州乙建材有限公司,enterprise,华容区,建材,revoked"),
        "{now}"
    );
    assert_eq!(
        export_text(&*s, b, Kind::Objects, Some(1)).await,
        before,
        "history as of entry 1"
    );

    // An export imports back unchanged, in every format that imports.
    for format in [Format::Csv, Format::Xlsx] {
        let out = b.dir.path().join(format!(
            "round.{}",
            if format == Format::Csv { "csv" } else { "xlsx" }
        ));
        let mut f = std::fs::File::create(&out).unwrap();
        imports::export(&*s, Kind::Objects, None, &mut f, "round", format)
            .await
            .unwrap();
        let r = import(&*s, Kind::Objects, &out).await;
        assert_eq!((r.counts.unchanged, r.seq), (4, None), "{format:?}");
    }
    let report = verify::verify(&*s).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!((report.entries, report.versions), (2, 5));
}

pub async fn audit_verify_finds_every_kind_of_tampering(b: &Backend) {
    let s = b.store().await;
    populated(b, &*s).await;
    let clean = verify::verify(&*s).await.unwrap();
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);

    // The database refuses edits and deletions of history.
    for sql in [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "UPDATE objects SET data = '{}' WHERE key = 'P-0001'",
        "DELETE FROM objects WHERE key = 'P-0001'",
    ] {
        assert!(b.raw_sql(sql).await.is_err(), "{sql} was allowed");
    }

    // Around the triggers, every edit is still found.
    let off = if b.is_sqlite() {
        "DROP TRIGGER objects_immutable; DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
    } else {
        "ALTER TABLE objects DISABLE TRIGGER USER; ALTER TABLE audit_log DISABLE TRIGGER USER;"
    };
    b.tamper(off).await;
    b.tamper("UPDATE objects SET data = replace(data, '鄂州甲', '鄂州丁') WHERE key = '914403001922038216'").await;
    let r = verify::verify(&*s).await.unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("entry 1 (objects import): the versions it created were edited")),
        "{:?}",
        r.problems
    );
    b.tamper("UPDATE objects SET data = replace(data, '鄂州丁', '鄂州甲') WHERE key = '914403001922038216'").await;
    assert!(
        verify::verify(&*s).await.unwrap().problems.is_empty(),
        "restored"
    );

    b.tamper("UPDATE audit_log SET reason = 'changed' WHERE seq = 2")
        .await;
    let r = verify::verify(&*s).await.unwrap();
    assert_eq!(
        r.problems,
        vec!["entry 2: its content does not match its hash (edited)".to_owned()]
    );
    b.tamper("UPDATE audit_log SET reason = '年度更新' WHERE seq = 2")
        .await;

    b.tamper(
        "UPDATE documents SET doc = replace(doc, '\"approved\"', '\"draft\"') WHERE kind = 'plan'",
    )
    .await;
    let r = verify::verify(&*s).await.unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.starts_with("plan 2027: differs from what entry")),
        "{:?}",
        r.problems
    );
    b.tamper(
        "UPDATE documents SET doc = replace(doc, '\"draft\"', '\"approved\"') WHERE kind = 'plan'",
    )
    .await;

    b.tamper("DELETE FROM audit_log WHERE seq = 3").await;
    let r = verify::verify(&*s).await.unwrap();
    assert!(
        r.problems.iter().any(|p| p == "entries 3 to 3 are missing"),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("penalties") && p.contains("written by no audited import")),
        "{:?}",
        r.problems
    );
}

/// A task file as the services take it: its text and the name errors give it.
fn task_text<'a>(name: &'a str, text: &'a str) -> plans::TaskText<'a> {
    plans::TaskText {
        name,
        text,
        min_cron_interval: chrono::Duration::hours(1),
    }
}

pub async fn plan_is_locked_once_approved_and_amendments_are_recorded(b: &Backend) {
    let s = b.store().await;
    populated(b, &*s).await;
    let second = TASK.replace("T-2027-01", "T-2027-02");
    let err = plans::add_task(
        &*s,
        "2027",
        task_text("t2.toml", &second),
        false,
        &officer(""),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("plan 2027 is approved"), "{err}");
    let err = plans::transition(&*s, "2027", PlanState::Approved, &officer(""))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot become approved"), "{err}");

    let err = plans::transition(&*s, "2027", PlanState::Approved, &approver(&*s, "").await)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot become approved"), "{err}");

    // Proposed by the officer, in force only once another account approves it.
    let a = plans::propose(
        &*s,
        "2027",
        task_text("t2.toml", &second),
        &officer("新增专项任务"),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        (a.number, a.task_id.as_str(), a.replaced.is_none()),
        (1, "T-2027-02", true)
    );
    assert_eq!(plans::show(&*s, "2027").await.unwrap().tasks.len(), 1);
    let err = plans::approve_amendment(&*s, "2027", 1, &officer(""), chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden(_)), "{err}");
    let boss = approver(&*s, "同意").await;
    plans::approve_amendment(&*s, "2027", 1, &boss, chrono::Utc::now())
        .await
        .unwrap();
    let moved = TASK.replace("date = 2027-03-05", "date = 2027-03-20");
    let a = plans::propose(
        &*s,
        "2027",
        task_text("t1.toml", &moved),
        &officer("避开旺季"),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(a.number, 2);
    assert!(a.replaced.is_some());
    plans::approve_amendment(&*s, "2027", 2, &boss, chrono::Utc::now())
        .await
        .unwrap();
    let view = plans::show(&*s, "2027").await.unwrap();
    assert_eq!(view.tasks.len(), 2);
    assert_eq!(
        view.amendments
            .iter()
            .map(|a| (
                a.proposed_by.as_str(),
                a.approver.as_deref(),
                a.reason.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![
            ("王科长", Some("刘局长"), "新增专项任务"),
            ("王科长", Some("刘局长"), "避开旺季")
        ]
    );
    let err = plans::propose(
        &*s,
        "2027",
        task_text("t1.toml", &moved),
        &officer(""),
        chrono::Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("needs a reason"), "{err}");

    // Task files are checked field by field, with the line.
    let bad = TASK.replace("ratio = \"50%\"", "ratio = \"150%\"");
    plans::create(&*s, "2028", 2027, "另一计划", &officer(""))
        .await
        .unwrap();
    let err = plans::add_task(
        &*s,
        "2028",
        task_text("bad.toml", &bad),
        false,
        &officer(""),
    )
    .await
    .unwrap_err();
    match err {
        ServiceError::Field { line, field, .. } => {
            assert_eq!((line, field.as_str()), (14, "policy.tiers[0].ratio"))
        }
        e => panic!("{e}"),
    }
    let unknown = TASK.replace("[\"SC-001\"]", "[\"SC-404\"]");
    let err = plans::add_task(
        &*s,
        "2028",
        task_text("bad.toml", &unknown),
        false,
        &officer(""),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("line 4, field items[0]"), "{err}");
    assert!(verify::verify(&*s).await.unwrap().problems.is_empty());
}

pub async fn snapshots_follow_credit_and_history(b: &Backend) {
    let s = b.store().await;
    populated(b, &*s).await;
    let date = Some("2026-12-01".parse().unwrap());
    let snap = snapshot(&*s, None, date, TierSource::Penalties)
        .await
        .unwrap();
    assert_eq!(
        (snap.objects, snap.inspectors),
        (4, 3),
        "the inactive inspector is left out"
    );
    let strata = filled_strata(&snap);
    // 甲: two penalties in the year → watch; 乙: on the joint-punishment list → focus;
    // 丙 is deregistered (excluded); the product has no record: good.
    assert_eq!(strata, vec![("good", 1), ("watch", 1), ("focus", 1)]);
    assert_eq!(snap.roots.excluded.count, 1);
    snapshots::verify(&*s, &snap.address).await.unwrap();

    // A year later the penalties have expired.
    let later = snapshot(
        &*s,
        None,
        Some("2027-06-01".parse().unwrap()),
        TierSource::Penalties,
    )
    .await
    .unwrap();
    let strata = filled_strata(&later);
    assert_eq!(strata, vec![("good", 2), ("focus", 1)]);

    // Change the library; a snapshot as of before the change rebuilds the old pool.
    let t0 = s.audit(snap.as_of_seq, 1).await.unwrap()[0].at.clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let more = format!("{OBJECTS}P-0002,第二批玩具,产品,鄂城区,玩具,,\n");
    import(&*s, Kind::Objects, &b.file("more.csv", &more)).await;
    let now = snapshot(&*s, None, date, TierSource::Penalties)
        .await
        .unwrap();
    assert_eq!(now.objects, 5);
    let past = snapshot(&*s, Some(&t0), date, TierSource::Penalties)
        .await
        .unwrap();
    assert_eq!((past.objects, past.as_of_seq), (4, snap.as_of_seq));
    assert_eq!(past.roots.ids, snap.roots.ids, "same pool, same id tree");
    // v2 inspector leaves are keyed by each snapshot's own salt key: same list, other root.
    assert_eq!(past.roots.inspectors.count, snap.roots.inspectors.count);
    snapshots::verify(&*s, &past.address).await.unwrap();

    // Tier from an imported class instead: objects without one are named.
    let err = snapshot(&*s, None, date, TierSource::Class)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no credit_class"), "{err}");

    // A snapshot whose stored roots were edited no longer verifies.
    b.tamper(if b.is_sqlite() {
        "DROP TRIGGER IF EXISTS documents_no_delete"
    } else {
        "SELECT 1"
    })
    .await;
    b.tamper(&format!(
        "UPDATE documents SET doc = replace(doc, '\"as_of_seq\":{}', '\"as_of_seq\":{}') WHERE id = '{}'",
        past.as_of_seq,
        1, // before the inspectors and penalties were imported
        past.address
    ))
    .await;
    let err = snapshots::verify(&*s, &past.address).await.unwrap_err();
    assert!(
        err.to_string().contains("does not match the library"),
        "{err}"
    );
}

/// More readers than the pool has connections, all at once: a read that held one connection
/// while waiting for a second froze the pool (probe: eight keep-alive `/healthz` clients).
pub async fn many_concurrent_reads_never_wait_on_each_other(b: &Backend) {
    let s = b.store().await;
    populated(b, &*s).await;
    let reads = (0..64).map(|_| async {
        let mut read = s.begin_read().await?;
        let at = read.head().await?;
        let mut n = 0;
        let mut batches = read.scan(Kind::Objects, at);
        while let Some(batch) = futures_util::TryStreamExt::try_next(&mut batches).await? {
            n += batch.split('\n').count();
        }
        // Hold the read a moment, as a slow client does, while the others start theirs.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok::<_, double_random::store::StoreError>(n)
    });
    // Without the fix every connection is held by a read waiting for a second one until the
    // pool gives up (30 s) with "pool timed out".
    let counts = futures_util::future::join_all(reads).await;
    for c in counts {
        assert_eq!(c.unwrap(), 4);
    }
}

pub async fn concurrent_imports_and_snapshots_never_mix(b: &Backend) {
    let s = b.store().await;
    populated(b, &*s).await;
    let mut big = String::from("id,name,kind,region,industry,status\n");
    for i in 0..20_000 {
        big.push_str(&format!("P-{i:06},批次{i},product,鄂城区,玩具,active\n"));
    }
    let f1 = b.file("big1.csv", &big);
    let f2 = b.file("big2.csv", &big.replace(",active", ",closed"));
    let date = Some("2026-12-01".parse().unwrap());
    let who = officer("");
    let ((s1, n1), (s2, n2)) = (open(&f1), open(&f2));
    let (r1, r2, snap) = tokio::join!(
        imports::import(&*s, Kind::Objects, s1, &n1, ImportOptions::default(), &who),
        imports::import(&*s, Kind::Objects, s2, &n2, ImportOptions::default(), &who),
        snapshots::take(
            &*s,
            "T-2027-01",
            None,
            date,
            TierSource::Penalties,
            &who,
            chrono::Utc::now()
        ),
    );
    let (r1, r2, snap) = (r1.unwrap(), r2.unwrap(), snap.unwrap());
    assert_ne!(r1.seq, r2.seq);
    // Whichever ran second changed all 20,000 records the other added.
    let mut counts = [
        (r1.counts.inserted, r1.counts.updated),
        (r2.counts.inserted, r2.counts.updated),
    ];
    counts.sort();
    assert_eq!(counts, [(0, 20_000), (20_000, 0)]);
    // The snapshot saw none, or all of one import: never part of one.
    assert!([4, 20_004].contains(&snap.objects), "{}", snap.objects);
    snapshots::verify(&*s, &snap.address).await.unwrap();
    let report = verify::verify(&*s).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Signed checkpoints are kept per size, and the first one that holds a given leaf is found
/// (what a v2 public bundle's `commitment_log` proves the commitment against).
pub async fn the_first_checkpoint_holding_a_leaf_is_found(b: &Backend) {
    use double_random::store::{AuditDraft, DocOp, SignedCheckpoint};
    let s = b.store().await;
    for i in 0..5 {
        let draft = AuditDraft {
            actor: "t".into(),
            action: "log".into(),
            subject: format!("leaf {i}"),
            reason: String::new(),
            detail: serde_json::json!({}),
        };
        let op = DocOp::Log {
            entry: format!("{{\"leaf\":{i}}}"),
        };
        s.write_docs(vec![op], draft).await.unwrap();
    }
    assert_eq!(s.checkpoint_covering(0).await.unwrap(), None);
    for size in [2u64, 5] {
        let c = SignedCheckpoint {
            size,
            root: [size as u8; 32],
            note: format!("note of {size}"),
        };
        s.add_checkpoint(&c).await.unwrap();
    }
    let first = |i: u64| {
        let s = &s;
        async move { s.checkpoint_covering(i).await.unwrap().map(|c| c.size) }
    };
    assert_eq!(first(0).await, Some(2));
    assert_eq!(first(1).await, Some(2));
    assert_eq!(first(2).await, Some(5));
    assert_eq!(first(4).await, Some(5));
    assert_eq!(first(5).await, None);
    s.close().await;
}

backend_tests!(
    the_first_checkpoint_holding_a_leaf_is_found,
    bad_rows_are_all_reported_and_nothing_lands,
    reimport_is_idempotent_and_a_change_is_a_new_version,
    audit_verify_finds_every_kind_of_tampering,
    plan_is_locked_once_approved_and_amendments_are_recorded,
    snapshots_follow_credit_and_history,
    concurrent_imports_and_snapshots_never_mix,
    many_concurrent_reads_never_wait_on_each_other,
);
