//! What the public and an enterprise learn about an enterprise. Credit codes are printed on
//! every business licence, so the public check answers only what the published list says
//! (drawn or not, team, replacements); the proof, with the stratum, needs the enterprise's
//! access code, which the office exports for its liaison channel; guessing is rate-limited.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::fixture::{DrawnRun, audit_intact, public_bundle};
use super::harness::{BIN, Backend, verify_cli};

/// A valid unified social credit code that no library holds.
const STRANGER: &str = "91420700MA4KXXXX1X";

/// The credit codes of the demo library (the pool the run drew from), and one more.
fn codes_typed(b: &Backend) -> Vec<String> {
    let objects = library(b).join("objects.csv");
    let mut codes: Vec<String> = std::fs::read_to_string(objects)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    codes.push(STRANGER.into());
    codes
}

fn library(b: &Backend) -> PathBuf {
    b.dir.path().join("demo/library")
}

/// The keys and values that place an enterprise in the pool: its stratum, tier, cooled
/// label, leaf, ticket, exclusion or absence.
fn revealing(v: &Value, found: &mut Vec<String>) {
    const KEYS: [&str; 8] = [
        "stratum",
        "tier",
        "cooled",
        "membership",
        "absence",
        "ticket",
        "private_digest",
        "leaf_index",
    ];
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if KEYS.contains(&k.as_str()) {
                    found.push(k.clone());
                }
                revealing(v, found);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| revealing(v, found)),
        Value::String(s) if s == "excluded" || s == "not_in_pool" => found.push(s.clone()),
        _ => {}
    }
}

/// The probe: type every credit code of the pool into the public check and count the answers
/// that tell a tier, a cooled label, an exclusion or absence. On v1 every one did.
pub async fn the_public_check_tells_no_tier_cooldown_or_exclusion(b: &Backend) {
    let run = DrawnRun::start(b, 50).await;
    let bundle: Value = serde_json::from_str(&run.bundle_text()).unwrap();
    let drawn: BTreeSet<String> = bundle["result"]["final_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["object"].as_str().unwrap().to_owned())
        .collect();
    let codes = codes_typed(b);
    let mut told = Vec::new();
    let mut answers = Vec::new();
    for code in &codes {
        let path = format!("/api/public/runs/{}/check/{code}", run.id);
        let (status, text) = run.http.get(&path, None);
        assert_eq!(status, 200, "{path}: {text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        let mut found = Vec::new();
        revealing(&answer, &mut found);
        if !found.is_empty() {
            told.push(format!("{code}: {found:?}"));
        }
        answers.push((code, text, answer));
    }
    assert!(
        told.is_empty(),
        "{} of {} public answers place the enterprise in the pool: {told:#?}",
        told.len(),
        codes.len()
    );
    let mut not_drawn = BTreeSet::new();
    for (code, text, answer) in &answers {
        if drawn.contains(*code) {
            let team = bundle["result"]["final_assignments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["object"] == code.as_str())
                .unwrap()["inspectors"]
                .clone();
            assert_eq!(answer["status"], "drawn", "{text}");
            assert_eq!(answer["inspectors"], team, "{text}");
        } else {
            assert_eq!(answer["status"], "not_drawn", "{text}");
            not_drawn.insert(text.replace(code.as_str(), "CODE"));
        }
    }
    // In the pool or not, excluded or not, tier whatever: one answer for every non-drawn code.
    assert_eq!(not_drawn.len(), 1, "{not_drawn:#?}");

    // The per-enterprise page: every run with a published list, the same answer.
    let code = drawn.iter().next().unwrap();
    let page = run.http.expect(
        200,
        "GET",
        &format!("/api/public/enterprises/{code}"),
        None,
        None,
    );
    assert_eq!(page["runs"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["runs"][0]["run"], run.id.as_str(), "{page}");
    assert_eq!(page["runs"][0]["status"], "drawn", "{page}");
    let mut found = Vec::new();
    revealing(&page, &mut found);
    assert!(found.is_empty(), "{page}");
}

/// The access codes as the office exports them: (credit code, access code) per CSV row.
fn exported(csv: &str) -> Vec<(String, String)> {
    let text = csv.strip_prefix('\u{feff}').expect("a UTF-8 BOM for Excel");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(head.first(), Some(&"统一社会信用代码"), "{head:?}");
    assert_eq!(head.last(), Some(&"访问码"), "{head:?}");
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_owned(), cells.last().unwrap().to_string())
        })
        .collect()
}

/// The CLI on the daemon's database, as `--actor 联络科`: (succeeded, output).
fn cli_on(db: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["--db", db, "--actor", "联络科"])
        .args(args)
        .env_remove("DOUBLE_RANDOM_CONFIG")
        .env("DOUBLE_RANDOM_KEY_FILE", crate::backend::key_file(db))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn config(b: &Backend, text: &str) -> String {
    let path = b.dir.path().join("access.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The office exports the codes (route and CLI, the same codes); an enterprise gets its full
/// proof, stratum and all, with its own code only; no code reaches the log.
pub async fn an_enterprise_gets_its_proof_only_with_its_access_code(b: &Backend) {
    let run = DrawnRun::start(b, 50).await;
    let (http, t) = (&run.http, &run.t);
    http.expect(401, "GET", "/api/access-codes", None, None);
    http.expect(403, "GET", "/api/access-codes", Some(&t.auditor), None);
    let (status, csv) = http.get("/api/access-codes", Some(&t.li));
    assert_eq!(status, 200, "{csv}");
    let codes = exported(&csv);
    assert_eq!(
        codes.len(),
        codes_typed(b).len() - 1,
        "one per library object"
    );
    let distinct: BTreeSet<&String> = codes.iter().map(|(_, c)| c).collect();
    assert_eq!(distinct.len(), codes.len(), "every enterprise its own code");
    for (_, c) in &codes {
        // 20 symbols of 32 (100 bits), in groups of four.
        let symbols: String = c.chars().filter(|c| *c != '-').collect();
        assert_eq!(symbols.len(), 20, "{c}");
        assert!(
            symbols
                .chars()
                .all(|s| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(s)),
            "{c}"
        );
        assert_eq!(c.split('-').count(), 5, "{c}");
    }
    let audit = http.expect(
        200,
        "GET",
        "/api/audit?from=1&limit=1000",
        Some(&t.auditor),
        None,
    );
    let exports: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "access_codes_export")
        .collect();
    assert_eq!(exports.len(), 1, "{audit}");
    assert_eq!(exports[0]["actor"], "li");

    let drawn = run.inspected();
    let (code, access) = codes.iter().find(|(c, _)| !drawn.contains(c)).unwrap();
    let (_, someone_else) = codes.iter().find(|(c, _)| c != code).unwrap();
    let path = format!("/api/public/runs/{}/proof/{code}", run.id);
    let ask = |access: Option<&str>| {
        let headers: Vec<(&str, &str)> = access.map(|a| ("X-Access-Code", a)).into_iter().collect();
        http.call_with("GET", &path, None, &headers, None)
    };
    let (status, _, text) = ask(None);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("X-Access-Code"), "{text}");
    let (status, _, text) = ask(Some(someone_else));
    assert_eq!(status, 403, "another enterprise's code: {text}");
    let (status, _, text) = ask(Some("0000-0000-0000-0000-0000"));
    assert_eq!(status, 403, "{text}");
    // Typed in lower case without its dashes, and with O for 0 and I for 1: still the code.
    let typed = access
        .replace('-', "")
        .to_lowercase()
        .replace('0', "o")
        .replace('1', "i");
    let (status, _, text) = ask(Some(&typed));
    assert_eq!(status, 200, "{text}");
    let own: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(own["proof"]["object_id"], code.as_str());
    assert!(
        own["proof"]["stratum"].is_object() || own["proof"]["membership"].is_object(),
        "the enterprise's own proof places it: {own}"
    );
    let dir = b.dir.path();
    let (proof_file, public_file) = (dir.join("own-proof.json"), dir.join("public.json"));
    std::fs::write(&proof_file, own["proof"].to_string()).unwrap();
    std::fs::write(&public_file, public_bundle(http, &run.id)).unwrap();
    verify_cli(&proof_file, Some(&public_file));

    // The CLI exports the same codes, with the library's liaison and address columns, into a
    // file only its owner reads.
    let objects = library(b).join("objects.csv");
    let with_liaison: String = std::fs::read_to_string(&objects)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(n, l)| match n {
            0 => format!("{l},联络员,地址\n"),
            _ => format!("{l},张{n},鄂州市{n}号\n"),
        })
        .collect();
    let updated = dir.join("objects-liaison.csv");
    std::fs::write(&updated, with_liaison).unwrap();
    let (ok, text) = cli_on(&b.url, &["import", "objects", updated.to_str().unwrap()]);
    assert!(ok, "{text}");
    let out = dir.join("mail/codes.csv");
    let (ok, text) = cli_on(
        &b.url,
        &["access-codes", "export", "--out", out.to_str().unwrap()],
    );
    assert!(ok, "{text}");
    assert!(
        !text.contains(access.as_str()),
        "codes go to the file only: {text}"
    );
    let file = std::fs::read_to_string(&out).unwrap();
    assert_eq!(exported(&file), codes, "the same code for each enterprise");
    let head = file.lines().next().unwrap();
    assert_eq!(head, "\u{feff}统一社会信用代码,名称,联络员,地址,访问码");
    assert!(file.contains(",张1,鄂州市1号,"), "{file}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let left: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left");
    let audit = http.expect(
        200,
        "GET",
        "/api/audit?from=1&limit=1000",
        Some(&t.auditor),
        None,
    );
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "access_codes_export" && e["actor"] == "联络科"),
        "{audit}"
    );
    audit_intact(http, t);

    let log = run.daemon.log();
    for (_, c) in &codes {
        assert!(!log.contains(c.as_str()), "access code {c} in the log");
        assert!(
            !log.contains(&c.replace('-', "")),
            "access code {c} in the log"
        );
    }
}

/// A guessing run: wrong codes for one enterprise from many addresses, and for many
/// enterprises from one address, are stopped with 429 and a Retry-After; so are lookups.
pub async fn a_guessing_run_is_stopped(b: &Backend) {
    let file = config(
        b,
        "[access]\nclient_address = \"forwarded_for\"\nlookups_per_minute = 30\n\
         failures_per_hour = 4\nfailures_per_hour_per_code = 3\n",
    );
    let run = DrawnRun::start_with(b, 50, &["--config", &file]).await;
    let http = &run.http;
    let codes = exported(&http.get("/api/access-codes", Some(&run.t.li)).1);
    let drawn = run.inspected();
    let mut not_drawn = codes.iter().filter(|(c, _)| !drawn.contains(c));
    let proof = |code: &str, access: &str, from: &str| {
        let path = format!("/api/public/runs/{}/proof/{code}", run.id);
        let headers = [("X-Access-Code", access), ("X-Forwarded-For", from)];
        http.call_with("GET", &path, None, &headers, None)
    };
    let wrong = "ABCD-EFGH-JKMN-PQRS-TVWX";

    // One enterprise, a new address for every guess: the credit code's budget runs out.
    let (target, right) = not_drawn.next().unwrap();
    for n in 1..=3 {
        let (s, _, text) = proof(target, wrong, &format!("10.0.0.{n}"));
        assert_eq!(s, 403, "{text}");
    }
    let (s, retry, text) = proof(target, wrong, "10.0.0.4");
    assert_eq!(s, 429, "{text}");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    // The run is stopped, whatever it tries next: the right code waits too.
    let (s, _, text) = proof(target, right, "10.0.0.5");
    assert_eq!(s, 429, "{text}");

    // One address, a new enterprise for every guess: the address's budget runs out.
    for _ in 1..=4 {
        let (code, _) = not_drawn.next().unwrap();
        let (s, _, text) = proof(code, wrong, "10.9.9.9");
        assert_eq!(s, 403, "{text}");
    }
    let (code, right) = not_drawn.next().unwrap();
    let (s, retry, text) = proof(code, right, "10.9.9.9");
    assert_eq!(s, 429, "{text}");
    assert!(retry.is_some());
    // Others are not held up by it.
    let (s, _, text) = proof(code, right, "10.1.1.1");
    assert_eq!(s, 200, "{text}");

    // Lookups of the public check, per address.
    let check = |from: &str| {
        let path = format!("/api/public/runs/{}/check/{}", run.id, drawn[0]);
        http.call_with("GET", &path, None, &[("X-Forwarded-For", from)], None)
    };
    for _ in 0..30 {
        assert_eq!(check("10.7.7.7").0, 200);
    }
    let (s, retry, text) = check("10.7.7.7");
    assert_eq!(s, 429, "{text}");
    assert!(retry.is_some());
    assert_eq!(check("10.7.7.8").0, 200);
}
