//! The fuzz targets' bodies: one function per parser that takes outside input, calling the
//! real parser on arbitrary bytes and checking what must hold whatever the bytes (no panic,
//! round trips that give back what was read). The afl binaries in `fuzz/` and the replay test
//! (tests/integration/fuzz_corpus.rs) call these, so every kept input runs in CI too.
//! Compiled only with the `internals` feature; docs/fuzzing.md tells how to run them.

use std::io::Cursor;

use crate::core::beacon::{self, Announcement, BeaconRecord};
use crate::core::bundle::{self, EnterpriseProof, FullBundle, PublicBundle, Report};
use crate::core::checkpoint;
use crate::core::draw::ReplacementRequest;
use crate::core::policy::Policy;
use crate::core::rfc3797;
use crate::core::tlog::{self, ConsistencyProof, LogEntry};
use crate::library::calendar::{WorkCalendar, YearFile};
use crate::library::plan::{Task, TaskFile};
use crate::library::{Kind, Parser};
use crate::table;

/// Inputs longer than this are skipped: what a parser does with many bytes it does with few,
/// and long inputs only slow the search down.
const MAX_INPUT: usize = 256 * 1024;

/// Rows read from one table: enough to reach every per-row path.
const MAX_ROWS: usize = 10_000;

/// The signing key of the checkpoint target's notes (the seeds in fuzz/corpus/checkpoint are
/// signed with it, so mutations reach past the signature check).
pub const CHECKPOINT_KEY: [u8; 32] = [0x5a; 32];

/// A target: arbitrary bytes in, a panic if something that must hold does not.
pub type Target = fn(&[u8]);

/// The targets by name, as the fuzz binary's argument and the corpus folders call them.
pub const TARGETS: &[(&str, Target)] = &[
    ("csv_rows", csv_rows),
    ("xlsx_rows", xlsx_rows),
    ("draw_csv", draw_csv),
    ("policy_toml", policy_toml),
    ("task_toml", task_toml),
    ("bundle_full", bundle_full),
    ("bundle_public", bundle_public),
    ("proof", proof),
    ("checkpoint", checkpoint),
    ("beacon", beacon),
    ("http_bodies", http_bodies),
];

fn text(data: &[u8]) -> Option<&str> {
    (data.len() <= MAX_INPUT)
        .then(|| std::str::from_utf8(data).ok())
        .flatten()
}

/// Splits off the first byte, which chooses what a target does with the rest.
fn mode(data: &[u8]) -> Option<(u8, &[u8])> {
    let (&m, rest) = data.split_first()?;
    (rest.len() <= MAX_INPUT).then_some((m, rest))
}

/// A library import's rows (CSV) through every kind's parser.
pub fn csv_rows(data: &[u8]) {
    if data.len() <= MAX_INPUT {
        table_rows(data, "upload.csv");
    }
}

/// A library import's rows (`.xlsx`) through every kind's parser.
pub fn xlsx_rows(data: &[u8]) {
    if data.len() <= MAX_INPUT {
        table_rows(data, "upload.xlsx");
    }
}

/// What `import` does with a file: the table reader, then each kind whose header matches parses
/// every row; a parsed record's canonical JSON reads back as the same record.
fn table_rows(data: &[u8], name: &str) {
    let source: Box<dyn table::Source> = Box::new(Cursor::new(data.to_vec()));
    let Ok(t) = table::open(source, name) else {
        return;
    };
    let rows: Vec<table::Row> = t.rows.take(MAX_ROWS).filter_map(Result::ok).collect();
    let kinds = [
        Kind::Objects,
        Kind::Inspectors,
        Kind::Penalties,
        Kind::Inspections,
        Kind::Items,
    ];
    for kind in kinds {
        let Ok(parser) = Parser::new(kind, &t.headers) else {
            continue;
        };
        for row in &rows {
            assert_eq!(
                row.cells.iter().count(),
                t.headers.len(),
                "one cell per column"
            );
            if let Ok(record) = parser.parse(&row.cells) {
                let data = record.data();
                let back = crate::library::Record::from_data(kind, &data)
                    .unwrap_or_else(|e| panic!("{data}: {e}"));
                assert_eq!(back, record, "canonical JSON reads back");
                assert_eq!(back.data(), data, "canonical JSON is canonical");
            }
        }
    }
}

/// The draw command's objects and inspectors files (cli/input.rs), which read from a path:
/// the bytes are written to a file of this process first.
pub fn draw_csv(data: &[u8]) {
    use std::sync::OnceLock;
    static POLICY: OnceLock<Policy> = OnceLock::new();
    if data.len() > MAX_INPUT {
        return;
    }
    let policy = POLICY.get_or_init(|| {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        Policy::from_toml(&crate::cli::demo::policy_toml(date)).expect("the demo policy")
    });
    let path = std::env::temp_dir().join(format!("double-random-fuzz-{}.csv", std::process::id()));
    std::fs::write(&path, data).expect("temporary file");
    if let Ok(objects) =
        crate::cli::input::read_objects(&path, policy, std::path::Path::new("policy.toml"))
    {
        for o in &objects {
            assert!(!o.name.is_empty(), "an object has a name");
        }
    }
    let _ = crate::cli::input::read_inspectors(&path);
    let _ = std::fs::remove_file(&path);
}

/// policy.toml: a policy that validates writes back to TOML that reads as the same policy,
/// with the same hash.
pub fn policy_toml(data: &[u8]) {
    let Some(text) = text(data) else { return };
    match Policy::from_toml(text) {
        Ok(p) => {
            let written = toml::to_string(&p).expect("a policy serialises");
            let back = Policy::from_toml(&written)
                .unwrap_or_else(|e| panic!("written policy does not read back: {e}\n{written}"));
            assert_eq!(back, p, "policy round trip\n{written}");
            for protocol in crate::core::Protocol::ALL {
                assert_eq!(back.hash(protocol), p.hash(protocol));
            }
        }
        Err(crate::core::CoreError::BadPolicy { field, .. }) => {
            let _ = crate::library::fields::toml_field_line(text, &field);
        }
        Err(_) => {}
    }
}

/// A task file for plan "P" of 2026 (items named `I…` exist), then its schedule's first
/// fires; also a year's working-day calendar (`PUT /api/admin/calendars`).
pub fn task_toml(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(f) = toml::from_str::<TaskFile>(text) {
        let field_lines: Vec<String> = f.policy.keys().cloned().collect();
        for k in field_lines {
            let _ = crate::library::fields::toml_field_line(text, &format!("policy.{k}"));
        }
        if let Ok(task) = Task::from_file("P", 2026, f, &|c| c.starts_with('I')) {
            let tz = chrono_tz::Asia::Shanghai;
            if let Ok(fires) = task.fires(tz) {
                for fire in fires.take(3) {
                    assert!(
                        fire.date_naive() <= task.window_end,
                        "fires within the window"
                    );
                }
            }
            let now = chrono::DateTime::from_timestamp(1_780_000_000, 0).expect("time");
            let _ = task.current_fire(tz, now);
        }
    }
    if let Ok(year) = toml::from_str::<YearFile>(text) {
        let mut calendar = WorkCalendar::default();
        let days: Vec<_> = year
            .holidays
            .iter()
            .chain(&year.workdays)
            .copied()
            .collect();
        if calendar.add(year).is_ok() {
            for d in days {
                let _ = calendar.publication_deadline(d);
            }
        }
    }
}

/// Serialises `v`, reads it back and serialises again: the two texts are one.
fn json_round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    let first = serde_json::to_string(v).expect("serialises");
    let back: T = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("written JSON does not read back: {e}\n{first}"));
    assert_eq!(serde_json::to_string(&back).expect("serialises"), first);
    back
}

fn same_verdict(a: &Report, b: &Report) {
    assert_eq!(a.valid, b.valid, "verification is a function of the bundle");
    assert_eq!(a.mismatch, b.mismatch);
}

/// A full (auditor) bundle as `verify` reads it: parse, recompute, report.
pub fn bundle_full(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(b) = serde_json::from_str::<FullBundle>(text) {
        let report = bundle::verify_full(&b);
        same_verdict(&report, &bundle::verify_full(&json_round_trip(&b)));
    }
}

/// A public bundle: `verify`, and the watcher's check of a bundle against a log entry.
pub fn bundle_public(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(b) = serde_json::from_str::<PublicBundle>(text) {
        let report = bundle::verify_public(&b);
        same_verdict(&report, &bundle::verify_public(&json_round_trip(&b)));
        let entry = LogEntry {
            format: tlog::ENTRY_FORMAT.into(),
            event: "draw".into(),
            run: b.task_id.clone(),
            task: b.task_id.clone(),
            at: String::new(),
            commitment_hash: hex::encode(b.commitment_hash),
            result_digest: Some(hex::encode(b.result_digest)),
            replacements: 0,
            results_digest: None,
            auditor_key: None,
            signature: None,
        };
        assert_eq!(tlog::check_bundle(&entry, text).is_ok(), report.valid);
    }
}

/// An enterprise's proof, alone or with the public bundle after a NUL byte.
pub fn proof(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let (proof, public) = text.split_once('\0').unwrap_or((text, ""));
    let Ok(p) = serde_json::from_str::<EnterpriseProof>(proof) else {
        return;
    };
    let public = serde_json::from_str::<PublicBundle>(public).ok();
    let report = bundle::verify_proof(&p, public.as_ref());
    same_verdict(
        &report,
        &bundle::verify_proof(&json_round_trip(&p), public.as_ref()),
    );
}

/// What a watcher reads from a daemon: the first byte chooses a signed checkpoint (`n`), an
/// inclusion proof (`i`), the entries (`e`) or a consistency proof (`c`) after a signed
/// checkpoint and a NUL byte, or published results after their log entry and a NUL (`r`). Notes are checked against
/// [`CHECKPOINT_KEY`]'s public half.
pub fn checkpoint(data: &[u8]) {
    let Some((m, rest)) = mode(data) else { return };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let signer = ed25519_dalek::SigningKey::from_bytes(&CHECKPOINT_KEY);
    let key = signer.verifying_key().to_bytes();
    match m {
        b'n' => {
            if let Ok(c) = checkpoint::verify(text, &key) {
                // A checkpoint we read, signed again, verifies as itself (a note's key name
                // has no spaces, so neither has an origin that verified).
                assert_eq!(
                    checkpoint::verify(&checkpoint::sign(&c, &signer), &key),
                    Ok(c)
                );
            }
        }
        b'i' => {
            if let Ok(included) = tlog::verify_inclusion(text, &key) {
                assert!(included.index < included.checkpoint.size);
            }
        }
        b'e' | b'c' => {
            let (note, rest) = text.split_once('\0').unwrap_or((text, ""));
            let Ok(c) = checkpoint::verify(note, &key) else {
                return;
            };
            if m == b'e' {
                let _ = tlog::check_entries(rest, &c);
            } else if let Ok(p) = serde_json::from_str::<ConsistencyProof>(rest) {
                let _ = tlog::verify_consistency(&c, &c, &p);
            }
        }
        b'r' => {
            let (entry, results) = text.split_once('\0').unwrap_or((text, ""));
            if let Ok(entry) = serde_json::from_str::<LogEntry>(entry) {
                let _ = tlog::check_results(&entry, results);
            }
        }
        _ => {}
    }
}

/// drand: the first byte chooses a beacon record as a bundle carries it (`b`: chain info and
/// beacon, BLS-verified, its round announced and the announcement read back) or a
/// commitment's `entropy_source` (`s`) checked against the recorded beacons that follow a
/// NUL byte as a JSON list.
pub fn beacon(data: &[u8]) {
    let Some((m, rest)) = mode(data) else { return };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match m {
        b'b' => {
            let Ok(r) = serde_json::from_str::<BeaconRecord>(text) else {
                return;
            };
            let _ = r.chain.verify(&r.beacon);
            let a = Announcement::for_round(&r.chain, r.beacon.round);
            let t = r.chain.round_time(r.beacon.round);
            let _ = r.chain.first_round_from(t);
            if r.beacon.round > 0 {
                if let Some(Ok(back)) = Announcement::parse(&a.line()) {
                    assert_eq!(back, a, "an announcement reads back");
                }
            }
        }
        b's' => {
            let (source, records) = text.split_once('\0').unwrap_or((text, "[]"));
            let beacons: Vec<BeaconRecord> = serde_json::from_str(records).unwrap_or_default();
            let lines = source.split('\n').count();
            let entropy: Vec<Vec<u8>> = (0..lines).map(|i| vec![i as u8; 32]).collect();
            let _ = beacon::check(source, &entropy, &beacons);
            for line in source.split('\n') {
                if let Some(Ok(a)) = Announcement::parse(line) {
                    assert_eq!(a.line(), line, "one spelling per announcement");
                }
            }
        }
        _ => {}
    }
}

/// The daemon's JSON request bodies (and the calendar's TOML), by route; the first byte
/// chooses the route, the rest is the body as the handler's extractor reads it.
pub fn http_bodies(data: &[u8]) {
    use crate::server::routes::{accounts, plans, runs};
    let Some((m, body)) = mode(data) else { return };
    fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
        serde_json::from_slice(body).ok()
    }
    match m {
        b'p' => {
            let _ = parse::<plans::NewPlan>(body);
        }
        b't' => {
            let _ = parse::<runs::TriggerBody>(body);
        }
        b'e' => {
            // The witness values: parsed, put in canonical form, and used as RFC 3797's key.
            if let Some(e) = parse::<runs::EntropyBody>(body) {
                if let Ok(sources) = rfc3797::parse_seeds(&e.values) {
                    let key = rfc3797::key_string(&sources);
                    if let Ok(picked) = rfc3797::select(&key, 50, 5) {
                        assert_eq!(picked.len(), 5);
                    }
                }
            }
        }
        b'r' => {
            if let Some(r) = parse::<ReplacementRequest>(body) {
                json_round_trip(&r);
            }
        }
        b's' => {
            let _ = parse::<runs::ResultsBody>(body);
        }
        b'k' => {
            let _ = parse::<accounts::NewToken>(body);
        }
        b'a' => {
            let _ = parse::<accounts::NewAccount>(body);
        }
        b'w' => {
            let _ = parse::<accounts::NewPassword>(body);
        }
        b'l' => {
            let _ = parse::<accounts::TokenLife>(body);
        }
        _ => {}
    }
}
